package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/browsertest"
)

// outsideRecorder stands in for the whole network beyond loopback: it is
// Chromium's proxy, so every request not for 127.0.0.1 reaches it, and it
// answers none of them.
type outsideRecorder struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newOutsideRecorder(t *testing.T) *outsideRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outsideRecorder{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n') // "CONNECT unpkg.com:443 HTTP/1.1"
				o.mu.Lock()
				o.seen = append(o.seen, strings.TrimSpace(line))
				o.mu.Unlock()
			}()
		}
	}()
	return o
}

func (o *outsideRecorder) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// TestDocsRenderOffline loads /docs in headless Chromium with no network
// beyond loopback and checks that the page renders the spec's operations
// and that the page asked nothing of any other host. The browser's own
// background traffic (update checks and the like) also goes to the dead
// proxy, so what the page asked is read from its DevTools network events.
func TestDocsRenderOffline(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the browser's cleanup: it closes first
	outside := newOutsideRecorder(t)

	// A loaded 2-core machine can take long to start a browser and run a
	// 1 MB script: the deadlines are generous, nothing is timed.
	ctx, out := browsertest.New(t, 3*time.Minute,
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		// Loopback goes direct (Chromium never proxies it); every other
		// host goes to the recorder, which never answers: no network.
		chromedp.ProxyServer("http://"+outside.ln.Addr().String()),
	)
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nchromium output:\n%s", append(args, out)...)
	}

	var mu sync.Mutex
	var urls []string
	requested := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		fatal("listen: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/docs")); err != nil {
		fatal("navigate: %v; requests: %q", err, requested())
	}
	// Operation summaries and a tag from the spec, as Redoc renders them.
	want := []string{"Create a payment", "Refund a payment", "List reconciliation runs", "Reconciliation"}
	check := "document.body !== null && " + strings.Join(mapStrings(want, func(s string) string {
		return "document.body.innerText.includes(" + strconv.Quote(s) + ")"
	}), " && ")
	// The poll gives up a minute before the browser does, so that the
	// page text can still be read for the failure message.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](check,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText.slice(0, 2000) : ''"))
		fatal("/docs never showed %q (%v); page text: %s; requests: %q", want, err, text, requested())
	}
	for _, u := range requested() {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the page requested %s, beyond the api on 127.0.0.1", u)
		}
	}
	if len(requested()) == 0 {
		t.Errorf("no request seen: the network events were not recorded")
	}
	for _, r := range outside.requests() {
		t.Logf("the browser itself tried (and failed) to reach: %s", r)
	}
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// TestDocsServedFromBinary: the page and its script come from the api
// itself, under a policy that forbids loading from anywhere else.
func TestDocsServedFromBinary(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self';") {
		t.Fatalf("/docs: %d, CSP %q", resp.StatusCode, csp)
	}
	resp, err = http.Get(srv.URL + "/docs/assets/redoc.standalone.js")
	if err != nil {
		t.Fatal(err)
	}
	script, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(script) < 500_000 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("script: %d, %d bytes, %s, %v", resp.StatusCode, len(script), resp.Header.Get("Content-Type"), err)
	}
	// The sidebar's Redocly logo was the bundle's one outside image; a
	// render only asks for it once the sidebar's footer mounts, so the
	// browser test could miss it.
	if bytes.Contains(script, []byte(redocLogo)) {
		t.Fatalf("the served bundle still loads %s", redocLogo)
	}
}
