package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
)

// CaptureRequest asks to capture part or all of an authorization.
type CaptureRequest struct {
	Amount *int64 // nil: everything not yet captured
	Final  bool   // release the rest of the authorization after this capture
	Actor  string
}

// RefundRequest asks to refund part of what was captured.
type RefundRequest struct {
	Amount int64
	Reason string
	Actor  string
}

// reserve validates an operation against the payment under its row lock and
// stores its transaction before APO hears of it, so concurrent requests
// see each other's reservations and a retry reuses the request id.
func (s *Service) reserve(ctx context.Context, paymentID string, build func(st *Store, p Payment) (Transaction, error)) (Payment, Transaction, error) {
	var (
		p Payment
		t Transaction
	)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		var err error
		if p, err = st.Lock(ctx, paymentID); err != nil {
			return err
		}
		if t, err = build(st, p); err != nil {
			return err
		}
		now := s.now().UTC()
		t.ID, t.PaymentID, t.Status = uuid.Must(uuid.NewV7()).String(), p.ID, TxProcessing
		t.CreatedAt, t.UpdatedAt = now, now
		if t.RequestID == "" {
			t.RequestID = strings.ToLower(string(t.Type)) + "-" + t.ID
		}
		if err := st.CreateTx(ctx, t); err != nil {
			return err
		}
		_, err = st.AddEvent(ctx, Event{PaymentID: p.ID, TransactionID: t.ID, Source: SourceAdmin,
			Kind: strings.ToLower(string(t.Type)) + "_requested", StatusBefore: string(p.Status),
			StatusAfter: string(p.Status), Applied: true,
			Note:      fmt.Sprintf("%s %s requested by %s", t.Type, t.Amount, firstNonEmpty(t.Actor, "system")),
			CreatedAt: now}, "admin|request|"+t.RequestID)
		return err
	})
	return p, t, err
}

// Capture captures an authorized payment, fully or partly. Captured plus
// pending captures never exceed the authorized amount, even when several
// requests race: each reserves its amount under the payment row lock.
func (s *Service) Capture(ctx context.Context, paymentID string, req CaptureRequest) (Payment, Transaction, error) {
	p, t, err := s.reserve(ctx, paymentID, func(st *Store, p Payment) (Transaction, error) {
		if p.Status != StatusAuthorized {
			return Transaction{}, conflictf("capture needs an AUTHORIZED payment; this one is %s", p.Status)
		}
		if p.NeedsReview {
			return Transaction{}, conflictf("payment needs review before it can be captured: %s", p.ReviewReason)
		}
		if p.AuthExpiry != nil && !s.now().Before(*p.AuthExpiry) {
			return Transaction{}, conflictf("authorization expired at %s", p.AuthExpiry.Format("2006-01-02T15:04:05Z"))
		}
		reserved, err := st.ReservedMinor(ctx, p.ID, TxCapture)
		if err != nil {
			return Transaction{}, err
		}
		left := p.Amount.Minor - reserved
		amount := left
		if req.Amount != nil {
			amount = *req.Amount
		}
		if amount <= 0 || amount > left {
			if left <= 0 {
				return Transaction{}, conflictf("nothing left to capture: %s authorized, all captured or pending", p.Amount)
			}
			return Transaction{}, conflictf("capture of %s exceeds what is left to capture (%s of %s authorized)",
				money.Money{Minor: amount, Currency: p.Amount.Currency}, money.Money{Minor: left, Currency: p.Amount.Currency}, p.Amount)
		}
		return Transaction{Type: TxCapture, Amount: money.Money{Minor: amount, Currency: p.Amount.Currency},
			IsLast: req.Final || amount == left, Actor: req.Actor}, nil
	})
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	resp, callErr := s.apo.Capture(ctx, apo.CaptureRequest{CaptureRequestID: t.RequestID, PaymentID: p.APOPaymentID,
		CaptureAmount: apo.NewAmount(t.Amount.Minor, t.Amount.Currency), IsLastCapture: apo.FlexBool(t.IsLast)})
	f := txFactFromCall(SourceAdmin, "capture", resp.Result, callErr)
	f.APOID = resp.CaptureID
	return s.finishOp(ctx, t, f, txDetails{Acquirer: resp.AcquirerInfo, Payload: resp})
}

// Cancel voids an authorization that has not been captured.
func (s *Service) Cancel(ctx context.Context, paymentID, actor string) (Payment, Transaction, error) {
	p, t, err := s.reserve(ctx, paymentID, func(st *Store, p Payment) (Transaction, error) {
		if p.Status != StatusAuthorized {
			return Transaction{}, conflictf("cancel needs an AUTHORIZED payment; this one is %s", p.Status)
		}
		captures, err := st.ReservedMinor(ctx, p.ID, TxCapture)
		if err != nil {
			return Transaction{}, err
		}
		if captures > 0 {
			return Transaction{}, conflictf("cannot cancel after capture (%s captured or pending): refund instead",
				money.Money{Minor: captures, Currency: p.Amount.Currency})
		}
		pending, err := st.ReservedMinor(ctx, p.ID, TxCancel)
		if err != nil {
			return Transaction{}, err
		}
		if pending > 0 {
			return Transaction{}, conflictf("a cancel of this payment is already in progress")
		}
		return Transaction{Type: TxCancel, Amount: p.Amount, Actor: actor}, nil
	})
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	resp, callErr := s.apo.Cancel(ctx, apo.CancelRequest{PaymentID: p.APOPaymentID, PaymentRequestID: p.PaymentRequestID})
	f := txFactFromCall(SourceAdmin, "cancel", resp.Result, callErr)
	return s.finishOp(ctx, t, f, txDetails{Payload: resp})
}

// Refund refunds part of what was captured. Refunded plus pending refunds
// never exceed captured minus lost disputes, even under concurrent requests.
func (s *Service) Refund(ctx context.Context, paymentID string, req RefundRequest) (Payment, Transaction, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return Payment{}, Transaction{}, &InvalidError{Field: "reason", Reason: "required"}
	}
	if req.Amount <= 0 {
		return Payment{}, Transaction{}, &InvalidError{Field: "amount", Reason: "must be positive"}
	}
	p, t, err := s.reserve(ctx, paymentID, func(st *Store, p Payment) (Transaction, error) {
		if p.Status != StatusAuthorized && p.Status != StatusCaptured {
			return Transaction{}, conflictf("refund needs a captured payment; this one is %s", p.Status)
		}
		reserved, err := st.ReservedMinor(ctx, p.ID, TxRefund)
		if err != nil {
			return Transaction{}, err
		}
		left := p.CapturedMinor - p.DisputeLostMinor - reserved
		if req.Amount > left {
			return Transaction{}, conflictf("refund of %s exceeds what is refundable: %s captured, %s refunded or pending, %s lost to disputes",
				money.Money{Minor: req.Amount, Currency: p.Amount.Currency}, money.Money{Minor: p.CapturedMinor, Currency: p.Amount.Currency},
				money.Money{Minor: reserved, Currency: p.Amount.Currency}, money.Money{Minor: p.DisputeLostMinor, Currency: p.Amount.Currency})
		}
		return Transaction{Type: TxRefund, Amount: money.Money{Minor: req.Amount, Currency: p.Amount.Currency},
			Actor: req.Actor, Reason: carddata.MaskText(req.Reason)}, nil
	})
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	resp, callErr := s.apo.Refund(ctx, apo.RefundRequest{RefundRequestID: t.RequestID, PaymentID: p.APOPaymentID,
		RefundAmount: apo.NewAmount(t.Amount.Minor, t.Amount.Currency), RefundReason: t.Reason, RefundNotifyURL: s.notifyURL})
	f := txFactFromCall(SourceAdmin, "refund", resp.Result, callErr)
	f.APOID = resp.RefundID
	return s.finishOp(ctx, t, f, txDetails{Acquirer: resp.AcquirerInfo, Payload: resp})
}

// finishOp applies the call's answer; an unknown one leaves the transaction
// PROCESSING and hands it to the poller.
func (s *Service) finishOp(ctx context.Context, t Transaction, f TxFact, d txDetails) (Payment, Transaction, error) {
	p, t, err := s.applyTx(ctx, t.ID, f, d)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	if t.Status == TxProcessing {
		s.schedulePoll(ctx, p.ID)
	}
	return p, t, nil
}

// txFactFromCall classifies a capture/cancel/refund answer like pay's.
func txFactFromCall(src Source, kind string, r apo.Result, err error) TxFact {
	f := TxFact{Source: src, Kind: kind, Code: r.ResultCode, Message: r.ResultMessage}
	switch apo.OutcomeOf(err) {
	case apo.OutcomeSuccess:
		f.Outcome = TxOK
	case apo.OutcomeFailed:
		f.Outcome = TxFail
	default:
		if f.Code == "" {
			f.Code, f.Message = "UNKNOWN", unknownReason(err)
		}
	}
	return f
}

// Review is an admin's resolution of a payment flagged needs_review.
type Review struct {
	Status Status
	Reason string
	Actor  string
}

// Resolve applies an admin override to a payment that needs review. The
// reason is mandatory and the decision lands in the timeline.
func (s *Service) Resolve(ctx context.Context, paymentID string, r Review) (Payment, error) {
	if strings.TrimSpace(r.Reason) == "" {
		return Payment{}, &InvalidError{Field: "reason", Reason: "required"}
	}
	switch r.Status {
	case StatusAuthorized, StatusFailed, StatusCancelled, StatusExpired, StatusCaptured:
	default:
		return Payment{}, &InvalidError{Field: "status", Reason: "one of AUTHORIZED, FAILED, CANCELLED, EXPIRED, CAPTURED"}
	}
	var out Payment
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, paymentID)
		if err != nil {
			return err
		}
		if !p.NeedsReview {
			return conflictf("payment does not need review")
		}
		now := s.now().UTC()
		before := p.Status
		p.Status, p.NeedsReview = r.Status, false
		p.ReviewReason = ""
		p.UpdatedAt = now
		if p, err = st.Update(ctx, p); err != nil {
			return err
		}
		_, err = st.AddEvent(ctx, Event{PaymentID: p.ID, Source: SourceAdmin, Kind: "review", StatusBefore: string(before),
			StatusAfter: string(r.Status), Applied: true, Note: r.Actor + ": " + carddata.MaskText(r.Reason), CreatedAt: now},
			"admin|review|"+uuid.Must(uuid.NewV7()).String())
		out = p
		return err
	})
	return out, err
}

// DisputeUpdate is what the disputes package tells a payment after one of
// its disputes changed: the payment's dispute totals, recomputed over all
// its disputes, and the change itself for the payment's timeline.
type DisputeUpdate struct {
	OpenMinor int64  // under dispute: the payment's unresolved disputes, in its currency
	LostMinor int64  // lost: its accepted and lost disputes, in its currency
	DisputeID string // APO's disputeId
	Source    Source // SourceNotification, or SourceAdmin for an accept or a defence
	Kind      string // what happened: the notification type, accept, defense
	FactKey   string // names the fact, so a replay adds no second timeline entry; "" adds none
	Note      string
	Payload   json.RawMessage // redacted
	Review    string          // non-empty: flag the payment for review with this reason
}

// ApplyDispute records a dispute change on its payment, in one transaction
// under the payment's row lock: the dispute totals (each capped at what was
// captured; refunds are held to captured − lost), the timeline entry, and a
// review flag when the dispute is impossible for this payment. A replay
// (same totals, same fact) changes nothing.
func (s *Service) ApplyDispute(ctx context.Context, paymentID string, u DisputeUpdate) error {
	if u.OpenMinor < 0 || u.LostMinor < 0 {
		return &InvalidError{Field: "dispute totals", Reason: "must not be negative"}
	}
	return postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, paymentID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		ccy := p.Amount.Currency
		open, lost := min(u.OpenMinor, p.CapturedMinor), min(u.LostMinor, p.CapturedMinor)
		note := u.Note
		if open != p.DisputedMinor || lost != p.DisputeLostMinor {
			note = strings.TrimPrefix(fmt.Sprintf("%s; under dispute %s → %s, lost %s → %s", note,
				money.Money{Minor: p.DisputedMinor, Currency: ccy}, money.Money{Minor: open, Currency: ccy},
				money.Money{Minor: p.DisputeLostMinor, Currency: ccy}, money.Money{Minor: lost, Currency: ccy}), "; ")
		}
		added := false
		if u.FactKey != "" {
			src := u.Source
			if src == "" {
				src = SourceNotification
			}
			if added, err = st.AddEvent(ctx, Event{PaymentID: p.ID, Source: src, Kind: "dispute:" + u.Kind,
				StatusBefore: string(p.Status), StatusAfter: string(p.Status), Applied: true,
				Note: fmt.Sprintf("dispute %s: %s", u.DisputeID, note), Payload: redacted(u.Payload), CreatedAt: now},
				"dispute|"+u.DisputeID+"|"+u.FactKey); err != nil {
				return err
			}
		}
		lostChanged := lost != p.DisputeLostMinor
		changed := lostChanged || open != p.DisputedMinor
		p.DisputedMinor, p.DisputeLostMinor = open, lost
		if lostChanged && p.RefundedMinor+lost > p.CapturedMinor {
			// Refunded before the dispute was lost: the buyer got the money twice.
			p.NeedsReview = true
			p.ReviewReason = fmt.Sprintf("refunds (%s) plus lost disputes (%s) exceed captured (%s)",
				money.Money{Minor: p.RefundedMinor, Currency: ccy}, money.Money{Minor: lost, Currency: ccy},
				money.Money{Minor: p.CapturedMinor, Currency: ccy})
		}
		if u.Review != "" && added {
			p.NeedsReview, p.ReviewReason, changed = true, u.Review, true
			s.log.WarnContext(ctx, "payment needs review", "payment_id", p.ID, "reason", u.Review)
		}
		if !changed {
			return nil
		}
		p.UpdatedAt = now
		_, err = st.Update(ctx, p)
		return err
	})
}
