package bank

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/sftppull"
)

// Config configures the service. Zero fields take the defaults named.
type Config struct {
	// ArchiveDir keeps every accepted statement file whole, named by its
	// SHA-256 (BANK_ARCHIVE_DIR). Default ".run/bank-archive".
	ArchiveDir string
	// Limits bound reading one statement file; zero fields take
	// statement.DefaultLimits (64 MiB, 100,000 entries, …).
	Limits statement.Limits
	// SFTP, when set, is the bank's SFTP server that Intake pulls from
	// before it scans the drop directory (BANK_SFTP_*).
	SFTP *sftppull.Config
}

// DefaultArchiveDir is Config.ArchiveDir's default.
const DefaultArchiveDir = ".run/bank-archive"

// Service configures bank accounts, ingests their statement files and
// reads them back.
type Service struct {
	db  *sqlx.DB
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// NewService returns a service over db.
func NewService(db *sqlx.DB, cfg Config, log *slog.Logger) *Service {
	if cfg.ArchiveDir == "" {
		cfg.ArchiveDir = DefaultArchiveDir
	}
	if cfg.Limits.MaxBytes <= 0 {
		// The archive copy is bounded too, before any parser sees the file.
		cfg.Limits.MaxBytes = statement.DefaultLimits.MaxBytes
	}
	return &Service{db: db, cfg: cfg, log: log, now: time.Now}
}

// Bounds of an account's configuration.
const (
	maxName      = 200
	maxNumber    = 64
	maxRemitters = 50
	maxRemitter  = 140
)

// CreateAccount configures a bank account. Its IBAN (checked with its
// check digits) or number, or both, must be unique among the accounts; a
// CSV mapping must be readable and say which account a file is of, so
// that a CSV file can be told to be this account's.
func (s *Service) CreateAccount(ctx context.Context, in NewAccount) (Account, error) {
	a := Account{Name: strings.TrimSpace(in.Name), Currency: in.Currency, SettlementCurrency: in.SettlementCurrency,
		Remitters: in.Remitters, CSVMapping: in.CSVMapping}
	if in.IBAN != "" {
		id := statement.ParseAccount(in.IBAN)
		if id.IBAN == "" {
			return Account{}, &InvalidError{Field: "iban", Reason: "not a valid IBAN (its form or check digits are wrong)"}
		}
		a.IBAN = id.IBAN
	}
	if in.Number != "" {
		id := statement.ParseAccount(in.Number)
		switch {
		case id.IBAN != "":
			return Account{}, &InvalidError{Field: "account_number", Reason: "this is an IBAN: give it as iban"}
		case id.Number == "" || len(id.Number) > maxNumber || !text(id.Number):
			return Account{}, &InvalidError{Field: "account_number",
				Reason: fmt.Sprintf("want the account's identification as its statements write it, up to %d characters", maxNumber)}
		}
		a.Number = id.Number
	}
	if a.IBAN == "" && a.Number == "" {
		return Account{}, &InvalidError{Field: "iban", Reason: "give the IBAN, the account number, or both"}
	}
	if !money.Known(a.Currency) {
		return Account{}, &InvalidError{Field: "currency", Reason: fmt.Sprintf("%q is not an ISO 4217 currency", a.Currency)}
	}
	if err := checkAccount(&a); err != nil {
		return Account{}, err
	}
	a.CreatedAt = s.now().UTC()
	return NewStore(s.db).CreateAccount(ctx, a)
}

// UpdateAccount changes an account's name, settlement currency,
// remitters or CSV mapping, under the rules of CreateAccount.
func (s *Service) UpdateAccount(ctx context.Context, id int64, ch AccountChange) (Account, error) {
	var out Account
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		a, err := st.Account(ctx, id, true)
		if err != nil {
			return err
		}
		if ch.Name != nil {
			a.Name = strings.TrimSpace(*ch.Name)
		}
		if ch.SettlementCurrency != nil {
			a.SettlementCurrency = *ch.SettlementCurrency
		}
		if ch.Remitters != nil {
			a.Remitters = *ch.Remitters
		}
		if ch.CSVMapping != nil {
			a.CSVMapping = *ch.CSVMapping
		}
		if err := checkAccount(&a); err != nil {
			return err
		}
		a.UpdatedAt = s.now().UTC()
		out, err = st.UpdateAccount(ctx, a)
		return err
	})
	return out, err
}

// checkAccount checks the changeable fields of an account and trims its
// remitters.
func checkAccount(a *Account) error {
	if a.Name == "" || len(a.Name) > maxName || !text(a.Name) {
		return &InvalidError{Field: "name", Reason: fmt.Sprintf("want a name of 1 to %d characters", maxName)}
	}
	if !money.Known(a.SettlementCurrency) {
		return &InvalidError{Field: "settlement_currency",
			Reason: fmt.Sprintf("%q is not an ISO 4217 currency", a.SettlementCurrency)}
	}
	if len(a.Remitters) > maxRemitters {
		return &InvalidError{Field: "remitters", Reason: fmt.Sprintf("at most %d", maxRemitters)}
	}
	trimmed := make([]string, len(a.Remitters))
	for i, r := range a.Remitters {
		if r = strings.TrimSpace(r); r == "" || len(r) > maxRemitter || !text(r) {
			return &InvalidError{Field: fmt.Sprintf("remitters[%d]", i),
				Reason: fmt.Sprintf("want a name or identifier of 1 to %d characters", maxRemitter)}
		}
		trimmed[i] = r
	}
	a.Remitters = trimmed
	if len(a.CSVMapping) == 0 {
		return nil
	}
	m, err := statement.ParseMapping(bytes.NewReader(a.CSVMapping))
	if err != nil {
		return &InvalidError{Field: "csv_mapping", Reason: strings.TrimPrefix(err.Error(), "mapping: ")}
	}
	switch {
	case m.Account != "" && !a.holds(statement.ParseAccount(m.Account)):
		return &InvalidError{Field: "csv_mapping", Reason: fmt.Sprintf("its account %q is not this account's", m.Account)}
	case m.Account == "" && m.Columns.Account == "":
		return &InvalidError{Field: "csv_mapping",
			Reason: "name the account (account) or its column (columns.account): a file is this account's when it says so"}
	case m.Currency != "" && m.Currency != a.Currency:
		return &InvalidError{Field: "csv_mapping", Reason: fmt.Sprintf("its currency %s is not the account's %s", m.Currency, a.Currency)}
	}
	return nil
}

// text reports whether s can be stored as text: UTF-8 without NUL.
func text(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// GetAccount returns an account.
func (s *Service) GetAccount(ctx context.Context, id int64) (Account, error) {
	return NewStore(s.db).Account(ctx, id, false)
}

// ListAccounts returns the accounts in id order, a page at a time (limit
// 1 to 200; other values mean 50).
func (s *Service) ListAccounts(ctx context.Context, cursor string, limit int) (Page[Account], error) {
	return NewStore(s.db).Accounts(ctx, cursor, postgres.PageLimit(limit), false)
}

// ListStatements returns statements newest first.
func (s *Service) ListStatements(ctx context.Context, f StatementFilter) (Page[Statement], error) {
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Page[Statement]{}, &InvalidError{Field: "to", Reason: "before from"}
	}
	return NewStore(s.db).Statements(ctx, f)
}

// GetStatement returns a statement with its findings.
func (s *Service) GetStatement(ctx context.Context, id int64) (Statement, error) {
	st := NewStore(s.db)
	out, err := st.Statement(ctx, id)
	if err != nil {
		return Statement{}, err
	}
	fs, err := st.Findings(ctx, []int64{id})
	if err != nil {
		return Statement{}, err
	}
	out.Findings = fs[id]
	return out, nil
}

// Findings returns the findings of the statements ids, by statement id, for
// a list that shows them beside each statement (ListStatements leaves
// them out). Statements without findings, or unknown, have no key.
func (s *Service) Findings(ctx context.Context, ids []int64) (map[int64][]Finding, error) {
	if len(ids) == 0 {
		return map[int64][]Finding{}, nil
	}
	return NewStore(s.db).Findings(ctx, ids)
}

// Most entries a page of ListEntries holds, and its default.
const (
	MaxEntriesPage     = 1000
	DefaultEntriesPage = 100
)

// ListEntries returns a page of a statement's entries, in statement order
// (limit 1 to MaxEntriesPage; other values mean DefaultEntriesPage). An
// unknown statement is ErrNotFound, not an empty page.
func (s *Service) ListEntries(ctx context.Context, statementID int64, cursor string, limit int) (Page[Entry], error) {
	if limit <= 0 || limit > MaxEntriesPage {
		limit = DefaultEntriesPage
	}
	st := NewStore(s.db)
	if _, err := st.Statement(ctx, statementID); err != nil {
		return Page[Entry]{}, err
	}
	return st.Entries(ctx, statementID, cursor, limit)
}
