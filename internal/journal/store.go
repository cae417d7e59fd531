package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// Store holds journals, their lines and the chart of accounts: all of this
// package's SQL.
type Store struct{ db sqlx.ExtContext } // *sqlx.DB or *sqlx.Tx

// NewStore returns a store on db, a database or a transaction.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// ---- chart of accounts ----

type accountRow struct {
	Kind           string `db:"kind"`
	Currency       string `db:"currency"`
	Code           string `db:"account_code"`
	Name           string `db:"account_name"`
	TaxCode        string `db:"tax_code"`
	TrackingName   string `db:"tracking_name"`
	TrackingOption string `db:"tracking_option"`
}

// ReplaceAccounts makes accounts the whole chart. Run it in a transaction,
// so that an export never sees half of a mapping.
func (s *Store) ReplaceAccounts(ctx context.Context, accounts []Account, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM journal_accounts`); err != nil {
		return fmt.Errorf("clear accounts: %w", err)
	}
	if len(accounts) == 0 {
		return nil
	}
	cols := make([][]string, 7)
	for _, a := range accounts {
		for i, v := range []string{string(a.Kind), a.Currency, a.Code, a.Name, a.TaxCode, a.TrackingName, a.TrackingOption} {
			cols[i] = append(cols[i], v)
		}
	}
	const q = `
		INSERT INTO journal_accounts (kind, currency, account_code, account_name, tax_code, tracking_name,
			tracking_option, updated_at)
		SELECT k, c, code, name, tax, tn, tv, $8
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
			AS t (k, c, code, name, tax, tn, tv)`
	args := make([]any, 0, 8)
	for _, c := range cols {
		args = append(args, postgres.Array(c))
	}
	if _, err := s.db.ExecContext(ctx, q, append(args, now)...); err != nil {
		return fmt.Errorf("insert accounts: %w", err)
	}
	return nil
}

// Accounts returns the chart, by kind and currency.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	const q = `
		SELECT kind, currency, account_code, account_name, tax_code, tracking_name, tracking_option
		FROM journal_accounts
		ORDER BY kind, currency`
	var rows []accountRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]Account, len(rows))
	for i, r := range rows {
		out[i] = Account{Kind: Kind(r.Kind), Currency: r.Currency, Code: r.Code, Name: r.Name, TaxCode: r.TaxCode,
			TrackingName: r.TrackingName, TrackingOption: r.TrackingOption}
	}
	return out, nil
}

// ---- journals ----

// statusBalanced is the status of a journal that was built.
const statusBalanced = "BALANCED"

// Save stores a batch's journal, or its finding in place of its lines, for
// run j.RunID of period j.Period, and says what it did. It replaces the
// batch's journal only when that was built by an earlier run of the same
// period, in place (same id); see the journals table. Run it in a
// transaction: the journal and its lines change together.
func (s *Store) Save(ctx context.Context, j Journal, f *Finding) (int64, Outcome, error) {
	status, reason := statusBalanced, ""
	debits, credits, _ := j.Totals()
	if f != nil {
		status, reason, debits, credits = string(f.Kind), f.Reason, 0, 0
	}
	const upsert = `
		INSERT INTO journals AS j (batch_id, currency, period, run_id, status, reason, payout_minor, debit_minor,
			credit_minor, items, built_at, journal_type)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (batch_id, currency, journal_type) WHERE adjusts_journal_id IS NULL DO UPDATE SET run_id = EXCLUDED.run_id, status = EXCLUDED.status,
			reason = EXCLUDED.reason, payout_minor = EXCLUDED.payout_minor, debit_minor = EXCLUDED.debit_minor,
			credit_minor = EXCLUDED.credit_minor, items = EXCLUDED.items, built_at = EXCLUDED.built_at
		WHERE j.period = EXCLUDED.period AND j.run_id < EXCLUDED.run_id
		RETURNING id`
	var id int64
	err := sqlx.GetContext(ctx, s.db, &id, upsert, j.BatchID, j.Currency, j.Period.Format(time.DateOnly), j.RunID, status,
		reason, j.Payout, debits, credits, j.Items, j.BuiltAt, j.typ())
	if errors.Is(err, sql.ErrNoRows) {
		return s.kept(ctx, j)
	}
	if err != nil {
		return 0, "", fmt.Errorf("save journal of batch %s %s: %w", j.BatchID, j.Currency, err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM journal_lines WHERE journal_id = $1`, id); err != nil {
		return 0, "", fmt.Errorf("clear journal %d lines: %w", id, err)
	}
	if f == nil && len(j.Lines) > 0 {
		if err := s.insertLines(ctx, id, j.Lines); err != nil {
			return 0, "", err
		}
	}
	return id, Built, nil
}

// kept says why Save left the batch's journal as it was.
func (s *Store) kept(ctx context.Context, j Journal) (int64, Outcome, error) {
	const q = `SELECT id, period, run_id FROM journals
		WHERE batch_id = $1 AND currency = $2 AND journal_type = $3 AND adjusts_journal_id IS NULL`
	var r struct {
		ID     int64     `db:"id"`
		Period time.Time `db:"period"`
		RunID  int64     `db:"run_id"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, q, j.BatchID, j.Currency, j.typ()); err != nil {
		return 0, "", fmt.Errorf("journal of batch %s %s: %w", j.BatchID, j.Currency, err)
	}
	switch {
	case r.Period.Format(time.DateOnly) != j.Period.Format(time.DateOnly):
		return r.ID, BookedElsewhere, nil
	case r.RunID == j.RunID:
		return r.ID, Unchanged, nil
	}
	return r.ID, Superseded, nil
}

func (s *Store) insertLines(ctx context.Context, id int64, lines []Line) error {
	var (
		nos                    []int64
		kinds, descs           []string
		debits, credits, items []int64
	)
	for i, l := range lines {
		nos = append(nos, int64(i+1))
		kinds = append(kinds, string(l.Kind))
		debits = append(debits, l.Debit)
		credits = append(credits, l.Credit)
		items = append(items, l.Items)
		descs = append(descs, l.Description)
	}
	const q = `
		INSERT INTO journal_lines (journal_id, line_no, kind, debit_minor, credit_minor, items, description)
		SELECT $1, n, k, d, c, i, t
		FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[]) AS u (n, k, d, c, i, t)`
	if _, err := s.db.ExecContext(ctx, q, id, postgres.Array(nos), postgres.Array(kinds), postgres.Array(debits),
		postgres.Array(credits), postgres.Array(items), postgres.Array(descs)); err != nil {
		return fmt.Errorf("insert journal %d lines: %w", id, err)
	}
	return nil
}

// Selection is the journals of settlement dates From to To (inclusive),
// in one currency or ("") all.
type Selection struct {
	From, To time.Time
	Currency string
}

// where is the selection's condition on journals j, with its arguments.
func (sel Selection) where() (string, []any) {
	return `j.period BETWEEN $1::date AND $2::date AND ($3::text = '' OR j.currency = $3::text)`,
		[]any{sel.From.Format(time.DateOnly), sel.To.Format(time.DateOnly), sel.Currency}
}

// Contents is what a selection holds, for an export to check before it
// writes a byte.
type Contents struct {
	Lines      int64
	Currencies []string
	Findings   []Finding // journals not built, by batch
	Kinds      []KindUse // the line kinds booked, by currency
}

// KindUse is a kind booked in a currency, and its largest line.
type KindUse struct {
	Kind     Kind
	Currency string
	Largest  int64
}

// Contents summarises the journals of sel.
func (s *Store) Contents(ctx context.Context, sel Selection) (Contents, error) {
	where, args := sel.where()
	var c Contents
	// A journal without lines (the empty one a batch first seen after its
	// month closed leaves there) writes nothing, so its currency is not the
	// file's; a finding's stops the export anyway.
	q := `SELECT COALESCE(array_agg(DISTINCT j.currency::text), '{}') FROM journals j WHERE ` + where + `
		AND EXISTS (SELECT 1 FROM journal_lines l WHERE l.journal_id = j.id)`
	if err := s.db.QueryRowxContext(ctx, q, args...).Scan(postgres.Array(&c.Currencies)); err != nil {
		return c, fmt.Errorf("journals of %s: %w", sel, err)
	}
	var found []struct {
		BatchID  string `db:"batch_id"`
		Currency string `db:"currency"`
		Status   string `db:"status"`
		Reason   string `db:"reason"`
	}
	q = `SELECT batch_id, currency, status, reason FROM journals j WHERE ` + where + ` AND status <> '` + statusBalanced + `'
		ORDER BY batch_id, currency`
	if err := sqlx.SelectContext(ctx, s.db, &found, q, args...); err != nil {
		return c, fmt.Errorf("findings of %s: %w", sel, err)
	}
	for _, f := range found {
		c.Findings = append(c.Findings, Finding{Kind: FindingKind(f.Status), BatchID: f.BatchID, Currency: f.Currency, Reason: f.Reason})
	}
	var kinds []struct {
		Kind     string `db:"kind"`
		Currency string `db:"currency"`
		Lines    int64  `db:"lines"`
		Largest  int64  `db:"largest"`
	}
	q = `SELECT l.kind, j.currency, count(*) AS lines, max(greatest(l.debit_minor, l.credit_minor)) AS largest
		FROM journals j JOIN journal_lines l ON l.journal_id = j.id
		WHERE ` + where + `
		GROUP BY l.kind, j.currency ORDER BY l.kind, j.currency`
	if err := sqlx.SelectContext(ctx, s.db, &kinds, q, args...); err != nil {
		return c, fmt.Errorf("line kinds of %s: %w", sel, err)
	}
	for _, k := range kinds {
		c.Lines += k.Lines
		c.Kinds = append(c.Kinds, KindUse{Kind: Kind(k.Kind), Currency: k.Currency, Largest: k.Largest})
	}
	return c, nil
}

func (sel Selection) String() string {
	s := sel.From.Format(time.DateOnly) + " to " + sel.To.Format(time.DateOnly)
	if sel.Currency != "" {
		s += " in " + sel.Currency
	}
	return s
}

// EachJournal streams the built journals of sel with their lines, by date,
// batch and currency; journals without lines are skipped. The journal
// passed to fn is reused.
func (s *Store) EachJournal(ctx context.Context, sel Selection, fn func(*Journal) error) error {
	where, args := sel.where()
	q := `SELECT j.id, j.batch_id, j.currency, j.period, j.run_id, j.payout_minor, j.items, j.built_at,
			COALESCE(j.adjusts_journal_id, 0), j.journal_type, l.kind, l.debit_minor, l.credit_minor, l.items, l.description
		FROM journals j JOIN journal_lines l ON l.journal_id = j.id
		WHERE ` + where + `
		ORDER BY j.period, j.batch_id, j.currency, j.id, l.line_no`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("journals of %s: %w", sel, err)
	}
	defer rows.Close()
	var (
		cur, next Journal
		l         Line
	)
	dest := []any{&next.ID, &next.BatchID, &next.Currency, &next.Period, &next.RunID, &next.Payout, &next.Items,
		&next.BuiltAt, &next.AdjustsID, &next.Type, &l.Kind, &l.Debit, &l.Credit, &l.Items, &l.Description}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("journals of %s: %w", sel, err)
		}
		if next.ID != cur.ID {
			if cur.ID != 0 {
				if err := fn(&cur); err != nil {
					return err
				}
			}
			lines := cur.Lines[:0]
			cur = next
			cur.Period, cur.BuiltAt = cur.Period.UTC(), cur.BuiltAt.UTC()
			cur.Lines = lines
		}
		cur.Lines = append(cur.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journals of %s: %w", sel, err)
	}
	if cur.ID != 0 {
		return fn(&cur)
	}
	return nil
}

// ---- periods and adjustments ----

// LockMonth takes month's period row FOR SHARE for the transaction,
// creating it open if it has none, and says whether it is closed. Closing
// updates that row, so it waits for every transaction holding it.
func (s *Store) LockMonth(ctx context.Context, month time.Time) (bool, error) {
	const ins = `INSERT INTO journal_periods (month, status) VALUES ($1, 'OPEN') ON CONFLICT (month) DO NOTHING`
	if _, err := s.db.ExecContext(ctx, ins, month.Format(time.DateOnly)); err != nil {
		return false, fmt.Errorf("period %s: %w", month.Format("2006-01"), err)
	}
	const q = `SELECT status FROM journal_periods WHERE month = $1 FOR SHARE`
	var status string
	if err := sqlx.GetContext(ctx, s.db, &status, q, month.Format(time.DateOnly)); err != nil {
		return false, fmt.Errorf("lock period %s: %w", month.Format("2006-01"), err)
	}
	return status == string(PeriodClosed), nil
}

type periodRow struct {
	Month        time.Time  `db:"month"`
	Status       string     `db:"status"`
	ClosedAt     *time.Time `db:"closed_at"`
	ClosedBy     string     `db:"closed_by"`
	ReopenedAt   *time.Time `db:"reopened_at"`
	ReopenedBy   string     `db:"reopened_by"`
	ReopenReason string     `db:"reopen_reason"`
	Journals     int64      `db:"journals"`
}

func (r periodRow) period() Period {
	return Period{Month: r.Month.UTC(), Status: PeriodStatus(r.Status), ClosedAt: r.ClosedAt, ClosedBy: r.ClosedBy,
		ReopenedAt: r.ReopenedAt, ReopenedBy: r.ReopenedBy, ReopenReason: r.ReopenReason, Journals: r.Journals}
}

// SetPeriod moves month to status to (closing, or reopening with reason);
// ErrPeriodState when it is there already.
func (s *Store) SetPeriod(ctx context.Context, month time.Time, to PeriodStatus, actor, reason string, now time.Time) (Period, error) {
	const q = `
		INSERT INTO journal_periods AS p (month, status, closed_at, closed_by)
		VALUES ($1, 'OPEN', NULL, '')
		ON CONFLICT (month) DO NOTHING`
	if _, err := s.db.ExecContext(ctx, q, month.Format(time.DateOnly)); err != nil {
		return Period{}, fmt.Errorf("period %s: %w", month.Format("2006-01"), err)
	}
	upd := `
		UPDATE journal_periods SET status = 'CLOSED', closed_at = $2, closed_by = $3
		WHERE month = $1 AND status = 'OPEN'
		RETURNING month, status, closed_at, closed_by, reopened_at, reopened_by, reopen_reason`
	args := []any{month.Format(time.DateOnly), now, actor}
	if to == PeriodOpen {
		upd = `
			UPDATE journal_periods SET status = 'OPEN', reopened_at = $2, reopened_by = $3, reopen_reason = $4
			WHERE month = $1 AND status = 'CLOSED'
			RETURNING month, status, closed_at, closed_by, reopened_at, reopened_by, reopen_reason`
		args = append(args, reason)
	}
	var r periodRow
	err := sqlx.GetContext(ctx, s.db, &r, upd, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Period{}, fmt.Errorf("period %s is %s: %w", month.Format("2006-01"), map[PeriodStatus]string{
			PeriodOpen: "open", PeriodClosed: "closed"}[to], ErrPeriodState)
	}
	if err != nil {
		return Period{}, fmt.Errorf("set period %s: %w", month.Format("2006-01"), err)
	}
	return r.period(), nil
}

// Periods returns the periods on record, newest first, each with the
// number of journals dated in it.
func (s *Store) Periods(ctx context.Context) ([]Period, error) {
	const q = `
		SELECT p.month, p.status, p.closed_at, p.closed_by, p.reopened_at, p.reopened_by, p.reopen_reason,
			(SELECT count(*) FROM journals j
			 WHERE j.period >= p.month AND j.period < p.month + interval '1 month') AS journals
		FROM journal_periods p ORDER BY p.month DESC`
	var rows []periodRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q); err != nil {
		return nil, fmt.Errorf("list periods: %w", err)
	}
	out := make([]Period, len(rows))
	for i, r := range rows {
		out[i] = r.period()
	}
	return out, nil
}

// Booked is a batch's journal as booked: its own lines and its
// adjustments', net (credit − debit) per kind.
type Booked struct {
	ID       int64
	Period   time.Time
	LastRun  int64 // the latest run that built or adjusted it
	Adjusted bool
	Payout   int64
	Net      map[Kind]int64
}

// Booked returns the batch's journal of type t as booked; found is false
// when it has none. Sums are numeric in SQL, cast back to bigint (an error
// beyond it).
func (s *Store) Booked(ctx context.Context, batchID, currency string, t Type) (Booked, bool, error) {
	const q = `
		SELECT j.id, j.period,
			(SELECT max(a.run_id) FROM journals a WHERE a.id = j.id OR a.adjusts_journal_id = j.id) AS last_run,
			EXISTS (SELECT 1 FROM journals a WHERE a.adjusts_journal_id = j.id) AS adjusted,
			(SELECT sum(a.payout_minor)::bigint FROM journals a WHERE a.id = j.id OR a.adjusts_journal_id = j.id) AS payout
		FROM journals j
		WHERE j.batch_id = $1 AND j.currency = $2 AND j.journal_type = $3 AND j.adjusts_journal_id IS NULL`
	var r struct {
		ID       int64     `db:"id"`
		Period   time.Time `db:"period"`
		LastRun  int64     `db:"last_run"`
		Adjusted bool      `db:"adjusted"`
		Payout   int64     `db:"payout"`
	}
	err := sqlx.GetContext(ctx, s.db, &r, q, batchID, currency, t)
	if errors.Is(err, sql.ErrNoRows) {
		return Booked{}, false, nil
	}
	if err != nil {
		return Booked{}, false, fmt.Errorf("journal of batch %s %s: %w", batchID, currency, err)
	}
	b := Booked{ID: r.ID, Period: r.Period.UTC(), LastRun: r.LastRun, Adjusted: r.Adjusted, Payout: r.Payout,
		Net: map[Kind]int64{}}
	const lq = `
		SELECT l.kind, sum(l.credit_minor - l.debit_minor)::bigint AS net
		FROM journals a JOIN journal_lines l ON l.journal_id = a.id
		WHERE a.id = $1 OR a.adjusts_journal_id = $1
		GROUP BY l.kind`
	var lines []struct {
		Kind string `db:"kind"`
		Net  int64  `db:"net"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &lines, lq, r.ID); err != nil {
		return Booked{}, false, fmt.Errorf("lines of journal %d: %w", r.ID, err)
	}
	for _, l := range lines {
		b.Net[Kind(l.Kind)] = l.Net
	}
	return b, true, nil
}

// SaveAdjustment stores an adjustment journal (j.AdjustsID set) and its
// lines.
func (s *Store) SaveAdjustment(ctx context.Context, j Journal) (int64, error) {
	debits, credits, ok := j.Totals()
	if !ok {
		return 0, fmt.Errorf("adjustment of journal %d: totals overflow", j.AdjustsID)
	}
	const q = `
		INSERT INTO journals (batch_id, currency, period, run_id, status, reason, payout_minor, debit_minor,
			credit_minor, items, built_at, adjusts_journal_id, journal_type)
		VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10, $11, $12)
		RETURNING id`
	var id int64
	if err := sqlx.GetContext(ctx, s.db, &id, q, j.BatchID, j.Currency, j.Period.Format(time.DateOnly), j.RunID,
		statusBalanced, j.Payout, debits, credits, j.Items, j.BuiltAt, j.AdjustsID, j.typ()); err != nil {
		return 0, fmt.Errorf("save adjustment of journal %d: %w", j.AdjustsID, err)
	}
	return id, s.insertLines(ctx, id, j.Lines)
}

// ---- reads for the API ----

type journalRow struct {
	ID        int64     `db:"id"`
	BatchID   string    `db:"batch_id"`
	Currency  string    `db:"currency"`
	Period    time.Time `db:"period"`
	RunID     int64     `db:"run_id"`
	Status    string    `db:"status"`
	Reason    string    `db:"reason"`
	Payout    int64     `db:"payout_minor"`
	Items     int64     `db:"items"`
	Debits    int64     `db:"debit_minor"`
	Credits   int64     `db:"credit_minor"`
	BuiltAt   time.Time `db:"built_at"`
	AdjustsID int64     `db:"adjusts_journal_id"`
	Type      Type      `db:"journal_type"`
}

func (r journalRow) journal() Journal {
	return Journal{ID: r.ID, BatchID: r.BatchID, Currency: r.Currency, Period: r.Period.UTC(), RunID: r.RunID,
		Status: r.Status, Reason: r.Reason, Payout: r.Payout, Items: r.Items, Debits: r.Debits, Credits: r.Credits,
		BuiltAt: r.BuiltAt.UTC(), AdjustsID: r.AdjustsID, Type: r.Type}
}

const journalColumns = `id, batch_id, currency, period, run_id, status, reason, payout_minor, items, debit_minor,
	credit_minor, built_at, COALESCE(adjusts_journal_id, 0) AS adjusts_journal_id, journal_type`

// List returns a page of journals without their lines, newest (highest
// id) first; the cursor is the last id given.
func (s *Store) List(ctx context.Context, f Filter) (Page, error) {
	var after int64
	if f.Cursor != "" {
		var err error
		if after, err = strconv.ParseInt(f.Cursor, 10, 64); err != nil || after <= 0 {
			return Page{}, &InvalidError{Field: "cursor", Reason: "not a cursor this list gave"}
		}
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var from, to any
	if !f.From.IsZero() {
		from = f.From.Format(time.DateOnly)
	}
	if !f.To.IsZero() {
		to = f.To.Format(time.DateOnly)
	}
	q := `SELECT ` + journalColumns + `
		FROM journals
		WHERE ($1::date IS NULL OR period >= $1::date) AND ($2::date IS NULL OR period <= $2::date)
			AND ($3 = '' OR status = $3) AND ($4 = '' OR batch_id = $4) AND ($5 = 0 OR id < $5)
			AND ($7 = '' OR currency = $7)
		ORDER BY id DESC
		LIMIT $6`
	var rows []journalRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, from, to, f.Status, f.BatchID, after, f.Limit+1, f.Currency); err != nil {
		return Page{}, fmt.Errorf("list journals: %w", err)
	}
	var p Page
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		p.Next = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	p.Items = make([]Journal, len(rows))
	for i, r := range rows {
		p.Items[i] = r.journal()
	}
	return p, nil
}

// Get returns a journal with its lines (none for a finding).
func (s *Store) Get(ctx context.Context, id int64) (Journal, error) {
	var r journalRow
	err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+journalColumns+` FROM journals WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Journal{}, ErrNotFound
	}
	if err != nil {
		return Journal{}, fmt.Errorf("get journal %d: %w", id, err)
	}
	j := r.journal()
	const lq = `
		SELECT kind, debit_minor, credit_minor, items, description
		FROM journal_lines WHERE journal_id = $1 ORDER BY line_no`
	var lines []struct {
		Kind        string `db:"kind"`
		Debit       int64  `db:"debit_minor"`
		Credit      int64  `db:"credit_minor"`
		Items       int64  `db:"items"`
		Description string `db:"description"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &lines, lq, id); err != nil {
		return Journal{}, fmt.Errorf("lines of journal %d: %w", id, err)
	}
	for _, l := range lines {
		j.Lines = append(j.Lines, Line{Kind: Kind(l.Kind), Debit: l.Debit, Credit: l.Credit, Items: l.Items,
			Description: l.Description})
	}
	return j, nil
}
