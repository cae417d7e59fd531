package sandbox

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/browsertest"
)

// TestChallengePageInChromium renders the 3DS page in headless Chromium,
// clicks "Authenticate" for real, and checks that the browser lands on
// the merchant's paymentRedirectUrl and the payment is authorized.
func TestChallengePageInChromium(t *testing.T) {
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

	// Generous bounds on conditions, not timings: alone this takes 3 s, but
	// a loaded 2-core machine starts Chromium many times slower.
	ctx, out := browsertest.New(t, 6*time.Minute)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(normalURL),
		chromedp.WaitVisible(chromedp.CSS("#authenticate")),
	); err != nil {
		t.Fatalf("waiting for the 3DS page: %v\nchromium output:\n%s", err, out)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("the page text: %v\nchromium output:\n%s", err, out)
	}
	if !strings.Contains(text, "USD 100.00") || !strings.Contains(text, "400000******3220") {
		t.Errorf("rendered page text:\n%s", text)
	}
	// A real mouse click on the button; then the merchant's page, which
	// alone has #done. The wait gives up before the browser does, so that
	// a failure can still say where the browser is.
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(waitCtx,
		chromedp.Click(chromedp.CSS("#authenticate")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("waiting for the redirect: %v; browser at %s\nchromium output:\n%s", err, loc, out)
	}
	want := shop.URL + "/return?order=1"
	if got, err := chromedp.Run(ctx, chromedp.Location()); err != nil || got != want {
		t.Errorf("browser at %v (%v), want %s", got, err, want)
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
