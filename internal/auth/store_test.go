package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/payops/payops/internal/postgres/pgtest"
)

func TestStoreCreateAuthenticate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := NewStore(db)

	k, secret, err := s.Create(ctx, NewKey{Name: " ops ", Role: RoleOperator, CreatedBy: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "ops" || k.Role != RoleOperator || k.CreatedBy != "cli" || k.Revoked() || !k.LastUsedAt.IsZero() {
		t.Fatalf("created %+v", k)
	}
	if k.Prefix != secret.Reveal()[:prefixLen] {
		t.Fatalf("prefix %q does not start the key", k.Prefix)
	}

	// Only the hash is stored.
	var stored []byte
	if err := db.GetContext(ctx, &stored, `SELECT key_hash FROM api_keys WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(secret.Reveal()))
	if !bytes.Equal(stored, want[:]) {
		t.Fatal("stored hash is not SHA-256 of the key")
	}

	a, err := s.Authenticate(ctx, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if a != (Actor{KeyID: k.ID, Name: "ops", Role: RoleOperator}) {
		t.Fatalf("actor %+v", a)
	}
	got, err := s.Get(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt.IsZero() {
		t.Fatal("last_used_at not recorded")
	}
}

func TestStoreAuthenticateRejects(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := NewStore(db)
	k, secret, err := s.Create(ctx, NewKey{Name: "v", Role: RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	unknown, _ := newSecret()
	for name, raw := range map[string]string{
		"empty":     "",
		"malformed": "Bearer " + secret.Reveal(),
		"unknown":   unknown.Reveal(),
	} {
		if _, err := s.Authenticate(ctx, raw); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: err %v, want ErrUnauthenticated", name, err)
		}
	}

	r1, err := s.Revoke(ctx, k.ID)
	if err != nil || !r1.Revoked() {
		t.Fatalf("revoke: %+v, %v", r1, err)
	}
	if _, err := s.Authenticate(ctx, secret.Reveal()); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key: err %v, want ErrUnauthenticated", err)
	}
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	r2, err := s.Revoke(ctx, k.ID)
	if err != nil || !r2.RevokedAt.Equal(r1.RevokedAt) {
		t.Fatalf("second revoke moved revoked_at: %v -> %v (%v)", r1.RevokedAt, r2.RevokedAt, err)
	}
	for _, id := range []string{"0190a0c0-0000-7000-8000-000000000000", "not-a-uuid"} {
		if _, err := s.Revoke(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revoke(%s): err %v, want ErrNotFound", id, err)
		}
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s): err %v, want ErrNotFound", id, err)
		}
	}
}

func TestStoreLastUsedAtThrottled(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := NewStore(db)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := t0
	s.now = func() time.Time { return now }
	k, secret, err := s.Create(ctx, NewKey{Name: "c", Role: RoleCheckout})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		got, err := s.Get(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	for _, step := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 0},
		{30 * time.Second, 0}, // within a minute: no write
		{59 * time.Second, 0},
		{61 * time.Second, 61 * time.Second},
		{90 * time.Second, 61 * time.Second},
		{2*time.Minute + time.Second, 2*time.Minute + time.Second},
	} {
		now = t0.Add(step.at)
		if _, err := s.Authenticate(ctx, secret.Reveal()); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(t0.Add(step.want)) {
			t.Errorf("after use at +%v: last_used_at %v, want +%v", step.at, got.Sub(t0), step.want)
		}
	}
}

func TestStoreCreateValidates(t *testing.T) {
	t.Parallel()
	s := NewStore(pgtest.NewDB(t))
	ctx := context.Background()
	for _, nk := range []NewKey{
		{Name: "  ", Role: RoleAdmin},
		{Name: string(bytes.Repeat([]byte("x"), maxNameBytes+1)), Role: RoleAdmin},
		{Name: "x", Role: "root"},
	} {
		var inv *InvalidError
		if _, _, err := s.Create(ctx, nk); !errors.As(err, &inv) {
			t.Errorf("Create(%q, %q): err %v, want *InvalidError", nk.Name, nk.Role, err)
		}
	}
}

func TestStoreList(t *testing.T) {
	t.Parallel()
	s := NewStore(pgtest.NewDB(t))
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		k, _, err := s.Create(ctx, NewKey{Name: name, Role: RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != ids[2] || keys[2].ID != ids[0] {
		t.Fatalf("list order: %+v", keys)
	}
}

func TestActorContext(t *testing.T) {
	t.Parallel()
	if _, ok := ActorFromContext(context.Background()); ok {
		t.Fatal("actor in empty context")
	}
	a := Actor{KeyID: "k", Name: "n", Role: RoleAdmin}
	got, ok := ActorFromContext(WithActor(context.Background(), a))
	if !ok || got != a {
		t.Fatalf("got %+v, %v", got, ok)
	}
}
