package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/payops/payops/internal/apo"
)

// What payment, capture and refund notifications mean for a payment. The
// inbox package receives, stores and dispatches them (its PaymentFacts);
// these methods apply one, under the payment's row lock like every other
// source of facts, and return the id of the payment it concerns. Applying
// the same notification twice changes nothing.

// ApplyPaymentResult applies a PAYMENT_RESULT notification.
func (s *Service) ApplyPaymentResult(ctx context.Context, pn *apo.PaymentNotification, raw []byte) (string, error) {
	p, err := s.findPayment(ctx, NewStore(s.db), pn.PaymentRequestID, pn.PaymentID)
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
}

// ApplyCaptureResult applies a CAPTURE_RESULT notification.
func (s *Service) ApplyCaptureResult(ctx context.Context, cn *apo.CaptureNotification, raw []byte) (string, error) {
	p, err := s.findCapturePayment(ctx, NewStore(s.db), cn.CaptureRequestID, cn.PaymentID)
	if err != nil {
		return "", err
	}
	f := TxFact{Source: SourceNotification, Kind: apo.NotifyCaptureResult, Code: cn.Result.ResultCode,
		Message: cn.Result.ResultMessage, APOID: cn.CaptureID, Outcome: txOutcome(cn.Result.ResultStatus)}
	f.Amount, f.AmountProblem = readAmount("captureAmount", cn.CaptureAmount)
	_, err = s.applyTxByIDs(ctx, p, TxCapture, cn.CaptureRequestID, f,
		txDetails{Acquirer: cn.AcquirerInfo, APOPaymentID: cn.PaymentID, Payload: json.RawMessage(raw)})
	return p.ID, err
}

// ApplyRefundResult applies a REFUND_RESULT notification.
func (s *Service) ApplyRefundResult(ctx context.Context, rn *apo.RefundNotification, raw []byte) (string, error) {
	st := NewStore(s.db)
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
}

// FindPaymentID returns the id of the payment our request id names or,
// failing that, APO's payment id; ErrNotFound when neither does.
func (s *Service) FindPaymentID(ctx context.Context, requestID, apoID string) (string, error) {
	p, err := s.findPayment(ctx, NewStore(s.db), requestID, apoID)
	return p.ID, err
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
