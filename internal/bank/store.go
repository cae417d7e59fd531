package bank

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
)

// Store holds all of the package's SQL: bank_accounts, bank_statements,
// bank_entries and bank_statement_findings.
type Store struct{ db sqlx.ExtContext } // *sqlx.DB or *sqlx.Tx

// NewStore returns a store over a database or a transaction.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// ---- accounts ----

const accountColumns = `id, name, iban, account_number, currency, settlement_currency, remitters, csv_mapping,
	created_at, updated_at`

// scanAccount reads one row of accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	err := row.Scan(&a.ID, &a.Name, &a.IBAN, &a.Number, &a.Currency, &a.SettlementCurrency,
		postgres.Array(&a.Remitters), &a.CSVMapping, &a.CreatedAt, &a.UpdatedAt)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// CreateAccount stores a new account and returns it with its id. An IBAN
// or number another account has is a *ConflictError.
func (s *Store) CreateAccount(ctx context.Context, a Account) (Account, error) {
	const q = `INSERT INTO bank_accounts (name, iban, account_number, currency, settlement_currency, remitters,
		csv_mapping, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		RETURNING ` + accountColumns
	out, err := scanAccount(s.db.QueryRowxContext(ctx, q, a.Name, a.IBAN, a.Number, a.Currency, a.SettlementCurrency,
		postgres.Array(nonNil(a.Remitters)), postgres.JSONB(a.CSVMapping), a.CreatedAt))
	if postgres.IsUniqueViolation(err) {
		return Account{}, &ConflictError{Rule: "a bank account with this IBAN or number is already configured"}
	}
	if err != nil {
		return Account{}, fmt.Errorf("insert bank account: %w", err)
	}
	return out, nil
}

// UpdateAccount writes an account's changeable fields.
func (s *Store) UpdateAccount(ctx context.Context, a Account) (Account, error) {
	const q = `UPDATE bank_accounts SET name = $2, settlement_currency = $3, remitters = $4, csv_mapping = $5,
		updated_at = $6 WHERE id = $1 RETURNING ` + accountColumns
	out, err := scanAccount(s.db.QueryRowxContext(ctx, q, a.ID, a.Name, a.SettlementCurrency,
		postgres.Array(nonNil(a.Remitters)), postgres.JSONB(a.CSVMapping), a.UpdatedAt))
	if err != nil {
		return Account{}, fmt.Errorf("update bank account %d: %w", a.ID, err)
	}
	return out, nil
}

// Account returns an account; forUpdate locks its row until the
// transaction ends.
func (s *Store) Account(ctx context.Context, id int64, forUpdate bool) (Account, error) {
	q := `SELECT ` + accountColumns + ` FROM bank_accounts WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	a, err := scanAccount(s.db.QueryRowxContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("get bank account %d: %w", id, err)
	}
	return a, nil
}

// AccountFor returns the account a statement's identification names: by
// IBAN when it has one, else by number.
func (s *Store) AccountFor(ctx context.Context, id statement.Account) (Account, error) {
	q := `SELECT ` + accountColumns + ` FROM bank_accounts WHERE account_number = $1`
	key := id.Number
	if id.IBAN != "" {
		q, key = `SELECT `+accountColumns+` FROM bank_accounts WHERE iban = $1`, id.IBAN
	}
	if key == "" {
		return Account{}, ErrNotFound
	}
	a, err := scanAccount(s.db.QueryRowxContext(ctx, q, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("find bank account %s: %w", key, err)
	}
	return a, nil
}

// Accounts returns the accounts after the cursor (an id), in id order, at
// most limit of them and the cursor of the next page; withMapping keeps
// only those with a CSV mapping.
func (s *Store) Accounts(ctx context.Context, cursor string, limit int, withMapping bool) (Page[Account], error) {
	var after int64
	if cursor != "" {
		id, err := postgres.DecodeIDCursor(cursor)
		if err != nil {
			return Page[Account]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		after = id
	}
	q := `SELECT ` + accountColumns + ` FROM bank_accounts WHERE id > $1`
	if withMapping {
		q += ` AND csv_mapping IS NOT NULL`
	}
	q += ` ORDER BY id LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.db.QueryxContext(ctx, q, after)
	if err != nil {
		return Page[Account]{}, fmt.Errorf("list bank accounts: %w", err)
	}
	defer rows.Close()
	var page Page[Account]
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return Page[Account]{}, fmt.Errorf("list bank accounts: %w", err)
		}
		page.Items = append(page.Items, a)
	}
	if err := rows.Err(); err != nil {
		return Page[Account]{}, fmt.Errorf("list bank accounts: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = postgres.EncodeIDCursor(page.Items[limit-1].ID)
	}
	return page, nil
}

// LockAccounts locks the accounts' rows, in id order so that two ingests
// never wait for each other crosswise. Ingests of one account run one
// after the other: each checks its statements against the account's stored
// ones, which the other must not be changing.
func (s *Store) LockAccounts(ctx context.Context, ids []int64) error {
	const q = `SELECT id FROM bank_accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`
	if _, err := s.db.ExecContext(ctx, q, postgres.Array(ids)); err != nil {
		return fmt.Errorf("lock bank accounts: %w", err)
	}
	return nil
}

// ---- statements ----

const statementColumns = `id, account_id, format, statement_id, sequence, from_date, to_date, currency,
	opening_minor, opening_date, closing_minor, closing_date, bank_created_at, entry_count, line,
	file_sha256, file_name, file_size, source, source_path, status, created_at`

type statementRow struct {
	ID            int64      `db:"id"`
	AccountID     int64      `db:"account_id"`
	Format        string     `db:"format"`
	StatementID   string     `db:"statement_id"`
	Sequence      string     `db:"sequence"`
	FromDate      time.Time  `db:"from_date"`
	ToDate        time.Time  `db:"to_date"`
	Currency      string     `db:"currency"`
	OpeningMinor  *int64     `db:"opening_minor"`
	OpeningDate   *time.Time `db:"opening_date"`
	ClosingMinor  *int64     `db:"closing_minor"`
	ClosingDate   *time.Time `db:"closing_date"`
	BankCreatedAt *time.Time `db:"bank_created_at"`
	EntryCount    int        `db:"entry_count"`
	Line          int        `db:"line"`
	FileSHA256    []byte     `db:"file_sha256"`
	FileName      string     `db:"file_name"`
	FileSize      int64      `db:"file_size"`
	Source        string     `db:"source"`
	SourcePath    string     `db:"source_path"`
	Status        string     `db:"status"`
	CreatedAt     time.Time  `db:"created_at"`
}

func (r statementRow) statement() Statement {
	st := Statement{ID: r.ID, AccountID: r.AccountID, Format: statement.Format(r.Format), StatementID: r.StatementID,
		Sequence: r.Sequence, FromDate: dateOf(r.FromDate), ToDate: dateOf(r.ToDate), Currency: r.Currency,
		Opening: balanceOf(r.OpeningMinor, r.OpeningDate, r.Currency),
		Closing: balanceOf(r.ClosingMinor, r.ClosingDate, r.Currency),
		Entries: r.EntryCount, Line: r.Line, Status: Status(r.Status), CreatedAt: r.CreatedAt.UTC(),
		File: FileRef{Name: r.FileName, SHA256: hex.EncodeToString(r.FileSHA256), Size: r.FileSize,
			Source: Source(r.Source), SourcePath: r.SourcePath}}
	if r.BankCreatedAt != nil {
		st.BankCreatedAt = r.BankCreatedAt.UTC()
	}
	return st
}

func balanceOf(minor *int64, date *time.Time, ccy string) statement.Balance {
	if minor == nil {
		return statement.Balance{}
	}
	b := statement.Balance{Money: money.Money{Minor: *minor, Currency: ccy}, Valid: true}
	if date != nil {
		b.Date = dateOf(*date)
	}
	return b
}

// CreateStatement stores a statement's row and returns its id.
func (s *Store) CreateStatement(ctx context.Context, st Statement, sum []byte, mtime *time.Time) (int64, error) {
	const q = `INSERT INTO bank_statements (account_id, format, statement_id, sequence, from_date, to_date, currency,
		opening_minor, opening_date, closing_minor, closing_date, bank_created_at, entry_count, line,
		file_sha256, file_name, file_size, source, source_path, source_mtime, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		RETURNING id`
	open, openDate := balanceParams(st.Opening)
	closing, closingDate := balanceParams(st.Closing)
	var created *time.Time
	if !st.BankCreatedAt.IsZero() {
		created = &st.BankCreatedAt
	}
	var id int64
	err := s.db.QueryRowxContext(ctx, q, st.AccountID, string(st.Format), st.StatementID, st.Sequence,
		dateParam(st.FromDate), dateParam(st.ToDate), st.Currency, open, openDate, closing, closingDate, created,
		st.Entries, st.Line, sum, st.File.Name, st.File.Size, string(st.File.Source), st.File.SourcePath, mtime,
		string(st.Status), st.CreatedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert bank statement %s: %w", st.StatementID, err)
	}
	return id, nil
}

func balanceParams(b statement.Balance) (minor *int64, date any) {
	if !b.Valid {
		return nil, nil
	}
	m := b.Minor
	return &m, dateParam(b.Date)
}

// StatementByKey returns the account's statement of that id, sequence and
// first day: the statement a new one would repeat.
func (s *Store) StatementByKey(ctx context.Context, accountID int64, id, seq string, from time.Time) (Statement, error) {
	const q = `SELECT ` + statementColumns + ` FROM bank_statements
		WHERE account_id = $1 AND statement_id = $2 AND sequence = $3 AND from_date = $4`
	var r statementRow
	err := sqlx.GetContext(ctx, s.db, &r, q, accountID, id, seq, dateParam(from))
	if errors.Is(err, sql.ErrNoRows) {
		return Statement{}, ErrNotFound
	}
	if err != nil {
		return Statement{}, fmt.Errorf("find bank statement %s: %w", id, err)
	}
	return r.statement(), nil
}

// StatementsOfFile returns the statements read from the file of this
// SHA-256, in file order; none when no such file was ingested.
func (s *Store) StatementsOfFile(ctx context.Context, sum []byte) ([]Statement, error) {
	const q = `SELECT ` + statementColumns + ` FROM bank_statements WHERE file_sha256 = $1 ORDER BY id`
	var rows []statementRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, sum); err != nil {
		return nil, fmt.Errorf("statements of file %x: %w", sum, err)
	}
	out := make([]Statement, len(rows))
	for i, r := range rows {
		out[i] = r.statement()
	}
	return out, nil
}

// SeenSource reports whether a statement was read from a scanned file of
// this path, size and modification time, so that a scan need not read it
// again.
func (s *Store) SeenSource(ctx context.Context, path string, size int64, mtime time.Time) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM bank_statements
		WHERE source_path = $1 AND file_size = $2 AND source_mtime = $3)`
	var seen bool
	if err := sqlx.GetContext(ctx, s.db, &seen, q, path, size, mtime); err != nil {
		return false, fmt.Errorf("seen %s: %w", path, err)
	}
	return seen, nil
}

// Statement returns one statement.
func (s *Store) Statement(ctx context.Context, id int64) (Statement, error) {
	const q = `SELECT ` + statementColumns + ` FROM bank_statements WHERE id = $1`
	var r statementRow
	err := sqlx.GetContext(ctx, s.db, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Statement{}, ErrNotFound
	}
	if err != nil {
		return Statement{}, fmt.Errorf("get bank statement %d: %w", id, err)
	}
	return r.statement(), nil
}

// StatementFilter selects statements. Zero fields match everything; From
// and To keep the statements whose period overlaps [From, To].
type StatementFilter struct {
	AccountID int64
	From, To  time.Time
	Cursor    string
	Limit     int // 1 to 200; other values mean 50
}

// Statements returns statements newest first (by id).
func (s *Store) Statements(ctx context.Context, f StatementFilter) (Page[Statement], error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.AccountID != 0 {
		add("account_id = $%d", f.AccountID)
	}
	if !f.From.IsZero() {
		add("to_date >= $%d", dateParam(f.From))
	}
	if !f.To.IsZero() {
		add("from_date <= $%d", dateParam(f.To))
	}
	if f.Cursor != "" {
		id, err := postgres.DecodeIDCursor(f.Cursor)
		if err != nil {
			return Page[Statement]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		add("id < $%d", id)
	}
	limit := postgres.PageLimit(f.Limit)
	q := `SELECT ` + statementColumns + ` FROM bank_statements`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit+1)
	var rows []statementRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return Page[Statement]{}, fmt.Errorf("list bank statements: %w", err)
	}
	var page Page[Statement]
	for i, r := range rows {
		if i == limit {
			page.Next = postgres.EncodeIDCursor(page.Items[limit-1].ID)
			break
		}
		page.Items = append(page.Items, r.statement())
	}
	return page, nil
}

// ---- entries ----

// entryCopy is the COPY of bank_entries; its columns are written by
// appendEntry in this order.
const entryCopy = `COPY bank_entries (statement_id, account_id, seq, line, booking_date, value_date, amount_minor,
	currency, reversal, status, end_to_end_id, account_servicer_ref, reference, remittance_info, creditor_ref,
	counterparty_name, counterparty_account, bank_tx_code, info, transactions) FROM STDIN`

// stored is a statement's entries with the row they belong to.
type stored struct {
	id, accountID int64
	entries       []statement.Entry
}

// CopyEntries writes the entries of the statements with COPY on conn, the
// connection of the store's transaction: a statement file holds up to
// statement.Limits.MaxEntries of them.
func (s *Store) CopyEntries(ctx context.Context, conn postgres.RawConn, stmts []stored) error {
	err := postgres.CopyIn(ctx, conn, entryCopy, func(add func([]byte) error) error {
		var row []byte
		for _, st := range stmts {
			for i, e := range st.entries {
				var err error
				if row, err = appendEntry(row[:0], st, i+1, e); err != nil {
					return err
				}
				if err := add(row); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy bank entries: %w", err)
	}
	return nil
}

func appendEntry(b []byte, st stored, seq int, e statement.Entry) ([]byte, error) {
	b = strconv.AppendInt(b, st.id, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, st.accountID, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(e.Line), 10)
	for _, d := range []time.Time{e.BookingDate, e.ValueDate} {
		b = append(b, '\t')
		if d.IsZero() {
			b = append(b, postgres.CopyNull...)
		} else {
			b = d.AppendFormat(b, time.DateOnly)
		}
	}
	b = append(b, '\t')
	b = strconv.AppendInt(b, e.Amount.Minor, 10)
	b = append(b, '\t')
	b = postgres.AppendCopyText(b, e.Amount.Currency)
	b = append(b, '\t')
	b = strconv.AppendBool(b, e.Reversal)
	for _, v := range []string{e.Status, e.EndToEndID, e.AccountServicerRef, e.Reference, e.RemittanceInfo,
		e.CreditorRef, e.CounterpartyName, e.CounterpartyAccount, e.BankTxCode, e.Info} {
		b = append(b, '\t')
		b = postgres.AppendCopyText(b, v)
	}
	b = append(b, '\t')
	if len(e.Transactions) == 0 {
		return append(b, postgres.CopyNull...), nil
	}
	txs := make([]txJSON, len(e.Transactions))
	for i, t := range e.Transactions {
		txs[i] = txJSON{Line: t.Line, AmountMinor: t.Amount.Minor, Currency: t.Amount.Currency, refsJSON: refsJSON(t.Refs)}
	}
	j, err := json.Marshal(txs)
	if err != nil {
		return nil, fmt.Errorf("encode transactions of line %d: %w", e.Line, err)
	}
	return postgres.AppendCopyText(b, string(j)), nil
}

// txJSON is a batched entry's transaction detail in bank_entries.transactions.
type txJSON struct {
	Line        int    `json:"line"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency,omitempty"` // "" when the bank gave no amount
	refsJSON
}

type refsJSON struct {
	EndToEndID          string `json:"end_to_end_id,omitempty"`
	AccountServicerRef  string `json:"account_servicer_ref,omitempty"`
	Reference           string `json:"reference,omitempty"`
	RemittanceInfo      string `json:"remittance_info,omitempty"`
	CreditorRef         string `json:"creditor_ref,omitempty"`
	CounterpartyName    string `json:"counterparty_name,omitempty"`
	CounterpartyAccount string `json:"counterparty_account,omitempty"`
	BankTxCode          string `json:"bank_tx_code,omitempty"`
	Info                string `json:"info,omitempty"`
}

type entryRow struct {
	ID                  int64      `db:"id"`
	Seq                 int        `db:"seq"`
	Line                int        `db:"line"`
	BookingDate         *time.Time `db:"booking_date"`
	ValueDate           *time.Time `db:"value_date"`
	AmountMinor         int64      `db:"amount_minor"`
	Currency            string     `db:"currency"`
	Reversal            bool       `db:"reversal"`
	Status              string     `db:"status"`
	EndToEndID          string     `db:"end_to_end_id"`
	AccountServicerRef  string     `db:"account_servicer_ref"`
	Reference           string     `db:"reference"`
	RemittanceInfo      string     `db:"remittance_info"`
	CreditorRef         string     `db:"creditor_ref"`
	CounterpartyName    string     `db:"counterparty_name"`
	CounterpartyAccount string     `db:"counterparty_account"`
	BankTxCode          string     `db:"bank_tx_code"`
	Info                string     `db:"info"`
	Transactions        []byte     `db:"transactions"`
}

func (r entryRow) entry() (Entry, error) {
	e := Entry{ID: r.ID, Seq: r.Seq, Entry: statement.Entry{Line: r.Line,
		Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, Reversal: r.Reversal, Status: r.Status,
		Refs: statement.Refs{EndToEndID: r.EndToEndID, AccountServicerRef: r.AccountServicerRef,
			Reference: r.Reference, RemittanceInfo: r.RemittanceInfo, CreditorRef: r.CreditorRef,
			CounterpartyName: r.CounterpartyName, CounterpartyAccount: r.CounterpartyAccount,
			BankTxCode: r.BankTxCode, Info: r.Info}}}
	if r.BookingDate != nil {
		e.BookingDate = dateOf(*r.BookingDate)
	}
	if r.ValueDate != nil {
		e.ValueDate = dateOf(*r.ValueDate)
	}
	if len(r.Transactions) > 0 {
		var txs []txJSON
		if err := json.Unmarshal(r.Transactions, &txs); err != nil {
			return Entry{}, fmt.Errorf("bank entry %d transactions: %w", r.ID, err)
		}
		for _, t := range txs {
			e.Transactions = append(e.Transactions, statement.Transaction{Line: t.Line,
				Amount: money.Money{Minor: t.AmountMinor, Currency: t.Currency}, Refs: statement.Refs(t.refsJSON)})
		}
	}
	return e, nil
}

// Entries returns a page of a statement's entries in statement order,
// after the cursor (a position).
func (s *Store) Entries(ctx context.Context, statementID int64, cursor string, limit int) (Page[Entry], error) {
	const q = `SELECT id, seq, line, booking_date, value_date, amount_minor, currency, reversal, status,
		end_to_end_id, account_servicer_ref, reference, remittance_info, creditor_ref, counterparty_name,
		counterparty_account, bank_tx_code, info, transactions
		FROM bank_entries WHERE statement_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`
	var after int64
	if cursor != "" {
		n, err := postgres.DecodeIDCursor(cursor)
		if err != nil {
			return Page[Entry]{}, &InvalidError{Field: "entries_cursor", Reason: "not a cursor this API issued"}
		}
		after = n
	}
	var rows []entryRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, statementID, after, limit+1); err != nil {
		return Page[Entry]{}, fmt.Errorf("entries of bank statement %d: %w", statementID, err)
	}
	var page Page[Entry]
	for i, r := range rows {
		if i == limit {
			page.Next = postgres.EncodeIDCursor(int64(page.Items[limit-1].Seq))
			break
		}
		e, err := r.entry()
		if err != nil {
			return Page[Entry]{}, err
		}
		page.Items = append(page.Items, e)
	}
	return page, nil
}

// ---- findings ----

// chainRow is what chaining needs of a stored statement.
type chainRow struct {
	ID           int64      `db:"id"`
	StatementID  string     `db:"statement_id"`
	Line         int        `db:"line"`
	FromDate     time.Time  `db:"from_date"`
	ToDate       time.Time  `db:"to_date"`
	Currency     string     `db:"currency"`
	OpeningMinor *int64     `db:"opening_minor"`
	OpeningDate  *time.Time `db:"opening_date"`
	ClosingMinor *int64     `db:"closing_minor"`
	ClosingDate  *time.Time `db:"closing_date"`
}

// Neighbourhood returns the account's statements whose first day lies
// from the last first day before from up to the first one after to, in
// chain order (first day, last day, arrival): the statements whose
// chaining a statement starting within [from, to] can change, with the
// one before them first.
func (s *Store) Neighbourhood(ctx context.Context, accountID int64, from, to time.Time) ([]chainRow, error) {
	const q = `
		WITH lo AS (SELECT COALESCE(max(from_date), $2::date) AS d FROM bank_statements
		            WHERE account_id = $1 AND from_date < $2::date),
		     hi AS (SELECT COALESCE(min(from_date), $3::date) AS d FROM bank_statements
		            WHERE account_id = $1 AND from_date > $3::date)
		SELECT id, statement_id, line, from_date, to_date, currency, opening_minor, opening_date,
		       closing_minor, closing_date
		FROM bank_statements, lo, hi
		WHERE account_id = $1 AND from_date BETWEEN lo.d AND hi.d
		ORDER BY from_date, to_date, id`
	var rows []chainRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, accountID, dateParam(from), dateParam(to)); err != nil {
		return nil, fmt.Errorf("statements around %s of bank account %d: %w", from.Format(time.DateOnly), accountID, err)
	}
	return rows, nil
}

// DeleteChainFindings removes the balance-break and missing-day findings
// of the statements, which are about to be found again.
func (s *Store) DeleteChainFindings(ctx context.Context, ids []int64) error {
	const q = `DELETE FROM bank_statement_findings WHERE statement_id = ANY($1) AND kind IN ($2, $3)`
	if _, err := s.db.ExecContext(ctx, q, postgres.Array(ids), string(statement.BalanceBreak),
		string(statement.DayMissing)); err != nil {
		return fmt.Errorf("delete chain findings: %w", err)
	}
	return nil
}

// AddFindings stores findings.
func (s *Store) AddFindings(ctx context.Context, fs []Finding) error {
	const q = `INSERT INTO bank_statement_findings (statement_id, kind, line, previous_statement_id, expected_minor,
		actual_minor, currency, missing_from, missing_to, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	for _, f := range fs {
		var prev, expected, actual, ccy any
		if f.PreviousStatementID != 0 {
			prev = f.PreviousStatementID
		}
		if f.Expected.Currency != "" {
			expected, actual, ccy = f.Expected.Minor, f.Actual.Minor, f.Expected.Currency
		}
		if _, err := s.db.ExecContext(ctx, q, f.StatementID, string(f.Kind), f.Line, prev, expected, actual, ccy,
			dateParam(f.MissingFrom), dateParam(f.MissingTo), f.Detail, f.CreatedAt); err != nil {
			return fmt.Errorf("insert finding of bank statement %d: %w", f.StatementID, err)
		}
	}
	return nil
}

// SetStatuses sets each statement's status from its findings and balances.
func (s *Store) SetStatuses(ctx context.Context, ids []int64) error {
	const q = `UPDATE bank_statements s SET status = CASE
			WHEN EXISTS (SELECT 1 FROM bank_statement_findings f WHERE f.statement_id = s.id) THEN 'FINDINGS'
			WHEN s.opening_minor IS NULL OR s.closing_minor IS NULL THEN 'UNCHECKED'
			ELSE 'OK' END
		WHERE s.id = ANY($1)`
	if _, err := s.db.ExecContext(ctx, q, postgres.Array(ids)); err != nil {
		return fmt.Errorf("set bank statement statuses: %w", err)
	}
	return nil
}

type findingRow struct {
	ID                  int64      `db:"id"`
	StatementID         int64      `db:"statement_id"`
	Kind                string     `db:"kind"`
	Line                int        `db:"line"`
	PreviousStatementID *int64     `db:"previous_statement_id"`
	ExpectedMinor       *int64     `db:"expected_minor"`
	ActualMinor         *int64     `db:"actual_minor"`
	Currency            *string    `db:"currency"`
	MissingFrom         *time.Time `db:"missing_from"`
	MissingTo           *time.Time `db:"missing_to"`
	Detail              string     `db:"detail"`
	CreatedAt           time.Time  `db:"created_at"`
}

func (r findingRow) finding() Finding {
	f := Finding{ID: r.ID, StatementID: r.StatementID, Kind: statement.Kind(r.Kind), Line: r.Line, Detail: r.Detail,
		CreatedAt: r.CreatedAt.UTC()}
	if r.PreviousStatementID != nil {
		f.PreviousStatementID = *r.PreviousStatementID
	}
	if r.Currency != nil && r.ExpectedMinor != nil && r.ActualMinor != nil {
		f.Expected = money.Money{Minor: *r.ExpectedMinor, Currency: *r.Currency}
		f.Actual = money.Money{Minor: *r.ActualMinor, Currency: *r.Currency}
	}
	if r.MissingFrom != nil && r.MissingTo != nil {
		f.MissingFrom, f.MissingTo = dateOf(*r.MissingFrom), dateOf(*r.MissingTo)
	}
	return f
}

// Findings returns the findings of the statements, by statement, each
// statement's in id order.
func (s *Store) Findings(ctx context.Context, ids []int64) (map[int64][]Finding, error) {
	const q = `SELECT id, statement_id, kind, line, previous_statement_id, expected_minor, actual_minor, currency,
		missing_from, missing_to, detail, created_at
		FROM bank_statement_findings WHERE statement_id = ANY($1) ORDER BY id`
	var rows []findingRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, postgres.Array(ids)); err != nil {
		return nil, fmt.Errorf("bank statement findings: %w", err)
	}
	out := make(map[int64][]Finding, len(ids))
	for _, r := range rows {
		out[r.StatementID] = append(out[r.StatementID], r.finding())
	}
	return out, nil
}

// ---- values ----

// dateOf is the UTC midnight of t's calendar date; a date column scans in
// the session's zone.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateParam binds a calendar date as text, so that no time zone can move
// it; NULL for the zero time.
func dateParam(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.DateOnly)
}

// nonNil makes a nil list an empty array rather than NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
