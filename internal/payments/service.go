package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/timing"
)

// Provider is the part of the APO client this package uses. *apo.Client
// satisfies it.
type Provider interface {
	Pay(ctx context.Context, req apo.PayRequest) (apo.PayResponse, error)
	InquiryPayment(ctx context.Context, req apo.InquiryPaymentRequest) (apo.InquiryPaymentResponse, error)
	Capture(ctx context.Context, req apo.CaptureRequest) (apo.CaptureResponse, error)
	Cancel(ctx context.Context, req apo.CancelRequest) (apo.CancelResponse, error)
	Refund(ctx context.Context, req apo.RefundRequest) (apo.RefundResponse, error)
	InquiryRefund(ctx context.Context, req apo.InquiryRefundRequest) (apo.InquiryRefundResponse, error)
}

// Service runs the payment lifecycle. It is safe for concurrent use.
type Service struct {
	db        *sqlx.DB
	apo       Provider
	polls     Poller
	log       *slog.Logger
	notifyURL string
	// payTimeout bounds one pay call (APO_TIMEOUT): after it, plus a
	// margin, APO's ORDER_NOT_EXIST means the pay never reached it.
	payTimeout time.Duration
	now        func() time.Time
}

// Poller schedules the paced inquiries that resolve unknown outcomes.
// *Polls enqueues asynq tasks; nil disables polling (the sweeper still
// finds open payments).
type Poller interface {
	SchedulePoll(ctx context.Context, paymentID string) error
}

// NewService wires the service. polls starts the inquiry chains of unknown
// outcomes (NewPolls; nil: none). publicURL is where APO reaches our
// webhook (PAYOPS_PUBLIC_URL).
func NewService(db *sqlx.DB, provider Provider, polls Poller, log *slog.Logger, publicURL string) *Service {
	return &Service{db: db, apo: provider, polls: polls, log: log,
		notifyURL: strings.TrimRight(publicURL, "/") + "/webhooks/apo", payTimeout: apo.DefaultTimeout, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetPayTimeout tells the service the APO client's timeout of a pay call
// (APO_TIMEOUT; default apo.DefaultTimeout), which bounds how long a pay can
// be in flight.
func (s *Service) SetPayTimeout(d time.Duration) {
	if d > 0 {
		s.payTimeout = d
	}
}

// CreateRequest is what checkout sends to authorize a payment.
type CreateRequest struct {
	ReferenceOrderID string
	OrderDescription string
	Amount           money.Money
	CaptureMode      string // MANUAL (default) or AUTOMATIC
	BuyerReference   string
	BuyerEmail       string
	BuyerPhone       string
	TerminalType     string // WEB, WAP, APP
	OSType           string // IOS, ANDROID: required for WAP and APP
	ClientIP         string
	UserAgent        string
	Card             CardInput
	Force3DS         bool
	RedirectURL      string // where the buyer lands after 3DS
	Actor            string
	// Audit, if set, builds the audit row of the create from the payment as
	// pay's answer left it. The row is written in the transaction that
	// applies the answer, so it exists exactly when the application does;
	// when Create returns an error, it was not written.
	Audit func(Payment) audit.Entry
}

// validate checks the business rules Huma's schema cannot express. It
// reports every broken rule at once, as *InvalidError values joined with
// errors.Join, each naming the request's JSON field (amount.value,
// card.holder_first_name …), so a client fixes its request in one round.
func (r *CreateRequest) validate(now time.Time) error {
	var v violations
	r.checkAmount(&v)
	r.checkOrder(&v)
	r.checkEnv(&v)
	r.Card.check(&v, now)
	return errors.Join(v...)
}

// Create stores a payment and its request id, then asks APO to authorize it.
// The row exists before the call, so whatever happens to the call (timeout,
// crash) the request id is known and the outcome can be found by inquiry.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Payment, error) {
	now := s.now().UTC()
	if err := req.validate(now); err != nil {
		return Payment{}, err
	}
	req.maskFreeText()
	id := uuid.Must(uuid.NewV7()).String()
	p := Payment{
		ID: id, PaymentRequestID: "pay-" + id, ReferenceOrderID: req.ReferenceOrderID,
		OrderDescription: req.OrderDescription, BuyerReference: req.BuyerReference, BuyerEmail: req.BuyerEmail,
		Amount: req.Amount, CaptureMode: req.CaptureMode, Status: StatusProcessing,
		RedirectURL: req.RedirectURL, CreatedBy: req.Actor, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if req.Card.Number != "" {
		n := req.Card.Number
		p.Card = Card{Brand: brandOf(n), BIN: n[:6], Last4: n[len(n)-4:], Masked: maskPAN(n),
			ExpiryMonth: req.Card.ExpiryMonth, ExpiryYear: req.Card.ExpiryYear}
	} else {
		p.Card.Token = req.Card.Token
	}
	auth := Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: id, Type: TxAuthorization,
		RequestID: p.PaymentRequestID, Amount: req.Amount, Status: TxProcessing, Actor: req.Actor,
		CreatedAt: now, UpdatedAt: now}
	stored := timing.Track(ctx, "store")
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		if err := st.Create(ctx, p); err != nil {
			return err
		}
		if err := st.CreateTx(ctx, auth); err != nil {
			return err
		}
		_, err := st.AddEvent(ctx, Event{PaymentID: id, TransactionID: auth.ID, Source: SourceAPI, Kind: "created",
			StatusAfter: string(StatusProcessing), Applied: true, Note: "payment stored before pay", CreatedAt: now}, "api|created")
		return err
	})
	stored()
	if err != nil {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}

	payCtx, call := holdCall(ctx)
	paid := timing.Track(ctx, "apo")
	resp, payErr := s.apo.Pay(payCtx, s.payRequest(p, req))
	paid()
	applied := timing.Track(ctx, "apply")
	p, err = s.applyPay(ctx, id, authFromPay(resp, payErr), authDetails{
		APOPaymentID: resp.PaymentID, ResultInfo: resp.PaymentResultInfo, Acquirer: resp.AcquirerInfo,
		AuthExpiry: resp.AuthExpiryTime, NormalURL: resp.ActionURL(), Payload: resp}, call, req.Audit)
	applied()
	if err != nil {
		return Payment{}, err
	}
	// An automatic capture's stand-in is open too: if its CAPTURE_RESULT
	// never arrives, the chain's inquiries find the capture.
	if p.Status.Open() || p.CaptureMode == CaptureAutomatic && p.Status == StatusAuthorized {
		s.schedulePoll(ctx, p.ID)
	}
	return p, nil
}

// applyPay applies pay's answer and, in the same transaction, writes the
// pay call's apo_calls record and the create's audit row (entry, if set):
// after the call, pay commits once. An audit row cannot be learnt again
// from APO, so with one the commit waits for the flush, as the row's own
// commit did; without one it is relearnable like every other application.
// When the transaction does not commit, the record is written on its own
// and the error returned (the caller audits the failure).
func (s *Service) applyPay(ctx context.Context, id string, f AuthFact, d authDetails, call *heldCall, entry func(Payment) audit.Entry) (Payment, error) {
	inTx := postgres.InTxRelearnable
	if entry != nil {
		inTx = postgres.InTx
	}
	var out Payment
	err := inTx(ctx, s.db, func(tx *sqlx.Tx) error {
		p, err := s.applyAuthIn(ctx, NewStore(tx), id, f, d)
		if err != nil {
			return err
		}
		if err := call.insert(ctx, tx); err != nil {
			return fmt.Errorf("record pay call of payment %s: %w", id, err)
		}
		if entry != nil {
			if err := audit.NewStore(tx).Record(ctx, entry(p)); err != nil {
				return err
			}
		}
		out = p
		return nil
	})
	if err != nil {
		call.release(ctx, s.db)
		return Payment{}, err
	}
	return out, nil
}

func (s *Service) payRequest(p Payment, req CreateRequest) apo.PayRequest {
	meta := &apo.CardMetaData{}
	pm := apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: meta}
	if req.Card.Number != "" {
		meta.CardNo, meta.CVV = req.Card.Number, req.Card.CVV
		meta.ExpiryMonth, meta.ExpiryYear = req.Card.ExpiryMonth, req.Card.ExpiryYear
		meta.CardholderName = &apo.Name{FirstName: req.Card.HolderFirst, LastName: req.Card.HolderLast,
			FullName: strings.TrimSpace(req.Card.HolderFirst + " " + req.Card.HolderLast)}
	} else {
		pm.PaymentMethodID = req.Card.Token
		meta.IsCardOnFile = true
	}
	meta.Is3DSAuthentication = apo.StringBool(req.Force3DS)
	return apo.PayRequest{
		ProductCode:      apo.ProductCashierPayment,
		PaymentRequestID: p.PaymentRequestID,
		Order: &apo.Order{
			ReferenceOrderID: p.ReferenceOrderID,
			OrderDescription: firstNonEmpty(p.OrderDescription, "order "+p.ReferenceOrderID),
			OrderAmount:      ptr(apo.NewAmount(p.Amount.Minor, p.Amount.Currency)),
			Buyer: &apo.Buyer{ReferenceBuyerID: req.BuyerReference, BuyerEmail: req.BuyerEmail,
				BuyerPhoneNo: req.BuyerPhone},
		},
		PaymentAmount:      apo.NewAmount(p.Amount.Minor, p.Amount.Currency),
		PaymentMethod:      pm,
		PaymentFactor:      &apo.PaymentFactor{IsAuthorization: true, CaptureMode: p.CaptureMode},
		PaymentNotifyURL:   s.notifyURL,
		PaymentRedirectURL: p.RedirectURL,
		Env: &apo.Env{TerminalType: req.TerminalType, OSType: req.OSType, ClientIP: req.ClientIP,
			UserAgent: req.UserAgent},
	}
}

// authFromPay classifies pay's answer: S authorizes, F declines, U with a
// 3DS URL waits for the buyer, and anything else (U, timeout, 5xx, a reply
// we cannot verify) is unknown and stays PROCESSING (design.md §6).
func authFromPay(resp apo.PayResponse, err error) AuthFact {
	f := AuthFact{Source: SourcePayResponse, Kind: "pay", Code: resp.Result.ResultCode, Message: resp.Result.ResultMessage}
	switch apo.OutcomeOf(err) {
	case apo.OutcomeSuccess:
		f.Outcome = AuthSucceeded
	case apo.OutcomeFailed:
		f.Outcome = AuthFailed
	default:
		if resp.NeedsBuyerAction() {
			f.Outcome = AuthAction
		}
		if f.Code == "" {
			f.Code = "UNKNOWN"
			f.Message = unknownReason(err)
		}
	}
	return f
}

// unknownReason describes a call whose outcome is unknown, without request data.
func unknownReason(err error) string {
	if err == nil {
		return ""
	}
	var e *apo.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "transport error"
}

func (s *Service) schedulePoll(ctx context.Context, paymentID string) {
	if s.polls == nil {
		return
	}
	defer timing.Track(ctx, "poll")()
	if err := s.polls.SchedulePoll(ctx, paymentID); err != nil {
		// The sweeper re-creates lost poll chains from the database.
		s.log.WarnContext(ctx, "schedule poll failed; the sweeper will retry", "payment_id", paymentID, "err", err)
	}
}

// Get returns a payment.
func (s *Service) Get(ctx context.Context, id string) (Payment, error) {
	return NewStore(s.db).Get(ctx, id)
}

// Detail is a payment with its transactions and timeline.
type Detail struct {
	Payment      Payment
	Transactions []Transaction
	Events       []Event
}

// GetDetail returns a payment with its transactions and timeline.
func (s *Service) GetDetail(ctx context.Context, id string) (Detail, error) {
	st := NewStore(s.db)
	p, err := st.Get(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	txs, err := st.Transactions(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	evs, err := st.Events(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	return Detail{Payment: p, Transactions: txs, Events: evs}, nil
}

// List returns a page of the payments f selects, in f's order (newest
// first by default). A bad filter
// value is an *InvalidError naming it (several are joined).
func (s *Service) List(ctx context.Context, f Filter) (Page[Payment], error) {
	if err := f.validate(); err != nil {
		return Page[Payment]{}, err
	}
	return NewStore(s.db).List(ctx, f)
}

func ptr[T any](v T) *T { return &v }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
