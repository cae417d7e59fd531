package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); res.StatusCode == 200 && !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
	return res.StatusCode, string(b)
}

func postJSON(t *testing.T, u string, body any) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(u, "application/json", bytes.NewReader(mustJSON(t, body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("POST %s: HTTP %d, body not JSON: %v", u, res.StatusCode, err)
	}
	return res.StatusCode, m
}

func TestChallengePage(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ ccy, value, shown string }{
		{"USD", "10000", "USD 100.00"},
		{"JPY", "1339", "JPY 1339"},
		{"KWD", "1234", "KWD 1.234"},
	}
	for _, c := range cases {
		req := payReq("page-"+c.ccy, "4000000000003220")
		set(req, "paymentAmount", amount(c.ccy, c.value))
		set(req, "order.orderAmount", amount(c.ccy, c.value))
		r := e.mustPay(req, "U")
		status, page := getPage(t, r.str("normalUrl"))
		if status != 200 {
			t.Fatalf("GET 3DS page: %d", status)
		}
		for _, want := range []string{c.shown, "VISA 400000******3220", `id="authenticate"`, `id="fail"`,
			`action="/sandbox/3ds/` + r.str("paymentId") + `"`, "Authenticate", "Fail"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s page lacks %q:\n%s", c.ccy, want, page)
			}
		}
		if strings.Contains(page, "4000000000003220") {
			t.Error("3DS page shows the card number")
		}
	}
	if status, _ := getPage(t, e.ts.URL+"/sandbox/3ds/nope"); status != http.StatusNotFound {
		t.Errorf("unknown payment: %d", status)
	}
}

// TestChallengeFormRedirects: the page's form completes the challenge and
// sends the browser to paymentRedirectUrl with a 303, adding no result.
func TestChallengeFormRedirects(t *testing.T) {
	e := newEnv(t)
	req := payReq("form-ok", "4000000000003220")
	set(req, "paymentRedirectUrl", "https://shop.example/return?order=42")
	r := e.mustPay(req, "U")
	id := r.str("paymentId")
	res, err := noRedirect.PostForm(r.str("normalUrl"), url.Values{"outcome": {"success"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://shop.example/return?order=42" {
		t.Fatalf("form answer %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	inq := e.inquiry(id)
	if inq.str("paymentStatus") != "SUCCESS" || inq.get("paymentResultInfo.threeDSResult.challenged") != true {
		t.Errorf("after authentication: %s", inq.raw)
	}
	// The page now says so, without buttons; a second submit is refused.
	_, page := getPage(t, r.str("normalUrl"))
	if strings.Contains(page, `id="authenticate"`) || !strings.Contains(page, "SUCCESS") || !strings.Contains(page, `href="https://shop.example/return?order=42"`) {
		t.Errorf("finished page:\n%s", page)
	}
	res, err = noRedirect.PostForm(r.str("normalUrl"), url.Values{"outcome": {"fail"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Errorf("second submit: %d", res.StatusCode)
	}
	res, err = noRedirect.PostForm(r.str("normalUrl"), url.Values{"outcome": {"maybe"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad outcome: %d", res.StatusCode)
	}
}

// TestChallengeJSON: scripts complete the challenge with JSON.
func TestChallengeJSON(t *testing.T) {
	e := newEnv(t, realNotify)
	rc := newReceiver(t, e.apoPub, nil)
	ok := e.mustPay(payTo("json-ok", "4000000000003220", rc.url("/n")), "U")
	status, m := postJSON(t, ok.str("normalUrl"), obj{"outcome": "success"})
	if status != 200 || m["paymentStatus"] != "SUCCESS" || m["paymentId"] != ok.str("paymentId") ||
		m["redirectUrl"] != "https://shop.example/return" {
		t.Errorf("success: %d %v", status, m)
	}
	g := rc.waitType("PAYMENT_RESULT", ok.str("paymentId"), patience)
	if g.n.Payment.Result.ResultStatus != "S" || g.n.Payment.PaymentResultInfo.ThreeDSResult == nil ||
		!g.n.Payment.PaymentResultInfo.ThreeDSResult.Challenged {
		t.Errorf("PAYMENT_RESULT after 3DS: %s", g.body)
	}

	bad := e.mustPay(payTo("json-fail", "4000000000003220", rc.url("/n")), "U")
	status, m = postJSON(t, bad.str("normalUrl"), obj{"outcome": "fail"})
	if status != 200 || m["paymentStatus"] != "FAIL" || m["paymentResultCode"] != challengeFailedCode {
		t.Errorf("fail: %d %v", status, m)
	}
	g = rc.waitType("PAYMENT_RESULT", bad.str("paymentId"), patience)
	if g.n.Payment.Result.ResultStatus != "F" || g.n.Payment.Result.ResultCode != challengeFailedCode {
		t.Errorf("PAYMENT_RESULT after failed 3DS: %s", g.body)
	}

	if status, m = postJSON(t, bad.str("normalUrl"), obj{"outcome": "success"}); status != http.StatusConflict || m["error"] == nil {
		t.Errorf("completed twice: %d %v", status, m)
	}
	if status, _ = postJSON(t, e.ts.URL+"/sandbox/3ds/nope", obj{"outcome": "success"}); status != http.StatusNotFound {
		t.Errorf("unknown payment: %d", status)
	}
	if status, _ = postJSON(t, ok.str("normalUrl"), obj{"outcome": "later"}); status != http.StatusBadRequest {
		t.Errorf("bad outcome: %d", status)
	}
}

// TestChallengeExpires: an abandoned challenge fails at its
// paymentExpiryTime (default 14 min × time scale) and is notified.
func TestChallengeExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realNotify, realClock, func(c *Config) { c.TimeScale = 0.0001 }) // 14 min → 84 ms
	rc := newReceiver(t, e.apoPub, nil)
	r := e.mustPay(payTo("exp-3ds", "4000000000003220", rc.url("/n")), "U")
	g := rc.waitType("PAYMENT_RESULT", r.str("paymentId"), patience)
	if g.n.Payment.Result.ResultStatus != "F" || g.n.Payment.Result.ResultCode != expiredCode {
		t.Errorf("expiry PAYMENT_RESULT %s", g.body)
	}
	if inq := e.inquiry(r.str("paymentId")); inq.str("paymentStatus") != "FAIL" || inq.str("paymentResultCode") != expiredCode {
		t.Errorf("after expiry: %s", inq.raw)
	}
	if status, _ := postJSON(t, r.str("normalUrl"), obj{"outcome": "success"}); status != http.StatusConflict {
		t.Errorf("authenticating an expired challenge: %d", status)
	}

	// An explicit paymentExpiryTime wins, on the fake clock too.
	f := newEnv(t)
	req := set(payReq("exp-explicit", "4000000000003220"), "paymentExpiryTime", start.Add(5*time.Minute).Format(time.RFC3339))
	id := f.mustPay(req, "U").str("paymentId")
	f.clock.Advance(5*time.Minute - time.Second)
	if got := f.inquiry(id).str("paymentStatus"); got != "PROCESSING" {
		t.Errorf("before paymentExpiryTime: %s", got)
	}
	f.clock.Advance(time.Second)
	eventually(t, patience, "the scheduler to expire the payment", func() bool {
		return f.srv.NotificationStats().Created == 1
	})
	if got := f.inquiry(id).str("paymentResultCode"); got != expiredCode {
		t.Errorf("at paymentExpiryTime: %s", got)
	}
}
