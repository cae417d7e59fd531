package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// Task types owned by this package. (payments:process-webhook, the
// processing of a stored notification, is package inbox's now; it keeps
// its name.)
const (
	TypeInquire  = "payments:inquire"
	TypeSweep    = "payments:sweep"
	TypeWatchdog = "payments:watchdog" // periodic check of authorizations (design.md §6)
)

// Enqueuer puts tasks on the queue; *asynq.Client satisfies it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Limiter is the inquiry budget shared by every worker (APO_INQUIRY_RPS).
type Limiter interface {
	Allow(ctx context.Context) (ok bool, retryAfter time.Duration, err error)
}

// Tasks runs the payments side of the worker: the paced inquiry chains,
// the sweeper that re-creates lost poll chains from the database, and the
// watchdog. Payloads carry ids only, never card data.
type Tasks struct {
	svc   *Service
	polls *Polls
	limit Limiter
	log   *slog.Logger
}

// NewTasks wires the task handlers. polls is the same Poller the service
// was built with (NewService), so the chains the handlers continue are the
// ones the service starts.
func NewTasks(svc *Service, polls *Polls, limit Limiter, log *slog.Logger) *Tasks {
	return &Tasks{svc: svc, polls: polls, limit: limit, log: log}
}

// Polls schedules the paced inquiry chains: it claims a chain's next
// attempt in the database and enqueues it. It needs the database and the
// queue only, not the Service, so the Service gets it at construction
// (NewService) and the worker's Tasks continue the same chains.
type Polls struct {
	db  *sqlx.DB
	q   Enqueuer
	log *slog.Logger
	now func() time.Time
}

// NewPolls returns the Poller that enqueues inquiry tasks on q.
func NewPolls(db *sqlx.DB, q Enqueuer, log *slog.Logger) *Polls {
	return &Polls{db: db, q: q, log: log, now: time.Now}
}

type inquirePayload struct {
	PaymentID string `json:"payment_id"`
	Attempt   int    `json:"attempt"`
}

// SchedulePoll starts (or continues) a payment's inquiry chain.
func (pl *Polls) SchedulePoll(ctx context.Context, paymentID string) error {
	st := NewStore(pl.db)
	p, err := st.Get(ctx, paymentID)
	if err != nil {
		return err
	}
	attempt, _, err := st.PollState(ctx, paymentID)
	if err != nil {
		return err
	}
	return pl.next(ctx, p, attempt+1, 0)
}

// next schedules attempt n, after wait or, when wait is 0, at the pace of
// NextPoll for the age of what is unresolved. A payment past the last late
// check is flagged for review as stuck.
func (pl *Polls) next(ctx context.Context, p Payment, n int, wait time.Duration) error {
	st := NewStore(pl.db)
	since, open, err := st.OpenSince(ctx, p)
	if err != nil {
		return err
	}
	if !open {
		return st.EndPoll(ctx, p.ID)
	}
	if wait == 0 {
		var ok bool
		if wait, ok = NextPoll(pl.now().Sub(since)); !ok {
			return pl.stuck(ctx, p.ID, since)
		}
	}
	at := pl.now().Add(wait)
	current, err := st.ClaimPoll(ctx, p.ID, n, at)
	if err != nil || !current {
		return err
	}
	b, _ := json.Marshal(inquirePayload{PaymentID: p.ID, Attempt: n})
	task := asynq.NewTask(TypeInquire, b, asynq.TaskID(fmt.Sprintf("inquire:%s:%d", p.ID, n)),
		asynq.Queue(pollQueue(pl.now().Sub(since))), asynq.MaxRetry(3), asynq.Retention(time.Hour))
	if _, err := pl.q.EnqueueContext(ctx, task, asynq.ProcessIn(wait)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue poll %s/%d: %w", p.ID, n, err)
	}
	return nil
}

// pollQueue puts fresh payments ahead of older ones: the buyer is waiting.
func pollQueue(age time.Duration) string {
	switch {
	case age < time.Minute:
		return "critical"
	case age < pollWindow:
		return "default"
	}
	return "low"
}

// HandleInquire runs one poll: within the shared budget it asks APO and
// applies the answer, then schedules the next poll while anything is still
// unresolved. Over budget it defers the poll instead of failing it.
func (t *Tasks) HandleInquire(ctx context.Context, task *asynq.Task) error {
	var in inquirePayload
	if err := json.Unmarshal(task.Payload(), &in); err != nil || in.PaymentID == "" {
		return fmt.Errorf("decode %s payload: %w", TypeInquire, asynq.SkipRetry)
	}
	st := NewStore(t.svc.db)
	attempt, _, err := st.PollState(ctx, in.PaymentID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("poll %s: %w", in.PaymentID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if in.Attempt < attempt {
		return nil // a newer attempt owns the chain (a duplicate or a sweeper's restart)
	}
	p, err := st.Get(ctx, in.PaymentID)
	if err != nil {
		return err
	}
	if _, open, err := st.OpenSince(ctx, p); err != nil || !open {
		if err == nil {
			err = st.EndPoll(ctx, p.ID)
		}
		return err
	}
	if ok, after, err := t.takeBudget(ctx); err != nil {
		return err // Redis trouble: asynq retries this attempt
	} else if !ok {
		// Spread deferred polls so they do not all come back at one instant.
		return t.polls.next(ctx, p, in.Attempt+1, after+time.Duration(rand.Int64N(int64(2*time.Second))))
	}
	if p, err = t.svc.Sync(ctx, p.ID); err != nil {
		// Unknown outcome of the inquiry itself: the chain simply goes on.
		t.log.DebugContext(ctx, "inquiry gave no answer", "payment_id", in.PaymentID, "err", err)
		if p, err = st.Get(ctx, in.PaymentID); err != nil {
			return err
		}
	}
	return t.polls.next(ctx, p, in.Attempt+1, 0)
}

// budgetWait is how long a poll waits in line for the shared budget before
// it gives its worker slot back and is deferred.
const budgetWait = time.Second

// takeBudget waits up to budgetWait for a slot of the inquiry budget.
// Waiting briefly in the handler keeps the budget used steadily; deferring
// at once would send every denied poll back to the queue together.
func (t *Tasks) takeBudget(ctx context.Context) (bool, time.Duration, error) {
	if t.limit == nil {
		return true, 0, nil
	}
	deadline := time.Now().Add(budgetWait)
	for {
		ok, after, err := t.limit.Allow(ctx)
		if err != nil {
			return false, 0, err
		}
		if ok {
			inquiryBudget.WithLabelValues("allowed").Inc()
			return true, 0, nil
		}
		if time.Now().Add(after).After(deadline) {
			inquiryBudget.WithLabelValues("deferred").Inc()
			return false, after, nil
		}
		select {
		case <-ctx.Done():
			return false, 0, ctx.Err()
		case <-time.After(after):
		}
	}
}

// stuck flags a payment nobody could resolve by polling.
func (pl *Polls) stuck(ctx context.Context, paymentID string, since time.Time) error {
	reason := fmt.Sprintf("stuck: no final answer from APO since %s", since.Format(time.RFC3339))
	err := postgres.InTx(ctx, pl.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, paymentID)
		if err != nil || p.NeedsReview {
			return err
		}
		now := pl.now().UTC()
		p.NeedsReview, p.ReviewReason, p.UpdatedAt = true, reason, now
		if _, err := st.Update(ctx, p); err != nil {
			return err
		}
		if err := st.EndPoll(ctx, p.ID); err != nil {
			return err
		}
		_, err = st.AddEvent(ctx, Event{PaymentID: p.ID, Source: SourceInquiry, Kind: "stuck",
			StatusBefore: string(p.Status), StatusAfter: string(p.Status), Note: reason, CreatedAt: now}, "inquiry|stuck")
		return err
	})
	if err == nil {
		pl.log.WarnContext(ctx, "payment needs review", "payment_id", paymentID, "reason", reason)
	}
	return err
}

// NewSweepTask is the sweeper's task; its id is per minute so replicas'
// schedulers enqueue it once.
func NewSweepTask(at time.Time) *asynq.Task {
	return asynq.NewTask(TypeSweep, nil, asynq.TaskID("payments-sweep:"+at.UTC().Truncate(time.Minute).Format("200601021504")),
		asynq.Queue("low"), asynq.MaxRetry(1), asynq.Retention(10*time.Minute))
}

// HandleSweep re-creates poll chains that Redis lost: unresolved payments
// whose chain is missing or overdue get a new one. (Stored notifications
// still unprocessed are package inbox's sweep.) A payload is ignored: a
// recovery sweep queued before the split carries the notifications'
// cutoff, which inbox's own sweep now covers.
func (t *Tasks) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	n, err := t.Sweep(ctx)
	if n > 0 {
		t.log.InfoContext(ctx, "sweeper re-queued lost work", "items", n)
	}
	return err
}

// sweepAge is how old unfinished work must be before the periodic sweep
// takes it for lost rather than on its way.
const sweepAge = time.Minute

// sweepPage is how many rows the sweeper reads at a time.
const sweepPage = 1000

// Sweep does HandleSweep's work and says how many poll chains it
// re-created.
func (t *Tasks) Sweep(ctx context.Context) (int, error) {
	st := NewStore(t.svc.db)
	lost, err := st.LostPolls(ctx, t.svc.now().Add(-sweepAge), sweepPage)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range lost {
		if err := t.polls.SchedulePoll(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// NewWatchdogTask is the watchdog's task for a tick; its id makes a second
// enqueue of the same tick a no-op.
func NewWatchdogTask(tick time.Time) *asynq.Task {
	return asynq.NewTask(TypeWatchdog, nil, asynq.TaskID("payments-watchdog:"+tick.UTC().Format("200601021504")),
		asynq.Queue("low"), asynq.MaxRetry(2), asynq.Retention(30*time.Minute))
}

// HandleWatchdog runs Watchdog; it is idempotent, so a repeated delivery is harmless.
func (t *Tasks) HandleWatchdog(ctx context.Context, _ *asynq.Task) error {
	r, err := t.Watchdog(ctx)
	t.log.InfoContext(ctx, "payments watchdog", "expiring_24h", r.Expiring, "expired", r.Expired, "auto_captured", r.AutoCaptured)
	return err
}
