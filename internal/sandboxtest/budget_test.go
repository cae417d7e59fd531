package sandboxtest_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/payops/payops/internal/sandboxtest"
)

// failRecorder notes a failure instead of stopping the test.
type failRecorder struct {
	testing.TB
	failed bool
}

func (r *failRecorder) Helper()               {}
func (r *failRecorder) Fatalf(string, ...any) { r.failed = true }

// TestCheckBudget: a budget kept, with arrivals late by up to the jitter,
// passes; twice the budget, or a burst, fails.
func TestCheckBudget(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := func(rps float64, n int, jitter time.Duration) []time.Time {
		var ts []time.Time
		for i := range n {
			grant := t0.Add(time.Duration(float64(i) / rps * float64(time.Second)))
			ts = append(ts, grant.Add(time.Duration(rand.Int64N(int64(jitter)+1))))
		}
		return ts
	}
	burst := at(5, 50, 0)
	for range 8 { // beyond what ArrivalJitter excuses in one second
		burst = append(burst, t0.Add(3*time.Second))
	}
	for _, c := range []struct {
		name  string
		times []time.Time
		fail  bool
	}{
		{"kept, late arrivals", at(5, 100, 250*time.Millisecond), false},
		{"kept, in order", at(5, 100, 0), false},
		{"twice the budget", at(10, 100, 0), true},
		{"a burst on top", burst, true},
	} {
		r := &failRecorder{TB: t}
		sandboxtest.CheckBudget(r, c.times, 5)
		if r.failed != c.fail {
			t.Errorf("%s: failed %v, want %v", c.name, r.failed, c.fail)
		}
	}
}
