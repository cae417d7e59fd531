package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/sandboxtest"
	"github.com/payops/payops/migrations"
)

var _ paymentService = (*payments.Service)(nil)

// testCVV is the CVV every test card is sent with; cvvInDump finds it (or
// any CVV) wherever it might have leaked.
const testCVV = "739"

var cvvInDump = regexp.MustCompile(`(?i)"?cvv"?\s*[:=]\s*"?[0-9]{3,4}`)

// payEnv is the api over a real database and the APO sandbox over real
// HTTP, with a key of every role.
type payEnv struct {
	srv      *httptest.Server
	db       *sqlx.DB
	apo      *sandboxtest.Env
	logs     *logtest.Buffer
	admin    string
	operator string
	checkout string
	viewer   string
}

func newPayEnv(t *testing.T) *payEnv {
	t.Helper()
	db := pgtest.NewDB(t)
	sb := sandboxtest.Start(t, sandboxtest.Options{Recorder: payments.NewCallRecorder(db)})
	return newPayEnvWith(t, db, sb, sb.Client)
}

// newPayEnvWith builds the api over provider, which may differ from the
// sandbox's own client (an unreachable APO).
func newPayEnvWith(t *testing.T, db *sqlx.DB, sb *sandboxtest.Env, provider payments.Provider) *payEnv {
	t.Helper()
	logs := &logtest.Buffer{}
	log := logging.New(logs, slog.LevelDebug)
	// Redis only backs /readyz, which these tests do not call.
	svc := newServices(log, db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	// Notifications of the sandbox go nowhere: webhook tests send their own.
	pay := payments.NewService(db, provider, nil, log, "http://127.0.0.1:1")
	svc.usePayments(pay, inbox.NewService(db, sb.Client, pay, nil, nil, log))
	h, _ := newHandler(svc)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &payEnv{srv: srv, db: db, apo: sb, logs: logs}
	_, e.admin = mustCreateKey(t, db, "admin", auth.RoleAdmin)
	_, e.operator = mustCreateKey(t, db, "ops", auth.RoleOperator)
	_, e.checkout = mustCreateKey(t, db, "checkout-web", auth.RoleCheckout)
	_, e.viewer = mustCreateKey(t, db, "viewer", auth.RoleViewer)
	return e
}

// call sends a request with an optional key, JSON body and extra headers
// ("Name: value") and returns the response with its body read.
func (e *payEnv) call(t *testing.T, method, path, key string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// opBody is the body of capture, cancel, refund, sync and review.
type opBody struct {
	Payment     Payment      `json:"payment"`
	Transaction *Transaction `json:"transaction"`
}

type listBody struct {
	Items      []Payment `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

type detailBody struct {
	Payment
	Transactions []Transaction   `json:"transactions"`
	Timeline     []TimelineEvent `json:"timeline"`
}

func decode[T any](t *testing.T, resp *http.Response, body []byte, status int) T {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func expiryYear() string { return strconv.Itoa(time.Now().Year() + 3) }

// payBody is a create-payment body for a card.
func payBody(card string, minor int64, ccy string) map[string]any {
	return map[string]any{
		"amount": map[string]any{"value": minor, "currency": ccy},
		"order":  map[string]any{"reference_order_id": "order-" + card[len(card)-4:], "description": "test order"},
		"buyer":  map[string]any{"reference": "buyer-1", "email": "ada@example.com"},
		"env":    map[string]any{"terminal_type": "WEB", "client_ip": "203.0.113.7", "user_agent": "payops-test"},
		"card": map[string]any{"number": card, "cvv": testCVV, "expiry_month": "12", "expiry_year": expiryYear(),
			"holder_first_name": "Ada", "holder_last_name": "Lovelace"},
		"redirect_url": "https://shop.example/return",
	}
}

func (e *payEnv) create(t *testing.T, body map[string]any) Payment {
	t.Helper()
	resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, body)
	return decode[Payment](t, resp, b, http.StatusCreated)
}

func (e *payEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// dump is every row of every table the flows write, as text.
func (e *payEnv) dump(t *testing.T) string {
	t.Helper()
	var rows []string
	for _, table := range []string{"payments", "payment_transactions", "payment_events", "apo_calls", "webhook_events",
		"idempotency_keys", "audit_log"} {
		var part []string
		if err := e.db.Select(&part, `SELECT t::text FROM `+table+` t`); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, part...)
	}
	return strings.Join(rows, "\n")
}

// mustHoldNoCardData searches text for the card numbers used and any CVV.
func mustHoldNoCardData(t *testing.T, what, text string, pans ...string) {
	t.Helper()
	mustContainNone(t, what, text, pans...)
	if m := cvvInDump.FindString(text); m != "" {
		t.Errorf("%s holds a CVV: %q", what, m)
	}
}

func (e *payEnv) auditRows(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := audit.NewStore(e.db).List(context.Background(), audit.Filter{Action: action, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestPaymentLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	const pan = "4111111111111111"
	p := e.create(t, payBody(pan, 1000, "USD"))
	if p.Status != "AUTHORIZED" || p.PaymentID == "" || p.PaymentRequestID == "" || p.Result.Code != "SUCCESS" {
		t.Fatalf("created: %+v", p)
	}
	if c := p.Card; c.Brand != "VISA" || c.BIN != "411111" || c.Last4 != "1111" || c.Masked != "411111******1111" ||
		c.ExpiryMonth != "12" || c.ExpiryYear != expiryYear()[2:] {
		t.Fatalf("card facts %+v", c)
	}
	if p.Acquirer == nil || p.Acquirer.Name == "" || p.AuthExpiryTime == nil || p.Amount != (Money{1000, "USD"}) ||
		p.CreatedBy != "checkout-web" {
		t.Fatalf("created: %+v", p)
	}

	path := "/v1/payments/" + p.ID
	resp, b := e.call(t, http.MethodPost, path+"/captures", e.operator, map[string]any{"amount": 400})
	op := decode[opBody](t, resp, b, http.StatusOK)
	if op.Payment.CapturedAmount.Value != 400 || op.Payment.Status != "AUTHORIZED" || op.Transaction == nil ||
		op.Transaction.Type != "CAPTURE" || op.Transaction.Status != "SUCCEEDED" || op.Transaction.Actor != "ops" {
		t.Fatalf("partial capture: %s", b)
	}
	resp, b = e.call(t, http.MethodPost, path+"/captures", e.operator, nil) // no body: the rest
	op = decode[opBody](t, resp, b, http.StatusOK)
	if op.Payment.CapturedAmount.Value != 1000 || op.Payment.Status != "CAPTURED" || op.Transaction.Amount.Value != 600 {
		t.Fatalf("second capture: %s", b)
	}
	for _, amount := range []int64{300, 200} {
		resp, b = e.call(t, http.MethodPost, path+"/refunds", e.operator, map[string]any{"amount": amount, "reason": "returned"})
		op = decode[opBody](t, resp, b, http.StatusOK)
		if op.Transaction.Type != "REFUND" || op.Transaction.Status != "SUCCEEDED" || op.Transaction.Reason != "returned" {
			t.Fatalf("refund %d: %s", amount, b)
		}
	}
	if op.Payment.RefundedAmount.Value != 500 {
		t.Fatalf("refunded %d, want 500", op.Payment.RefundedAmount.Value)
	}
	resp, b = e.call(t, http.MethodPost, path+"/refunds", e.operator, map[string]any{"amount": 501, "reason": "too much"})
	if prob := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(prob.Detail, "exceeds what is refundable") {
		t.Fatalf("refund beyond captured: detail %q", prob.Detail)
	}

	resp, b = e.call(t, http.MethodGet, path, e.viewer, nil)
	d := decode[detailBody](t, resp, b, http.StatusOK)
	if d.ID != p.ID || d.Status != "CAPTURED" || len(d.Transactions) != 5 {
		t.Fatalf("detail: %s", b)
	}
	var sawPay bool
	for _, ev := range d.Timeline {
		if ev.Source == "pay_response" && ev.Applied && ev.StatusAfter == "AUTHORIZED" && json.Valid(ev.Payload) && len(ev.Payload) > 2 {
			sawPay = true
		}
	}
	if !sawPay {
		t.Fatalf("timeline lacks the applied pay response: %s", b)
	}
	if resp, b := e.call(t, http.MethodGet, "/v1/payments/"+"01937a2e-0000-7000-8000-000000000000", e.viewer, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown payment: %d %s", resp.StatusCode, b)
	}

	// One audit row per mutation, with the outcome and a masked card.
	for action, want := range map[string][]string{
		audit.ActionPaymentCreate:  {audit.OutcomeSucceeded},
		audit.ActionPaymentCapture: {audit.OutcomeSucceeded, audit.OutcomeSucceeded},
		audit.ActionPaymentRefund:  {audit.OutcomeRejected, audit.OutcomeSucceeded, audit.OutcomeSucceeded},
	} {
		rows := e.auditRows(t, action)
		if len(rows) != len(want) {
			t.Fatalf("%s: %d audit rows, want %d", action, len(rows), len(want))
		}
		for i, r := range rows {
			if r.Outcome != want[i] || r.Target != audit.PaymentTarget(p.ID) || r.KeyID == "" {
				t.Errorf("%s row %d: %+v, want outcome %s", action, i, r, want[i])
			}
		}
	}
	created := e.auditRows(t, audit.ActionPaymentCreate)[0]
	in, _ := created.Input.(json.RawMessage)
	if !strings.Contains(string(in), `"411111******1111"`) || strings.Contains(string(in), "number") || created.Actor != "checkout-web" {
		t.Fatalf("create audit input %s", in)
	}

	mustHoldNoCardData(t, "table dump", e.dump(t), pan)
	e.srv.Close()
	mustHoldNoCardData(t, "logs", e.logs.String(), pan)
}

func TestDeclinedAndChallengedPayments(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	for _, c := range []struct {
		card, status, code string
		threeDS            bool
	}{
		{card: "4000000000000002", status: "FAILED", code: "DO_NOT_HONOR"},
		{card: "4000000000009995", status: "FAILED", code: "USER_BALANCE_NOT_ENOUGH"},
		{card: "4000000000003220", status: "REQUIRES_ACTION", code: "PAYMENT_IN_PROCESS"},
		{card: "5555555555554444", status: "REQUIRES_ACTION", code: "PAYMENT_IN_PROCESS", threeDS: true},
	} {
		body := payBody(c.card, 2500, "EUR")
		body["three_ds"] = c.threeDS
		p := e.create(t, body)
		if p.Status != c.status || p.Result.Code != c.code || p.Card.Last4 != c.card[12:] {
			t.Errorf("%s: %+v, want %s %s", c.card, p, c.status, c.code)
		}
		if (c.status == "REQUIRES_ACTION") != (p.NormalURL != "") {
			t.Errorf("%s: normal_url %q", c.card, p.NormalURL)
		}
		if u, err := url.Parse(p.NormalURL); c.status == "REQUIRES_ACTION" && (err != nil || !u.IsAbs()) {
			t.Errorf("%s: normal_url %q is not an absolute URL", c.card, p.NormalURL)
		}
	}
	var outcomes []string
	for _, r := range e.auditRows(t, audit.ActionPaymentCreate) {
		outcomes = append(outcomes, r.Outcome)
	}
	if got := strings.Join(outcomes, ","); got != "succeeded,succeeded,failed,failed" { // newest first
		t.Fatalf("create outcomes %s", got)
	}
}

func TestAutomaticCaptureSyncAndCancel(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	body := payBody("4111111111111111", 700, "JPY")
	body["capture_mode"] = "AUTOMATIC"
	p := e.create(t, body)
	resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/sync", e.operator, nil)
	op := decode[opBody](t, resp, b, http.StatusOK)
	if op.Payment.Status != "CAPTURED" || op.Payment.CapturedAmount.Value != 700 || op.Transaction != nil {
		t.Fatalf("automatic capture after sync: %s", b)
	}

	p = e.create(t, payBody("4111111111111111", 5000, "USD"))
	resp, b = e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/cancel", e.operator, nil)
	op = decode[opBody](t, resp, b, http.StatusOK)
	if op.Payment.Status != "CANCELLED" || op.Transaction == nil || op.Transaction.Type != "CANCEL" {
		t.Fatalf("cancel: %s", b)
	}

	p = e.create(t, payBody("4111111111111111", 5000, "USD"))
	if resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/captures", e.operator, map[string]any{"amount": 1}); resp.StatusCode != http.StatusOK {
		t.Fatalf("capture: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/cancel", e.operator, nil)
	if prob := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(prob.Detail, "cannot cancel after capture") {
		t.Fatalf("cancel after capture: %q", prob.Detail)
	}
	if rows := e.auditRows(t, audit.ActionPaymentCancel); len(rows) != 2 || rows[0].Outcome != audit.OutcomeRejected ||
		rows[1].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("cancel audit rows %+v", rows)
	}
	if rows := e.auditRows(t, audit.ActionPaymentSync); len(rows) != 1 || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("sync audit rows %+v", rows)
	}
}

// TestReviewResolvesAFlaggedPayment flags a payment the way conflicting
// sources would, then resolves it as an admin.
func TestReviewResolvesAFlaggedPayment(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	p := e.create(t, payBody("4111111111111111", 1200, "USD"))
	path := "/v1/payments/" + p.ID + "/review"
	review := map[string]any{"status": "FAILED", "reason": "acquirer confirmed the decline"}
	resp, b := e.call(t, http.MethodPost, path, e.admin, review)
	mustProblem(t, resp, b, http.StatusConflict) // nothing to review yet
	if _, err := e.db.Exec(`UPDATE payments SET needs_review = true, review_reason = 'test' WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	resp, b = e.call(t, http.MethodPost, path, e.operator, review)
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.call(t, http.MethodPost, path, e.admin, review)
	op := decode[opBody](t, resp, b, http.StatusOK)
	if op.Payment.Status != "FAILED" || op.Payment.NeedsReview {
		t.Fatalf("reviewed: %s", b)
	}
	rows := e.auditRows(t, audit.ActionPaymentReview)
	if len(rows) != 2 || rows[0].Outcome != audit.OutcomeSucceeded || rows[1].Outcome != audit.OutcomeRejected {
		t.Fatalf("review audit rows %+v", rows)
	}
}

// TestBadInputNeverReachesAPO sends one request per class of bad input:
// each is a 422 naming the field, and no payment is stored and no APO call
// made.
func TestBadInputNeverReachesAPO(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	const pan = "4111111111111111"
	set := func(mut func(b map[string]any)) map[string]any {
		b := payBody(pan, 1000, "USD")
		mut(b)
		return b
	}
	card := func(b map[string]any) map[string]any { return b["card"].(map[string]any) }
	for name, c := range map[string]struct {
		body any
		want string
	}{
		"luhn":             {set(func(b map[string]any) { card(b)["number"] = "4111111111111112" }), "card.number"},
		"expired":          {set(func(b map[string]any) { card(b)["expiry_year"] = "2020" }), "card has expired"},
		"unknown currency": {set(func(b map[string]any) { b["amount"] = map[string]any{"value": 1000, "currency": "XYZ"} }), "amount.currency"},
		"lowercase ccy":    {set(func(b map[string]any) { b["amount"] = map[string]any{"value": 1000, "currency": "usd"} }), "body.amount.currency"},
		"zero amount":      {set(func(b map[string]any) { b["amount"] = map[string]any{"value": 0, "currency": "USD"} }), "body.amount.value"},
		"missing env":      {set(func(b map[string]any) { delete(b, "env") }), "env"},
		"missing expiry":   {set(func(b map[string]any) { delete(card(b), "expiry_month") }), "card.expiry_month"},
		"number and token": {set(func(b map[string]any) { card(b)["token"] = "tok_1" }), "either number or token"},
		"bad terminal":     {set(func(b map[string]any) { b["env"].(map[string]any)["terminal_type"] = "TV" }), "body.env.terminal_type"},
		"unknown field":    {set(func(b map[string]any) { card(b)["pin"] = "1234" }), "pin"},
	} {
		resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, c.body)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s: problem %s does not name %q", name, b, c.want)
		}
		// Huma echoes submitted values in its validation errors by
		// default; ours must never send the card back.
		mustHoldNoCardData(t, name+" problem", string(b), pan)
	}
	resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, []byte(`{"card":{"number":"`+pan+`"`))
	mustProblem(t, resp, b, http.StatusBadRequest)
	mustHoldNoCardData(t, "truncated JSON problem", string(b), pan)
	if n, m := e.count(t, "payments"), e.count(t, "apo_calls"); n != 0 || m != 0 {
		t.Fatalf("bad input stored %d payments and made %d APO calls", n, m)
	}

	for query, param := range map[string]string{
		"status=NOPE":            "status",
		"last4=12a4":             "last4",
		"created_from=yesterday": "created_from",
		"created_from=2026-01-02T00:00:00Z&created_to=2026-01-01T00:00:00Z": "created_to",
		"expiring_within=45d":                    "expiring_within",
		"expiring_within=-1h":                    "expiring_within",
		"expiring_within=721h":                   "expiring_within",
		"needs_review=maybe":                     "needs_review",
		"limit=0":                                "limit",
		"limit=201":                              "limit",
		"cursor=bm90LWEtY3Vyc29y":                "cursor",
		"sort=fee":                               "sort",
		"sort=amount&dir=up":                     "dir",
		"payment_id=" + strings.Repeat("x", 200): "payment_id",
	} {
		resp, b := e.call(t, http.MethodGet, "/v1/payments?"+query, e.viewer, nil)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if !strings.Contains(string(b), param) || strings.Contains(strings.ToLower(string(b)), "select") {
			t.Errorf("%s: problem %s does not name %s (or leaks SQL)", query, b, param)
		}
	}
}

func TestPaymentRoles(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	p := e.create(t, payBody("4111111111111111", 1000, "USD")) // checkout may create
	for _, c := range []struct {
		method, path, key string
		body              any
		status            int
	}{
		{http.MethodGet, "/v1/payments", e.checkout, nil, http.StatusForbidden},
		{http.MethodGet, "/v1/payments/" + p.ID, e.checkout, nil, http.StatusForbidden},
		{http.MethodPost, "/v1/payments/" + p.ID + "/captures", e.checkout, nil, http.StatusForbidden},
		{http.MethodPost, "/v1/payments/" + p.ID + "/captures", e.viewer, nil, http.StatusForbidden},
		{http.MethodPost, "/v1/payments/" + p.ID + "/cancel", e.viewer, nil, http.StatusForbidden},
		{http.MethodPost, "/v1/payments", e.viewer, payBody("4111111111111111", 1, "USD"), http.StatusForbidden},
		{http.MethodPost, "/v1/payments", e.operator, payBody("4111111111111111", 1, "USD"), http.StatusForbidden},
		{http.MethodGet, "/v1/webhook-events", e.checkout, nil, http.StatusForbidden},
		{http.MethodGet, "/v1/payments", "", nil, http.StatusUnauthorized},
		{http.MethodPost, "/v1/payments", "", payBody("4111111111111111", 1, "USD"), http.StatusUnauthorized},
	} {
		resp, b := e.call(t, c.method, c.path, c.key, c.body)
		mustProblem(t, resp, b, c.status)
	}
	if resp, b := e.call(t, http.MethodGet, "/v1/payments", e.viewer, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("viewer list: %d %s", resp.StatusCode, b)
	}
	if n := e.count(t, "payments"); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
}

func TestIdempotencyKeyReplaysPayments(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	const pan = "4111111111111111"
	body := payBody(pan, 1500, "USD")
	first, firstBody := e.call(t, http.MethodPost, "/v1/payments", e.checkout, body, "Idempotency-Key: order-77-try")
	if first.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := e.call(t, http.MethodPost, "/v1/payments", e.checkout, body, "Idempotency-Key: order-77-try")
	if again.StatusCode != http.StatusCreated || !bytes.Equal(againBody, firstBody) ||
		again.Header.Get(httpguard.ReplayedHeader) != "true" || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay: %d %v %s\nfirst: %s", again.StatusCode, again.Header, againBody, firstBody)
	}
	if n, calls := e.count(t, "payments"), e.count(t, "apo_calls"); n != 1 || calls != 1 {
		t.Fatalf("%d payments and %d APO calls after a replay, want 1 and 1", n, calls)
	}
	if n := len(e.auditRows(t, audit.ActionPaymentCreate)); n != 1 {
		t.Fatalf("%d create audit rows, want 1", n)
	}

	other := payBody(pan, 1501, "USD")
	resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, other, "Idempotency-Key: order-77-try")
	if prob := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(prob.Detail, "different request") {
		t.Fatalf("same key, other body: %q", prob.Detail)
	}
	// Another API key's identical key is its own.
	_, checkout2 := mustCreateKey(t, e.db, "checkout-app", auth.RoleCheckout)
	resp, b = e.call(t, http.MethodPost, "/v1/payments", checkout2, body, "Idempotency-Key: order-77-try")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get(httpguard.ReplayedHeader) != "" {
		t.Fatalf("other key: %d %s", resp.StatusCode, b)
	}
	// A refused request is replayed as refused, without reaching APO.
	bad := payBody(pan, 1500, "USD")
	delete(bad["card"].(map[string]any), "expiry_year")
	for range 2 {
		resp, b = e.call(t, http.MethodPost, "/v1/payments", e.checkout, bad, "Idempotency-Key: bad-1")
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}
	resp, b = e.call(t, http.MethodPost, "/v1/payments", e.checkout, bad, "Idempotency-Key: "+strings.Repeat("k", 256))
	mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	// A request refused at validation (the schema's or the payment rules',
	// one problem for all) changes nothing, so it leaves no audit row.
	if n := len(e.auditRows(t, audit.ActionPaymentCreate)); n != 2 {
		t.Fatalf("%d create audit rows, want 2 (two creates)", n)
	}

	// Captures: one capture however often it is retried.
	var p Payment
	if err := json.Unmarshal(firstBody, &p); err != nil {
		t.Fatal(err)
	}
	capture := map[string]any{"amount": 500}
	for range 3 {
		resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/captures", e.operator, capture, "Idempotency-Key: cap-1")
		if op := decode[opBody](t, resp, b, http.StatusOK); op.Payment.CapturedAmount.Value != 500 {
			t.Fatalf("capture retry: %s", b)
		}
	}
	var captures int
	if err := e.db.Get(&captures, `SELECT count(*) FROM payment_transactions WHERE type = 'CAPTURE'`); err != nil || captures != 1 {
		t.Fatalf("%d captures (%v), want 1", captures, err)
	}
	// The same key on another payment's capture is another request.
	p2 := e.create(t, payBody(pan, 900, "USD"))
	resp, b = e.call(t, http.MethodPost, "/v1/payments/"+p2.ID+"/captures", e.operator, capture, "Idempotency-Key: cap-1")
	mustProblem(t, resp, b, http.StatusConflict)

	// create-api-key never replays: that would mean keeping the raw key.
	var keys []string
	for range 2 {
		resp, b := e.call(t, http.MethodPost, "/v1/api-keys", e.admin, map[string]string{"name": "x", "role": "viewer"}, "Idempotency-Key: key-1")
		var k struct{ Key string }
		if err := json.Unmarshal(b, &k); err != nil || resp.StatusCode != http.StatusCreated || k.Key == "" {
			t.Fatalf("create key: %d %s", resp.StatusCode, b)
		}
		keys = append(keys, k.Key)
	}
	if keys[0] == keys[1] {
		t.Fatal("create-api-key replayed a key")
	}

	var stored []string
	// create ×2 (two API keys), the refused create, the capture.
	if err := e.db.Select(&stored, `SELECT response::text FROM idempotency_keys`); err != nil || len(stored) != 4 {
		t.Fatalf("stored responses: %d (%v), want 4", len(stored), err)
	}
	all := strings.Join(stored, "\n")
	mustHoldNoCardData(t, "idempotency_keys", all, pan, "pk_")
	if !strings.Contains(all, "411111******1111") {
		t.Fatalf("stored responses lack the masked card: %s", all)
	}
}

// TestEveryPostHonoursIdempotencyKey keeps new POST operations from
// forgetting the guard. create-api-key is the one exception (it would have
// to store the raw key), and the webhook is APO's, not the admin API's.
func TestEveryPostHonoursIdempotencyKey(t *testing.T) {
	t.Parallel()
	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	n := 0
	for path, item := range api.OpenAPI().Paths {
		op := item.Post
		if op == nil {
			continue
		}
		guarded, _ := op.Metadata[httpguard.MetadataKey].(bool)
		isPublic, _ := op.Metadata[metaPublic].(bool)
		exempt := op.OperationID == "create-api-key" || isPublic
		if guarded == exempt {
			t.Errorf("POST %s (%s): guarded=%v, exempt=%v", path, op.OperationID, guarded, exempt)
		}
		if guarded {
			n++
		}
	}
	if n < 7 {
		t.Fatalf("only %d guarded operations", n)
	}
}

func TestListPaymentsFilters(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	ok1 := e.create(t, payBody("4111111111111111", 100, "USD"))
	ok2 := e.create(t, payBody("5555555555554444", 200, "USD"))
	failed := e.create(t, payBody("4000000000000002", 300, "USD"))
	list := func(query string) (ids []string, next string) {
		t.Helper()
		resp, b := e.call(t, http.MethodGet, "/v1/payments?"+query, e.viewer, nil)
		page := decode[listBody](t, resp, b, http.StatusOK)
		for _, p := range page.Items {
			ids = append(ids, p.ID)
		}
		return ids, page.NextCursor
	}
	for query, want := range map[string][]string{
		"":                              {failed.ID, ok2.ID, ok1.ID},
		"status=FAILED":                 {failed.ID},
		"status=AUTHORIZED":             {ok2.ID, ok1.ID},
		"last4=4444":                    {ok2.ID},
		"reference_order_id=order-1111": {ok1.ID},
		"payment_request_id=" + ok1.PaymentRequestID: {ok1.ID},
		"payment_id=" + ok2.PaymentID:                {ok2.ID},
		"needs_review=true":                          {},
		"needs_review=false&status=FAILED":           {failed.ID},
		"expiring_within=240h":                       {ok2.ID, ok1.ID},
		"expiring_within=1h":                         {},
		"sort=amount&dir=asc":                        {ok1.ID, ok2.ID, failed.ID},
		"sort=amount&status=AUTHORIZED":              {ok2.ID, ok1.ID},
		"created_from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)): {},
		"created_to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)):   {failed.ID, ok2.ID, ok1.ID},
	} {
		got, _ := list(query)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: got %v, want %v", query, got, want)
		}
	}
	// The sandbox picks acquirers; whatever it picked filters exactly.
	got, _ := list("acquirer=" + url.QueryEscape(ok1.Acquirer.Name))
	for _, p := range []Payment{ok1, ok2, failed} {
		if has := contains(got, p.ID); has != (p.Acquirer != nil && p.Acquirer.Name == ok1.Acquirer.Name) {
			t.Errorf("acquirer %q: got %v; %s has acquirer %+v", ok1.Acquirer.Name, got, p.ID, p.Acquirer)
		}
	}

	// Keyset pages: one at a time, in order, then the end.
	var walked []string
	cursor := ""
	for range 4 {
		ids, next := list("limit=1&cursor=" + url.QueryEscape(cursor))
		walked = append(walked, ids...)
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(walked, ",") != strings.Join([]string{failed.ID, ok2.ID, ok1.ID}, ",") {
		t.Fatalf("pages walked %v", walked)
	}
}

// TestListPaymentsSearch: the investigation filters find payments by part
// of the order id, buyer and amount, and a bad value is a 422 located at
// its query parameter, whether Huma's schema or the service's rules caught
// it.
func TestListPaymentsSearch(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	with := func(order, email, ref string, minor int64, ccy string) map[string]any {
		b := payBody("4111111111111111", minor, ccy)
		b["order"] = map[string]any{"reference_order_id": order}
		b["buyer"] = map[string]any{"email": email, "reference": ref}
		return b
	}
	p1 := e.create(t, with("ORD-2026-ABC-001", "Ada@Example.com", "cust-7", 1000, "USD"))
	p2 := e.create(t, with("ord-2026-abc-002", "bob@example.com", "cust-77", 2500, "USD"))
	p3 := e.create(t, with("shop_123%off", "carol@example.com", "cust-8", 1339, "JPY"))
	e.create(t, with("shopX123Yoff", "dan@example.com", "cust-9", 1339, "JPY")) // "_123%" as wildcards would match it
	for query, want := range map[string][]string{
		"order_id_contains=abc":                                       {p2.ID, p1.ID},
		"order_id_contains=" + url.QueryEscape("_123%"):               {p3.ID},
		"buyer_email=" + url.QueryEscape("ADA@example.COM"):           {p1.ID},
		"buyer_email=ada":                                             {},
		"buyer_reference=cust-7":                                      {p1.ID},
		"currency=USD&amount_min=1000&amount_max=1000":                {p1.ID},
		"currency=USD&amount_min=1001":                                {p2.ID},
		"currency=JPY&amount_max=1338":                                {},
		"order_id_contains=2026&currency=USD&amount_max=2000&limit=5": {p1.ID},
	} {
		resp, b := e.call(t, http.MethodGet, "/v1/payments?"+query, e.viewer, nil)
		page := decode[listBody](t, resp, b, http.StatusOK)
		got := make([]string, 0, len(page.Items))
		for _, p := range page.Items {
			got = append(got, p.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: got %v, want %v", query, got, want)
		}
	}

	for query, param := range map[string]string{
		"order_id_contains=ab":                          "order_id_contains", // schema
		"order_id_contains=a-1_b":                       "order_id_contains", // service: no run of 3
		"buyer_email=" + strings.Repeat("a", 65):        "buyer_email",
		"currency=usd":                                  "currency",
		"currency=XXY":                                  "currency",
		"amount_min=100":                                "currency",
		"currency=USD&amount_min=0":                     "amount_min",
		"currency=USD&amount_min=200&amount_max=100":    "amount_max",
		"created_from=2026-01-02&created_to=2026-01-01": "created_to",
	} {
		resp, b := e.call(t, http.MethodGet, "/v1/payments?"+query, e.viewer, nil)
		prob := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if len(prob.Errors) != 1 || prob.Errors[0].Location != "query."+param || prob.Errors[0].Message == "" {
			t.Errorf("%s: problem %s, want one error at query.%s", query, b, param)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestAPOUnavailableIsNotAServerError: when APO cannot be reached the
// payment stays PROCESSING, and a sync answers 503 without internals.
// TestCreateCommitsAuditAndCallWithTheAnswer: the audit row of a create
// and the record of its pay call commit in the transaction that applies
// pay's answer (one commit after the call); when that transaction fails,
// both are still written, each on its own, and the payment stays
// PROCESSING for inquiries.
func TestCreateCommitsAuditAndCallWithTheAnswer(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	xmins := func(id string) (payment string, others []string) {
		t.Helper()
		if err := e.db.Get(&payment, `SELECT xmin::text FROM payments WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Select(&others, `SELECT xmin::text FROM apo_calls WHERE api = 'pay' AND request_id = $1
			UNION ALL SELECT xmin::text FROM audit_log WHERE action = $2 AND target = $3`,
			"pay-"+id, audit.ActionPaymentCreate, audit.PaymentTarget(id)); err != nil {
			t.Fatal(err)
		}
		return payment, others
	}
	for _, card := range []string{"4111111111111111", "4000000000000002"} {
		p := e.create(t, payBody(card, 1200, "USD"))
		if payment, others := xmins(p.ID); len(others) != 2 || others[0] != payment || others[1] != payment {
			t.Errorf("%s (%s): payment written by %s, its call and audit row by %v; want one transaction", card, p.Status, payment, others)
		}
	}

	e.db.MustExec(`CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE EXCEPTION 'update refused by the test'; END$$`)
	e.db.MustExec(`CREATE TRIGGER refuse BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION refuse_update()`)
	resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, payBody("4111111111111111", 1300, "USD"))
	mustProblem(t, resp, b, http.StatusInternalServerError)
	var id, status string
	if err := e.db.QueryRow(`SELECT id, status FROM payments WHERE amount_minor = 1300`).Scan(&id, &status); err != nil {
		t.Fatal(err)
	}
	var calls int
	if err := e.db.Get(&calls, `SELECT count(*) FROM apo_calls WHERE api = 'pay' AND request_id = $1`, "pay-"+id); err != nil {
		t.Fatal(err)
	}
	rows := e.auditRows(t, audit.ActionPaymentCreate) // newest first
	if status != "PROCESSING" || calls != 1 || len(rows) != 3 || rows[0].Outcome != audit.OutcomeFailed || rows[0].KeyID == "" {
		t.Fatalf("after a failed apply: status %s, %d pay calls recorded, audit rows %+v", status, calls, rows)
	}
}

func TestAPOUnavailableIsNotAServerError(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	sb := sandboxtest.Start(t, sandboxtest.Options{})
	dead, err := apo.New(apo.Config{BaseURL: "http://" + closedPort(t), ClientID: sandboxtest.ClientID,
		PrivateKey: sb.MerchantKey, APOPublicKey: &sb.APOKey.PublicKey, Timeout: time.Second, InquiryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newPayEnvWith(t, db, sb, dead)
	p := e.create(t, payBody("4111111111111111", 100, "USD"))
	if p.Status != "PROCESSING" || p.Result.Code != "UNKNOWN" {
		t.Fatalf("unreachable APO: %+v", p)
	}
	resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/sync", e.operator, nil)
	prob := mustProblem(t, resp, b, http.StatusServiceUnavailable)
	if prob.Detail != "APO unavailable, try again" || strings.Contains(string(b), "127.0.0.1") || strings.Contains(string(b), "dial") {
		t.Fatalf("sync problem %s", b)
	}
	if rows := e.auditRows(t, audit.ActionPaymentSync); len(rows) != 1 || rows[0].Outcome != audit.OutcomeFailed {
		t.Fatalf("sync audit rows %+v", rows)
	}
}

// recordingDB is a handle that remembers the queries run through it, so a
// test can EXPLAIN exactly what the store ran.
type recordingDB struct {
	*sqlx.DB
	queries []recordedQuery
}

type recordedQuery struct {
	sql  string
	args []any
}

func (r *recordingDB) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	r.queries = append(r.queries, recordedQuery{sql: q, args: args})
	return r.DB.QueryxContext(ctx, q, args...)
}

// millionPayments is a pgtestdb migrator: the production migrations, then
// 1,000,000 payments inserted with one INSERT … SELECT and analyzed.
// pgtestdb keeps the result as a template database, so the load (tens of
// seconds on a busy 2-core machine) runs once per set of migrations, and
// each run clones the template (`make clean-testdbs` drops it).
type millionPayments struct{}

func (millionPayments) Hash() (string, error) {
	h := common.NewRecursiveHash(common.Field("fixture", "payments-1m-v1"))
	if err := h.AddDirs(migrations.FS, "*.sql", "."); err != nil {
		return "", err
	}
	return h.String(), nil
}

func (millionPayments) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	if err := postgres.Migrate(ctx, db); err != nil {
		return err
	}
	// Only the NOT NULL columns without defaults; statuses mostly
	// AUTHORIZED and CAPTURED, creation spread over a year.
	if _, err := db.ExecContext(ctx, `
		INSERT INTO payments (id, payment_request_id, reference_order_id, amount_minor, currency, capture_mode,
			status, created_at, updated_at)
		SELECT lpad(to_hex(g), 32, '0')::uuid, 'pay-' || g, 'order-' || g, 100 + g % 10000, 'USD', 'MANUAL',
			CASE WHEN g % 20 < 9 THEN 'AUTHORIZED' WHEN g % 20 < 18 THEN 'CAPTURED' WHEN g % 20 = 18 THEN 'FAILED' ELSE 'CANCELLED' END,
			timestamptz '2025-11-23 00:00:00Z' + (g * interval '31 seconds'),
			timestamptz '2025-11-23 00:00:00Z' + (g * interval '31 seconds')
		FROM generate_series(1, 1000000) AS g`); err != nil {
		return fmt.Errorf("insert payments: %w", err)
	}
	_, err := db.ExecContext(ctx, `ANALYZE payments`)
	return err
}

// TestPaymentListUsesIndexes checks on a million payments that the queries
// List runs for the first and the next page of status=AUTHORIZED never scan
// the table. The queries are recorded from the real store, not rewritten.
func TestPaymentListUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now()
	db := sqlx.NewDb(pgtestdb.New(t, pgtest.Config(t), millionPayments{}), "postgres")
	t.Logf("database with 1,000,000 payments ready in %s", time.Since(start).Round(time.Millisecond))
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM payments`); err != nil || n != 1_000_000 {
		t.Fatalf("%d payments (%v), want 1,000,000", n, err)
	}

	rec := &recordingDB{DB: db}
	st := payments.NewStore(rec)
	page, err := st.List(ctx, payments.Filter{Status: payments.StatusAuthorized, Limit: 50})
	if err != nil || len(page.Items) != 50 || page.Next == "" {
		t.Fatalf("first page: %d items, next %q, %v", len(page.Items), page.Next, err)
	}
	if _, err := st.List(ctx, payments.Filter{Status: payments.StatusAuthorized, Limit: 50, Cursor: page.Next}); err != nil {
		t.Fatal(err)
	}
	if len(rec.queries) != 2 {
		t.Fatalf("List ran %d queries, want 2", len(rec.queries))
	}
	for i, q := range rec.queries {
		if !strings.HasPrefix(strings.TrimSpace(q.sql), "SELECT ") || !strings.Contains(q.sql, " FROM payments") {
			t.Fatalf("query %d is not a read of payments: %s", i, q.sql)
		}
		var plan string
		if err := db.GetContext(ctx, &plan, `EXPLAIN (FORMAT JSON) `+q.sql, q.args...); err != nil {
			t.Fatalf("explain %s: %v", q.sql, err)
		}
		if strings.Contains(plan, `"Seq Scan"`) || !strings.Contains(plan, `"Relation Name": "payments"`) {
			t.Errorf("page %d plan scans payments sequentially:\n%s\n%s", i+1, q.sql, plan)
		}
	}
}

// TestCardInputNeverPrints: however a create-payment request is printed or
// logged (even by a plain slog handler without our redaction), the card
// number and CVV do not appear.
func TestCardInputNeverPrints(t *testing.T) {
	t.Parallel()
	const pan = "4111111111111111"
	var in CreatePaymentInput
	b, _ := json.Marshal(payBody(pan, 1000, "USD"))
	if err := json.Unmarshal(b, &in.Body); err != nil || in.Body.Card.Number != pan {
		t.Fatalf("decode: %v %+v", err, in.Body.Card)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	log.Info("request", "body", in.Body, "card", in.Body.Card, "input", &in)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out.WriteString(fmt.Sprintf(format, in) + fmt.Sprintf(format, &in) + fmt.Sprintf(format, in.Body.Card))
	}
	text := out.String()
	if strings.Contains(text, testCVV) || !strings.Contains(text, "411111******1111") {
		t.Fatalf("printed: %s", text)
	}
	mustHoldNoCardData(t, "printed request", text, pan)
}
