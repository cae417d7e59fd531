package payments

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/postgres"
)

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

func (r webhookRow) event() WebhookEvent {
	var h http.Header
	_ = json.Unmarshal(r.Headers, &h)
	return WebhookEvent{ID: r.ID, NotifyType: r.NotifyType, DedupeKey: r.DedupeKey, RawBody: r.RawBody, Headers: h,
		RequestURI: r.RequestURI, Verdict: r.Verdict, State: WebhookState(r.State), Attempts: r.Attempts,
		Deliveries: r.Deliveries, LastError: r.LastError, PaymentID: r.PaymentID, ReceivedAt: r.ReceivedAt.UTC(),
		ProcessedAt: postgres.UTC(r.ProcessedAt), BodySize: r.BodySize, BodySHA256: r.BodySHA256}
}

// InsertWebhook stores a notification one row at a time (refused ones; the
// accepted go through the intake's group commit); a re-delivery of the same
// fact (same dedupe key) only counts a delivery. It returns the stored event
// and whether this call created it.
func (s *Store) InsertWebhook(ctx context.Context, ev WebhookEvent) (WebhookEvent, bool, error) {
	h, err := json.Marshal(ev.Headers)
	if err != nil {
		return WebhookEvent{}, false, fmt.Errorf("encode headers: %w", err)
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
	if err := sqlx.GetContext(ctx, s.db, &r, q, ev.ID, ev.NotifyType, ev.DedupeKey, ev.RawBody, h, ev.RequestURI,
		ev.Verdict, string(ev.State), ev.LastError, ev.ReceivedAt, ev.BodySize, ev.BodySHA256); err != nil {
		return WebhookEvent{}, false, fmt.Errorf("store webhook: %w", err)
	}
	return r.event(), r.Inserted, nil
}

// GetWebhook returns a stored notification.
func (s *Store) GetWebhook(ctx context.Context, id string) (WebhookEvent, error) {
	if !postgres.IsUUID(id) {
		return WebhookEvent{}, ErrNotFound
	}
	var r webhookRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+webhookColumns+` FROM webhook_events WHERE id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return WebhookEvent{}, ErrNotFound
		}
		return WebhookEvent{}, fmt.Errorf("get webhook: %w", err)
	}
	return r.event(), nil
}

// MarkWebhook records a processing attempt's result.
func (s *Store) MarkWebhook(ctx context.Context, id string, state WebhookState, lastError, paymentID string, now time.Time) error {
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

// WebhookFilter selects stored notifications.
type WebhookFilter struct {
	NotifyType string
	Verdict    string
	State      WebhookState
	PaymentID  string
	Cursor     string
	Limit      int
}

// ListWebhooks returns stored notifications newest first, keyset paginated.
func (s *Store) ListWebhooks(ctx context.Context, f WebhookFilter) (Page[WebhookEvent], error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.NotifyType != "" {
		add("notify_type = $%d", f.NotifyType)
	}
	if f.Verdict != "" {
		add("verdict = $%d", f.Verdict)
	}
	if f.State != "" {
		add("state = $%d", string(f.State))
	}
	if f.PaymentID != "" {
		if !postgres.IsUUID(f.PaymentID) {
			return Page[WebhookEvent]{}, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
		}
		add("payment_id = $%d", f.PaymentID)
	}
	if f.Cursor != "" {
		at, id, err := postgres.DecodeTimeCursor(f.Cursor)
		if err != nil {
			return Page[WebhookEvent]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(received_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := `SELECT ` + webhookColumns + ` FROM webhook_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY received_at DESC, id DESC LIMIT %d`, limit+1)
	var rows []webhookRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return Page[WebhookEvent]{}, fmt.Errorf("list webhooks: %w", err)
	}
	page := Page[WebhookEvent]{Items: make([]WebhookEvent, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			last := page.Items[limit-1]
			page.Next = postgres.EncodeTimeCursor(last.ReceivedAt, last.ID)
			break
		}
		page.Items = append(page.Items, r.event())
	}
	return page, nil
}

// PendingWebhook is a stored notification not processed yet, as the
// sweeper pages through them.
type PendingWebhook struct {
	ID         string    `db:"id"`
	ReceivedAt time.Time `db:"received_at"`
}

// PendingWebhooks returns events not processed yet that were received
// before before, oldest first, starting after the page's last row (zero:
// from the start).
func (s *Store) PendingWebhooks(ctx context.Context, before time.Time, after PendingWebhook, limit int) ([]PendingWebhook, error) {
	var page []PendingWebhook
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

// CallRecorder persists every APO call in apo_calls; *apo.Client calls it.
// The client has already redacted the request and reply.
type CallRecorder struct {
	db  sqlx.ExecerContext
	now func() time.Time
}

// NewCallRecorder returns a recorder writing to db.
func NewCallRecorder(db sqlx.ExecerContext) *CallRecorder {
	return &CallRecorder{db: db, now: time.Now}
}

// Record stores one call. A failure to record is not the call's failure, so
// it is swallowed here and visible as a gap in apo_calls only. For the same
// reason its commit does not wait for the WAL flush (synchronous_commit off
// for this statement's transaction alone): the record sits on pay's path,
// and a flush stall there was part of pay's tail; a crash can lose the last
// fraction of a second of records, never a payment fact.
func (r *CallRecorder) Record(ctx context.Context, c apo.CallRecord) {
	const q = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		INSERT INTO apo_calls (api, request_id, request, response, http_status, duration_ms, outcome, result_code, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM async`
	apoCalls.WithLabelValues(c.API, c.Outcome).Inc()
	apoCallSeconds.WithLabelValues(c.API).Observe(c.Duration.Seconds())
	req, resp := jsonOrNull(c.Request), jsonOrNull(c.Response)
	_, _ = r.db.ExecContext(ctx, q, c.API, c.RequestID, req, resp, c.HTTPStatus, c.Duration.Milliseconds(),
		c.Outcome, c.ResultCode, r.now().UTC())
}

func jsonOrNull(b []byte) []byte {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}
