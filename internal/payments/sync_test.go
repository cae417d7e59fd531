package payments_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/payments"
)

// Issue 14 item 8: a pay that never reached APO (5xx before it was taken)
// left the payment PROCESSING for ever, polled while APO answered
// ORDER_NOT_EXIST. Once the pay cannot be in flight any more and two
// inquiries say so, it is closed FAILED NOT_RECEIVED_BY_APO and polling
// ends; a late success from APO still wins, flagged for review.
func TestPayNeverReceivedIsClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if err := h.env.Sandbox.SetFaults(sandbox.Faults{APIs: map[string]sandbox.APIFaults{"pay": {Error5xx: 1}}}); err != nil {
		t.Fatal(err)
	}
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	h.env.Sandbox.ClearFaults()
	if p.Status != payments.StatusProcessing {
		t.Fatalf("after a 5xx pay: %s", p.Status)
	}
	notExist := func() int {
		d, err := h.svc.GetDetail(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range d.Events {
			if e.Kind == "order_not_exist" {
				n++
			}
		}
		return n
	}
	// While a pay could still be in flight, ORDER_NOT_EXIST proves nothing.
	if p, _ = h.svc.Sync(ctx, p.ID); p.Status != payments.StatusProcessing || notExist() != 0 {
		t.Fatalf("right after pay: %s, %d order_not_exist entries", p.Status, notExist())
	}
	later := time.Now().Add(apo.DefaultTimeout + 2*time.Minute)
	h.svc.SetClock(func() time.Time { return later })
	if p, _ = h.svc.Sync(ctx, p.ID); p.Status != payments.StatusProcessing || notExist() != 1 {
		t.Fatalf("first late ORDER_NOT_EXIST: %s, %d entries", p.Status, notExist())
	}
	p, err := h.svc.Sync(ctx, p.ID)
	if err != nil || p.Status != payments.StatusFailed || p.ResultCode != payments.ResultNotReceived || !p.NotReceived() || p.NeedsReview {
		t.Fatalf("second late ORDER_NOT_EXIST: %v %+v", err, p)
	}
	if _, next, err := payments.NewStore(h.db).PollState(ctx, p.ID); err != nil || next != nil {
		t.Fatalf("polling not ended: next %v, %v", next, err)
	}
	if p, err = h.svc.Sync(ctx, p.ID); err != nil || !p.NotReceived() {
		t.Fatalf("sync of a closed payment: %v %+v", err, p)
	}
	d, _ := h.svc.GetDetail(ctx, p.ID)
	if d.Transactions[0].Status != payments.TxFailed || d.Transactions[0].ResultCode != payments.ResultNotReceived {
		t.Fatalf("authorization row: %+v", d.Transactions[0])
	}

	// APO took it after all: money moved, so the success is applied and flagged.
	if _, err := h.process(t, paymentResult(p, "S", "SUCCESS")); err != nil {
		t.Fatal(err)
	}
	if p, _ = h.svc.Get(ctx, p.ID); p.Status != payments.StatusAuthorized || !p.NeedsReview ||
		!strings.Contains(p.ReviewReason, payments.ResultNotReceived) {
		t.Fatalf("late success: %+v", p)
	}
}
