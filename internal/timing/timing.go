// Package timing records how long the steps of one request took (storing,
// the APO call and its signing, applying the answer), so that a slow request
// can be explained. The API sends the steps back in a Server-Timing header
// (W3C Server Timing), which the benchmarks read; nothing is recorded unless
// the request's context carries a Steps.
//
// It depends on the standard library only, so every package may use it.
package timing

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Steps collects the timed steps of one request. It is safe for concurrent
// use: the pay call and the handler may record at once.
type Steps struct {
	mu   sync.Mutex
	list []step
}

type step struct {
	name string
	d    time.Duration
}

type ctxKey struct{}

// With returns a context that records steps into a new Steps.
func With(ctx context.Context) (context.Context, *Steps) {
	s := &Steps{}
	return context.WithValue(ctx, ctxKey{}, s), s
}

// Track starts a step of ctx's request and returns the function that ends
// it: `defer timing.Track(ctx, "store")()`. Without a Steps in ctx it costs
// one context lookup.
func Track(ctx context.Context, name string) func() {
	s, _ := ctx.Value(ctxKey{}).(*Steps)
	if s == nil {
		return func() {}
	}
	start := time.Now()
	return func() {
		d := time.Since(start)
		s.mu.Lock()
		s.list = append(s.list, step{name, d})
		s.mu.Unlock()
	}
}

// Header renders the steps as a Server-Timing value, durations in
// milliseconds ("store;dur=1.204, apo;dur=5.87"); "" when there are none.
// A step recorded twice (two commits of one kind) appears twice. A nil
// Steps has none.
func (s *Steps) Header() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i, st := range s.list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(st.name)
		b.WriteString(";dur=")
		b.WriteString(strconv.FormatFloat(float64(st.d.Microseconds())/1000, 'f', 3, 64))
	}
	return b.String()
}
