// Package payout matches APO's payouts to the bank credits that paid them
// (issue 18): every settlement batch with a positive summary becomes an
// expected payout (payouts), due on its settlement calendar, which is
// linked to the credits of its bank account (payout_credits) by the batch
// id they carry, else by amount when the candidate is unique. It judges
// each payout once, in the reconciliation run of its due date, and each
// credit once, in the run of its booking date, so that run diffs heal and
// reopen them like any other break. Recon calls it through
// recon.PayoutChecker; the bank tables are read through internal/bank.
package payout

import (
	"errors"
	"time"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/recon"
)

// Config configures the service. Zero fields take the defaults named.
type Config struct {
	// Calendars give the due date of a payout per settlement currency
	// (PAYOUT_DAYS, PAYOUT_HOLIDAYS); a currency not listed uses Default.
	Calendars map[string]recon.Calendar
	// Default is the calendar of the other currencies: recon's settlement
	// calendar (RECON_SETTLEMENT_DAYS).
	Default recon.Calendar
	// Tolerance is, per currency in minor units, how short a credit may
	// be and still pay its payout, the difference booked as an
	// intermediary bank's fee (PAYOUT_FEE_TOLERANCE). Default 0.
	Tolerance map[string]int64
	// WindowDays is how far a credit's booking date may be from a
	// payout's due date for matching by amount (PAYOUT_WINDOW_DAYS).
	// Default 5.
	WindowDays int
	// HorizonDays is how far before a run's period matching looks for
	// unmatched payouts and credits. Default 60.
	HorizonDays int
}

// Defaults of Config.
const (
	DefaultWindowDays  = 5
	DefaultHorizonDays = 60
)

func (c Config) calendar(ccy string) recon.Calendar {
	if cal, ok := c.Calendars[ccy]; ok {
		return cal
	}
	return c.Default
}

// Status is a payout's state, derived from its links, its account's
// statements and the day.
type Status string

// Payout statuses.
const (
	StatusExpected          Status = "EXPECTED"           // not due yet, or no bank account takes its currency
	StatusAwaitingStatement Status = "AWAITING_STATEMENT" // due, but the statements do not reach the due date yet
	StatusReceived          Status = "RECEIVED"
	StatusReceivedWithFee   Status = "RECEIVED_WITH_FEE" // short within tolerance: the difference is a bank fee
	StatusReceivedLate      Status = "RECEIVED_LATE"
	StatusAmountMismatch    Status = "AMOUNT_MISMATCH"
	StatusNotReceived       Status = "NOT_RECEIVED"
)

// Statuses lists every status.
var Statuses = []Status{StatusExpected, StatusAwaitingStatement, StatusReceived, StatusReceivedWithFee,
	StatusReceivedLate, StatusAmountMismatch, StatusNotReceived}

// Method says how a credit was linked to a payout.
type Method string

// Methods, strongest first.
const (
	MethodReference   Method = "REFERENCE"    // the credit names the batch id
	MethodAmount      Method = "AMOUNT"       // the only credit of the payout's amount near its due date, and the reverse
	MethodAmountGroup Method = "AMOUNT_GROUP" // the only credit of the sum of the account's payouts due one day
)

// Payout is an expected payout: a settlement batch's summary amount,
// due in the bank account that takes its currency.
type Payout struct {
	ID             int64
	BatchID        string
	Currency       string
	Amount         int64 // minor units, > 0
	SettlementDate time.Time
	DueDate        time.Time
	AccountID      int64 // 0: no bank account takes the currency
	RunID          int64 // the run that registered it
	CreatedAt      time.Time
	UpdatedAt      time.Time

	Status   Status
	Received int64 // sum of the non-duplicate credits' allocations
	Fee      int64 // kept by intermediaries, within tolerance
	Links    []Link
}

// Link is a credit's part in paying a payout.
type Link struct {
	PayoutID  int64
	EntryID   int64
	Amount    int64 // allocated to the payout
	Method    Method
	Duplicate bool
	Fee       int64
	RunID     int64
	CreatedAt time.Time
	BookedOn  time.Time // the credit's booking date
}

// Detail is a payout with what makes it up: its settlement lines and the
// bank credits that paid it.
type Detail struct {
	Payout
	Lines   []recon.BatchLine
	Credits []bank.Credit // in entry id order, as Links
}

// Filter selects payouts for List.
type Filter struct {
	Status    Status
	Currency  string
	DueFrom   time.Time
	DueTo     time.Time // inclusive
	BatchID   string
	PaymentID string // the payouts whose batches settled the payment
	Cursor    string
	Limit     int // default 50, at most 200
}

// Page is a page of a list.
type Page[T any] struct {
	Items []T
	Next  string
}

// ErrNotFound is returned for an unknown payout.
var ErrNotFound = errors.New("not found")

// InvalidError is bad input.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Receipt is a payout the bank paid (RECEIVED, RECEIVED_WITH_FEE or
// RECEIVED_LATE): what the books clear from the bank-clearing account.
type Receipt struct {
	PayoutID int64
	BatchID  string
	Currency string
	Amount   int64 // the payout
	Received int64 // what its credits brought in (duplicates aside)
	Status   Status
	// BookingDate is the booking date of the credit that completed it
	// (the latest of its credits'), the receipt's date.
	BookingDate time.Time
	Credits     int64 // credits linked, duplicates aside
	RunID       int64 // the run that linked the last of them
}
