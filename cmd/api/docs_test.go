package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// ensureChromium installs Debian's chromium package when it is missing
// (as internal/apo/sandbox's browser test does); a failed install fails
// the test.
func ensureChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s is missing and installing it needs root: run apt-get install -y chromium", chromiumPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install -y chromium: %v\n%s", err, out)
	}
}

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
	ensureChromium(t)
	h, _ := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	outside := newOutsideRecorder(t)

	// A loaded 2-core machine can take long to start a browser and run a
	// 1 MB script: the deadline is generous, nothing is timed.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	profile, err := os.MkdirTemp("", "payops-docs-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
		"--user-data-dir="+profile,
		// Loopback goes direct (Chromium never proxies it); every other
		// host goes to the recorder, which never answers: no network.
		"--proxy-server=http://"+outside.ln.Addr().String(),
		"--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	// Chromium's stderr goes to a file: no goroutine of exec writes a
	// buffer the test reads.
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = errFile
	// Its own process group, so that stopping it stops its renderer and
	// helper processes too, before the profile is removed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = errFile.Close()
		removeAll(t, profile)
	}()
	fatal := func(format string, args ...any) {
		t.Helper()
		b, _ := os.ReadFile(errFile.Name())
		t.Fatalf(format+"\nchromium stderr:\n%s", append(args, tail(b, 3000))...)
	}

	page, err := openPage(ctx, profile)
	if err != nil {
		fatal("devtools: %v", err)
	}
	defer page.close()
	if err := page.call(ctx, "Network.enable", map[string]any{}, nil); err != nil {
		fatal("%v", err)
	}
	if err := page.call(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/docs"}, nil); err != nil {
		fatal("%v", err)
	}
	// Operation summaries and a tag from the spec, as Redoc renders them.
	want := []string{"Create a payment", "Refund a payment", "List reconciliation runs", "Reconciliation"}
	check := "document.body !== null && " + strings.Join(mapStrings(want, func(s string) string {
		return "document.body.innerText.includes(" + strconv.Quote(s) + ")"
	}), " && ")
	for {
		v, err := page.eval(ctx, check)
		if err == nil && v == true {
			break
		}
		if ctx.Err() != nil {
			text, _ := page.eval(context.Background(), "document.body && document.body.innerText.slice(0, 2000)")
			fatal("/docs never showed %q (last error %v); page text: %v; requests: %q", want, err, text, page.requested())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, u := range page.requested() {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the page requested %s, beyond the api on 127.0.0.1", u)
		}
	}
	if len(page.requested()) == 0 {
		t.Errorf("no request seen: the network events were not recorded")
	}
	for _, r := range outside.requests() {
		t.Logf("the browser itself tried (and failed) to reach: %s", r)
	}
}

// removeAll removes dir, retrying while processes that were just killed
// may still be leaving it.
func removeAll(t *testing.T, dir string) {
	t.Helper()
	var err error
	for range 100 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("remove %s: %v", dir, err)
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// devtoolsPage is a Chrome DevTools Protocol session on a page: calls with
// their replies, and the URL of every request the page sent.
type devtoolsPage struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	nextID int
	waits  map[int]chan cdpMessage
	urls   []string
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// openPage waits for the Chromium using profile to listen, then attaches
// to its page.
func openPage(ctx context.Context, profile string) (*devtoolsPage, error) {
	var wsURL string
	for wsURL == "" {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no page target: %w", ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		lines := strings.Split(string(b), "\n")
		if err != nil || len(lines) < 2 || strings.TrimSpace(lines[0]) == "" {
			continue
		}
		res, err := http.Get("http://127.0.0.1:" + strings.TrimSpace(lines[0]) + "/json/list")
		if err != nil {
			continue
		}
		var targets []struct {
			Type string `json:"type"`
			WS   string `json:"webSocketDebuggerUrl"`
		}
		err = json.NewDecoder(res.Body).Decode(&targets)
		res.Body.Close()
		for _, tg := range targets {
			if err == nil && tg.Type == "page" {
				wsURL = tg.WS
			}
		}
	}
	ws, err := websocket.Dial(wsURL, "", "http://127.0.0.1")
	if err != nil {
		return nil, err
	}
	p := &devtoolsPage{ws: ws, waits: map[int]chan cdpMessage{}}
	go p.read()
	return p, nil
}

func (p *devtoolsPage) close() { _ = p.ws.Close() }

// read hands replies to their callers and keeps the URL of each request
// the page sends.
func (p *devtoolsPage) read() {
	for {
		var m cdpMessage
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			p.mu.Lock()
			for id, ch := range p.waits {
				close(ch)
				delete(p.waits, id)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if m.Method == "Network.requestWillBeSent" {
			var ev struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			if json.Unmarshal(m.Params, &ev) == nil {
				p.urls = append(p.urls, ev.Request.URL)
			}
		}
		ch := p.waits[m.ID]
		delete(p.waits, m.ID)
		p.mu.Unlock()
		if m.ID != 0 && ch != nil {
			ch <- m
		}
	}
}

func (p *devtoolsPage) requested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

// call sends one command and waits for its reply.
func (p *devtoolsPage) call(ctx context.Context, method string, params, out any) error {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.waits[id] = ch
	p.mu.Unlock()
	if err := websocket.JSON.Send(p.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return errors.New("devtools connection closed")
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func (p *devtoolsPage) eval(ctx context.Context, expr string) (any, error) {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return nil, err
	}
	if r.ExceptionDetails != nil {
		return nil, fmt.Errorf("evaluate %q: %s", expr, r.ExceptionDetails.Text)
	}
	return r.Result.Value, nil
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
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength < 500_000 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("script: %d, %d bytes, %s", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
