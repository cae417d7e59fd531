package inbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/sandboxtest"
)

// The real collaborators fit the consumer interfaces.
var (
	_ inbox.Verifier     = (*apo.Client)(nil)
	_ inbox.PaymentFacts = (*payments.Service)(nil)
	_ inbox.DisputeFacts = (*disputes.Service)(nil)
)

// harness is the inbox over the real payments service, the sandbox and a
// fresh database.
type harness struct {
	db  *sqlx.DB
	env *sandboxtest.Env
	svc *payments.Service
	in  *inbox.Service
}

// newHarnessScaled sets the sandbox's time scale: 1 keeps the delayed card
// PROCESSING for a real 30 s, for tests that need it unresolved.
func newHarnessScaled(t *testing.T, scale float64) *harness {
	t.Helper()
	db := pgtest.NewDB(t)
	env := sandboxtest.Start(t, sandboxtest.Options{Recorder: payments.NewCallRecorder(db), TimeScale: scale})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc := payments.NewService(db, env.Client, nil, log, "http://127.0.0.1:1")
	in := inbox.NewService(db, env.Client, svc, nil, nil, log)
	return &harness{db: db, env: env, svc: svc, in: in}
}

func newHarness(t *testing.T) *harness { return newHarnessScaled(t, 0) }

func createReq(card string, minor int64, ccy string) payments.CreateRequest {
	return payments.CreateRequest{
		ReferenceOrderID: "order-" + card[len(card)-4:], OrderDescription: "test order",
		Amount: money.Money{Minor: minor, Currency: ccy}, BuyerReference: "buyer-1",
		TerminalType: "WEB", ClientIP: "203.0.113.7", RedirectURL: "https://shop.example/return",
		Card: payments.CardInput{Number: card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030",
			HolderFirst: "Ada", HolderLast: "Lovelace"},
		Actor: "test",
	}
}

func (h *harness) create(t *testing.T, req payments.CreateRequest) payments.Payment {
	t.Helper()
	p, err := h.svc.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

// notify signs body as APO would and hands it to Intake.
func (h *harness) notify(t *testing.T, body string) (inbox.Event, error) {
	t.Helper()
	ev, _, err := h.deliver(t, body)
	return ev, err
}

// deliver is notify that also says whether this delivery stored a new fact.
func (h *harness) deliver(t *testing.T, body string) (inbox.Event, bool, error) {
	t.Helper()
	ts := time.Now().UTC().Format(time.RFC3339)
	sig, err := apo.Sign(h.env.APOKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	hdr["signature"] = []string{strings.Replace(sig, ",", ", ", -1)} // APO's docs put spaces after commas
	hdr["client-id"] = []string{"SANDBOX_PAYOPS"}
	hdr["request-time"] = []string{ts}
	return h.in.Intake(context.Background(), "POST", "/webhooks/apo", hdr, []byte(body))
}

func paymentResult(p payments.Payment, status, code string) string {
	return fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":%q,"resultStatus":%q,"resultMessage":"x"},`+
		`"paymentRequestId":%q,"paymentId":%q,"paymentAmount":{"currency":%q,"value":"%d"}}`,
		code, status, p.PaymentRequestID, p.APOPaymentID, p.Amount.Currency, p.Amount.Minor)
}

func captureResult(requestID, apoPaymentID, captureID, amount string) string {
	return fmt.Sprintf(`{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},`+
		`"captureRequestId":%q,"paymentId":%q,"captureId":%q%s}`, requestID, apoPaymentID, captureID, amount)
}

// worker starts an asynq server running the inbox's and payments'
// handlers, as one cmd/worker replica does.
func worker(t *testing.T, h *harness, r *redistest.Server, rps int) (*inbox.Tasks, *payments.Tasks) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	q := asynq.NewClient(r.Opt())
	t.Cleanup(func() { q.Close() })
	rdb := r.Client()
	t.Cleanup(func() { rdb.Close() })
	polls := payments.NewPolls(h.db, q, log)
	svc := payments.NewService(h.db, h.env.Client, polls, log, "http://127.0.0.1:1")
	pt := payments.NewTasks(svc, polls, ratelimit.New(rdb, "apo:inquiry", rps), log)
	it := inbox.NewTasks(inbox.NewService(h.db, h.env.Client, svc, nil, nil, log), q, log)
	srv := asynq.NewServer(r.Opt(), asynq.Config{Concurrency: 10, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 200 * time.Millisecond,
		Queues: map[string]int{"webhooks": 12, "critical": 6, "default": 3, "low": 1}, ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) { t.Logf("task %s: %v", task.Type(), err) }), Logger: redistest.QuietAsynq{}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(inbox.TypeProcessWebhook, it.HandleProcessWebhook)
	mux.HandleFunc(inbox.TypeSweep, it.HandleSweep)
	mux.HandleFunc(payments.TypeInquire, pt.HandleInquire)
	mux.HandleFunc(payments.TypeSweep, pt.HandleSweep)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return it, pt
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
