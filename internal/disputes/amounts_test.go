package disputes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/payments"
)

// timeline counts the payment's timeline entries of one kind.
func (h *harness) timeline(t *testing.T, paymentID, kind string) int {
	t.Helper()
	d, err := h.pay.GetDetail(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range d.Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// Issue 14 item 10: a judged dispute of 777.00 on a 10.00 payment became
// LOST 777.00 with nothing flagged. An amount above what the payment
// captured is kept as APO sent it, and both the dispute and the payment are
// flagged; the payment's totals never exceed what it captured.
func TestDisputeAboveCapturedIsFlagged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 1000)
	did := h.openDispute(t, p)
	body := notification(apo.DisputeCreated, did, p, map[string]any{"disputeAmount": amount(77700, "USD"),
		"defenseDueTime": h.clock.after(10 * 24 * time.Hour).Format(time.RFC3339), "disputeType": "CHARGEBACK"})
	h.deliver(t, body)
	d := h.byAPOID(t, did)
	if !d.NeedsAttention || !strings.Contains(d.AttentionReason, "exceeds what the payment captured") {
		t.Fatalf("dispute of 777.00 on 10.00: %+v", d)
	}
	pay := h.payment(t, p.ID)
	if !pay.NeedsReview || !strings.Contains(pay.ReviewReason, did) || pay.DisputedMinor != 1000 {
		t.Fatalf("payment after an impossible dispute: review=%v %q disputed %d", pay.NeedsReview, pay.ReviewReason, pay.DisputedMinor)
	}
	h.deliver(t, judged(did, p, disputes.JudgedValidateFail, 77700))
	d = h.byAPOID(t, did)
	if d.Status != disputes.StatusLost || !d.NeedsAttention {
		t.Fatalf("judged: %+v", d)
	}
	if pay = h.payment(t, p.ID); pay.DisputeLostMinor != 1000 || pay.DisputedMinor != 0 || !pay.NeedsReview {
		t.Fatalf("payment after the judgement: lost %d disputed %d review %v", pay.DisputeLostMinor, pay.DisputedMinor, pay.NeedsReview)
	}

	// A dispute first seen through its judgement is checked too.
	p = h.capturedPayment(t, 1000)
	did = h.openDispute(t, p)
	h.deliver(t, judged(did, p, disputes.JudgedAcceptByMerchant, 77700))
	if d = h.byAPOID(t, did); d.Status != disputes.StatusLost || !strings.Contains(d.AttentionReason, "judged amount") {
		t.Fatalf("judgement first: %+v", d)
	}
	if pay = h.payment(t, p.ID); !pay.NeedsReview {
		t.Fatalf("payment of a judgement-first impossible dispute not flagged: %+v", pay)
	}
}

// Issue 14 item 16: disputed_amount is what is under dispute while the
// dispute is open (it showed 0), the lost amount is kept apart, and every
// dispute change is on the payment's timeline, once.
func TestDisputedAmountAndTimeline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 14863)
	did := h.openDispute(t, p)
	body := created(did, p, h.clock.after(10*24*time.Hour))
	h.deliver(t, body)
	h.handle(t, body) // a replay adds nothing
	pay := h.payment(t, p.ID)
	if pay.DisputedMinor != 14863 || pay.DisputeLostMinor != 0 || pay.NeedsReview {
		t.Fatalf("open dispute of 148.63: disputed %d lost %d review %v", pay.DisputedMinor, pay.DisputeLostMinor, pay.NeedsReview)
	}
	if n := h.timeline(t, p.ID, "dispute:"+apo.DisputeCreated); n != 1 {
		t.Fatalf("%d DISPUTE_CREATED timeline entries, want 1", n)
	}
	// While it is open, refunds are not held by it (only a lost dispute is).
	if _, _, err := h.pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: 100, Reason: "goodwill", Actor: "op"}); err != nil {
		t.Fatalf("refund during an open dispute: %v", err)
	}
	d := h.byAPOID(t, did)
	if _, err := h.svc.Accept(ctx, d.ID, "not worth fighting", "op-alice"); err != nil {
		t.Fatal(err)
	}
	pay = h.payment(t, p.ID)
	if pay.DisputedMinor != 0 || pay.DisputeLostMinor != 14863 {
		t.Fatalf("accepted: disputed %d lost %d", pay.DisputedMinor, pay.DisputeLostMinor)
	}
	if h.timeline(t, p.ID, "dispute:accept") != 1 {
		t.Fatal("no timeline entry for the accept")
	}
	h.deliver(t, notification(apo.DisputeAccepted, did, p, nil))
	if h.timeline(t, p.ID, "dispute:"+apo.DisputeAccepted) != 1 {
		t.Fatal("no timeline entry for DISPUTE_ACCEPTED")
	}
}
