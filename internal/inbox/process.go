package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payops/payops/internal/apo"
)

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
	ev, err := st.Get(ctx, eventID)
	if err != nil {
		return err
	}
	if ev.State == Processed || ev.Verdict != "valid" {
		return nil
	}
	paymentID, perr := s.apply(ctx, ev.RawBody)
	state, msg := Processed, ""
	switch {
	case errors.Is(perr, errNoHandler):
		state, msg = Ignored, perr.Error()
	case errors.Is(perr, ErrNotFound) && s.now().Sub(ev.ReceivedAt) < unknownPaymentPatience:
		// The notification may have overtaken what tells us of its payment
		// or transaction: stay PENDING (the sweeper keeps it alive) and let
		// the queue retry with backoff.
		state, msg = Pending, "waiting for its payment to be known: "+perr.Error()
		perr = fmt.Errorf("%w: %w", errNotYetKnown, perr)
	case perr != nil:
		state, msg = Failed, perr.Error()
	}
	if err := st.Mark(ctx, eventID, state, msg, paymentID, s.now().UTC()); err != nil {
		return err
	}
	if state == Failed || state == Pending {
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

// apply hands a notification to the consumer of its kind and returns the
// id of the payment it is about.
func (s *Service) apply(ctx context.Context, raw []byte) (string, error) {
	n, err := apo.DecodeNotification(raw)
	if err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	switch n.Kind {
	case apo.KindPayment:
		if n.Payment.NotifyType != apo.NotifyPaymentResult {
			return "", fmt.Errorf("%w: %s", errNoHandler, n.Payment.NotifyType)
		}
		return s.payments.ApplyPaymentResult(ctx, n.Payment, raw)
	case apo.KindCapture:
		return s.payments.ApplyCaptureResult(ctx, n.Capture, raw)
	case apo.KindRefund:
		return s.payments.ApplyRefundResult(ctx, n.Refund, raw)
	case apo.KindDispute:
		if s.disputes == nil {
			return "", fmt.Errorf("%w: dispute (disputes module not wired)", errNoHandler)
		}
		// The event is filed under the payment the dispute names, if we
		// know it; an unknown one is the disputes package's to flag.
		paymentID, _ := s.payments.FindPaymentID(ctx, n.Dispute.PaymentRequestID, n.Dispute.PaymentID)
		return paymentID, s.disputes.HandleDisputeNotification(ctx, n.Dispute, raw)
	}
	return "", errNoHandler
}

// Replay re-runs processing of a stored event (operator action).
func (s *Service) Replay(ctx context.Context, eventID string) (Event, error) {
	st := NewStore(s.db)
	ev, err := st.Get(ctx, eventID)
	if err != nil {
		return Event{}, err
	}
	if ev.Verdict != "valid" {
		return Event{}, &ConflictError{Rule: "an event with an invalid signature cannot be replayed"}
	}
	if err := st.Mark(ctx, eventID, Pending, "", ev.PaymentID, s.now().UTC()); err != nil {
		return Event{}, err
	}
	_ = s.Process(ctx, eventID) // its outcome is in the event's state
	return st.Get(ctx, eventID)
}

// List returns stored notifications, newest first.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	return NewStore(s.db).List(ctx, f, s.now())
}
