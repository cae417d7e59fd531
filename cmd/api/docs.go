package main

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"time"
)

// docsUI is Redoc's standalone bundle, vendored from the npm registry
// (`npm pack redoc@2.5.2`, file bundles/redoc.standalone.js, MIT; the
// licences of what it bundles are in docsui/) so the docs page needs
// nothing from outside the binary: an operator's machine may have no
// internet, and a CDN is one more party that could change our page.
//
//go:embed docsui
var docsUI embed.FS

// docsPage renders the spec at /openapi.json with the embedded Redoc.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>payops API</title>
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
`

// docsCSP lets the page load only from payops itself. Redoc writes its
// styles inline and builds its search worker from a blob.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// redocLogo is the one outside address in Redoc's bundle: the sidebar's
// "API docs by Redocly" image. It is served as an empty data: URL, which
// fails to decode, and Redoc hides an image that fails; without this the
// page asks Redocly's CDN for it (the CSP refuses, but the page still
// tries).
const redocLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg"

// redocBundle is the bundle with redocLogo taken out.
func redocBundle() []byte {
	b, err := docsUI.ReadFile("docsui/redoc.standalone.js")
	if err != nil {
		panic(err) // the embed directive guarantees the file
	}
	if bytes.Count(b, []byte(redocLogo)) != 1 {
		panic("docs: the vendored Redoc bundle no longer names " + redocLogo + " once: check it for outside addresses")
	}
	return bytes.Replace(b, []byte(redocLogo), []byte("data:,"), 1)
}

// mountDocs serves the API docs at /docs and their assets under
// /docs/assets/, all from the binary.
func mountDocs(mux *http.ServeMux) {
	assets, err := fs.Sub(docsUI, "docsui")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	bundle := redocBundle()
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", docsCSP)
		_, _ = w.Write([]byte(docsPage))
	})
	mux.HandleFunc("GET /docs/assets/redoc.standalone.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeContent(w, r, "redoc.standalone.js", time.Time{}, bytes.NewReader(bundle))
	})
	mux.Handle("GET /docs/assets/", http.StripPrefix("/docs/assets/", http.FileServerFS(assets)))
}
