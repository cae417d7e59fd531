package schedlock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/schedlock"
)

// clock is a settable time source for the Locker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestTick(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)
	cases := []struct {
		in   time.Duration
		want time.Time
	}{
		{0, base},
		{3 * time.Millisecond, base},
		{-3 * time.Millisecond, base}, // a replica whose clock runs a little ahead
		{499 * time.Millisecond, base},
		{501 * time.Millisecond, base.Add(time.Second)},
	}
	for _, c := range cases {
		if got := schedlock.Tick(base.Add(c.in)); !got.Equal(c.want) {
			t.Errorf("Tick(base%+v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestLockOncePerTick(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	rdb := r.Client()
	defer rdb.Close()
	ctx := context.Background()

	tick := time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)
	c1 := &clock{t: tick.Add(2 * time.Millisecond)}
	c2 := &clock{t: tick.Add(7 * time.Millisecond)}
	a := schedlock.New(rdb, schedlock.Options{Owner: "replica-a", Now: c1.now})
	b := schedlock.New(rdb, schedlock.Options{Owner: "replica-b", Now: c2.now})

	la, err := a.Lock(ctx, "recon-daily")
	if err != nil {
		t.Fatalf("first replica: %v", err)
	}
	// The job body is done; gocron unlocks. The tick must stay claimed.
	if err := la.Unlock(ctx); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if _, err := b.Lock(ctx, "recon-daily"); !errors.Is(err, schedlock.ErrTaken) {
		t.Fatalf("second replica, same tick: got %v, want ErrTaken", err)
	}
	if _, err := a.Lock(ctx, "recon-daily"); !errors.Is(err, schedlock.ErrTaken) {
		t.Fatalf("same replica, same tick again: got %v, want ErrTaken", err)
	}

	// Another job at the same tick is independent.
	if _, err := b.Lock(ctx, "pending-sweeper"); err != nil {
		t.Fatalf("other job, same tick: %v", err)
	}

	// The next tick is free although the previous lock has not expired.
	c2.t = tick.Add(time.Second + 4*time.Millisecond)
	if _, err := b.Lock(ctx, "recon-daily"); err != nil {
		t.Fatalf("next tick: %v", err)
	}

	key := a.Key("recon-daily", tick)
	if want := "payops:schedlock:recon-daily:2026-11-23T10:05:00Z"; key != want {
		t.Fatalf("key: got %q, want %q", key, want)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 50*time.Second || ttl > schedlock.DefaultTTL {
		t.Fatalf("ttl of %s: got %v, want about %v", key, ttl, schedlock.DefaultTTL)
	}
	v, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(v, "replica-a") {
		t.Fatalf("lock value %q does not name its owner replica-a", v)
	}
}

func TestLockRedisDown(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	rdb := r.Client()
	defer rdb.Close()
	r.Stop()

	l := schedlock.New(rdb, schedlock.Options{TTL: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // skip go-redis' redials
	defer cancel()
	_, err := l.Lock(ctx, "recon-daily")
	if err == nil || errors.Is(err, schedlock.ErrTaken) {
		t.Fatalf("got %v, want a Redis error that is not ErrTaken", err)
	}
}
