package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// ensureChromium installs Debian's chromium package when it is missing.
// The browser test needs it, so a failed install fails the test.
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
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get install -y chromium: %v\n%s", err, tail(out, 2000))
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium installed but %s is missing: %v", chromiumPath, err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cdp is a Chrome DevTools Protocol session over a page's websocket.
type cdp struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	nextID int
	waits  map[int]chan cdpReply
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func dialCDP(wsURL, origin string) (*cdp, error) {
	ws, err := websocket.Dial(wsURL, "", origin)
	if err != nil {
		return nil, err
	}
	c := &cdp{ws: ws, waits: map[int]chan cdpReply{}}
	go c.read()
	return c, nil
}

// read hands each reply to its caller; events are not needed here.
func (c *cdp) read() {
	for {
		var msg struct {
			ID int `json:"id"`
			cdpReply
		}
		if err := websocket.JSON.Receive(c.ws, &msg); err != nil {
			c.mu.Lock()
			for id, ch := range c.waits {
				close(ch)
				delete(c.waits, id)
			}
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		ch := c.waits[msg.ID]
		delete(c.waits, msg.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// call sends one command and waits for its reply.
func (c *cdp) call(ctx context.Context, method string, params any, out any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpReply, 1)
	c.waits[id] = ch
	c.mu.Unlock()
	if err := websocket.JSON.Send(c.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return errors.New("devtools connection closed")
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func (c *cdp) eval(ctx context.Context, expr string) (any, error) {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return nil, err
	}
	if r.ExceptionDetails != nil {
		return nil, fmt.Errorf("evaluate %q: %s", expr, r.ExceptionDetails.Text)
	}
	return r.Result.Value, nil
}

// TestChallengePageInChromium renders the 3DS page in headless Chromium,
// clicks "Authenticate" for real, and checks that the browser lands on
// the merchant's paymentRedirectUrl and the payment is authorized.
func TestChallengePageInChromium(t *testing.T) {
	ensureChromium(t)
	// Generous bounds on conditions, not timings: alone this takes 3 s, but
	// a loaded 2-core machine starts Chromium many times slower.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var landed []string
	shop := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r) // browsers ask for it on their own
			return
		}
		mu.Lock()
		landed = append(landed, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Thanks</title><p id="done">Order received</p>`))
	}))
	e := newEnv(t, realClock)
	req := set(payReq("browser-1", "4000000000003220"), "paymentRedirectUrl", shop.URL+"/return?order=1")
	r := e.mustPay(req, "U")
	normalURL, id := r.str("normalUrl"), r.str("paymentId")

	profile := t.TempDir()
	cmd := exec.Command(chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile,
		"--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	// Guarded: exec copies Chromium's stderr in a goroutine of its own
	// until Wait, while a failure message reads it.
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	// Chromium writes its port and browser path once it listens.
	var port string
	eventually(t, 2*time.Minute, "DevToolsActivePort", func() bool {
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err != nil {
			return false
		}
		lines := strings.Split(string(b), "\n")
		port = strings.TrimSpace(lines[0])
		return len(lines) >= 2 && port != ""
	})
	base := "http://127.0.0.1:" + port
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	eventually(t, 2*time.Minute, "a page target", func() bool {
		res, err := http.Get(base + "/json/list")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		targets = nil
		if json.NewDecoder(res.Body).Decode(&targets) != nil {
			return false
		}
		for _, tg := range targets {
			if tg.Type == "page" {
				return true
			}
		}
		return false
	})
	var wsURL string
	for _, tg := range targets {
		if tg.Type == "page" {
			wsURL = tg.WS
			break
		}
	}
	page, err := dialCDP(wsURL, "http://127.0.0.1")
	if err != nil {
		t.Fatalf("devtools websocket: %v\n%s", err, stderr.String())
	}
	defer page.ws.Close()

	if err := page.call(ctx, "Page.navigate", map[string]any{"url": normalURL}, nil); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) any {
		t.Helper()
		var v any
		for {
			v, err = page.eval(ctx, expr)
			if err == nil && v != nil && v != false && v != "" {
				return v
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: last value %v, error %v\n%s", what, v, err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	poll("the 3DS page", `document.readyState === "complete" && document.querySelector("#authenticate") !== null`)
	text := poll("the page text", `document.body.innerText`).(string)
	if !strings.Contains(text, "USD 100.00") || !strings.Contains(text, "400000******3220") {
		t.Errorf("rendered page text:\n%s", text)
	}
	if _, err := page.eval(ctx, `document.querySelector("#authenticate").click()`); err != nil {
		t.Fatal(err)
	}
	want := shop.URL + "/return?order=1"
	if got := poll("the redirect", `location.href === `+jsString(want)+` && document.querySelector("#done") !== null && location.href`); got != want {
		t.Errorf("browser at %v, want %s", got, want)
	}
	mu.Lock()
	hits := append([]string(nil), landed...)
	mu.Unlock()
	if len(hits) != 1 || hits[0] != "GET /return?order=1" {
		t.Errorf("merchant saw %v", hits)
	}
	if st := e.inquiry(id).str("paymentStatus"); st != "SUCCESS" {
		t.Errorf("payment %s after the click", st)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
