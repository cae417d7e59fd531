package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// lastUsedEvery bounds how often Authenticate writes last_used_at: a busy
// key would otherwise turn every authenticated request into a write.
const lastUsedEvery = time.Minute

// Store reads and writes the api_keys table. Its handle is a *sqlx.DB or a
// *sqlx.Tx, so key changes can share a transaction with their audit row.
type Store struct {
	db  sqlx.ExtContext
	now func() time.Time
}

// NewStore returns a Store over db (a *sqlx.DB or *sqlx.Tx).
func NewStore(db sqlx.ExtContext) *Store {
	return &Store{db: db, now: time.Now}
}

// NewKey is what Create needs to make a key.
type NewKey struct {
	Name      string
	Role      Role
	CreatedBy string // actor name of whoever created it ("cli" from the command line)
}

type keyRow struct {
	ID         string       `db:"id"`
	Name       string       `db:"name"`
	Role       string       `db:"role"`
	KeyHash    []byte       `db:"key_hash"`
	KeyPrefix  string       `db:"key_prefix"`
	CreatedBy  string       `db:"created_by"`
	CreatedAt  time.Time    `db:"created_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
	LastUsedAt sql.NullTime `db:"last_used_at"`
}

func (r keyRow) key() Key {
	return Key{
		ID:         r.ID,
		Name:       r.Name,
		Role:       Role(r.Role),
		Prefix:     r.KeyPrefix,
		CreatedBy:  r.CreatedBy,
		CreatedAt:  r.CreatedAt.UTC(),
		RevokedAt:  nullTime(r.RevokedAt),
		LastUsedAt: nullTime(r.LastUsedAt),
	}
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// Create makes a new key and returns it with its secret. The secret is not
// stored anywhere (only its SHA-256 is), so this is the only time it exists:
// the caller shows it to its owner once and forgets it.
func (s *Store) Create(ctx context.Context, nk NewKey) (Key, Secret, error) {
	name := strings.TrimSpace(nk.Name)
	switch {
	case name == "":
		return Key{}, "", &InvalidError{Field: "name", Reason: "must not be empty"}
	case len(name) > maxNameBytes || !utf8.ValidString(name):
		return Key{}, "", &InvalidError{Field: "name", Reason: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxNameBytes)}
	case !nk.Role.Valid():
		return Key{}, "", &InvalidError{Field: "role", Reason: fmt.Sprintf("unknown role %q", nk.Role)}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Key{}, "", fmt.Errorf("api key id: %w", err)
	}
	secret, err := newSecret()
	if err != nil {
		return Key{}, "", err
	}
	hash, _ := hashKey(string(secret)) // well-formed by construction
	const q = `
		INSERT INTO api_keys (id, name, role, key_hash, key_prefix, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id, name, role, key_hash, key_prefix, created_by, created_at, revoked_at, last_used_at`
	var r keyRow
	err = sqlx.GetContext(ctx, s.db, &r, q,
		id.String(), name, string(nk.Role), hash, keyPrefix(secret), nk.CreatedBy, s.now().UTC())
	if err != nil {
		return Key{}, "", fmt.Errorf("insert api key %q: %w", name, err)
	}
	return r.key(), secret, nil
}

// Get returns the key with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Key, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Key{}, ErrNotFound
	}
	const q = `
		SELECT id, name, role, key_hash, key_prefix, created_by, created_at, revoked_at, last_used_at
		FROM api_keys
		WHERE id = $1`
	var r keyRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Key{}, ErrNotFound
		}
		return Key{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return r.key(), nil
}

// List returns every key, revoked ones included, newest first. A deployment
// has tens of keys, not thousands, so there is no pagination.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	const q = `
		SELECT id, name, role, key_hash, key_prefix, created_by, created_at, revoked_at, last_used_at
		FROM api_keys
		ORDER BY created_at DESC, id DESC`
	var rows []keyRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys := make([]Key, len(rows))
	for i, r := range rows {
		keys[i] = r.key()
	}
	return keys, nil
}

// Revoke stops the key with id from signing in and returns it. Revoking a
// revoked key changes nothing (the first revocation time is kept), so a
// retried DELETE is harmless. A missing id is ErrNotFound.
func (s *Store) Revoke(ctx context.Context, id string) (Key, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Key{}, ErrNotFound
	}
	const q = `
		UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2)
		WHERE id = $1
		RETURNING id, name, role, key_hash, key_prefix, created_by, created_at, revoked_at, last_used_at`
	var r keyRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, id, s.now().UTC()); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Key{}, ErrNotFound
		}
		return Key{}, fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return r.key(), nil
}

// Authenticate returns the actor a raw key belongs to. A malformed, unknown
// or revoked key is ErrUnauthenticated (wrapped with the reason, for logs
// only; the error text never contains the key). It records last_used_at,
// at most once per minute per key.
func (s *Store) Authenticate(ctx context.Context, raw string) (Actor, error) {
	hash, ok := hashKey(raw)
	if !ok {
		return Actor{}, fmt.Errorf("malformed key: %w", ErrUnauthenticated)
	}
	const q = `
		SELECT id, name, role, key_hash, key_prefix, created_by, created_at, revoked_at, last_used_at
		FROM api_keys
		WHERE key_hash = $1`
	var r keyRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Actor{}, fmt.Errorf("unknown key: %w", ErrUnauthenticated)
		}
		return Actor{}, fmt.Errorf("look up api key: %w", err)
	}
	// The index lookup already matched; comparing again in constant time
	// keeps the decision itself free of timing differences.
	if subtle.ConstantTimeCompare(r.KeyHash, hash) != 1 {
		return Actor{}, fmt.Errorf("unknown key: %w", ErrUnauthenticated)
	}
	k := r.key()
	if k.Revoked() {
		return Actor{}, fmt.Errorf("key %s revoked: %w", k.ID, ErrUnauthenticated)
	}
	if now := s.now().UTC(); k.LastUsedAt.IsZero() || now.Sub(k.LastUsedAt) >= lastUsedEvery {
		// The guard in WHERE makes concurrent requests of one key write once.
		const u = `
			UPDATE api_keys SET last_used_at = $2
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`
		if _, err := s.db.ExecContext(ctx, u, k.ID, now, now.Add(-lastUsedEvery)); err != nil {
			return Actor{}, fmt.Errorf("record use of api key %s: %w", k.ID, err)
		}
	}
	return Actor{KeyID: k.ID, Name: k.Name, Role: k.Role}, nil
}
