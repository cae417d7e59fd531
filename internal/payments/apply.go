package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
)

// authDetails are the facts beside the outcome that a pay answer, an inquiry
// or a notification may carry about the authorization.
type authDetails struct {
	APOPaymentID string
	ResultInfo   *apo.PaymentResultInfo
	Acquirer     *apo.AcquirerInfo
	AuthExpiry   string
	NormalURL    string
	Payload      any // what the source said, stored redacted in the timeline
}

// applyAuth records an authorization fact and applies it when the state
// machine allows, all under the payment's row lock in one transaction.
func (s *Service) applyAuth(ctx context.Context, id string, f AuthFact, d authDetails) (Payment, error) {
	var out Payment
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		dec := DecideAuth(p, f, now)
		before := p.Status
		if d.APOPaymentID != "" && p.APOPaymentID == "" {
			p.APOPaymentID = d.APOPaymentID
		}
		enrich(&p, d)
		if dec.Applied || (p.Status.Open() && f.Code != "") {
			// While the outcome is open, the latest answer is worth showing.
			p.ResultCode, p.ResultMessage = f.Code, f.Message
		}
		if dec.Applied {
			p.Status = dec.Status
			if dec.Status == StatusRequiresAction && d.NormalURL != "" {
				p.NormalURL = d.NormalURL
			}
			if err := s.settleAuthTx(ctx, st, p, dec.Status, f, d.Acquirer, now); err != nil {
				return err
			}
		}
		if dec.Review != "" {
			p.NeedsReview, p.ReviewReason = true, dec.Review
		}
		p.UpdatedAt = now
		if p, err = st.Update(ctx, p); err != nil {
			return err
		}
		ev := Event{PaymentID: p.ID, Source: f.Source, Kind: f.Kind, StatusBefore: string(before),
			StatusAfter: string(p.Status), Applied: dec.Applied, Note: dec.Note, Payload: redacted(d.Payload), CreatedAt: now}
		if _, err := st.AddEvent(ctx, ev, fmt.Sprintf("%s|%s|auth|%s|%s", f.Source, f.Kind, f.Outcome, f.Code)); err != nil {
			return err
		}
		// An automatic-capture payment that just authorized will be captured by
		// APO itself; a PROCESSING capture stands for it until CAPTURE_RESULT
		// or an inquiry says how it went.
		if dec.Applied && dec.Status == StatusAuthorized && p.CaptureMode == CaptureAutomatic {
			captures, err := st.ReservedMinor(ctx, p.ID, TxCapture)
			if err != nil {
				return err
			}
			if captures > 0 {
				out = p // a capture is already known (its notification came first)
				return nil
			}
			if err := st.CreateTx(ctx, Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID,
				Type: TxCapture, RequestID: "auto-" + p.PaymentRequestID, Amount: p.Amount, Status: TxProcessing,
				IsLast: true, Reason: "automatic capture", CreatedAt: now, UpdatedAt: now}); err != nil && err != ErrDuplicate {
				return err
			}
		}
		out = p
		return nil
	})
	if err != nil {
		return Payment{}, fmt.Errorf("apply %s %s to payment %s: %w", f.Source, f.Kind, id, err)
	}
	if out.NeedsReview && f.Outcome != AuthUnknown {
		s.log.WarnContext(ctx, "payment needs review", "payment_id", id, "reason", out.ReviewReason)
	}
	return out, nil
}

// settleAuthTx mirrors the authorization outcome on its AUTHORIZATION row.
func (s *Service) settleAuthTx(ctx context.Context, st *Store, p Payment, status Status, f AuthFact, acq *apo.AcquirerInfo, now time.Time) error {
	t, err := st.GetTxByRequestID(ctx, p.PaymentRequestID)
	if err != nil {
		return err
	}
	switch status {
	case StatusAuthorized:
		t.Status = TxSucceeded
	case StatusFailed:
		t.Status = TxFailed
	default:
		return nil
	}
	t.APOID = p.APOPaymentID
	t.ResultCode, t.ResultMessage = f.Code, f.Message
	setAcquirer(&t.Acquirer, acq)
	t.UpdatedAt, t.CompletedAt = now, &now
	return st.UpdateTx(ctx, t)
}

// enrich copies the card, 3DS and acquirer facts APO reported. They describe
// the payment whatever its status, so they are kept even from a stale answer.
func enrich(p *Payment, d authDetails) {
	if ri := d.ResultInfo; ri != nil {
		c := &p.Card
		c.Brand = firstNonEmpty(ri.CardBrand, c.Brand)
		c.BIN = firstNonEmpty(ri.CardBin, c.BIN)
		c.Last4 = firstNonEmpty(ri.LastFour, c.Last4)
		c.Masked = firstNonEmpty(apo.MaskPAN(ri.CardNo), c.Masked)
		c.Funding = firstNonEmpty(ri.Funding, c.Funding)
		c.IssuingCountry = firstNonEmpty(ri.IssuingCountry, c.IssuingCountry)
		c.ExpiryMonth = firstNonEmpty(ri.ExpiryMonth, c.ExpiryMonth)
		c.ExpiryYear = firstNonEmpty(ri.ExpiryYear, c.ExpiryYear)
		c.Token = firstNonEmpty(ri.CardToken, c.Token)
		if ri.ThreeDSResult != nil {
			p.ThreeDS, _ = json.Marshal(ri.ThreeDSResult)
		}
		p.AVSResult = firstNonEmpty(ri.AvsResultRaw, p.AVSResult)
		p.CVVResult = firstNonEmpty(ri.CvvResultRaw, p.CVVResult)
		if d.Acquirer == nil {
			d.Acquirer = ri.AcquirerInfo
		}
	}
	setAcquirer(&p.Acquirer, d.Acquirer)
	if t, err := time.Parse(time.RFC3339, d.AuthExpiry); err == nil {
		u := t.UTC()
		p.AuthExpiry = &u
	}
}

func setAcquirer(a *Acquirer, info *apo.AcquirerInfo) {
	if info == nil || info.AcquirerName == "" {
		return
	}
	a.Name, a.TransactionID = info.AcquirerName, info.AcquirerTransactionID
	a.Info, _ = json.Marshal(info)
}

// txDetails are what a capture/refund/cancel answer says beside its outcome.
type txDetails struct {
	Acquirer *apo.AcquirerInfo
	Payload  any
}

// applyTx records a fact about a transaction and applies it, moving the
// payment's amounts and status along with it, under the payment row lock.
func (s *Service) applyTx(ctx context.Context, txID string, f TxFact, d txDetails) (Payment, Transaction, error) {
	var (
		outP Payment
		outT Transaction
	)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		t, err := st.GetTx(ctx, txID)
		if err != nil {
			return err
		}
		p, err := st.Lock(ctx, t.PaymentID)
		if err != nil {
			return err
		}
		if t, err = st.GetTx(ctx, txID); err != nil { // re-read under the lock
			return err
		}
		now := s.now().UTC()
		dec := DecideTx(t, f)
		before := p.Status
		if dec.Applied {
			t.Status = dec.Status
			t.ResultCode, t.ResultMessage = f.Code, f.Message
			if f.APOID != "" {
				t.APOID = f.APOID
			}
			setAcquirer(&t.Acquirer, d.Acquirer)
			t.UpdatedAt, t.CompletedAt = now, &now
			if err := st.UpdateTx(ctx, t); err != nil {
				return err
			}
			if dec.Status == TxSucceeded {
				settle(&p, t)
			}
		} else if f.APOID != "" && t.APOID == "" {
			t.APOID = f.APOID
			t.UpdatedAt = now
			if err := st.UpdateTx(ctx, t); err != nil {
				return err
			}
		}
		if dec.Review != "" {
			p.NeedsReview, p.ReviewReason = true, dec.Review
		}
		p.UpdatedAt = now
		if p, err = st.Update(ctx, p); err != nil {
			return err
		}
		ev := Event{PaymentID: p.ID, TransactionID: t.ID, Source: f.Source, Kind: f.Kind,
			StatusBefore: string(before), StatusAfter: string(p.Status), Applied: dec.Applied,
			Note: fmt.Sprintf("%s %s: %s", t.Type, t.RequestID, dec.Note), Payload: redacted(d.Payload), CreatedAt: now}
		if _, err := st.AddEvent(ctx, ev, fmt.Sprintf("%s|%s|%s|%s|%s", f.Source, f.Kind, t.RequestID, f.Outcome, f.Code)); err != nil {
			return err
		}
		outP, outT = p, t
		return nil
	})
	if err != nil {
		return Payment{}, Transaction{}, fmt.Errorf("apply %s %s to transaction %s: %w", f.Source, f.Kind, txID, err)
	}
	return outP, outT, nil
}

// settle moves the payment's amounts and status for a succeeded transaction.
func settle(p *Payment, t Transaction) {
	switch t.Type {
	case TxCapture:
		p.CapturedMinor += t.Amount.Minor
		if p.CapturedMinor >= p.Amount.Minor || t.IsLast {
			p.Status = StatusCaptured
		}
	case TxRefund:
		p.RefundedMinor += t.Amount.Minor
	case TxCancel:
		p.Status = StatusCancelled
	}
}

// redacted stores what a source said without any card number or CVV.
func redacted(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	var b []byte
	switch t := v.(type) {
	case []byte:
		b = t
	case json.RawMessage:
		b = t
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil
		}
	}
	if !json.Valid(b) {
		return nil
	}
	return logging.RedactJSON(b)
}

// amountOf converts an APO amount; nil when absent or unreadable, so a
// missing amount never reads as a mismatch.
func amountOf(a apo.Amount) *money.Money {
	if a.Value == "" || a.Currency == "" {
		return nil
	}
	m, err := money.ParseMinor(a.Value, a.Currency)
	if err != nil {
		return nil
	}
	return &m
}
