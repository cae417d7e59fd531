package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/redistest"
)

// TestSharedBudget: two limiters (two workers) on one Redis key never admit
// more than rate+1 events in any one-second window.
func TestSharedBudget(t *testing.T) {
	srv := redistest.Start(t)
	a, b := srv.Client(), srv.Client()
	defer a.Close()
	defer b.Close()
	const rps = 10
	limiters := []*ratelimit.Limiter{ratelimit.New(a, "test", rps), ratelimit.New(b, "test", rps)}
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
		stop  atomic.Bool
	)
	deadline := time.Now().Add(3 * time.Second)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := limiters[i%2]
			for !stop.Load() && time.Now().Before(deadline) {
				ok, wait, err := l.Allow(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
					continue
				}
				if wait <= 0 {
					t.Error("denied without a wait")
					return
				}
				time.Sleep(min(wait, 20*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	if len(times) < rps {
		t.Fatalf("only %d events admitted in 3 s at %d/s", len(times), rps)
	}
	for i := range times {
		n := 0
		for _, u := range times[i:] {
			// Times are taken after Allow returns; 300 ms of slack keeps
			// scheduling jitter on a loaded machine from compressing gaps
			// (two limiters each spending 10/s would still put 14 in 0.7 s).
			if u.Sub(times[i]) < time.Second-300*time.Millisecond {
				n++
			}
		}
		if n > rps+1 {
			t.Fatalf("%d events in one second from %v, want at most %d", n, times[i], rps+1)
		}
	}
}

// TestPerKey: each key spends its own burst; one key over budget leaves
// another untouched.
func TestPerKey(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	defer rdb.Close()
	ctx := context.Background()
	// One event an hour refills: nothing comes back while the test runs.
	l := ratelimit.NewPerKey(rdb, "test:", 1, time.Hour, 3)
	for i := range 5 {
		ok, err := l.Allow(ctx, "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 3; ok != want {
			t.Fatalf("event %d of one key: allowed %v, want %v", i+1, ok, want)
		}
	}
	if ok, err := l.Allow(ctx, "203.0.113.9"); err != nil || !ok {
		t.Fatalf("another key: allowed %v (err %v), want its own budget", ok, err)
	}
}
