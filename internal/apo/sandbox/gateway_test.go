package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/logging/logtest"
)

func TestNewRequiresKeys(t *testing.T) {
	merchant, apoKey := keys(t)
	if _, err := New(Config{MerchantPublicKey: &merchant.PublicKey}); err == nil {
		t.Error("New without APOPrivateKey: got nil error")
	}
	if _, err := New(Config{APOPrivateKey: apoKey}); err == nil {
		t.Error("New without MerchantPublicKey: got nil error")
	}
	if _, err := New(Config{APOPrivateKey: apoKey, MerchantPublicKey: &merchant.PublicKey, TimeScale: -1}); err == nil {
		t.Error("New with negative TimeScale: got nil error")
	}
}

func TestBothPathVariants(t *testing.T) {
	e := newEnv(t)
	for i, path := range []string{"/ams/api/v1/payments/pay", "/ams/sandbox/api/v1/payments/pay"} {
		r := e.callPath(path, payReq(fmt.Sprintf("paths-%d", i), "4111111111111111"))
		wantResult(t, path, r, "S", "SUCCESS")
		inq := e.callPath(strings.TrimSuffix(path, "pay")+"inquiryPayment", obj{"paymentId": r.str("paymentId")})
		wantResult(t, path+" inquiry", inq, "S", "SUCCESS")
	}
}

// TestLowercaseHeadersOnWire reads the raw HTTP response: Go's client
// canonicalises header names, so resp.Header cannot show their case.
func TestLowercaseHeadersOnWire(t *testing.T) {
	e := newEnv(t)
	path := "/ams/sandbox/api/v1/payments/pay"
	body := mustJSON(t, payReq("wire-1", "4111111111111111"))
	req := e.signedRequest(path, body, e.merchant)

	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewReader(bufio.NewReader(conn))
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	if status != "HTTP/1.1 200 OK" {
		t.Fatalf("status line %q", status)
	}
	names := map[string]string{}
	var contentTypes int
	for {
		line, err := tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		names[name] = strings.TrimSpace(value)
		if strings.EqualFold(name, "content-type") {
			contentTypes++
		}
	}
	for _, h := range []string{"signature", "response-time", "client-id", "content-type"} {
		if _, ok := names[h]; !ok {
			t.Errorf("header %q not on the wire in lowercase; got names %v", h, keysOf(names))
		}
	}
	if contentTypes != 1 {
		t.Errorf("got %d Content-Type headers, want exactly 1", contentTypes)
	}
	if !strings.HasPrefix(names["signature"], "algorithm=RSA256,keyVersion=1,signature=") {
		t.Errorf("signature header %q", names["signature"])
	}
	if names["client-id"] != "SANDBOX_PAYOPS" {
		t.Errorf("client-id %q", names["client-id"])
	}
	iso := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`)
	if !iso.MatchString(names["response-time"]) {
		t.Errorf("response-time %q is not ISO 8601 to the second with offset", names["response-time"])
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSignatureInvalid(t *testing.T) {
	e := newEnv(t)
	path := "/ams/sandbox/api/v1/payments/pay"
	body := mustJSON(t, payReq("sig-1", "4111111111111111"))
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]func() *http.Request{
		"other key": func() *http.Request { return e.signedRequest(path, body, other) },
		"tampered body": func() *http.Request {
			req := e.signedRequest(path, body, e.merchant)
			tampered := bytes.Replace(body, []byte(`"10000"`), []byte(`"10001"`), 1)
			req.Body = io.NopCloser(bytes.NewReader(tampered))
			req.ContentLength = int64(len(tampered))
			return req
		},
		"other path signed": func() *http.Request {
			req := e.signedRequest("/ams/api/v1/payments/pay", body, e.merchant)
			req.URL.Path = path
			return req
		},
		"other request-time": func() *http.Request {
			req := e.signedRequest(path, body, e.merchant)
			req.Header.Set("request-time", "1")
			return req
		},
		"missing signature": func() *http.Request {
			req := e.signedRequest(path, body, e.merchant)
			req.Header.Del("signature")
			return req
		},
		"missing request-time": func() *http.Request {
			req := e.signedRequest(path, body, e.merchant)
			req.Header.Del("request-time")
			return req
		},
		"unknown algorithm": func() *http.Request {
			req := e.signedRequest(path, body, e.merchant)
			req.Header.Set("signature", strings.Replace(req.Header.Get("signature"), "RSA256", "ECC224", 1))
			return req
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do(mk(), path) // do() also proves the error answer is signed
			wantResult(t, name, r, "F", "SIGNATURE_INVALID")
		})
	}
	// Nothing was created by the rejected requests.
	inq := e.call("inquiryPayment", obj{"paymentRequestId": "sig-1"})
	wantResult(t, "inquiry after rejected pays", inq, "F", "ORDER_NOT_EXIST")
}

func TestClientInvalid(t *testing.T) {
	e := newEnv(t)
	e.clientID = "SANDBOX_SOMEONE_ELSE"
	r := e.call("pay", payReq("client-1", "4111111111111111"))
	wantResult(t, "unknown client", r, "F", "CLIENT_INVALID")
	if got := r.header.Get("client-id"); got != "SANDBOX_SOMEONE_ELSE" {
		t.Errorf("response client-id %q, want the request's", got)
	}
}

func TestMethodNotSupported(t *testing.T) {
	e := newEnv(t)
	path := "/ams/api/v1/payments/pay"
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("client-id", e.clientID)
	r := e.do(req, path)
	wantResult(t, "GET", r, "F", "METHOD_NOT_SUPPORTED")
}

func TestUnknownAPI(t *testing.T) {
	e := newEnv(t)
	r := e.call("consult", obj{})
	wantResult(t, "consult", r, "F", "INVALID_API")
}

// TestHeaderTolerance sends what the various SDKs send: canonical or
// lowercase names, ISO request-time (Python), spaces in the signature
// header (docs), a doubled Content-Type and an empty agent-token (Go SDK).
func TestHeaderTolerance(t *testing.T) {
	e := newEnv(t)
	path := "/ams/api/v1/payments/pay"
	for i, rt := range []string{"1795429200000", "2026-11-23T10:00:00+00:00"} {
		body := mustJSON(t, payReq("hdr-"+strconv.Itoa(i), "5555555555554444"))
		sig, err := apo.Sign(e.merchant, "POST", path, e.clientID, rt, body)
		if err != nil {
			t.Fatal(err)
		}
		sig = strings.ReplaceAll(sig, ",", ", ")
		req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Client-Id"] = []string{e.clientID}
		req.Header["Request-Time"] = []string{rt}
		req.Header["Signature"] = []string{sig}
		req.Header["Content-Type"] = []string{"application/json", "application/json; charset=UTF-8"}
		req.Header["Agent-Token"] = []string{""}
		req.Header["Key-Version"] = []string{"1"}
		r := e.do(req, path)
		wantResult(t, "request-time "+rt, r, "S", "SUCCESS")
	}
}

func TestParamIllegalNamesTheField(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		field string
		edit  func(obj) obj
	}{
		{"productCode", func(o obj) obj { return set(o, "productCode", nil) }},
		{"productCode", func(o obj) obj { return set(o, "productCode", "AGREEMENT_PAYMENT") }},
		{"paymentRequestId", func(o obj) obj { return set(o, "paymentRequestId", nil) }},
		{"paymentRequestId", func(o obj) obj { return set(o, "paymentRequestId", strings.Repeat("x", 65)) }},
		{"paymentAmount", func(o obj) obj { return set(o, "paymentAmount", nil) }},
		{"paymentAmount.currency", func(o obj) obj { return set(o, "paymentAmount.currency", "XXX") }},
		{"paymentAmount.currency", func(o obj) obj { return set(o, "paymentAmount.currency", "usd") }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", "10.50") }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", "0") }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", "-5") }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", "0100") }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", 100) }},
		{"paymentAmount.value", func(o obj) obj { return set(o, "paymentAmount.value", "99999999999999999999") }},
		{"order", func(o obj) obj { return set(o, "order", nil) }},
		{"order.referenceOrderId", func(o obj) obj { return set(o, "order.referenceOrderId", nil) }},
		{"order.buyer", func(o obj) obj { return set(o, "order.buyer", nil) }},
		{"order.buyer", func(o obj) obj { return set(o, "order.buyer", obj{"buyerName": obj{"fullName": "A"}}) }},
		{"env.clientIp", func(o obj) obj { return set(o, "env.clientIp", nil) }},
		{"env.clientIp", func(o obj) obj { return set(o, "env", nil) }},
		{"paymentMethod", func(o obj) obj { return set(o, "paymentMethod", nil) }},
		{"paymentMethod.paymentMethodType", func(o obj) obj { return set(o, "paymentMethod.paymentMethodType", "ALIPAY_CN") }},
		{"paymentMethod.paymentMethodMetaData.cardNo", func(o obj) obj { return set(o, "paymentMethod.paymentMethodMetaData.cardNo", nil) }},
		{"paymentMethod.paymentMethodMetaData.cardNo", func(o obj) obj {
			return set(o, "paymentMethod.paymentMethodMetaData.cardNo", "4111 1111 1111 1111")
		}},
		{"paymentMethod.paymentMethodMetaData.expiryMonth", func(o obj) obj { return set(o, "paymentMethod.paymentMethodMetaData.expiryMonth", "13") }},
		{"paymentMethod.paymentMethodMetaData.expiryMonth", func(o obj) obj { return set(o, "paymentMethod.paymentMethodMetaData.expiryMonth", "1") }},
		{"paymentMethod.paymentMethodMetaData.expiryYear", func(o obj) obj { return set(o, "paymentMethod.paymentMethodMetaData.expiryYear", "2030") }},
		{"paymentMethod.paymentMethodMetaData.cardholderName", func(o obj) obj {
			return set(o, "paymentMethod.paymentMethodMetaData.cardholderName", nil)
		}},
		{"paymentMethod.paymentMethodMetaData.cardholderName", func(o obj) obj {
			return set(o, "paymentMethod.paymentMethodMetaData.cardholderName", obj{"fullName": "Zoë Ñandú"})
		}},
		{"paymentMethod.paymentMethodMetaData.cvv", func(o obj) obj { return set(o, "paymentMethod.paymentMethodMetaData.cvv", "12") }},
		{"paymentFactor.captureMode", func(o obj) obj { return set(o, "paymentFactor.captureMode", "LATER") }},
		{"paymentFactor.isAuthorization", func(o obj) obj { return set(o, "paymentFactor.isAuthorization", "yes") }},
		{"paymentNotifyUrl", func(o obj) obj { return set(o, "paymentNotifyUrl", "/relative") }},
		{"paymentRedirectUrl", func(o obj) obj { return set(o, "paymentRedirectUrl", "ftp://x") }},
		{"paymentExpiryTime", func(o obj) obj { return set(o, "paymentExpiryTime", "tomorrow") }},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.field), func(t *testing.T) {
			r := e.call("pay", c.edit(payReq("param-"+strconv.Itoa(i), "4111111111111111")))
			wantResult(t, c.field, r, "F", "PARAM_ILLEGAL")
			msg := r.str("result.resultMessage")
			if !strings.Contains(msg, c.field+":") {
				t.Errorf("resultMessage %q does not name %s", msg, c.field)
			}
		})
	}

	t.Run("not JSON", func(t *testing.T) {
		r := e.call("pay", "{not json")
		wantResult(t, "not JSON", r, "F", "PARAM_ILLEGAL")
	})
	t.Run("not an object", func(t *testing.T) {
		r := e.call("pay", "[1,2]")
		wantResult(t, "array body", r, "F", "PARAM_ILLEGAL")
	})
	t.Run("a PARAM_ILLEGAL pay is not remembered", func(t *testing.T) {
		bad := set(payReq("param-fixed", "4111111111111111"), "env", nil)
		wantResult(t, "bad", e.call("pay", bad), "F", "PARAM_ILLEGAL")
		e.mustPay(payReq("param-fixed", "4111111111111111"), "S")
	})
}

// TestNoCardDataAnywhere pays with every test card and checks that neither
// a card number nor the CVV shows up in the state dump, the call log or the
// logs, while the masked forms do.
func TestNoCardDataAnywhere(t *testing.T) {
	var logs logtest.Buffer
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	pans := []string{}
	for pan := range testCards {
		pans = append(pans, pan)
	}
	pans = append(pans, "4111111111111112", "4242424242424242") // a Luhn failure, an unknown card
	for i, pan := range pans {
		req := payReq("pci-"+strconv.Itoa(i), pan)
		set(req, "paymentMethod.paymentMethodMetaData.cvv", "987")
		r := e.call("pay", req)
		// A CVV could only appear as a value of its own; random digit ids may contain "987".
		if bytes.Contains(r.raw, []byte(pan)) || bytes.Contains(r.raw, []byte(`"987"`)) || bytes.Contains(r.raw, []byte(`cvv"`)) {
			t.Errorf("pay answer contains the card number or CVV: %s", r.raw)
		}
		if r.str("paymentId") != "" {
			e.captureReq("pci-cap-"+strconv.Itoa(i), r.str("paymentId"), "USD", "100")
		}
	}
	for _, path := range []string{"/sandbox/state", "/sandbox/calls"} {
		res, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		dump, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, pan := range pans {
			if bytes.Contains(dump, []byte(pan)) {
				t.Errorf("%s contains a card number", path)
			}
		}
		if bytes.Contains(dump, []byte(`"987"`)) || bytes.Contains(dump, []byte(`cvv":"`)) {
			t.Errorf("%s contains a CVV", path)
		}
		if path == "/sandbox/state" && !bytes.Contains(dump, []byte("411111******1111")) {
			t.Errorf("state has no masked card number: %.300s", dump)
		}
	}
	logged := logs.String()
	if logged == "" {
		t.Fatal("nothing was logged")
	}
	for _, pan := range pans {
		if strings.Contains(logged, pan) {
			t.Errorf("logs contain a card number")
		}
	}
	meta := cardMeta{CardNo: "4111111111111111", CVV: "987", ExpiryMonth: "12", ExpiryYear: "30"}
	for _, s := range []string{fmt.Sprintf("%v", meta), fmt.Sprintf("%+v", &meta), fmt.Sprintf("%#v", meta), fmt.Sprint(meta)} {
		if strings.Contains(s, "4111111111111111") || strings.Contains(s, "987") {
			t.Errorf("fmt shows card data: %s", s)
		}
	}
	var buf bytes.Buffer
	// No timestamp: its digits could hold "987" by chance.
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("x", "meta", meta)
	if strings.Contains(buf.String(), "4111111111111111") || strings.Contains(buf.String(), "987") {
		t.Errorf("slog shows card data: %s", buf.String())
	}
}

func TestCallsEndpoint(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("calls-1", "4111111111111111")
	e.mustPay(payReq("calls-1", "4111111111111111"), "S") // replay
	e.inquiry(id)
	e.inquiry(id)

	res, err := http.Get(e.ts.URL + "/sandbox/calls?api=inquiryPayment")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Total int    `json:"total"`
		Calls []Call `json:"calls"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 4 || len(got.Calls) != 2 {
		t.Fatalf("got total %d and %d inquiry calls, want 4 and 2", got.Total, len(got.Calls))
	}
	if c := got.Calls[0]; c.RequestID != id || c.ResultCode != "SUCCESS" || c.ClientID != "SANDBOX_PAYOPS" || !c.Time.Equal(start) {
		t.Errorf("call %+v", c)
	}
	all := e.srv.Calls()
	if len(all) != 4 || all[0].API != "pay" || all[0].Replay || !all[1].Replay {
		t.Errorf("calls %+v", all)
	}
}

func TestCallLogIsBounded(t *testing.T) {
	e := newEnv(t)
	for i := range maxCalls + 5 {
		e.srv.record(Call{API: "x", RequestID: strconv.Itoa(i), Time: time.Unix(int64(i), 0)})
	}
	calls := e.srv.Calls()
	if len(calls) != maxCalls {
		t.Fatalf("got %d calls, want %d", len(calls), maxCalls)
	}
	if calls[0].RequestID != "5" || calls[len(calls)-1].RequestID != strconv.Itoa(maxCalls+4) {
		t.Errorf("oldest %s newest %s", calls[0].RequestID, calls[len(calls)-1].RequestID)
	}
}
