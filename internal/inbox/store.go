package inbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// Store is all SQL of the webhook_events table, the stored notifications.
type Store struct {
	db sqlx.ExtContext
}

// NewStore returns a store over db, a pool or a transaction.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

const webhookColumns = `id, notify_type, dedupe_key, raw_body, headers, request_uri, verdict, state, attempts,
	deliveries, last_error, COALESCE(payment_id::text, '') AS payment_id, received_at, processed_at,
	COALESCE(body_size, 0) AS body_size, body_sha256`

type webhookRow struct {
	ID          string     `db:"id"`
	NotifyType  string     `db:"notify_type"`
	DedupeKey   string     `db:"dedupe_key"`
	RawBody     []byte     `db:"raw_body"`
	Headers     []byte     `db:"headers"`
	RequestURI  string     `db:"request_uri"`
	Verdict     string     `db:"verdict"`
	State       string     `db:"state"`
	Attempts    int        `db:"attempts"`
	Deliveries  int        `db:"deliveries"`
	LastError   string     `db:"last_error"`
	PaymentID   string     `db:"payment_id"`
	ReceivedAt  time.Time  `db:"received_at"`
	ProcessedAt *time.Time `db:"processed_at"`
	BodySize    int        `db:"body_size"`
	BodySHA256  string     `db:"body_sha256"`
}

func (r webhookRow) event() Event {
	var h http.Header
	_ = json.Unmarshal(r.Headers, &h)
	return Event{ID: r.ID, NotifyType: r.NotifyType, DedupeKey: r.DedupeKey, RawBody: r.RawBody, Headers: h,
		RequestURI: r.RequestURI, Verdict: r.Verdict, State: State(r.State), Attempts: r.Attempts,
		Deliveries: r.Deliveries, LastError: r.LastError, PaymentID: r.PaymentID, ReceivedAt: r.ReceivedAt.UTC(),
		ProcessedAt: postgres.UTC(r.ProcessedAt), BodySize: r.BodySize, BodySHA256: r.BodySHA256}
}

// Insert stores a notification one row at a time (refused ones; the
// accepted go through the intake's group commit); a re-delivery of the same
// fact (same dedupe key) only counts a delivery. It returns the stored event
// and whether this call created it.
func (s *Store) Insert(ctx context.Context, ev Event) (Event, bool, error) {
	h, err := json.Marshal(ev.Headers)
	if err != nil {
		return Event{}, false, fmt.Errorf("encode headers: %w", err)
	}
	const q = `
		INSERT INTO webhook_events (id, notify_type, dedupe_key, raw_body, headers, request_uri, verdict, state,
			last_error, received_at, body_size, body_sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, 0), $12)
		ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = webhook_events.deliveries + 1
		RETURNING ` + webhookColumns + `, (xmax = 0) AS inserted`
	var r struct {
		webhookRow
		Inserted bool `db:"inserted"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, q, ev.ID, ev.NotifyType, ev.DedupeKey, ev.RawBody, string(h), ev.RequestURI,
		ev.Verdict, string(ev.State), ev.LastError, ev.ReceivedAt, ev.BodySize, ev.BodySHA256); err != nil {
		return Event{}, false, fmt.Errorf("store webhook: %w", err)
	}
	return r.event(), r.Inserted, nil
}

// Get returns a stored notification.
func (s *Store) Get(ctx context.Context, id string) (Event, error) {
	if !postgres.IsUUID(id) {
		return Event{}, ErrNotFound
	}
	var r webhookRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+webhookColumns+` FROM webhook_events WHERE id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, ErrNotFound
		}
		return Event{}, fmt.Errorf("get webhook: %w", err)
	}
	return r.event(), nil
}

// Mark records a processing attempt's result.
func (s *Store) Mark(ctx context.Context, id string, state State, lastError, paymentID string, now time.Time) error {
	const q = `
		UPDATE webhook_events SET state = $2, last_error = $3, payment_id = COALESCE(NULLIF($4, '')::uuid, payment_id),
			attempts = attempts + CASE WHEN $2 = 'PENDING' THEN 0 ELSE 1 END,
			processed_at = CASE WHEN $2 = 'PROCESSED' THEN $5::timestamptz ELSE processed_at END
		WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, id, string(state), lastError, paymentID, now); err != nil {
		return fmt.Errorf("mark webhook %s: %w", id, err)
	}
	return nil
}

// Filter selects stored notifications. Zero fields do not filter.
type Filter struct {
	NotifyType string
	Verdict    string
	State      State
	// NeedsAttention keeps what Summary counts: FAILED, or PENDING for
	// longer than StuckAfter.
	NeedsAttention bool
	ReceivedBefore time.Time
	PaymentID      string
	Cursor         string
	Limit          int
}

// List returns stored notifications newest first, keyset paginated; now
// dates NeedsAttention's cutoff.
func (s *Store) List(ctx context.Context, f Filter, now time.Time) (Page, error) {
	k := postgres.Keyset{From: `SELECT ` + webhookColumns + ` FROM webhook_events`, TimeColumn: "received_at"}
	if f.NotifyType != "" {
		k.Where("notify_type = ?", f.NotifyType)
	}
	if f.Verdict != "" {
		k.Where("verdict = ?", f.Verdict)
	}
	if f.State != "" {
		k.Where("state = ?", string(f.State))
	}
	if f.NeedsAttention {
		k.Where("(state = 'FAILED' OR (state = 'PENDING' AND received_at < ?))", now.Add(-StuckAfter).UTC())
	}
	if !f.ReceivedBefore.IsZero() {
		k.Where("received_at < ?", f.ReceivedBefore.UTC())
	}
	if f.PaymentID != "" {
		if !postgres.IsUUID(f.PaymentID) {
			return Page{}, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
		}
		k.Where("payment_id = ?", f.PaymentID)
	}
	items, next, err := postgres.KeysetPage(ctx, s.db, k, f.Cursor, postgres.PageLimit(f.Limit), webhookRow.event,
		func(x Event) (time.Time, string) { return x.ReceivedAt, x.ID })
	if errors.Is(err, postgres.ErrBadCursor) {
		return Page{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
	}
	if err != nil {
		return Page{}, fmt.Errorf("list webhooks: %w", err)
	}
	return Page{Items: items, Next: next}, nil
}

// PendingEvent is a stored notification not processed yet, as the
// sweeper pages through them.
type PendingEvent struct {
	ID         string    `db:"id"`
	ReceivedAt time.Time `db:"received_at"`
}

// Pending returns events not processed yet that were received
// before before, oldest first, starting after the page's last row (zero:
// from the start).
func (s *Store) Pending(ctx context.Context, before time.Time, after PendingEvent, limit int) ([]PendingEvent, error) {
	var page []PendingEvent
	const q = `SELECT id, received_at FROM webhook_events
		WHERE state = 'PENDING' AND received_at < $1 AND (received_at, id) > ($2, $3)
		ORDER BY received_at, id LIMIT $4`
	if after.ID == "" {
		after.ID = "00000000-0000-0000-0000-000000000000"
	}
	if err := sqlx.SelectContext(ctx, s.db, &page, q, before, after.ReceivedAt, after.ID, limit); err != nil {
		return nil, fmt.Errorf("pending webhooks: %w", err)
	}
	return page, nil
}

// CountFailed returns how many stored notifications are in state FAILED:
// processing gave up on them and they wait for a replay.
func (s *Store) CountFailed(ctx context.Context) (int64, error) {
	const q = `SELECT count(*) FROM webhook_events WHERE state = 'FAILED'`
	var n int64
	if err := sqlx.GetContext(ctx, s.db, &n, q); err != nil {
		return 0, fmt.Errorf("count failed webhooks: %w", err)
	}
	return n, nil
}

// Summary counts the FAILED notifications and those PENDING since before
// stuckBefore.
func (s *Store) Summary(ctx context.Context, stuckBefore time.Time) (Summary, error) {
	const q = `SELECT count(*) FILTER (WHERE state = 'FAILED') AS failed,
			count(*) FILTER (WHERE state = 'PENDING') AS stuck
		FROM webhook_events WHERE state = 'FAILED' OR (state = 'PENDING' AND received_at < $1)`
	var r struct {
		Failed int64 `db:"failed"`
		Stuck  int64 `db:"stuck"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, q, stuckBefore.UTC()); err != nil {
		return Summary{}, fmt.Errorf("count webhooks needing attention: %w", err)
	}
	return Summary{Failed: r.Failed, Stuck: r.Stuck, StuckBefore: stuckBefore.UTC()}, nil
}
