package report

import (
	"time"

	"github.com/payops/payops/internal/money"
)

// Amount is an optional amount: Valid is false when the file left it empty.
type Amount struct {
	money.Money
	Valid bool
}

// Field is one column this package does not type, kept as read (with card
// numbers masked; see Line.Extra).
type Field struct {
	Name, Value string
}

// Line is one record of a report, typed. Empty text columns are "", empty
// times are zero, empty amounts are not Valid.
type Line struct {
	No int // physical line (CSV) or row (.xlsx) number, 1-based; the header is line 1 in a well-formed file

	SettlementBatchID            string
	CustomerID                   string
	Acquirer                     string
	TransactionType              string // upper case: PAYMENT, CAPTURE, REFUND, SETTLEMENT_FEE …
	TransactionID                string
	OriginalTransactionID        string
	TransactionRequestID         string
	OriginalTransactionRequestID string
	PaymentTime                  time.Time // UTC
	SettlementTime               time.Time // UTC
	TransactionAmount            Amount
	SettlementAmount             Amount
	FeeAmount                    Amount
	QuoteCurrencyPair            string // as written, e.g. "EUR/USD"
	QuotePrice                   string // a validated positive decimal, kept as text so no precision is lost
	SummaryType                  string // upper case
	Count                        int64
	HasCount                     bool
	Status                       string // upper case; "" when the report has no status column
	CardBrand                    string

	// Extra holds the non-empty values of every column not typed above, in
	// header order. A column whose name says it holds a card number or a
	// security code is dropped, and card numbers in any value are masked, so
	// nothing kept here can leak card data.
	Extra []Field
}

// field indexes the typed columns.
type field int

const (
	fSettlementBatchID field = iota
	fCustomerID
	fAcquirer
	fTransactionType
	fTransactionID
	fOriginalTransactionID
	fTransactionRequestID
	fOriginalTransactionRequestID
	fPaymentTime
	fSettlementTime
	fTransactionAmountValue
	fTransactionCurrency
	fSettlementAmountValue
	fSettlementCurrency
	fQuoteCurrencyPair
	fQuotePrice
	fFeeAmountValue
	fFeeCurrency
	fSummaryType
	fCount
	fStatus
	fCardBrand
	numFields
)

// Columns lists the header names this package types, in APO's documented
// order (apo-reference.md §6.2, generation A).
var Columns = [numFields]string{
	"settlementBatchId", "customerId", "acquirer", "transactionType", "transactionId",
	"originalTransactionId", "transactionRequestId", "originalTransactionRequestId",
	"paymentTime", "settlementTime", "transactionAmountValue", "transactionCurrency",
	"settlementAmountValue", "settlementCurrency", "quoteCurrencyPair", "quotePrice",
	"feeAmountValue", "feeCurrency", "summaryType", "count", "status", "cardBrand",
}

// aliases maps newest-generation names (§6.2 B) to the typed column they
// stand for; an alias is used only when the file lacks the column's own name.
var aliases = map[string]field{
	"psp":                       fAcquirer,
	"transactioncompletiontime": fPaymentTime,
	"settlementinitiateddate":   fSettlementTime,
}

// required lists, per kind, the columns a file must have to be read at all.
var required = map[Kind][]field{
	TransactionItems:  {fTransactionType, fTransactionID, fTransactionAmountValue, fTransactionCurrency},
	SettlementItems:   {fTransactionType, fTransactionID, fSettlementAmountValue, fSettlementCurrency},
	SettlementSummary: {fSettlementAmountValue, fSettlementCurrency},
}
