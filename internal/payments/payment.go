// Package payments owns the card payment lifecycle: authorizing through APO,
// 3DS, capture, cancel and refund, what the notifications and inquiries that
// tell us how each ended mean for a payment, and the timeline of everything
// we learned (the payments, payment_transactions, payment_events and
// apo_calls tables). Receiving and storing notifications is package inbox's
// (webhook_events); it hands payment, capture and refund notifications to
// this package's Apply*Result methods (notify.go) and never the other way:
// payments imports neither inbox nor disputes.
package payments

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/payops/payops/internal/money"
)

// Status is a payment's place in the state machine of design.md §5.
type Status string

// Payment statuses.
const (
	StatusProcessing     Status = "PROCESSING"      // pay sent, no final answer yet (includes unknown outcomes)
	StatusRequiresAction Status = "REQUIRES_ACTION" // 3DS: the buyer must visit NormalURL
	StatusAuthorized     Status = "AUTHORIZED"      // funds held; captures may follow
	StatusFailed         Status = "FAILED"          // APO answered F (or a final FAIL)
	StatusCancelled      Status = "CANCELLED"       // voided before any capture
	StatusExpired        Status = "EXPIRED"         // authorization lapsed uncaptured
	StatusCaptured       Status = "CAPTURED"        // fully captured, or the last capture was taken
)

// Statuses lists every status, for validation of filters.
var Statuses = []Status{StatusProcessing, StatusRequiresAction, StatusAuthorized, StatusFailed,
	StatusCancelled, StatusExpired, StatusCaptured}

// Open reports whether the authorization outcome is still unknown.
func (s Status) Open() bool { return s == StatusProcessing || s == StatusRequiresAction }

// ResultNotReceived is the result code of a payment closed FAILED because
// APO kept answering ORDER_NOT_EXIST for its paymentRequestId long after any
// pay could still be in flight: the pay never reached APO and no money moved.
// The card data to resend it is not kept (by design), so the buyer pays again.
const ResultNotReceived = "NOT_RECEIVED_BY_APO"

// NotReceived reports whether the payment was closed because APO never
// received its pay. A later success from APO still authorizes it.
func (p Payment) NotReceived() bool {
	return p.Status == StatusFailed && p.ResultCode == ResultNotReceived
}

// Capture modes.
const (
	CaptureManual    = "MANUAL"
	CaptureAutomatic = "AUTOMATIC"
)

// TxType is the kind of a payment transaction.
type TxType string

// Transaction types.
const (
	TxAuthorization TxType = "AUTHORIZATION"
	TxCapture       TxType = "CAPTURE"
	TxCancel        TxType = "CANCEL"
	TxRefund        TxType = "REFUND"
)

// TxStatus is a transaction's status.
type TxStatus string

// Transaction statuses.
const (
	TxProcessing TxStatus = "PROCESSING"
	TxSucceeded  TxStatus = "SUCCEEDED"
	TxFailed     TxStatus = "FAILED"
)

// Source says where a fact in the timeline came from.
type Source string

// Timeline sources (design.md §4).
const (
	SourcePayResponse  Source = "pay_response"
	SourceInquiry      Source = "inquiry"
	SourceNotification Source = "notification"
	SourceAdmin        Source = "admin"
	SourceSettlement   Source = "settlement"
	SourceAPI          Source = "api"
)

// Card holds the card facts we may keep: never the number or the CVV.
type Card struct {
	Brand, BIN, Last4, Masked, Funding, IssuingCountry string
	ExpiryMonth, ExpiryYear, Token                     string
}

// Acquirer is the acquirer that moved the money, as APO reported it.
type Acquirer struct {
	Name, TransactionID string
	Info                json.RawMessage // APO's acquirerInfo as received
}

// Payment is one card payment.
type Payment struct {
	ID               string
	PaymentRequestID string
	APOPaymentID     string
	ReferenceOrderID string
	OrderDescription string
	BuyerReference   string
	BuyerEmail       string
	Amount           money.Money
	CaptureMode      string
	Status           Status
	CapturedMinor    int64
	RefundedMinor    int64
	DisputedMinor    int64 // under dispute: its unresolved disputes (open, defended, undefended past due)
	DisputeLostMinor int64 // lost to disputes: accepted, or judged against us
	ResultCode       string
	ResultMessage    string
	AuthExpiry       *time.Time
	PaymentExpiry    *time.Time
	NormalURL        string
	RedirectURL      string
	Card             Card
	ThreeDS          json.RawMessage
	AVSResult        string
	CVVResult        string
	Acquirer         Acquirer
	NeedsReview      bool
	ReviewReason     string
	CreatedBy        string
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Transaction is an authorization, capture, cancel or refund of a payment.
type Transaction struct {
	ID            string
	PaymentID     string
	Type          TxType
	RequestID     string // our captureRequestId / refundRequestId / paymentRequestId
	APOID         string // APO's captureId / refundId / paymentId
	Amount        money.Money
	Status        TxStatus
	ResultCode    string
	ResultMessage string
	IsLast        bool
	Acquirer      Acquirer
	Actor         string
	Reason        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   *time.Time
}

// Event is one entry of a payment's timeline.
type Event struct {
	ID            int64
	PaymentID     string
	TransactionID string
	Source        Source
	Kind          string
	StatusBefore  string
	StatusAfter   string
	Applied       bool
	Note          string
	Payload       json.RawMessage
	CreatedAt     time.Time
}

// Errors callers may test for with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// InvalidError reports input that breaks a business rule (HTTP 422).
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError reports an operation the payment's state forbids (HTTP 409);
// Rule names the rule so the caller can explain it.
type ConflictError struct{ Rule string }

func (e *ConflictError) Error() string { return e.Rule }

func conflictf(format string, a ...any) error { return &ConflictError{Rule: fmt.Sprintf(format, a...)} }
