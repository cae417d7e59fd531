package users

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// addressThrottle counts failed logins per source address in Redis, shared
// by every api process, with go-redis/redis_rate's GCRA as
// internal/ratelimit does (a well-kept implementation rather than a Lua
// script of our own). Only failures spend the budget, so an office behind
// one address is not throttled by its people logging in.
type addressThrottle struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

const throttlePrefix = "console-login:"

func newAddressThrottle(rdb *redis.Client, burst int, refill time.Duration) *addressThrottle {
	return &addressThrottle{l: redis_rate.NewLimiter(rdb),
		limit: redis_rate.Limit{Rate: 1, Period: refill, Burst: burst}}
}

// blocked reports whether addr has no failures left to spend. It looks
// without spending (a cost-0 GCRA call).
func (a *addressThrottle) blocked(ctx context.Context, addr string) (bool, error) {
	res, err := a.l.AllowN(ctx, throttlePrefix+addr, a.limit, 0)
	if err != nil {
		return false, fmt.Errorf("login throttle: %w", err)
	}
	return res.Remaining < 1, nil
}

// fail spends one failure of addr's budget.
func (a *addressThrottle) fail(ctx context.Context, addr string) error {
	if _, err := a.l.AllowN(ctx, throttlePrefix+addr, a.limit, 1); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}

// addressKey is the throttled unit of a remote address: the IPv4 host, or
// the IPv6 /64 (one subscriber usually holds a whole /64, so per-host keys
// would give it 2^64 budgets). A port is dropped; anything unparseable is
// used as given, so it is throttled too.
func addressKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}
