package main

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/jobs"
)

func TestHeartbeatRecordsNewestTick(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	rdb := r.Client()
	defer rdb.Close()
	ctx := context.Background()

	now := time.Date(2026, 11, 23, 10, 5, 0, 300e6, time.UTC)
	h := &heartbeat{rdb: rdb, worker: "host-a:42", now: func() time.Time { return now }}
	tick := time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)
	deliver := func(tick time.Time) {
		t.Helper()
		task, err := jobs.NewHeartbeatTask(tick)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.HandleTask(ctx, task); err != nil {
			t.Fatalf("handle %v: %v", tick, err)
		}
	}
	stored := func() map[string]string {
		t.Helper()
		m, err := rdb.HGetAll(ctx, heartbeatKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	deliver(tick)
	want := map[string]string{
		"tick":         "2026-11-23T10:05:00Z",
		"tick_unix":    "1795428300",
		"processed_at": "2026-11-23T10:05:00.3Z",
		"worker":       "host-a:42",
	}
	if got := stored(); !maps.Equal(got, want) {
		t.Fatalf("after first delivery: got %v, want %v", got, want)
	}

	// asynq delivers at least once: a redelivery of the tick changes nothing.
	now = now.Add(time.Second)
	deliver(tick)
	if got := stored(); !maps.Equal(got, want) {
		t.Fatalf("after redelivery: got %v, want %v", got, want)
	}

	// A late, older heartbeat must not move the record back.
	deliver(tick.Add(-time.Minute))
	if got := stored(); !maps.Equal(got, want) {
		t.Fatalf("after an older tick: got %v, want %v", got, want)
	}

	deliver(tick.Add(time.Minute))
	if got := stored()["tick"]; got != "2026-11-23T10:06:00Z" {
		t.Fatalf("after a newer tick: tick %q, want 2026-11-23T10:06:00Z", got)
	}
}

func TestHeartbeatBadPayloadSkipsRetry(t *testing.T) {
	h := &heartbeat{worker: "w", now: time.Now} // never reaches Redis
	err := h.HandleTask(context.Background(), asynq.NewTask(jobs.TypeHeartbeat, []byte("{")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("got %v, want an error wrapping asynq.SkipRetry", err)
	}
}

func TestHeartbeatRedisDownIsRetryable(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	rdb := r.Client()
	defer rdb.Close()
	r.Stop()
	h := &heartbeat{rdb: rdb, worker: "w", now: time.Now}
	task, err := jobs.NewHeartbeatTask(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // skip go-redis' redials
	defer cancel()
	err = h.HandleTask(ctx, task)
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("got %v, want a plain error", err)
	}
}
