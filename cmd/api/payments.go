package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// maxExpiringWithin bounds the expiring_within filter: authorizations last
// about 7 days, so a month covers every live one.
const maxExpiringWithin = 30 * 24 * time.Hour

// paymentService is what the payment handlers need;
// *payments.Service satisfies it.
type paymentService interface {
	Create(ctx context.Context, req payments.CreateRequest) (payments.Payment, error)
	Capture(ctx context.Context, id string, req payments.CaptureRequest) (payments.Payment, payments.Transaction, error)
	Cancel(ctx context.Context, id, actor string) (payments.Payment, payments.Transaction, error)
	Refund(ctx context.Context, id string, req payments.RefundRequest) (payments.Payment, payments.Transaction, error)
	Sync(ctx context.Context, id string) (payments.Payment, error)
	Get(ctx context.Context, id string) (payments.Payment, error)
	Resolve(ctx context.Context, id string, r payments.Review) (payments.Payment, error)
	GetDetail(ctx context.Context, id string) (payments.Detail, error)
	List(ctx context.Context, f payments.Filter) (payments.Page[payments.Payment], error)
}

// ---- request types ----

// MoneyInput is an amount a caller asks for.
type MoneyInput struct {
	Value    int64  `json:"value" minimum:"1" example:"1000" doc:"Minor units of the currency (cents for USD, yen for JPY); at most 100,000,000,000 major units of the currency (USD 100,000,000,000.00), the ceiling payops puts on every amount"`
	Currency string `json:"currency" pattern:"^[A-Z]{3}$" example:"USD" doc:"ISO 4217 code"`
}

// OrderInput is the merchant's order the payment is for.
type OrderInput struct {
	ReferenceOrderID string `json:"reference_order_id" minLength:"1" maxLength:"64" example:"order-10042" doc:"The merchant's order id"`
	Description      string `json:"description,omitempty" maxLength:"256" example:"2 x coffee beans 1 kg"`
}

// BuyerInput identifies the buyer; give at least one field.
type BuyerInput struct {
	Reference string `json:"reference,omitempty" maxLength:"64" example:"customer-7781" doc:"The merchant's buyer id"`
	Email     string `json:"email,omitempty" maxLength:"64" example:"ada@example.com"`
	Phone     string `json:"phone,omitempty" maxLength:"24" example:"+44 20 7946 0000"`
}

// buyerFields are BuyerInput's JSON fields, at least one of which a
// request must give.
var buyerFields = []string{"reference", "email", "phone"}

// TransformSchema puts the "at least one field" rule into the schema, as
// anyOf (a non-empty reference, email or phone), so the spec states it and
// Huma checks it.
func (BuyerInput) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	s.Description = "The buyer: give at least one of reference, email and phone (non-empty)."
	one := 1
	for _, f := range buyerFields {
		s.AnyOf = append(s.AnyOf, &huma.Schema{Title: "with " + f, Type: huma.TypeObject, Required: []string{f},
			Properties: map[string]*huma.Schema{f: {Type: huma.TypeString, MinLength: &one}}})
	}
	return s
}

// EnvInput describes where the buyer pays from, for APO's risk checks.
type EnvInput struct {
	TerminalType string `json:"terminal_type" enum:"WEB,WAP,APP" example:"WEB"`
	OSType       string `json:"os_type,omitempty" enum:"IOS,ANDROID" doc:"Required for WAP and APP"`
	ClientIP     string `json:"client_ip" maxLength:"45" example:"203.0.113.7" doc:"The buyer's IP address"`
	UserAgent    string `json:"user_agent,omitempty" maxLength:"512" example:"Mozilla/5.0"`
}

// CardInput is the buyer's card: a number with its details, or the token of
// a card used before. The number and CVV go to APO and nowhere else: they
// are never stored, logged or shown back.
type CardInput struct {
	Number          string `json:"number,omitempty" maxLength:"23" example:"4111111111111111" doc:"Card number (PAN); spaces and dashes are ignored"`
	CVV             string `json:"cvv,omitempty" maxLength:"4" example:"123"`
	ExpiryMonth     string `json:"expiry_month,omitempty" pattern:"^[0-9]{1,2}$" example:"12" doc:"1 to 12"`
	ExpiryYear      string `json:"expiry_year,omitempty" pattern:"^([0-9]{2}|[0-9]{4})$" example:"2030" doc:"YY or YYYY"`
	HolderFirstName string `json:"holder_first_name,omitempty" maxLength:"64" example:"Ada" doc:"With a number, the name on the card is required: holder_first_name, holder_last_name or both; ASCII only"`
	HolderLastName  string `json:"holder_last_name,omitempty" maxLength:"64" example:"Lovelace"`
	Token           string `json:"token,omitempty" maxLength:"128" doc:"A card token from an earlier payment, instead of number and details"`
}

// String masks the card: the number keeps its BIN and last four digits,
// the CVV is left out.
func (c CardInput) String() string { return c.masked().String() }

// GoString masks the card in %#v.
func (c CardInput) GoString() string { return c.String() }

// Format masks the card for every fmt verb (%v, %+v, %s …), also when the
// card is printed as part of a request.
func (c CardInput) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue masks the card in slog output.
func (c CardInput) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON masks the card when a request is encoded, e.g. by a
// logger; decoding a request is unaffected.
func (c CardInput) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Card  string `json:"card"`
		Token bool   `json:"token,omitempty"`
	}{Card: c.String(), Token: c.Token != ""})
}

func (c CardInput) masked() payments.CardInput {
	return payments.CardInput{Number: c.Number, ExpiryMonth: c.ExpiryMonth, ExpiryYear: c.ExpiryYear}
}

// CreatePaymentBody is the body of create-payment.
type CreatePaymentBody struct {
	Amount      MoneyInput `json:"amount"`
	CaptureMode string     `json:"capture_mode,omitempty" enum:"MANUAL,AUTOMATIC" default:"MANUAL" doc:"MANUAL: capture later with POST /v1/payments/{id}/captures; AUTOMATIC: APO captures on authorization"`
	Order       OrderInput `json:"order"`
	Buyer       BuyerInput `json:"buyer"`
	Env         EnvInput   `json:"env"`
	Card        CardInput  `json:"card"`
	ThreeDS     bool       `json:"three_ds,omitempty" doc:"Force 3DS authentication; otherwise APO decides"`
	RedirectURL string     `json:"redirect_url" maxLength:"2048" example:"https://shop.example/checkout/return" doc:"Where the buyer lands after 3DS"`
}

// CreatePaymentInput is the request of create-payment.
type CreatePaymentInput struct {
	Body CreatePaymentBody
}

// Resolve runs the payment rules (Luhn, expiry, the amount ceiling …)
// while Huma validates the schema, so one problem lists every error of the
// request, each at its body location. Create checks the same rules again.
func (in *CreatePaymentInput) Resolve(huma.Context) []error {
	return invalidDetails("body.", in.Body.request("").Check(time.Now()))
}

// LogValue logs the request with its card masked.
func (b CreatePaymentBody) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("amount", b.Amount), slog.String("capture_mode", b.CaptureMode),
		slog.Any("order", b.Order), slog.Any("buyer", b.Buyer), slog.Any("env", b.Env), slog.Any("card", b.Card),
		slog.Bool("three_ds", b.ThreeDS), slog.String("redirect_url", b.RedirectURL))
}

func (b CreatePaymentBody) request(actor string) payments.CreateRequest {
	return payments.CreateRequest{
		ReferenceOrderID: b.Order.ReferenceOrderID, OrderDescription: b.Order.Description,
		Amount:         money.Money{Minor: b.Amount.Value, Currency: b.Amount.Currency},
		CaptureMode:    b.CaptureMode,
		BuyerReference: b.Buyer.Reference, BuyerEmail: b.Buyer.Email, BuyerPhone: b.Buyer.Phone,
		TerminalType: b.Env.TerminalType, OSType: b.Env.OSType, ClientIP: b.Env.ClientIP, UserAgent: b.Env.UserAgent,
		Card: payments.CardInput{Number: b.Card.Number, CVV: b.Card.CVV, ExpiryMonth: b.Card.ExpiryMonth,
			ExpiryYear: b.Card.ExpiryYear, HolderFirst: b.Card.HolderFirstName, HolderLast: b.Card.HolderLastName,
			Token: b.Card.Token},
		Force3DS: b.ThreeDS, RedirectURL: b.RedirectURL, Actor: actor,
	}
}

// createPaymentAudit is what the audit log keeps of a create-payment
// request: the request with the card replaced by the facts we may keep.
type createPaymentAudit struct {
	CreatePaymentBody
	Card auditCard `json:"card"` // shadows the embedded body's card
}

type auditCard struct {
	Brand       string `json:"brand,omitempty"`
	BIN         string `json:"bin,omitempty"`
	Last4       string `json:"last4,omitempty"`
	Masked      string `json:"masked,omitempty"`
	ExpiryMonth string `json:"expiry_month,omitempty"`
	ExpiryYear  string `json:"expiry_year,omitempty"`
	Token       bool   `json:"token,omitempty"`
	Holder      string `json:"holder,omitempty"`
}

// newCreatePaymentAudit masks the card of b. When the payment was made its
// stored card facts are used; otherwise (refused input) the number is
// masked here, keeping at most the BIN and the last four digits.
func newCreatePaymentAudit(b CreatePaymentBody, p *payments.Payment) createPaymentAudit {
	c := auditCard{ExpiryMonth: b.Card.ExpiryMonth, ExpiryYear: b.Card.ExpiryYear, Token: b.Card.Token != "",
		Holder: strings.TrimSpace(b.Card.HolderFirstName + " " + b.Card.HolderLastName)}
	if p != nil && p.Card.Masked != "" {
		c.Brand, c.BIN, c.Last4, c.Masked = p.Card.Brand, p.Card.BIN, p.Card.Last4, p.Card.Masked
		c.ExpiryMonth, c.ExpiryYear = p.Card.ExpiryMonth, p.Card.ExpiryYear
	} else if b.Card.Number != "" {
		c.Masked = carddata.Mask(digitsOnly(b.Card.Number))
	}
	b.Card = CardInput{}
	return createPaymentAudit{CreatePaymentBody: b, Card: c}
}

// digitsOnly drops everything but digits: a mistyped card number is still
// somebody's card, masked as one.
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ---- response types ----

// ResultBody is APO's last result code and message for a payment or
// transaction.
type ResultBody struct {
	Code    string `json:"code,omitempty" example:"SUCCESS"`
	Message string `json:"message,omitempty" example:"success"`
}

// CardFacts is what payops keeps of a card: never the number or the CVV.
type CardFacts struct {
	Brand          string `json:"brand,omitempty" example:"VISA"`
	BIN            string `json:"bin,omitempty" example:"411111" doc:"First six digits"`
	Last4          string `json:"last4,omitempty" example:"1111"`
	Masked         string `json:"masked,omitempty" example:"411111******1111"`
	Funding        string `json:"funding,omitempty" example:"CREDIT"`
	IssuingCountry string `json:"issuing_country,omitempty" example:"US"`
	ExpiryMonth    string `json:"expiry_month,omitempty" example:"12"`
	ExpiryYear     string `json:"expiry_year,omitempty" example:"30"`
	Token          string `json:"token,omitempty" doc:"Card token for later payments, when APO issued one with the authorization. It pays with the card, so it is a credential: only the create-payment answer carries it, to the checkout key that made the payment; no read shows it."`
}

// AcquirerBody is the acquirer that moved the money, as APO reported it.
type AcquirerBody struct {
	Name          string          `json:"name,omitempty" example:"Adyen"`
	TransactionID string          `json:"transaction_id,omitempty" example:"8815034567891234"`
	Info          json.RawMessage `json:"info,omitempty" doc:"APO's acquirerInfo as received (redacted)"`
}

func acquirerBody(a payments.Acquirer) *AcquirerBody {
	if a.Name == "" && a.TransactionID == "" && len(a.Info) == 0 {
		return nil
	}
	return &AcquirerBody{Name: a.Name, TransactionID: a.TransactionID, Info: redactedJSON(a.Info)}
}

// Payment is a payment as the API shows it.
type Payment struct {
	ID               string        `json:"id" format:"uuid" example:"01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e" doc:"payops' id"`
	Status           string        `json:"status" enum:"PROCESSING,REQUIRES_ACTION,AUTHORIZED,FAILED,CANCELLED,EXPIRED,CAPTURED" example:"AUTHORIZED"`
	PaymentID        string        `json:"payment_id,omitempty" example:"202611231940108001001888G0000000001" doc:"APO's paymentId, once APO assigned one"`
	PaymentRequestID string        `json:"payment_request_id" example:"pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e" doc:"The paymentRequestId payops sent APO"`
	ReferenceOrderID string        `json:"reference_order_id" example:"order-10042"`
	CaptureMode      string        `json:"capture_mode" enum:"MANUAL,AUTOMATIC" example:"MANUAL"`
	NormalURL        string        `json:"normal_url,omitempty" doc:"REQUIRES_ACTION: send the buyer here for 3DS"`
	Result           ResultBody    `json:"result"`
	Amount           Money         `json:"amount" doc:"Authorized amount"`
	CapturedAmount   Money         `json:"captured_amount"`
	RefundedAmount   Money         `json:"refunded_amount"`
	DisputedAmount   Money         `json:"disputed_amount" doc:"Under dispute: the payment's unresolved disputes (open, defended, or past their defence due time), capped at what was captured"`
	DisputeLost      Money         `json:"dispute_lost_amount" doc:"Lost to disputes: accepted, or judged against us (capped at what was captured); refunds are held to captured minus this"`
	Card             CardFacts     `json:"card"`
	Acquirer         *AcquirerBody `json:"acquirer,omitempty"`
	AuthExpiryTime   *time.Time    `json:"auth_expiry_time,omitempty" doc:"When the authorization lapses if not captured"`
	NeedsReview      bool          `json:"needs_review" doc:"Sources disagree about the outcome; an admin must resolve it"`
	ReviewReason     string        `json:"review_reason,omitempty"`
	CreatedBy        string        `json:"created_by,omitempty" example:"checkout-web" doc:"Name of the API key that created it"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// paymentBody shows a payment to any role: never its card token (see
// CardFacts.Token).
func paymentBody(p payments.Payment) Payment {
	ccy := p.Amount.Currency
	return Payment{
		ID: p.ID, Status: string(p.Status), PaymentID: p.APOPaymentID, PaymentRequestID: p.PaymentRequestID,
		ReferenceOrderID: p.ReferenceOrderID, CaptureMode: p.CaptureMode, NormalURL: p.NormalURL,
		Result: ResultBody{Code: p.ResultCode, Message: p.ResultMessage},
		Amount: moneyBody(p.Amount), CapturedAmount: Money{Value: p.CapturedMinor, Currency: ccy},
		RefundedAmount: Money{Value: p.RefundedMinor, Currency: ccy}, DisputedAmount: Money{Value: p.DisputedMinor, Currency: ccy},
		DisputeLost: Money{Value: p.DisputeLostMinor, Currency: ccy},
		Card: CardFacts{Brand: p.Card.Brand, BIN: p.Card.BIN, Last4: p.Card.Last4, Masked: p.Card.Masked,
			Funding: p.Card.Funding, IssuingCountry: p.Card.IssuingCountry, ExpiryMonth: p.Card.ExpiryMonth,
			ExpiryYear: p.Card.ExpiryYear},
		Acquirer: acquirerBody(p.Acquirer), AuthExpiryTime: p.AuthExpiry, NeedsReview: p.NeedsReview,
		ReviewReason: p.ReviewReason, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// Transaction is an authorization, capture, cancel or refund of a payment.
type Transaction struct {
	ID          string        `json:"id" format:"uuid"`
	Type        string        `json:"type" enum:"AUTHORIZATION,CAPTURE,CANCEL,REFUND" example:"CAPTURE"`
	RequestID   string        `json:"request_id" example:"capture-01937a2f-0000-7000-8000-000000000001" doc:"The request id payops sent APO (captureRequestId, refundRequestId …)"`
	APOID       string        `json:"apo_id,omitempty" doc:"APO's id for it (captureId, refundId …)"`
	Amount      Money         `json:"amount"`
	Status      string        `json:"status" enum:"PROCESSING,SUCCEEDED,FAILED" example:"SUCCEEDED"`
	Result      ResultBody    `json:"result"`
	IsLast      bool          `json:"is_last,omitempty" doc:"A capture that released the rest of the authorization"`
	Acquirer    *AcquirerBody `json:"acquirer,omitempty"`
	Actor       string        `json:"actor,omitempty" doc:"Who asked for it"`
	Reason      string        `json:"reason,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	CompletedAt *time.Time    `json:"completed_at,omitempty"`
}

func transactionBody(t payments.Transaction) Transaction {
	return Transaction{
		ID: t.ID, Type: string(t.Type), RequestID: t.RequestID, APOID: t.APOID, Amount: moneyBody(t.Amount),
		Status: string(t.Status), Result: ResultBody{Code: t.ResultCode, Message: t.ResultMessage}, IsLast: t.IsLast,
		Acquirer: acquirerBody(t.Acquirer), Actor: t.Actor, Reason: t.Reason, CreatedAt: t.CreatedAt,
		CompletedAt: t.CompletedAt,
	}
}

// TimelineEvent is one thing payops learned about a payment, and from where.
type TimelineEvent struct {
	ID            int64           `json:"id"`
	Source        string          `json:"source" enum:"pay_response,inquiry,notification,admin,settlement,api" example:"pay_response"`
	Kind          string          `json:"kind" example:"pay"`
	TransactionID string          `json:"transaction_id,omitempty" format:"uuid"`
	StatusBefore  string          `json:"status_before,omitempty" example:"PROCESSING"`
	StatusAfter   string          `json:"status_after,omitempty" example:"AUTHORIZED"`
	Applied       bool            `json:"applied" doc:"false: recorded only (stale, or conflicting with what payops holds)"`
	Note          string          `json:"note,omitempty" example:"authorized"`
	Payload       json.RawMessage `json:"payload,omitempty" doc:"What the source said (redacted)"`
	CreatedAt     time.Time       `json:"created_at"`
}

// timelineBody is one entry of a payment's timeline (get-payment, and the
// payment of get-dispute).
func timelineBody(e payments.Event) TimelineEvent {
	return TimelineEvent{ID: e.ID, Source: string(e.Source), Kind: e.Kind,
		TransactionID: e.TransactionID, StatusBefore: e.StatusBefore, StatusAfter: e.StatusAfter,
		Applied: e.Applied, Note: e.Note, Payload: redactedJSON(e.Payload), CreatedAt: e.CreatedAt}
}

// PaymentOutput is a payment.
type PaymentOutput struct {
	Body Payment
}

// PaymentOperationOutput is a payment after an operation, with the
// transaction the operation made, if it made one.
type PaymentOperationOutput struct {
	Body struct {
		Payment     Payment      `json:"payment"`
		Transaction *Transaction `json:"transaction,omitempty"`
	}
}

func operationOutput(p payments.Payment, t *payments.Transaction) *PaymentOperationOutput {
	out := &PaymentOperationOutput{}
	out.Body.Payment = paymentBody(p)
	if t != nil {
		tb := transactionBody(*t)
		out.Body.Transaction = &tb
	}
	return out
}

// ---- audit ----

// txOutcome is the audit outcome of an operation that made a transaction:
// a transaction APO declined is a failed action.
func txOutcome(t payments.Transaction, err error) string {
	if err == nil && t.Status == payments.TxFailed {
		return audit.OutcomeFailed
	}
	return auditOutcome(err)
}

// ---- handlers ----

// createPayment authorizes a card payment. The call to APO runs detached
// from the request: once the payment row exists, a client that hangs up
// must not cut the pay call short and leave the outcome to inquiries.
// The audit row of a payment pay answered commits with the answer's
// application (payments.CreateRequest.Audit); that of a create that
// failed is written here.
func createPayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *CreatePaymentInput) (*PaymentOutput, error) {
	return func(ctx context.Context, in *CreatePaymentInput) (*PaymentOutput, error) {
		req := in.Body.request(actorName(ctx))
		req.Audit = func(p payments.Payment) audit.Entry {
			outcome := audit.OutcomeSucceeded
			if p.Status == payments.StatusFailed {
				outcome = audit.OutcomeFailed // declined by APO
			}
			return auditEntry(ctx, audit.ActionPaymentCreate, audit.PaymentTarget(p.ID), newCreatePaymentAudit(in.Body, &p), outcome)
		}
		p, err := pay.Create(context.WithoutCancel(ctx), req)
		if err != nil {
			// No payment, or none whose answer was applied: no target,
			// card masked here.
			recordAudit(ctx, log, store, audit.ActionPaymentCreate, "", newCreatePaymentAudit(in.Body, nil), auditOutcome(err))
			return nil, httpError(ctx, log, err)
		}
		out := &PaymentOutput{Body: paymentBody(p)}
		out.Body.Card.Token = p.Card.Token // the one answer that carries it: to the key that pays with it
		return out, nil
	}
}

// PaymentIDInput names a payment.
type PaymentIDInput struct {
	ID string `path:"id" format:"uuid" doc:"payops' id of the payment"`
}

// CapturePaymentInput is the request of capture-payment.
type CapturePaymentInput struct {
	ID   string `path:"id" format:"uuid" doc:"payops' id of the payment"`
	Body *struct {
		Amount *int64 `json:"amount,omitempty" minimum:"1" example:"400" doc:"Minor units of the payment's currency to capture; default: everything not yet captured. At most 100,000,000,000 major units (the ceiling on every amount)"`
		Final  bool   `json:"final,omitempty" doc:"Release the rest of the authorization after this capture"`
	}
}

type captureAudit struct {
	Amount *int64 `json:"amount,omitempty"`
	Final  bool   `json:"final,omitempty"`
}

func capturePayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *CapturePaymentInput) (*PaymentOperationOutput, error) {
	return func(ctx context.Context, in *CapturePaymentInput) (*PaymentOperationOutput, error) {
		req := payments.CaptureRequest{Actor: actorName(ctx)}
		if in.Body != nil {
			req.Amount, req.Final = in.Body.Amount, in.Body.Final
		}
		input := captureAudit{Amount: req.Amount, Final: req.Final}
		if req.Amount != nil {
			if err := checkCeiling(ctx, log, pay, in.ID, *req.Amount); err != nil {
				recordAudit(ctx, log, store, audit.ActionPaymentCapture, audit.PaymentTarget(in.ID), input, audit.OutcomeRejected)
				return nil, err
			}
		}
		p, t, err := pay.Capture(context.WithoutCancel(ctx), in.ID, req)
		recordAudit(ctx, log, store, audit.ActionPaymentCapture, audit.PaymentTarget(in.ID), input, txOutcome(t, err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return operationOutput(p, &t), nil
	}
}

// checkCeiling refuses, with a 422 at body.amount, an operation amount
// beyond money.CheckCeiling for the currency of the payment: the request
// names no currency, so the payment is read first. Nothing changes.
func checkCeiling(ctx context.Context, log *slog.Logger, pay paymentService, id string, amount int64) error {
	p, err := pay.Get(ctx, id)
	if err != nil {
		return httpError(ctx, log, err)
	}
	if err := money.CheckCeiling(money.Money{Minor: amount, Currency: p.Amount.Currency}); err != nil {
		return huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "body.amount", Message: err.Error()})
	}
	return nil
}

func cancelPayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *PaymentIDInput) (*PaymentOperationOutput, error) {
	return func(ctx context.Context, in *PaymentIDInput) (*PaymentOperationOutput, error) {
		p, t, err := pay.Cancel(context.WithoutCancel(ctx), in.ID, actorName(ctx))
		recordAudit(ctx, log, store, audit.ActionPaymentCancel, audit.PaymentTarget(in.ID), nil, txOutcome(t, err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return operationOutput(p, &t), nil
	}
}

// RefundPaymentInput is the request of refund-payment.
type RefundPaymentInput struct {
	ID   string `path:"id" format:"uuid" doc:"payops' id of the payment"`
	Body struct {
		Amount int64  `json:"amount" minimum:"1" example:"300" doc:"Minor units of the payment's currency to refund; at most what is captured and not yet refunded (and never above the ceiling of 100,000,000,000 major units)"`
		Reason string `json:"reason" minLength:"1" maxLength:"256" example:"customer returned one item"`
	}
}

func refundPayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *RefundPaymentInput) (*PaymentOperationOutput, error) {
	return func(ctx context.Context, in *RefundPaymentInput) (*PaymentOperationOutput, error) {
		if err := checkCeiling(ctx, log, pay, in.ID, in.Body.Amount); err != nil {
			recordAudit(ctx, log, store, audit.ActionPaymentRefund, audit.PaymentTarget(in.ID), in.Body, audit.OutcomeRejected)
			return nil, err
		}
		p, t, err := pay.Refund(context.WithoutCancel(ctx), in.ID,
			payments.RefundRequest{Amount: in.Body.Amount, Reason: in.Body.Reason, Actor: actorName(ctx)})
		recordAudit(ctx, log, store, audit.ActionPaymentRefund, audit.PaymentTarget(in.ID), in.Body, txOutcome(t, err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return operationOutput(p, &t), nil
	}
}

func syncPayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *PaymentIDInput) (*PaymentOperationOutput, error) {
	return func(ctx context.Context, in *PaymentIDInput) (*PaymentOperationOutput, error) {
		p, err := pay.Sync(context.WithoutCancel(ctx), in.ID)
		recordAudit(ctx, log, store, audit.ActionPaymentSync, audit.PaymentTarget(in.ID), nil, auditOutcome(err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return operationOutput(p, nil), nil
	}
}

// ReviewPaymentInput is the request of review-payment.
type ReviewPaymentInput struct {
	ID   string `path:"id" format:"uuid" doc:"payops' id of the payment"`
	Body struct {
		Status string `json:"status" enum:"AUTHORIZED,FAILED,CANCELLED,EXPIRED,CAPTURED" example:"FAILED" doc:"The status the payment really has"`
		Reason string `json:"reason" minLength:"1" maxLength:"512" example:"acquirer confirmed the decline by phone"`
	}
}

func reviewPayment(log *slog.Logger, store *audit.Store, pay paymentService) func(context.Context, *ReviewPaymentInput) (*PaymentOperationOutput, error) {
	return func(ctx context.Context, in *ReviewPaymentInput) (*PaymentOperationOutput, error) {
		p, err := pay.Resolve(context.WithoutCancel(ctx), in.ID,
			payments.Review{Status: payments.Status(in.Body.Status), Reason: in.Body.Reason, Actor: actorName(ctx)})
		recordAudit(ctx, log, store, audit.ActionPaymentReview, audit.PaymentTarget(in.ID), in.Body, auditOutcome(err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return operationOutput(p, nil), nil
	}
}

// PaymentDetailOutput is a payment with its transactions and timeline.
type PaymentDetailOutput struct {
	Body struct {
		Payment
		Transactions []Transaction   `json:"transactions" nullable:"false" doc:"Oldest first"`
		Timeline     []TimelineEvent `json:"timeline" nullable:"false" doc:"Everything payops learned about the payment, oldest first"`
	}
}

func getPayment(log *slog.Logger, pay paymentService) func(context.Context, *PaymentIDInput) (*PaymentDetailOutput, error) {
	return func(ctx context.Context, in *PaymentIDInput) (*PaymentDetailOutput, error) {
		d, err := pay.GetDetail(ctx, in.ID)
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &PaymentDetailOutput{}
		out.Body.Payment = paymentBody(d.Payment)
		out.Body.Transactions = make([]Transaction, len(d.Transactions))
		for i, t := range d.Transactions {
			out.Body.Transactions[i] = transactionBody(t)
		}
		out.Body.Timeline = make([]TimelineEvent, len(d.Events))
		for i, e := range d.Events {
			out.Body.Timeline[i] = timelineBody(e)
		}
		return out, nil
	}
}

// ListPaymentsInput filters and pages payments.
type ListPaymentsInput struct {
	Status           string    `query:"status" enum:"PROCESSING,REQUIRES_ACTION,AUTHORIZED,FAILED,CANCELLED,EXPIRED,CAPTURED" doc:"Only payments in this status"`
	CreatedFrom      QueryTime `query:"created_from" doc:"Only payments created at or after this time: an RFC 3339 date-time (2026-12-03T00:00:00Z) or a date (2026-12-03, meaning 00:00 UTC)"`
	CreatedTo        QueryTime `query:"created_to" doc:"Only payments created before this time: an RFC 3339 date-time (2026-12-04T00:00:00Z) or a date (2026-12-04, meaning 00:00 UTC)"`
	ReferenceOrderID string    `query:"reference_order_id" maxLength:"64" doc:"The merchant's order id"`
	OrderIDContains  string    `query:"order_id_contains" minLength:"3" maxLength:"64" example:"10042" doc:"Part of the merchant's order id, in any case; it must hold 3 letters or digits in a row. % and _ match themselves"`
	PaymentRequestID string    `query:"payment_request_id" maxLength:"128" doc:"The paymentRequestId payops sent APO"`
	PaymentID        string    `query:"payment_id" maxLength:"128" doc:"APO's paymentId"`
	BuyerEmail       string    `query:"buyer_email" maxLength:"64" example:"ada@example.com" doc:"The buyer's whole email address, in any case"`
	BuyerReference   string    `query:"buyer_reference" maxLength:"64" example:"customer-7781" doc:"The merchant's buyer id, exactly"`
	Currency         string    `query:"currency" pattern:"^[A-Z]{3}$" example:"USD" doc:"Only payments in this ISO 4217 currency; required with amount_min and amount_max"`
	AmountMin        int64     `query:"amount_min" minimum:"1" example:"1000" doc:"Only payments of at least this amount, in minor units of currency (1000 is USD 10.00)"`
	AmountMax        int64     `query:"amount_max" minimum:"1" example:"5000" doc:"Only payments of at most this amount, in minor units of currency"`
	Last4            string    `query:"last4" pattern:"^[0-9]{4}$" doc:"Last four digits of the card"`
	Acquirer         string    `query:"acquirer" maxLength:"128" doc:"Acquirer name, as APO reports it"`
	NeedsReview      string    `query:"needs_review" enum:"true,false" doc:"Only payments that need (or do not need) review"`
	ExpiringWithin   string    `query:"expiring_within" example:"24h" doc:"Only AUTHORIZED payments whose authorization lapses within this Go duration (e.g. 24h, 90m; at most 720h)"`
	Sort             string    `query:"sort" enum:"created,amount,status" doc:"Order of the list: created (the default), amount (in minor units, whatever the currency) or status; ties in id order. A cursor pages the order it came from"`
	Dir              string    `query:"dir" enum:"asc,desc" doc:"Direction of sort; by default newest first, largest amount first, statuses A to Z"`
	Cursor           string    `query:"cursor" doc:"next_cursor of the previous page"`
	Limit            int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// filter turns the query into the service's filter; a bad value is a 422
// naming its parameter. The rules across parameters (a created range, an
// amount needs a currency) are the service's: it names the parameter too.
func (in *ListPaymentsInput) filter(now time.Time) (payments.Filter, error) {
	f := payments.Filter{Status: payments.Status(in.Status), CreatedFrom: in.CreatedFrom.Time, CreatedTo: in.CreatedTo.Time,
		ReferenceOrderID: in.ReferenceOrderID, OrderIDContains: in.OrderIDContains, PaymentRequestID: in.PaymentRequestID,
		APOPaymentID: in.PaymentID, BuyerEmail: in.BuyerEmail, BuyerReference: in.BuyerReference,
		Currency: in.Currency, AmountMin: in.AmountMin, AmountMax: in.AmountMax,
		Last4: in.Last4, Acquirer: in.Acquirer, Sort: in.Sort, Dir: in.Dir, Cursor: in.Cursor, Limit: in.Limit}
	if in.NeedsReview != "" {
		v := in.NeedsReview == "true"
		f.NeedsReview = &v
	}
	if in.ExpiringWithin != "" {
		d, err := time.ParseDuration(in.ExpiringWithin)
		if err != nil || d <= 0 || d > maxExpiringWithin {
			return f, queryError("expiring_within", "want a positive Go duration of at most 720h, e.g. 24h")
		}
		f.ExpiringBefore = now.Add(d)
	}
	return f, nil
}

// PaymentListOutput is one page of payments.
type PaymentListOutput struct {
	Body struct {
		Items      []Payment `json:"items" nullable:"false"`
		NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func listPayments(log *slog.Logger, pay paymentService) func(context.Context, *ListPaymentsInput) (*PaymentListOutput, error) {
	return func(ctx context.Context, in *ListPaymentsInput) (*PaymentListOutput, error) {
		f, err := in.filter(time.Now())
		if err != nil {
			return nil, err
		}
		page, err := pay.List(ctx, f)
		if err != nil {
			return nil, httpErrorAt(ctx, log, err, at{in: "query"})
		}
		out := &PaymentListOutput{}
		out.Body.NextCursor = page.Next
		out.Body.Items = make([]Payment, len(page.Items))
		for i, p := range page.Items {
			out.Body.Items[i] = paymentBody(p)
		}
		return out, nil
	}
}
