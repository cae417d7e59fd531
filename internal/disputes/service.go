package disputes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres"
)

// Provider is the part of the APO client this package uses. *apo.Client
// satisfies it.
type Provider interface {
	AcceptDispute(ctx context.Context, req apo.AcceptDisputeRequest) (apo.AcceptDisputeResponse, error)
	SupplyDefenseDocument(ctx context.Context, req apo.SupplyDefenseDocumentRequest) (apo.SupplyDefenseDocumentResponse, error)
	DownloadDisputeEvidence(ctx context.Context, req apo.DownloadDisputeEvidenceRequest) (apo.DownloadDisputeEvidenceResponse, error)
}

// Payments is what this package needs from the payments package.
// *payments.Service satisfies it.
type Payments interface {
	Get(ctx context.Context, id string) (payments.Payment, error)
	GetDetail(ctx context.Context, id string) (payments.Detail, error)
	List(ctx context.Context, f payments.Filter) (payments.Page[payments.Payment], error)
	// ApplyDispute records a dispute change on its payment: the totals under
	// dispute and lost (refunds stay within captured − lost), the payment's
	// timeline entry, and a review flag for an impossible dispute.
	ApplyDispute(ctx context.Context, paymentID string, u payments.DisputeUpdate) error
}

// Service runs disputes. It is safe for concurrent use.
type Service struct {
	db     *sqlx.DB
	apo    Provider
	pay    Payments
	alerts *Alerter
	log    *slog.Logger
	now    func() time.Time
}

// NewService wires the service. alerts carries deadline alerts; nil logs
// them only.
func NewService(db *sqlx.DB, provider Provider, pay Payments, alerts *Alerter, log *slog.Logger) *Service {
	if alerts == nil {
		alerts = &Alerter{log: log}
	}
	return &Service{db: db, apo: provider, pay: pay, alerts: alerts, log: log, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Detail is a dispute with its history and what a defence needs to know
// about the payment: amounts, card facts, 3DS, AVS/CVV, acquirer, timeline.
type Detail struct {
	Dispute Dispute
	Events  []Event
	Payment *payments.Detail // nil when the payment is unknown to us
}

// Get returns a dispute with its history and its payment.
func (s *Service) Get(ctx context.Context, id string) (Detail, error) {
	st := NewStore(s.db)
	d, err := st.Get(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	evs, err := st.Events(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	out := Detail{Dispute: d, Events: evs}
	if d.PaymentID != "" {
		pd, err := s.pay.GetDetail(ctx, d.PaymentID)
		if err != nil {
			return Detail{}, fmt.Errorf("payment %s of dispute %s: %w", d.PaymentID, id, err)
		}
		out.Payment = &pd
	}
	return out, nil
}

// List returns a page of disputes, newest first or by deadline (f.Sort).
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	if f.Status != "" && !f.Status.Valid() {
		return Page{}, &InvalidError{Field: "status", Reason: "unknown status " + string(f.Status)}
	}
	if f.Sort != SortNewest && f.Sort != SortDeadline {
		return Page{}, &InvalidError{Field: "sort", Reason: "unknown order " + string(f.Sort)}
	}
	return NewStore(s.db).List(ctx, f)
}

// findPayment looks up the payment a notification names, by our request id
// first (it is ours, so it cannot be ambiguous) and then by APO's id.
func (s *Service) findPayment(ctx context.Context, requestID, apoID string) (payments.Payment, bool, error) {
	for _, f := range []payments.Filter{{PaymentRequestID: requestID, Limit: 1}, {APOPaymentID: apoID, Limit: 1}} {
		if f.PaymentRequestID == "" && f.APOPaymentID == "" {
			continue
		}
		page, err := s.pay.List(ctx, f)
		if err != nil {
			return payments.Payment{}, false, fmt.Errorf("look up payment of dispute: %w", err)
		}
		if len(page.Items) > 0 {
			return page.Items[0], true, nil
		}
	}
	return payments.Payment{}, false, nil
}

// syncPayment tells payments about a change to one of a payment's
// disputes: what is under dispute (its unresolved disputes) and what was
// lost (accepted and lost ones), each summed over all its disputes, with
// the change for the payment's timeline. It runs after every dispute
// change (and on replays), and the same totals and fact again change
// nothing, so a failure here is healed by the next delivery of the
// notification. Runs for one payment are serialized by an advisory lock:
// each starts after its own dispute change committed, so the last one to
// run sees every change and writes the full sums, never stale smaller ones.
// A dispute whose amounts the payment cannot hold also flags the payment.
func (s *Service) syncPayment(ctx context.Context, d Dispute, u payments.DisputeUpdate) error {
	paymentID := d.PaymentID
	return s.inTx(ctx, func(st *Store) error {
		if err := st.LockLost(ctx, paymentID); err != nil {
			return err
		}
		p, err := s.pay.Get(ctx, paymentID)
		if err != nil {
			return fmt.Errorf("payment %s: %w", paymentID, err)
		}
		if u.LostMinor, err = st.LostTotal(ctx, paymentID, p.Amount.Currency); err != nil {
			return err
		}
		if u.OpenMinor, err = st.OpenTotal(ctx, paymentID, p.Amount.Currency); err != nil {
			return err
		}
		if why := impossibleAmount(d, p); why != "" {
			u.Review = fmt.Sprintf("dispute %s: %s", d.APODisputeID, why)
		}
		if err := s.pay.ApplyDispute(ctx, paymentID, u); err != nil {
			return fmt.Errorf("record dispute %s on payment %s: %w", u.DisputeID, paymentID, err)
		}
		return nil
	})
}

// impossibleAmount says why the dispute's amounts cannot be right for the
// payment (more than it captured), or "" when they can. A currency
// mismatch is flagged on its own (see HandleDisputeNotification).
func impossibleAmount(d Dispute, p payments.Payment) string {
	captured := money.Money{Minor: p.CapturedMinor, Currency: p.Amount.Currency}
	for _, a := range []struct {
		what string
		m    *money.Money
	}{{"disputed amount", &d.Amount}, {"judged amount", d.JudgedAmount}} {
		if a.m != nil && a.m.Currency == p.Amount.Currency && a.m.Minor > p.CapturedMinor {
			return fmt.Sprintf("%s %s exceeds what the payment captured (%s)", a.what, a.m, captured)
		}
	}
	return ""
}

// inTx runs fn on a store inside one transaction.
func (s *Service) inTx(ctx context.Context, fn func(st *Store) error) error {
	return postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return fn(NewStore(tx)) })
}

// Attention reasons are kept as a "; "-separated list so one reason can be
// cleared when its cause goes away (the payment turns up) without losing
// the others.
const attentionNoPayment = "payment not found"

func addAttention(d *Dispute, reason string) bool {
	for _, r := range strings.Split(d.AttentionReason, "; ") {
		if r == reason {
			return false
		}
	}
	if d.AttentionReason == "" {
		d.AttentionReason = reason
	} else {
		d.AttentionReason += "; " + reason
	}
	d.NeedsAttention = true
	return true
}

func clearAttention(d *Dispute, reason string) bool {
	if d.AttentionReason == "" {
		return false
	}
	var keep []string
	changed := false
	for _, r := range strings.Split(d.AttentionReason, "; ") {
		if r == reason {
			changed = true
			continue
		}
		keep = append(keep, r)
	}
	if changed {
		d.AttentionReason = strings.Join(keep, "; ")
		d.NeedsAttention = d.AttentionReason != ""
	}
	return changed
}

// unknownReason describes a call whose outcome is unknown, without request
// data.
func unknownReason(err error) string {
	var e *apo.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "transport error"
}

// parseTime reads APO's ISO 8601 times; "" is no time.
func parseTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("time %q is not ISO 8601", s)
	}
	t = t.UTC()
	return &t, nil
}
