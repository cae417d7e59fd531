package inbox

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/payops/payops/internal/httpx"
)

// Handoff takes a stored notification once APO has its acknowledgement.
// It must not block: the request is answered right after.
type Handoff func(ctx context.Context, eventID string)

// Receive is Intake followed by the hand-off of a newly stored event: an
// event answered with success is in the database (design.md §10), and its
// processing is started off the acknowledgement path. A resend of an event
// still waiting is handed over again; one already processed is not.
func (s *Service) Receive(ctx context.Context, method, requestURI string, h http.Header, body []byte) (Event, error) {
	ev, first, err := s.Intake(ctx, method, requestURI, h, body)
	if err != nil {
		return ev, err
	}
	if first || ev.State == Pending {
		s.handoff(ctx, ev.ID)
	}
	return ev, nil
}

// processTimeout bounds background processing of one event; the sweeper
// retries whatever does not finish.
const processTimeout = time.Minute

// processInBackground is the hand-off without a queue: it applies events
// in goroutines, detached from the request that delivered them. An event
// whose processing is lost (the process stops) stays PENDING in the
// database for the sweeper.
func (s *Service) processInBackground(ctx context.Context, eventID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), processTimeout)
	go func() {
		defer cancel()
		if err := s.Process(ctx, eventID); err != nil {
			s.log.WarnContext(ctx, "webhook processing failed; it can be replayed", "event_id", eventID, "err", err,
				"request_id", httpx.RequestIDFromContext(ctx))
		}
	}()
}

// handoffBuffer bounds the stored-but-not-yet-queued notifications held in
// memory; beyond it the sweeper's minute-late pickup is the path.
const handoffBuffer = 4096

// handoffBatch bounds how many notifications one queue task carries, and
// handoffLinger how long a sender waits for a batch to fill.
const (
	handoffBatch  = 64
	handoffLinger = 2 * time.Millisecond
)

// QueueHandoff hands stored notifications to the worker's queue off the
// acknowledgement path: APO's answer waits only for the commit. A bounded
// buffer and two senders keep a Redis outage from piling up goroutines;
// whatever is not queued (buffer full, Redis down, process killed) is still
// PENDING in the database, where the sweeper finds it. A sender gathers
// what arrives within handoffLinger of the first id into one task: under a
// burst one Redis call carries dozens of notifications, and a lone one
// waits 2 ms, nothing next to the worker's own latency. The senders start
// with the first hand-off, so a process that never receives (the worker)
// runs none.
func QueueHandoff(q *Queue, log *slog.Logger) Handoff {
	ids := make(chan string, handoffBuffer)
	var once sync.Once
	start := func() {
		for range 2 {
			go sendBatches(ids, q, log)
		}
	}
	return func(ctx context.Context, eventID string) {
		once.Do(start)
		select {
		case ids <- eventID:
		default:
			log.WarnContext(ctx, "webhook queue buffer full; the sweeper will pick it up", "event_id", eventID)
		}
	}
}

// sendBatches is one sender of QueueHandoff, for the life of the process.
func sendBatches(ids chan string, q *Queue, log *slog.Logger) {
	batch := make([]string, 0, handoffBatch)
	linger := time.NewTimer(0)
	<-linger.C
	for id := range ids {
		batch = append(batch[:0], id)
		linger.Reset(handoffLinger)
	fill:
		for len(batch) < handoffBatch {
			select {
			case id, ok := <-ids:
				if !ok {
					break fill
				}
				batch = append(batch, id)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := q.EnqueueWebhooks(ctx, batch); err != nil {
			log.Warn("enqueue webhooks failed; the sweeper will pick them up", "events", len(batch), "first_event_id", batch[0], "err", err)
		}
		cancel()
	}
}
