package timing

import (
	"context"
	"regexp"
	"sync"
	"testing"
)

func TestStepsHeader(t *testing.T) {
	Track(context.Background(), "ignored")() // no Steps: nothing to do, no panic
	if h := (*Steps)(nil).Header(); h != "" {
		t.Fatalf("nil steps rendered %q", h)
	}

	ctx, s := With(context.Background())
	if h := s.Header(); h != "" {
		t.Fatalf("empty steps rendered %q", h)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); Track(ctx, "commit")() }()
	}
	wg.Wait()
	Track(ctx, "apo")()
	h := s.Header()
	if !regexp.MustCompile(`^commit;dur=\d+\.\d{3}, commit;dur=\d+\.\d{3}, apo;dur=\d+\.\d{3}$`).MatchString(h) {
		t.Fatalf("Server-Timing %q", h)
	}
}
