// Package journal owns the books side of settlement: every APO settlement
// batch a reconciliation run rolled forward becomes a balanced double-entry
// journal in its settlement currency (journals, journal_lines), booked
// through the merchant's chart of accounts (journal_accounts), and exported
// for a period as generic CSV or in the import layouts of Xero, QuickBooks
// Online and NetSuite (docs/journal-exports.md).
//
// It reads reconciliation through recon's exported types and never the
// other way round: a journal is made of the lines recon.Store.BatchLines
// gives, read as the batch's roll-forward read them, and must tie to that
// roll-forward (recon.Batch) or it is not booked.
package journal

import (
	"errors"
	"time"
)

// Kind is a kind of journal line: what moved the payout.
type Kind string

// Line kinds. A journal line's side follows its effect on the payout: what
// adds to it is a credit, what takes from it a debit, and the payout itself
// is the debit of PAYOUT_CLEARING (a credit when the batch owes money).
const (
	CaptureGross       Kind = "CAPTURE_GROSS"       // captures and payments, before fees
	Refund             Kind = "REFUND"              // refunds to buyers
	RefundReversal     Kind = "REFUND_REVERSAL"     // refunds that failed and came back
	PaymentReversal    Kind = "PAYMENT_REVERSAL"    // payments returned after settling
	Chargeback         Kind = "CHARGEBACK"          // disputes lost (DISPUTE, RDR, CDRN)
	ChargebackReversal Kind = "CHARGEBACK_REVERSAL" // disputes won back
	FeeProcessing      Kind = "FEE_PROCESSING"      // processingFee, and any fee APO does not itemise
	FeeInterchange     Kind = "FEE_INTERCHANGE"
	FeeScheme          Kind = "FEE_SCHEME"
	FeeAcquirerMarkup  Kind = "FEE_ACQUIRER_MARKUP"
	FeeTax             Kind = "FEE_TAX"        // tax on fees (taxFee)
	FeeDispute         Kind = "FEE_DISPUTE"    // dispute handling and reversal fees
	FeeSettlement      Kind = "FEE_SETTLEMENT" // SETTLEMENT_FEE lines: the batch fee
	FeeAdjustment      Kind = "FEE_ADJUSTMENT" // ADJUSTMENT_FEE lines
	ReserveWithheld    Kind = "RESERVE_WITHHELD"
	ReserveReleased    Kind = "RESERVE_RELEASED"
	CollateralWithheld Kind = "COLLATERAL_WITHHELD"
	CollateralReleased Kind = "COLLATERAL_RELEASED"
	// FXDifference is what a cross-currency line settled beyond (or short
	// of) its transaction amount converted at its own quote.
	FXDifference Kind = "FX_DIFFERENCE"
	// Unclassified holds transaction types APO may add that we do not know;
	// the chart must map it like any other kind before such a journal is
	// exported.
	Unclassified   Kind = "UNCLASSIFIED"
	PayoutClearing Kind = "PAYOUT_CLEARING" // the payout, on its way to the bank
	// BankFee is an intermediary bank's charge taken off a payout, within
	// payout matching's tolerance (a receipt's line).
	BankFee Kind = "BANK_FEE"
	// Bank is the bank account a payout's credit reached (a receipt's
	// line); map it per currency, one account per bank account.
	Bank Kind = "BANK"
)

// Type is what a journal books.
type Type string

// Journal types: one journal of each per batch and currency.
const (
	Settlement Type = "SETTLEMENT" // the batch's settlement lines, clearing its payout
	Receipt    Type = "RECEIPT"    // the bank credit that paid the payout, clearing it
)

// Kinds lists every line kind, in the order a journal's lines come.
var Kinds = []Kind{CaptureGross, Refund, RefundReversal, PaymentReversal, Chargeback, ChargebackReversal,
	FeeProcessing, FeeInterchange, FeeScheme, FeeAcquirerMarkup, FeeTax, FeeDispute, FeeSettlement, FeeAdjustment,
	ReserveWithheld, ReserveReleased, CollateralWithheld, CollateralReleased, FXDifference, Unclassified,
	PayoutClearing, BankFee, Bank}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Line is one line of a journal: an amount in minor units of the
// journal's currency on one side, never both.
type Line struct {
	Kind        Kind
	Debit       int64
	Credit      int64
	Items       int64 // settlement lines behind it
	Description string
}

// Journal is a settlement batch's double-entry journal in its settlement
// currency. Its debits equal its credits, and its PAYOUT_CLEARING line is
// the batch's payout (the settlement summary's amount).
type Journal struct {
	ID       int64
	Type     Type // Settlement when empty
	BatchID  string
	Currency string
	Period   time.Time // the settlement date of the run that built it: the journal's date
	RunID    int64
	Payout   int64
	Items    int64 // settlement lines behind it
	Lines    []Line
	// Debits and Credits are its totals as stored, which List and Get
	// read (0 for a finding); Totals sums Lines instead.
	Debits, Credits int64
	BuiltAt         time.Time
	// AdjustsID is, for an adjustment, the journal of a closed month it
	// adjusts (0 otherwise). An adjustment's lines are the difference a
	// later run made, and its Period the first day of the first open month.
	AdjustsID int64
	// Status is BALANCED for a journal that was built, else the finding
	// kind that kept it from being built; Reason says why.
	Status string
	Reason string
}

// Totals returns the journal's debits and credits; ok is false when a sum
// leaves the int64 range.
func (j Journal) Totals() (debits, credits int64, ok bool) {
	ok = true
	for _, l := range j.Lines {
		var okD, okC bool
		debits, okD = add(debits, l.Debit)
		credits, okC = add(credits, l.Credit)
		ok = ok && okD && okC
	}
	return debits, credits, ok
}

// FindingKind is why a batch could not be journaled.
type FindingKind string

// Finding kinds.
const (
	// Unbalanced: the batch's lines cannot make a journal whose debits
	// equal its credits in the settlement currency (a fee in another
	// currency, a fee breakdown beyond the fee, a sum beyond int64).
	Unbalanced FindingKind = "JOURNAL_UNBALANCED"
	// RollForwardMismatch: the journal would not tie to the batch's
	// roll-forward (no summary, a residual, or lines other than the ones
	// the run rolled forward).
	RollForwardMismatch FindingKind = "JOURNAL_ROLLFORWARD_MISMATCH"
)

// Finding is a batch that could not be journaled, and why. It is kept in
// place of the journal's lines, and a period holding one is not exported.
type Finding struct {
	Kind     FindingKind
	BatchID  string
	Currency string
	Reason   string
}

// Outcome is what building a batch's journal did.
type Outcome string

// Outcomes.
const (
	Built     Outcome = "BUILT"     // a new journal, or the journal of an earlier run of the period rebuilt in place
	Unchanged Outcome = "UNCHANGED" // this run had built it already: a replay
	// Superseded: a later run of the period built the journal, which stays
	// as that run made it.
	Superseded Outcome = "SUPERSEDED"
	// BookedElsewhere: the batch's journal belongs to another period (the
	// batch came again in this period's reports), so it is not booked twice.
	BookedElsewhere Outcome = "BOOKED_ELSEWHERE"
	// Adjusted: the journal's month is closed (or it was adjusted before),
	// so the change was booked as an adjustment in the first open month.
	Adjusted Outcome = "ADJUSTED"
	// Locked: the journal's month is closed and the batch could not be
	// journaled (its Finding says why); nothing was written, since a
	// finding cannot be an adjustment.
	Locked Outcome = "LOCKED"
)

// Result is what BuildRun did with one batch.
type Result struct {
	Type      Type
	BatchID   string
	Currency  string
	JournalID int64
	Outcome   Outcome
	Finding   *Finding // set when the batch could not be journaled
}

// InvalidError reports a request that breaks a rule.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// add returns a + b, and false when the sum leaves the int64 range.
func add(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// ErrNotFound reports a journal that does not exist.
var ErrNotFound = errors.New("journal not found")

// Filter selects journals for a list: by date (inclusive), status
// (BALANCED or a finding kind), batch and currency; zero values select
// all. Pages come newest first; Cursor is the previous page's Next.
type Filter struct {
	From, To time.Time
	Status   string
	BatchID  string
	Currency string
	Cursor   string
	Limit    int
}

// Page is one page of a list; Next is empty on the last.
type Page struct {
	Items []Journal
	Next  string
}

// typ is the journal's type, Settlement unless it says otherwise.
func (j Journal) typ() Type {
	if j.Type == "" {
		return Settlement
	}
	return j.Type
}
