package console

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
)

// whNotify signs body with key as APO signs its notifications (a key other
// than the sandbox's APO key makes a forged one) and stores it, without
// processing it.
func (e *env) whNotify(t *testing.T, key *rsa.PrivateKey, body string, at time.Time) inbox.Event {
	t.Helper()
	ts := at.UTC().Format(time.RFC3339)
	sig, err := apo.Sign(key, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Signature": {sig}, "Client-Id": {"SANDBOX_PAYOPS"}, "Request-Time": {ts}}
	ev, _, err := e.inbox.Intake(context.Background(), "POST", "/webhooks/apo", h, []byte(body))
	if err != nil && key == e.sb.APOKey {
		t.Fatalf("intake: %v", err)
	}
	if ev.ID == "" {
		t.Fatalf("intake stored nothing: %v", err)
	}
	return ev
}

// whPaymentResult is APO's PAYMENT_RESULT for p, carrying the card token
// APO issues (which no page may show).
func whPaymentResult(p payments.Payment) string {
	return fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},`+
		`"paymentRequestId":%q,"paymentId":%q,"paymentAmount":{"currency":%q,"value":"%d"},`+
		`"paymentResultInfo":{"cardToken":"TOKEN-SECRET-42","cardNo":"555555******4444"}}`,
		p.PaymentRequestID, p.APOPaymentID, p.Amount.Currency, p.Amount.Minor)
}

// whEvents stores the notifications the webhook tests look at:
//   - two processed, then marked FAILED as a passing outage would leave
//     them (a replay processes them);
//   - one about a capture nobody knows, received an hour ago: FAILED by the
//     inbox, and again on every replay;
//   - one PENDING for an hour, which no worker took (stuck);
//   - one whose signature is not APO's: IGNORED, never replayable;
//   - one processed.
//
// The default view lists the failed and the stuck ones.
func (e *env) whEvents(t *testing.T) (outage []inbox.Event, failed, stuck, forged, fine inbox.Event) {
	t.Helper()
	ctx := context.Background()
	for range 3 {
		d, _ := e.disOpen(t, 1000, 5*24*time.Hour)
		p, err := e.pay.Get(ctx, d.PaymentID)
		if err != nil {
			t.Fatal(err)
		}
		ev := e.whNotify(t, e.sb.APOKey, whPaymentResult(p), time.Now())
		if err := e.inbox.Process(ctx, ev.ID); err != nil {
			t.Fatal(err)
		}
		if len(outage) == 2 {
			fine = ev
			break
		}
		if err := inbox.NewStore(e.db).Mark(ctx, ev.ID, inbox.Failed, "simulated outage: connection refused", p.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		outage = append(outage, ev)
	}
	hourAgo := time.Now().Add(-time.Hour)
	e.inbox.SetClock(func() time.Time { return hourAgo })
	failed = e.whNotify(t, e.sb.APOKey, `{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},`+
		`"captureRequestId":"","paymentId":"2026APO-NOBODY","captureId":"C-X","captureAmount":{"currency":"USD","value":"100"}}`, hourAgo)
	stuck = e.whNotify(t, e.sb.APOKey, `{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},`+
		`"captureRequestId":"","paymentId":"2026APO-STUCK","captureId":"C-S","captureAmount":{"currency":"USD","value":"100"}}`, hourAgo)
	e.inbox.SetClock(time.Now)
	if err := e.inbox.Process(ctx, failed.ID); err == nil {
		t.Fatal("a capture of no payment processed")
	}
	forged = e.whNotify(t, e.sb.MerchantKey, `{"notifyType":"PAYMENT_RESULT","cardNo":"4111111111111111","paymentId":"2026APO-FORGED"}`, time.Now())
	return outage, failed, stuck, forged, fine
}

// TestWebhooksList: by default what needs a person, with the signature
// verdict, the payment, the error and the body redacted; every state on
// request; no replay offered to a viewer, whose forged replays are 403.
func TestWebhooksList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	outage, failed, stuck, forged, fine := e.whEvents(t)
	c := e.client(t)
	e.login(t, c, viewer)

	resp, body := e.get(t, c, "/console/webhooks")
	disExpect(t, "list", resp, body, http.StatusOK, outage[0].ID, outage[1].ID, failed.ID, stuck.ID,
		"simulated outage", "CAPTURE_RESULT", "FAILED", "PENDING", "valid", `href="/console/payments/`+outage[0].PaymentID,
		"[REDACTED]")
	if strings.Contains(body, fine.ID) || strings.Contains(body, forged.ID) {
		t.Fatal("a processed or refused event is in the needs-attention view")
	}
	if strings.Contains(body, "TOKEN-SECRET-42") {
		t.Fatal("the page shows a card token")
	}

	resp, body = e.get(t, c, "/console/webhooks?state=all")
	disExpect(t, "every state", resp, body, http.StatusOK, fine.ID, "PROCESSED", forged.ID, "IGNORED", "invalid")
	for _, secret := range []string{"TOKEN-SECRET-42", "4111111111111111"} {
		if strings.Contains(body, secret) {
			t.Fatalf("the page shows %q", secret)
		}
	}
	if strings.Count(body, "[REDACTED]") < 2 {
		t.Fatalf("bodies are not shown redacted:\n%s", body)
	}
	if strings.Contains(body, "Replay") || strings.Contains(body, `name="event"`) {
		t.Fatal("a viewer is offered replays")
	}

	resp, body = e.get(t, c, "/console/webhooks?state=PENDING&received_before="+url.QueryEscape(time.Now().Add(-15*time.Minute).UTC().Format(time.RFC3339)))
	disExpect(t, "stuck", resp, body, http.StatusOK, stuck.ID, "Only notifications received before")
	if strings.Contains(body, failed.ID) {
		t.Fatal("the stuck list holds a FAILED event")
	}
	resp, body = e.get(t, c, "/console/webhooks?received_before=yesterday")
	disExpect(t, "bad received_before", resp, body, http.StatusUnprocessableEntity, "received_before")
	resp, body = e.get(t, c, "/console/webhooks?state=IGNORED&verdict=invalid")
	disExpect(t, "ignored, invalid", resp, body, http.StatusOK, forged.ID)
	if strings.Contains(body, failed.ID) {
		t.Fatal("the state filter lets a FAILED event through")
	}
	resp, body = e.get(t, c, "/console/webhooks?state=PROCESSED&type=CAPTURE_RESULT")
	disExpect(t, "no match", resp, body, http.StatusOK, "No notification matches these filters")
	resp, body = e.get(t, c, "/console/webhooks?state=LOST")
	disExpect(t, "bad state", resp, body, http.StatusUnprocessableEntity, "unknown state")

	for _, path := range []string{"/console/webhooks/" + failed.ID + "/replay", "/console/webhooks/replay"} {
		resp, body = e.post(t, c, path, url.Values{"token": {"forged"}, "event": {failed.ID}})
		disExpect(t, "viewer's forged "+path, resp, body, http.StatusForbidden, "Not allowed")
	}
	if rows := e.disAudits(t, audit.ActionWebhookReplay, ""); len(rows) != 0 {
		t.Fatalf("refused replays left audit rows: %+v", rows)
	}
}

// TestWebhooksReplay: one replay and a bulk replay run inbox.Replay per
// event with an audit row each (actor the console user, outcome failed for
// an event that failed again), once per form token; an event whose
// signature is invalid is refused by the inbox, and the page says so.
func TestWebhooksReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	outage, failed, _, forged, _ := e.whEvents(t)
	c := e.client(t)
	e.login(t, c, ops)

	resp, body := e.get(t, c, "/console/webhooks?state=all")
	disExpect(t, "operator's list", resp, body, http.StatusOK, "Replay selected", `value="`+failed.ID+`"`,
		"cannot be replayed: signature invalid")
	if strings.Contains(body, `name="event" value="`+forged.ID+`"`) {
		t.Fatal("an invalid event can be selected for replay")
	}
	token := disField(t, body, "token")

	// The inbox refuses an invalid signature: shown, and audited as refused.
	resp, body = e.post(t, c, "/console/webhooks/"+forged.ID+"/replay", url.Values{"token": {"t-forged"}})
	disExpect(t, "replay a forged event", resp, body, http.StatusConflict, "an event with an invalid signature cannot be replayed")
	if rows := e.disAudits(t, audit.ActionWebhookReplay, audit.WebhookTarget(forged.ID)); len(rows) != 1 ||
		rows[0].Outcome != audit.OutcomeRejected || rows[0].Actor != ops.Email {
		t.Fatalf("audit of the refused replay: %+v", rows)
	}

	form := url.Values{"token": {token}, "event": {outage[0].ID, outage[1].ID, failed.ID}, "back": {"/console/webhooks?state=all"}}
	resp, _ = e.post(t, c, "/console/webhooks/replay", form)
	if loc := resp.Header.Get("Location"); loc != "/console/webhooks?state=all" {
		t.Fatalf("bulk replay sent to %q, want back to the list it was on", loc)
	}
	body = e.disFlash(t, c, resp)
	disExpect(t, "after the bulk replay", resp, body, http.StatusSeeOther, "Replayed 3 events: 2 processed, 1 failed")
	for _, ev := range outage {
		got, _ := inbox.NewStore(e.db).Get(context.Background(), ev.ID)
		if got.State != inbox.Processed {
			t.Fatalf("event %s is %s after its replay", ev.ID, got.State)
		}
		if rows := e.disAudits(t, audit.ActionWebhookReplay, audit.WebhookTarget(ev.ID)); len(rows) != 1 ||
			rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Actor != ops.Email {
			t.Fatalf("audit of %s: %+v", ev.ID, rows)
		}
	}
	if rows := e.disAudits(t, audit.ActionWebhookReplay, audit.WebhookTarget(failed.ID)); len(rows) != 1 ||
		rows[0].Outcome != audit.OutcomeFailed {
		t.Fatalf("audit of the event that failed again: %+v", rows)
	}

	// The same form again: the first summary, nothing replayed or audited twice.
	resp, _ = e.post(t, c, "/console/webhooks/replay", form)
	body = e.disFlash(t, c, resp)
	disExpect(t, "resubmitted bulk replay", resp, body, http.StatusSeeOther, "Already done: Replayed 3 events: 2 processed, 1 failed")
	if rows := e.disAudits(t, audit.ActionWebhookReplay, ""); len(rows) != 4 {
		t.Fatalf("%d replay audit rows after a resubmission, want 4", len(rows))
	}
	resp, body = e.post(t, c, "/console/webhooks/replay", url.Values{"token": {"t-none"}})
	disExpect(t, "nothing selected", resp, body, http.StatusUnprocessableEntity, "select one or more events")

	// One replay of the event that keeps failing: said so, audited failed.
	resp, _ = e.post(t, c, "/console/webhooks/"+failed.ID+"/replay", url.Values{"token": {"t-one"}})
	body = e.disFlash(t, c, resp)
	disExpect(t, "one replay", resp, body, http.StatusSeeOther, "Replayed event "+failed.ID+": it failed again")
	if rows := e.disAudits(t, audit.ActionWebhookReplay, audit.WebhookTarget(failed.ID)); len(rows) != 2 ||
		rows[0].Outcome != audit.OutcomeFailed || rows[0].Actor != ops.Email {
		t.Fatalf("audit of the single replay: %+v", rows)
	}
	// And of one that processes.
	if err := inbox.NewStore(e.db).Mark(context.Background(), outage[0].ID, inbox.Failed, "simulated again", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, _ = e.post(t, c, "/console/webhooks/"+outage[0].ID+"/replay", url.Values{"token": {"t-two"},
		"back": {"https://evil.example/console/webhooks?state=all"}}, "HX-Request: true")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Location") != "/console/webhooks" {
		t.Fatalf("htmx replay: %d to %q, want the list (never another site)", resp.StatusCode, resp.Header.Get("HX-Location"))
	}
	if got, _ := inbox.NewStore(e.db).Get(context.Background(), outage[0].ID); got.State != inbox.Processed {
		t.Fatalf("after one replay: %s", got.State)
	}
}

// TestWebhooksInBrowser: an operator replays a selection and one event in
// Chromium; the page passes axe and is saved as a screenshot.
func TestWebhooksInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	outage, failed, _, _, _ := e.whEvents(t)
	ctx := e.browser(t)
	e.browserLogin(t, ctx, ops)

	run(t, ctx, "webhooks", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.srv.URL+"/console/webhooks"),
		chromedp.WaitVisible(chromedp.ID("bulk")),
		chromedp.Click(chromedp.CSS("tbody tr:first-child details summary")))
	checkAccessibility(t, ctx, "webhooks")
	screenshot(t, ctx, "webhooks")

	run(t, ctx, "select two", chromedp.Click(chromedp.ID("ev-"+outage[0].ID)), chromedp.Click(chromedp.ID("ev-"+outage[1].ID)),
		chromedp.Click(chromedp.CSS(`#bulk .actions button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if flash := read(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash"))); flash != "Replayed 2 events: 2 processed" {
		t.Fatalf("bulk flash %q", flash)
	}
	run(t, ctx, "replay one", chromedp.Click(chromedp.CSS(`button[formaction="/console/webhooks/`+failed.ID+`/replay"]`)))
	// The page is replaced in place: wait for the new confirmation.
	read(t, ctx, "single replay flash", chromedp.Poll[bool](
		`(document.querySelector(".flash") || {textContent: ""}).textContent.includes("it failed again")`,
		chromedp.WithPollingTimeout(time.Minute)))
	if rows := e.disAudits(t, audit.ActionWebhookReplay, ""); len(rows) != 3 {
		t.Fatalf("%d replay audit rows, want 3", len(rows))
	}
}
