package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// The actions on a payment's detail page. Each money-moving one is two
// posts: …/preview checks the form and answers with a confirmation that
// states the money effect, whose button names amount and currency; the
// confirmation's post carries a form token and runs the change through
// c.act, with the audit action, target and input cmd/api/payments.go
// records for the same change, and the console user as the actor.

// payConfirm is a confirmation panel: what will happen, and the form
// that makes it happen.
type payConfirm struct {
	Kind    string   // capture, cancel, refund, review: names the panel's slot and form
	Effect  string   // the money effect, one sentence
	Details []string // more sentences: what stays, the reason given
	Warning string   // something that will likely make it fail
	Action  string   // where the confirming form posts
	Fields  []payField
	Button  string // "Refund USD 15.00"
	Danger  bool
	Token   string
}

type payField struct{ Name, Value string }

// The audit inputs, shaped as the API's request bodies are (captureAudit,
// RefundPaymentInput.Body, ReviewPaymentInput.Body), so the same change
// reads the same in the audit log from either edge.
type (
	payCaptureInput struct {
		Amount *int64 `json:"amount,omitempty"`
		Final  bool   `json:"final,omitempty"`
	}
	payRefundInput struct {
		Amount int64  `json:"amount"`
		Reason string `json:"reason"`
	}
	payReviewInput struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
)

// reviewStatuses are the statuses an admin may resolve a payment to.
var reviewStatuses = []payments.Status{payments.StatusAuthorized, payments.StatusFailed, payments.StatusCancelled,
	payments.StatusExpired, payments.StatusCaptured}

// Bounds the API puts on the same fields.
const (
	maxRefundReason = 256
	maxReviewReason = 512
)

// postedPayment reads a payment action's form and the payment it is for.
func (c *Console) postedPayment(w http.ResponseWriter, r *http.Request) (payments.Payment, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return payments.Payment{}, &formError{Field: "form", Message: "unreadable"}
	}
	return c.d.Payments.Get(r.Context(), r.PathValue("id"))
}

// payAmount reads a form amount in major units of ccy ("15", "15.00").
// Empty is nil when optional.
func payAmount(field, text, ccy string, optional bool) (*int64, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		if optional {
			return nil, nil
		}
		return nil, &formError{Field: field, Message: "required: an amount in " + ccy}
	}
	m, err := money.ParseMajor(text, ccy, false)
	if err != nil {
		return nil, &formError{Field: field, Message: "not an amount in " + ccy + ", e.g. " +
			money.FormatMajor(money.Money{Minor: 1500, Currency: ccy}) + " (digits and a point only)"}
	}
	if m.Minor <= 0 {
		return nil, &formError{Field: field, Message: "must be more than zero"}
	}
	if err := money.CheckCeiling(m); err != nil {
		return nil, &formError{Field: field, Message: err.Error()}
	}
	return &m.Minor, nil
}

// payReason reads a mandatory reason of at most n characters.
func payReason(r *http.Request, n int) (string, error) {
	reason := r.PostFormValue("reason")
	switch {
	case strings.TrimSpace(reason) == "":
		return "", &formError{Field: "reason", Message: "required: say why (it is kept in the timeline and the audit log)"}
	case len([]rune(reason)) > n:
		return "", &formError{Field: "reason", Message: "at most " + strconv.Itoa(n) + " characters"}
	}
	return reason, nil
}

// showConfirm answers a preview: the panel alone for htmx (swapped into
// its slot), else the whole detail page with the panel in its slot.
func (c *Console) showConfirm(w http.ResponseWriter, r *http.Request, s *session, p payments.Payment, pc payConfirm) error {
	pc.Token = view{}.Token()
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "payment", "confirm-swap", view{S: s, Data: pc})
		return nil
	}
	data, err := c.loadPayment(r.Context(), p.ID)
	if err != nil {
		return err
	}
	data.Confirm, data.Posted = &pc, r.PostForm
	c.renderPayment(w, r, s, http.StatusOK, data)
	return nil
}

func (c *Console) paymentURL(id string) string { return Prefix + "/payments/" + url.PathEscape(id) }

// ---- capture ----

// captureForm reads the capture form: an amount (empty: everything left)
// and whether to release the rest.
func captureForm(r *http.Request, p payments.Payment) (payCaptureInput, error) {
	amount, err := payAmount("amount", r.PostFormValue("amount"), p.Amount.Currency, true)
	return payCaptureInput{Amount: amount, Final: r.PostFormValue("final") == "true"}, err
}

func (c *Console) paymentCapturePreview(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := captureForm(r, p)
	if err != nil {
		return err
	}
	data := paymentData{P: p}
	if d, err := c.loadPayment(r.Context(), p.ID); err == nil {
		data = d
	}
	ccy := p.Amount.Currency
	amount := data.Capturable
	if in.Amount != nil {
		amount = *in.Amount
	}
	m := func(n int64) string { return money.Money{Minor: n, Currency: ccy}.String() }
	pc := payConfirm{Kind: "capture", Action: c.paymentURL(p.ID) + "/capture", Button: "Capture " + m(amount),
		Effect: "Capture " + m(amount) + " of the " + m(p.Amount.Minor) + " authorization: the buyer's card is charged " + m(amount) + "."}
	rest := data.Capturable - amount
	switch {
	case amount > data.Capturable:
		pc.Warning = "Only " + m(data.Capturable) + " is left to capture; the payment service will refuse more."
	case rest > 0 && in.Final:
		pc.Details = append(pc.Details, "The remaining "+m(rest)+" is released to the buyer: no later capture.")
	case rest > 0:
		pc.Details = append(pc.Details, m(rest)+" stays authorized for later captures.")
	}
	if in.Amount != nil {
		pc.Fields = append(pc.Fields, payField{"amount", money.FormatMajor(money.Money{Minor: *in.Amount, Currency: ccy})})
	}
	if in.Final {
		pc.Fields = append(pc.Fields, payField{"final", "true"})
	}
	return c.showConfirm(w, r, s, p, pc)
}

func (c *Console) paymentCapture(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := captureForm(r, p)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionPaymentCapture, Target: audit.PaymentTarget(p.ID), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			_, t, err := c.d.Payments.Capture(context.WithoutCancel(ctx), p.ID,
				payments.CaptureRequest{Amount: in.Amount, Final: in.Final, Actor: s.Actor()})
			if err != nil {
				return "", "", err
			}
			flash, err := txFlash("capture", t, "Captured "+t.Amount.String()+".")
			return c.paymentURL(p.ID), flash, err
		}})
}

// ---- cancel ----

func (c *Console) paymentCancelPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	amount := p.Amount.String()
	return c.showConfirm(w, r, s, p, payConfirm{Kind: "cancel", Action: c.paymentURL(p.ID) + "/cancel",
		Button: "Cancel authorization of " + amount, Danger: true,
		Effect:  "Cancel the authorization of " + amount + ": the hold on the buyer's card is released and nothing is charged.",
		Details: []string{"This cannot be undone: the buyer would have to pay again."}})
}

func (c *Console) paymentCancel(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionPaymentCancel, Target: audit.PaymentTarget(p.ID),
		Run: func(ctx context.Context) (string, string, error) {
			_, t, err := c.d.Payments.Cancel(context.WithoutCancel(ctx), p.ID, s.Actor())
			if err != nil {
				return "", "", err
			}
			flash, err := txFlash("cancel", t, "Authorization of "+p.Amount.String()+" cancelled.")
			return c.paymentURL(p.ID), flash, err
		}})
}

// ---- refund ----

func refundForm(r *http.Request, p payments.Payment) (payRefundInput, error) {
	amount, err := payAmount("amount", r.PostFormValue("amount"), p.Amount.Currency, false)
	if err != nil {
		return payRefundInput{}, err
	}
	reason, err := payReason(r, maxRefundReason)
	return payRefundInput{Amount: *amount, Reason: reason}, err
}

func (c *Console) paymentRefundPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := refundForm(r, p)
	if err != nil {
		return err
	}
	data := paymentData{P: p}
	if d, err := c.loadPayment(r.Context(), p.ID); err == nil {
		data = d
	}
	ccy := p.Amount.Currency
	m := func(n int64) string { return money.Money{Minor: n, Currency: ccy}.String() }
	card := strings.TrimSpace(p.Card.Brand + " card")
	if p.Card.Last4 != "" {
		card += " ending in " + p.Card.Last4
	}
	pc := payConfirm{Kind: "refund", Action: c.paymentURL(p.ID) + "/refund", Button: "Refund " + m(in.Amount), Danger: true,
		Effect:  "Refund " + m(in.Amount) + " to the buyer's " + card + ".",
		Details: []string{"Reason: " + in.Reason},
		Fields: []payField{{"amount", money.FormatMajor(money.Money{Minor: in.Amount, Currency: ccy})},
			{"reason", in.Reason}}}
	if in.Amount > data.Refundable {
		pc.Warning = "Only " + m(data.Refundable) + " is refundable now (" + m(p.CapturedMinor) +
			" captured); the payment service will refuse more."
	} else {
		pc.Details = append([]string{m(data.Refundable-in.Amount) + " of the " + m(p.CapturedMinor) +
			" captured stays refundable after it."}, pc.Details...)
	}
	return c.showConfirm(w, r, s, p, pc)
}

func (c *Console) paymentRefund(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := refundForm(r, p)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionPaymentRefund, Target: audit.PaymentTarget(p.ID), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			_, t, err := c.d.Payments.Refund(context.WithoutCancel(ctx), p.ID,
				payments.RefundRequest{Amount: in.Amount, Reason: in.Reason, Actor: s.Actor()})
			if err != nil {
				return "", "", err
			}
			flash, err := txFlash("refund", t, "Refunded "+t.Amount.String()+".")
			return c.paymentURL(p.ID), flash, err
		}})
}

// ---- sync ----

// paymentSync asks APO where the payment stands now: it moves no money,
// so it needs no confirmation.
func (c *Console) paymentSync(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionPaymentSync, Target: audit.PaymentTarget(p.ID),
		Run: func(ctx context.Context) (string, string, error) {
			after, err := c.d.Payments.Sync(context.WithoutCancel(ctx), p.ID)
			if err != nil {
				return "", "", err
			}
			flash := "Asked APO: the payment is " + string(after.Status) + "."
			if after.Status == p.Status {
				flash = "Asked APO: the payment is still " + string(after.Status) + "."
			}
			return c.paymentURL(p.ID), flash, nil
		}})
}

// ---- review ----

func reviewForm(r *http.Request) (payReviewInput, error) {
	status := payments.Status(r.PostFormValue("status"))
	if !slices.Contains(reviewStatuses, status) {
		return payReviewInput{}, &formError{Field: "status", Message: "choose the status the payment really has"}
	}
	reason, err := payReason(r, maxReviewReason)
	return payReviewInput{Status: string(status), Reason: reason}, err
}

func (c *Console) paymentReviewPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := reviewForm(r)
	if err != nil {
		return err
	}
	return c.showConfirm(w, r, s, p, payConfirm{Kind: "review", Action: c.paymentURL(p.ID) + "/review",
		Button: "Set status to " + in.Status, Danger: true,
		Effect: "Set the payment's status to " + in.Status + " (now " + string(p.Status) + ") and clear its review flag.",
		Details: []string{"No money moves: this records what really happened. Later captures, cancels and refunds follow the new status.",
			"Reason: " + in.Reason},
		Fields: []payField{{"status", in.Status}, {"reason", in.Reason}}})
}

func (c *Console) paymentReview(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.postedPayment(w, r)
	if err != nil {
		return err
	}
	in, err := reviewForm(r)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionPaymentReview, Target: audit.PaymentTarget(p.ID), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			after, err := c.d.Payments.Resolve(context.WithoutCancel(ctx), p.ID,
				payments.Review{Status: payments.Status(in.Status), Reason: in.Reason, Actor: s.Actor()})
			if err != nil {
				return "", "", err
			}
			return c.paymentURL(p.ID), "Review resolved: the payment is " + string(after.Status) + ".", nil
		}})
}

// txFlash is what to say after a capture, cancel or refund made transaction
// t: done on SUCCEEDED, sent on PROCESSING (APO's answer is not final;
// notifications and inquiries settle it). A transaction APO declined is
// an *apo.Error with its result, which the page shows as APO's refusal and
// the audit row records as failed, as the API's does.
func txFlash(kind string, t payments.Transaction, done string) (string, error) {
	switch t.Status {
	case payments.TxSucceeded:
		return done, nil
	case payments.TxFailed:
		return "", &apo.Error{API: kind, Outcome: apo.OutcomeFailed,
			Result: apo.Result{ResultStatus: "F", ResultCode: t.ResultCode, ResultMessage: t.ResultMessage}}
	}
	return strings.ToUpper(kind[:1]) + kind[1:] + " of " + t.Amount.String() +
		" sent; APO has not confirmed it yet. The timeline shows its answer when it comes.", nil
}
