package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payops/payops/internal/logging/logtest"
)

// logLine is the part of a JSON log line the tests look at.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Addr  string `json:"addr"`
}

// lines decodes every JSON log line written so far.
func lines(t *testing.T, s string) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func countMsg(ls []logLine, msg string) int {
	n := 0
	for _, l := range ls {
		if l.Msg == msg {
			n++
		}
	}
	return n
}

// script is a fake pinger that answers with its results in turn and then
// keeps answering with the last one.
type script struct {
	mu      sync.Mutex
	results []error
	calls   int
}

func (s *script) ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.results)-1)
	s.calls++
	return s.results[i]
}

func TestProbeLogsOneLinePerOutageAndRecovery(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	s := &script{results: []error{nil, down, down, down, nil, nil}}
	var buf logtest.Buffer
	p := newProbe("postgres", s.ping, slog.New(slog.NewJSONHandler(&buf, nil)))
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }
	var recoveries []time.Time
	p.recovered = func(_ context.Context, at time.Time) { recoveries = append(recoveries, at) }

	wantUp := []bool{true, false, false, false, true, true}
	for i, want := range wantUp {
		clock = clock.Add(5 * time.Second) // one probe interval
		p.check(context.Background())
		if got := p.up.Load(); got != want {
			t.Fatalf("after check %d: up %v, want %v", i+1, got, want)
		}
	}
	ls := lines(t, buf.String())
	if len(ls) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(ls), buf.String())
	}
	if ls[0].Msg != "postgres unreachable" || ls[0].Level != "ERROR" {
		t.Errorf("first line: got %+v, want ERROR postgres unreachable", ls[0])
	}
	if ls[1].Msg != "postgres recovered" || ls[1].Level != "INFO" {
		t.Errorf("second line: got %+v, want INFO postgres recovered", ls[1])
	}
	if !strings.Contains(buf.String(), `"down_ms":15000`) {
		t.Errorf("recovery line does not say how long the outage lasted:\n%s", buf.String())
	}
	// Told once, at the check that found the dependency back (the 5th).
	if want := time.Date(2026, 11, 23, 10, 0, 25, 0, time.UTC); len(recoveries) != 1 || !recoveries[0].Equal(want) {
		t.Errorf("recovered called with %v, want once with %v", recoveries, want)
	}
}

func TestProbeWatchRecoversWithoutRestart(t *testing.T) {
	down := errors.New("redis: connection refused")
	s := &script{results: []error{down, down, nil}}
	var buf logtest.Buffer
	p := newProbe("redis", s.ping, slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.watch(ctx, time.Millisecond); close(stopped) }()

	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(buf.String(), "redis recovered") {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery logged:\n%s", buf.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	<-stopped
	ls := lines(t, buf.String())
	if countMsg(ls, "redis unreachable") != 1 || countMsg(ls, "redis recovered") != 1 || len(ls) != 2 {
		t.Fatalf("want one outage and one recovery line, got:\n%s", buf.String())
	}
}

func TestProbeIgnoresShutdown(t *testing.T) {
	var buf logtest.Buffer
	p := newProbe("postgres", func(ctx context.Context) error { return ctx.Err() },
		slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.check(ctx)
	if !p.up.Load() || buf.String() != "" {
		t.Fatalf("a cancelled check counted as an outage: up %v, log %q", p.up.Load(), buf.String())
	}
}

func TestOpsHandler(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	pg := newProbe("postgres", func(context.Context) error { return errors.New("down") }, quiet)
	rd := newProbe("redis", func(context.Context) error { return nil }, quiet)
	pg.check(context.Background())
	srv := httptest.NewServer(opsHandler(startedTrue(), []*probe{pg, rd}, nil))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	err = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Liveness stays 200 during an outage: restarting would not help.
	if res.StatusCode != http.StatusOK || body["status"] != "ok" || body["postgres"] != "down" || body["redis"] != "up" {
		t.Fatalf("/healthz: got %d %v, want 200 with postgres down and redis up", res.StatusCode, body)
	}

	res, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `payops_worker_dependency_up{dependency="postgres"} 0`) {
		t.Fatalf("/metrics: got %d, want 200 with postgres marked down:\n%s", res.StatusCode, b)
	}
}

func startedTrue() *atomic.Bool {
	var b atomic.Bool
	b.Store(true)
	return &b
}

// A worker still warming its pool or starting its task server is alive but
// not ready; it turns ready once started is set.
func TestReadyzWaitsForStart(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	up := newProbe("postgres", func(context.Context) error { return nil }, quiet)
	var started atomic.Bool
	srv := httptest.NewServer(opsHandler(&started, []*probe{up}, nil))
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Status string }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, body.Status
	}
	if code, status := get(); code != http.StatusServiceUnavailable || status != "starting" {
		t.Fatalf("before start: got %d %q, want 503 starting", code, status)
	}
	started.Store(true)
	if code, status := get(); code != http.StatusOK || status != "ok" {
		t.Fatalf("after start: got %d %q, want 200 ok", code, status)
	}
}
