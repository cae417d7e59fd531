package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
)

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
			if err := h.in.Process(ctx, ev.ID); err != nil {
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
	page, err := h.in.List(ctx, inbox.Filter{})
	if err != nil || len(page.Items) != 2 || page.Items[0].Deliveries != 3 {
		t.Fatalf("webhook events: %v %+v", err, page.Items)
	}

	// A final answer contradicting the one we hold is recorded, not applied.
	ev, err := h.notify(t, paymentResult(p, "F", "DO_NOT_HONOR"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.in.Process(ctx, ev.ID); err != nil {
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
	if _, _, err := h.in.Intake(ctx, "POST", "/webhooks/apo", hdr, []byte(body)); !errors.Is(err, inbox.ErrBadSignature) {
		t.Fatalf("wrong key: got %v", err)
	}
	good, _ := apo.Sign(h.env.APOKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body))
	hdr.Set("Signature", good)
	if _, _, err := h.in.Intake(ctx, "POST", "/webhooks/apo", hdr, []byte(strings.Replace(body, "500", "50000", 1))); !errors.Is(err, inbox.ErrBadSignature) {
		t.Fatalf("altered body: got %v", err)
	}
	// A query string added on the way is tolerated: the path alone verifies.
	if _, _, err := h.in.Intake(ctx, "POST", "/webhooks/apo?via=proxy", hdr, []byte(body)); err != nil {
		t.Fatalf("query string: %v", err)
	}
	got, _ := h.svc.Get(ctx, p.ID)
	if got.Status != payments.StatusProcessing {
		t.Fatalf("status %s after forged notifications", got.Status)
	}
	page, _ := h.in.List(ctx, inbox.Filter{Verdict: "invalid"})
	if len(page.Items) != 2 || page.Items[0].State != inbox.Ignored {
		t.Fatalf("invalid events: %+v", page.Items)
	}
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
