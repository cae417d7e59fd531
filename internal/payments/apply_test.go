package payments_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/payments"
)

func captureResult(requestID, apoPaymentID, captureID, amount string) string {
	return fmt.Sprintf(`{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},`+
		`"captureRequestId":%q,"paymentId":%q,"captureId":%q%s}`, requestID, apoPaymentID, captureID, amount)
}

func paymentResult(p payments.Payment, status, code string) string {
	return fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":%q,"resultStatus":%q,"resultMessage":"x"},`+
		`"paymentRequestId":%q,"paymentId":%q,"paymentAmount":{"currency":%q,"value":"%d"}}`,
		code, status, p.PaymentRequestID, p.APOPaymentID, p.Amount.Currency, p.Amount.Minor)
}

// process applies a notification body as the inbox hands it over (its
// PaymentFacts), and returns the id of the payment it concerns.
func (h *harness) process(t *testing.T, body string) (string, error) {
	t.Helper()
	n, err := apo.DecodeNotification([]byte(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	ctx := context.Background()
	switch n.Kind {
	case apo.KindPayment:
		return h.svc.ApplyPaymentResult(ctx, n.Payment, []byte(body))
	case apo.KindCapture:
		return h.svc.ApplyCaptureResult(ctx, n.Capture, []byte(body))
	case apo.KindRefund:
		return h.svc.ApplyRefundResult(ctx, n.Refund, []byte(body))
	}
	t.Fatalf("not a payment, capture or refund notification: %s", body)
	return "", nil
}

// Issue 14 item 3: a signed CAPTURE_RESULT for a capture we never asked
// for, above what was authorized, used to leave a PROCESSING capture-apo-…
// transaction behind a failed event, blocking every later capture and the
// cancel. It is now recorded, not applied, and flagged; nothing else moves.
func TestImpossibleCaptureIsRecordedNotHalfWritten(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	body := captureResult("cap-never-sent", p.APOPaymentID, "C-777", `,"captureAmount":{"currency":"USD","value":"77700"}`)
	for i := range 2 { // a replay changes nothing more
		if _, err := h.process(t, body); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	d, err := h.svc.GetDetail(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Payment.Status != payments.StatusAuthorized || d.Payment.CapturedMinor != 0 || !d.Payment.NeedsReview ||
		!strings.Contains(d.Payment.ReviewReason, "left to capture") {
		t.Fatalf("after an impossible capture: %+v", d.Payment)
	}
	if len(d.Transactions) != 1 {
		t.Fatalf("transactions %+v, want the authorization only", d.Transactions)
	}
	var recorded int
	for _, e := range d.Events {
		if e.Kind == "CAPTURE_RESULT" {
			if e.Applied {
				t.Fatalf("impossible capture applied: %+v", e)
			}
			recorded++
		}
	}
	if recorded != 1 {
		t.Fatalf("%d CAPTURE_RESULT timeline entries, want 1: %+v", recorded, d.Events)
	}
	// An admin clears the flag; the payment is then captured in full as usual.
	if _, err := h.svc.Resolve(ctx, p.ID, payments.Review{Status: payments.StatusAuthorized, Reason: "APO confirmed no such capture", Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	if p, _, err = h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Actor: "op"}); err != nil || p.CapturedMinor != 1000 {
		t.Fatalf("capture after review: %v %+v", err, p)
	}

	// A capture we never requested that fits is money APO moved: applied so
	// the books see it, and flagged, since nobody here asked for it.
	p = h.create(t, createReq("4111111111111111", 1000, "USD"))
	if _, err := h.process(t, captureResult("cap-dashboard", p.APOPaymentID, "C-300", `,"captureAmount":{"currency":"USD","value":"300"}`)); err != nil {
		t.Fatal(err)
	}
	if p, _ = h.svc.Get(ctx, p.ID); p.CapturedMinor != 300 || !p.NeedsReview || !strings.Contains(p.ReviewReason, "never requested") {
		t.Fatalf("unrequested capture that fits: %+v", p)
	}
}

// Issue 14 item 5: a final answer whose amount is missing or unreadable is
// a conflict for review, never a pass.
func TestFinalAnswerWithoutReadableAmountNeedsReview(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	for _, amount := range []string{`,"paymentAmount":{"value":"10.00"}`, `,"paymentAmount":{"value":"abc","currency":"USD"}`, ``} {
		p := h.create(t, createReq("4000000000003220", 1000, "USD")) // 3DS: REQUIRES_ACTION
		if p.Status != payments.StatusRequiresAction {
			t.Fatalf("setup: %s", p.Status)
		}
		body := fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"x"},`+
			`"paymentRequestId":%q,"paymentId":%q%s}`, p.PaymentRequestID, p.APOPaymentID, amount)
		if _, err := h.process(t, body); err != nil {
			t.Fatalf("%s: %v", amount, err)
		}
		if p, _ = h.svc.Get(ctx, p.ID); p.Status != payments.StatusRequiresAction || !p.NeedsReview ||
			!strings.Contains(p.ReviewReason, "paymentAmount") {
			t.Fatalf("SUCCESS with amount %q: %s review=%v %q", amount, p.Status, p.NeedsReview, p.ReviewReason)
		}
	}
	// Same for a capture result: the capture stays open, the payment is flagged.
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	p, c, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Amount: i64(400), Actor: "op"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.process(t, captureResult(c.RequestID, p.APOPaymentID, c.APOID, `,"captureAmount":{"value":"4.00"}`)); err != nil {
		t.Fatal(err)
	}
	if p, _ = h.svc.Get(ctx, p.ID); !p.NeedsReview || !strings.Contains(p.ReviewReason, "captureAmount") || p.CapturedMinor != 400 {
		t.Fatalf("capture result without a readable amount: %+v", p)
	}
}

// Issue 14 item 6: an automatic capture's CAPTURE_RESULT may arrive before
// the pay's reply is stored (so we do not know APO's paymentId yet). Its
// captureRequestId is our paymentRequestId: the payment is found by it.
func TestCaptureResultBeforePayReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// The pay reaches APO but its reply is lost (5xx after the fact).
	if err := h.env.Sandbox.SetFaults(sandbox.Faults{APIs: map[string]sandbox.APIFaults{"pay": {Error5xx: 1, Applied: 1}}}); err != nil {
		t.Fatal(err)
	}
	r := createReq("4111111111111111", 1500, "USD")
	r.CaptureMode = payments.CaptureAutomatic
	p := h.create(t, r)
	h.env.Sandbox.ClearFaults()
	if p.Status != payments.StatusProcessing || p.APOPaymentID != "" {
		t.Fatalf("setup: %+v", p)
	}
	body := captureResult(p.PaymentRequestID, "2026APO-UNSEEN-1", "C-AUTO-1", `,"captureAmount":{"currency":"USD","value":"1500"}`)
	if _, err := h.process(t, body); err != nil {
		t.Fatalf("capture result before the pay reply: %v", err)
	}
	p, _ = h.svc.Get(ctx, p.ID)
	if p.Status != payments.StatusCaptured || p.CapturedMinor != 1500 || p.APOPaymentID != "2026APO-UNSEEN-1" || p.NeedsReview {
		t.Fatalf("after the early capture result: %+v", p)
	}
}
