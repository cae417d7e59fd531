package httpx

import (
	"io"
	"net/http"
)

// Responder is the part of a response a download writes to. huma.Context
// has it; so does anything that wraps an http.ResponseWriter this way.
type Responder interface {
	SetHeader(name, value string)
	SetStatus(code int)
	BodyWriter() io.Writer
}

// Download streams write's output to r as an attachment named filename.
// The headers and the 200 go out with the first byte written, so:
//   - when write fails before writing anything, nothing has been sent and
//     Download returns the error: the caller answers with a problem;
//   - when write fails after, the response is cut short
//     (panic(http.ErrAbortHandler), which net/http and Recover pass on), so
//     the client never gets a truncated file that looks whole. Log the
//     error inside write if it matters.
//
// An empty file is still a file: write returning nil without writing sends
// the headers and an empty body.
func Download(r Responder, contentType, filename string, write func(io.Writer) error) error {
	a := &attachment{r: r, contentType: contentType, filename: filename}
	err := write(a)
	switch {
	case err == nil:
		a.start()
		return nil
	case !a.started:
		return err
	}
	panic(http.ErrAbortHandler)
}

// attachment writes the download's headers on the first write.
type attachment struct {
	r           Responder
	contentType string
	filename    string
	started     bool
}

func (a *attachment) start() {
	if a.started {
		return
	}
	a.started = true
	a.r.SetHeader("Content-Type", a.contentType)
	a.r.SetHeader("Content-Disposition", `attachment; filename="`+a.filename+`"`)
	a.r.SetStatus(http.StatusOK)
}

func (a *attachment) Write(p []byte) (int, error) {
	a.start()
	return a.r.BodyWriter().Write(p)
}
