// Package idempotency makes POST requests of the admin API safe to retry.
// A caller sends an Idempotency-Key header; the first request with a key
// runs, and its answer is kept. A repeat with the same key and the same
// request gets that answer back without running the operation again, so a
// client that lost a response can retry a capture or a refund without
// moving money twice (design.md §5).
//
// The package owns the idempotency_keys table (Store) and the Huma
// middleware that uses it (Guard). Keys are scoped by the caller (cmd/api
// uses API key id + operation id), so two callers cannot see or collide
// with each other's keys.
package idempotency

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// DefaultStaleAfter is how long an unfinished request may hold its key
// before a retry may take it over. It is far longer than any request can
// run (APO calls time out after seconds), so only a request whose process
// died is ever taken over.
const DefaultStaleAfter = 10 * time.Minute

// Store holds all SQL for idempotency_keys. Its handle is a *sqlx.DB or a
// *sqlx.Tx.
type Store struct{ db sqlx.ExtContext }

// NewStore returns a store over db.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// Record is one key's row.
type Record struct {
	Scope       string
	Key         string
	RequestHash []byte
	StatusCode  int // 0 while the first request with the key is still running
	Response    Response
	CreatedAt   time.Time
}

// InProgress reports whether the first request with the key has not
// finished yet.
func (r Record) InProgress() bool { return r.StatusCode == 0 }

// Response is a stored answer: what a replay writes back.
type Response struct {
	ContentType string
	Body        []byte
}

// storedResponse is how a Response sits in the jsonb column. The body is
// kept as a JSON string, not as a nested document, because jsonb reorders
// keys and drops whitespace: a replay must be byte for byte the first
// answer. Bodies that are not valid UTF-8, or hold a NUL (which jsonb
// strings reject), are kept base64-encoded instead.
type storedResponse struct {
	ContentType string  `json:"content_type,omitempty"`
	Body        *string `json:"body,omitempty"`
	BodyBase64  []byte  `json:"body_base64,omitempty"`
}

func encodeResponse(r Response) ([]byte, error) {
	if r.ContentType == "" && len(r.Body) == 0 {
		return nil, nil
	}
	s := storedResponse{ContentType: r.ContentType}
	if utf8.Valid(r.Body) && !bytes.ContainsRune(r.Body, 0) {
		b := string(r.Body)
		s.Body = &b
	} else {
		s.BodyBase64 = r.Body
	}
	return json.Marshal(s)
}

func decodeResponse(b []byte) (Response, error) {
	if len(b) == 0 {
		return Response{}, nil
	}
	var s storedResponse
	if err := json.Unmarshal(b, &s); err != nil {
		return Response{}, fmt.Errorf("decode stored response: %w", err)
	}
	r := Response{ContentType: s.ContentType, Body: s.BodyBase64}
	if s.Body != nil {
		r.Body = []byte(*s.Body)
	}
	return r, nil
}

// ErrNotInProgress reports a Complete or Abandon for a key that is not
// (or no longer) held by a running request.
var ErrNotInProgress = errors.New("idempotency key is not in progress")

// Begin claims key in scope for a request whose hash is hash. It inserts an
// in-progress row (status 0) and reports started=true; the caller then runs
// the request and calls Complete or Abandon. When the key already exists it
// returns the existing record and started=false, and the caller replays it
// or refuses. An in-progress row created before staleBefore belongs to a
// request that died without cleaning up (a crash, a kill): Begin takes it
// over rather than refusing the key forever.
func (s *Store) Begin(ctx context.Context, scope, key string, hash []byte, now, staleBefore time.Time) (Record, bool, error) {
	const claim = `
		INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response, created_at)
		VALUES ($1, $2, $3, 0, NULL, $4)
		ON CONFLICT (scope, key) DO UPDATE
			SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, response = NULL
			WHERE idempotency_keys.status_code = 0 AND idempotency_keys.created_at < $5
		RETURNING created_at`
	// A row can vanish between the claim and the read (its request failed
	// and was abandoned): claim again. Three rounds settle any real race.
	for range 3 {
		var created time.Time
		err := sqlx.GetContext(ctx, s.db, &created, claim, scope, key, hash, now, staleBefore)
		if err == nil {
			return Record{Scope: scope, Key: key, RequestHash: hash, CreatedAt: created.UTC()}, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Record{}, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		rec, err := s.Get(ctx, scope, key)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return Record{}, false, err
		}
		return rec, false, nil
	}
	return Record{}, false, errors.New("claim idempotency key: row keeps disappearing")
}

// Get returns the record of key in scope; sql.ErrNoRows when there is none.
func (s *Store) Get(ctx context.Context, scope, key string) (Record, error) {
	var r struct {
		RequestHash []byte    `db:"request_hash"`
		StatusCode  int       `db:"status_code"`
		Response    []byte    `db:"response"`
		CreatedAt   time.Time `db:"created_at"`
	}
	const q = `SELECT request_hash, status_code, response, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2`
	if err := sqlx.GetContext(ctx, s.db, &r, q, scope, key); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Record{}, err
		}
		return Record{}, fmt.Errorf("get idempotency key: %w", err)
	}
	resp, err := decodeResponse(r.Response)
	if err != nil {
		return Record{}, err
	}
	return Record{Scope: scope, Key: key, RequestHash: r.RequestHash, StatusCode: r.StatusCode, Response: resp,
		CreatedAt: r.CreatedAt.UTC()}, nil
}

// Complete stores the answer of the request that holds the key: held is
// the record Begin returned with started=true. Its created_at identifies
// the holder, so a request whose stale claim was taken over cannot
// overwrite the new holder's row. status must be a real HTTP status.
func (s *Store) Complete(ctx context.Context, held Record, status int, resp Response) error {
	if status <= 0 {
		return fmt.Errorf("complete idempotency key: status %d", status)
	}
	b, err := encodeResponse(resp)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	const q = `UPDATE idempotency_keys SET status_code = $4, response = $5
		WHERE scope = $1 AND key = $2 AND created_at = $3 AND status_code = 0`
	res, err := s.db.ExecContext(ctx, q, held.Scope, held.Key, held.CreatedAt, status, postgres.JSONB(b))
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotInProgress
	}
	return nil
}

// Abandon deletes the in-progress row Begin gave held, so a retry with the
// same key runs the request again. It is what a request that failed on our
// side (5xx, panic) does: nothing was promised, so nothing is kept.
func (s *Store) Abandon(ctx context.Context, held Record) error {
	const q = `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at = $3 AND status_code = 0`
	res, err := s.db.ExecContext(ctx, q, held.Scope, held.Key, held.CreatedAt)
	if err != nil {
		return fmt.Errorf("abandon idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotInProgress
	}
	return nil
}

// Purge deletes the keys created before cutoff and returns how many it
// deleted. It deletes up to batch rows per statement, each statement its own
// transaction when the store is over a *sqlx.DB, so a large backlog neither
// holds one long transaction nor locks many rows at once; it stops at the
// first batch that comes back short. An in-progress key is only ever
// deleted when it is older than cutoff, and the caller picks cutoff far
// enough back that only a request whose process died can still hold it.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	// The outer created_at check is evaluated again on a row that changed
	// under the statement: a stale claim taken over meanwhile (Begin gives
	// it a new created_at) is kept.
	const q = `
		DELETE FROM idempotency_keys
		WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)
		  AND created_at < $1`
	if batch < 1 {
		return 0, fmt.Errorf("purge idempotency keys: batch %d", batch)
	}
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, q, cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("purge idempotency keys: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("purge idempotency keys: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
