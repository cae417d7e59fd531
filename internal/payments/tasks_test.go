package payments_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/sandboxtest"
)

// worker starts an asynq server running the payments handlers, as one
// cmd/worker replica does.
func worker(t *testing.T, h *harness, r *redistest.Server, rps int) *payments.Tasks {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	q := asynq.NewClient(r.Opt())
	t.Cleanup(func() { q.Close() })
	rdb := r.Client()
	t.Cleanup(func() { rdb.Close() })
	polls := payments.NewPolls(h.db, q, log)
	svc := payments.NewService(h.db, h.env.Client, polls, log, "http://127.0.0.1:1")
	tasks := payments.NewTasks(svc, polls, q, ratelimit.New(rdb, "apo:inquiry", rps), log)
	srv := asynq.NewServer(r.Opt(), asynq.Config{Concurrency: 10, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 200 * time.Millisecond,
		Queues: map[string]int{"webhooks": 12, "critical": 6, "default": 3, "low": 1}, ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) { t.Logf("task %s: %v", task.Type(), err) }), Logger: quietLogger{}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(payments.TypeProcessWebhook, tasks.HandleProcessWebhook)
	mux.HandleFunc(payments.TypeInquire, tasks.HandleInquire)
	mux.HandleFunc(payments.TypeSweep, tasks.HandleSweep)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return tasks
}

type quietLogger struct{}

func (quietLogger) Debug(...any)   {}
func (quietLogger) Info(...any)    {}
func (quietLogger) Warn(...any)    {}
func (quietLogger) Error(a ...any) { fmt.Println(a...) }
func (quietLogger) Fatal(...any)   {}

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

// TestPollingResolvesWithoutNotification: the delayed card answers only by
// inquiry; the paced chain finds the result and then stops.
func TestPollingResolvesWithoutNotification(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := redistest.Start(t)
	tasks := worker(t, h, r, 20)
	svc := payments.NewService(h.db, h.env.Client, payments.NewPolls(h.db, asynq.NewClient(r.Opt()), slog.Default()),
		slog.New(slog.NewJSONHandler(io.Discard, nil)), "http://127.0.0.1:1")
	p, err := svc.Create(context.Background(), createReq("4000000000000119", 990, "SGD"))
	if err != nil || p.Status != payments.StatusProcessing {
		t.Fatalf("create: %v %s", err, p.Status)
	}
	waitFor(t, 2*time.Minute, "polling to authorize the payment", func() bool {
		got, _ := svc.Get(context.Background(), p.ID)
		return got.Status == payments.StatusAuthorized
	})
	_ = tasks
	// Once final, the chain ends: no poll stays scheduled.
	waitFor(t, 2*time.Minute, "the poll chain to end", func() bool {
		var next *time.Time
		_ = h.db.Get(&next, `SELECT next_poll_at FROM payments WHERE id = $1`, p.ID)
		return next == nil
	})
}

// TestSweeperRecreatesLostWork: a payment whose poll was never queued (Redis
// lost it) and a stored notification never processed are both picked up.
func TestSweeperRecreatesLostWork(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	ctx := context.Background()
	p := h.create(t, createReq("4000000000000119", 500, "USD")) // no poller: nothing queued
	ev, err := h.notify(t, paymentResult(p, "S", "SUCCESS"))
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	tasks := worker(t, h, r, 20)
	// Nothing is overdue yet: the sweeper leaves fresh work alone.
	if n, err := tasks.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("fresh sweep: %d %v", n, err)
	}
	if _, err := h.db.Exec(`UPDATE payments SET created_at = created_at - interval '2 minutes';
		UPDATE webhook_events SET received_at = received_at - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	if n, err := tasks.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("sweep: %d %v, want 2 items", n, err)
	}
	waitFor(t, 2*time.Minute, "the swept notification to be processed", func() bool {
		page, _ := h.svc.ListWebhooks(ctx, payments.WebhookFilter{State: payments.WebhookProcessed})
		return len(page.Items) == 1 && page.Items[0].ID == ev.ID
	})
	got, _ := h.svc.Get(ctx, p.ID)
	if got.Status != payments.StatusAuthorized {
		t.Fatalf("status %s", got.Status)
	}
}

// TestRecoverySweepTakesFreshNotifications: notifications stored while
// Redis was down are seconds old when it comes back; the periodic sweep
// leaves them for a minute, the sweep a worker asks for on recovery queues
// them at once. The sweeper reads every page of a backlog.
func TestRecoverySweepTakesFreshNotifications(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	ctx := context.Background()
	var ps []payments.Payment
	for range 5 {
		p := h.create(t, createReq("4000000000000119", 700, "USD"))
		if _, err := h.notify(t, paymentResult(p, "S", "SUCCESS")); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// The backlog in pages of two: all five, in order, each once.
	st := payments.NewStore(h.db)
	var seen []string
	var last payments.PendingWebhook
	for {
		page, err := st.PendingWebhooks(ctx, time.Now().Add(time.Second), last, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			seen = append(seen, ev.ID)
		}
		if len(page) < 2 {
			break
		}
		last = page[len(page)-1]
	}
	if len(seen) != 5 || len(map[string]bool{seen[0]: true, seen[1]: true, seen[2]: true, seen[3]: true, seen[4]: true}) != 5 {
		t.Fatalf("paged through %v, want the 5 pending notifications once each", seen)
	}

	r := redistest.Start(t)
	tasks := worker(t, h, r, 20)
	if n, err := tasks.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("periodic sweep took %d fresh items (%v), want none", n, err)
	}
	q := asynq.NewClient(r.Opt())
	defer q.Close()
	recovered := time.Now()
	if _, err := q.EnqueueContext(ctx, payments.NewRecoverySweepTask(recovered)); err != nil {
		t.Fatal(err)
	}
	// A second replica that saw the recovery earlier in the same 10 s asks
	// for nothing more. (Two calls of time.Now() here could straddle a
	// window's edge.)
	if _, err := q.EnqueueContext(ctx, payments.NewRecoverySweepTask(recovered.Truncate(10*time.Second))); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("second recovery sweep in the same 10 s: %v, want a task id conflict", err)
	}
	waitFor(t, 2*time.Minute, "the recovery sweep to get every notification processed", func() bool {
		for _, p := range ps {
			if got, _ := h.svc.Get(ctx, p.ID); got.Status != payments.StatusAuthorized {
				return false
			}
		}
		return true
	})
}

// TestInquiryBudgetIsShared: two workers polling many unresolved payments
// stay within APO_INQUIRY_RPS (+1 burst), as the sandbox's own call log
// shows allowing for arrival jitter, and every payment still resolves.
func TestInquiryBudgetIsShared(t *testing.T) {
	t.Parallel()
	const rps, n = 5, 40
	h := newHarness(t)
	ctx := context.Background()
	var ids []string
	for range n {
		ids = append(ids, h.create(t, createReq("4000000000000119", 100, "USD")).ID)
	}
	r := redistest.Start(t)
	worker(t, h, r, rps)
	worker(t, h, r, rps)
	a := payments.NewPolls(h.db, asynq.NewClient(r.Opt()), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	for _, id := range ids {
		if err := a.SchedulePoll(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 3*time.Minute, "every payment to resolve", func() bool {
		var open int
		_ = h.db.Get(&open, `SELECT count(*) FROM payments WHERE status <> 'AUTHORIZED'`)
		return open == 0
	})
	var times []time.Time
	for _, c := range h.env.Sandbox.Calls() {
		if c.API == "inquiryPayment" {
			times = append(times, c.Time)
		}
	}
	if len(times) < n {
		t.Fatalf("%d inquiries for %d payments", len(times), n)
	}
	sandboxtest.CheckBudget(t, times, rps)
}

// TestBatchedWebhooksProcessed: the api hands a burst over as one task; every
// event in it is applied, and one about an unknown payment waits for it
// without holding up the others.
func TestBatchedWebhooksProcessed(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	ctx := context.Background()
	var ids []string
	var pays []payments.Payment
	for i := range 3 {
		p := h.create(t, createReq("4000000000000119", int64(500+i), "USD")) // PROCESSING; no poller
		ev, err := h.notify(t, paymentResult(p, "S", "SUCCESS"))
		if err != nil {
			t.Fatal(err)
		}
		ids, pays = append(ids, ev.ID), append(pays, p)
	}
	stranger := pays[0]
	stranger.PaymentRequestID, stranger.APOPaymentID = "unknown-request", "2026unknown"
	orphan, err := h.notify(t, paymentResult(stranger, "S", "SUCCESS"))
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids[:1], append([]string{orphan.ID}, ids[1:]...)...)
	r := redistest.Start(t)
	tasks := worker(t, h, r, 20)
	if err := tasks.EnqueueWebhooks(ctx, ids); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the batch to be processed", func() bool {
		page, _ := h.svc.ListWebhooks(ctx, payments.WebhookFilter{State: payments.WebhookProcessed})
		return len(page.Items) == 3
	})
	for _, p := range pays {
		if got, _ := h.svc.Get(ctx, p.ID); got.Status != payments.StatusAuthorized {
			t.Errorf("payment %s: %s", p.ID, got.Status)
		}
	}
	// The orphan waits for its payment (it may be on its way), retried on its
	// own; it turns FAILED once unknownPaymentPatience is over.
	var state string
	if err := h.db.Get(&state, `SELECT state FROM webhook_events WHERE id = $1`, orphan.ID); err != nil || state != string(payments.WebhookPending) {
		t.Errorf("orphan event: %q %v, want PENDING", state, err)
	}
}

// TestPollingFindsAutomaticCapture: pay answers S for an automatic-capture
// payment and no notification ever arrives (nothing listens at the notify
// URL); the poll chain started by pay finds the capture.
func TestPollingFindsAutomaticCapture(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := redistest.Start(t)
	worker(t, h, r, 20)
	svc := payments.NewService(h.db, h.env.Client, payments.NewPolls(h.db, asynq.NewClient(r.Opt()), slog.Default()),
		slog.New(slog.NewJSONHandler(io.Discard, nil)), "http://127.0.0.1:1")
	req := createReq("4111111111111111", 700, "JPY")
	req.CaptureMode = payments.CaptureAutomatic
	p, err := svc.Create(context.Background(), req)
	if err != nil || p.Status != payments.StatusAuthorized {
		t.Fatalf("create: %v %s", err, p.Status)
	}
	waitFor(t, 2*time.Minute, "polling to find the automatic capture", func() bool {
		got, _ := svc.Get(context.Background(), p.ID)
		return got.Status == payments.StatusCaptured && got.CapturedMinor == 700
	})
	waitFor(t, 2*time.Minute, "the poll chain to end", func() bool {
		var next *time.Time
		_ = h.db.Get(&next, `SELECT next_poll_at FROM payments WHERE id = $1`, p.ID)
		return next == nil
	})
}
