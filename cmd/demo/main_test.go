package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestProgressOffTerminal: written to a log or a pipe, the counter is a line
// at each quarter and the last, with no carriage returns.
func TestProgressOffTerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "authorizing payments", 10)
	for range 10 {
		p.tick()
	}
	got := out.String()
	if strings.Contains(got, "\r") {
		t.Fatalf("carriage return in %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := []string{"2/10", "4/10", "6/10", "8/10", "10/10"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %q, want %d", len(lines), got, len(want))
	}
	for i, l := range lines {
		if !strings.Contains(l, "authorizing payments") || !strings.HasSuffix(l, " "+want[i]) {
			t.Errorf("line %d: %q, want the label and %s", i, l, want[i])
		}
	}
}
