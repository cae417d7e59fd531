package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

func TestPurgeTaskIsHourly(t *testing.T) {
	t.Parallel()
	a := idempotency.NewPurgeTask(time.Date(2026, 11, 23, 2, 45, 0, 0, time.UTC))
	b := idempotency.NewPurgeTask(time.Date(2026, 11, 23, 3, 59, 0, 0, time.FixedZone("CET", 3600)))
	c := idempotency.NewPurgeTask(time.Date(2026, 11, 23, 3, 45, 0, 0, time.UTC))
	if a.Type() != "idempotency:purge" {
		t.Fatalf("type %q", a.Type())
	}
	q := asynq.NewClient(redistest.Start(t).Opt())
	defer q.Close()
	info, err := q.Enqueue(a)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "idempotency-purge:2026112302" || info.Queue != "low" || info.Retention <= 0 {
		t.Fatalf("task: id %q queue %q retention %v", info.ID, info.Queue, info.Retention)
	}
	// 03:59 CET is 02:59 UTC: the same hour, so the same task.
	if _, err := q.Enqueue(b); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("second enqueue in the hour: %v, want a task id conflict", err)
	}
	if _, err := q.Enqueue(c); err != nil {
		t.Fatalf("next hour: %v", err)
	}
}

// purgeLog captures the purger's log lines as JSON objects.
type purgeLog struct{ buf bytes.Buffer }

func (l *purgeLog) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(&l.buf, nil)) }

func (l *purgeLog) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		out = append(out, m)
	}
	return out
}

// TestHandlePurgeTask: keys older than the TTL go in batches, younger ones
// (in progress or not) stay; each run logs one line with its count, and a
// second delivery deletes nothing more.
func TestHandlePurgeTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	now := time.Date(2026, 11, 24, 10, 45, 0, 0, time.UTC)
	// More than two batches of expired keys, created 25 hours ago and older.
	const expired = 12001
	db.MustExec(`INSERT INTO idempotency_keys (scope, key, request_hash, status_code, created_at)
		SELECT 'k1 create-payment', 'old-' || g, '\x00', 201, $1::timestamptz - g * interval '1 second'
		FROM generate_series(1, $2) g`, now.Add(-25*time.Hour), expired)
	s := idempotency.NewStore(db)
	if _, started, err := s.Begin(ctx, "k1 create-payment", "running", []byte("h"), now.Add(-time.Minute), now.Add(-time.Hour)); err != nil || !started {
		t.Fatal(started, err)
	}
	if _, started, err := s.Begin(ctx, "k1 create-payment", "day-old", []byte("h"), now.Add(-23*time.Hour), now.Add(-24*time.Hour)); err != nil || !started {
		t.Fatal(started, err)
	}

	var log purgeLog
	p := idempotency.NewPurger(db, 24*time.Hour, log.logger())
	p.SetClock(func() time.Time { return now })
	for range 2 { // delivered twice: the second run finds nothing to delete
		if err := p.HandlePurgeTask(ctx, asynq.NewTask(idempotency.TypePurge, nil)); err != nil {
			t.Fatal(err)
		}
	}
	lines := log.lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want one per run: %v", len(lines), lines)
	}
	for i, want := range []float64{expired, 0} {
		if l := lines[i]; l["msg"] != "idempotency keys purged" || l["deleted"] != want || l["created_before"] != "2026-11-23T10:45:00Z" {
			t.Errorf("run %d logged %v, want deleted=%v created_before=2026-11-23T10:45:00Z", i+1, l, want)
		}
	}
	var left []string
	if err := db.Select(&left, `SELECT key FROM idempotency_keys ORDER BY key`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, ",") != "day-old,running" {
		t.Fatalf("left %v, want day-old and running", left)
	}
}

// TestPurgeRefusesShortTTL: a TTL within the time a live request may hold
// its key would delete keys of running requests; the task refuses to run
// and is not retried.
func TestPurgeRefusesShortTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := idempotency.NewStore(db)
	now := time.Now()
	if _, started, err := s.Begin(ctx, "scope", "running", []byte("h"), now.Add(-time.Minute), now.Add(-time.Hour)); err != nil || !started {
		t.Fatal(started, err)
	}
	var log purgeLog
	for _, ttl := range []time.Duration{0, time.Second, idempotency.DefaultStaleAfter} {
		err := idempotency.NewPurger(db, ttl, log.logger()).HandlePurgeTask(ctx, asynq.NewTask(idempotency.TypePurge, nil))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("ttl %v: got %v, want a SkipRetry error", ttl, err)
		}
	}
	if _, err := s.Get(ctx, "scope", "running"); err != nil {
		t.Fatalf("running key: %v", err)
	}
	if log.buf.Len() != 0 {
		t.Fatalf("logged %s", log.buf.String())
	}
}

// TestPurgeThroughTheQueue runs the purge task through a real asynq server,
// as the worker does, and checks that an enqueue of the same hour after it
// ran is still a no-op (the completed task is retained).
func TestPurgeThroughTheQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	r := redistest.Start(t)
	s := idempotency.NewStore(db)
	now := time.Now()
	for i := range 3 {
		if _, _, err := s.Begin(ctx, "scope", "old-"+strconv.Itoa(i), []byte("h"), now.Add(-48*time.Hour), now); err != nil {
			t.Fatal(err)
		}
	}
	srv := asynq.NewServer(r.Opt(), asynq.Config{Queues: map[string]int{"low": 1}, Logger: redistest.QuietAsynq{}})
	mux := asynq.NewServeMux()
	mux.HandleFunc(idempotency.TypePurge, idempotency.NewPurger(db, 24*time.Hour, slog.New(slog.DiscardHandler)).HandlePurgeTask)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	q := asynq.NewClient(r.Opt())
	defer q.Close()
	in := asynq.NewInspector(r.Opt())
	defer in.Close()
	if _, err := q.Enqueue(idempotency.NewPurgeTask(now)); err != nil {
		t.Fatal(err)
	}
	redistest.WaitCompleted(t, in, "low", 1) // the purge processed
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM idempotency_keys`); err != nil || n != 0 {
		t.Fatalf("%d keys left (%v), want 0", n, err)
	}
	if _, err := q.Enqueue(idempotency.NewPurgeTask(now)); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("enqueue of the same hour after it ran: %v, want a task id conflict", err)
	}
}
