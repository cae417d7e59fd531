package payments

import (
	"context"
	"errors"
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
// One inquiry answer (the authorization and every transaction it lists) is
// applied in one database transaction: whole or not at all.
func (s *Service) Sync(ctx context.Context, paymentID string) (Payment, error) {
	p, err := s.Get(ctx, paymentID)
	if err != nil {
		return Payment{}, err
	}
	resp, err := s.apo.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentRequestID: p.PaymentRequestID, PaymentID: p.APOPaymentID})
	if err != nil {
		if orderNotExist(err) {
			if p, cerr := s.notAtAPO(ctx, p.ID); cerr != nil || !p.Status.Open() {
				return p, cerr
			}
		}
		return p, fmt.Errorf("inquire payment %s: %w", paymentID, err)
	}
	f := AuthFact{Source: SourceInquiry, Kind: "inquiryPayment", Code: resp.PaymentResultCode,
		Message: resp.PaymentResultMessage}
	f.Amount, f.AmountProblem = readAmount("paymentAmount", resp.PaymentAmount)
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
	seen := map[string]bool{}
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		var err error
		if p, err = s.applyAuthIn(ctx, st, paymentID, f, authDetails{APOPaymentID: resp.PaymentID, ResultInfo: resp.PaymentResultInfo,
			Acquirer: resp.AcquirerInfo, AuthExpiry: resp.AuthExpiryTime, Payload: resp}); err != nil {
			return err
		}
		for _, t := range resp.Transactions {
			seen[t.TransactionRequestID], seen[t.TransactionID] = true, true
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
				Message: t.TransactionResult.ResultMessage, APOID: t.TransactionID}
			switch t.TransactionStatus {
			case apo.StatusSuccess:
				f.Outcome = TxOK
			case apo.StatusFail:
				f.Outcome = TxFail
			}
			// A cancel voids the whole authorization whatever amount is echoed.
			if typ != TxCancel {
				f.Amount, f.AmountProblem = readAmount("transactionAmount", t.TransactionAmount)
			}
			if p, err = s.applyTxByIDsIn(ctx, st, p.ID, typ, t.TransactionRequestID, f,
				txDetails{Acquirer: t.AcquirerInfo, APOPaymentID: resp.PaymentID, Payload: t}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Payment{}, fmt.Errorf("apply inquiry of payment %s: %w", paymentID, err)
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
		f := TxFact{Source: SourceInquiry, Kind: "inquiryRefund", Code: resp.RefundStatus, APOID: resp.RefundID}
		f.Amount, f.AmountProblem = readAmount("refundAmount", resp.RefundAmount)
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
// capture — and applies the fact, all in one database transaction. A
// transaction APO knows and we do not (e.g. made in APO's dashboard) is
// recorded so the books see it, and the payment is flagged for review; one
// the payment's amounts cannot hold is recorded in the timeline only.
func (s *Service) applyTxByIDs(ctx context.Context, p Payment, typ TxType, requestID string, f TxFact, d txDetails) (Payment, error) {
	var out Payment
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.applyTxByIDsIn(ctx, NewStore(tx), p.ID, typ, requestID, f, d)
		return err
	})
	return out, err
}

func (s *Service) applyTxByIDsIn(ctx context.Context, st *Store, paymentID string, typ TxType, requestID string, f TxFact, d txDetails) (Payment, error) {
	p, err := st.Lock(ctx, paymentID)
	if err != nil {
		return Payment{}, err
	}
	t, err := findTx(ctx, st, p, typ, requestID, f.APOID)
	learned := errors.Is(err, ErrNotFound)
	if err != nil && !learned {
		return Payment{}, err
	}
	if learned && f.Outcome == TxUnknown {
		return p, nil // nothing final to learn
	}
	why := ""
	if learned && f.Outcome == TxOK {
		if f.Amount == nil {
			why = f.AmountProblem
		} else {
			why = impossible(p, typ, *f.Amount)
		}
	}
	if typ == TxCapture && f.Outcome == TxOK && why == "" && (p.Status.Open() || p.NotReceived()) {
		// A capture succeeded, so the authorization did: its own answer may
		// still be on the way (notifications race). Applying it first keeps
		// the AUTHORIZATION row and the automatic-capture stand-in right.
		if p, err = s.applyAuthIn(ctx, st, p.ID, AuthFact{Source: f.Source, Kind: f.Kind, Outcome: AuthSucceeded, Code: "SUCCESS",
			Message: "implied by a successful capture"}, authDetails{APOPaymentID: d.APOPaymentID, Acquirer: d.Acquirer}); err != nil {
			return Payment{}, err
		}
		if learned {
			t, err = findTx(ctx, st, p, typ, requestID, f.APOID)
			if learned = errors.Is(err, ErrNotFound); err != nil && !learned {
				return Payment{}, err
			}
		}
	}
	if learned {
		if why != "" {
			return s.recordImpossible(ctx, st, p, typ, requestID, f, d, why)
		}
		if f.Amount == nil {
			return p, nil // a failure we never asked for, without an amount: nothing moved
		}
		if t, err = createLearnedTx(ctx, st, p, typ, strings.ToLower(string(typ))+"-apo-"+f.APOID, f, s.now().UTC()); err != nil {
			return Payment{}, err
		}
		if requestID != p.PaymentRequestID {
			d.Review = fmt.Sprintf("APO reported a %s we never requested (request id %q, APO id %q, %s)", typ, requestID, f.APOID, f.Amount)
		}
	}
	if t.PaymentID != p.ID {
		return p, fmt.Errorf("%s %s belongs to payment %s, not %s", typ, requestID, t.PaymentID, p.ID)
	}
	p, _, err = s.applyTxIn(ctx, st, t.ID, f, d)
	return p, err
}

// findTx looks up the transaction a fact names.
func findTx(ctx context.Context, st *Store, p Payment, typ TxType, requestID, apoID string) (Transaction, error) {
	t, err := st.GetTxByRequestID(ctx, requestID)
	if err == nil && t.Type != typ {
		// APO may echo the paymentRequestId on an automatic capture.
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		t, err = st.GetTxByAPOID(ctx, typ, apoID)
	}
	if errors.Is(err, ErrNotFound) && typ == TxCapture {
		t, err = st.GetTxByRequestID(ctx, "auto-"+p.PaymentRequestID)
	}
	if errors.Is(err, ErrNotFound) && typ == TxCancel {
		t, err = openTxOfType(ctx, st, p.ID, TxCancel)
	}
	return t, err
}

func openTxOfType(ctx context.Context, st *Store, paymentID string, typ TxType) (Transaction, error) {
	txs, err := st.Transactions(ctx, paymentID)
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
// in the caller's transaction, so that applying the fact moves the
// payment's amounts like any other.
func createLearnedTx(ctx context.Context, st *Store, p Payment, typ TxType, requestID string, f TxFact, now time.Time) (Transaction, error) {
	t := Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, Type: typ, RequestID: requestID,
		APOID: f.APOID, Amount: *f.Amount, Status: TxProcessing, Reason: "learned from APO " + string(f.Source),
		CreatedAt: now, UpdatedAt: now}
	err := st.CreateTx(ctx, t)
	if err == ErrDuplicate {
		return st.GetTxByRequestID(ctx, requestID)
	}
	return t, err
}

// recordImpossible keeps a fact the payment cannot hold (a capture above
// what is left of the authorization, a refund above what was captured, an
// amount we cannot read) in the timeline, not applied, and flags the
// payment for review. Nothing else is written.
func (s *Service) recordImpossible(ctx context.Context, st *Store, p Payment, typ TxType, requestID string, f TxFact, d txDetails, why string) (Payment, error) {
	now := s.now().UTC()
	note := fmt.Sprintf("impossible %s %s (request id %q, APO id %q): %s; not applied", typ, f.Outcome, requestID, f.APOID, why)
	added, err := st.AddEvent(ctx, Event{PaymentID: p.ID, Source: f.Source, Kind: f.Kind, StatusBefore: string(p.Status),
		StatusAfter: string(p.Status), Note: note, Payload: redacted(d.Payload), CreatedAt: now},
		fmt.Sprintf("%s|%s|%s|%s|%s|impossible", f.Source, f.Kind, requestID, f.APOID, f.Outcome))
	if err != nil || !added {
		return p, err // a replay: flagged the first time
	}
	p.NeedsReview = true
	p.ReviewReason = fmt.Sprintf("%s %s reported %s", f.Source, f.Kind, note)
	p.UpdatedAt = now
	s.log.WarnContext(ctx, "payment needs review", "payment_id", p.ID, "reason", p.ReviewReason)
	return st.Update(ctx, p)
}

// orderNotExist reports APO's answer that it knows no payment by the ids
// we asked about.
func orderNotExist(err error) bool {
	var e *apo.Error
	return errors.As(err, &e) && e.Outcome == apo.OutcomeFailed && e.Result.ResultCode == "ORDER_NOT_EXIST"
}

// A pay APO never received is decided by these: ORDER_NOT_EXIST only
// counts once the pay can no longer be in flight (the call's timeout,
// APO_TIMEOUT, plus notReceivedMargin for a request still crossing the
// network), and it takes notReceivedAnswers such inquiries to close it.
// The pay is never re-sent (its card data is not kept), so the one call
// made at creation is the last pay attempt.
const (
	notReceivedMargin  = time.Minute
	notReceivedAnswers = 2
)

// notAtAPO handles APO's ORDER_NOT_EXIST for a payment: once the pay can
// no longer be in flight and APO has said so on notReceivedAnswers
// inquiries, the payment is closed FAILED with result NOT_RECEIVED_BY_APO
// (no money moved) and its polling ends. Before that each answer is only
// recorded. A late success from APO still authorizes it (DecideAuth).
func (s *Service) notAtAPO(ctx context.Context, id string) (Payment, error) {
	var out Payment
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, id)
		if err != nil {
			return err
		}
		out = p
		now := s.now().UTC()
		// REQUIRES_ACTION means APO answered the pay, so it knows the payment.
		if p.Status != StatusProcessing || now.Before(p.CreatedAt.Add(s.payTimeout+notReceivedMargin)) {
			return nil
		}
		evs, err := st.Events(ctx, p.ID)
		if err != nil {
			return err
		}
		n := 1
		for _, e := range evs {
			if e.Kind == "order_not_exist" {
				n++
			}
		}
		if n < notReceivedAnswers {
			_, err := st.AddEvent(ctx, Event{PaymentID: p.ID, Source: SourceInquiry, Kind: "order_not_exist",
				StatusBefore: string(p.Status), StatusAfter: string(p.Status),
				Note: fmt.Sprintf("APO does not know paymentRequestId %s, %s after pay was sent (answer %d of %d before it is closed)",
					p.PaymentRequestID, now.Sub(p.CreatedAt).Round(time.Second), n, notReceivedAnswers),
				CreatedAt: now}, fmt.Sprintf("inquiry|order_not_exist|%d", n))
			return err
		}
		msg := fmt.Sprintf("APO answered ORDER_NOT_EXIST on %d inquiries more than %s after pay was sent: the pay never reached APO; no money moved",
			n, s.payTimeout+notReceivedMargin)
		p.Status, p.ResultCode, p.ResultMessage, p.UpdatedAt = StatusFailed, ResultNotReceived, msg, now
		if err := s.settleAuthTx(ctx, st, p, StatusFailed, AuthFact{Code: ResultNotReceived, Message: msg}, nil, now); err != nil {
			return err
		}
		if p, err = st.Update(ctx, p); err != nil {
			return err
		}
		if err := st.EndPoll(ctx, p.ID); err != nil {
			return err
		}
		out = p
		_, err = st.AddEvent(ctx, Event{PaymentID: p.ID, Source: SourceInquiry, Kind: "not_received",
			StatusBefore: string(StatusProcessing), StatusAfter: string(p.Status), Applied: true, Note: msg, CreatedAt: now},
			"inquiry|not_received")
		return err
	})
	if err == nil && out.NotReceived() {
		s.log.InfoContext(ctx, "payment closed: APO never received its pay", "payment_id", id)
	}
	return out, err
}
