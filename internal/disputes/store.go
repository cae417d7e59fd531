package disputes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
)

// Store holds all SQL for the disputes tables. Its handle is a *sqlx.DB or a
// *sqlx.Tx, so the service runs several calls in one transaction.
type Store struct{ db sqlx.ExtContext }

// NewStore returns a store over db.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// disputeColumns never include the evidence bytes: they are written once
// and never read back by the service.
const disputeColumns = `id, apo_dispute_id, COALESCE(payment_id::text, '') AS payment_id, apo_payment_id,
	payment_request_id, capture_id, type, reason_code, reason_message, source, arn, amount_minor, currency,
	status, dispute_time, defense_due_time, defendable, auto_defend_reason, judged_result,
	judged_amount_minor, judged_currency, judged_time, accept_reason, accept_time, lost_minor,
	defense_supplied_at, defense_actor, evidence_sha256, evidence_content_type, evidence_size,
	needs_attention, attention_reason, last_notification_type, acquirer_info, created_at, updated_at`

type disputeRow struct {
	ID                  string         `db:"id"`
	APODisputeID        string         `db:"apo_dispute_id"`
	PaymentID           string         `db:"payment_id"`
	APOPaymentID        string         `db:"apo_payment_id"`
	PaymentRequestID    string         `db:"payment_request_id"`
	CaptureID           string         `db:"capture_id"`
	Type                string         `db:"type"`
	ReasonCode          string         `db:"reason_code"`
	ReasonMessage       string         `db:"reason_message"`
	Source              string         `db:"source"`
	ARN                 string         `db:"arn"`
	AmountMinor         int64          `db:"amount_minor"`
	Currency            string         `db:"currency"`
	Status              string         `db:"status"`
	DisputeTime         *time.Time     `db:"dispute_time"`
	DefenseDue          *time.Time     `db:"defense_due_time"`
	Defendable          *bool          `db:"defendable"`
	AutoDefendReason    string         `db:"auto_defend_reason"`
	JudgedResult        string         `db:"judged_result"`
	JudgedAmountMinor   *int64         `db:"judged_amount_minor"`
	JudgedCurrency      string         `db:"judged_currency"`
	JudgedTime          *time.Time     `db:"judged_time"`
	AcceptReason        string         `db:"accept_reason"`
	AcceptTime          *time.Time     `db:"accept_time"`
	LostMinor           int64          `db:"lost_minor"`
	DefenseAt           *time.Time     `db:"defense_supplied_at"`
	DefenseActor        string         `db:"defense_actor"`
	EvidenceSHA256      string         `db:"evidence_sha256"`
	EvidenceContentType string         `db:"evidence_content_type"`
	EvidenceSize        int            `db:"evidence_size"`
	NeedsAttention      bool           `db:"needs_attention"`
	AttentionReason     string         `db:"attention_reason"`
	LastNotification    string         `db:"last_notification_type"`
	AcquirerInfo        postgres.JSONB `db:"acquirer_info"`
	CreatedAt           time.Time      `db:"created_at"`
	UpdatedAt           time.Time      `db:"updated_at"`
}

func (r disputeRow) dispute() Dispute {
	d := Dispute{
		ID: r.ID, APODisputeID: r.APODisputeID, PaymentID: r.PaymentID, APOPaymentID: r.APOPaymentID,
		PaymentRequestID: r.PaymentRequestID, CaptureID: r.CaptureID, Type: r.Type, ReasonCode: r.ReasonCode,
		ReasonMessage: r.ReasonMessage, Source: r.Source, ARN: r.ARN,
		Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, Status: Status(r.Status),
		DisputeTime: postgres.UTC(r.DisputeTime), DefenseDue: postgres.UTC(r.DefenseDue), Defendable: r.Defendable,
		AutoDefendReason: r.AutoDefendReason, JudgedResult: r.JudgedResult, JudgedTime: postgres.UTC(r.JudgedTime),
		AcceptReason: r.AcceptReason, AcceptTime: postgres.UTC(r.AcceptTime), LostMinor: r.LostMinor,
		DefenseAt: postgres.UTC(r.DefenseAt), DefenseActor: r.DefenseActor, NeedsAttention: r.NeedsAttention,
		AttentionReason: r.AttentionReason, LastNotification: r.LastNotification, AcquirerInfo: json.RawMessage(r.AcquirerInfo),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.JudgedAmountMinor != nil {
		d.JudgedAmount = &money.Money{Minor: *r.JudgedAmountMinor, Currency: r.JudgedCurrency}
	}
	if r.EvidenceSHA256 != "" {
		d.Evidence = &EvidenceInfo{SHA256: r.EvidenceSHA256, ContentType: r.EvidenceContentType, Size: r.EvidenceSize}
	}
	return d
}

func rowFrom(d Dispute) disputeRow {
	r := disputeRow{
		ID: d.ID, APODisputeID: d.APODisputeID, PaymentID: d.PaymentID, APOPaymentID: d.APOPaymentID,
		PaymentRequestID: d.PaymentRequestID, CaptureID: d.CaptureID, Type: d.Type, ReasonCode: d.ReasonCode,
		ReasonMessage: d.ReasonMessage, Source: d.Source, ARN: d.ARN, AmountMinor: d.Amount.Minor,
		Currency: d.Amount.Currency, Status: string(d.Status), DisputeTime: postgres.UTC(d.DisputeTime),
		DefenseDue: postgres.UTC(d.DefenseDue), Defendable: d.Defendable, AutoDefendReason: d.AutoDefendReason,
		JudgedResult: d.JudgedResult, JudgedTime: postgres.UTC(d.JudgedTime), AcceptReason: d.AcceptReason,
		AcceptTime: postgres.UTC(d.AcceptTime), LostMinor: d.LostMinor, DefenseAt: postgres.UTC(d.DefenseAt),
		DefenseActor: d.DefenseActor, NeedsAttention: d.NeedsAttention, AttentionReason: d.AttentionReason,
		LastNotification: d.LastNotification, AcquirerInfo: postgres.JSONB(d.AcquirerInfo),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.JudgedAmount != nil {
		r.JudgedAmountMinor, r.JudgedCurrency = &d.JudgedAmount.Minor, d.JudgedAmount.Currency
	}
	return r
}

// Ensure inserts d unless a dispute with the same APO dispute id exists,
// then returns the stored dispute holding its row lock (run it in a
// transaction). created reports whether this call inserted it. Two
// notifications about a new dispute racing each other end up with one row.
func (s *Store) Ensure(ctx context.Context, d Dispute) (stored Dispute, created bool, err error) {
	const q = `
		INSERT INTO disputes (id, apo_dispute_id, payment_id, apo_payment_id, payment_request_id, capture_id,
			type, reason_code, reason_message, source, arn, amount_minor, currency, status, dispute_time,
			defense_due_time, defendable, auto_defend_reason, judged_result, judged_amount_minor,
			judged_currency, judged_time, accept_reason, accept_time, lost_minor, needs_attention,
			attention_reason, last_notification_type, acquirer_info, created_at, updated_at)
		VALUES (:id, :apo_dispute_id, CAST(NULLIF(:payment_id, '') AS uuid), :apo_payment_id, :payment_request_id,
			:capture_id, :type, :reason_code, :reason_message, :source, :arn, :amount_minor, :currency, :status,
			:dispute_time, :defense_due_time, :defendable, :auto_defend_reason, :judged_result,
			:judged_amount_minor, :judged_currency, :judged_time, :accept_reason, :accept_time, :lost_minor,
			:needs_attention, :attention_reason, :last_notification_type, :acquirer_info, :created_at,
			:updated_at)
		ON CONFLICT (apo_dispute_id) DO NOTHING`
	res, err := sqlx.NamedExecContext(ctx, s.db, q, rowFrom(d))
	if err != nil {
		return Dispute{}, false, fmt.Errorf("insert dispute %s: %w", d.APODisputeID, err)
	}
	n, _ := res.RowsAffected()
	stored, err = s.getBy(ctx, "apo_dispute_id = $1", d.APODisputeID, true)
	return stored, n == 1, err
}

// Get returns a dispute by our id.
func (s *Store) Get(ctx context.Context, id string) (Dispute, error) {
	return s.getBy(ctx, "id = $1", id, false)
}

// Lock returns a dispute holding its row lock; it must run in a
// transaction. Every change to a dispute takes this lock first.
func (s *Store) Lock(ctx context.Context, id string) (Dispute, error) {
	return s.getBy(ctx, "id = $1", id, true)
}

// GetByAPOID returns a dispute by APO's disputeId.
func (s *Store) GetByAPOID(ctx context.Context, apoID string) (Dispute, error) {
	return s.getBy(ctx, "apo_dispute_id = $1", apoID, false)
}

func (s *Store) getBy(ctx context.Context, where, arg string, lock bool) (Dispute, error) {
	if where == "id = $1" && !postgres.IsUUID(arg) {
		return Dispute{}, ErrNotFound
	}
	q := `SELECT ` + disputeColumns + ` FROM disputes WHERE ` + where
	if lock {
		q += ` FOR UPDATE`
	}
	var r disputeRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, arg); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Dispute{}, ErrNotFound
		}
		return Dispute{}, fmt.Errorf("get dispute: %w", err)
	}
	return r.dispute(), nil
}

// Update writes every mutable field of d (not the evidence bytes).
func (s *Store) Update(ctx context.Context, d Dispute) error {
	const q = `
		UPDATE disputes SET payment_id = CAST(NULLIF(:payment_id, '') AS uuid), apo_payment_id = :apo_payment_id,
			payment_request_id = :payment_request_id, capture_id = :capture_id, type = :type,
			reason_code = :reason_code, reason_message = :reason_message, source = :source, arn = :arn,
			amount_minor = :amount_minor, currency = :currency, status = :status, dispute_time = :dispute_time,
			defense_due_time = :defense_due_time, defendable = :defendable,
			auto_defend_reason = :auto_defend_reason, judged_result = :judged_result,
			judged_amount_minor = :judged_amount_minor, judged_currency = :judged_currency,
			judged_time = :judged_time, accept_reason = :accept_reason, accept_time = :accept_time,
			lost_minor = :lost_minor, defense_supplied_at = :defense_supplied_at,
			defense_actor = :defense_actor, needs_attention = :needs_attention,
			attention_reason = :attention_reason, last_notification_type = :last_notification_type,
			acquirer_info = :acquirer_info, updated_at = :updated_at
		WHERE id = :id`
	res, err := sqlx.NamedExecContext(ctx, s.db, q, rowFrom(d))
	if err != nil {
		return fmt.Errorf("update dispute %s: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// SetEvidence stores the defence document of a dispute, replacing any
// earlier one; a nil doc removes it.
func (s *Store) SetEvidence(ctx context.Context, id string, doc []byte, info EvidenceInfo, now time.Time) error {
	const q = `UPDATE disputes SET evidence = $2, evidence_sha256 = $3, evidence_content_type = $4,
		evidence_size = $5, updated_at = $6 WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, id, doc, info.SHA256, info.ContentType, info.Size, now.UTC()); err != nil {
		return fmt.Errorf("store evidence of dispute %s: %w", id, err)
	}
	return nil
}

// In the deadline order a dispute without a due time sorts as due at
// noDeadline, so that it comes last and the keyset stays a (time, id) pair.
// Its cursors carry deadlineCursor, so that a cursor of one order is
// refused by the other instead of skipping rows.
const (
	deadlineKey    = `COALESCE(defense_due_time, timestamptz '9999-12-31 00:00:00+00')`
	deadlineCursor = "due."
)

var noDeadline = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// List returns disputes newest first, or by defence deadline (SortDeadline).
// Pagination is by (created_at, id), or (due time, id), so pages stay
// stable while new disputes arrive.
func (s *Store) List(ctx context.Context, f Filter) (Page, error) {
	k := postgres.Keyset{From: `SELECT ` + disputeColumns + ` FROM disputes`, TimeColumn: "created_at"}
	key := func(x Dispute) (time.Time, string) { return x.CreatedAt, x.ID }
	cursor := f.Cursor
	if f.Sort == SortDeadline {
		k.TimeColumn, k.Ascending = deadlineKey, true
		key = func(x Dispute) (time.Time, string) {
			if x.DefenseDue == nil {
				return noDeadline, x.ID
			}
			return *x.DefenseDue, x.ID
		}
		var ok bool
		if cursor, ok = strings.CutPrefix(cursor, deadlineCursor); !ok && cursor != "" {
			return Page{}, &InvalidError{Field: "cursor", Reason: "not a cursor of the deadline order"}
		}
	}
	if f.Status != "" {
		k.Where("status = ?", string(f.Status))
	}
	if !f.DueFrom.IsZero() || !f.DueBefore.IsZero() {
		k.Where("status = 'OPEN'")
	}
	if !f.DueFrom.IsZero() {
		k.Where("defense_due_time >= ?", f.DueFrom.UTC())
	}
	if !f.DueBefore.IsZero() {
		k.Where("defense_due_time < ?", f.DueBefore.UTC())
	}
	if f.ReasonCode != "" {
		k.Where("reason_code = ?", f.ReasonCode)
	}
	if f.Source != "" {
		k.Where("lower(source) = lower(?)", f.Source)
	}
	if f.PaymentID != "" {
		if !postgres.IsUUID(f.PaymentID) {
			return Page{}, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
		}
		k.Where("payment_id = ?", f.PaymentID)
	}
	items, next, err := postgres.KeysetPage(ctx, s.db, k, cursor, postgres.PageLimit(f.Limit), disputeRow.dispute, key)
	if errors.Is(err, postgres.ErrBadCursor) {
		return Page{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
	}
	if err != nil {
		return Page{}, fmt.Errorf("list disputes: %w", err)
	}
	if next != "" && f.Sort == SortDeadline {
		next = deadlineCursor + next
	}
	return Page{Items: items, Next: next}, nil
}

// LockLost takes a transaction-scoped advisory lock on a payment's lost
// total, so concurrent updates of it (disputes of one payment settling at
// once) run one after another and the last one writes the full sum.
func (s *Store) LockLost(ctx context.Context, paymentID string) error {
	if _, err := s.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"disputes:lost:"+paymentID); err != nil {
		return fmt.Errorf("lock lost total of payment %s: %w", paymentID, err)
	}
	return nil
}

// LostTotal sums what a payment's disputes in currency cost us (accepted
// or lost).
func (s *Store) LostTotal(ctx context.Context, paymentID, currency string) (int64, error) {
	// A dispute first seen through its judgement may know only the judged
	// amount's currency.
	// sum() of bigint is numeric: clamped, so absurd amounts cannot overflow.
	const q = `SELECT LEAST(COALESCE(sum(lost_minor), 0), 9223372036854775807)::bigint FROM disputes
		WHERE payment_id = $1 AND status IN ('ACCEPTED', 'LOST')
		  AND (currency = $2 OR (currency = '' AND judged_currency = $2))`
	var n int64
	if err := sqlx.GetContext(ctx, s.db, &n, q, paymentID, currency); err != nil {
		return 0, fmt.Errorf("sum lost disputes of payment %s: %w", paymentID, err)
	}
	return n, nil
}

// OpenTotal sums the amounts of a payment's unresolved disputes in
// currency: what is under dispute (OPEN, DEFENSE_SUPPLIED,
// EXPIRED_UNDEFENDED).
func (s *Store) OpenTotal(ctx context.Context, paymentID, currency string) (int64, error) {
	const q = `SELECT LEAST(COALESCE(sum(amount_minor), 0), 9223372036854775807)::bigint FROM disputes
		WHERE payment_id = $1 AND status IN ('OPEN', 'DEFENSE_SUPPLIED', 'EXPIRED_UNDEFENDED') AND currency = $2`
	var n int64
	if err := sqlx.GetContext(ctx, s.db, &n, q, paymentID, currency); err != nil {
		return 0, fmt.Errorf("sum open disputes of payment %s: %w", paymentID, err)
	}
	return n, nil
}

// DueBefore returns the ids of OPEN disputes whose defence is due before
// t (overdue ones included), soonest first.
func (s *Store) DueBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	const q = `SELECT id FROM disputes WHERE status = 'OPEN' AND defense_due_time < $1
		ORDER BY defense_due_time, id LIMIT $2`
	var ids []string
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, t.UTC(), limit); err != nil {
		return nil, fmt.Errorf("list disputes due: %w", err)
	}
	return ids, nil
}

// CountDue counts OPEN disputes whose defence is due in (now, now+w] for
// each window w.
func (s *Store) CountDue(ctx context.Context, now time.Time, windows []time.Duration) ([]int, error) {
	out := make([]int, len(windows))
	for i, w := range windows {
		const q = `SELECT count(*) FROM disputes WHERE status = 'OPEN' AND defense_due_time > $1
			AND defense_due_time <= $2`
		if err := sqlx.GetContext(ctx, s.db, &out[i], q, now.UTC(), now.Add(w).UTC()); err != nil {
			return nil, fmt.Errorf("count disputes due: %w", err)
		}
	}
	return out, nil
}

// ClaimAlerts records that the given deadline thresholds of a dispute are
// being alerted and returns those not recorded before. A concurrent claim
// of the same threshold waits for this transaction and then gets nothing,
// so each threshold is alerted once.
func (s *Store) ClaimAlerts(ctx context.Context, disputeID string, thresholds []string, due, now time.Time) ([]string, error) {
	const q = `
		INSERT INTO dispute_alerts (dispute_id, threshold, defense_due_time, sent_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (dispute_id, threshold) DO NOTHING`
	var got []string
	for _, t := range thresholds {
		res, err := s.db.ExecContext(ctx, q, disputeID, t, due.UTC(), now.UTC())
		if err != nil {
			return nil, fmt.Errorf("claim %s alert of dispute %s: %w", t, disputeID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			got = append(got, t)
		}
	}
	return got, nil
}

// AddEvent appends an event unless the same fact (factKey) is already
// recorded for the dispute; it reports whether the row was new. This is
// what makes a replayed notification change nothing.
func (s *Store) AddEvent(ctx context.Context, e Event, factKey string) (bool, error) {
	const q = `
		INSERT INTO dispute_events (dispute_id, source, kind, fact_key, status_before, status_after, applied,
			note, actor, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (dispute_id, fact_key) DO NOTHING`
	res, err := s.db.ExecContext(ctx, q, e.DisputeID, string(e.Source), e.Kind, factKey, string(e.StatusBefore),
		string(e.StatusAfter), e.Applied, e.Note, e.Actor, postgres.JSONB(e.Payload), e.CreatedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("add dispute event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// HasEvent reports whether the fact is already recorded for the dispute.
func (s *Store) HasEvent(ctx context.Context, disputeID, factKey string) (bool, error) {
	var ok bool
	const q = `SELECT EXISTS (SELECT 1 FROM dispute_events WHERE dispute_id = $1 AND fact_key = $2)`
	if err := sqlx.GetContext(ctx, s.db, &ok, q, disputeID, factKey); err != nil {
		return false, fmt.Errorf("look up dispute event: %w", err)
	}
	return ok, nil
}

// Events returns a dispute's history, oldest first.
func (s *Store) Events(ctx context.Context, disputeID string) ([]Event, error) {
	type row struct {
		ID           int64     `db:"id"`
		DisputeID    string    `db:"dispute_id"`
		Source       string    `db:"source"`
		Kind         string    `db:"kind"`
		StatusBefore string    `db:"status_before"`
		StatusAfter  string    `db:"status_after"`
		Applied      bool      `db:"applied"`
		Note         string    `db:"note"`
		Actor        string    `db:"actor"`
		Payload      []byte    `db:"payload"`
		CreatedAt    time.Time `db:"created_at"`
	}
	const q = `SELECT id, dispute_id, source, kind, status_before, status_after, applied, note, actor, payload,
		created_at FROM dispute_events WHERE dispute_id = $1 ORDER BY id`
	var rows []row
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, disputeID); err != nil {
		return nil, fmt.Errorf("list dispute events: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, DisputeID: r.DisputeID, Source: Source(r.Source), Kind: r.Kind,
			StatusBefore: Status(r.StatusBefore), StatusAfter: Status(r.StatusAfter), Applied: r.Applied,
			Note: r.Note, Actor: r.Actor, Payload: r.Payload, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// Due counts OPEN disputes due in [now, until) and before now, and the
// EXPIRED_UNDEFENDED ones (see Service.DueWithin).
func (s *Store) Due(ctx context.Context, now, until time.Time) (Due, error) {
	const q = `
		SELECT count(*) FILTER (WHERE status = 'OPEN' AND defense_due_time >= $1) AS soon,
			count(*) FILTER (WHERE status = 'OPEN' AND defense_due_time < $1) AS overdue,
			count(*) FILTER (WHERE status = 'EXPIRED_UNDEFENDED') AS expired
		FROM disputes
		WHERE (status = 'OPEN' AND defense_due_time < $2) OR status = 'EXPIRED_UNDEFENDED'`
	var r struct {
		Soon    int `db:"soon"`
		Overdue int `db:"overdue"`
		Expired int `db:"expired"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, q, now.UTC(), until.UTC()); err != nil {
		return Due{}, fmt.Errorf("count disputes due: %w", err)
	}
	return Due(r), nil
}
