// Package recon owns reconciliation against Antom APO's reports
// (design.md §8): report files archived and staged line by line
// (report_files, report_lines), runs that match them in bulk against the
// payments ledger (recon_runs), the discrepancies they find with their owner
// workflow (discrepancies), and the Excel/CSV exports for finance
// (recon_exports). Parsing of APO's file format lives in recon/report.
package recon

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// Kind is a kind of discrepancy.
type Kind string

// Discrepancy kinds (design.md §8).
const (
	MissingInLedger    Kind = "MISSING_IN_LEDGER"    // a report line we have no record of
	MissingInReport    Kind = "MISSING_IN_REPORT"    // our successful transaction absent from its day's transaction details, or a capture/refund overdue in settlement
	AmountMismatch     Kind = "AMOUNT_MISMATCH"      // same transaction, different amount
	CurrencyMismatch   Kind = "CURRENCY_MISMATCH"    // same transaction, different currency
	StatusMismatch     Kind = "STATUS_MISMATCH"      // report says success where we say failed (or unknown), or the reverse
	DuplicateInReport  Kind = "DUPLICATE_IN_REPORT"  // the same transaction twice in one report kind
	BatchTotalMismatch Kind = "BATCH_TOTAL_MISMATCH" // settlement items do not add up to the summary
	FXMismatch         Kind = "FX_MISMATCH"          // settlement amount ≠ transaction amount × quote beyond rounding

	// Payouts against the bank (internal/payout), judged through PayoutChecker.
	PayoutNotReceived     Kind = "PAYOUT_NOT_RECEIVED"     // due, the account's statements cover the due date, no credit
	PayoutAmountMismatch  Kind = "PAYOUT_AMOUNT_MISMATCH"  // credited short or over beyond the fee tolerance
	PayoutLate            Kind = "PAYOUT_LATE"             // credited after its due date
	BankCreditUnexplained Kind = "BANK_CREDIT_UNEXPLAINED" // a credit from APO's remitter that no payout explains
	PayoutDuplicated      Kind = "PAYOUT_DUPLICATED"       // a credit for a payout other credits had already paid

	// Journals of the run's batches (internal/journal), checked through
	// JournalChecker.
	JournalUnbalanced          Kind = "JOURNAL_UNBALANCED"           // a batch's journal cannot balance in its settlement currency
	JournalRollForwardMismatch Kind = "JOURNAL_ROLLFORWARD_MISMATCH" // a batch's journal would not tie to its roll-forward
)

// Kinds lists every discrepancy kind, in the order exports show them.
var Kinds = []Kind{MissingInLedger, MissingInReport, AmountMismatch, CurrencyMismatch, StatusMismatch,
	DuplicateInReport, BatchTotalMismatch, FXMismatch,
	PayoutNotReceived, PayoutAmountMismatch, PayoutLate, BankCreditUnexplained, PayoutDuplicated,
	JournalUnbalanced, JournalRollForwardMismatch}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Status is where a discrepancy is in its owner workflow.
type Status string

// Discrepancy statuses: OPEN → RESOLVED or IGNORED, and back to OPEN
// (reopened), each move with a note and an actor.
const (
	StatusOpen     Status = "OPEN"
	StatusResolved Status = "RESOLVED"
	StatusIgnored  Status = "IGNORED"
)

// Change says how a discrepancy relates to the previous run of its period.
type Change string

// Changes. A discrepancy of the previous run that is gone is "healed": its
// row in that run gets HealedByRunID.
const (
	ChangeNew     Change = "NEW"     // not in the previous run
	ChangeChanged Change = "CHANGED" // same identity, different amounts or details (reopened)
	ChangeSame    Change = "SAME"    // unchanged (keeps its status, note and actor)
)

// FileStatus is the outcome of ingesting a file.
type FileStatus string

// File statuses.
const (
	FileIngested   FileStatus = "INGESTED"   // parsed whole, lines staged, ready to reconcile
	FileIncomplete FileStatus = "INCOMPLETE" // no <END> trailer: held back, not reconciled
	FileFailed     FileStatus = "FAILED"     // bad header or bad lines: nothing staged, Error says where
)

// Origin says how a file arrived.
type Origin string

// Origins.
const (
	OriginUpload Origin = "upload" // POST /v1/recon/reports
	OriginDir    Origin = "dir"    // found in RECON_REPORTS_DIR
	OriginSFTP   Origin = "sftp"
)

// File is an archived report file.
type File struct {
	ID                 int64
	Name               string // base name as APO named it
	Kind               report.Kind
	Format             report.Format
	CustomerID         string    // from the <customerId>/<yyyyMMdd>/ layout, when used
	ReportDate         time.Time // transaction or settlement date; zero when unknown
	BatchID            string
	SettlementCurrency string
	Seq                int
	SHA256             string // hex
	Size               int64
	ArchivePath        string
	Origin             Origin
	SourcePath         string
	Status             FileStatus
	Error              string
	Lines              int // records staged (INGESTED) or read
	BadLines           int
	ReceivedAt         time.Time

	// Duplicate is set by Ingest when the same content had already arrived:
	// the File is that earlier record and nothing was ingested again.
	Duplicate bool
}

// RunStatus is a run's state.
type RunStatus string

// Run statuses.
const (
	RunQueued    RunStatus = "QUEUED"
	RunRunning   RunStatus = "RUNNING"
	RunSucceeded RunStatus = "SUCCEEDED"
	RunFailed    RunStatus = "FAILED"
)

// RunRequest says what to reconcile: every ingested file of a date (the
// transaction items of that day, the settlement files of batches settled
// that day, and their summaries), or exactly the listed files.
type RunRequest struct {
	Date    time.Time // UTC day; ignored when FileIDs is set
	FileIDs []int64
}

// Input is one file a run read.
type Input struct {
	FileID     int64
	Name       string
	Kind       report.Kind
	SHA256     string
	Lines      int
	ReportDate time.Time
}

// Counts are a run's numbers.
type Counts struct {
	Lines           map[report.Kind]int64 // input lines per report kind
	LinesByType     map[string]int64      // input item lines per "<report kind>/<transactionType>"
	Matched         int64                 // item lines matched to a ledger record
	RollForwardOnly int64                 // fee, reserve, dispute and other lines: checked through batch totals only
	LedgerChecked   int64                 // our captures/refunds that had to be in the inputs
	Expected        int64                 // our captures/refunds settled in no report yet and not yet due
	Discrepancies   map[Kind]int64
	Payouts         PayoutCounts // what the PayoutChecker registered, matched and judged
}

// PayoutCounts sum up a run's payout check (internal/payout).
type PayoutCounts struct {
	Expected          int64 // batches of the run registered as expected payouts
	Matched           int64 // bank credits linked to payouts by this run
	AwaitingStatement int64 // payouts due in the period whose account's statements do not reach the due date yet
	Judged            int64 // payouts and credits judged in the period
}

// Total sums one discrepancy kind in one currency.
type Total struct {
	Kind        Kind
	Currency    string
	Count       int64
	ReportMinor int64 // sum of the report's amounts
	OurMinor    int64 // sum of ours
	// Saturated says a sum went beyond the int64 range of minor units and
	// is shown at the range's bound (only amounts stored before the
	// ceiling, or very many near it, can do that).
	Saturated bool
}

// Batch is one settlement batch's roll-forward: the items' settlement
// amounts by class, signed by their effect on the payout, against the
// summary. All amounts are minor units of Currency.
type Batch struct {
	BatchID      string
	Currency     string
	Items        int64 // settlement item lines
	Captures     int64 // + captures (and PAYMENT lines)
	Refunds      int64 // − refunds
	Disputes     int64 // − disputes, + dispute reversals
	Fees         int64 // − per-line fees and SETTLEMENT_FEE lines
	Reserves     int64 // − withholdings, + releases (reserve and collateral)
	Other        int64 // reversals and types we do not class, as signed in the file
	Computed     int64 // the sum of the above
	Summary      int64 // the summary's settlement amount
	HasSummary   bool
	SummaryCount int64 // the summary's count, when it gives one
	Residual     int64 // Summary − Computed
	// Convention is how the items' amounts were read (gross or net, signs
	// by type or as written: see rollForward); empty when no reading adds
	// up to the summary.
	Convention string
	Saturated  bool // a sum went beyond the int64 range and stopped at its bound: the batch cannot be checked
}

// Diff compares a run with the previous run of its period.
type Diff struct {
	PreviousRunID int64
	New           int64
	Changed       int64
	Same          int64
	Healed        int64
}

// Timings are where a run spent its time: streaming the lines through the
// ledger join (Stage), fallback matches and line checks (Match), our
// transactions the reports must hold (Ledger), roll-forward, writing
// discrepancies and timeline entries (Batches), and the diff.
type Timings struct {
	Stage, Match, Ledger, Batches, Diff, Total time.Duration
}

// Run is one reconciliation run.
type Run struct {
	ID       int64
	Period   time.Time
	Request  RunRequest
	Inputs   []Input
	Status   RunStatus
	Phase    string
	Progress int // percent
	Counts   Counts
	Totals   []Total
	Batches  []Batch
	Diff     Diff
	Timings  Timings
	// Exports are the files the nightly export wrote for the run, oldest
	// first; only GetRun fills them.
	Exports    []Export
	Actor      string
	Error      string
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// Discrepancy is one break a run found.
type Discrepancy struct {
	ID            int64
	RunID         int64
	Period        time.Time // the run's
	Kind          Kind
	Fingerprint   string // stable identity across runs of the same inputs
	Change        Change
	HealedByRunID int64 // set on this row when a later run of the period no longer finds it
	Status        Status
	Note          string     // of the last status change
	Actor         string     // who made it
	ResolvedAt    *time.Time // when it was closed; nil while OPEN

	ReportKind            report.Kind
	TransactionType       string
	TransactionID         string
	TransactionRequestID  string
	OriginalTransactionID string
	SettlementBatchID     string
	PaymentID             string // ours
	LedgerTransactionID   string // ours (payment_transactions.id)
	Ours                  report.Amount
	Report                report.Amount
	FileID                int64
	FileName              string
	Line                  int
	Details               json.RawMessage
	CreatedAt             time.Time
}

// Amount is what the discrepancy is about, in one currency: the report's
// amount when the report gives one, else ours (MISSING_IN_REPORT); not
// valid when neither does. CurrentFilter's amount filters compare it, and
// summaries and bulk totals add it up, never across currencies.
func (d Discrepancy) Amount() report.Amount {
	if d.Report.Valid {
		return d.Report
	}
	return d.Ours
}

// DiscrepancyFilter selects a run's discrepancies. Zero fields do not filter.
type DiscrepancyFilter struct {
	RunID  int64
	Kind   Kind
	Status Status
	Change Change
	Cursor string // from the previous page's Next
	Limit  int    // default 50, at most 500
}

// CurrentFilter selects among the discrepancies of the latest succeeded
// run of each period (Service.CurrentDiscrepancies). Zero fields do not
// filter.
type CurrentFilter struct {
	RunID  int64 // only this run's, which must be its period's latest
	Kind   Kind
	Status Status
	// Currency, MinMinor and MaxMinor filter on Discrepancy.Amount; the
	// bounds are inclusive, on the amount's size whatever its sign, in minor
	// units of Currency, which they need.
	Currency   string
	MinMinor   *int64
	MaxMinor   *int64
	PeriodFrom time.Time // periods from this date on
	PeriodTo   time.Time // periods up to this date, inclusive
	// OlderThanDays keeps periods more than this many days before today
	// (UTC): 7 on the 10th lists periods up to the 2nd.
	OlderThanDays int
	Sort          string // one of Sorts; "" is SortAge
	Dir           string // "asc" or "desc"; "" is DefaultDir(Sort)
	Cursor        string // from the previous page's Next, in the same order
	Limit         int    // default 50, at most 500
}

// RunFilter selects runs, newest first.
type RunFilter struct {
	Period time.Time // zero: every period
	Status RunStatus
	Cursor string
	Limit  int // default 50, at most 200
}

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Items []T
	Next  string // empty on the last page
}

// Errors callers may test for with errors.Is.
var (
	ErrNotFound = errors.New("not found")
)

// InvalidError reports a request that breaks a rule (HTTP 422).
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError reports an action the current state forbids (HTTP 409).
type ConflictError struct{ Rule string }

func (e *ConflictError) Error() string { return e.Rule }

// ParseError is a file that could not be read: its header, or some of its
// lines. The file is archived and recorded as FAILED; nothing was staged.
type ParseError struct {
	File  File
	Lines []*report.LineError // the first maxLineErrors bad lines, in file order
	Total int                 // bad lines in all
	Cause error               // a header or I/O problem, when that is what failed
}

// LineProblem is one place a ParseError found at fault, as people read
// it: Where is "<file>:<line>" (the file's name when the whole file is at
// fault) and Message what is wrong there.
type LineProblem struct{ Where, Message string }

// Problems lists e's bad lines in file order, then how many more there
// were beyond those kept; a file refused whole (its header, a read) is one
// problem. The API and the console show uploads' errors from it.
func (e *ParseError) Problems() []LineProblem {
	name := e.File.Name
	if e.Cause != nil || len(e.Lines) == 0 {
		return []LineProblem{{name, e.Error()}}
	}
	out := make([]LineProblem, 0, len(e.Lines)+1)
	for _, l := range e.Lines {
		msg := l.Reason
		if l.Column != "" {
			msg = l.Column + ": " + l.Reason
		}
		out = append(out, LineProblem{l.File + ":" + strconv.Itoa(l.Line), msg})
	}
	if e.Total > len(e.Lines) {
		out = append(out, LineProblem{name, fmt.Sprintf("… and %d more bad lines", e.Total-len(e.Lines))})
	}
	return out
}

// maxLineErrors bounds the bad lines a ParseError (and the file's stored
// error) lists; the count is always exact.
const maxLineErrors = 20

func (e *ParseError) Error() string {
	if e.Cause != nil {
		return e.Cause.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad line(s)", e.File.Name, e.Total)
	for i, l := range e.Lines {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(l.Error())
	}
	if e.Total > len(e.Lines) {
		fmt.Fprintf(&b, "; … and %d more", e.Total-len(e.Lines))
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Cause }

// amountOf makes a report.Amount from nullable columns.
func amountOf(minor *int64, ccy string) report.Amount {
	if minor == nil || ccy == "" {
		return report.Amount{}
	}
	return report.Amount{Money: money.Money{Minor: *minor, Currency: ccy}, Valid: true}
}
