package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/sandboxtest"
)

// newGatedPayEnv is newPayEnv with the refusal budget serve wires, over a
// private Redis, allowing burst stored refusals per source address.
func newGatedPayEnv(t *testing.T, burst int) *payEnv {
	t.Helper()
	db := pgtest.NewDB(t)
	sb := sandboxtest.Start(t, sandboxtest.Options{Recorder: payments.NewCallRecorder(db)})
	rdb := redistest.Start(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	logs := &logtest.Buffer{}
	log := logging.New(logs, slog.LevelDebug)
	svc := newServices(log, db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	pay := payments.NewService(db, sb.Client, nil, log, "http://127.0.0.1:1")
	in := inbox.NewService(db, sb.Client, pay, nil, nil, log)
	// One refill an hour: nothing comes back while the test runs.
	in.SetRefusalGate(refusalGate(ratelimit.NewPerKey(rdb, "test:refusals:", 1, time.Hour, burst)))
	svc.usePayments(pay, in)
	h, _ := newHandler(svc)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &payEnv{srv: srv, db: db, apo: sb, logs: logs}
	_, e.admin = mustCreateKey(t, db, "admin", auth.RoleAdmin)
	_, e.operator = mustCreateKey(t, db, "ops", auth.RoleOperator)
	_, e.checkout = mustCreateKey(t, db, "checkout-web", auth.RoleCheckout)
	_, e.viewer = mustCreateKey(t, db, "viewer", auth.RoleViewer)
	return e
}

// deliverAs POSTs body to /webhooks/apo signed with key for clientID at
// reqTime, as APO signs notifications.
func (e *payEnv) deliverAs(t *testing.T, key *rsa.PrivateKey, clientID, reqTime string, body []byte) (*http.Response, []byte) {
	t.Helper()
	sig, err := apo.Sign(key, http.MethodPost, "/webhooks/apo", clientID, reqTime, body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/apo", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"content-type": {"application/json; charset=UTF-8"}, "client-id": {clientID},
		"request-time": {reqTime}, "signature": {sig}}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, out.Bytes()
}

// refusals reads payops_webhook_refusals_total{reason,kept} from the
// default registry, as /metrics serves it.
func refusals(t *testing.T, reason, kept string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "payops_webhook_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["reason"] == reason && labels["kept"] == kept {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func resultCode(t *testing.T, b []byte) string {
	t.Helper()
	var r WebhookReply
	if err := json.Unmarshal(b, &r); err != nil || r.Result.ResultStatus != "F" {
		t.Fatalf("reply %s: want an F result", b)
	}
	return r.Result.ResultCode
}

// TestRefusedWebhooksAreBounded (issue 14 item 4): anyone can POST to the
// webhook, so what a refused notification makes us store is bounded: the
// first 4 KiB of its body with its size and SHA-256, and only a budget of
// them per source address; beyond it the answer is 429 and nothing is
// stored. Refusals do not touch the budget of valid notifications.
func TestRefusedWebhooksAreBounded(t *testing.T) {
	t.Parallel()
	const burst, n = 5, 40
	e := newGatedPayEnv(t, burst)
	p := e.create(t, payBody("4000000000003220", 1000, "USD"))
	if p.Status != "REQUIRES_ACTION" {
		t.Fatalf("3DS payment: %+v", p)
	}
	var sizeBefore int64
	if err := e.db.Get(&sizeBefore, `SELECT pg_total_relation_size('webhook_events')`); err != nil {
		t.Fatal(err)
	}
	limitedBefore := refusals(t, "signature", "limited")
	// Each forged notification is distinct (no dedupe) and as large as a
	// valid one may be.
	bodies := make([][]byte, n)
	var limited int
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"notifyType":"PAYMENT_RESULT","n":%d,"pad":"%s"}`, i, strings.Repeat("x", maxWebhookBody-100))
		resp, b := e.deliver(t, e.apo.MerchantKey, bodies[i]) // signed with the wrong key
		switch {
		case resp.StatusCode == http.StatusUnauthorized && resultCode(t, b) == "SIGNATURE_INVALID" && i < burst:
		case resp.StatusCode == http.StatusTooManyRequests && resultCode(t, b) == "REQUEST_TRAFFIC_EXCEED_LIMIT" && i >= burst:
			limited++
		default:
			t.Fatalf("forged notification %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if got := refusals(t, "signature", "limited") - limitedBefore; got != float64(limited) {
		t.Errorf("limited refusals counted %v, want %d", got, limited)
	}
	var stored struct {
		Rows  int   `db:"rows"`
		Bytes int64 `db:"bytes"`
	}
	if err := e.db.Get(&stored, `SELECT count(*) AS rows, COALESCE(sum(octet_length(raw_body)), 0) AS bytes
		FROM webhook_events WHERE verdict = 'invalid'`); err != nil {
		t.Fatal(err)
	}
	if stored.Rows != burst || stored.Bytes > int64(n*4096) {
		t.Fatalf("%d refused notifications stored, %d body bytes; want %d rows, at most %d bytes", stored.Rows, stored.Bytes, burst, n*4096)
	}
	var sizeAfter int64
	if err := e.db.Get(&sizeAfter, `SELECT pg_total_relation_size('webhook_events')`); err != nil {
		t.Fatal(err)
	}
	if grew := sizeAfter - sizeBefore; grew > 1<<20 {
		t.Fatalf("webhook_events grew %d bytes for %d refused notifications of %d KiB", grew, n, maxWebhookBody>>10)
	}
	// What is kept says what arrived.
	evs := e.webhookEvents(t, "verdict=invalid&limit=200")
	if len(evs) != burst {
		t.Fatalf("%d invalid events listed, want %d", len(evs), burst)
	}
	for _, ev := range evs {
		var i int
		if _, err := fmt.Sscanf(ev.BodyText, `{"notifyType":"PAYMENT_RESULT","n":%d,`, &i); err != nil || i >= burst {
			t.Fatalf("event body %.80q: not one of the first %d", ev.BodyText, burst)
		}
		sum := sha256.Sum256(bodies[i])
		if ev.BodySize != len(bodies[i]) || ev.BodySHA256 != hex.EncodeToString(sum[:]) || len(ev.BodyText) != 4096 ||
			ev.State != "IGNORED" || ev.LastError != "signature invalid" {
			t.Fatalf("event %d: size %d sha %s text %d bytes %s %q", i, ev.BodySize, ev.BodySHA256, len(ev.BodyText), ev.State, ev.LastError)
		}
	}
	// The same address's valid notifications are not limited.
	resp, b := e.deliver(t, e.apo.APOKey, notification(p, "S", "SUCCESS"))
	if resp.StatusCode != http.StatusOK || string(b) != apo.NotificationAck {
		t.Fatalf("valid notification after the budget was spent: %d %s", resp.StatusCode, b)
	}
	e.waitForStatus(t, p.ID, "AUTHORIZED")
	// A body over the limit is refused before it is read whole, valid or not.
	resp, b = e.deliver(t, e.apo.APOKey, append([]byte(`{"x":"`), append(bytes.Repeat([]byte("a"), maxWebhookBody), `"}`...)...))
	mustProblem(t, resp, b, http.StatusRequestEntityTooLarge)
}

// TestWebhookClientIDAndRequestTime (issue 14 item 11): a notification APO
// signed for another merchant, or one whose request-time is far from now
// (a replay, not one of APO's resends over about a day), is refused with
// 401 like a bad signature, changes nothing, and is kept and counted.
func TestWebhookClientIDAndRequestTime(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	p := e.create(t, payBody("4000000000003220", 1000, "USD"))
	if p.Status != "REQUIRES_ACTION" {
		t.Fatalf("3DS payment: %+v", p)
	}
	good := notification(p, "S", "SUCCESS")
	now := time.Now().UTC()
	iso := func(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }
	for _, c := range []struct {
		name, clientID, reqTime, code, reason string
	}{
		{"another merchant", "SANDBOX_OTHER_MERCHANT", iso(now), "CLIENT_INVALID", "client_id"},
		{"1970", sandboxtest.ClientID, "1970-01-01T00:00:00Z", "PARAM_ILLEGAL", "request_time"},
		{"1970 in ms", sandboxtest.ClientID, "0", "PARAM_ILLEGAL", "request_time"},
		{"three days old", sandboxtest.ClientID, iso(now.Add(-72 * time.Hour)), "PARAM_ILLEGAL", "request_time"},
		{"a day ahead", sandboxtest.ClientID, strconv.FormatInt(now.Add(24*time.Hour).UnixMilli(), 10), "PARAM_ILLEGAL", "request_time"},
		{"unreadable", sandboxtest.ClientID, "yesterday", "PARAM_ILLEGAL", "request_time"},
	} {
		before := refusals(t, c.reason, "stored")
		resp, b := e.deliverAs(t, e.apo.APOKey, c.clientID, c.reqTime, good)
		if resp.StatusCode != http.StatusUnauthorized || resultCode(t, b) != c.code {
			t.Fatalf("%s: %d %s, want 401 %s", c.name, resp.StatusCode, b, c.code)
		}
		if got := refusals(t, c.reason, "stored"); got < before+1 {
			t.Errorf("%s: refusals{reason=%s,kept=stored} %v, want at least %v", c.name, c.reason, got, before+1)
		}
	}
	resp, b := e.call(t, http.MethodGet, "/v1/payments/"+p.ID, e.viewer, nil)
	if got := decode[Payment](t, resp, b, http.StatusOK); got.Status != "REQUIRES_ACTION" {
		t.Fatalf("payment after refused notifications: %s", got.Status)
	}
	evs := e.webhookEvents(t, "verdict=invalid")
	if len(evs) != 6 {
		t.Fatalf("%d refused events kept, want 6", len(evs))
	}
	var errs []string
	for _, ev := range evs {
		errs = append(errs, ev.LastError)
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{`client-id "SANDBOX_OTHER_MERCHANT" is not ours`, "request-time 1970-01-01T00:00:00Z is more than 48h0m0s old",
		"ahead of our clock", `request-time "yesterday" unreadable`} {
		if !strings.Contains(all, want) {
			t.Errorf("last errors lack %q:\n%s", want, all)
		}
	}
	// Inside the window, in either format APO uses: accepted.
	resp, b = e.deliverAs(t, e.apo.APOKey, sandboxtest.ClientID, iso(now.Add(-47*time.Hour)), good)
	if resp.StatusCode != http.StatusOK || string(b) != apo.NotificationAck {
		t.Fatalf("47 h old: %d %s", resp.StatusCode, b)
	}
	resp, b = e.deliverAs(t, e.apo.APOKey, sandboxtest.ClientID, strconv.FormatInt(now.UnixMilli(), 10), good)
	if resp.StatusCode != http.StatusOK || string(b) != apo.NotificationAck {
		t.Fatalf("request-time in ms: %d %s", resp.StatusCode, b)
	}
	e.waitForStatus(t, p.ID, "AUTHORIZED")
	e.srv.Close()
	if logs := e.logs.String(); !strings.Contains(logs, "webhook for another client id") ||
		!strings.Contains(logs, "webhook request-time outside the window") {
		t.Fatalf("no log lines for the refusals:\n%s", logs)
	}
}

// TestSourceKey: the refusal budget is per IPv4 address and per IPv6 /64,
// which one host can fill with addresses.
func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7:4431":          "198.51.100.7",
		"[::ffff:198.51.100.7]:4431": "198.51.100.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:80":  "2001:db8:1:2::/64",
		"not an address":             "not an address",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}
