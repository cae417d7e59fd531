package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// notify signs body as APO would and hands it to Intake.
func (h *harness) notify(t *testing.T, body string) (payments.WebhookEvent, error) {
	t.Helper()
	ev, _, err := h.deliver(t, body)
	return ev, err
}

// deliver is notify that also says whether this delivery stored a new fact.
func (h *harness) deliver(t *testing.T, body string) (payments.WebhookEvent, bool, error) {
	t.Helper()
	ts := time.Now().UTC().Format(time.RFC3339)
	sig, err := apo.Sign(h.env.APOKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	hdr["signature"] = []string{strings.Replace(sig, ",", ", ", -1)} // APO's docs put spaces after commas
	hdr["client-id"] = []string{"SANDBOX_PAYOPS"}
	hdr["request-time"] = []string{ts}
	return h.svc.Intake(context.Background(), "POST", "/webhooks/apo", hdr, []byte(body))
}

func paymentResult(p payments.Payment, status, code string) string {
	return fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":%q,"resultStatus":%q,"resultMessage":"x"},`+
		`"paymentRequestId":%q,"paymentId":%q,"paymentAmount":{"currency":%q,"value":"%d"}}`,
		code, status, p.PaymentRequestID, p.APOPaymentID, p.Amount.Currency, p.Amount.Minor)
}

func TestWebhookAppliesOnceInAnyOrder(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	ctx := context.Background()
	p := h.create(t, createReq("4000000000000119", 1234, "USD")) // PROCESSING until APO says more
	_, _, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{})
	var ce *payments.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("capture of a PROCESSING payment: %v, want conflict", err)
	}
	if p, err = h.svc.Sync(ctx, p.ID); err != nil || p.Status != payments.StatusProcessing || p.APOPaymentID == "" {
		t.Fatalf("sync of a delayed payment: %v %+v", err, p)
	}
	bodies := []string{
		paymentResult(p, "S", "SUCCESS"),
		fmt.Sprintf(`{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},`+
			`"captureRequestId":"cap-unknown","paymentId":%q,"captureId":"C-1","captureAmount":{"currency":"USD","value":"1234"}}`, p.APOPaymentID),
	}
	// Deliver all, then again, then in reverse order: state and timeline must not move after the first pass.
	var ids []string
	for round, order := range [][]int{{0, 1}, {0, 1}, {1, 0}} {
		for _, i := range order {
			ev, err := h.notify(t, bodies[i])
			if err != nil {
				t.Fatalf("intake: %v", err)
			}
			if err := h.svc.Process(ctx, ev.ID); err != nil {
				t.Fatalf("process: %v", err)
			}
			if round == 0 {
				ids = append(ids, ev.ID)
			} else if ev.ID != ids[i] {
				t.Fatalf("re-delivery stored a new event %s, want %s", ev.ID, ids[i])
			}
		}
		d, _ := h.svc.GetDetail(ctx, p.ID)
		if d.Payment.Status != payments.StatusCaptured || d.Payment.CapturedMinor != 1234 {
			t.Fatalf("round %d: %s captured %d", round, d.Payment.Status, d.Payment.CapturedMinor)
		}
		notif := 0
		for _, e := range d.Events {
			if e.Source == payments.SourceNotification {
				notif++
			}
		}
		if notif != 2 {
			t.Fatalf("round %d: %d notification timeline entries, want 2", round, notif)
		}
	}
	page, err := h.svc.ListWebhooks(ctx, payments.WebhookFilter{})
	if err != nil || len(page.Items) != 2 || page.Items[0].Deliveries != 3 {
		t.Fatalf("webhook events: %v %+v", err, page.Items)
	}

	// A final answer contradicting the one we hold is recorded, not applied.
	ev, err := h.notify(t, paymentResult(p, "F", "DO_NOT_HONOR"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Process(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	p, _ = h.svc.Get(ctx, p.ID)
	if p.Status != payments.StatusCaptured || !p.NeedsReview {
		t.Fatalf("conflict: %s needs_review=%v", p.Status, p.NeedsReview)
	}
	p, err = h.svc.Resolve(ctx, p.ID, payments.Review{Status: payments.StatusCaptured, Reason: "acquirer confirmed capture", Actor: "admin"})
	if err != nil || p.NeedsReview {
		t.Fatalf("resolve: %v %+v", err, p)
	}
}

func TestWebhookBadSignatureChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	ctx := context.Background()
	p := h.create(t, createReq("4000000000000119", 500, "USD"))
	body := paymentResult(p, "S", "SUCCESS")
	ts := time.Now().UTC().Format(time.RFC3339)
	sig, _ := apo.Sign(h.env.MerchantKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body)) // wrong key
	hdr := http.Header{"Signature": {sig}, "Client-Id": {"SANDBOX_PAYOPS"}, "Request-Time": {ts}}
	if _, _, err := h.svc.Intake(ctx, "POST", "/webhooks/apo", hdr, []byte(body)); !errors.Is(err, payments.ErrBadSignature) {
		t.Fatalf("wrong key: got %v", err)
	}
	good, _ := apo.Sign(h.env.APOKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body))
	hdr.Set("Signature", good)
	if _, _, err := h.svc.Intake(ctx, "POST", "/webhooks/apo", hdr, []byte(strings.Replace(body, "500", "50000", 1))); !errors.Is(err, payments.ErrBadSignature) {
		t.Fatalf("altered body: got %v", err)
	}
	// A query string added on the way is tolerated: the path alone verifies.
	if _, _, err := h.svc.Intake(ctx, "POST", "/webhooks/apo?via=proxy", hdr, []byte(body)); err != nil {
		t.Fatalf("query string: %v", err)
	}
	got, _ := h.svc.Get(ctx, p.ID)
	if got.Status != payments.StatusProcessing {
		t.Fatalf("status %s after forged notifications", got.Status)
	}
	page, _ := h.svc.ListWebhooks(ctx, payments.WebhookFilter{Verdict: "invalid"})
	if len(page.Items) != 2 || page.Items[0].State != payments.WebhookIgnored {
		t.Fatalf("invalid events: %+v", page.Items)
	}
}

// TestNoCardDataInTables runs every test card through the service and then
// searches a full data dump of the database for the card numbers and CVV.
func TestNoCardDataInTables(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	cards := []string{"4111111111111111", "5555555555554444", "378282246310005", "4000000000003220",
		"4000000000000002", "4000000000009995", "4000000000000119", "4000000000000259"}
	for _, c := range cards {
		r := createReq(c, 4321, "USD")
		r.Card.CVV = "987"
		p, err := h.svc.Create(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == payments.StatusAuthorized {
			_, _, _ = h.svc.Capture(ctx, p.ID, payments.CaptureRequest{})
			_, _, _ = h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 1, Reason: "test"})
		}
		_, _ = h.svc.Sync(ctx, p.ID)
	}
	// A bad Luhn number must not leak through the error path either.
	_, err := h.svc.Create(ctx, createReq("4111111111111112", 1, "USD"))
	if err == nil || strings.Contains(err.Error(), "4111111111111112") {
		t.Fatalf("invalid card error leaks the number: %v", err)
	}
	dump := pgDump(t, h)
	for _, c := range append(cards, "987") {
		if c == "987" {
			if cvvRE.MatchString(dump) {
				t.Errorf("CVV found in the dump")
			}
			continue
		}
		if strings.Contains(dump, c) {
			t.Errorf("card number %s…%s found in the database dump", c[:4], c[len(c)-4:])
		}
	}
	if !strings.Contains(dump, "411111******1111") {
		t.Fatalf("dump does not contain the masked card: the scan looked at the wrong data")
	}
}

// cvvRE finds the test CVV as a JSON value, whatever key holds it.
var cvvRE = regexp.MustCompile(`:\s*"987"`)

func pgDump(t *testing.T, h *harness) string {
	t.Helper()
	var name string
	if err := h.db.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	conf := pgtest.Config(t)
	cmd := exec.Command("pg_dump", "--data-only", "-h", conf.Host, "-p", conf.Port, "-U", conf.User, name)
	if conf.Password != "" {
		cmd.Env = append(cmd.Environ(), "PGPASSWORD="+conf.Password)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump (make services-up installs it): %v", err)
	}
	return string(out)
}

// TestConcurrentIntakeGroupCommit: many deliveries at once, several of the
// same fact, are grouped into few commits yet each fact is stored once,
// exactly one delivery is "first", and every delivery is counted.
func TestConcurrentIntakeGroupCommit(t *testing.T) {
	t.Parallel()
	h := newHarnessScaled(t, 1)
	var ps []payments.Payment
	for range 20 {
		ps = append(ps, h.create(t, createReq("4000000000000119", 100, "USD")))
	}
	type res struct {
		id    string
		first bool
	}
	out := make(chan res, 200)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, first, err := h.deliver(t, paymentResult(ps[i%20], "S", "SUCCESS"))
			if err != nil {
				t.Error(err)
				return
			}
			out <- res{ev.ID, first}
		}()
	}
	wg.Wait()
	close(out)
	firsts := map[string]int{}
	for r := range out {
		if r.first {
			firsts[r.id]++
		} else if _, ok := firsts[r.id]; !ok {
			firsts[r.id] = 0
		}
	}
	if len(firsts) != 20 {
		t.Fatalf("%d distinct events for 20 facts", len(firsts))
	}
	for id, n := range firsts {
		if n != 1 {
			t.Fatalf("event %s: %d deliveries reported first, want exactly 1", id, n)
		}
	}
	var deliveries int
	if err := h.db.Get(&deliveries, `SELECT sum(deliveries) FROM webhook_events`); err != nil || deliveries != 200 {
		t.Fatalf("deliveries %d (err %v), want 200", deliveries, err)
	}
}
