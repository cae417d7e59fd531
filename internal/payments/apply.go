package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/carddata"
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
	err := postgres.InTxRelearnable(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.applyAuthIn(ctx, NewStore(tx), id, f, d)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	return out, nil
}

// applyAuthIn is applyAuth inside the caller's transaction, so one
// notification or inquiry answer is applied whole or not at all.
func (s *Service) applyAuthIn(ctx context.Context, st *Store, id string, f AuthFact, d authDetails) (Payment, error) {
	p, err := st.Lock(ctx, id)
	if err != nil {
		return Payment{}, fmt.Errorf("apply %s %s to payment %s: %w", f.Source, f.Kind, id, err)
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
			return Payment{}, err
		}
	}
	if dec.Review != "" {
		p.NeedsReview, p.ReviewReason = true, dec.Review
		s.log.WarnContext(ctx, "payment needs review", "payment_id", id, "reason", dec.Review)
	}
	p.UpdatedAt = now
	if p, err = st.Update(ctx, p); err != nil {
		return Payment{}, err
	}
	ev := Event{PaymentID: p.ID, Source: f.Source, Kind: f.Kind, StatusBefore: string(before),
		StatusAfter: string(p.Status), Applied: dec.Applied, Note: dec.Note, Payload: redacted(d.Payload), CreatedAt: now}
	if _, err := st.AddEvent(ctx, ev, fmt.Sprintf("%s|%s|auth|%s|%s", f.Source, f.Kind, f.Outcome, f.Code)); err != nil {
		return Payment{}, err
	}
	// An automatic-capture payment that just authorized will be captured by
	// APO itself; a PROCESSING capture stands for it until CAPTURE_RESULT
	// or an inquiry says how it went.
	if dec.Applied && dec.Status == StatusAuthorized && p.CaptureMode == CaptureAutomatic {
		captures, err := st.ReservedMinor(ctx, p.ID, TxCapture)
		if err != nil {
			return Payment{}, err
		}
		if captures > 0 {
			return p, nil // a capture is already known (its notification came first)
		}
		if err := st.CreateTx(ctx, Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID,
			Type: TxCapture, RequestID: "auto-" + p.PaymentRequestID, Amount: p.Amount, Status: TxProcessing,
			IsLast: true, Reason: "automatic capture", CreatedAt: now, UpdatedAt: now}); err != nil && err != ErrDuplicate {
			return Payment{}, err
		}
	}
	return p, nil
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
	Acquirer     *apo.AcquirerInfo
	APOPaymentID string // APO's paymentId, when the source names it
	Payload      any
	// Review, when set, flags the payment for review even if the fact
	// applies cleanly (a capture we never requested).
	Review string
}

// applyTx records a fact about a transaction and applies it, moving the
// payment's amounts and status along with it, under the payment row lock.
func (s *Service) applyTx(ctx context.Context, txID string, f TxFact, d txDetails) (Payment, Transaction, error) {
	var (
		outP Payment
		outT Transaction
	)
	err := postgres.InTxRelearnable(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		outP, outT, err = s.applyTxIn(ctx, NewStore(tx), txID, f, d)
		return err
	})
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	return outP, outT, nil
}

// applyTxIn is applyTx inside the caller's transaction. A success the
// payment's amounts cannot hold (captured above authorized, refunded above
// captured) is impossible: it is recorded and flagged, never applied.
func (s *Service) applyTxIn(ctx context.Context, st *Store, txID string, f TxFact, d txDetails) (Payment, Transaction, error) {
	wrap := func(err error) error {
		return fmt.Errorf("apply %s %s to transaction %s: %w", f.Source, f.Kind, txID, err)
	}
	t, err := st.GetTx(ctx, txID)
	if err != nil {
		return Payment{}, Transaction{}, wrap(err)
	}
	p, err := st.Lock(ctx, t.PaymentID)
	if err != nil {
		return Payment{}, Transaction{}, wrap(err)
	}
	if t, err = st.GetTx(ctx, txID); err != nil { // re-read under the lock
		return Payment{}, Transaction{}, wrap(err)
	}
	now := s.now().UTC()
	dec := DecideTx(t, f)
	if dec.Applied && dec.Status == TxSucceeded {
		if why := impossible(p, t.Type, t.Amount); why != "" {
			dec = TxDecision{Status: t.Status, Note: "impossible: " + why + "; not applied",
				Review: fmt.Sprintf("%s %s said %s %s of %s succeeded, but %s", f.Source, f.Kind, t.Type, t.RequestID, t.Amount, why)}
		}
	}
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
			return Payment{}, Transaction{}, wrap(err)
		}
		if dec.Status == TxSucceeded {
			settle(&p, t)
		}
	} else if f.APOID != "" && t.APOID == "" {
		t.APOID = f.APOID
		t.UpdatedAt = now
		if err := st.UpdateTx(ctx, t); err != nil {
			return Payment{}, Transaction{}, wrap(err)
		}
	}
	review := dec.Review
	if review == "" && dec.Applied && f.Outcome == TxOK {
		review = d.Review
	}
	if review != "" {
		p.NeedsReview, p.ReviewReason = true, review
	}
	p.UpdatedAt = now
	if p, err = st.Update(ctx, p); err != nil {
		return Payment{}, Transaction{}, wrap(err)
	}
	ev := Event{PaymentID: p.ID, TransactionID: t.ID, Source: f.Source, Kind: f.Kind,
		StatusBefore: string(before), StatusAfter: string(p.Status), Applied: dec.Applied,
		Note: fmt.Sprintf("%s %s: %s", t.Type, t.RequestID, dec.Note), Payload: redacted(d.Payload), CreatedAt: now}
	if _, err := st.AddEvent(ctx, ev, fmt.Sprintf("%s|%s|%s|%s|%s", f.Source, f.Kind, t.RequestID, f.Outcome, f.Code)); err != nil {
		return Payment{}, Transaction{}, wrap(err)
	}
	if review != "" {
		s.log.WarnContext(ctx, "payment needs review", "payment_id", p.ID, "reason", review)
	}
	return p, t, nil
}

// impossible says why a succeeded transaction of this type and amount
// cannot fit the payment's amounts, or "" when it fits. Subtraction keeps
// the comparison free of overflow.
func impossible(p Payment, typ TxType, amt money.Money) string {
	if (typ == TxCapture || typ == TxRefund) && amt.Currency != p.Amount.Currency {
		return fmt.Sprintf("its currency %s is not the payment's %s", amt.Currency, p.Amount.Currency)
	}
	switch typ {
	case TxCapture:
		if amt.Minor > p.Amount.Minor-p.CapturedMinor {
			return fmt.Sprintf("only %s of the %s authorized is left to capture",
				money.Money{Minor: p.Amount.Minor - p.CapturedMinor, Currency: p.Amount.Currency}, p.Amount)
		}
	case TxRefund:
		if amt.Minor > p.CapturedMinor-p.RefundedMinor {
			return fmt.Sprintf("only %s of the %s captured is left to refund",
				money.Money{Minor: p.CapturedMinor - p.RefundedMinor, Currency: p.Amount.Currency},
				money.Money{Minor: p.CapturedMinor, Currency: p.Amount.Currency})
		}
	}
	return ""
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
	return carddata.RedactJSON(b)
}

// readAmount converts an amount a source must state. A missing or
// unreadable one comes back as a problem, never as a pass: on a final
// answer it makes the answer a conflict for review (DecideAuth, DecideTx).
func readAmount(field string, a apo.Amount) (*money.Money, string) {
	if a.Value == "" && a.Currency == "" {
		return nil, field + " missing"
	}
	m, err := money.ParseMinor(a.Value, a.Currency)
	if err != nil {
		return nil, fmt.Sprintf("%s unreadable (value %q, currency %q)", field,
			truncate(carddata.Redact(a.Value), 32), truncate(carddata.Redact(a.Currency), 8))
	}
	return &m, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
