package main

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/money"
)

// locations returns the problem's error locations, sorted.
func (p problem) locations() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Location)
	}
	slices.Sort(out)
	return out
}

// message returns the message of the error at loc, or "".
func (p problem) message(loc string) string {
	for _, e := range p.Errors {
		if e.Location == loc {
			return e.Message
		}
	}
	return ""
}

// TestAmountCeiling: an amount beyond money.Ceiling of its currency is a
// 422 naming the field, on create, capture and refund alike, and nothing
// is stored or sent to APO.
func TestAmountCeiling(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	const pan = "4111111111111111"
	usd, _ := money.Ceiling("USD")
	jpy, _ := money.Ceiling("JPY")
	for _, c := range []struct {
		value int64
		ccy   string
	}{{math.MaxInt64, "USD"}, {usd + 1, "USD"}, {jpy + 1, "JPY"}} {
		resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, payBody(pan, c.value, c.ccy))
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if got := p.locations(); !slices.Equal(got, []string{"body.amount.value"}) ||
			!strings.Contains(p.message("body.amount.value"), "beyond") {
			t.Errorf("%s %d: problem %s", c.ccy, c.value, b)
		}
	}
	if n, m := e.count(t, "payments"), e.count(t, "apo_calls"); n != 0 || m != 0 {
		t.Fatalf("amounts above the ceiling stored %d payments and made %d APO calls", n, m)
	}

	p := e.create(t, payBody(pan, 1000, "USD"))
	if p.Status != "AUTHORIZED" {
		t.Fatalf("payment %s", p.Status)
	}
	for _, path := range []string{"/captures", "/refunds"} {
		body := map[string]any{"amount": int64(math.MaxInt64), "reason": "too much"}
		if path == "/captures" {
			delete(body, "reason")
		}
		resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+path, e.operator, body)
		prob := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if got := prob.locations(); !slices.Equal(got, []string{"body.amount"}) {
			t.Errorf("%s: problem %s", path, b)
		}
	}
	if n := e.count(t, "payment_transactions"); n != 1 {
		t.Fatalf("%d transactions after refused operations, want the authorization only", n)
	}
	// At the ceiling, the amount is the service's and APO's to judge.
	resp, b := e.call(t, http.MethodPost, "/v1/payments", e.checkout, payBody(pan, usd, "USD"))
	if resp.StatusCode == http.StatusUnprocessableEntity {
		t.Fatalf("USD at the ceiling refused: %s", b)
	}
}

// TestCreatePaymentListsEveryError: one 422 names every broken rule, the
// schema's and the service's, each once, at the request's real JSON paths.
func TestCreatePaymentListsEveryError(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	b := payBody("4111111111111112", 1000, "XYZ") // Luhn fails, unknown currency
	card := b["card"].(map[string]any)
	card["expiry_year"] = "2020"
	card["holder_last_name"] = "Zoë"
	delete(b["order"].(map[string]any), "reference_order_id")
	b["buyer"] = map[string]any{"reference": ""}
	b["env"].(map[string]any)["client_ip"] = "nope"
	b["redirect_url"] = "shop.example/return"
	resp, raw := e.call(t, http.MethodPost, "/v1/payments", e.checkout, b)
	p := mustProblem(t, resp, raw, http.StatusUnprocessableEntity)
	want := []string{"body.amount.currency", "body.buyer", "body.card.expiry_year", "body.card.holder_last_name",
		"body.card.number", "body.env.client_ip", "body.order", "body.redirect_url"}
	if got := p.locations(); !slices.Equal(got, want) {
		t.Fatalf("locations %v, want %v\n%s", got, want, raw)
	}
	if m := p.message("body.buyer"); !strings.Contains(m, "give at least one of reference, email, phone") {
		t.Errorf("buyer message %q", m)
	}
	if m := p.message("body.order"); !strings.Contains(m, "reference_order_id") {
		t.Errorf("order message %q", m)
	}
	if n := e.count(t, "payments"); n != 0 {
		t.Fatalf("%d payments stored", n)
	}

	// The holder's name is required with a number, at a field that exists.
	b = payBody("4111111111111111", 1000, "USD")
	delete(b["card"].(map[string]any), "holder_first_name")
	delete(b["card"].(map[string]any), "holder_last_name")
	resp, raw = e.call(t, http.MethodPost, "/v1/payments", e.checkout, b)
	p = mustProblem(t, resp, raw, http.StatusUnprocessableEntity)
	if got := p.locations(); !slices.Equal(got, []string{"body.card.holder_first_name"}) || strings.Contains(string(raw), "holder_name\"") {
		t.Fatalf("no holder name: %s", raw)
	}
	// An empty buyer object fails the schema's anyOf; the message says why.
	b = payBody("4111111111111111", 1000, "USD")
	b["buyer"] = map[string]any{}
	resp, raw = e.call(t, http.MethodPost, "/v1/payments", e.checkout, b)
	p = mustProblem(t, resp, raw, http.StatusUnprocessableEntity)
	if got := p.locations(); !slices.Equal(got, []string{"body.buyer"}) || !strings.Contains(p.message("body.buyer"), "reference, email, phone") {
		t.Fatalf("empty buyer: %s", raw)
	}
}

// TestBuyerRuleInSpec: the "at least one of reference, email, phone" rule
// is part of the published schema.
func TestBuyerRuleInSpec(t *testing.T) {
	t.Parallel()
	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	s := api.OpenAPI().Components.Schemas.Map()["BuyerInput"]
	if s == nil || len(s.AnyOf) != 3 || !strings.Contains(s.Description, "at least one") {
		t.Fatalf("BuyerInput schema %+v", s)
	}
	for i, f := range buyerFields {
		if !slices.Equal(s.AnyOf[i].Required, []string{f}) {
			t.Errorf("anyOf[%d] requires %v, want %s", i, s.AnyOf[i].Required, f)
		}
	}
}

// TestListQueryDates: created_from/created_to take a date (00:00 UTC) or
// an RFC 3339 date-time; anything else is a 422 with an example, not Go's
// layout string.
func TestListQueryDates(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	e.create(t, payBody("4111111111111111", 1000, "USD"))
	type list struct {
		Items []Payment `json:"items"`
	}
	for query, want := range map[string]int{
		"created_from=2000-01-01":                                 1,
		"created_from=2999-12-03":                                 0,
		"created_to=2000-01-02":                                   0,
		"created_from=2000-01-01T00:00:00Z&created_to=2999-12-03": 1,
	} {
		resp, b := e.call(t, http.MethodGet, "/v1/payments?"+query, e.viewer, nil)
		if got := decode[list](t, resp, b, http.StatusOK); len(got.Items) != want {
			t.Errorf("%s: %d payments, want %d", query, len(got.Items), want)
		}
	}
	for _, v := range []string{"yesterday", "2026-13-01", "03.12.2026"} {
		resp, b := e.call(t, http.MethodGet, "/v1/payments?created_from="+v, e.viewer, nil)
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		m := p.message("query.created_from")
		if !strings.Contains(m, "2026-12-03T00:00:00Z") || strings.Contains(string(b), "2006-01-02") {
			t.Errorf("%s: problem %s", v, b)
		}
	}
}

// TestUnknownQueryParameters: every authenticated operation refuses a
// query parameter it does not take, with a 422 naming it and listing the
// ones it does, instead of ignoring it (order_id would list everything).
func TestUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	e.create(t, payBody("4111111111111111", 1000, "USD"))
	resp, b := e.call(t, http.MethodGet, "/v1/payments?order_id=nope", e.viewer, nil)
	p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	if m := p.message("query.order_id"); !strings.Contains(m, "unknown query parameter") || !strings.Contains(m, "reference_order_id") {
		t.Fatalf("order_id: %s", b)
	}
	// The documented order filter exists, under its name.
	resp, b = e.call(t, http.MethodGet, "/v1/payments?reference_order_id=nope", e.viewer, nil)
	if l := decode[struct{ Items []json.RawMessage }](t, resp, b, http.StatusOK); len(l.Items) != 0 {
		t.Fatalf("reference_order_id=nope listed %d payments", len(l.Items))
	}

	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	n := 0
	for _, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			if public, _ := op.Metadata[metaPublic].(bool); public {
				continue
			}
			n++
			path := strings.NewReplacer("{id}", "01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e", "{", "", "}", "").Replace(op.Path)
			resp, b := e.call(t, op.Method, path+"?bogus=1", e.admin, nil)
			p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
			if m := p.message("query.bogus"); !strings.HasPrefix(m, "unknown query parameter") {
				t.Errorf("%s %s?bogus=1: %s", op.Method, op.Path, b)
			}
		}
	}
	if n < 20 {
		t.Fatalf("checked %d operations; the spec has more", n)
	}
}
