package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/payops/payops/internal/apo"
)

// WebhookState is where a stored notification is in its processing.
type WebhookState string

// Webhook states.
const (
	WebhookPending   WebhookState = "PENDING"
	WebhookProcessed WebhookState = "PROCESSED"
	WebhookFailed    WebhookState = "FAILED"  // processing failed; replayable
	WebhookIgnored   WebhookState = "IGNORED" // bad signature, or nothing here handles it
)

// WebhookEvent is a notification as received.
type WebhookEvent struct {
	ID          string
	NotifyType  string
	DedupeKey   string
	RawBody     []byte
	Headers     http.Header
	RequestURI  string
	Verdict     string // valid, invalid
	State       WebhookState
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

// ErrBadSignature reports a notification whose signature did not verify.
var ErrBadSignature = errors.New("notification signature invalid")

// DisputeSink takes dispute notifications; the disputes package provides it.
type DisputeSink interface {
	HandleDisputeNotification(ctx context.Context, n *apo.DisputeNotification, raw []byte) error
}

// SetDisputeSink hands dispute notifications to the disputes package.
func (s *Service) SetDisputeSink(d DisputeSink) { s.disputes = d }

// dedupeKey names the fact a notification reports, so APO's re-sends of it
// collapse into one stored event while a different fact about the same
// payment (say S after F) is kept beside it.
func dedupeKey(body []byte) (notifyType, key string) {
	n, err := apo.DecodeNotification(body)
	if err != nil {
		sum := sha256.Sum256(body)
		return "", "raw:" + hex.EncodeToString(sum[:])
	}
	parts := []string{string(n.Kind)}
	switch n.Kind {
	case apo.KindPayment:
		parts = append(parts, n.NotifyType, n.Payment.PaymentRequestID, n.Payment.PaymentID, n.Payment.Result.ResultStatus, n.Payment.Result.ResultCode)
	case apo.KindCapture:
		parts = append(parts, n.Capture.CaptureRequestID, n.Capture.CaptureID, n.Capture.PaymentID, n.Capture.Result.ResultStatus, n.Capture.Result.ResultCode)
	case apo.KindRefund:
		parts = append(parts, n.Refund.RefundRequestID, n.Refund.RefundID, n.Refund.RefundStatus, n.Refund.Result.ResultStatus, n.Refund.Result.ResultCode)
	case apo.KindDispute:
		d := n.Dispute
		parts = append(parts, d.DisputeID, d.DisputeNotificationType, d.DisputeJudgedResult, d.DefenseDueTime)
	}
	nt := n.NotifyType
	if nt == "" && n.Kind == apo.KindDispute {
		nt = "DISPUTE:" + n.Dispute.DisputeNotificationType
	}
	return nt, strings.Join(parts, "|")
}

// Process applies a stored notification. It is idempotent: a processed
// event is skipped, and applying the same fact twice changes nothing.
func (s *Service) Process(ctx context.Context, eventID string) error {
	st := NewStore(s.db)
	ev, err := st.GetWebhook(ctx, eventID)
	if err != nil {
		return err
	}
	if ev.State == WebhookProcessed || ev.Verdict != "valid" {
		return nil
	}
	paymentID, perr := s.apply(ctx, ev.RawBody)
	state, msg := WebhookProcessed, ""
	switch {
	case errors.Is(perr, errNoHandler):
		state, msg = WebhookIgnored, perr.Error()
	case errors.Is(perr, ErrNotFound) && s.now().Sub(ev.ReceivedAt) < unknownPaymentPatience:
		// The notification may have overtaken what tells us of its payment
		// or transaction: stay PENDING (the sweeper keeps it alive) and let
		// the queue retry with backoff.
		state, msg = WebhookPending, "waiting for its payment to be known: "+perr.Error()
		perr = fmt.Errorf("%w: %w", errNotYetKnown, perr)
	case perr != nil:
		state, msg = WebhookFailed, perr.Error()
	}
	if err := st.MarkWebhook(ctx, eventID, state, msg, paymentID, s.now().UTC()); err != nil {
		return err
	}
	if state == WebhookFailed || state == WebhookPending {
		return perr
	}
	return nil
}

// unknownPaymentPatience is how long a notification about a payment or
// transaction we do not know is retried before it is left FAILED for an
// operator: longer than a reply can take to be stored behind it.
const unknownPaymentPatience = 5 * time.Minute

var (
	errNoHandler   = errors.New("no handler for this notification")
	errNotYetKnown = errors.New("not known yet; retrying")
)

func (s *Service) apply(ctx context.Context, raw []byte) (string, error) {
	n, err := apo.DecodeNotification(raw)
	if err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	st := NewStore(s.db)
	switch n.Kind {
	case apo.KindPayment:
		pn := n.Payment
		if pn.NotifyType != apo.NotifyPaymentResult {
			return "", fmt.Errorf("%w: %s", errNoHandler, pn.NotifyType)
		}
		p, err := s.findPayment(ctx, st, pn.PaymentRequestID, pn.PaymentID)
		if err != nil {
			return "", err
		}
		f := AuthFact{Source: SourceNotification, Kind: pn.NotifyType, Code: pn.Result.ResultCode,
			Message: pn.Result.ResultMessage}
		f.Amount, f.AmountProblem = readAmount("paymentAmount", pn.PaymentAmount)
		switch pn.Result.ResultStatus {
		case "S":
			f.Outcome = AuthSucceeded
		case "F":
			f.Outcome = AuthFailed
		}
		_, err = s.applyAuth(ctx, p.ID, f, authDetails{APOPaymentID: pn.PaymentID, ResultInfo: pn.PaymentResultInfo,
			Acquirer: pn.AcquirerInfo, AuthExpiry: pn.AuthExpiryTime, Payload: json.RawMessage(raw)})
		return p.ID, err
	case apo.KindCapture:
		cn := n.Capture
		p, err := s.findCapturePayment(ctx, st, cn.CaptureRequestID, cn.PaymentID)
		if err != nil {
			return "", err
		}
		f := TxFact{Source: SourceNotification, Kind: apo.NotifyCaptureResult, Code: cn.Result.ResultCode,
			Message: cn.Result.ResultMessage, APOID: cn.CaptureID, Outcome: txOutcome(cn.Result.ResultStatus)}
		f.Amount, f.AmountProblem = readAmount("captureAmount", cn.CaptureAmount)
		_, err = s.applyTxByIDs(ctx, p, TxCapture, cn.CaptureRequestID, f,
			txDetails{Acquirer: cn.AcquirerInfo, APOPaymentID: cn.PaymentID, Payload: json.RawMessage(raw)})
		return p.ID, err
	case apo.KindRefund:
		rn := n.Refund
		t, err := st.GetTxByRequestID(ctx, rn.RefundRequestID)
		if err == nil && t.Type != TxRefund {
			err = ErrNotFound
		}
		if errors.Is(err, ErrNotFound) {
			t, err = st.GetTxByAPOID(ctx, TxRefund, rn.RefundID)
		}
		if err != nil {
			return "", fmt.Errorf("refund %s: %w", rn.RefundRequestID, err)
		}
		f := TxFact{Source: SourceNotification, Kind: apo.NotifyRefundResult, Code: rn.Result.ResultCode,
			Message: rn.Result.ResultMessage, APOID: rn.RefundID}
		f.Amount, f.AmountProblem = readAmount("refundAmount", rn.RefundAmount)
		switch {
		case rn.RefundStatus == apo.StatusSuccess || (rn.RefundStatus == "" && rn.Result.ResultStatus == "S"):
			f.Outcome = TxOK
		case rn.RefundStatus == apo.StatusFail || (rn.RefundStatus == "" && rn.Result.ResultStatus == "F"):
			f.Outcome = TxFail
		}
		_, _, err = s.applyTx(ctx, t.ID, f, txDetails{Acquirer: rn.AcquirerInfo, Payload: json.RawMessage(raw)})
		return t.PaymentID, err
	case apo.KindDispute:
		if s.disputes == nil {
			return "", fmt.Errorf("%w: dispute (disputes module not wired)", errNoHandler)
		}
		p, _ := s.findPayment(ctx, st, n.Dispute.PaymentRequestID, n.Dispute.PaymentID)
		return p.ID, s.disputes.HandleDisputeNotification(ctx, n.Dispute, raw)
	}
	return "", errNoHandler
}

func txOutcome(status string) TxOutcome {
	switch status {
	case "S":
		return TxOK
	case "F":
		return TxFail
	}
	return TxUnknown
}

func (s *Service) findPayment(ctx context.Context, st *Store, requestID, apoID string) (Payment, error) {
	if requestID != "" {
		if p, err := st.GetByRequestID(ctx, requestID); err == nil || !errors.Is(err, ErrNotFound) {
			return p, err
		}
	}
	if apoID != "" {
		p, err := st.GetByAPOID(ctx, apoID)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return p, err
		}
	}
	return Payment{}, fmt.Errorf("payment (request %q, apo %q): %w", requestID, apoID, ErrNotFound)
}

// findCapturePayment finds the payment a CAPTURE_RESULT is about: by the
// capture we sent under its captureRequestId, then by our paymentRequestId
// (an automatic capture's captureRequestId is the pay's), then by APO's
// paymentId. The first two work before the pay's reply is stored.
func (s *Service) findCapturePayment(ctx context.Context, st *Store, captureRequestID, apoID string) (Payment, error) {
	if captureRequestID != "" {
		t, err := st.GetTxByRequestID(ctx, captureRequestID)
		switch {
		case err == nil:
			return st.Get(ctx, t.PaymentID)
		case !errors.Is(err, ErrNotFound):
			return Payment{}, err
		}
	}
	return s.findPayment(ctx, st, captureRequestID, apoID)
}

// Replay re-runs processing of a stored event (operator action).
func (s *Service) Replay(ctx context.Context, eventID string) (WebhookEvent, error) {
	st := NewStore(s.db)
	ev, err := st.GetWebhook(ctx, eventID)
	if err != nil {
		return WebhookEvent{}, err
	}
	if ev.Verdict != "valid" {
		return WebhookEvent{}, conflictf("an event with an invalid signature cannot be replayed")
	}
	if err := st.MarkWebhook(ctx, eventID, WebhookPending, "", ev.PaymentID, s.now().UTC()); err != nil {
		return WebhookEvent{}, err
	}
	_ = s.Process(ctx, eventID) // its outcome is in the event's state
	return st.GetWebhook(ctx, eventID)
}

// ListWebhooks returns stored notifications, newest first.
func (s *Service) ListWebhooks(ctx context.Context, f WebhookFilter) (Page[WebhookEvent], error) {
	return NewStore(s.db).ListWebhooks(ctx, f)
}
