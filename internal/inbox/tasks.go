package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types owned by this package. TypeProcessWebhook keeps the name it
// had when payments owned notifications: tasks of that type may be waiting
// in Redis across a deploy.
const (
	TypeProcessWebhook = "payments:process-webhook"
	TypeSweep          = "inbox:sweep"
)

// QueueWebhooks is the asynq queue of notification processing.
const QueueWebhooks = "webhooks"

// Enqueuer puts tasks on the queue; *asynq.Client satisfies it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Queue hands stored notifications to the worker's queue, one task per
// event or per batch. It needs the queue client only, so the api's
// hand-off (QueueHandoff) and the worker's Tasks share it without either
// needing the other.
type Queue struct {
	q Enqueuer
}

// NewQueue returns a Queue enqueuing on q.
func NewQueue(q Enqueuer) *Queue { return &Queue{q: q} }

// webhookPayload names one stored notification (EventID) or a batch of
// them (EventIDs), as the api's intake hands them over.
type webhookPayload struct {
	EventID  string   `json:"event_id,omitempty"`
	EventIDs []string `json:"event_ids,omitempty"`
}

// EnqueueWebhook queues processing of a stored notification. The task id is
// the event's, so a second enqueue (the sweeper, a replay) is a no-op while
// the first is pending or retained.
func (q *Queue) EnqueueWebhook(ctx context.Context, eventID string) error {
	b, _ := json.Marshal(webhookPayload{EventID: eventID})
	if _, err := q.q.EnqueueContext(ctx, asynq.NewTask(TypeProcessWebhook, b, webhookTaskOpts("webhook:"+eventID)...)); err != nil &&
		!errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook %s: %w", eventID, err)
	}
	return nil
}

// EnqueueWebhooks queues processing of several stored notifications as one
// task: under a burst, one Redis round trip and script run for the batch
// instead of one per notification. A single id is EnqueueWebhook.
func (q *Queue) EnqueueWebhooks(ctx context.Context, eventIDs []string) error {
	if len(eventIDs) == 1 {
		return q.EnqueueWebhook(ctx, eventIDs[0])
	}
	b, _ := json.Marshal(webhookPayload{EventIDs: eventIDs})
	// Each event is handed over once, so its first id names the batch.
	if _, err := q.q.EnqueueContext(ctx, asynq.NewTask(TypeProcessWebhook, b, webhookTaskOpts("webhooks:"+eventIDs[0])...)); err != nil &&
		!errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %d webhooks: %w", len(eventIDs), err)
	}
	return nil
}

// webhookTaskOpts: webhooks have a queue of their own, weighted above the
// polls, so a burst of notifications does not wait behind paced polls.
func webhookTaskOpts(id string) []asynq.Option {
	return []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueWebhooks), asynq.MaxRetry(10), asynq.Retention(time.Hour)}
}

// Tasks runs the inbox's side of the worker: processing stored
// notifications and the sweep that re-queues those Redis lost. Payloads
// carry event ids only.
type Tasks struct {
	*Queue
	svc *Service
	log *slog.Logger
}

// NewTasks wires the task handlers; q takes the tasks they queue again.
func NewTasks(svc *Service, q Enqueuer, log *slog.Logger) *Tasks {
	return &Tasks{Queue: NewQueue(q), svc: svc, log: log}
}

// HandleProcessWebhook applies stored notifications. Delivered twice, it
// changes nothing the second time (Process skips processed events). In a
// batch, an event that fails for a reason worth retrying gets a task of its
// own, so it retries with its own backoff without redoing the others.
func (t *Tasks) HandleProcessWebhook(ctx context.Context, task *asynq.Task) error {
	var p webhookPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || (p.EventID == "") == (len(p.EventIDs) == 0) {
		return fmt.Errorf("decode %s payload: %w", TypeProcessWebhook, asynq.SkipRetry)
	}
	if p.EventID != "" {
		err := t.svc.Process(ctx, p.EventID)
		if errors.Is(err, ErrNotFound) && !errors.Is(err, errNotYetKnown) {
			// Its payment stayed unknown past unknownPaymentPatience: the
			// notification's problem. It stays FAILED for replay; stop retrying.
			return fmt.Errorf("process webhook %s: %v: %w", p.EventID, err, asynq.SkipRetry)
		}
		return err // errNotYetKnown: asynq retries with its backoff
	}
	for _, id := range p.EventIDs {
		err := t.svc.Process(ctx, id)
		if err == nil || (errors.Is(err, ErrNotFound) && !errors.Is(err, errNotYetKnown)) {
			continue // a NotFound event stays FAILED for replay, as above
		}
		if ctx.Err() != nil {
			return ctx.Err() // the whole batch again; processed events are skipped
		}
		t.log.WarnContext(ctx, "webhook processing failed; retrying it on its own", "event_id", id, "err", err)
		if err := t.EnqueueWebhook(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// NewSweepTask is the periodic sweep's task; its id is per minute so
// replicas' schedulers enqueue it once.
func NewSweepTask(at time.Time) *asynq.Task {
	return asynq.NewTask(TypeSweep, nil, asynq.TaskID("inbox-sweep:"+at.UTC().Truncate(time.Minute).Format("200601021504")),
		asynq.Queue("low"), asynq.MaxRetry(1), asynq.Retention(10*time.Minute))
}

// sweepPayload, when present, moves the sweep's cutoff for stored
// notifications.
type sweepPayload struct {
	WebhooksBefore time.Time `json:"webhooks_before"`
}

// NewRecoverySweepTask is the sweep a worker asks for when Redis answers
// again after an outage: every notification stored before then and still
// unprocessed was either never queued (the api could not reach Redis) or
// lost with Redis, so it is re-queued at once rather than a minute later.
// Its id is per 10 s so replicas seeing the same recovery ask once.
func NewRecoverySweepTask(recovered time.Time) *asynq.Task {
	b, _ := json.Marshal(sweepPayload{WebhooksBefore: recovered.UTC()})
	return asynq.NewTask(TypeSweep, b, asynq.TaskID("inbox-sweep-recovery:"+strconv.FormatInt(recovered.Unix()/10, 10)),
		asynq.Queue(QueueWebhooks), asynq.MaxRetry(3), asynq.Retention(10*time.Minute))
}

// HandleSweep re-queues stored notifications still unprocessed after a
// minute (or, after an outage, stored before Redis came back).
func (t *Tasks) HandleSweep(ctx context.Context, task *asynq.Task) error {
	before := t.svc.now().Add(-sweepAge)
	if len(task.Payload()) > 0 {
		var p sweepPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil || p.WebhooksBefore.IsZero() {
			return fmt.Errorf("decode %s payload: %w", TypeSweep, asynq.SkipRetry)
		}
		before = p.WebhooksBefore
	}
	n, err := t.sweep(ctx, before)
	if n > 0 {
		// The same line as payments' sweep of poll chains (the sweep was one
		// task before it was split): operators and the e2e suite watch it.
		t.log.InfoContext(ctx, "sweeper re-queued lost work", "items", n)
	}
	return err
}

// sweepAge is how old an unprocessed notification must be before the
// periodic sweep takes it for lost rather than on its way.
const sweepAge = time.Minute

// sweepPage is how many rows the sweeper reads at a time.
const sweepPage = 1000

// sweep re-queues the notifications stored before before and still
// unprocessed.
func (t *Tasks) sweep(ctx context.Context, before time.Time) (int, error) {
	// Every page, not only the first: after an outage at full intake the
	// backlog is far more than one page, and a page a minute would take
	// hours to drain. Each event is queued under its own task id, so later
	// sweeps queue it no more; an event still waiting in the api's batch
	// task (a worker a minute behind) gets at most this one extra copy,
	// which finds it processed and costs one read.
	st := NewStore(t.svc.db)
	n := 0
	var last PendingEvent
	for {
		page, err := st.Pending(ctx, before, last, sweepPage)
		if err != nil {
			return n, err
		}
		for _, ev := range page {
			if err := t.EnqueueWebhook(ctx, ev.ID); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < sweepPage {
			return n, nil
		}
		last = page[len(page)-1]
	}
}
