package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/payops/payops/internal/browsertest"
)

// consoleUser is what `api users create` printed.
type consoleUser struct{ email, password, secret string }

// createConsoleUser makes a console user with the shipped CLI.
func (s *Stack) createConsoleUser(t testing.TB, email, role string) consoleUser {
	t.Helper()
	out := s.RunOutput("api", "users", "create", "--email", email, "--role", role)
	u := consoleUser{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch v = strings.TrimSpace(v); k {
		case "email":
			u.email = v
		case "password":
			u.password = v
		case "totp-secret":
			u.secret = v
		}
	}
	if u.email != email || u.password == "" || (role != "viewer" && u.secret == "") {
		t.Fatalf("users create printed:\n%s", out)
	}
	return u
}

func (u consoleUser) code(t *testing.T) string {
	t.Helper()
	if u.secret == "" {
		return ""
	}
	c, err := totp.GenerateCode(u.secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConsoleOnShippedBinaries: the console is part of the api binary. An
// operator made with `api users create` signs in with password and TOTP in
// Chromium, finds a payment from the header search by part of its order
// id, refunds part of it through the confirmation and sees the timeline
// grow, is told clearly when a refund is too large, and signs out; a
// viewer sees no action and a POST forged from its session is refused; a
// change posted from another site is refused.
func TestConsoleOnShippedBinaries(t *testing.T) {
	t.Parallel()
	s := StartStack(t, 0.01)
	ops := s.createConsoleUser(t, "ops@e2e.test", "operator")
	viewer := s.createConsoleUser(t, "viewer@e2e.test", "viewer")
	p := s.pay(t, "4242424242424242", 2500, "USD", "AUTOMATIC")
	p = s.waitStatus(t, p.ID, "CAPTURED", 2*time.Minute)

	ctx, out := browsertest.New(t, 5*time.Minute, chromedp.WindowSize(1280, 800))
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v\nchromium:\n%s", what, err, out)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return v
	}

	do("sign in",
		chromedp.Navigate(s.API+"/console/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), ops.email),
		chromedp.SendKeys(chromedp.ID("password"), ops.password),
		chromedp.SendKeys(chromedp.ID("code"), ops.code(t)),
		chromedp.Submit(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("header.top")))
	do("search by part of the order id", pressKey('/'), chromedp.KeyEvent("e2e-42"+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#results a[href="/console/payments/`+p.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#results a[href="/console/payments/`+p.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("refund-form")))
	do("refund USD 7.50",
		chromedp.SendKeys(chromedp.ID("refund-amount"), "7.50"),
		chromedp.SendKeys(chromedp.ID("refund-reason"), "damaged in transit"),
		chromedp.Click(chromedp.CSS("#refund-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form button.danger")))
	if b := text("#refund-confirm-form button.danger"); b != "Refund USD 7.50" {
		t.Fatalf("the confirm button says %q, want the amount and currency", b)
	}
	do("confirm", chromedp.Click(chromedp.CSS("#refund-confirm-form button.danger")), chromedp.WaitVisible(chromedp.CSS("main .flash")))
	if tl := text("ol.timeline"); !strings.Contains(tl, "refund") {
		t.Fatalf("the timeline shows no refund:\n%s", tl)
	}
	do("over-refund",
		chromedp.SendKeys(chromedp.ID("refund-amount"), "100"),
		chromedp.SendKeys(chromedp.ID("refund-reason"), "too much"),
		chromedp.Click(chromedp.CSS("#refund-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form button.danger")),
		chromedp.Click(chromedp.CSS("#refund-confirm-form button.danger")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form-error .problem")))
	if msg := text("#refund-confirm-form-error .problem"); !strings.Contains(msg, "refundable") {
		t.Fatalf("over-refund says %q", msg)
	}
	var detail paymentDetail
	if code := s.Call("GET", "/v1/payments/"+p.ID, nil, &detail); code != 200 {
		t.Fatalf("get payment: %d", code)
	}
	refunds := 0
	for _, tx := range detail.Transactions {
		if tx.Type == "REFUND" {
			refunds++
		}
	}
	if refunds != 1 {
		t.Fatalf("%d refunds after one refund and one refused over-refund", refunds)
	}
	do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.ID("login")))
	do("signed out for good", chromedp.Navigate(s.API+"/console/payments/"+p.ID), chromedp.WaitVisible(chromedp.ID("login")))

	// A viewer, over plain HTTP: no action on the page, a forged refund 403.
	c := consoleClient(t)
	form := func(path string, v url.Values, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.API+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.API)
		for _, h := range hdr {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		return send(t, c, req)
	}
	if code, body := form("/console/login", url.Values{"email": {viewer.email}, "password": {viewer.password}}); code != http.StatusSeeOther {
		t.Fatalf("viewer login: %d\n%s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, s.API+"/console/payments/"+p.ID, nil)
	if code, body := send(t, c, req); code != http.StatusOK || strings.Contains(body, `id="refund-form"`) {
		t.Fatalf("viewer's payment page: %d, refund form shown: %v", code, strings.Contains(body, `id="refund-form"`))
	}
	if code, _ := form("/console/payments/"+p.ID+"/refund", url.Values{"amount": {"1.00"}, "reason": {"forged"}, "token": {"t1"}}); code != http.StatusForbidden {
		t.Fatalf("viewer's forged refund: %d, want 403", code)
	}
	if code, _ := form("/console/logout", nil, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", code)
	}
}

// pressKey sends key's key-down and key-up only: chromedp's KeyEvent also
// sends the character, which a page that handled the key-down (as "/"
// does) never expects.
func pressKey(key rune) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, k := range kb.Encode(key) {
			if k.Type == kb.KeyChar {
				continue
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *k); err != nil {
				return err
			}
		}
		return nil
	})
}

func consoleClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func send(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
