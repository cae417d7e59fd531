package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/redistest"
)

// Issue 14 item 6: a notification whose payment we cannot find yet stays
// PENDING and is retried by the queue for a while; only then is it FAILED.
func TestUnknownPaymentNotificationRetriedThenFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	tasks := inbox.NewTasks(h.in, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ev, err := h.notify(t, captureResult("", "2026APO-NOBODY", "C-X", `,"captureAmount":{"currency":"USD","value":"100"}`))
	if err != nil {
		t.Fatal(err)
	}
	task := asynq.NewTask(inbox.TypeProcessWebhook, []byte(fmt.Sprintf(`{"event_id":%q}`, ev.ID)))
	err = tasks.HandleProcessWebhook(ctx, task)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("young unknown-payment notification: %v, want a retryable error", err)
	}
	if got, _ := inbox.NewStore(h.db).Get(ctx, ev.ID); got.State != inbox.Pending {
		t.Fatalf("state while waiting: %s", got.State)
	}
	h.in.SetClock(func() time.Time { return time.Now().Add(10 * time.Minute) })
	if err = tasks.HandleProcessWebhook(ctx, task); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("after the patience: %v, want SkipRetry", err)
	}
	if got, _ := inbox.NewStore(h.db).Get(ctx, ev.ID); got.State != inbox.Failed {
		t.Fatalf("state after giving up: %s", got.State)
	}
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
	tasks, polls := worker(t, h, r, 20)
	// Nothing is overdue yet: the sweeper leaves fresh work alone.
	if n, err := sweepAll(ctx, tasks, polls); err != nil || n != 0 {
		t.Fatalf("fresh sweep: %d %v", n, err)
	}
	if _, err := h.db.Exec(`UPDATE payments SET created_at = created_at - interval '2 minutes';
		UPDATE webhook_events SET received_at = received_at - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	if n, err := sweepAll(ctx, tasks, polls); err != nil || n != 2 {
		t.Fatalf("sweep: %d %v, want 2 items", n, err)
	}
	waitFor(t, 2*time.Minute, "the swept notification to be processed", func() bool {
		page, _ := h.in.List(ctx, inbox.Filter{State: inbox.Processed})
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
	st := inbox.NewStore(h.db)
	var seen []string
	var last inbox.PendingEvent
	for {
		page, err := st.Pending(ctx, time.Now().Add(time.Second), last, 2)
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
	tasks, polls := worker(t, h, r, 20)
	if n, err := sweepAll(ctx, tasks, polls); err != nil || n != 0 {
		t.Fatalf("periodic sweep took %d fresh items (%v), want none", n, err)
	}
	q := asynq.NewClient(r.Opt())
	defer q.Close()
	recovered := time.Now()
	if _, err := q.EnqueueContext(ctx, inbox.NewRecoverySweepTask(recovered)); err != nil {
		t.Fatal(err)
	}
	// A second replica that saw the recovery earlier in the same 10 s asks
	// for nothing more. (Two calls of time.Now() here could straddle a
	// window's edge.)
	if _, err := q.EnqueueContext(ctx, inbox.NewRecoverySweepTask(recovered.Truncate(10*time.Second))); !errors.Is(err, asynq.ErrTaskIDConflict) {
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
	tasks, _ := worker(t, h, r, 20)
	if err := tasks.EnqueueWebhooks(ctx, ids); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the batch to be processed", func() bool {
		page, _ := h.in.List(ctx, inbox.Filter{State: inbox.Processed})
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
	if err := h.db.Get(&state, `SELECT state FROM webhook_events WHERE id = $1`, orphan.ID); err != nil || state != string(inbox.Pending) {
		t.Errorf("orphan event: %q %v, want PENDING", state, err)
	}
}

// sweepAll runs both sweeps of the periodic sweep's tick (jobs enqueues
// inbox's and payments') and says how many items they re-queued together.
func sweepAll(ctx context.Context, it *inbox.Tasks, pt *payments.Tasks) (int, error) {
	n, err := it.Sweep(ctx)
	if err != nil {
		return n, err
	}
	m, err := pt.Sweep(ctx)
	return n + m, err
}
