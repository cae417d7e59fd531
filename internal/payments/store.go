package payments

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

// Store holds all SQL for the payments tables. Its handle is a *sqlx.DB or a
// *sqlx.Tx, so the service runs several calls in one transaction.
type Store struct{ db sqlx.ExtContext }

// NewStore returns a store over db.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

const paymentColumns = `id, payment_request_id, COALESCE(apo_payment_id, '') AS apo_payment_id, reference_order_id,
	order_description, buyer_reference, buyer_email, amount_minor, currency, capture_mode, status,
	captured_minor, refunded_minor, disputed_minor, dispute_lost_minor, result_code, result_message, auth_expiry_time,
	payment_expiry_time, normal_url, redirect_url, card_brand, card_bin, card_last4, card_masked,
	card_funding, card_issuing_country, card_expiry_month, card_expiry_year, card_token,
	three_ds_result, avs_result, cvv_result, acquirer_name, acquirer_transaction_id, acquirer_info,
	needs_review, review_reason, created_by, version, created_at, updated_at`

type paymentRow struct {
	ID                    string         `db:"id"`
	PaymentRequestID      string         `db:"payment_request_id"`
	APOPaymentID          string         `db:"apo_payment_id"`
	ReferenceOrderID      string         `db:"reference_order_id"`
	OrderDescription      string         `db:"order_description"`
	BuyerReference        string         `db:"buyer_reference"`
	BuyerEmail            string         `db:"buyer_email"`
	AmountMinor           int64          `db:"amount_minor"`
	Currency              string         `db:"currency"`
	CaptureMode           string         `db:"capture_mode"`
	Status                string         `db:"status"`
	CapturedMinor         int64          `db:"captured_minor"`
	RefundedMinor         int64          `db:"refunded_minor"`
	DisputedMinor         int64          `db:"disputed_minor"`
	DisputeLostMinor      int64          `db:"dispute_lost_minor"`
	ResultCode            string         `db:"result_code"`
	ResultMessage         string         `db:"result_message"`
	AuthExpiry            *time.Time     `db:"auth_expiry_time"`
	PaymentExpiry         *time.Time     `db:"payment_expiry_time"`
	NormalURL             string         `db:"normal_url"`
	RedirectURL           string         `db:"redirect_url"`
	CardBrand             string         `db:"card_brand"`
	CardBIN               string         `db:"card_bin"`
	CardLast4             string         `db:"card_last4"`
	CardMasked            string         `db:"card_masked"`
	CardFunding           string         `db:"card_funding"`
	CardIssuingCountry    string         `db:"card_issuing_country"`
	CardExpiryMonth       string         `db:"card_expiry_month"`
	CardExpiryYear        string         `db:"card_expiry_year"`
	CardToken             string         `db:"card_token"`
	ThreeDS               postgres.JSONB `db:"three_ds_result"`
	AVSResult             string         `db:"avs_result"`
	CVVResult             string         `db:"cvv_result"`
	AcquirerName          string         `db:"acquirer_name"`
	AcquirerTransactionID string         `db:"acquirer_transaction_id"`
	AcquirerInfo          postgres.JSONB `db:"acquirer_info"`
	NeedsReview           bool           `db:"needs_review"`
	ReviewReason          string         `db:"review_reason"`
	CreatedBy             string         `db:"created_by"`
	Version               int            `db:"version"`
	CreatedAt             time.Time      `db:"created_at"`
	UpdatedAt             time.Time      `db:"updated_at"`
}

func (r paymentRow) payment() Payment {
	return Payment{
		ID: r.ID, PaymentRequestID: r.PaymentRequestID, APOPaymentID: r.APOPaymentID,
		ReferenceOrderID: r.ReferenceOrderID, OrderDescription: r.OrderDescription,
		BuyerReference: r.BuyerReference, BuyerEmail: r.BuyerEmail,
		Amount:      money.Money{Minor: r.AmountMinor, Currency: r.Currency},
		CaptureMode: r.CaptureMode, Status: Status(r.Status),
		CapturedMinor: r.CapturedMinor, RefundedMinor: r.RefundedMinor, DisputedMinor: r.DisputedMinor,
		DisputeLostMinor: r.DisputeLostMinor,
		ResultCode:       r.ResultCode, ResultMessage: r.ResultMessage,
		AuthExpiry: postgres.UTC(r.AuthExpiry), PaymentExpiry: postgres.UTC(r.PaymentExpiry),
		NormalURL: r.NormalURL, RedirectURL: r.RedirectURL,
		Card: Card{Brand: r.CardBrand, BIN: r.CardBIN, Last4: r.CardLast4, Masked: r.CardMasked,
			Funding: r.CardFunding, IssuingCountry: r.CardIssuingCountry,
			ExpiryMonth: r.CardExpiryMonth, ExpiryYear: r.CardExpiryYear, Token: r.CardToken},
		ThreeDS: json.RawMessage(r.ThreeDS), AVSResult: r.AVSResult, CVVResult: r.CVVResult,
		Acquirer:    Acquirer{Name: r.AcquirerName, TransactionID: r.AcquirerTransactionID, Info: json.RawMessage(r.AcquirerInfo)},
		NeedsReview: r.NeedsReview, ReviewReason: r.ReviewReason, CreatedBy: r.CreatedBy,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func rowFrom(p Payment) paymentRow {
	return paymentRow{
		ID: p.ID, PaymentRequestID: p.PaymentRequestID, APOPaymentID: p.APOPaymentID,
		ReferenceOrderID: p.ReferenceOrderID, OrderDescription: p.OrderDescription,
		BuyerReference: p.BuyerReference, BuyerEmail: p.BuyerEmail,
		AmountMinor: p.Amount.Minor, Currency: p.Amount.Currency, CaptureMode: p.CaptureMode,
		Status: string(p.Status), CapturedMinor: p.CapturedMinor, RefundedMinor: p.RefundedMinor,
		DisputedMinor: p.DisputedMinor, DisputeLostMinor: p.DisputeLostMinor, ResultCode: p.ResultCode, ResultMessage: p.ResultMessage,
		AuthExpiry: p.AuthExpiry, PaymentExpiry: p.PaymentExpiry, NormalURL: p.NormalURL,
		RedirectURL: p.RedirectURL, CardBrand: p.Card.Brand, CardBIN: p.Card.BIN, CardLast4: p.Card.Last4,
		CardMasked: p.Card.Masked, CardFunding: p.Card.Funding, CardIssuingCountry: p.Card.IssuingCountry,
		CardExpiryMonth: p.Card.ExpiryMonth, CardExpiryYear: p.Card.ExpiryYear, CardToken: p.Card.Token,
		ThreeDS: postgres.JSONB(p.ThreeDS), AVSResult: p.AVSResult, CVVResult: p.CVVResult,
		AcquirerName: p.Acquirer.Name, AcquirerTransactionID: p.Acquirer.TransactionID,
		AcquirerInfo: postgres.JSONB(p.Acquirer.Info), NeedsReview: p.NeedsReview, ReviewReason: p.ReviewReason,
		CreatedBy: p.CreatedBy, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// Create inserts a new payment. A second payment with the same request id
// is ErrDuplicate.
func (s *Store) Create(ctx context.Context, p Payment) error {
	const q = `
		INSERT INTO payments (id, payment_request_id, apo_payment_id, reference_order_id, order_description,
			buyer_reference, buyer_email, amount_minor, currency, capture_mode, status, captured_minor,
			refunded_minor, disputed_minor, result_code, result_message, auth_expiry_time, payment_expiry_time,
			normal_url, redirect_url, card_brand, card_bin, card_last4, card_masked, card_funding,
			card_issuing_country, card_expiry_month, card_expiry_year, card_token, three_ds_result,
			avs_result, cvv_result, acquirer_name, acquirer_transaction_id, acquirer_info, needs_review,
			review_reason, created_by, version, created_at, updated_at)
		VALUES (:id, :payment_request_id, NULLIF(:apo_payment_id, ''), :reference_order_id, :order_description,
			:buyer_reference, :buyer_email, :amount_minor, :currency, :capture_mode, :status, :captured_minor,
			:refunded_minor, :disputed_minor, :result_code, :result_message, :auth_expiry_time, :payment_expiry_time,
			:normal_url, :redirect_url, :card_brand, :card_bin, :card_last4, :card_masked, :card_funding,
			:card_issuing_country, :card_expiry_month, :card_expiry_year, :card_token, :three_ds_result,
			:avs_result, :cvv_result, :acquirer_name, :acquirer_transaction_id, :acquirer_info, :needs_review,
			:review_reason, :created_by, :version, :created_at, :updated_at)`
	if _, err := sqlx.NamedExecContext(ctx, s.db, q, rowFrom(p)); err != nil {
		if postgres.IsUniqueViolation(err) {
			return ErrDuplicate
		}
		return fmt.Errorf("insert payment %s: %w", p.ID, err)
	}
	return nil
}

// Update writes every mutable column of p and bumps its version. It is
// guarded by the version read, so a lost update is an error, not silent.
func (s *Store) Update(ctx context.Context, p Payment) (Payment, error) {
	const q = `
		UPDATE payments SET apo_payment_id = NULLIF(:apo_payment_id, ''), status = :status,
			captured_minor = :captured_minor, refunded_minor = :refunded_minor, disputed_minor = :disputed_minor,
			dispute_lost_minor = :dispute_lost_minor,
			result_code = :result_code, result_message = :result_message, auth_expiry_time = :auth_expiry_time,
			payment_expiry_time = :payment_expiry_time, normal_url = :normal_url, card_brand = :card_brand,
			card_bin = :card_bin, card_last4 = :card_last4, card_masked = :card_masked, card_funding = :card_funding,
			card_issuing_country = :card_issuing_country, card_expiry_month = :card_expiry_month,
			card_expiry_year = :card_expiry_year, card_token = :card_token, three_ds_result = :three_ds_result,
			avs_result = :avs_result, cvv_result = :cvv_result, acquirer_name = :acquirer_name,
			acquirer_transaction_id = :acquirer_transaction_id, acquirer_info = :acquirer_info,
			needs_review = :needs_review, review_reason = :review_reason,
			version = version + 1, updated_at = :updated_at
		WHERE id = :id AND version = :version`
	res, err := sqlx.NamedExecContext(ctx, s.db, q, rowFrom(p))
	if err != nil {
		if postgres.IsUniqueViolation(err) {
			return p, ErrDuplicate
		}
		return p, fmt.Errorf("update payment %s: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return p, fmt.Errorf("update payment %s: version %d is stale", p.ID, p.Version)
	}
	p.Version++
	return p, nil
}

// Get returns a payment by our id.
func (s *Store) Get(ctx context.Context, id string) (Payment, error) {
	return s.getBy(ctx, "id = $1", id, false)
}

// Lock returns a payment holding its row lock; it must run in a transaction.
// Every state change takes this lock first (design.md §5).
func (s *Store) Lock(ctx context.Context, id string) (Payment, error) {
	return s.getBy(ctx, "id = $1", id, true)
}

// GetByRequestID returns a payment by its paymentRequestId.
func (s *Store) GetByRequestID(ctx context.Context, reqID string) (Payment, error) {
	return s.getBy(ctx, "payment_request_id = $1", reqID, false)
}

// GetByAPOID returns a payment by APO's paymentId.
func (s *Store) GetByAPOID(ctx context.Context, apoID string) (Payment, error) {
	return s.getBy(ctx, "apo_payment_id = $1", apoID, false)
}

func (s *Store) getBy(ctx context.Context, where string, arg any, lock bool) (Payment, error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE ` + where
	if lock {
		q += ` FOR UPDATE`
	}
	if where == "id = $1" {
		if str, ok := arg.(string); ok && !postgres.IsUUID(str) {
			return Payment{}, ErrNotFound
		}
	}
	var r paymentRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, arg); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Payment{}, ErrNotFound
		}
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	return r.payment(), nil
}

// Filter selects payments for List and Export; conditions combine with AND.
// Zero fields do not filter. Service.List and Service.Export refuse a bad
// value with an *InvalidError whose Field is the admin API's query
// parameter (order_id_contains, amount_max …).
type Filter struct {
	Status           Status
	CreatedFrom      time.Time
	CreatedTo        time.Time
	ReferenceOrderID string
	OrderIDContains  string // part of reference_order_id, case-insensitive; 3 letters or digits in a row
	PaymentRequestID string
	APOPaymentID     string
	BuyerEmail       string // case-insensitive, whole address
	BuyerReference   string
	Currency         string // ISO 4217; required by AmountMin and AmountMax
	AmountMin        int64  // minor units of Currency, inclusive
	AmountMax        int64  // minor units of Currency, inclusive
	Last4            string
	Acquirer         string
	NeedsReview      *bool
	ExpiringBefore   time.Time // AUTHORIZED with auth_expiry_time before this
	Sort             string    // one of Sorts; "" is SortCreated
	Dir              string    // "asc" or "desc"; "" is DefaultDir(Sort)
	Cursor           string    // from the previous page's Next, in the same order
	Limit            int
}

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Items []T
	Next  string // empty on the last page
}

// List returns payments in f's order, newest first by default. Pagination
// is by (sort key, id), so pages stay stable while new payments arrive.
func (s *Store) List(ctx context.Context, f Filter) (Page[Payment], error) {
	items, next, err := s.page(ctx, f, f.keyset(), f.Cursor, postgres.PageLimit(f.Limit))
	if errors.Is(err, postgres.ErrBadCursor) {
		return Page[Payment]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
	}
	if err != nil {
		return Page[Payment]{}, fmt.Errorf("list payments: %w", err)
	}
	return Page[Payment]{Items: items, Next: next}, nil
}

// page reads at most limit payments of k after cursor, in f's order.
func (s *Store) page(ctx context.Context, f Filter, k postgres.Keyset, cursor string, limit int) ([]Payment, string, error) {
	o, ok := sorts[f.sort()]
	if !ok {
		return nil, "", &InvalidError{Field: "sort", Reason: "one of " + strings.Join(Sorts, ", ")}
	}
	k.Order = &postgres.Order{Key: o.key, Type: o.typ, Desc: f.desc()}
	return postgres.KeysetPageBy(ctx, s.db, k, cursor, limit, paymentRow.payment,
		func(p Payment) (any, any) { return o.value(p), p.ID })
}

// keyset is the query of the payments f selects, its Cursor and Limit aside.
func (f Filter) keyset() postgres.Keyset {
	k := postgres.Keyset{From: `SELECT ` + paymentColumns + ` FROM payments`, TimeColumn: "created_at"}
	if f.Status != "" {
		k.Where("status = ?", string(f.Status))
	}
	if !f.CreatedFrom.IsZero() {
		k.Where("created_at >= ?", f.CreatedFrom)
	}
	if !f.CreatedTo.IsZero() {
		k.Where("created_at < ?", f.CreatedTo)
	}
	if f.ReferenceOrderID != "" {
		k.Where("reference_order_id = ?", f.ReferenceOrderID)
	}
	if f.PaymentRequestID != "" {
		k.Where("payment_request_id = ?", f.PaymentRequestID)
	}
	if f.APOPaymentID != "" {
		k.Where("apo_payment_id = ?", f.APOPaymentID)
	}
	if f.Last4 != "" {
		k.Where("card_last4 = ?", f.Last4)
	}
	if f.Acquirer != "" {
		k.Where("acquirer_name = ?", f.Acquirer)
	}
	if f.NeedsReview != nil {
		if *f.NeedsReview {
			k.Where("needs_review")
		} else {
			k.Where("NOT needs_review")
		}
	}
	if !f.ExpiringBefore.IsZero() {
		k.Where("status = 'AUTHORIZED'")
		k.Where("auth_expiry_time < ?", f.ExpiringBefore)
	}
	f.whereSearch(&k)
	return k
}

// ---- transactions ----

const txColumns = `id, payment_id, type, request_id, apo_id, amount_minor, currency, status, result_code,
	result_message, is_last, acquirer_name, acquirer_transaction_id, acquirer_info, actor, reason,
	created_at, updated_at, completed_at`

type txRow struct {
	ID                    string         `db:"id"`
	PaymentID             string         `db:"payment_id"`
	Type                  string         `db:"type"`
	RequestID             string         `db:"request_id"`
	APOID                 string         `db:"apo_id"`
	AmountMinor           int64          `db:"amount_minor"`
	Currency              string         `db:"currency"`
	Status                string         `db:"status"`
	ResultCode            string         `db:"result_code"`
	ResultMessage         string         `db:"result_message"`
	IsLast                bool           `db:"is_last"`
	AcquirerName          string         `db:"acquirer_name"`
	AcquirerTransactionID string         `db:"acquirer_transaction_id"`
	AcquirerInfo          postgres.JSONB `db:"acquirer_info"`
	Actor                 string         `db:"actor"`
	Reason                string         `db:"reason"`
	CreatedAt             time.Time      `db:"created_at"`
	UpdatedAt             time.Time      `db:"updated_at"`
	CompletedAt           *time.Time     `db:"completed_at"`
}

func (r txRow) tx() Transaction {
	return Transaction{
		ID: r.ID, PaymentID: r.PaymentID, Type: TxType(r.Type), RequestID: r.RequestID, APOID: r.APOID,
		Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, Status: TxStatus(r.Status),
		ResultCode: r.ResultCode, ResultMessage: r.ResultMessage, IsLast: r.IsLast,
		Acquirer: Acquirer{Name: r.AcquirerName, TransactionID: r.AcquirerTransactionID, Info: json.RawMessage(r.AcquirerInfo)},
		Actor:    r.Actor, Reason: r.Reason, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		CompletedAt: postgres.UTC(r.CompletedAt),
	}
}

func txRowFrom(t Transaction) txRow {
	return txRow{
		ID: t.ID, PaymentID: t.PaymentID, Type: string(t.Type), RequestID: t.RequestID, APOID: t.APOID,
		AmountMinor: t.Amount.Minor, Currency: t.Amount.Currency, Status: string(t.Status),
		ResultCode: t.ResultCode, ResultMessage: t.ResultMessage, IsLast: t.IsLast,
		AcquirerName: t.Acquirer.Name, AcquirerTransactionID: t.Acquirer.TransactionID,
		AcquirerInfo: postgres.JSONB(t.Acquirer.Info), Actor: t.Actor, Reason: t.Reason,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, CompletedAt: t.CompletedAt,
	}
}

// CreateTx inserts a transaction; a reused request id is ErrDuplicate.
func (s *Store) CreateTx(ctx context.Context, t Transaction) error {
	const q = `
		INSERT INTO payment_transactions (` + txColumns + `)
		VALUES (:id, :payment_id, :type, :request_id, :apo_id, :amount_minor, :currency, :status, :result_code,
			:result_message, :is_last, :acquirer_name, :acquirer_transaction_id, :acquirer_info, :actor, :reason,
			:created_at, :updated_at, :completed_at)`
	if _, err := sqlx.NamedExecContext(ctx, s.db, q, txRowFrom(t)); err != nil {
		if postgres.IsUniqueViolation(err) {
			return ErrDuplicate
		}
		return fmt.Errorf("insert transaction %s: %w", t.RequestID, err)
	}
	return nil
}

// UpdateTx writes a transaction's outcome.
func (s *Store) UpdateTx(ctx context.Context, t Transaction) error {
	const q = `
		UPDATE payment_transactions SET apo_id = :apo_id, status = :status, result_code = :result_code,
			result_message = :result_message, acquirer_name = :acquirer_name,
			acquirer_transaction_id = :acquirer_transaction_id, acquirer_info = :acquirer_info,
			updated_at = :updated_at, completed_at = :completed_at
		WHERE id = :id`
	if _, err := sqlx.NamedExecContext(ctx, s.db, q, txRowFrom(t)); err != nil {
		return fmt.Errorf("update transaction %s: %w", t.RequestID, err)
	}
	return nil
}

// GetTx returns a transaction by our id.
func (s *Store) GetTx(ctx context.Context, id string) (Transaction, error) {
	if !postgres.IsUUID(id) {
		return Transaction{}, ErrNotFound
	}
	return s.getTxBy(ctx, "id = $1", id)
}

// GetTxByRequestID returns a transaction by the request id we sent APO.
func (s *Store) GetTxByRequestID(ctx context.Context, reqID string) (Transaction, error) {
	return s.getTxBy(ctx, "request_id = $1", reqID)
}

// GetTxByAPOID returns a transaction by APO's id for it (captureId, refundId).
func (s *Store) GetTxByAPOID(ctx context.Context, typ TxType, apoID string) (Transaction, error) {
	if apoID == "" {
		return Transaction{}, ErrNotFound
	}
	return s.getTxBy(ctx, "type = $1 AND apo_id = $2", string(typ), apoID)
}

func (s *Store) getTxBy(ctx context.Context, where string, args ...any) (Transaction, error) {
	var r txRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+txColumns+` FROM payment_transactions WHERE `+where, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Transaction{}, ErrNotFound
		}
		return Transaction{}, fmt.Errorf("get transaction: %w", err)
	}
	return r.tx(), nil
}

// Transactions returns a payment's transactions, oldest first.
func (s *Store) Transactions(ctx context.Context, paymentID string) ([]Transaction, error) {
	var rows []txRow
	const q = `SELECT ` + txColumns + ` FROM payment_transactions WHERE payment_id = $1 ORDER BY created_at, id`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, paymentID); err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	out := make([]Transaction, len(rows))
	for i, r := range rows {
		out[i] = r.tx()
	}
	return out, nil
}

// OpenTransactions returns PROCESSING captures, cancels and refunds created
// before the given time (the sweeper's input).
func (s *Store) OpenTransactions(ctx context.Context, before time.Time, limit int) ([]Transaction, error) {
	var rows []txRow
	const q = `SELECT ` + txColumns + ` FROM payment_transactions
		WHERE status = 'PROCESSING' AND type <> 'AUTHORIZATION' AND created_at < $1 ORDER BY created_at LIMIT $2`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, before, limit); err != nil {
		return nil, fmt.Errorf("list open transactions: %w", err)
	}
	out := make([]Transaction, len(rows))
	for i, r := range rows {
		out[i] = r.tx()
	}
	return out, nil
}

// OpenPayments returns ids of payments whose authorization is still open,
// created before the given time.
func (s *Store) OpenPayments(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var ids []string
	const q = `SELECT id FROM payments WHERE status IN ('PROCESSING', 'REQUIRES_ACTION') AND created_at < $1
		ORDER BY created_at LIMIT $2`
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, before, limit); err != nil {
		return nil, fmt.Errorf("list open payments: %w", err)
	}
	return ids, nil
}

// ReservedMinor sums a payment's transactions of one type that are
// succeeded or still processing: what a new capture or refund must fit
// beside, so concurrent requests cannot over-capture or over-refund.
func (s *Store) ReservedMinor(ctx context.Context, paymentID string, typ TxType) (int64, error) {
	var n int64
	const q = `SELECT COALESCE(SUM(amount_minor), 0) FROM payment_transactions
		WHERE payment_id = $1 AND type = $2 AND status IN ('PROCESSING', 'SUCCEEDED')`
	if err := sqlx.GetContext(ctx, s.db, &n, q, paymentID, string(typ)); err != nil {
		return 0, fmt.Errorf("sum %s: %w", typ, err)
	}
	return n, nil
}

// ---- timeline ----

// AddEvent appends a fact to the timeline unless the same fact (factKey) is
// already there; it reports whether the row was new. This is what makes
// replays of a notification or a poll leave one entry per fact.
func (s *Store) AddEvent(ctx context.Context, e Event, factKey string) (bool, error) {
	const q = `
		INSERT INTO payment_events (payment_id, transaction_id, source, kind, fact_key, status_before,
			status_after, applied, note, payload, created_at)
		VALUES ($1, NULLIF($2, '')::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (payment_id, fact_key) DO NOTHING`
	res, err := s.db.ExecContext(ctx, q, e.PaymentID, e.TransactionID, string(e.Source), e.Kind, factKey,
		e.StatusBefore, e.StatusAfter, e.Applied, e.Note, postgres.JSONB(e.Payload), e.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("add event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Events returns a payment's timeline, oldest first.
func (s *Store) Events(ctx context.Context, paymentID string) ([]Event, error) {
	type row struct {
		ID            int64     `db:"id"`
		PaymentID     string    `db:"payment_id"`
		TransactionID string    `db:"transaction_id"`
		Source        string    `db:"source"`
		Kind          string    `db:"kind"`
		StatusBefore  string    `db:"status_before"`
		StatusAfter   string    `db:"status_after"`
		Applied       bool      `db:"applied"`
		Note          string    `db:"note"`
		Payload       []byte    `db:"payload"`
		CreatedAt     time.Time `db:"created_at"`
	}
	const q = `SELECT id, payment_id, COALESCE(transaction_id::text, '') AS transaction_id, source, kind,
		status_before, status_after, applied, note, payload, created_at
		FROM payment_events WHERE payment_id = $1 ORDER BY id`
	var rows []row
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, paymentID); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, PaymentID: r.PaymentID, TransactionID: r.TransactionID, Source: Source(r.Source),
			Kind: r.Kind, StatusBefore: r.StatusBefore, StatusAfter: r.StatusAfter, Applied: r.Applied,
			Note: r.Note, Payload: r.Payload, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// ---- helpers ----

// ---- polling ----

// ClaimPoll records that poll attempt n is scheduled for at, unless a later
// attempt is already recorded; it reports whether this attempt is current.
// The attempt number in the task id keeps one live chain per payment.
func (s *Store) ClaimPoll(ctx context.Context, paymentID string, attempt int, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE payments SET poll_attempt = $2, next_poll_at = $3
		WHERE id = $1 AND poll_attempt < $2`, paymentID, attempt, at)
	if err != nil {
		return false, fmt.Errorf("claim poll: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// PollState returns a payment's last scheduled poll attempt.
func (s *Store) PollState(ctx context.Context, paymentID string) (attempt int, next *time.Time, err error) {
	var r struct {
		Attempt int        `db:"poll_attempt"`
		Next    *time.Time `db:"next_poll_at"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT poll_attempt, next_poll_at FROM payments WHERE id = $1`, paymentID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil, ErrNotFound
		}
		return 0, nil, fmt.Errorf("poll state: %w", err)
	}
	return r.Attempt, r.Next, nil
}

// EndPoll clears the next poll of a payment that no longer needs one.
func (s *Store) EndPoll(ctx context.Context, paymentID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE payments SET next_poll_at = NULL WHERE id = $1`, paymentID)
	return err
}

// OpenSince returns when the oldest unresolved part of a payment began: the
// payment itself while its authorization is open, else its oldest
// PROCESSING capture, cancel or refund. ok is false when nothing is open.
func (s *Store) OpenSince(ctx context.Context, p Payment) (time.Time, bool, error) {
	if p.Status.Open() {
		return p.CreatedAt, true, nil
	}
	var at *time.Time
	const q = `SELECT min(created_at) FROM payment_transactions WHERE payment_id = $1 AND status = 'PROCESSING'`
	if err := sqlx.GetContext(ctx, s.db, &at, q, p.ID); err != nil {
		return time.Time{}, false, fmt.Errorf("open since: %w", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// LostPolls returns payments with something unresolved whose poll chain is
// missing or overdue since before the given time: Redis lost the task, or a
// worker died between commit and enqueue.
func (s *Store) LostPolls(ctx context.Context, overdueBefore time.Time, limit int) ([]string, error) {
	const q = `
		SELECT p.id FROM payments p
		WHERE (p.next_poll_at IS NULL OR p.next_poll_at < $1)
		  AND NOT p.needs_review
		  AND (p.status IN ('PROCESSING', 'REQUIRES_ACTION')
		       OR EXISTS (SELECT 1 FROM payment_transactions t WHERE t.payment_id = p.id AND t.status = 'PROCESSING'))
		  AND p.created_at < $1
		ORDER BY p.created_at LIMIT $2`
	var ids []string
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, overdueBefore, limit); err != nil {
		return nil, fmt.Errorf("lost polls: %w", err)
	}
	return ids, nil
}

// ---- watchdog ----

// Lapsed returns AUTHORIZED payments whose authorization expired before now.
func (s *Store) Lapsed(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	const q = `SELECT id FROM payments WHERE status = 'AUTHORIZED' AND auth_expiry_time < $1
		ORDER BY auth_expiry_time LIMIT $2`
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, now, limit); err != nil {
		return nil, fmt.Errorf("lapsed authorizations: %w", err)
	}
	return ids, nil
}

// StaleAutoCaptures returns automatic-capture stand-ins still PROCESSING
// that were created before the given time.
func (s *Store) StaleAutoCaptures(ctx context.Context, before time.Time, limit int) ([]Transaction, error) {
	var rows []txRow
	const q = `SELECT ` + txColumns + ` FROM payment_transactions
		WHERE type = 'CAPTURE' AND status = 'PROCESSING' AND request_id LIKE 'auto-%' AND created_at < $1
		ORDER BY created_at LIMIT $2`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, before, limit); err != nil {
		return nil, fmt.Errorf("stale automatic captures: %w", err)
	}
	out := make([]Transaction, len(rows))
	for i, r := range rows {
		out[i] = r.tx()
	}
	return out, nil
}
