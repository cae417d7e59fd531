package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// intakeBatch bounds how many notifications one commit stores.
const intakeBatch = 256

// intakeWriters is how many batches may commit at once. Two keep one batch
// filling while the other commits; more only make batches smaller, and a
// statement per batch is what PostgreSQL's CPU goes on.
const intakeWriters = 2

// batcher stores notifications with group commit: concurrent intakes that
// arrive while a batch is being written go into the next batch, one
// multi-row INSERT and one commit for all of them. Each caller still waits
// for its own commit before APO is answered, so durability is unchanged;
// only the number of fsyncs per notification drops. Under no load a batch
// is one row and adds no delay: nothing waits for a batch to fill.
type batcher struct {
	db   *sqlx.DB
	in   chan *intakeReq
	once sync.Once

	mu   sync.Mutex
	stmt *sqlx.Stmt // insertWebhooks, prepared on first use
}

type intakeReq struct {
	ev   WebhookEvent
	done chan intakeRes
}

type intakeRes struct {
	ev    WebhookEvent
	first bool
	err   error
}

func newBatcher(db *sqlx.DB) *batcher {
	return &batcher{db: db, in: make(chan *intakeReq, intakeBatch*intakeWriters)}
}

// store queues ev and waits until it is committed (or ctx ends: the row
// may then still be written, which a re-delivery's dedupe key absorbs).
func (b *batcher) store(ctx context.Context, ev WebhookEvent) (WebhookEvent, bool, error) {
	b.once.Do(func() {
		for range intakeWriters {
			go b.run()
		}
	})
	r := &intakeReq{ev: ev, done: make(chan intakeRes, 1)}
	select {
	case b.in <- r:
	case <-ctx.Done():
		return WebhookEvent{}, false, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.ev, res.first, res.err
	case <-ctx.Done():
		return WebhookEvent{}, false, ctx.Err()
	}
}

// run writes batches for as long as the process lives; the writers are
// idle goroutines blocked on the channel when nothing arrives.
func (b *batcher) run() {
	batch := make([]*intakeReq, 0, intakeBatch)
	for first := range b.in {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < intakeBatch {
			select {
			case r := <-b.in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.write(batch)
	}
}

func (b *batcher) write(batch []*intakeReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Several deliveries of one fact in a batch become one row; a multi-row
	// upsert may not touch the same row twice.
	byKey := map[string][]*intakeReq{}
	var uniq []WebhookEvent
	for _, r := range batch {
		if _, seen := byKey[r.ev.DedupeKey]; !seen {
			uniq = append(uniq, r.ev)
		}
		byKey[r.ev.DedupeKey] = append(byKey[r.ev.DedupeKey], r)
	}
	counts := make(map[string]int, len(byKey))
	for k, rs := range byKey {
		counts[k] = len(rs)
	}
	stored, err := b.insert(ctx, uniq, counts)
	for k, rs := range byKey {
		res := intakeRes{err: err}
		if err == nil {
			s := stored[k]
			res.ev = s.ev
			for i, r := range rs {
				// Only the first delivery of a new fact counts as first.
				res.first = s.inserted && i == 0
				r.done <- res
			}
			continue
		}
		for _, r := range rs {
			r.done <- res
		}
	}
}

type storedWebhook struct {
	ev       WebhookEvent
	inserted bool
}

// insertWebhooks stores several notifications in one statement and one
// commit: a re-delivery of a stored fact only counts its deliveries. It
// returns only what an acknowledgement needs (the stored identity and
// processing state), not the stored body back. Rows go in dedupe-key order
// so that two batches holding the same facts lock them in the same order;
// in arrival order they deadlock (40P01) when re-deliveries cross.
const insertWebhooks = `
	INSERT INTO webhook_events (id, notify_type, dedupe_key, raw_body, headers, request_uri, verdict, state,
		last_error, received_at, deliveries)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::timestamptz[], $11::int[]) ORDER BY 3
	ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = webhook_events.deliveries + EXCLUDED.deliveries
	RETURNING id, dedupe_key, state, attempts, deliveries, COALESCE(payment_id::text, '') AS payment_id,
		processed_at, (xmax = 0) AS inserted`

// insert runs insertWebhooks as a prepared statement: parsed and planned
// once per connection instead of once per batch, and one round trip fewer.
// deliveries[key] counts how many deliveries of each fact the batch held.
// Each returned event is its input with the stored id and state.
func (b *batcher) insert(ctx context.Context, evs []WebhookEvent, deliveries map[string]int) (map[string]storedWebhook, error) {
	stmt, err := b.prepared(ctx)
	if err != nil {
		return nil, err
	}
	n := len(evs)
	ids, types, keys, uris, verdicts, states, errs, times, headers := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n)
	bodies := make([][]byte, n)
	counts := make([]int64, n)
	byKey := make(map[string]WebhookEvent, n)
	for i, ev := range evs {
		h, err := json.Marshal(ev.Headers)
		if err != nil {
			return nil, fmt.Errorf("encode headers: %w", err)
		}
		ids[i], types[i], keys[i], uris[i], verdicts[i], states[i], errs[i] = ev.ID, ev.NotifyType, ev.DedupeKey,
			ev.RequestURI, ev.Verdict, string(ev.State), ev.LastError
		times[i], headers[i], bodies[i] = ev.ReceivedAt.Format(time.RFC3339Nano), string(h), ev.RawBody
		counts[i] = int64(max(deliveries[ev.DedupeKey], 1))
		byKey[ev.DedupeKey] = ev
	}
	var rows []struct {
		ID          string     `db:"id"`
		DedupeKey   string     `db:"dedupe_key"`
		State       string     `db:"state"`
		Attempts    int        `db:"attempts"`
		Deliveries  int        `db:"deliveries"`
		PaymentID   string     `db:"payment_id"`
		ProcessedAt *time.Time `db:"processed_at"`
		Inserted    bool       `db:"inserted"`
	}
	if err := stmt.SelectContext(ctx, &rows, postgres.Array(ids), postgres.Array(types), postgres.Array(keys),
		postgres.Array(bodies), postgres.Array(headers), postgres.Array(uris), postgres.Array(verdicts),
		postgres.Array(states), postgres.Array(errs), postgres.Array(times), postgres.Array(counts)); err != nil {
		return nil, fmt.Errorf("store webhooks: %w", err)
	}
	out := make(map[string]storedWebhook, len(rows))
	for _, r := range rows {
		ev := byKey[r.DedupeKey]
		ev.ID, ev.State, ev.Attempts, ev.Deliveries, ev.PaymentID = r.ID, WebhookState(r.State), r.Attempts, r.Deliveries, r.PaymentID
		ev.ProcessedAt = postgres.UTC(r.ProcessedAt)
		out[r.DedupeKey] = storedWebhook{ev: ev, inserted: r.Inserted}
	}
	return out, nil
}

// prepared returns the prepared insert, preparing it on first use (and
// again after a failed attempt, say while PostgreSQL restarts).
func (b *batcher) prepared(ctx context.Context) (*sqlx.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stmt == nil {
		stmt, err := b.db.PreparexContext(ctx, insertWebhooks)
		if err != nil {
			return nil, fmt.Errorf("prepare webhook insert: %w", err)
		}
		b.stmt = stmt
	}
	return b.stmt, nil
}
