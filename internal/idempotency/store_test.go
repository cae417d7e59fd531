package idempotency_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/postgres/pgtest"
)

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := idempotency.NewStore(pgtest.NewDB(t))
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	stale := now.Add(-time.Minute)
	hash := []byte("hash-1")

	held, started, err := s.Begin(ctx, "scope", "k", hash, now, stale)
	if err != nil || !started || !held.CreatedAt.Equal(now) {
		t.Fatalf("first begin: %+v %v %v", held, started, err)
	}
	rec, started, err := s.Begin(ctx, "scope", "k", []byte("other"), now.Add(time.Second), stale)
	if err != nil || started || !rec.InProgress() || !bytes.Equal(rec.RequestHash, hash) {
		t.Fatalf("second begin while in progress: %+v %v %v", rec, started, err)
	}
	// The same key in another scope is another key.
	if _, started, err := s.Begin(ctx, "scope2", "k", hash, now, stale); err != nil || !started {
		t.Fatalf("other scope: %v %v", started, err)
	}

	// Byte-exact bodies, including what jsonb would normalise.
	body := []byte("{\"b\": 1,   \"a\":\"\\u00e9\"}\n")
	if err := s.Complete(ctx, held, 201, idempotency.Response{ContentType: "application/json", Body: body}); err != nil {
		t.Fatal(err)
	}
	rec, err = s.Get(ctx, "scope", "k")
	if err != nil || rec.StatusCode != 201 || !bytes.Equal(rec.Response.Body, body) || rec.Response.ContentType != "application/json" {
		t.Fatalf("completed: %+v %q %v", rec, rec.Response.Body, err)
	}
	if err := s.Complete(ctx, held, 200, idempotency.Response{}); !errors.Is(err, idempotency.ErrNotInProgress) {
		t.Fatalf("second complete: %v", err)
	}
	if err := s.Abandon(ctx, held); !errors.Is(err, idempotency.ErrNotInProgress) {
		t.Fatalf("abandon after complete: %v", err)
	}
	// A finished key is never taken over, however old.
	if rec, started, err := s.Begin(ctx, "scope", "k", hash, now.Add(time.Hour), now.Add(time.Hour)); err != nil || started || rec.StatusCode != 201 {
		t.Fatalf("begin on a finished key: %+v %v %v", rec, started, err)
	}

	// Binary bodies survive too.
	bin := []byte{0xff, 0x00, 'x'}
	h2, _, err := s.Begin(ctx, "scope", "bin", hash, now, stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, h2, 200, idempotency.Response{ContentType: "application/octet-stream", Body: bin}); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Get(ctx, "scope", "bin"); err != nil || !bytes.Equal(rec.Response.Body, bin) {
		t.Fatalf("binary body: %q %v", rec.Response.Body, err)
	}
}

func TestStaleClaimIsTakenOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := idempotency.NewStore(pgtest.NewDB(t))
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	dead, started, err := s.Begin(ctx, "scope", "k", []byte("h"), t0, t0.Add(-time.Minute))
	if err != nil || !started {
		t.Fatal(started, err)
	}
	t1 := t0.Add(time.Hour)
	alive, started, err := s.Begin(ctx, "scope", "k", []byte("h"), t1, t1.Add(-time.Minute))
	if err != nil || !started || !alive.CreatedAt.Equal(t1) {
		t.Fatalf("takeover: %+v %v %v", alive, started, err)
	}
	// The dead request, should it wake up, cannot touch the new claim.
	if err := s.Abandon(ctx, dead); !errors.Is(err, idempotency.ErrNotInProgress) {
		t.Fatalf("dead abandon: %v", err)
	}
	if err := s.Complete(ctx, dead, 200, idempotency.Response{}); !errors.Is(err, idempotency.ErrNotInProgress) {
		t.Fatalf("dead complete: %v", err)
	}
	if err := s.Abandon(ctx, alive); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "scope", "k"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("after abandon: %v", err)
	}
}

// TestPurge: keys created before the cutoff go, finished or not, in batches;
// younger keys, in progress or not, stay.
func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	s := idempotency.NewStore(db)
	cutoff := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	begin := func(key string, at time.Time, done bool) {
		t.Helper()
		held, started, err := s.Begin(ctx, "scope", key, []byte("h"), at, at.Add(-time.Minute))
		if err != nil || !started {
			t.Fatalf("begin %s: %v %v", key, started, err)
		}
		if done {
			if err := s.Complete(ctx, held, 201, idempotency.Response{ContentType: "application/json", Body: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		begin("old-done-"+strconv.Itoa(i), cutoff.Add(-time.Duration(i+1)*time.Hour), true)
	}
	begin("old-dead", cutoff.Add(-time.Second), false) // a claim whose request died
	begin("at-cutoff", cutoff, true)
	begin("young-running", cutoff.Add(time.Minute), false)
	begin("young-done", cutoff.Add(time.Hour), true)

	if _, err := s.Purge(ctx, cutoff, 0); err == nil {
		t.Fatal("Purge with batch 0: no error")
	}
	n, err := s.Purge(ctx, cutoff, 2) // 6 old keys: batches of 2, 2, 2 and an empty one
	if err != nil || n != 6 {
		t.Fatalf("purge: deleted %d, %v; want 6", n, err)
	}
	var left []string
	if err := db.Select(&left, `SELECT key FROM idempotency_keys ORDER BY key`); err != nil {
		t.Fatal(err)
	}
	if want := []string{"at-cutoff", "young-done", "young-running"}; !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	if rec, err := s.Get(ctx, "scope", "young-running"); err != nil || !rec.InProgress() {
		t.Fatalf("young in-progress key: %+v %v", rec, err)
	}
	if n, err := s.Purge(ctx, cutoff, 2); err != nil || n != 0 {
		t.Fatalf("second purge: deleted %d, %v; want 0", n, err)
	}
	// A key purged is a new key again.
	if _, started, err := s.Begin(ctx, "scope", "old-done-0", []byte("h"), cutoff, cutoff.Add(-time.Minute)); err != nil || !started {
		t.Fatalf("begin after purge: %v %v", started, err)
	}
}
