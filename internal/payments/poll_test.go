package payments

import (
	"testing"
	"time"
)

func TestNextPoll(t *testing.T) {
	cases := []struct {
		age  time.Duration
		wait time.Duration
		ok   bool
	}{
		{0, 2 * time.Second, true},
		{59 * time.Second, 2 * time.Second, true},
		{90 * time.Second, 5 * time.Second, true},
		{3 * time.Minute, 10 * time.Second, true},
		{10 * time.Minute, time.Minute, true},
		{25 * time.Minute, 5 * time.Minute, true},
		{30 * time.Minute, 30 * time.Minute, true},
		{61 * time.Minute, 89 * time.Minute, true},
		{3 * time.Hour, 24*time.Hour + 30*time.Minute - 3*time.Hour, true},
		{25 * time.Hour, 0, false},
	}
	for _, c := range cases {
		w, ok := NextPoll(c.age)
		if w != c.wait || ok != c.ok {
			t.Errorf("age %v: got %v %v, want %v %v", c.age, w, ok, c.wait, c.ok)
		}
	}
	// The whole chain is finite and never polls faster than every 2 s.
	polls := 0
	for age := time.Duration(0); ; polls++ {
		w, ok := NextPoll(age)
		if !ok {
			break
		}
		if w < 2*time.Second {
			t.Fatalf("age %v: wait %v", age, w)
		}
		age += w
	}
	if polls > 100 {
		t.Fatalf("%d polls in a chain; the pacing is too eager", polls)
	}
}
