package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

type payment struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	PaymentID string `json:"payment_id"`
	NormalURL string `json:"normal_url"`
	Result    struct {
		Code string `json:"code"`
	} `json:"result"`
	Captured struct {
		Value int64 `json:"value"`
	} `json:"captured_amount"`
	Refunded struct {
		Value int64 `json:"value"`
	} `json:"refunded_amount"`
}

type operation struct {
	Payment     payment `json:"payment"`
	Transaction *struct {
		Status string `json:"status"`
	} `json:"transaction"`
}

func payBody(card string, minor int64, ccy, mode string) map[string]any {
	return map[string]any{
		"amount":       map[string]any{"value": minor, "currency": ccy},
		"capture_mode": mode,
		"order":        map[string]any{"reference_order_id": "e2e-" + card[len(card)-4:], "description": "e2e"},
		"buyer":        map[string]any{"reference": "buyer-e2e"},
		"env":          map[string]any{"terminal_type": "WEB", "client_ip": "198.51.100.4"},
		"card": map[string]any{"number": card, "cvv": "321", "expiry_month": "11", "expiry_year": "2031",
			"holder_first_name": "Grace", "holder_last_name": "Hopper"},
		"redirect_url": "https://shop.example/back",
	}
}

func (s *Stack) pay(t *testing.T, card string, minor int64, ccy, mode string) payment {
	t.Helper()
	var p payment
	if code := s.Call("POST", "/v1/payments", payBody(card, minor, ccy, mode), &p); code != 201 {
		t.Fatalf("create payment with %s: %d", card, code)
	}
	return p
}

// mustCommitWithAnswer checks what the api wrote after a pay call: the
// applied answer, the call's apo_calls record and the create's audit row
// (with outcome), in one transaction.
func (s *Stack) mustCommitWithAnswer(t *testing.T, id, outcome string) {
	t.Helper()
	db := sqlx.MustOpen("postgres", s.DatabaseURL)
	defer db.Close()
	var rows []struct {
		What, Xmin, Outcome string
	}
	if err := db.Select(&rows, `
		SELECT 'answer' AS what, xmin::text AS xmin, '' AS outcome FROM payment_events
		 WHERE payment_id = $1 AND source = 'pay_response'
		UNION ALL SELECT 'call', xmin::text, outcome FROM apo_calls WHERE api = 'pay' AND request_id = 'pay-' || $1
		UNION ALL SELECT 'audit', xmin::text, outcome FROM audit_log WHERE action = 'payment.create' AND target = 'payment:' || $1`,
		id); err != nil {
		t.Fatal(err)
	}
	ok := len(rows) == 3
	for _, r := range rows {
		ok = ok && r.Xmin == rows[0].Xmin && (r.What != "audit" || r.Outcome == outcome)
	}
	if !ok {
		t.Fatalf("payment %s: %+v; want its answer, pay call and %s audit row in one transaction", id, rows, outcome)
	}
}

func (s *Stack) waitStatus(t *testing.T, id, want string, within time.Duration) payment {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var p payment
		s.Call("GET", "/v1/payments/"+id, nil, &p)
		if p.Status == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s is %s after %v, want %s", id, p.Status, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPaymentLifecycleOverHTTP drives the three binaries through a day's
// basic operations: authorize, capture in parts, refund in parts, decline,
// cancel, and an outcome only the worker's polling can learn.
func TestPaymentLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	s := StartStack(t, 0.01)
	p := s.pay(t, "4111111111111111", 5000, "USD", "MANUAL")
	if p.Status != "AUTHORIZED" || p.PaymentID == "" {
		t.Fatalf("success card: %+v", p)
	}
	var op operation
	if code := s.Call("POST", "/v1/payments/"+p.ID+"/captures", map[string]any{"amount": 2000}, &op); code != 200 || op.Payment.Captured.Value != 2000 {
		t.Fatalf("partial capture: %d %+v", code, op)
	}
	if code := s.Call("POST", "/v1/payments/"+p.ID+"/captures", map[string]any{}, &op); code != 200 || op.Payment.Status != "CAPTURED" {
		t.Fatalf("capture rest: %d %+v", code, op)
	}
	for _, amt := range []int64{1000, 1500} {
		if code := s.Call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": amt, "reason": "e2e"}, &op); code != 200 {
			t.Fatalf("refund %d: %d", amt, code)
		}
	}
	var prob struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if code := s.Call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": 2501, "reason": "too much"}, &prob); code != 409 || !strings.Contains(prob.Detail, "exceeds") {
		t.Fatalf("over-refund: %d %+v", code, prob)
	}

	d := s.pay(t, "4000000000000002", 100, "JPY", "MANUAL")
	if d.Status != "FAILED" || d.Result.Code != "DO_NOT_HONOR" {
		t.Fatalf("decline: %+v", d)
	}
	s.mustCommitWithAnswer(t, p.ID, "succeeded")
	s.mustCommitWithAnswer(t, d.ID, "failed")
	c := s.pay(t, "5555555555554444", 1234, "KWD", "MANUAL")
	if code := s.Call("POST", "/v1/payments/"+c.ID+"/cancel", nil, &op); code != 200 || op.Payment.Status != "CANCELLED" {
		t.Fatalf("cancel: %d %+v", code, op)
	}

	// 3DS: the buyer authenticates on the sandbox's page; the signed
	// PAYMENT_RESULT notification (through intake, queue and worker)
	// authorizes the payment. A failed challenge fails it.
	for outcome, want := range map[string]string{"success": "AUTHORIZED", "fail": "FAILED"} {
		tds := s.pay(t, "4000000000003220", 2500, "SGD", "MANUAL")
		if tds.Status != "REQUIRES_ACTION" || tds.NormalURL == "" {
			t.Fatalf("3DS card: %+v", tds)
		}
		if code := s.Call("POST", "/sandbox/3ds/"+tds.PaymentID, map[string]any{"outcome": outcome}, nil); code != 200 {
			t.Fatalf("3DS %s: %d", outcome, code)
		}
		s.waitStatus(t, tds.ID, want, 2*time.Minute)
	}

	// The delayed card answers U; only the worker's inquiry chain (or a
	// notification) can finish it.
	late := s.pay(t, "4000000000000119", 700, "EUR", "MANUAL")
	if late.Status != "PROCESSING" {
		t.Fatalf("delayed card: %s", late.Status)
	}
	s.mustCommitWithAnswer(t, late.ID, "succeeded")
	s.waitStatus(t, late.ID, "AUTHORIZED", 2*time.Minute)

	var list struct {
		Items []payment `json:"items"`
	}
	if code := s.Call("GET", "/v1/payments?status=CANCELLED&limit=10", nil, &list); code != 200 || len(list.Items) != 1 || list.Items[0].ID != c.ID {
		t.Fatalf("list cancelled: %d %+v", code, list)
	}
	for _, name := range []string{"api", "worker", "apo-sandbox"} {
		for _, pan := range []string{"4111111111111111", "4000000000000002", "5555555555554444", "4000000000000119"} {
			if strings.Contains(s.Logs(name), pan) {
				t.Errorf("%s log contains card number %s", name, pan[:6]+"…")
			}
		}
	}
}
