package disputes_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/sandboxtest"
)

// The real collaborators fit the consumer interfaces.
var (
	_ disputes.Provider  = (*apo.Client)(nil)
	_ disputes.Payments  = (*payments.Service)(nil)
	_ inbox.DisputeFacts = (*disputes.Service)(nil)
)

// clock is a settable time shared by the sandbox and the services.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() int64                      { return c.ns.Load() }
func (c *clock) time() time.Time                 { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration)         { c.ns.Add(int64(d)) }
func (c *clock) after(d time.Duration) time.Time { return c.time().Add(d) }

type harness struct {
	db    *sqlx.DB
	env   *sandboxtest.Env
	pay   *payments.Service
	svc   *disputes.Service
	in    *inbox.Service // the notifications' production path
	clock *clock
	logs  *logtest.Buffer
}

// newHarness wires disputes to payments, the inbox, the sandbox and a
// fresh database, with one clock for all of them.
func newHarness(t *testing.T, alerts *disputes.Alerter) *harness {
	t.Helper()
	db := pgtest.NewDB(t)
	clk := newClock(time.Now().UTC().Truncate(time.Second))
	env := sandboxtest.Start(t, sandboxtest.Options{Now: clk.time})
	logs := &logtest.Buffer{}
	log := logging.New(logs, slog.LevelDebug)
	pay := payments.NewService(db, env.Client, nil, log, "http://127.0.0.1:1")
	pay.SetClock(clk.time)
	svc := disputes.NewService(db, env.Client, pay, alerts, log)
	svc.SetClock(clk.time)
	in := inbox.NewService(db, env.Client, pay, svc, nil, log)
	in.SetClock(clk.time)
	return &harness{db: db, env: env, pay: pay, svc: svc, in: in, clock: clk, logs: logs}
}

// capturedPayment authorizes and fully captures a payment.
func (h *harness) capturedPayment(t *testing.T, minor int64) payments.Payment {
	t.Helper()
	ctx := context.Background()
	p, err := h.pay.Create(ctx, payments.CreateRequest{
		ReferenceOrderID: "order-" + strconv.FormatInt(h.clock.Now(), 36), OrderDescription: "test order",
		Amount: money.Money{Minor: minor, Currency: "USD"}, BuyerReference: "buyer-1",
		TerminalType: "WEB", ClientIP: "203.0.113.7", RedirectURL: "https://shop.example/return",
		Card: payments.CardInput{Number: "4111111111111111", CVV: "123", ExpiryMonth: "12", ExpiryYear: "2035",
			HolderFirst: "Ada", HolderLast: "Lovelace"},
		Actor: "test",
	})
	if err != nil || p.Status != payments.StatusAuthorized {
		t.Fatalf("create payment: %v %+v", err, p.Status)
	}
	p, _, err = h.pay.Capture(ctx, p.ID, payments.CaptureRequest{Actor: "test"})
	if err != nil || p.CapturedMinor != minor {
		t.Fatalf("capture: %v, captured %d", err, p.CapturedMinor)
	}
	return p
}

// openDispute opens a dispute on p in the sandbox, as an issuer would.
func (h *harness) openDispute(t *testing.T, p payments.Payment) string {
	t.Helper()
	did, err := h.env.Sandbox.OpenDispute(p.APOPaymentID, nil)
	if err != nil {
		t.Fatalf("sandbox open dispute: %v", err)
	}
	return did
}

// notification builds a dispute notification body as APO sends it (§3.8).
func notification(kind, disputeID string, p payments.Payment, extra map[string]any) []byte {
	m := map[string]any{"disputeNotificationType": kind, "disputeId": disputeID}
	if p.APOPaymentID != "" {
		m["paymentId"] = p.APOPaymentID
		m["paymentRequestId"] = p.PaymentRequestID
	}
	maps.Copy(m, extra)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func amount(minor int64, ccy string) map[string]string {
	return map[string]string{"currency": ccy, "value": strconv.FormatInt(minor, 10)}
}

// created is a DISPUTE_CREATED body for the whole of p, due at due.
func created(disputeID string, p payments.Payment, due time.Time) []byte {
	return notification(apo.DisputeCreated, disputeID, p, map[string]any{
		"disputeAmount": amount(p.CapturedMinor, p.Amount.Currency), "disputeTime": due.Add(-10 * 24 * time.Hour).Format(time.RFC3339),
		"defenseDueTime": due.Format(time.RFC3339), "disputeReasonCode": "10.4",
		"disputeReasonMsg": "Other Fraud - Card-Absent Environment", "disputeSource": "Visa",
		"disputeType": "CHARGEBACK", "arn": "74837261928374655512345", "defendable": true,
	})
}

// judged is a DISPUTE_JUDGED body with the judged amount.
func judged(disputeID string, p payments.Payment, result string, minor int64) []byte {
	return notification(apo.DisputeJudged, disputeID, p, map[string]any{
		"disputeJudgedResult": result, "disputeJudgedAmount": amount(minor, p.Amount.Currency),
		"disputeJudgedTime": "2026-11-30T10:00:00+08:00", "disputeReasonCode": "10.4", "disputeSource": "Visa",
	})
}

// deliver signs body as APO would and runs it through the inbox's intake
// and processing, the production path.
func (h *harness) deliver(t *testing.T, body []byte) {
	t.Helper()
	ctx := context.Background()
	ts := h.clock.time().Format(time.RFC3339)
	sig, err := apo.Sign(h.env.APOKey, "POST", "/webhooks/apo", sandboxtest.ClientID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Signature": {sig}, "Client-Id": {sandboxtest.ClientID}, "Request-Time": {ts}}
	ev, _, err := h.in.Intake(ctx, "POST", "/webhooks/apo", hdr, body)
	if err != nil {
		t.Fatalf("intake: %v", err)
	}
	if err := h.in.Process(ctx, ev.ID); err != nil {
		t.Fatalf("process: %v", err)
	}
}

// handle hands body straight to the disputes service, bypassing the
// webhook's own deduplication, to prove the service's.
func (h *harness) handle(t *testing.T, body []byte) {
	t.Helper()
	n, err := apo.DecodeNotification(body)
	if err != nil || n.Dispute == nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if err := h.svc.HandleDisputeNotification(context.Background(), n.Dispute, body); err != nil {
		t.Fatalf("handle %s: %v", body, err)
	}
}

func (h *harness) byAPOID(t *testing.T, apoID string) disputes.Dispute {
	t.Helper()
	d, err := disputes.NewStore(h.db).GetByAPOID(context.Background(), apoID)
	if err != nil {
		t.Fatalf("dispute %s: %v", apoID, err)
	}
	return d
}

func (h *harness) payment(t *testing.T, id string) payments.Payment {
	t.Helper()
	p, err := h.pay.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (h *harness) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := h.db.Get(&n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// pdf is a small document that starts like a PDF.
func pdf(text string) []byte { return []byte("%PDF-1.4\n% " + text + "\n%%EOF\n") }

func mustNotContain(t *testing.T, what, haystack string, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if strings.Contains(haystack, n) {
			t.Errorf("%s contains %q", what, n)
		}
	}
}
