package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/sandboxtest"
)

// notification is a PAYMENT_RESULT body for p.
func notification(p Payment, status, code string) []byte {
	b, err := json.Marshal(apo.PaymentNotification{
		NotifyType:       apo.NotifyPaymentResult,
		Result:           apo.Result{ResultCode: code, ResultStatus: status, ResultMessage: strings.ToLower(code)},
		PaymentRequestID: p.PaymentRequestID, PaymentID: p.PaymentID,
		PaymentAmount:     apo.NewAmount(p.Amount.Value, p.Amount.Currency),
		PaymentCreateTime: p.CreatedAt.Format(time.RFC3339), PaymentMethodType: "CARD",
	})
	if err != nil {
		panic(err)
	}
	return b
}

// deliver POSTs a notification to /webhooks/apo signed with key, as APO
// does: over "POST /webhooks/apo\n<client-id>.<request-time>.<body>".
func (e *payEnv) deliver(t *testing.T, key *rsa.PrivateKey, body []byte) (*http.Response, []byte) {
	t.Helper()
	reqTime := time.Now().UTC().Format("2006-01-02T15:04:05Z07:00")
	sig, err := apo.Sign(key, http.MethodPost, "/webhooks/apo", sandboxtest.ClientID, reqTime, body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/apo", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("client-id", sandboxtest.ClientID)
	req.Header.Set("request-time", reqTime)
	req.Header.Set("signature", sig)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, out.Bytes()
}

// waitForStatus polls the payment until it has status, or fails.
func (e *payEnv) waitForStatus(t *testing.T, id, status string) Payment {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, b := e.call(t, http.MethodGet, "/v1/payments/"+id, e.viewer, nil)
		p := decode[Payment](t, resp, b, http.StatusOK)
		if p.Status == status {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s is %s, want %s", id, p.Status, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *payEnv) webhookEvents(t *testing.T, query string) []WebhookEvent {
	t.Helper()
	resp, b := e.call(t, http.MethodGet, "/v1/webhook-events?"+query, e.viewer, nil)
	return decode[struct {
		Items []WebhookEvent `json:"items"`
	}](t, resp, b, http.StatusOK).Items
}

func signatureFailures(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := webhookSignatureFailures.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestWebhookIntake(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	p := e.create(t, payBody("4000000000003220", 1000, "USD"))
	if p.Status != "REQUIRES_ACTION" {
		t.Fatalf("3DS payment: %+v", p)
	}

	// A signed notification is stored, acknowledged with APO's exact body,
	// then applied.
	good := notification(p, "S", "SUCCESS")
	resp, b := e.deliver(t, e.apo.APOKey, good)
	if resp.StatusCode != http.StatusOK || string(b) != apo.NotificationAck {
		t.Fatalf("valid notification: %d %q", resp.StatusCode, b)
	}
	e.waitForStatus(t, p.ID, "AUTHORIZED")
	var ev WebhookEvent
	deadline := time.Now().Add(2 * time.Minute)
	for {
		evs := e.webhookEvents(t, "")
		if len(evs) == 1 && evs[0].State == "PROCESSED" {
			ev = evs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %+v, want one PROCESSED", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ev.Verdict != "valid" || ev.NotifyType != "PAYMENT_RESULT" || ev.PaymentID != p.ID || ev.Deliveries != 1 ||
		ev.RequestURI != "/webhooks/apo" || !json.Valid(ev.Body) || len(ev.Headers["signature"]) != 1 {
		t.Fatalf("stored event %+v", ev)
	}

	// APO resends: one event, two deliveries, acknowledged again.
	resp, b = e.deliver(t, e.apo.APOKey, good)
	if resp.StatusCode != http.StatusOK || string(b) != apo.NotificationAck {
		t.Fatalf("resend: %d %q", resp.StatusCode, b)
	}
	if evs := e.webhookEvents(t, ""); len(evs) != 1 || evs[0].Deliveries != 2 {
		t.Fatalf("after resend: %+v", evs)
	}

	// Signed with another key: 401 with an F result, and the payment is
	// untouched even though the body says it failed.
	before := signatureFailures(t)
	resp, b = e.deliver(t, e.apo.MerchantKey, notification(p, "F", "DO_NOT_HONOR"))
	if resp.StatusCode != http.StatusUnauthorized ||
		string(b) != `{"result":{"resultCode":"SIGNATURE_INVALID","resultStatus":"F","resultMessage":"signature invalid"}}` {
		t.Fatalf("bad signature: %d %s", resp.StatusCode, b)
	}
	if got := signatureFailures(t); got < before+1 {
		t.Fatalf("signature failures counter %v, want at least %v", got, before+1)
	}
	resp, b = e.call(t, http.MethodGet, "/v1/payments/"+p.ID, e.viewer, nil)
	if after := decode[detailBody](t, resp, b, http.StatusOK); after.Status != "AUTHORIZED" || after.NeedsReview {
		t.Fatalf("payment after a forged notification: %s", b)
	}
	invalid := e.webhookEvents(t, "verdict=invalid")
	if len(invalid) != 1 || invalid[0].State != "IGNORED" || invalid[0].PaymentID != "" {
		t.Fatalf("invalid events %+v", invalid)
	}
	// A notification without any signature is refused the same way.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/apo", bytes.NewReader(good))
	r2, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", r2.StatusCode)
	}
	// Over the size limit: refused before anything is stored.
	resp, b = e.deliver(t, e.apo.APOKey, append([]byte(`{"x":"`), append(bytes.Repeat([]byte("a"), maxWebhookBody), `"}`...)...))
	mustProblem(t, resp, b, http.StatusRequestEntityTooLarge)

	for query, want := range map[string]int{
		"": 3, "state=PROCESSED": 1, "payment_id=" + p.ID: 1, "type=PAYMENT_RESULT": 1, "limit=1": 1,
	} {
		if evs := e.webhookEvents(t, query); len(evs) != want {
			t.Errorf("%q: %d events, want %d", query, len(evs), want)
		}
	}
	for _, query := range []string{"payment_id=nope", "state=DONE", "verdict=maybe", "limit=0", "cursor=xyz"} {
		resp, b := e.call(t, http.MethodGet, "/v1/webhook-events?"+query, e.viewer, nil)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}

	// Replay: processing again changes nothing and says so.
	resp, b = e.call(t, http.MethodPost, "/v1/webhook-events/"+ev.ID+"/replay", e.viewer, nil)
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.call(t, http.MethodPost, "/v1/webhook-events/"+ev.ID+"/replay", e.operator, nil)
	replayed := decode[WebhookEvent](t, resp, b, http.StatusOK)
	if replayed.State != "PROCESSED" || replayed.Attempts != ev.Attempts+1 || replayed.ID != ev.ID {
		t.Fatalf("replay: %s (was %+v)", b, ev)
	}
	resp, b = e.call(t, http.MethodPost, "/v1/webhook-events/"+invalid[0].ID+"/replay", e.operator, nil)
	if prob := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(prob.Detail, "invalid signature") {
		t.Fatalf("replay of a forged event: %q", prob.Detail)
	}
	resp, b = e.call(t, http.MethodPost, "/v1/webhook-events/01937a2e-0000-7000-8000-000000000000/replay", e.operator, nil)
	if prob := mustProblem(t, resp, b, http.StatusNotFound); prob.Detail != "webhook event not found" {
		t.Fatalf("replay of an unknown event: %q", prob.Detail)
	}
	rows := e.auditRows(t, audit.ActionWebhookReplay)
	if len(rows) != 3 || rows[2].Outcome != audit.OutcomeSucceeded || rows[2].Target != audit.WebhookTarget(ev.ID) ||
		rows[1].Outcome != audit.OutcomeRejected || rows[0].Outcome != audit.OutcomeRejected {
		t.Fatalf("replay audit rows %+v", rows)
	}
	e.srv.Close()
	if !strings.Contains(e.logs.String(), "webhook signature invalid") {
		t.Fatal("no log line for the forged notification")
	}
}

// TestWebhookNotStoredIsNotAcknowledged: when the event cannot be stored,
// APO gets an F result (and will resend), never the success body.
func TestWebhookNotStoredIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	p := e.create(t, payBody("4000000000003220", 1000, "USD"))
	if _, err := e.db.Exec(`ALTER TABLE webhook_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	resp, b := e.deliver(t, e.apo.APOKey, notification(p, "S", "SUCCESS"))
	var reply WebhookReply
	if err := json.Unmarshal(b, &reply); err != nil || resp.StatusCode != http.StatusInternalServerError ||
		reply.Result.ResultStatus != "F" || strings.Contains(string(b), "refuse_all") {
		t.Fatalf("storage failure: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, http.MethodGet, "/v1/payments/"+p.ID, e.viewer, nil)
	if after := decode[Payment](t, resp, b, http.StatusOK); after.Status != "REQUIRES_ACTION" {
		t.Fatalf("payment changed: %s", b)
	}
}
