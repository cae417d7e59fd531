package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// Test keys are 1024-bit to keep the package's thousands of signatures
// fast under -race; the signing code does not depend on the key size (the
// independent test uses 2048-bit keys).
var (
	keysOnce              sync.Once
	testMerchant, testAPO *rsa.PrivateKey
)

func keys(t testing.TB) (merchant, apoKey *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if testMerchant, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		if testAPO, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return testMerchant, testAPO
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is a sandbox served over real HTTP with a signed test client.
type testEnv struct {
	t        testing.TB
	srv      *Server
	ts       *httptest.Server
	clock    *fakeClock
	clientID string
	merchant *rsa.PrivateKey
	apoPub   *rsa.PublicKey
	http     *http.Client
	sink     *memSink
}

var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// newEnv starts a sandbox on a fake clock. Notifications go to an
// in-memory receiver that acknowledges them (e.sink), unless an option
// sets Config.NotifyClient to nil for real HTTP delivery.
func newEnv(t testing.TB, opts ...func(*Config)) *testEnv {
	t.Helper()
	merchant, apoKey := keys(t)
	clock := &fakeClock{t: start}
	sink := &memSink{}
	cfg := Config{
		APOPrivateKey:     apoKey,
		MerchantPublicKey: &merchant.PublicKey,
		Now:               clock.Now,
		Seed:              42,
		NotifyClient:      &http.Client{Transport: sink},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{
		t: t, srv: srv, ts: ts, clock: clock, clientID: "SANDBOX_PAYOPS",
		merchant: merchant, apoPub: &apoKey.PublicKey, http: ts.Client(), sink: sink,
	}
}

// realNotify makes the sandbox deliver notifications over real HTTP.
func realNotify(c *Config) { c.NotifyClient = nil }

// realClock puts the sandbox on the wall clock, for tests of deadlines
// that must pass on their own.
func realClock(c *Config) { c.Now = nil }

// memSink is an http.RoundTripper that acknowledges every notification
// and keeps its body, so tests that do not care about delivery stay off
// the network.
type memSink struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (m *memSink) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.bodies = append(m.bodies, body)
	m.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(apo.NotificationAck)), Request: req,
	}, nil
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bodies)
}

// eventually polls cond until it holds or the deadline passes.
// patience bounds the waits on conditions: generous, because a loaded
// 2-core machine can stall a test for many seconds, and a wait that passes
// ends as soon as its condition holds.
const patience = 2 * time.Minute

func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// resp is a verified gateway answer.
type resp struct {
	raw    []byte
	header http.Header
	m      map[string]any
}

func (r resp) status() string { return r.str("result.resultStatus") }
func (r resp) code() string   { return r.str("result.resultCode") }

// str reads a string at a dotted path ("paymentResultInfo.cardNo").
func (r resp) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

func (r resp) get(path string) any {
	var cur any = r.m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

func (r resp) list(path string) []any {
	l, _ := r.get(path).([]any)
	return l
}

// call signs and POSTs body to the sandbox path of api and verifies the
// answer's signature; it fails the test on transport or signature errors.
func (e *testEnv) call(api string, body any) resp {
	e.t.Helper()
	return e.callPath("/ams/sandbox/api/v1/payments/"+api, body)
}

func (e *testEnv) callPath(path string, body any) resp {
	e.t.Helper()
	r, err := e.try(path, mustJSON(e.t, body))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// try is call for goroutines other than the test's: it reports failures
// as errors instead of failing the test.
func (e *testEnv) try(path string, raw []byte) (resp, error) {
	req, err := e.newSigned(path, raw, e.merchant)
	if err != nil {
		return resp{}, err
	}
	return e.send(req, path)
}

func (e *testEnv) signedRequest(path string, raw []byte, key *rsa.PrivateKey) *http.Request {
	e.t.Helper()
	req, err := e.newSigned(path, raw, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

func (e *testEnv) newSigned(path string, raw []byte, key *rsa.PrivateKey) (*http.Request, error) {
	rt := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
	sig, err := apo.Sign(key, "POST", path, e.clientID, rt, raw)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("client-id", e.clientID)
	req.Header.Set("request-time", rt)
	req.Header.Set("signature", sig)
	return req, nil
}

// do sends req and verifies the response like a strict client would.
func (e *testEnv) do(req *http.Request, path string) resp {
	e.t.Helper()
	r, err := e.send(req, path)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *testEnv) send(req *http.Request, path string) (resp, error) {
	res, err := e.http.Do(req)
	if err != nil {
		return resp{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, fmt.Errorf("read body: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return resp{}, fmt.Errorf("POST %s: HTTP %d, want 200", path, res.StatusCode)
	}
	if err := apo.Verify(e.apoPub, "POST", path, res.Header.Get("client-id"), res.Header.Get("response-time"), raw, res.Header.Get("signature")); err != nil {
		return resp{}, fmt.Errorf("POST %s: response signature: %w", path, err)
	}
	r := resp{raw: raw, header: res.Header}
	if err := json.Unmarshal(raw, &r.m); err != nil {
		return resp{}, fmt.Errorf("POST %s: response is not JSON: %w", path, err)
	}
	return r, nil
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// obj is a JSON object under construction.
type obj = map[string]any

func amount(cur, v string) obj { return obj{"currency": cur, "value": v} }

// payReq is a complete, valid pay request for a card in MANUAL capture mode.
func payReq(rid, pan string) obj {
	return obj{
		"productCode":      "CASHIER_PAYMENT",
		"paymentRequestId": rid,
		"paymentAmount":    amount("USD", "10000"),
		"order": obj{
			"referenceOrderId": "order-" + rid,
			"orderDescription": "test order",
			"orderAmount":      amount("USD", "10000"),
			"buyer":            obj{"referenceBuyerId": "buyer-1"},
		},
		"paymentMethod": obj{
			"paymentMethodType": "CARD",
			"paymentMethodMetaData": obj{
				"cardNo":         pan,
				"cvv":            "123",
				"expiryMonth":    "12",
				"expiryYear":     "30",
				"cardholderName": obj{"firstName": "Ada", "lastName": "Lovelace"},
			},
		},
		"paymentFactor":      obj{"isAuthorization": true, "captureMode": "MANUAL"},
		"paymentRedirectUrl": "https://shop.example/return",
		"paymentNotifyUrl":   "https://shop.example/webhooks/apo",
		"env":                obj{"terminalType": "WEB", "clientIp": "203.0.113.7"},
	}
}

// set assigns v at a dotted path of o, creating objects on the way; a nil
// v deletes the key.
func set(o obj, path string, v any) obj {
	keys := strings.Split(path, ".")
	cur := o
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(obj)
		if !ok {
			next = obj{}
			cur[k] = next
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if v == nil {
		delete(cur, last)
	} else {
		cur[last] = v
	}
	return o
}

// mustPay pays and checks the result status.
func (e *testEnv) mustPay(req obj, wantStatus string) resp {
	e.t.Helper()
	r := e.call("pay", req)
	if r.status() != wantStatus {
		e.t.Fatalf("pay: got %s %s (%s), want %s", r.status(), r.code(), r.str("result.resultMessage"), wantStatus)
	}
	return r
}

// authorized returns the paymentId of a fresh MANUAL authorization.
func (e *testEnv) authorized(rid, pan string) string {
	e.t.Helper()
	return e.mustPay(payReq(rid, pan), "S").str("paymentId")
}

func (e *testEnv) inquiry(paymentID string) resp {
	e.t.Helper()
	r := e.call("inquiryPayment", obj{"paymentId": paymentID})
	if r.status() != "S" {
		e.t.Fatalf("inquiryPayment %s: got %s %s", paymentID, r.status(), r.code())
	}
	return r
}

func (e *testEnv) captureReq(crid, paymentID, cur, v string) resp {
	e.t.Helper()
	return e.call("capture", obj{"captureRequestId": crid, "paymentId": paymentID, "captureAmount": amount(cur, v)})
}

func (e *testEnv) refundReq(rrid, paymentID, cur, v string) resp {
	e.t.Helper()
	return e.call("refund", obj{"refundRequestId": rrid, "paymentId": paymentID, "refundAmount": amount(cur, v), "refundReason": "test"})
}

// wantResult fails unless r carries status and code.
func wantResult(t testing.TB, what string, r resp, status, code string) {
	t.Helper()
	if r.status() != status || r.code() != code {
		t.Fatalf("%s: got %s %s (%s), want %s %s", what, r.status(), r.code(), r.str("result.resultMessage"), status, code)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// newHTTPServer serves h over real HTTP for the test's duration.
func newHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
