package payout

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon"
)

// Store holds all of the package's SQL: payouts and payout_credits.
type Store struct{ db sqlx.ExtContext } // *sqlx.DB or *sqlx.Tx

// NewStore returns a store over a database or a transaction.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// lockMatching serialises matching between runs of different periods
// (recon locks only its own period): two must not link one credit twice.
func (s *Store) lockMatching(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('payops.payout.match'))`)
	return err
}

// register stores an expected payout. A batch registered by another
// period keeps its first registration; a re-run of the same period
// updates its amount, due date and account.
func (s *Store) register(ctx context.Context, p Payout, now time.Time) error {
	const q = `INSERT INTO payouts (batch_id, currency, amount_minor, settlement_date, due_date, account_id, run_id,
			created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (batch_id, currency) DO UPDATE SET amount_minor = EXCLUDED.amount_minor,
			due_date = EXCLUDED.due_date, account_id = EXCLUDED.account_id, updated_at = EXCLUDED.updated_at
		WHERE payouts.settlement_date = EXCLUDED.settlement_date`
	_, err := s.db.ExecContext(ctx, q, p.BatchID, p.Currency, p.Amount, date(p.SettlementDate), date(p.DueDate),
		nullID(p.AccountID), p.RunID, now)
	if err != nil {
		return fmt.Errorf("register payout %s %s: %w", p.BatchID, p.Currency, err)
	}
	return nil
}

const payoutColumns = `id, batch_id, currency, amount_minor, settlement_date, due_date, COALESCE(account_id, 0) AS account_id,
	run_id, created_at, updated_at`

type payoutRow struct {
	ID             int64     `db:"id"`
	BatchID        string    `db:"batch_id"`
	Currency       string    `db:"currency"`
	AmountMinor    int64     `db:"amount_minor"`
	SettlementDate time.Time `db:"settlement_date"`
	DueDate        time.Time `db:"due_date"`
	AccountID      int64     `db:"account_id"`
	RunID          int64     `db:"run_id"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

func (r payoutRow) payout() *Payout {
	return &Payout{ID: r.ID, BatchID: r.BatchID, Currency: r.Currency, Amount: r.AmountMinor,
		SettlementDate: dateOf(r.SettlementDate), DueDate: dateOf(r.DueDate), AccountID: r.AccountID, RunID: r.RunID,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func (s *Store) selectPayouts(ctx context.Context, q string, args ...any) ([]*Payout, error) {
	var rows []payoutRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("payouts: %w", err)
	}
	out := make([]*Payout, len(rows))
	for i, r := range rows {
		out[i] = r.payout()
	}
	return out, nil
}

// linkedBy returns the payouts run runID linked a credit to, in id order.
func (s *Store) linkedBy(ctx context.Context, runID int64) ([]*Payout, error) {
	return s.selectPayouts(ctx, `SELECT `+payoutColumns+` FROM payouts
		WHERE id IN (SELECT payout_id FROM payout_credits WHERE run_id = $1) ORDER BY id`, runID)
}

// forMatching returns the payouts of the accounts due from from on, the
// payouts due on day (whatever their account), and the payouts linked to
// any of entryIDs, in due date and id order.
func (s *Store) forMatching(ctx context.Context, accounts []int64, from, day time.Time, entryIDs []int64) ([]*Payout, error) {
	q := `SELECT ` + payoutColumns + ` FROM payouts
		WHERE (account_id = ANY($1) AND due_date >= $2) OR due_date = $3
		   OR id IN (SELECT payout_id FROM payout_credits WHERE entry_id = ANY($4))
		ORDER BY due_date, id`
	return s.selectPayouts(ctx, q, postgres.Array(accounts), date(from), date(day), postgres.Array(entryIDs))
}

type linkRow struct {
	PayoutID    int64     `db:"payout_id"`
	EntryID     int64     `db:"entry_id"`
	AmountMinor int64     `db:"amount_minor"`
	Method      string    `db:"method"`
	Duplicate   bool      `db:"duplicate"`
	FeeMinor    int64     `db:"fee_minor"`
	RunID       int64     `db:"run_id"`
	CreatedAt   time.Time `db:"created_at"`
	BookedOn    time.Time `db:"booked_on"`
}

// links attaches the stored links of the payouts to them, in entry order.
func (s *Store) links(ctx context.Context, ps []*Payout) error {
	byID := map[int64]*Payout{}
	ids := make([]int64, len(ps))
	for i, p := range ps {
		byID[p.ID], ids[i] = p, p.ID
	}
	var rows []linkRow
	const q = `SELECT payout_id, entry_id, amount_minor, method, duplicate, fee_minor, run_id, created_at, booked_on
		FROM payout_credits WHERE payout_id = ANY($1) ORDER BY payout_id, entry_id`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, postgres.Array(ids)); err != nil {
		return fmt.Errorf("payout credits: %w", err)
	}
	for _, r := range rows {
		p := byID[r.PayoutID]
		p.Links = append(p.Links, Link{PayoutID: r.PayoutID, EntryID: r.EntryID, Amount: r.AmountMinor,
			Method: Method(r.Method), Duplicate: r.Duplicate, Fee: r.FeeMinor, RunID: r.RunID, CreatedAt: r.CreatedAt.UTC(),
			BookedOn: r.BookedOn.UTC()})
	}
	return nil
}

// addLinks stores new links.
func (s *Store) addLinks(ctx context.Context, ls []Link, runID int64, now time.Time) error {
	const q = `INSERT INTO payout_credits (payout_id, entry_id, amount_minor, method, duplicate, fee_minor, run_id, created_at, booked_on)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	for _, l := range ls {
		if _, err := s.db.ExecContext(ctx, q, l.PayoutID, l.EntryID, l.Amount, l.Method, l.Duplicate, l.Fee, runID, now,
			date(l.BookedOn)); err != nil {
			return fmt.Errorf("link payout %d to bank entry %d: %w", l.PayoutID, l.EntryID, err)
		}
	}
	return nil
}

// list returns payouts after the id cursor matching f's stored fields (not
// Status, which is derived), in id order.
func (s *Store) list(ctx context.Context, f Filter, batches []string, after int64, limit int) ([]*Payout, error) {
	q := `SELECT ` + payoutColumns + ` FROM payouts
		WHERE id > $1 AND ($2 = '' OR currency = $2) AND ($3::date IS NULL OR due_date >= $3)
		  AND ($4::date IS NULL OR due_date <= $4) AND ($5 = '' OR batch_id = $5)
		  AND ($6::text[] IS NULL OR batch_id = ANY($6))
		ORDER BY id LIMIT $7`
	var bs any
	if batches != nil {
		bs = postgres.Array(batches)
	}
	return s.selectPayouts(ctx, q, after, f.Currency, date(f.DueFrom), date(f.DueTo), f.BatchID, bs, limit)
}

// byID returns one payout.
func (s *Store) byID(ctx context.Context, id int64) (*Payout, error) {
	ps, err := s.selectPayouts(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrNotFound
	}
	return ps[0], nil
}

// date binds a calendar date as text, NULL for the zero time.
func date(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.DateOnly)
}

func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// ofDay returns the payouts settled or due on day, by due date and batch.
func (s *Store) ofDay(ctx context.Context, day time.Time) ([]*Payout, error) {
	return s.selectPayouts(ctx, `SELECT `+payoutColumns+` FROM payouts
		WHERE settlement_date = $1::date OR due_date = $1::date ORDER BY due_date, batch_id, currency`, date(day))
}

// linkedBetween returns the entries booked from from to to (inclusive)
// that some payout has claimed.
func (s *Store) linkedBetween(ctx context.Context, from, to time.Time) ([]int64, error) {
	var ids []int64
	const q = `SELECT DISTINCT entry_id FROM payout_credits WHERE booked_on BETWEEN $1::date AND $2::date`
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, date(from), date(to)); err != nil {
		return nil, fmt.Errorf("claimed bank entries: %w", err)
	}
	return ids, nil
}

// paymentsOf returns, by APO id, our id of the payment that APO id names:
// a payment's own, one of its captures' or refunds', or one of its
// disputes'. Cross-domain read, justified: it reads payments,
// payment_transactions (internal/payments) and disputes (internal/disputes)
// only so that a payout page can link each of its settlement lines to its
// payment, as recon.PaymentBatches traces the other way; each lookup is by
// a unique index.
func (s *Store) paymentsOf(ctx context.Context, apoIDs []string) (map[string]string, error) {
	const q = `
		SELECT apo_payment_id AS apo_id, id::text AS payment_id FROM payments WHERE apo_payment_id = ANY($1)
		UNION ALL
		SELECT apo_id, payment_id::text FROM payment_transactions
		WHERE type IN ('CAPTURE', 'REFUND') AND apo_id = ANY($1)
		UNION ALL
		SELECT apo_dispute_id, payment_id::text FROM disputes WHERE payment_id IS NOT NULL AND apo_dispute_id = ANY($1)`
	var rows []struct {
		APOID     string `db:"apo_id"`
		PaymentID string `db:"payment_id"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, postgres.Array(apoIDs)); err != nil {
		return nil, fmt.Errorf("payments of settlement lines: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		if _, ok := out[r.APOID]; !ok {
			out[r.APOID] = r.PaymentID
		}
	}
	return out, nil
}

// bankDays returns the days from..to with a payout due (in an account) or a
// credit booked in a settlement account, with the last change of the
// payouts due that day and the last arrival of a statement covering it.
func (s *Store) bankDays(ctx context.Context, from, to time.Time) ([]recon.BankDay, error) {
	const q = `
		WITH accounts AS (SELECT DISTINCT ON (settlement_currency) id FROM bank_accounts ORDER BY settlement_currency, id),
		due AS (
			SELECT due_date AS day, max(updated_at) AS registered FROM payouts
			WHERE due_date BETWEEN $1 AND $2 AND account_id IS NOT NULL GROUP BY due_date),
		booked AS (
			SELECT DISTINCT booking_date AS day FROM bank_entries
			WHERE account_id IN (SELECT id FROM accounts) AND status = '` + statement.Booked + `' AND NOT reversal
			  AND amount_minor > 0 AND booking_date BETWEEN $1 AND $2),
		days AS (SELECT day FROM due UNION SELECT day FROM booked)
		SELECT d.day, due.registered,
			(SELECT max(s.created_at) FROM bank_statements s
			 WHERE s.account_id IN (SELECT id FROM accounts) AND d.day BETWEEN s.from_date AND s.to_date) AS stated
		FROM days d LEFT JOIN due ON due.day = d.day ORDER BY d.day`
	var rows []struct {
		Day        time.Time  `db:"day"`
		Registered *time.Time `db:"registered"`
		Stated     *time.Time `db:"stated"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, date(from), date(to)); err != nil {
		return nil, fmt.Errorf("bank days: %w", err)
	}
	out := make([]recon.BankDay, len(rows))
	for i, r := range rows {
		out[i].Day = dateOf(r.Day)
		if r.Registered != nil {
			out[i].Registered = *r.Registered
		}
		if r.Stated != nil {
			out[i].Stated = *r.Stated
		}
	}
	return out, nil
}
