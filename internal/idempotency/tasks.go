package idempotency

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
)

// TypePurge is the retention task: it deletes the keys older than the TTL.
const TypePurge = "idempotency:purge"

// purgeBatch is how many keys one DELETE removes.
const purgeBatch = 5000

// NewPurgeTask returns the purge task for the hour of tick. Its id is per
// hour ("idempotency-purge:2026112302"), so the scheduler of every replica
// can enqueue it and only the first enqueue in an hour counts.
func NewPurgeTask(tick time.Time) *asynq.Task {
	id := "idempotency-purge:" + tick.UTC().Truncate(time.Hour).Format("2006010215")
	return asynq.NewTask(TypePurge, nil, asynq.TaskID(id), asynq.Queue("low"), asynq.MaxRetry(3),
		asynq.Timeout(15*time.Minute), asynq.Retention(2*time.Hour))
}

// Purger expires idempotency keys: a key older than its TTL is deleted, and
// a retry that comes after that runs as a new request (Stripe keeps keys
// 24 hours).
type Purger struct {
	store *Store
	ttl   time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// NewPurger returns a Purger deleting the keys in db older than ttl
// (IDEMPOTENCY_KEY_TTL).
func NewPurger(db sqlx.ExtContext, ttl time.Duration, log *slog.Logger) *Purger {
	return &Purger{store: NewStore(db), ttl: ttl, log: log, now: time.Now}
}

// HandlePurgeTask deletes the expired keys and logs how many. A second
// delivery finds nothing more to delete, and a run cut short (timeout,
// shutdown) keeps the batches it committed; the next run goes on.
func (p *Purger) HandlePurgeTask(ctx context.Context, _ *asynq.Task) error {
	// A key is held for at most DefaultStaleAfter by a live request: a
	// shorter TTL could delete the key of a request still running.
	if p.ttl <= DefaultStaleAfter {
		return fmt.Errorf("purge idempotency keys: ttl %s is not longer than %s: %w", p.ttl, DefaultStaleAfter, asynq.SkipRetry)
	}
	cutoff := p.now().Add(-p.ttl).UTC()
	n, err := p.store.Purge(ctx, cutoff, purgeBatch)
	p.log.InfoContext(ctx, "idempotency keys purged", "deleted", n, "created_before", cutoff)
	return err
}
