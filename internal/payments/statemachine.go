package payments

import (
	"fmt"
	"time"

	"github.com/payops/payops/internal/money"
)

// AuthOutcome is what a source says about a payment's authorization.
type AuthOutcome int

// Authorization outcomes. The zero value is AuthUnknown so an unclassified
// answer can never be taken for a result.
const (
	AuthUnknown   AuthOutcome = iota // U, PROCESSING, PENDING, timeout: says nothing final
	AuthAction                       // U PAYMENT_IN_PROCESS with a 3DS URL
	AuthSucceeded                    // S / SUCCESS
	AuthFailed                       // F / FAIL
	AuthCancelled                    // inquiry paymentStatus CANCELLED
)

func (o AuthOutcome) String() string {
	return [...]string{"UNKNOWN", "ACTION", "SUCCESS", "FAIL", "CANCELLED"}[o]
}

// AuthFact is one answer about the authorization, from any source.
type AuthFact struct {
	Source  Source
	Kind    string // "pay", "inquiryPayment", "PAYMENT_RESULT"
	Outcome AuthOutcome
	Code    string
	Message string
	Amount  *money.Money // as the source reported it, nil when absent
	// AmountProblem says why a source that must state the amount did not
	// (missing, unreadable); a final answer with a problem is a conflict.
	AmountProblem string
	APOPaymentID  string
	NormalURL     string
}

// Decision is what applying a fact does to a payment.
type Decision struct {
	Status  Status // the status after; equal to the one before when not applied
	Applied bool   // false: recorded in the timeline only
	Note    string // why, for the timeline
	Review  string // non-empty: flag the payment needs_review with this reason
}

// DecideAuth applies the rules of design.md §5 to an authorization fact:
// transitions only move forward, a non-final answer never overwrites a final
// state, and a final answer that contradicts the one we hold is recorded and
// flagged for review instead of applied.
func DecideAuth(p Payment, f AuthFact, now time.Time) Decision {
	a := authRules{p: p, f: f}
	final := f.Outcome == AuthSucceeded || f.Outcome == AuthFailed
	if final && f.AmountProblem != "" {
		return a.conflict(f.AmountProblem)
	}
	if f.Amount != nil && final && *f.Amount != p.Amount {
		return a.conflict(fmt.Sprintf("amount %s differs from %s", f.Amount, p.Amount))
	}
	switch f.Outcome {
	case AuthUnknown:
		return a.keep("not final")
	case AuthAction:
		return a.action()
	case AuthSucceeded:
		return a.succeeded()
	case AuthFailed:
		return a.failed()
	case AuthCancelled:
		return a.cancelled(now)
	}
	return a.keep("unrecognised outcome")
}

// authRules are DecideAuth's rules for one payment and one fact, one
// method per outcome.
type authRules struct {
	p Payment
	f AuthFact
}

// keep leaves the payment as it is, noting why.
func (a authRules) keep(note string) Decision { return Decision{Status: a.p.Status, Note: note} }

// conflict keeps the payment and flags it for review.
func (a authRules) conflict(what string) Decision {
	d := a.keep("conflicting final answer: " + what)
	d.Review = fmt.Sprintf("%s %s said %s (%s) but the payment is %s: %s", a.f.Source, a.f.Kind, a.f.Outcome, a.f.Code, a.p.Status, what)
	return d
}

// action: a payment still processing waits for the buyer's 3DS.
func (a authRules) action() Decision {
	if a.p.Status == StatusProcessing {
		return Decision{Status: StatusRequiresAction, Applied: true, Note: "buyer must complete 3DS"}
	}
	return a.keep("stale: already " + string(a.p.Status))
}

// succeeded: an open payment is authorized; one closed as never received
// is too, for review; success after failure is a conflict.
func (a authRules) succeeded() Decision {
	p, f := a.p, a.f
	switch {
	case p.Status.Open():
		return Decision{Status: StatusAuthorized, Applied: true, Note: "authorized"}
	case p.NotReceived():
		// We closed it as never received, but APO took the money: the
		// success wins (forward-only) and a person must look.
		d := Decision{Status: StatusAuthorized, Applied: true, Note: "authorized after being closed as " + ResultNotReceived}
		d.Review = fmt.Sprintf("%s %s said SUCCESS after the payment was closed as %s: money moved; check the order", f.Source, f.Kind, ResultNotReceived)
		return d
	case p.Status == StatusFailed:
		return a.conflict("success after failure")
	default:
		return a.keep("already " + string(p.Status))
	}
}

// failed: an open payment is declined; failure after any other final
// state is a conflict.
func (a authRules) failed() Decision {
	switch {
	case a.p.Status.Open():
		return Decision{Status: StatusFailed, Applied: true, Note: "declined: " + a.f.Code}
	case a.p.Status == StatusFailed:
		return a.keep("already FAILED")
	default:
		return a.conflict("failure after " + string(a.p.Status))
	}
}

// cancelled: a captured payment cannot be; an authorization past its
// expiry lapsed; anything else not closed is cancelled.
func (a authRules) cancelled(now time.Time) Decision {
	p := a.p
	switch {
	case p.CapturedMinor > 0 || p.Status == StatusCaptured:
		return a.conflict("cancelled after capture")
	case p.Status == StatusCancelled || p.Status == StatusExpired || p.Status == StatusFailed:
		return a.keep("already " + string(p.Status))
	case p.Status == StatusAuthorized && p.AuthExpiry != nil && !now.Before(*p.AuthExpiry):
		return Decision{Status: StatusExpired, Applied: true, Note: "authorization lapsed"}
	default:
		return Decision{Status: StatusCancelled, Applied: true, Note: "cancelled at APO"}
	}
}

// TxOutcome is what a source says about a capture, cancel or refund.
type TxOutcome int

// Transaction outcomes; the zero value says nothing final.
const (
	TxUnknown TxOutcome = iota
	TxOK
	TxFail
)

func (o TxOutcome) String() string { return [...]string{"UNKNOWN", "SUCCESS", "FAIL"}[o] }

// TxFact is one answer about a transaction.
type TxFact struct {
	Source  Source
	Kind    string // "capture", "CAPTURE_RESULT", "inquiryPayment", "inquiryRefund", "refund" …
	Outcome TxOutcome
	Code    string
	Message string
	Amount  *money.Money
	// AmountProblem: see AuthFact.AmountProblem.
	AmountProblem string
	APOID         string
}

// TxDecision is what applying a fact does to a transaction.
type TxDecision struct {
	Status  TxStatus
	Applied bool
	Note    string
	Review  string
}

// DecideTx applies the same forward-only rules to a transaction.
func DecideTx(t Transaction, f TxFact) TxDecision {
	keep := func(note string) TxDecision { return TxDecision{Status: t.Status, Note: note} }
	conflict := func(what string) TxDecision {
		d := keep("conflicting final answer: " + what)
		d.Review = fmt.Sprintf("%s %s said %s (%s) for %s %s but it is %s: %s", f.Source, f.Kind, f.Outcome, f.Code, t.Type, t.RequestID, t.Status, what)
		return d
	}
	if f.AmountProblem != "" && f.Outcome != TxUnknown {
		return conflict(f.AmountProblem)
	}
	if f.Amount != nil && f.Outcome == TxOK && *f.Amount != t.Amount {
		return conflict(fmt.Sprintf("amount %s differs from %s", f.Amount, t.Amount))
	}
	switch f.Outcome {
	case TxOK:
		switch t.Status {
		case TxProcessing:
			return TxDecision{Status: TxSucceeded, Applied: true, Note: "succeeded"}
		case TxSucceeded:
			return keep("already SUCCEEDED")
		default:
			return conflict("success after failure")
		}
	case TxFail:
		switch t.Status {
		case TxProcessing:
			return TxDecision{Status: TxFailed, Applied: true, Note: "failed: " + f.Code}
		case TxFailed:
			return keep("already FAILED")
		default:
			return conflict("failure after success")
		}
	}
	return keep("not final")
}
