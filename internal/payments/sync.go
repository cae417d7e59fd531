package payments

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/postgres"
)

// Sync asks APO where a payment stands (inquiryPayment, and inquiryRefund
// for refunds still PROCESSING) and applies every answer through the same
// state machine as notifications. It is what the poller runs and what
// POST /v1/payments/{id}/sync does. An unknown answer changes nothing.
func (s *Service) Sync(ctx context.Context, paymentID string) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil {
		return Payment{}, err
	}
	resp, err := s.apo.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentRequestID: p.PaymentRequestID, PaymentID: p.APOPaymentID})
	if err != nil {
		return p, fmt.Errorf("inquire payment %s: %w", paymentID, err)
	}
	f := AuthFact{Source: SourceInquiry, Kind: "inquiryPayment", Code: resp.PaymentResultCode,
		Message: resp.PaymentResultMessage, Amount: amountOf(resp.PaymentAmount)}
	switch resp.PaymentStatus {
	case apo.StatusSuccess:
		f.Outcome = AuthSucceeded
	case apo.StatusFail:
		f.Outcome = AuthFailed
	case apo.StatusCancelled:
		f.Outcome = AuthCancelled
	default:
		f.Code = firstNonEmpty(f.Code, resp.PaymentStatus)
	}
	if p, err = s.applyAuth(ctx, paymentID, f, authDetails{APOPaymentID: resp.PaymentID, ResultInfo: resp.PaymentResultInfo,
		Acquirer: resp.AcquirerInfo, AuthExpiry: resp.AuthExpiryTime, Payload: resp}); err != nil {
		return Payment{}, err
	}
	seen := map[string]bool{}
	for _, t := range resp.Transactions {
		seen[t.TransactionRequestID], seen[t.TransactionID] = true, true
	}
	for _, t := range resp.Transactions {
		var typ TxType
		switch t.TransactionType {
		case "CAPTURE":
			typ = TxCapture
		case "REFUND":
			typ = TxRefund
		case "CANCEL", "VOID":
			typ = TxCancel
		default:
			continue
		}
		f := TxFact{Source: SourceInquiry, Kind: "inquiryPayment", Code: t.TransactionResult.ResultCode,
			Message: t.TransactionResult.ResultMessage, APOID: t.TransactionID, Amount: amountOf(t.TransactionAmount)}
		switch t.TransactionStatus {
		case apo.StatusSuccess:
			f.Outcome = TxOK
		case apo.StatusFail:
			f.Outcome = TxFail
		}
		if typ == TxCancel {
			f.Amount = nil // a cancel voids the whole authorization whatever amount is echoed
		}
		if p, err = s.applyTxByIDs(ctx, p, typ, t.TransactionRequestID, f, txDetails{Acquirer: t.AcquirerInfo, Payload: t}); err != nil {
			return Payment{}, err
		}
	}
	if p, err = s.resendLostCaptures(ctx, p, seen); err != nil {
		return Payment{}, err
	}
	return s.syncRefunds(ctx, p)
}

// resendAfter is how old a PROCESSING capture or refund must be before an
// inquiry that does not know it means APO never received it. It outlasts
// the client's call timeout, so the original call is over.
const resendAfter = 30 * time.Second

// resendLostCaptures repeats captures APO does not list after resendAfter:
// the first call failed before reaching APO (5xx, reset, timeout). The same
// captureRequestId is sent, so if APO did get it after all, its idempotency
// answers with that capture instead of taking the money twice.
func (s *Service) resendLostCaptures(ctx context.Context, p Payment, seen map[string]bool) (Payment, error) {
	txs, err := NewStore(s.db).Transactions(ctx, p.ID)
	if err != nil {
		return Payment{}, err
	}
	for _, t := range txs {
		if t.Type != TxCapture || t.Status != TxProcessing || strings.HasPrefix(t.RequestID, "auto-") ||
			seen[t.RequestID] || (t.APOID != "" && seen[t.APOID]) || s.now().Sub(t.CreatedAt) < resendAfter {
			continue
		}
		resp, callErr := s.apo.Capture(ctx, apo.CaptureRequest{CaptureRequestID: t.RequestID, PaymentID: p.APOPaymentID,
			CaptureAmount: apo.NewAmount(t.Amount.Minor, t.Amount.Currency), IsLastCapture: apo.FlexBool(t.IsLast)})
		f := txFactFromCall(SourceInquiry, "capture_resent", resp.Result, callErr)
		f.APOID = resp.CaptureID
		if p, _, err = s.applyTx(ctx, t.ID, f, txDetails{Acquirer: resp.AcquirerInfo, Payload: resp}); err != nil {
			return Payment{}, err
		}
	}
	return p, nil
}

// syncRefunds resolves PROCESSING refunds one by one with inquiryRefund.
func (s *Service) syncRefunds(ctx context.Context, p Payment) (Payment, error) {
	txs, err := NewStore(s.db).Transactions(ctx, p.ID)
	if err != nil {
		return Payment{}, err
	}
	for _, t := range txs {
		if t.Type != TxRefund || t.Status != TxProcessing {
			continue
		}
		resp, err := s.apo.InquiryRefund(ctx, apo.InquiryRefundRequest{RefundRequestID: t.RequestID, RefundID: t.APOID})
		if apo.IsFinalFailure(err) && s.now().Sub(t.CreatedAt) >= resendAfter {
			// APO does not know the refund: the first call never reached it.
			// The same refundRequestId is safe to send again (idempotent).
			rr, callErr := s.apo.Refund(ctx, apo.RefundRequest{RefundRequestID: t.RequestID, PaymentID: p.APOPaymentID,
				RefundAmount: apo.NewAmount(t.Amount.Minor, t.Amount.Currency), RefundReason: t.Reason, RefundNotifyURL: s.notifyURL})
			f := txFactFromCall(SourceInquiry, "refund_resent", rr.Result, callErr)
			f.APOID = rr.RefundID
			if p, _, err = s.applyTx(ctx, t.ID, f, txDetails{Acquirer: rr.AcquirerInfo, Payload: rr}); err != nil {
				return Payment{}, err
			}
			continue
		}
		if err != nil {
			continue // unknown or not found yet: the next poll asks again
		}
		f := TxFact{Source: SourceInquiry, Kind: "inquiryRefund", Code: resp.RefundStatus, APOID: resp.RefundID,
			Amount: amountOf(resp.RefundAmount)}
		switch resp.RefundStatus {
		case apo.StatusSuccess:
			f.Outcome = TxOK
		case apo.StatusFail:
			f.Outcome = TxFail
		}
		if p, _, err = s.applyTx(ctx, t.ID, f, txDetails{Acquirer: resp.AcquirerInfo, Payload: resp}); err != nil {
			return Payment{}, err
		}
	}
	return p, nil
}

// applyTxByIDs finds the transaction a fact speaks of — by our request id,
// then by APO's id, then (for captures) the stand-in of an automatic
// capture — and applies the fact. A transaction APO knows and we do not
// (e.g. made in APO's dashboard) is recorded so the books see it.
func (s *Service) applyTxByIDs(ctx context.Context, p Payment, typ TxType, requestID string, f TxFact, d txDetails) (Payment, error) {
	st := NewStore(s.db)
	if typ == TxCapture && f.Outcome == TxOK && p.Status.Open() {
		// A capture succeeded, so the authorization did: its own answer may
		// still be on the way (notifications race). Applying it first keeps
		// the AUTHORIZATION row and the automatic-capture stand-in right.
		var err error
		if p, err = s.applyAuth(ctx, p.ID, AuthFact{Source: f.Source, Kind: f.Kind, Outcome: AuthSucceeded, Code: "SUCCESS",
			Message: "implied by a successful capture"}, authDetails{Acquirer: d.Acquirer}); err != nil {
			return Payment{}, err
		}
	}
	t, err := st.GetTxByRequestID(ctx, requestID)
	if err == nil && t.Type != typ {
		// APO may echo the paymentRequestId on an automatic capture.
		err = ErrNotFound
	}
	if err == ErrNotFound {
		t, err = st.GetTxByAPOID(ctx, typ, f.APOID)
	}
	if err == ErrNotFound && typ == TxCapture {
		t, err = st.GetTxByRequestID(ctx, "auto-"+p.PaymentRequestID)
	}
	if err == ErrNotFound && typ == TxCancel {
		t, err = s.openTxOfType(ctx, p.ID, TxCancel)
	}
	if err == ErrNotFound {
		if f.Outcome == TxUnknown || f.Amount == nil {
			return p, nil
		}
		t, err = s.createLearnedTx(ctx, p, typ, strings.ToLower(string(typ))+"-apo-"+f.APOID, f)
	}
	if err != nil {
		return Payment{}, err
	}
	if t.PaymentID != p.ID {
		return p, fmt.Errorf("%s %s belongs to payment %s, not %s", typ, requestID, t.PaymentID, p.ID)
	}
	p, _, err = s.applyTx(ctx, t.ID, f, d)
	return p, err
}

func (s *Service) openTxOfType(ctx context.Context, paymentID string, typ TxType) (Transaction, error) {
	txs, err := NewStore(s.db).Transactions(ctx, paymentID)
	if err != nil {
		return Transaction{}, err
	}
	for _, t := range txs {
		if t.Type == typ && t.Status == TxProcessing {
			return t, nil
		}
	}
	return Transaction{}, ErrNotFound
}

// createLearnedTx stores a transaction first heard of from APO, PROCESSING,
// so that applying the fact moves the payment's amounts like any other.
func (s *Service) createLearnedTx(ctx context.Context, p Payment, typ TxType, requestID string, f TxFact) (Transaction, error) {
	now := s.now().UTC()
	t := Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, Type: typ, RequestID: requestID,
		APOID: f.APOID, Amount: *f.Amount, Status: TxProcessing, Reason: "learned from APO " + string(f.Source),
		CreatedAt: now, UpdatedAt: now}
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := NewStore(tx).Lock(ctx, p.ID); err != nil {
			return err
		}
		return NewStore(tx).CreateTx(ctx, t)
	})
	if err == ErrDuplicate {
		return NewStore(s.db).GetTxByRequestID(ctx, requestID)
	}
	return t, err
}
