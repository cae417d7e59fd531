package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/payops/payops/internal/carddata"
)

// Store writes and reads the audit_log table. Its handle is a *sqlx.DB or a
// *sqlx.Tx: a mutation records its audit row in its own transaction, so the
// row exists exactly when the change does.
type Store struct {
	db sqlx.ExtContext
}

// NewStore returns a Store over db (a *sqlx.DB or *sqlx.Tx).
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// Record appends e to the log. e.Input is encoded as JSON and passed through
// the log redactor (card numbers, CVVs and secrets never reach the table);
// nil becomes {}. ID and CreatedAt are ignored.
func (s *Store) Record(ctx context.Context, e Entry) error {
	switch {
	case e.Actor == "":
		return &InvalidError{Field: "actor", Reason: "must not be empty"}
	case e.Action == "":
		return &InvalidError{Field: "action", Reason: "must not be empty"}
	case e.Outcome == "":
		return &InvalidError{Field: "outcome", Reason: "must not be empty"}
	}
	input, err := encodeInput(e.Input)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	const q = `
		INSERT INTO audit_log (actor, actor_key_id, role, action, target, input, outcome, remote_addr, request_id)
		VALUES ($1, NULLIF($2, '')::uuid, $3, $4, $5, $6, $7, $8, $9)`
	if _, err := s.db.ExecContext(ctx, q, e.Actor, e.KeyID, e.Role, e.Action, e.Target, string(input),
		e.Outcome, e.RemoteAddr, e.RequestID); err != nil {
		return fmt.Errorf("insert audit %s on %q: %w", e.Action, e.Target, err)
	}
	return nil
}

// encodeInput turns an input into redacted JSON. Raw JSON is taken as is
// (after redaction) so callers can pass request bodies they already hold.
func encodeInput(v any) ([]byte, error) {
	var b []byte
	switch in := v.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		b = in
	case []byte:
		b = in
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("encode input: %w", err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("input is not valid JSON")
	}
	return carddata.RedactJSON(b), nil
}

type entryRow struct {
	ID         int64          `db:"id"`
	Actor      string         `db:"actor"`
	KeyID      sql.NullString `db:"actor_key_id"`
	Role       string         `db:"role"`
	Action     string         `db:"action"`
	Target     string         `db:"target"`
	Input      []byte         `db:"input"`
	Outcome    string         `db:"outcome"`
	RemoteAddr string         `db:"remote_addr"`
	RequestID  string         `db:"request_id"`
	CreatedAt  time.Time      `db:"created_at"`
}

func (r entryRow) entry() Entry {
	return Entry{
		ID:         r.ID,
		Actor:      r.Actor,
		KeyID:      r.KeyID.String,
		Role:       r.Role,
		Action:     r.Action,
		Target:     r.Target,
		Input:      json.RawMessage(r.Input),
		Outcome:    r.Outcome,
		RemoteAddr: r.RemoteAddr,
		RequestID:  r.RequestID,
		CreatedAt:  r.CreatedAt.UTC(),
	}
}

// List returns up to f.Limit rows matching f, newest first, and the cursor
// of the next page (zero when this page is the last). Pages are keyset
// paginated on (created_at, id), so they stay stable while rows are added.
func (s *Store) List(ctx context.Context, f Filter) ([]Entry, Cursor, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.Target != "" {
		where = append(where, "target = "+arg(f.Target))
	}
	if !f.Before.IsZero() {
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(f.Before.CreatedAt), arg(f.Before.ID)))
	}
	q := `
		SELECT id, actor, actor_key_id, role, action, target, input, outcome, remote_addr, request_id, created_at
		FROM audit_log`
	if len(where) > 0 {
		q += "\n\t\tWHERE " + strings.Join(where, " AND ")
	}
	// One row more than asked tells whether another page exists.
	q += "\n\t\tORDER BY created_at DESC, id DESC\n\t\tLIMIT " + arg(limit+1)

	var rows []entryRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return nil, Cursor{}, fmt.Errorf("list audit log: %w", err)
	}
	var next Cursor
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next = Cursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID}
	}
	entries := make([]Entry, len(rows))
	for i, r := range rows {
		entries[i] = r.entry()
	}
	return entries, next, nil
}
