// Package ratelimit shares a call budget across processes through Redis,
// using go-redis/redis_rate's GCRA (a well-kept implementation; a home-made
// token bucket in Lua would be one more thing to get wrong).
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limiter admits at most PerSecond events per second across every process
// sharing its Redis key, with a burst allowance of one: any one-second
// window sees at most PerSecond+1 events.
type Limiter struct {
	l     *redis_rate.Limiter
	key   string
	limit redis_rate.Limit
}

// New returns a limiter for key at perSecond events per second.
func New(rdb *redis.Client, key string, perSecond int) *Limiter {
	return &Limiter{l: redis_rate.NewLimiter(rdb), key: key,
		limit: redis_rate.Limit{Rate: perSecond, Period: time.Second, Burst: 1}}
}

// Allow takes one event from the budget. When the budget is spent it says
// how long to wait; the caller defers the work rather than failing it.
func (l *Limiter) Allow(ctx context.Context) (bool, time.Duration, error) {
	res, err := l.l.Allow(ctx, l.key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", l.key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}

// PerKey gives every key (a source address, say) its own budget of burst
// events, refilled at perPeriod per period, across every process sharing its
// Redis. A key's state expires by itself once its budget is whole again, so
// Redis holds only the keys that spent some of it recently.
type PerKey struct {
	l      *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

// NewPerKey returns a limiter whose keys are prefix + key.
func NewPerKey(rdb *redis.Client, prefix string, perPeriod int, period time.Duration, burst int) *PerKey {
	return &PerKey{l: redis_rate.NewLimiter(rdb), prefix: prefix,
		limit: redis_rate.Limit{Rate: perPeriod, Period: period, Burst: burst}}
}

// Allow takes one event from key's budget and says whether there was one.
func (k *PerKey) Allow(ctx context.Context, key string) (bool, error) {
	res, err := k.l.Allow(ctx, k.prefix+key, k.limit)
	if err != nil {
		return false, fmt.Errorf("rate limit %s: %w", k.prefix, err)
	}
	return res.Allowed > 0, nil
}
