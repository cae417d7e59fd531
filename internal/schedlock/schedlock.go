// Package schedlock makes a gocron job fire once per schedule tick across
// worker replicas. It is a gocron.Locker backed by bsm/redislock whose lock
// names both the job and the tick, and which is never released early.
//
// Why a tick in the key and no early release: gocron calls Lock(ctx, jobName)
// when a replica's timer fires, and Unlock when the job body returns. Our job
// bodies only enqueue a task, so they finish in about a millisecond. With a
// plain per-job lock released on Unlock, a second replica whose timer fired a
// few milliseconds later would find the lock free again and run the same tick
// a second time. So the key is "<prefix><job>:<tick>", the lock lives for TTL
// (far longer than any delay between replicas) and Unlock leaves it in place.
// The next tick has another key, so a long TTL never blocks it.
//
// Deterministic task ids (see package jobs) remain the second line of defence
// should replicas ever disagree about the tick (clocks apart by more than half
// a second).
package schedlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-co-op/gocron/v2"
	"github.com/redis/go-redis/v9"
)

// ErrTaken is returned (wrapped) by Lock when another replica already ran
// this job for this tick; gocron then skips the run on this replica.
var ErrTaken = errors.New("schedule tick taken by another replica")

// Defaults of Options.
const (
	DefaultPrefix = "payops:schedlock:"
	DefaultTTL    = time.Minute
	// obtainTimeout bounds one lock attempt, so a Redis outage delays a run
	// by a bounded time instead of go-redis' dial and retry budget.
	obtainTimeout = 2 * time.Second
)

// Tick returns the schedule tick a run that starts at t belongs to: the
// nearest whole second. Every gocron CronJob fires on a whole second of the
// scheduler's clock, so the nearest second names the scheduled time exactly
// as long as a replica's timer fires within half a second of it (scheduling
// delay plus clock skew between hosts). Jobs must therefore be CronJobs (or
// otherwise fire on whole seconds): a DurationJob fires at an offset from
// each replica's start time and would give replicas different ticks.
func Tick(t time.Time) time.Time { return t.Round(time.Second) }

// Options configure a Locker. Zero fields take the defaults.
type Options struct {
	// Prefix starts every lock key. Default DefaultPrefix.
	Prefix string
	// TTL is how long a tick's lock lives. It must outlive the spread
	// between replicas firing the same tick (half a second at most, see
	// Tick); it does not need to be shorter than the schedule's period,
	// because each tick has its own key. Default DefaultTTL.
	TTL time.Duration
	// Owner is stored with the lock (host and pid, say) so an operator can
	// see which replica ran a tick. Default empty.
	Owner string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Locker is a gocron.Locker; see the package comment for its semantics.
type Locker struct {
	rl     *redislock.Client
	prefix string
	ttl    time.Duration
	owner  string
	now    func() time.Time
}

var _ gocron.Locker = (*Locker)(nil)

// New returns a Locker that keeps its locks in rdb.
func New(rdb redis.Scripter, opt Options) *Locker {
	l := &Locker{rl: redislock.New(rdb), prefix: opt.Prefix, ttl: opt.TTL, owner: opt.Owner, now: opt.Now}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.ttl <= 0 {
		l.ttl = DefaultTTL
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Key returns the Redis key of job's lock for tick.
func (l *Locker) Key(job string, tick time.Time) string {
	return l.prefix + job + ":" + tick.UTC().Format(time.RFC3339)
}

// Lock claims the current tick of job. It returns an error wrapping ErrTaken
// when another replica claimed it first, and any Redis error as is; gocron
// skips the run on either.
func (l *Locker) Lock(ctx context.Context, job string) (gocron.Lock, error) {
	tick := Tick(l.now())
	key := l.Key(job, tick)
	ctx, cancel := context.WithTimeout(ctx, obtainTimeout)
	defer cancel()
	// No retry strategy: a taken tick is final, waiting would not help.
	_, err := l.rl.Obtain(ctx, key, l.ttl, &redislock.Options{Metadata: l.owner})
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, fmt.Errorf("job %s tick %s: %w", job, tick.UTC().Format(time.RFC3339), ErrTaken)
	}
	if err != nil {
		return nil, fmt.Errorf("lock job %s tick %s: %w", job, tick.UTC().Format(time.RFC3339), err)
	}
	return held{}, nil
}

// held is a claimed tick. Its Unlock deliberately leaves the key to expire
// on its own: releasing it would let a slightly later replica run the same
// tick again (see the package comment).
type held struct{}

// Unlock does nothing; the tick's key expires after the Locker's TTL.
func (held) Unlock(context.Context) error { return nil }
