package disputes_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/redistest"
)

// receiver is an alert webhook that checks signatures and counts alerts
// by id. fail makes it answer 500.
type receiver struct {
	secret string
	fail   atomic.Bool
	mu     sync.Mutex
	byID   map[string]int
	bodies []map[string]any
	bad    []string
}

func newReceiver(t *testing.T, secret string) (*receiver, *httptest.Server) {
	r := &receiver{secret: secret, byID: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		m := hmac.New(sha256.New, []byte(r.secret))
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		r.mu.Lock()
		defer r.mu.Unlock()
		if got := req.Header.Get("X-Payops-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
			r.bad = append(r.bad, got)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var a map[string]any
		if err := json.Unmarshal(body, &a); err != nil || req.Header.Get("Content-Type") != "application/json" {
			r.bad = append(r.bad, string(body))
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.byID[a["id"].(string)]++
		r.bodies = append(r.bodies, a)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) snapshot() (map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := map[string]int{}
	for k, v := range r.byID {
		c[k] = v
	}
	return c, append([]string(nil), r.bad...)
}

func newAlerter(t *testing.T, url, secret string) *disputes.Alerter {
	t.Helper()
	a, err := disputes.NewAlerter(disputes.AlertConfig{WebhookURL: url, Secret: secret},
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDeadlineWatchdog walks one dispute through the 7d, 48h and 24h
// thresholds to expiry: one alert per threshold, the status change at the
// due time, and nothing new on a repeat run.
func TestDeadlineWatchdog(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "s3cret")
	h := newHarness(t, newAlerter(t, srv.URL, "s3cret"))
	ctx := context.Background()
	p := h.capturedPayment(t, 1500)
	start := h.clock.time()
	due := start.Add(6 * 24 * time.Hour)
	h.deliver(t, created("2026DUE0001", p, due))
	d := h.byAPOID(t, "2026DUE0001")
	// A second dispute far from its deadline is counted nowhere.
	h.deliver(t, created("2026DUE0002", p, start.Add(30*24*time.Hour)))

	steps := []struct {
		at        time.Time
		threshold string
		due7d     int
		due24h    int
	}{
		{start, "7d", 1, 0},
		{due.Add(-47 * time.Hour), "48h", 1, 0},
		{due.Add(-47 * time.Hour), "", 1, 0}, // same run again: nothing new
		{due.Add(-23 * time.Hour), "24h", 1, 1},
		{due.Add(time.Minute), "expired", 0, 0},
		{due.Add(2 * time.Hour), "", 0, 0},
	}
	for i, s := range steps {
		rep, err := h.svc.CheckDeadlines(ctx, s.at)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		wantAlerts := 0
		if s.threshold != "" {
			wantAlerts = 1
		}
		if rep.Alerts != wantAlerts || rep.DueWithin["7d"] != s.due7d || rep.DueWithin["24h"] != s.due24h {
			t.Fatalf("step %d: report %+v, want %d alerts, 7d %d, 24h %d", i, rep, wantAlerts, s.due7d, s.due24h)
		}
	}
	got, bad := rcv.snapshot()
	if len(bad) != 0 {
		t.Fatalf("badly signed or malformed alerts: %v", bad)
	}
	for _, th := range []string{"7d", "48h", "24h", "expired"} {
		if n := got["dispute-deadline:"+d.ID+":"+th]; n != 1 {
			t.Errorf("%s alert delivered %d times, want 1 (all: %v)", th, n, got)
		}
	}
	d = h.byAPOID(t, "2026DUE0001")
	if d.Status != disputes.StatusExpiredUndefended {
		t.Fatalf("status %s after the due time, want EXPIRED_UNDEFENDED", d.Status)
	}
	// APO's later word still applies: the expired dispute is lost.
	h.deliver(t, judged("2026DUE0001", p, disputes.JudgedAcceptByMerchant, 1500))
	if d = h.byAPOID(t, "2026DUE0001"); d.Status != disputes.StatusLost || h.payment(t, p.ID).DisputeLostMinor != 1500 {
		t.Fatalf("after judgement of an expired dispute: %s, disputed %d", d.Status, h.payment(t, p.ID).DisputeLostMinor)
	}
	rcv.mu.Lock()
	first := rcv.bodies[0]
	rcv.mu.Unlock()
	fields, _ := first["fields"].(map[string]any)
	if first["kind"] != "dispute.deadline" || first["subject"] != "dispute:"+d.ID || fields["threshold"] != "7d" ||
		fields["defense_due_time"] != due.Format(time.RFC3339) || !strings.Contains(first["summary"].(string), "2026DUE0001") {
		t.Fatalf("alert body %v", first)
	}
}

// TestDeadlineAlertsOnceUnderConcurrency runs the watchdog twice at once,
// twice over, on disputes first seen 20 hours before their deadline: each
// gets exactly one alert (for 24h), and every threshold is recorded once.
func TestDeadlineAlertsOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "k")
	h := newHarness(t, newAlerter(t, srv.URL, "k"))
	p := h.capturedPayment(t, 100)
	const n = 6
	for i := range n {
		h.handle(t, created(fmt.Sprintf("2026CONC%02d", i), p, h.clock.after(20*time.Hour)))
	}
	now := h.clock.time()
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.svc.CheckDeadlines(context.Background(), now)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	got, bad := rcv.snapshot()
	if len(bad) != 0 || len(got) != n {
		t.Fatalf("alerts %v (bad %v), want one for each of %d disputes", got, bad, n)
	}
	for id, c := range got {
		if c != 1 || !strings.HasSuffix(id, ":24h") {
			t.Errorf("alert %s delivered %d times, want once", id, c)
		}
	}
	if rows := h.count(t, `SELECT count(*) FROM dispute_alerts`); rows != n*3 {
		t.Fatalf("%d alert records, want %d (7d, 48h, 24h each)", rows, n*3)
	}
}

// TestFailedAlertIsRetried: when the webhook is down nothing is recorded,
// so the next run sends it.
func TestFailedAlertIsRetried(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "k")
	h := newHarness(t, newAlerter(t, srv.URL, "k"))
	p := h.capturedPayment(t, 100)
	h.handle(t, created("2026FAIL01", p, h.clock.after(3*24*time.Hour)))
	rcv.fail.Store(true)
	if _, err := h.svc.CheckDeadlines(context.Background(), h.clock.time()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("run with the webhook down: %v, want an error", err)
	}
	if rows := h.count(t, `SELECT count(*) FROM dispute_alerts`); rows != 0 {
		t.Fatalf("%d alert records after a failed delivery, want 0", rows)
	}
	rcv.fail.Store(false)
	rep, err := h.svc.CheckDeadlines(context.Background(), h.clock.time())
	if err != nil || rep.Alerts != 1 {
		t.Fatalf("retry: %v %+v", err, rep)
	}
}

// TestAlertWebhookSignature checks the request an alert makes.
func TestAlertWebhookSignature(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		req  *http.Request
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		req, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	a := newAlerter(t, srv.URL+"/hooks/payops", "top-secret")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err := a.Send(context.Background(), disputes.Alert{ID: "payment-review:42", Kind: "payment.needs_review",
		Severity: "warning", Subject: "payment:42", Summary: "payment needs review", At: at,
		Fields: map[string]string{"reason": "conflicting result"}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	m := hmac.New(sha256.New, []byte("top-secret"))
	m.Write(body)
	if got, want := req.Header.Get("X-Payops-Signature"), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if req.Method != http.MethodPost || req.URL.Path != "/hooks/payops" || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	want := `{"id":"payment-review:42","kind":"payment.needs_review","severity":"warning","subject":"payment:42",` +
		`"summary":"payment needs review","fields":{"reason":"conflicting result"},"at":"2026-11-23T10:00:00Z"}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	if disputes.Sign([]byte("other"), body) == req.Header.Get("X-Payops-Signature") {
		t.Fatal("another secret gives the same signature")
	}
}

func TestNewAlerterChecksConfig(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, cfg := range []disputes.AlertConfig{
		{WebhookURL: "ftp://x/y", Secret: "s"},
		{WebhookURL: "/relative", Secret: "s"},
		{WebhookURL: "https://hooks.example/x"},
	} {
		if _, err := disputes.NewAlerter(cfg, log); err == nil || !strings.Contains(err.Error(), "ALERT_WEBHOOK_") {
			t.Errorf("%+v: %v, want an error naming the variable", cfg, err)
		}
	}
	a, err := disputes.NewAlerter(disputes.AlertConfig{}, log)
	if err != nil || a.Send(context.Background(), disputes.Alert{ID: "x", Summary: "logged only"}) != nil {
		t.Fatalf("log-only alerter: %v", err)
	}
}

// TestDueGauge checks payops_disputes_due_within on the default registry.
// It is not parallel: parallel tests only start once the serial ones are
// done, so no other watchdog run moves the gauge meanwhile.
func TestDueGauge(t *testing.T) {
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 100)
	for i, d := range []time.Duration{10 * time.Hour, 30 * time.Hour, 100 * time.Hour, 300 * time.Hour} {
		h.handle(t, created(fmt.Sprintf("2026GAUGE%d", i), p, h.clock.after(d)))
	}
	if _, err := h.svc.CheckDeadlines(context.Background(), h.clock.time()); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "payops_disputes_due_within" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "window" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if got["24h"] != 1 || got["48h"] != 2 || got["7d"] != 3 {
		t.Fatalf("gauge %v, want 24h=1 48h=2 7d=3", got)
	}
}

func TestDeadlinesTask(t *testing.T) {
	t.Parallel()
	a := disputes.NewDeadlinesTask(time.Date(2026, 11, 23, 2, 5, 0, 0, time.UTC))
	b := disputes.NewDeadlinesTask(time.Date(2026, 11, 23, 3, 59, 0, 0, time.FixedZone("CET", 3600)))
	c := disputes.NewDeadlinesTask(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC))
	if a.Type() != "disputes:deadlines" {
		t.Fatalf("type %q", a.Type())
	}
	q := asynq.NewClient(redistest.Start(t).Opt())
	defer q.Close()
	if _, err := q.Enqueue(a); err != nil {
		t.Fatal(err)
	}
	// 03:59 CET is 02:59 UTC: the same hour, so the same task.
	if _, err := q.Enqueue(b); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("second enqueue in the hour: %v, want a task id conflict", err)
	}
	if _, err := q.Enqueue(c); err != nil {
		t.Fatalf("next hour: %v", err)
	}

	h := newHarness(t, nil)
	p := h.capturedPayment(t, 100)
	h.handle(t, created("2026TASK01", p, h.clock.after(-time.Minute)))
	for range 2 { // delivered twice: the second run changes nothing
		if err := h.svc.HandleDeadlinesTask(context.Background(), asynq.NewTask(disputes.TypeDeadlines, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if d := h.byAPOID(t, "2026TASK01"); d.Status != disputes.StatusExpiredUndefended {
		t.Fatalf("status %s", d.Status)
	}
	if n := h.count(t, `SELECT count(*) FROM dispute_events WHERE kind = 'expired'`); n != 1 {
		t.Fatalf("%d expiry events, want 1", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
