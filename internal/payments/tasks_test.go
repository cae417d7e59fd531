package payments_test

import (
	"context"
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
	tasks := payments.NewTasks(svc, polls, ratelimit.New(rdb, "apo:inquiry", rps), log)
	srv := asynq.NewServer(r.Opt(), asynq.Config{Concurrency: 10, TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 200 * time.Millisecond,
		Queues: map[string]int{"webhooks": 12, "critical": 6, "default": 3, "low": 1}, ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) { t.Logf("task %s: %v", task.Type(), err) }), Logger: redistest.QuietAsynq{}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(payments.TypeInquire, tasks.HandleInquire)
	mux.HandleFunc(payments.TypeSweep, tasks.HandleSweep)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return tasks
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
