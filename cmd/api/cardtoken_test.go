package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/auth"
)

// TestCardTokenOnlyToCheckout (issue 14 item 7): a card token pays with
// the card, so only the create-payment answer carries it, to the checkout
// key that made the payment. No read role sees it: not in the payment, its
// timeline, a list, an operation's answer or a stored notification; and it
// is not copied into payment events or APO call logs.
func TestCardTokenOnlyToCheckout(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	_, finance := mustCreateKey(t, e.db, "finance", auth.RoleFinance)
	p := e.create(t, payBody("4111111111111111", 1000, "USD"))
	token := p.Card.Token
	if p.Status != "AUTHORIZED" || !strings.HasPrefix(token, "ALIPAY") {
		t.Fatalf("created: status %s, card token %q; want AUTHORIZED with APO's token", p.Status, token)
	}
	// APO's notification of the same authorization carries the token too.
	var n map[string]any
	if err := json.Unmarshal(notification(p, "S", "SUCCESS"), &n); err != nil {
		t.Fatal(err)
	}
	n["paymentResultInfo"] = map[string]any{"cardToken": token, "cardBin": "411111", "lastFour": "1111"}
	body, _ := json.Marshal(n)
	if resp, b := e.deliver(t, e.apo.APOKey, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("notification: %d %s", resp.StatusCode, b)
	}
	resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/captures", e.operator, map[string]any{"amount": 400})
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), token) {
		t.Fatalf("capture answer (%d) shows the token: %s", resp.StatusCode, b)
	}
	for role, key := range map[string]string{"viewer": e.viewer, "finance": finance, "operator": e.operator, "admin": e.admin} {
		for _, path := range []string{"/v1/payments/" + p.ID, "/v1/payments", "/v1/webhook-events", "/v1/audit-log"} {
			resp, b := e.call(t, http.MethodGet, path, key, nil)
			if resp.StatusCode == http.StatusForbidden {
				continue // the audit log is the admin's
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s GET %s: %d %s", role, path, resp.StatusCode, b)
			}
			if strings.Contains(string(b), token) {
				t.Errorf("%s GET %s shows the card token: %s", role, path, b)
			}
		}
	}
	if evs := e.webhookEvents(t, "type=PAYMENT_RESULT"); len(evs) != 1 || !strings.Contains(string(evs[0].Body), `"cardToken":"[REDACTED]"`) {
		t.Fatalf("stored notification as shown: %+v", evs)
	}
	for _, q := range []string{`SELECT count(*) FROM payment_events WHERE payload::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM apo_calls WHERE concat(request::text, response::text) LIKE '%' || $1 || '%'`} {
		var n int
		if err := e.db.Get(&n, q, token); err != nil || n != 0 {
			t.Errorf("%s: %d rows hold the token (err %v)", q, n, err)
		}
	}
	// The checkout key pays with it, and the answer carries the token.
	tb := payBody("4111111111111111", 700, "USD")
	tb["card"] = map[string]any{"token": token}
	again := e.create(t, tb)
	if again.Status != "AUTHORIZED" || again.Card.Token == "" {
		t.Fatalf("paid with the token: %+v", again)
	}
}

// TestCardNumberTypedIntoFreeText (issue 14 item 9): a card number typed
// into any free-text field (order description, buyer reference and email,
// holder names, user agent, refund reason) is masked by the one policy
// (pan.MaskText: first six and last four) before it is stored or sent, so
// no table, stored APO call or log line holds it, while the card number
// itself is used as usual.
func TestCardNumberTypedIntoFreeText(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	const typed, spaced = "5555555555554444", "5555 5555 5555 4444"
	body := payBody("4111111111111111", 1000, "USD")
	body["order"].(map[string]any)["description"] = "gift, pay with " + spaced
	body["buyer"] = map[string]any{"reference": typed, "email": typed + "@example.com"}
	body["env"].(map[string]any)["user_agent"] = "UA/" + typed
	card := body["card"].(map[string]any)
	card["holder_first_name"], card["holder_last_name"] = "Ada "+typed, "5555-5555-5555-4444"
	p := e.create(t, body)
	if p.Status != "AUTHORIZED" || p.Card.Last4 != "1111" {
		t.Fatalf("created: %+v", p)
	}
	resp, b := e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/captures", e.operator, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("capture: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, http.MethodPost, "/v1/payments/"+p.ID+"/refunds", e.operator,
		map[string]any{"amount": 100, "reason": "buyer wrote " + typed + " in the note"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refund: %d %s", resp.StatusCode, b)
	}
	var stored struct {
		Description string `db:"order_description"`
		Reference   string `db:"buyer_reference"`
	}
	if err := e.db.Get(&stored, `SELECT order_description, buyer_reference FROM payments WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	if stored.Description != "gift, pay with 5555 55** **** 4444" || stored.Reference != "555555******4444" {
		t.Fatalf("stored free text %+v, want it masked to the first six and last four", stored)
	}
	dump := e.dump(t)
	e.srv.Close()
	for what, text := range map[string]string{"database": dump, "logs": e.logs.String()} {
		flat := strings.NewReplacer(" ", "", "-", "").Replace(text)
		mustHoldNoCardData(t, what, flat, typed, "4111111111111111")
	}
	if !strings.Contains(dump, "555555******4444") {
		t.Fatal("the dump lacks the masked number: the scan looked at the wrong data")
	}
	// What APO was sent was masked at the door too.
	var sent string
	if err := e.db.Get(&sent, `SELECT request::text FROM apo_calls WHERE api = 'pay'`); err != nil {
		t.Fatal(err)
	}
	var req apo.PayRequest
	if err := json.Unmarshal([]byte(sent), &req); err != nil || req.Order == nil || req.Order.Buyer == nil ||
		req.Order.Buyer.ReferenceBuyerID != "555555******4444" {
		t.Fatalf("pay request as recorded: %v %s", err, sent)
	}
}
