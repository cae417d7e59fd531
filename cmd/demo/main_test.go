package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

// TestReportGenerationAlternates: the demo's reports are in the newest
// generation one day and the earlier one the next.
func TestReportGenerationAlternates(t *testing.T) {
	day := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, want := range []string{"newest", "apo", "newest", "apo"} {
		if got := reportGeneration(day.AddDate(0, 0, i)); got != want {
			t.Errorf("day %d: %s, want %s", i+1, got, want)
		}
	}
}

// TestDisputesSinceListsEvery: the summary's disputes are every dispute
// recorded since the demo began, over pages, oldest first, not just the
// ones the demo opened itself.
func TestDisputesSinceListsEvery(t *testing.T) {
	started := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(m int) string { return started.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	pages := map[string]string{
		"": `{"items":[{"id":"d3","status":"OPEN","created_at":"` + at(3) + `"},{"id":"d2","status":"ACCEPTED","created_at":"` + at(2) + `"}],` +
			`"next_cursor":"c/1+="}`,
		"c/1+=": `{"items":[{"id":"d1","status":"DEFENSE_SUPPLIED","created_at":"` + at(1) + `"},{"id":"d0","status":"WON","created_at":"` + at(-60) + `"}],` +
			`"next_cursor":"c2"}`,
	}
	var calls int
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != "/v1/disputes" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
			return
		}
		page, ok := pages[r.URL.Query().Get("cursor")]
		if !ok {
			http.Error(w, "unknown cursor", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, page)
	}))
	defer api.Close()
	d := &demo{api: api.URL, key: "k", http: api.Client(), started: started}
	got, err := d.disputesSince(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ds := range got {
		ids = append(ids, ds.ID)
	}
	if strings.Join(ids, ",") != "d1,d2,d3" || calls != 2 {
		t.Fatalf("disputes %v after %d calls, want d1,d2,d3 after 2", ids, calls)
	}
	handled := []dispute{{ID: "d1"}, {ID: "d2"}}
	for id, want := range map[string]string{"d1": "defended", "d2": "accepted", "d3": "test card"} {
		if note := disputeNote(dispute{ID: id}, handled); !strings.Contains(note, want) {
			t.Errorf("%s: %q, want it to say %q", id, note, want)
		}
	}
}
