// Package inbox owns APO's notifications end to end, from the request on
// POST /webhooks/apo to the fact applied:
//
//   - intake.go: verify the signature, screen the client id and the
//     request-time window, bound what a refused one may make us store
//     (RefusalGate), dedupe, and store with group commit before APO is
//     answered;
//   - store.go: the webhook_events table and all of its SQL;
//   - handoff.go and tasks.go: the hand-off of stored events to the
//     worker's queue (batched), the task that processes them, and the
//     sweep that re-queues events still PENDING;
//   - process.go: processing (dispatch by kind of notification), replay
//     and the operators' list.
//
// What a notification means is not decided here. Payment, capture and
// refund notifications go to PaymentFacts (package payments implements it),
// dispute notifications to DisputeFacts (package disputes); both interfaces
// are declared here and given to NewService. Imports point one way: the
// binaries (wired by internal/app) → inbox → payments | disputes; nothing
// below inbox imports it, and it knows its consumers by these interfaces
// only.
package inbox

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/payments"
)

// State is where a stored notification is in its processing.
type State string

// Processing states.
const (
	Pending   State = "PENDING"
	Processed State = "PROCESSED"
	Failed    State = "FAILED"  // processing failed; replayable
	Ignored   State = "IGNORED" // bad signature, or nothing here handles it
)

// Event is a notification as received.
type Event struct {
	ID          string
	NotifyType  string
	DedupeKey   string
	RawBody     []byte
	Headers     http.Header
	RequestURI  string
	Verdict     string // valid, invalid
	State       State
	Attempts    int
	Deliveries  int
	LastError   string
	PaymentID   string
	ReceivedAt  time.Time
	ProcessedAt *time.Time
	// BodySize and BodySHA256 describe the whole body of a refused
	// notification, of which RawBody keeps only the first 4 KiB.
	BodySize   int
	BodySHA256 string
}

// Page is one page of stored notifications.
type Page struct {
	Items []Event
	Next  string // empty on the last page
}

// ErrBadSignature reports a notification whose signature did not verify.
var ErrBadSignature = errors.New("notification signature invalid")

// The inbox answers with the payments package's error values, which the
// api's one mapping from domain errors to problems already knows:
// ErrNotFound (404), *InvalidError (422), *ConflictError (409). Processing
// also reads ErrNotFound from PaymentFacts: a notification about a payment
// not known yet.
var ErrNotFound = payments.ErrNotFound

type (
	// InvalidError reports a filter that breaks a rule (HTTP 422).
	InvalidError = payments.InvalidError
	// ConflictError reports an operation the event's state forbids (HTTP 409).
	ConflictError = payments.ConflictError
)

// Verifier checks notifications against APO's key and our client id.
// *apo.Client satisfies it.
type Verifier interface {
	VerifyNotification(method, requestURI string, headers http.Header, rawBody []byte) error
	ClientID() string
}

// PaymentFacts applies what payment, capture and refund notifications
// report. Each Apply returns the id of the payment the notification is
// about ("" when none was found, with an error wrapping ErrNotFound). raw
// is the notification as received, for the payment's timeline.
// *payments.Service satisfies it.
type PaymentFacts interface {
	ApplyPaymentResult(ctx context.Context, n *apo.PaymentNotification, raw []byte) (paymentID string, err error)
	ApplyCaptureResult(ctx context.Context, n *apo.CaptureNotification, raw []byte) (paymentID string, err error)
	ApplyRefundResult(ctx context.Context, n *apo.RefundNotification, raw []byte) (paymentID string, err error)
	// FindPaymentID names the payment our request id, or else APO's
	// payment id, belongs to; ErrNotFound when neither does.
	FindPaymentID(ctx context.Context, requestID, apoID string) (string, error)
}

// DisputeFacts applies dispute notifications. *disputes.Service satisfies
// it.
type DisputeFacts interface {
	HandleDisputeNotification(ctx context.Context, n *apo.DisputeNotification, raw []byte) error
}

// Service receives, stores and processes notifications. It is safe for
// concurrent use.
type Service struct {
	db       *sqlx.DB
	verify   Verifier
	payments PaymentFacts
	disputes DisputeFacts // nil: dispute notifications are IGNORED
	handoff  Handoff
	intake   *batcher
	refusals RefusalGate // nil: every refused notification is stored
	log      *slog.Logger
	now      func() time.Time
}

// NewService wires the inbox. handoff takes each newly stored event once
// APO has its acknowledgement (QueueHandoff hands it to the worker); nil
// processes it in a goroutine of this process. disputes may be nil: its
// notifications are then stored and IGNORED.
func NewService(db *sqlx.DB, verify Verifier, pay PaymentFacts, disputes DisputeFacts, handoff Handoff, log *slog.Logger) *Service {
	s := &Service{db: db, verify: verify, payments: pay, disputes: disputes, handoff: handoff, intake: newBatcher(db),
		log: log, now: time.Now}
	if s.handoff == nil {
		s.handoff = s.processInBackground
	}
	return s
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }
