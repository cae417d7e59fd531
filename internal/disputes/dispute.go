// Package disputes owns chargebacks and other card disputes APO tells us
// about (the disputes, dispute_events and dispute_alerts tables): applying
// APO's dispute notifications, which package inbox stores and hands over
// (HandleDisputeNotification), idempotently and in any order, accepting or
// defending a dispute through APO, watching defence deadlines, and telling
// payments how much each payment lost so refunds stay within what is left.
package disputes

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/payops/payops/internal/money"
)

// Status is a dispute's place in its state machine:
//
//	OPEN → DEFENSE_SUPPLIED → WON | LOST
//	OPEN → ACCEPTED → LOST
//	OPEN → EXPIRED_UNDEFENDED (our watchdog: due time passed, no defence) → LOST
//	any non-final → CANCELLED | WON | LOST (APO's word is final)
type Status string

// Dispute statuses.
const (
	StatusOpen              Status = "OPEN"               // awaiting our defence or acceptance
	StatusDefenseSupplied   Status = "DEFENSE_SUPPLIED"   // defence sent, awaiting judgement
	StatusAccepted          Status = "ACCEPTED"           // we conceded; the amount is lost
	StatusWon               Status = "WON"                // judged for us
	StatusLost              Status = "LOST"               // judged against us (or resolved for the cardholder)
	StatusCancelled         Status = "CANCELLED"          // withdrawn by the cardholder
	StatusExpiredUndefended Status = "EXPIRED_UNDEFENDED" // due time passed without a defence
)

// Statuses lists every status, for validation of filters.
var Statuses = []Status{StatusOpen, StatusDefenseSupplied, StatusAccepted, StatusWon, StatusLost,
	StatusCancelled, StatusExpiredUndefended}

// Final reports whether APO has closed the dispute. A final status is never
// replaced by a non-final one, and a different final answer is a conflict.
func (s Status) Final() bool { return s == StatusWon || s == StatusLost || s == StatusCancelled }

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// conceded reports whether the dispute's amount is gone: accepted by us or
// lost. Both count towards the payment's disputed total, because refunding
// an amount we have already conceded would pay the cardholder twice.
func (s Status) conceded() bool { return s == StatusAccepted || s == StatusLost }

// Dispute types as APO sends them in disputeType.
const (
	TypeChargeback        = "CHARGEBACK"
	TypeRetrievalRequest  = "RETRIEVAL_REQUEST"
	TypeComplianceRequest = "COMPLIANCE_REQUEST"
)

// Judgements as APO sends them in disputeJudgedResult.
const (
	JudgedAcceptByCustomer = "ACCEPT_BY_CUSTOMER" // the cardholder's responsibility: we win
	JudgedAcceptByMerchant = "ACCEPT_BY_MERCHANT" // ours: the amount is deducted from settlement
	JudgedValidateSuccess  = "VALIDATE_SUCCESS"   // our defence held: we win
	JudgedValidateFail     = "VALIDATE_FAIL"      // our defence failed: we lose
)

// Dispute is one APO dispute as we know it.
type Dispute struct {
	ID               string // ours (UUIDv7)
	APODisputeID     string
	PaymentID        string // our payment id; "" when the payment is unknown to us
	APOPaymentID     string
	PaymentRequestID string
	CaptureID        string
	Type             string // TypeChargeback, …; "" until APO says
	ReasonCode       string // the scheme's code, e.g. "4853"
	ReasonMessage    string
	Source           string // the card scheme, e.g. "Mastercard"
	ARN              string
	Amount           money.Money // Currency "" until APO says
	Status           Status
	DisputeTime      *time.Time
	DefenseDue       *time.Time
	Defendable       *bool // nil: APO has not said
	AutoDefendReason string
	JudgedResult     string
	JudgedAmount     *money.Money
	JudgedTime       *time.Time
	AcceptReason     string
	AcceptTime       *time.Time
	LostMinor        int64 // what this dispute cost once accepted or lost, in Amount's currency
	DefenseAt        *time.Time
	DefenseActor     string
	Evidence         *EvidenceInfo // the defence document sent, if any (never its bytes)
	NeedsAttention   bool
	AttentionReason  string
	LastNotification string
	AcquirerInfo     json.RawMessage
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// EvidenceInfo describes a stored defence document.
type EvidenceInfo struct {
	SHA256      string
	ContentType string
	Size        int
}

// Source of a dispute event.
type Source string

// Event sources.
const (
	SourceNotification Source = "notification"
	SourceAPI          Source = "api"
	SourceWatchdog     Source = "watchdog"
)

// Event is one entry of a dispute's history.
type Event struct {
	ID           int64
	DisputeID    string
	Source       Source
	Kind         string // the notification type, or accept, defense, expired, alert
	StatusBefore Status
	StatusAfter  Status
	Applied      bool   // whether it changed the dispute
	Note         string // why (not) applied
	Actor        string
	Payload      json.RawMessage // redacted
	CreatedAt    time.Time
}

// Errors callers may test for with errors.Is.
var (
	ErrNotFound = errors.New("dispute not found")
	// ErrOutcomeUnknown: APO's answer to an accept or a defence did not
	// arrive or could not be verified. Repeating the same request is safe:
	// APO answers a repeated accept, or the same document, with the first
	// result.
	ErrOutcomeUnknown = errors.New("outcome unknown: retry the same request")
)

// InvalidError reports input that breaks a rule (HTTP 422).
type InvalidError struct{ Field, Reason string }

// Error says which field is wrong and why.
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError reports an action the dispute's status forbids (HTTP 409).
type ConflictError struct{ Rule string }

// Error is the rule the action breaks.
func (e *ConflictError) Error() string { return e.Rule }

// RejectedError is APO's final refusal (result F) of an accept, a defence
// or a download, with APO's code: TIME_EXCEEDS_LIMIT when the defence
// window has closed, NOT_ALLOW_IN_CURRENT_STATUS, REPEAT_REQUEST, …
type RejectedError struct {
	API     string // acceptDispute, supplyDefenseDocument, downloadDisputeEvidence
	Code    string
	Message string
}

// Error names the API and APO's code and message.
func (e *RejectedError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("APO refused %s: %s", e.API, e.Code)
	}
	return fmt.Sprintf("APO refused %s: %s: %s", e.API, e.Code, e.Message)
}

// Filter selects disputes for List. Zero fields do not filter.
type Filter struct {
	Status Status
	// DueFrom and DueBefore bound the defence due time to [DueFrom,
	// DueBefore) and list OPEN disputes only: DueBefore alone includes the
	// overdue ones. Due's figures are these windows (see DueWithin).
	DueFrom    time.Time
	DueBefore  time.Time
	ReasonCode string
	Source     string // card scheme, compared case-insensitively
	PaymentID  string
	Sort       Sort
	Cursor     string // from the previous page's Next, listed in the same Sort
	Limit      int    // 1..200; 0 means 50
}

// Sort is the order of a dispute list.
type Sort string

// Orders of a dispute list.
const (
	SortNewest   Sort = ""         // newest first (the default)
	SortDeadline Sort = "deadline" // defence due soonest first, ties by id; disputes without a due time last
)

// Page is one page of a keyset-paginated list.
type Page struct {
	Items []Dispute
	Next  string // empty on the last page
}
