package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/postgres"
)

// Watchdog thresholds.
const (
	expiryWarning   = 24 * time.Hour   // list authorizations expiring this soon
	autoCaptureWait = 30 * time.Minute // how long APO may take to capture automatically
)

// WatchdogReport says what one watchdog run found and did.
type WatchdogReport struct {
	Expiring     int // authorized, uncaptured, expiring within 24 h (logged)
	Expired      int // lapsed authorizations confirmed by inquiry and marked EXPIRED/CAPTURED
	AutoCaptured int // automatic captures APO never reported, now resolved or retried
}

// Watchdog lists authorizations nearing expiry, closes lapsed ones once an
// inquiry confirms APO still holds them uncaptured, and chases automatic
// captures that never came.
func (t *Tasks) Watchdog(ctx context.Context) (WatchdogReport, error) {
	var r WatchdogReport
	svc := t.svc
	now := svc.now().UTC()
	st := NewStore(svc.db)
	lapsed, err := st.Lapsed(ctx, now, 200)
	if err != nil {
		return r, err
	}
	for _, id := range lapsed {
		ok, err := t.expire(ctx, id)
		if err != nil {
			return r, err
		}
		if ok {
			r.Expired++
		}
	}
	stale, err := st.StaleAutoCaptures(ctx, now.Add(-autoCaptureWait), 200)
	if err != nil {
		return r, err
	}
	for _, tx := range stale {
		if err := t.chaseAutoCapture(ctx, tx); err != nil {
			return r, err
		}
		r.AutoCaptured++
	}
	// Listed last, so what the steps above resolved is not reported.
	f := false
	page, err := svc.List(ctx, Filter{ExpiringBefore: now.Add(expiryWarning), NeedsReview: &f, Limit: 200})
	if err != nil {
		return r, err
	}
	for _, p := range page.Items {
		if p.AuthExpiry != nil && p.AuthExpiry.After(now) {
			r.Expiring++
			t.log.WarnContext(ctx, "authorization expires soon", "payment_id", p.ID, "auth_expiry_time", p.AuthExpiry,
				"captured_minor", p.CapturedMinor, "amount_minor", p.Amount.Minor, "currency", p.Amount.Currency)
		}
	}
	return r, nil
}

// expire asks APO about a lapsed authorization first (it may have been
// captured or cancelled without us hearing), then closes what is left: an
// uncaptured authorization becomes EXPIRED, a partly captured one CAPTURED.
func (t *Tasks) expire(ctx context.Context, id string) (bool, error) {
	if _, err := t.svc.Sync(ctx, id); err != nil {
		if apo.IsUnknown(err) {
			return false, nil // no answer: try again next run, never guess
		}
		return false, err
	}
	done := false
	err := postgres.InTx(ctx, t.svc.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		p, err := st.Lock(ctx, id)
		if err != nil {
			return err
		}
		now := t.svc.now().UTC()
		if p.Status != StatusAuthorized || p.AuthExpiry == nil || now.Before(*p.AuthExpiry) {
			return nil
		}
		pending, err := st.ReservedMinor(ctx, p.ID, TxCapture)
		if err != nil || pending > p.CapturedMinor {
			return err // a capture is still in flight: wait for it
		}
		before := p.Status
		p.Status = StatusExpired
		if p.CapturedMinor > 0 {
			p.Status = StatusCaptured
		}
		p.UpdatedAt = now
		if _, err := st.Update(ctx, p); err != nil {
			return err
		}
		_, err = st.AddEvent(ctx, Event{PaymentID: p.ID, Source: SourceInquiry, Kind: "authorization_lapsed",
			StatusBefore: string(before), StatusAfter: string(p.Status), Applied: true,
			Note:      fmt.Sprintf("authorization expired at %s; inquiry confirmed nothing more was captured", p.AuthExpiry.Format(time.RFC3339)),
			CreatedAt: now}, "inquiry|lapsed")
		done = err == nil
		return err
	})
	return done, err
}

// chaseAutoCapture resolves an automatic capture APO never reported: an
// inquiry first, and if APO still shows none, a capture with the stand-in's
// request id (idempotent at APO, so a capture that did happen is not doubled).
func (t *Tasks) chaseAutoCapture(ctx context.Context, tx Transaction) error {
	p, err := t.svc.Sync(ctx, tx.PaymentID)
	if err != nil {
		if apo.IsUnknown(err) {
			return nil
		}
		return err
	}
	cur, err := NewStore(t.svc.db).GetTx(ctx, tx.ID)
	if err != nil || cur.Status != TxProcessing {
		return err
	}
	resp, callErr := t.svc.apo.Capture(ctx, apo.CaptureRequest{CaptureRequestID: cur.RequestID, PaymentID: p.APOPaymentID,
		CaptureAmount: apo.NewAmount(cur.Amount.Minor, cur.Amount.Currency), IsLastCapture: true})
	f := txFactFromCall(SourceAdmin, "capture", resp.Result, callErr)
	f.APOID = resp.CaptureID
	if _, _, err := t.svc.applyTx(ctx, cur.ID, f, txDetails{Acquirer: resp.AcquirerInfo, Payload: resp}); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
