package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/sandboxtest"
)

// payOrder is what payCreate needs beyond the defaults.
type payOrder struct {
	Order string
	Minor int64
	CCY   string
	Card  string // a Luhn-valid number; the sandbox approves any but its magic ones
	Email string
}

// payCreate authorizes a payment through the real payment service against
// the APO sandbox, as checkout would.
func (e *env) payCreate(t *testing.T, o payOrder) payments.Payment {
	t.Helper()
	p, err := e.pay.Create(context.Background(), o.request())
	if err != nil || p.Status != payments.StatusAuthorized {
		t.Fatalf("create payment %s: %v (status %s)", o.Order, err, p.Status)
	}
	return p
}

// request is checkout's request for o: a test card the sandbox approves
// (4242424242424242 unless o names one).
func (o payOrder) request() payments.CreateRequest {
	if o.CCY == "" {
		o.CCY = "USD"
	}
	if o.Card == "" {
		o.Card = "4242424242424242"
	}
	return payments.CreateRequest{
		ReferenceOrderID: o.Order, OrderDescription: "console test order", Amount: money.Money{Minor: o.Minor, Currency: o.CCY},
		BuyerReference: "buyer-7", BuyerEmail: o.Email, TerminalType: "WEB", ClientIP: "203.0.113.7",
		RedirectURL: "https://shop.example/return",
		Card: payments.CardInput{Number: o.Card, CVV: "123", ExpiryMonth: "12", ExpiryYear: strconv.Itoa(time.Now().Year() + 3),
			HolderFirst: "Ada", HolderLast: "Lovelace"},
		Actor: "checkout-test",
	}
}

// payCapture captures all of p.
func (e *env) payCapture(t *testing.T, p payments.Payment) payments.Payment {
	t.Helper()
	p, tx, err := e.pay.Capture(context.Background(), p.ID, payments.CaptureRequest{Actor: "test"})
	if err != nil || tx.Status != payments.TxSucceeded {
		t.Fatalf("capture %s: %v (%s)", p.ID, err, tx.Status)
	}
	return p
}

// payTxs lists a payment's transactions of one type.
func (e *env) payTxs(t *testing.T, id string, typ payments.TxType) []payments.Transaction {
	t.Helper()
	d, err := e.pay.GetDetail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []payments.Transaction
	for _, tx := range d.Transactions {
		if tx.Type == typ {
			out = append(out, tx)
		}
	}
	return out
}

// payAudit lists the audit rows of action on payment id.
func (e *env) payAudit(t *testing.T, action, id string) []audit.Entry {
	t.Helper()
	rows, _, err := e.audit.List(context.Background(), audit.Filter{Action: action, Target: audit.PaymentTarget(id)})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

var payTokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// payConfirmToken is the form token of the confirmation panel in body.
func payConfirmToken(t *testing.T, body string) string {
	t.Helper()
	m := payTokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form token in:\n%s", body)
	}
	return m[1]
}

const payHTMX = "HX-Request: true"

// payExpect fails the test unless resp has status and body passes every
// check: "text" must be in the body, "!text" must not, and "header Name:
// value" is a response header's exact value.
func payExpect(t *testing.T, what string, resp *http.Response, body string, status int, checks ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, resp.StatusCode, status, body)
	}
	for _, c := range checks {
		if h, ok := strings.CutPrefix(c, "header "); ok {
			name, want, _ := strings.Cut(h, ": ")
			if got := resp.Header.Get(name); got != want {
				t.Fatalf("%s: %s is %q, want %q", what, name, got, want)
			}
		} else if text, ok := strings.CutPrefix(c, "!"); ok && strings.Contains(body, text) {
			t.Fatalf("%s: the answer holds %q\n%s", what, text, body)
		} else if !ok && !strings.Contains(body, c) {
			t.Fatalf("%s: the answer lacks %q\n%s", what, c, body)
		}
	}
}

// payLink is how the list links to p.
func payLink(p payments.Payment) string { return `href="/console/payments/` + p.ID + `"` }

func TestPaymentsSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	c := e.client(t)
	e.login(t, c, viewer)

	alpha := e.payCreate(t, payOrder{Order: "ORD-ALPHA-1001", Minor: 2000})
	beta := e.payCreate(t, payOrder{Order: "ORD-BETA-2002", Minor: 1500, CCY: "EUR", Card: "5555555555554444"})
	shop := e.payCreate(t, payOrder{Order: "shop-xyz-77", Minor: 9999, Email: "ada@example.com"})
	short := e.payCreate(t, payOrder{Order: "42", Minor: 100})

	type ps = []payments.Payment
	for _, c2 := range []struct {
		query     string
		want, not ps
		hint      string
	}{
		{"", ps{alpha, beta, shop, short}, nil, ""},
		{"q=alpha", ps{alpha}, ps{beta, shop}, "order id contains “alpha”"},
		{"q=" + beta.ID, ps{beta}, ps{alpha}, "The payment with id"},
		{"q=" + alpha.APOPaymentID, ps{alpha}, ps{beta}, "The payment APO knows as"},
		{"q=" + beta.PaymentRequestID, ps{beta}, ps{alpha}, "request id"},
		{"q=4444", ps{beta}, ps{alpha}, "card ending in 4444"},
		{"q=ADA%40example.com", ps{shop}, ps{alpha}, "buyer"},
		{"q=42", ps{short}, ps{alpha, shop}, "exactly “42”"},
		{"currency=usd&amount_min=50", ps{shop}, ps{alpha, short}, ""},
		{"currency=USD&amount_max=20.00", ps{alpha, short}, ps{shop, beta}, ""},
		{"status=AUTHORIZED&order_id=ord-", ps{alpha, beta}, ps{shop}, ""},
		{"buyer=ada%40example.com", ps{shop}, ps{alpha}, ""},
		{"last4=4444&q=ord", ps{beta}, ps{alpha}, ""},
		{"needs_review=true", nil, ps{alpha, beta, shop}, "No payments match these filters"},
		{"expiring_within=720h", ps{alpha, beta}, nil, ""},
	} {
		checks := []string{c2.hint}
		for _, p := range c2.want {
			checks = append(checks, payLink(p))
		}
		for _, p := range c2.not {
			checks = append(checks, "!"+payLink(p))
		}
		resp, body := e.get(t, c, "/console/payments?"+c2.query)
		payExpect(t, "search "+c2.query, resp, body, http.StatusOK, checks...)
	}

	// The filters stay in the form; the page has no inline script or style.
	resp, body := e.get(t, c, "/console/payments?currency=USD&amount_min=50&status=AUTHORIZED")
	payExpect(t, "filters in the form", resp, body, http.StatusOK,
		`name="currency" type="text" maxlength="3" size="4" value="USD"`, `value="50"`, `<option value="AUTHORIZED" selected>`,
		`href="/console/payments/export.csv?amount_min=50&amp;currency=USD&amp;status=AUTHORIZED"`, "!<script>", "! style=")

	// A value the console cannot read is a 422 naming its field, inline.
	for query, field := range map[string]string{
		"currency=USD&amount_min=abc": "amount_min", "amount_min=5": "currency", "created_from=yesterday": "created_from",
		"order_id=ab": "order_id", "last4=12": "last4", "status=PAID": "status", "cursor=bm9wZQ": "cursor",
		"expiring_within=1y": "expiring_within",
	} {
		resp, body := e.get(t, c, "/console/payments?"+query)
		payExpect(t, "bad "+query, resp, body, http.StatusUnprocessableEntity, "<code>"+field+"</code>", `id="payment-filters"`)
	}

	// htmx swaps only the results, and the browser is given the shareable
	// URL without the empty fields.
	hx := []string{payHTMX, "HX-Target: results", "HX-Trigger: payment-filters"}
	resp, body = e.payGet(t, c, "/console/payments?q=alpha&status=&currency=", hx...)
	payExpect(t, "htmx results", resp, body, http.StatusOK, `<section id="results"`, "!<html", payLink(alpha),
		"header HX-Push-Url: /console/payments?q=alpha")
	resp, body = e.payGet(t, c, "/console/payments?last4=12", hx...)
	payExpect(t, "htmx bad filter", resp, body, http.StatusUnprocessableEntity, "last4", "header HX-Retarget: #payment-filters-error")
}

// payGet is get with request headers ("Name: value").
func (e *env) payGet(t *testing.T, c *http.Client, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	return e.do(t, c, req)
}

// payCreateMany creates n payments with order ids prefix-000 … and amounts
// minor(i), through four concurrent checkouts.
func (e *env) payCreateMany(t *testing.T, prefix string, n int, minor func(i int) int64) []payments.Payment {
	t.Helper()
	out := make([]payments.Payment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				o := payOrder{Order: fmt.Sprintf("%s-%03d", prefix, i), Minor: minor(i)}
				out[i], errs[i] = e.pay.Create(context.Background(), o.request())
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("create payment: %v", err)
		}
	}
	return out
}

// payWalk follows the list's "Next page" links from path and returns the
// ids of every payment listed.
func (e *env) payWalk(t *testing.T, c *http.Client, path string) []string {
	t.Helper()
	idRE := regexp.MustCompile(`href="/console/payments/([0-9a-f-]{36})"`)
	nextRE := regexp.MustCompile(`<a href="([^"]+)"[^>]*>Next page</a>`)
	var listed []string
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("the pager does not end")
		}
		resp, body := e.get(t, c, path)
		payExpect(t, path, resp, body, http.StatusOK)
		for _, m := range idRE.FindAllStringSubmatch(body, -1) {
			listed = append(listed, m[1])
		}
		path = ""
		if m := nextRE.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	return listed
}

// TestPaymentsExportAndPages: more payments match than one page holds;
// the pager walks them all once, and the CSV has every one.
func TestPaymentsExportAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	c := e.client(t)
	e.login(t, c, viewer)

	var want []string
	for _, p := range e.payCreateMany(t, "bulk", 53, func(i int) int64 { return int64(100 + i) }) { // the default page holds 50
		want = append(want, p.ID)
	}
	evil := e.payCreate(t, payOrder{Order: "=HYPERLINK(\"https://evil.example\")-bulk", Minor: 5000}).ID
	want = append(want, evil)
	other := e.payCreate(t, payOrder{Order: "other-1", Minor: 700}).ID

	if listed := e.payWalk(t, c, "/console/payments?order_id=bulk"); !paySameSet(listed, want) {
		t.Fatalf("pages listed %d payments, want the %d matching, each once", len(listed), len(want))
	}

	resp, body := e.get(t, c, "/console/payments/export.csv?order_id=bulk")
	payExpect(t, "export", resp, body, http.StatusOK, "header Content-Type: text/csv; charset=utf-8")
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="payments-`) {
		t.Fatalf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := rows[0]
	if head[0] != "id" || !slices.Contains(head, "card_masked") || strings.Contains(strings.Join(head, ","), "token") {
		t.Fatalf("CSV header %q", head)
	}
	order := slices.Index(head, "reference_order_id")
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
		if r[0] == evil && !strings.HasPrefix(r[order], "'=") {
			t.Errorf("formula order id exported as %q, want it quoted", r[order])
		}
	}
	if !paySameSet(got, want) || slices.Contains(got, other) {
		t.Fatalf("CSV has %d rows, want the %d matching payments, each once", len(got), len(want))
	}
	// Who took the list, with which filters, is audited.
	exports, _, err := e.audit.List(context.Background(), audit.Filter{Action: audit.ActionPaymentExport})
	if err != nil || len(exports) != 1 || exports[0].Outcome != audit.OutcomeSucceeded || !strings.Contains(fmt.Sprintf("%s", exports[0].Input), `"bulk"`) {
		t.Fatalf("export audit rows %+v (%v): want one succeeded row naming the filter", exports, err)
	}

	// A bad filter is a problem page, not a file.
	resp, body = e.get(t, c, "/console/payments/export.csv?order_id=ab")
	payExpect(t, "bad export filter", resp, body, http.StatusUnprocessableEntity, "<code>order_id</code>", "header Content-Disposition: ")
}

func paySameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// payFlow is one signed-in person on one payment's page.
type payFlow struct {
	e    *env
	c    *http.Client
	p    payments.Payment
	page string
}

// preview posts a preview with htmx, checks the panel, and returns its
// form token.
func (f payFlow) preview(t *testing.T, action string, form url.Values, checks ...string) string {
	t.Helper()
	resp, body := f.e.post(t, f.c, f.page+"/"+action+"/preview", form, payHTMX, "HX-Trigger: "+action+"-form")
	payExpect(t, action+" preview", resp, body, http.StatusOK, append(checks, "!<html")...)
	return payConfirmToken(t, body)
}

// confirm posts the confirmation of action and expects to go back to the
// payment's page.
func (f payFlow) confirm(t *testing.T, action string, form url.Values) {
	t.Helper()
	resp, body := f.e.post(t, f.c, f.page+"/"+action, form)
	payExpect(t, action, resp, body, http.StatusSeeOther, "header Location: "+f.page)
}

// TestPaymentRefundFlow: preview, confirm, the audit row, no second refund
// for a resubmitted form, and the domain's refusal of an over-refund.
func TestPaymentRefundFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	c := e.client(t)
	e.login(t, c, ops)
	p := e.payCapture(t, e.payCreate(t, payOrder{Order: "ORD-REFUND-1", Minor: 2000}))
	f := payFlow{e: e, c: c, p: p, page: "/console/payments/" + p.ID}

	resp, body := e.get(t, c, f.page)
	payExpect(t, "detail", resp, body, http.StatusOK, `<ol class="timeline">`, `id="refund-form"`, `id="sync-form"`,
		p.Card.Masked, p.Card.BIN, p.APOPaymentID, "20.00 USD", "Refundable now: 20.00 USD",
		"!capture-form", "!review-form") // captured: nothing to capture; review is an admin's

	// Form values the console cannot read never reach the service.
	for field, form := range map[string]url.Values{
		"amount": {"amount": {"1,00"}, "reason": {"x"}}, "reason": {"amount": {"1.00"}, "reason": {"  "}},
	} {
		resp, body := e.post(t, c, f.page+"/refund/preview", form)
		payExpect(t, "bad "+field, resp, body, http.StatusUnprocessableEntity, "<code>"+field+"</code>")
	}
	resp, body = e.post(t, c, f.page+"/refund/preview", url.Values{"amount": {"1.001"}, "reason": {"x"}}, payHTMX, "HX-Trigger: refund-form")
	payExpect(t, "htmx bad amount", resp, body, http.StatusUnprocessableEntity, "header HX-Retarget: #refund-form-error")

	// Preview: the panel states the effect; its button names amount and currency.
	form := url.Values{"amount": {"15"}, "reason": {"customer returned one item"}}
	token := f.preview(t, "refund", form, ">Refund USD 15.00</button>", "USD 5.00 of the USD 20.00 captured stays refundable")
	if got := e.payTxs(t, p.ID, payments.TxRefund); len(got) != 0 {
		t.Fatalf("the preview refunded: %+v", got)
	}
	// Without htmx the preview is the detail page with the panel in place.
	resp, body = e.post(t, c, f.page+"/refund/preview", form)
	payExpect(t, "plain preview", resp, body, http.StatusOK, `id="refund-confirm-form"`, `<ol class="timeline">`)

	confirm := url.Values{"token": {token}, "amount": {"15.00"}, "reason": {"customer returned one item"}}
	f.confirm(t, "refund", confirm)
	resp, body = e.get(t, c, f.page)
	payExpect(t, "after the refund", resp, body, http.StatusOK, `class="flash" role="status">Refunded USD 15.00.`,
		"refund_requested", "Refundable now: 5.00 USD")
	rows := e.payAudit(t, audit.ActionPaymentRefund, p.ID)
	if len(rows) != 1 || rows[0].Actor != ops.Email || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Role != string(auth.RoleOperator) ||
		!payJSONEqual(t, rows[0].Input, `{"amount":1500,"reason":"customer returned one item"}`) {
		t.Fatalf("audit rows %+v, want one by %s with the API's input", rows, ops.Email)
	}
	if refunds := e.payTxs(t, p.ID, payments.TxRefund); len(refunds) != 1 || refunds[0].Actor != ops.Email || refunds[0].Amount.Minor != 1500 {
		t.Fatalf("refunds %+v", refunds)
	}

	// The same form sent again (a double click, a resend) refunds nothing more.
	f.confirm(t, "refund", confirm)
	if refunds := e.payTxs(t, p.ID, payments.TxRefund); len(refunds) != 1 {
		t.Fatalf("the resubmitted form refunded again: %d refunds", len(refunds))
	}
	resp, body = e.get(t, c, f.page)
	payExpect(t, "after the resubmission", resp, body, http.StatusOK, "Already done: Refunded USD 15.00.")

	// More than is left: the preview warns, the service refuses, inline.
	over := url.Values{"amount": {"10.00"}, "reason": {"second thoughts"}}
	over.Set("token", f.preview(t, "refund", over, "Only USD 5.00 is refundable now"))
	resp, body = e.post(t, c, f.page+"/refund", over, payHTMX, "HX-Trigger: refund-confirm-form")
	payExpect(t, "over-refund", resp, body, http.StatusConflict, "exceeds what is refundable",
		"header HX-Retarget: #refund-confirm-form-error")
	if refunds := e.payTxs(t, p.ID, payments.TxRefund); len(refunds) != 1 {
		t.Fatalf("over-refund went through: %d refunds", len(refunds))
	}
	if rows := e.payAudit(t, audit.ActionPaymentRefund, p.ID); len(rows) != 2 || rows[0].Outcome != audit.OutcomeRejected {
		t.Fatalf("the refused refund's audit row: %+v", rows)
	}
}

// payJSONEqual reports whether an audit row's input is the JSON want.
func payJSONEqual(t *testing.T, input any, want string) bool {
	t.Helper()
	got, _ := input.(json.RawMessage)
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// payAudited fails the test unless action on id has exactly one audit row,
// by actor, that succeeded with input (JSON; the store keeps none as {}).
func (e *env) payAudited(t *testing.T, action, id, actor, input string) {
	t.Helper()
	rows := e.payAudit(t, action, id)
	if len(rows) != 1 || rows[0].Actor != actor || rows[0].Outcome != audit.OutcomeSucceeded || !payJSONEqual(t, rows[0].Input, input) {
		t.Fatalf("%s audit rows %+v, want one by %s with %s", action, rows, actor, input)
	}
}

// TestPaymentCaptureAndCancel runs a partial capture and a cancel through
// their confirmations, and a sync, and checks each audit row.
func TestPaymentCaptureAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	c := e.client(t)
	e.login(t, c, ops)

	a := e.payCreate(t, payOrder{Order: "ORD-CAPTURE-1", Minor: 2000})
	fa := payFlow{e: e, c: c, p: a, page: "/console/payments/" + a.ID}
	resp, body := e.get(t, c, fa.page)
	payExpect(t, "authorized", resp, body, http.StatusOK, `id="capture-form"`, `id="cancel-form"`)
	token := fa.preview(t, "capture", url.Values{"amount": {"12"}}, ">Capture USD 12.00</button>", "USD 8.00 stays authorized")
	fa.confirm(t, "capture", url.Values{"amount": {"12.00"}, "token": {token}})
	if got, _ := e.pay.Get(context.Background(), a.ID); got.CapturedMinor != 1200 {
		t.Fatalf("captured %d, want 1200", got.CapturedMinor)
	}
	e.payAudited(t, audit.ActionPaymentCapture, a.ID, ops.Email, `{"amount":1200}`)

	b := e.payCreate(t, payOrder{Order: "ORD-CANCEL-1", Minor: 2000})
	fb := payFlow{e: e, c: c, p: b, page: "/console/payments/" + b.ID}
	fb.confirm(t, "cancel", url.Values{"token": {fb.preview(t, "cancel", nil, ">Cancel authorization of USD 20.00</button>")}})
	if got, _ := e.pay.Get(context.Background(), b.ID); got.Status != payments.StatusCancelled {
		t.Fatalf("after cancel: %s", got.Status)
	}
	e.payAudited(t, audit.ActionPaymentCancel, b.ID, ops.Email, "{}") // nil input, as the API records it
	// Cancelling again is the service's refusal.
	resp, body = e.post(t, c, fb.page+"/cancel", url.Values{"token": {fb.preview(t, "cancel", nil)}})
	payExpect(t, "second cancel", resp, body, http.StatusConflict, "cancel needs an AUTHORIZED payment")

	// A sync: no confirmation, one post.
	_, body = e.get(t, c, fa.page)
	m := regexp.MustCompile(`(?s)id="sync-form".*?name="token" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no sync form")
	}
	fa.confirm(t, "sync", url.Values{"token": {m[1]}})
	e.payAudited(t, audit.ActionPaymentSync, a.ID, ops.Email, "{}")
}

// TestPaymentReview: an admin resolves a payment flagged for review; an
// operator may not.
func TestPaymentReview(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	co, ca := e.client(t), e.client(t)
	e.login(t, co, ops)
	e.login(t, ca, admin)

	// The payment service flags a payment a dispute cannot belong to.
	p := e.payCreate(t, payOrder{Order: "ORD-REVIEW-1", Minor: 2000})
	if err := e.pay.ApplyDispute(context.Background(), p.ID, payments.DisputeUpdate{DisputeID: "d-1", Kind: "test",
		FactKey: "flag", Note: "test", Review: "dispute for a payment APO does not know"}); err != nil {
		t.Fatal(err)
	}
	page := "/console/payments/" + p.ID
	form := url.Values{"status": {"CAPTURED"}, "reason": {"acquirer confirmed by phone"}}
	resp, body := e.get(t, co, page)
	payExpect(t, "operator's page", resp, body, http.StatusOK, "Needs review: dispute for a payment APO does not know", "!review-form",
		"!capture-form") // no capture while under review
	resp, body = e.post(t, co, page+"/review/preview", form)
	payExpect(t, "operator's review", resp, body, http.StatusForbidden)

	f := payFlow{e: e, c: ca, p: p, page: page}
	resp, body = e.get(t, ca, page)
	payExpect(t, "admin's page", resp, body, http.StatusOK, `id="review-form"`)
	resp, body = e.post(t, ca, page+"/review/preview", url.Values{"status": {"PAID"}, "reason": {"x"}})
	payExpect(t, "bad status", resp, body, http.StatusUnprocessableEntity, "<code>status</code>")
	form.Set("token", f.preview(t, "review", form, ">Set status to CAPTURED</button>", "No money moves"))
	f.confirm(t, "review", form)
	got, _ := e.pay.Get(context.Background(), p.ID)
	if got.NeedsReview || got.Status != payments.StatusCaptured {
		t.Fatalf("after review: %s review=%v", got.Status, got.NeedsReview)
	}
	e.payAudited(t, audit.ActionPaymentReview, p.ID, admin.Email, `{"status":"CAPTURED","reason":"acquirer confirmed by phone"}`)
}

// TestPaymentViewerCannotAct: a viewer reads the page, with the timeline
// and its notifications, without any action, and a forged refund from a
// viewer's session is refused before anything moves.
func TestPaymentViewerCannotAct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	c := e.client(t)
	e.login(t, c, viewer)
	p := e.payCapture(t, e.payCreate(t, payOrder{Order: "ORD-VIEW-1", Minor: 2000}))
	page := "/console/payments/" + p.ID

	// A notification as APO signs it, carrying the whole card number.
	e.payNotify(t, fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S",`+
		`"resultMessage":"success"},"paymentRequestId":%q,"paymentId":%q,"paymentAmount":{"currency":"USD","value":"2000"},`+
		`"paymentResultInfo":{"cardNo":"4242424242424242","cardBrand":"VISA"}}`, p.PaymentRequestID, p.APOPaymentID))

	resp, body := e.get(t, c, page)
	payExpect(t, "viewer's page", resp, body, http.StatusOK, `<ol class="timeline">`, "Notification received", "signature valid",
		"PAYMENT_RESULT", "Notification applied", "!4242424242424242", "!/refund", "!/capture", "!/cancel", "!/sync",
		"!/review", `!id="actions-title"`)
	if p.Card.Token != "" && strings.Contains(body, p.Card.Token) {
		t.Fatal("the detail page shows the card token")
	}
	for _, path := range []string{"/refund", "/refund/preview", "/sync", "/capture", "/cancel"} {
		resp, body := e.post(t, c, page+path, url.Values{"token": {"forged-token-1"}, "amount": {"5.00"}, "reason": {"forged"}})
		payExpect(t, "viewer's POST "+path, resp, body, http.StatusForbidden)
	}
	if refunds := e.payTxs(t, p.ID, payments.TxRefund); len(refunds) != 0 {
		t.Fatalf("a viewer's forged post refunded: %+v", refunds)
	}
	if rows := e.payAudit(t, audit.ActionPaymentRefund, p.ID); len(rows) != 0 {
		t.Fatalf("audit rows for a refused role: %+v", rows)
	}
	resp, body = e.get(t, c, "/console/payments/not-a-payment")
	payExpect(t, "unknown payment", resp, body, http.StatusNotFound)
}

// TestPaymentsInBrowser: an operator finds a payment from the header's
// search, refunds part of it through the confirmation, sees the flash and
// the timeline grow, and the service's refusal of an over-refund inline.
// Accessibility is checked and screenshots are kept of each page, and of
// the detail 390 px wide.
func TestPaymentsInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	p := e.payCapture(t, e.payCreate(t, payOrder{Order: "ORD-BROWSER-4242", Minor: 2000, Email: "grace@example.com"}))
	e.payCreate(t, payOrder{Order: "ORD-OTHER-1", Minor: 4500, CCY: "EUR", Card: "5555555555554444"})
	e.payCreate(t, payOrder{Order: "ORD-BROWSER-JPY", Minor: 1339, CCY: "JPY"})
	ctx := e.browser(t)
	e.browserLogin(t, ctx, ops)

	run(t, ctx, "search from the header", payShortcut('/'))
	if f := read(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id + "=" + document.activeElement.value`)); f != "search=" {
		t.Fatalf("after /, focus is on %q, want the empty search box", f)
	}
	run(t, ctx, "type and enter", chromedp.KeyEvent("browser-42"+kb.Enter), chromedp.WaitVisible(chromedp.ID("results")))
	rows := read(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#results tbody tr").length`))
	hint := read(t, ctx, "hint", chromedp.Text(chromedp.CSS("#results .hint")))
	if rows != 1 || !strings.Contains(hint, "browser-42") {
		t.Fatalf("search found %d rows (%q), want ORD-BROWSER-4242 only", rows, hint)
	}
	if url := read(t, ctx, "url", chromedp.Evaluate[string](`location.search`)); url != "?q=browser-42" {
		t.Fatalf("the search is not in the URL: %q", url)
	}

	// The filter form swaps only the results and keeps the URL shareable.
	run(t, ctx, "filter by status",
		chromedp.SetValue(chromedp.ID("filter-q"), "ord-"),
		chromedp.SetValue(chromedp.ID("filter-currency"), "JPY"),
		chromedp.Click(chromedp.CSS("#payment-filters button[type=submit]")))
	read(t, ctx, "the results swapped", chromedp.Poll[bool](
		`document.querySelectorAll("#results tbody tr").length === 1 && location.search.includes("currency=JPY")`,
		chromedp.WithPollingTimeout(time.Minute)))
	if got := read(t, ctx, "url", chromedp.Evaluate[string](`location.search`)); got != "?currency=JPY&q=ord-" {
		t.Fatalf("URL after filtering %q", got)
	}
	run(t, ctx, "back to the search", chromedp.Navigate(e.srv.URL+"/console/payments?q=browser-42"), chromedp.WaitVisible(chromedp.ID("results")))
	checkAccessibility(t, ctx, "payments list")
	screenshot(t, ctx, "payments-list")

	run(t, ctx, "open the payment", chromedp.Click(chromedp.CSS(`#results a[href="/console/payments/`+p.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("timeline-title")))
	checkAccessibility(t, ctx, "payment detail")
	screenshot(t, ctx, "payment-detail")
	before := read(t, ctx, "timeline", chromedp.Evaluate[int](`document.querySelectorAll("ol.timeline > li").length`))

	run(t, ctx, "refund preview",
		chromedp.SendKeys(chromedp.ID("refund-amount"), "5"),
		chromedp.SendKeys(chromedp.ID("refund-reason"), "one item returned"),
		chromedp.Click(chromedp.CSS("#refund-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form button.danger")))
	if b := read(t, ctx, "confirm button", chromedp.Text(chromedp.CSS("#refund-confirm-form button.danger"))); b != "Refund USD 5.00" {
		t.Fatalf("confirm button %q", b)
	}
	checkAccessibility(t, ctx, "refund confirmation")
	screenshot(t, ctx, "refund-confirmation")
	run(t, ctx, "confirm the refund", chromedp.Click(chromedp.CSS("#refund-confirm-form button.danger")),
		chromedp.WaitVisible(chromedp.CSS("main .flash")))
	if f := read(t, ctx, "flash", chromedp.Text(chromedp.CSS("main .flash"))); f != "Refunded USD 5.00." {
		t.Fatalf("flash %q", f)
	}
	after := read(t, ctx, "timeline", chromedp.Evaluate[int](`document.querySelectorAll("ol.timeline > li").length`))
	timeline := read(t, ctx, "timeline text", chromedp.Text(chromedp.CSS("ol.timeline")))
	if after <= before || !strings.Contains(timeline, "refund_requested") {
		t.Fatalf("timeline has %d entries (was %d), want the refund's:\n%s", after, before, timeline)
	}

	run(t, ctx, "over-refund",
		chromedp.SendKeys(chromedp.ID("refund-amount"), "50"),
		chromedp.SendKeys(chromedp.ID("refund-reason"), "too much"),
		chromedp.Click(chromedp.CSS("#refund-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form button.danger")),
		chromedp.Click(chromedp.CSS("#refund-confirm-form button.danger")),
		chromedp.WaitVisible(chromedp.CSS("#refund-confirm-form-error .problem")))
	msg := read(t, ctx, "error", chromedp.Text(chromedp.CSS("#refund-confirm-form-error .problem")))
	if !strings.Contains(msg, "exceeds what is refundable") {
		t.Fatalf("over-refund says %q", msg)
	}
	checkAccessibility(t, ctx, "over-refund error")
	if n := len(e.payTxs(t, p.ID, payments.TxRefund)); n != 1 {
		t.Fatalf("%d refunds, want 1", n)
	}

	// 390 px wide: the facts fit without scrolling sideways.
	run(t, ctx, "narrow", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("facts-title")))
	fits := read(t, ctx, "overflow", chromedp.Evaluate[string](`(() => {
		const f = document.querySelector(".pay-facts"), r = f.getBoundingClientRect();
		return [f.scrollWidth <= f.clientWidth, r.right <= 390, document.documentElement.scrollWidth <= 390].join(",");
	})()`))
	if fits != "true,true,true" {
		t.Fatalf("at 390 px the facts overflow (facts fit, within the viewport, page fits): %s", fits)
	}
	screenshot(t, ctx, "payment-detail-390")
}

// payNotify delivers body as APO would (signed with the sandbox's key)
// and processes it now.
func (e *env) payNotify(t *testing.T, body string) {
	t.Helper()
	ts := time.Now().UTC().Format(time.RFC3339)
	sig, err := apo.Sign(e.sb.APOKey, "POST", "/webhooks/apo", sandboxtest.ClientID, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"signature": {sig}, "client-id": {sandboxtest.ClientID}, "request-time": {ts}}
	ev, _, err := e.inbox.Intake(context.Background(), "POST", "/webhooks/apo", h, []byte(body))
	if err != nil || ev.Verdict != "valid" {
		t.Fatalf("intake: %v (%s)", err, ev.Verdict)
	}
	if err := e.inbox.Process(context.Background(), ev.ID); err != nil {
		t.Fatalf("process: %v", err)
	}
}

// payShortcut presses key as a person does. The page's keydown handler
// calls preventDefault, after which a browser types no character; CDP sends
// the character as a separate "char" event no handler can cancel, so it is
// left out here.
func payShortcut(key rune) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, k := range kb.Encode(key) {
			if k.Type == kb.KeyChar {
				continue
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *k); err != nil {
				return err
			}
		}
		return nil
	})
}
