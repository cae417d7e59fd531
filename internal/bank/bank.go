// Package bank owns the merchant's bank accounts and the statements of
// them (issue 18): the accounts APO pays out into (bank_accounts), every
// statement file kept in custody like APO's reports — archived by SHA-256,
// never ingested twice, refused whole when a line is bad — with its
// statements and bookings (bank_statements, bank_entries), and what
// statement.Check finds about them (bank_statement_findings).
//
// Reading the layouts (camt.053, MT940, CSV with a mapping) is
// bank/statement's; matching payouts to bank credits builds on this
// package and is not part of it.
package bank

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/money"
)

// Account is a bank account APO pays out into. Statements are told to
// belong to it by the IBAN or the number they carry, so each is unique
// among the accounts.
type Account struct {
	ID   int64
	Name string // for people
	// IBAN is a valid IBAN, upper case without spaces; "" when only a
	// number identifies the account.
	IBAN string
	// Number is the account's identification as statements write it when
	// they give no IBAN (an MT940 :25: "BLZ/account", a camt Othr/Id); may
	// be "" when the IBAN is enough.
	Number   string
	Currency string
	// SettlementCurrency is the APO settlement currency whose payouts
	// arrive in this account.
	SettlementCurrency string
	// Remitters are the names and identifiers that mark APO's credits in
	// the counterparty or remittance fields, for payout matching.
	Remitters []string
	// CSVMapping is the JSON mapping of the bank's CSV export
	// (statement.ParseMapping), nil when the bank sends camt.053 or MT940.
	CSVMapping []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// holds reports whether a statement's account identification is this
// account: its IBAN, or, when the statement gives no IBAN, its number.
func (a Account) holds(id statement.Account) bool {
	if id.IBAN != "" {
		return id.IBAN == a.IBAN
	}
	return id.Number != "" && id.Number == a.Number
}

// NewAccount is what configuring an account takes.
type NewAccount struct {
	Name, IBAN, Number           string
	Currency, SettlementCurrency string
	Remitters                    []string
	CSVMapping                   []byte // nil for none
}

// AccountChange changes an account. Nil fields are left as they are;
// CSVMapping pointing at an empty value removes the mapping. The IBAN,
// number and currency are not changeable: the statements ingested for the
// account are of that account.
type AccountChange struct {
	Name               *string
	SettlementCurrency *string
	Remitters          *[]string
	CSVMapping         *[]byte
}

// Source says how a statement file arrived.
type Source string

// Sources.
const (
	SourceUpload Source = "upload" // POST /v1/bank/statements
	SourceDir    Source = "dir"    // found by ScanDir
	SourceSFTP   Source = "sftp"   // pulled by PullSFTP
)

// Status is what the checks say about a statement.
type Status string

// Statuses, kept with the statement's findings.
const (
	StatusOK        Status = "OK"        // its entries add up, its balances chain, no day before it is missing
	StatusFindings  Status = "FINDINGS"  // it has findings
	StatusUnchecked Status = "UNCHECKED" // it carries no balances: its sum and chaining were not checked
)

// FileRef is the file a statement was read from.
type FileRef struct {
	Name       string
	SHA256     string // hex, of the whole file
	Size       int64
	Source     Source
	SourcePath string // a scanned file's path under its directory
}

// Statement is a stored bank statement.
type Statement struct {
	ID          int64
	AccountID   int64
	Format      statement.Format
	StatementID string // the bank's: camt Stmt/Id, MT940 :20:, a CSV's file name
	Sequence    string
	FromDate    time.Time
	ToDate      time.Time
	Currency    string
	Opening     statement.Balance
	Closing     statement.Balance
	// BankCreatedAt is when the bank made it (camt only); zero otherwise.
	BankCreatedAt time.Time
	Entries       int
	Line          int // where it starts in its file
	File          FileRef
	Status        Status
	CreatedAt     time.Time
	// Findings are the statement's findings, when the statement was read
	// with them (GetStatement, Ingest).
	Findings []Finding
}

// Entry is a stored booking: the statement's entry with its place.
type Entry struct {
	ID  int64
	Seq int // position in its statement, from 1
	statement.Entry
}

// Finding is a stored result of statement.Check: Kind is SumMismatch,
// BalanceBreak or DayMissing (a statement without balances is
// StatusUnchecked instead of a finding).
type Finding struct {
	ID          int64
	StatementID int64
	Kind        statement.Kind
	Line        int
	// PreviousStatementID is the statement before, for BalanceBreak and
	// DayMissing; 0 otherwise.
	PreviousStatementID int64
	// Expected and Actual are as in statement.Finding; their Currency is
	// "" when the finding is not about amounts.
	Expected, Actual money.Money
	// MissingFrom and MissingTo are the first and last missing day, for
	// DayMissing.
	MissingFrom, MissingTo time.Time
	Detail                 string
	CreatedAt              time.Time
}

// File is what ingesting one statement file did.
type File struct {
	Name   string
	SHA256 string // hex
	Size   int64
	Format statement.Format
	Source Source
	// Statements are the file's statements with their findings, in file
	// order: those just stored, or, for a Duplicate, those stored when the
	// same content arrived first.
	Statements []Statement
	// Duplicate is set when the same content had been ingested before:
	// nothing was stored again.
	Duplicate bool
}

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Items []T
	Next  string // cursor of the next page; "" on the last
}

// Errors callers may test for with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrUnknownAccount is a statement for an account that is not
	// configured (a *RefusedError wraps it).
	ErrUnknownAccount = errors.New("bank account not configured")
	// ErrDuplicateStatement is a statement already ingested from another
	// file, or twice in one (a *RefusedError wraps it).
	ErrDuplicateStatement = errors.New("statement already ingested")
)

// InvalidError reports a request that breaks a rule.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError reports a change the stored state forbids.
type ConflictError struct{ Rule string }

func (e *ConflictError) Error() string { return e.Rule }

// RefusedError is a statement file refused whole: nothing of it was
// stored, and it was not archived. Lines lists the problems placed in the
// file (all of them up to statement.Limits.MaxErrors, the rest counted in
// Omitted); Err is the sentinel of the refusal, when there is one:
// ErrUnknownAccount, ErrDuplicateStatement, statement.ErrFormat or
// statement.ErrTooLarge. Bad entries have none: their Lines say it all.
type RefusedError struct {
	File    string
	Reason  string
	Lines   []*statement.LineError
	Omitted int
	Err     error
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	b.WriteString(e.File + ": " + e.Reason)
	for i, l := range e.Lines {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Lines)-3+e.Omitted)
			break
		}
		b.WriteString("; " + strings.TrimPrefix(l.Error(), l.File+":"))
	}
	return b.String()
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Problem is one thing wrong in a refused file: where ("<file>:<line>", or
// the file) and what.
type Problem struct{ Where, Message string }

// Problems lists what is wrong in the file, one per bad line (and a last
// one counting the lines left out), for the API and the console alike.
func (e *RefusedError) Problems() []Problem {
	if len(e.Lines) == 0 {
		return []Problem{{e.File, e.Reason}}
	}
	out := make([]Problem, 0, len(e.Lines)+1)
	for _, l := range e.Lines {
		p := Problem{e.File, l.Reason}
		if l.Line > 0 {
			p.Where += ":" + strconv.Itoa(l.Line)
		}
		if l.Field != "" {
			p.Message = l.Field + ": " + p.Message
		}
		if l.Err != nil {
			p.Message += ": " + l.Err.Error()
		}
		out = append(out, p)
	}
	if e.Omitted > 0 {
		out = append(out, Problem{e.File, fmt.Sprintf("… and %d more bad lines", e.Omitted)})
	}
	return out
}
