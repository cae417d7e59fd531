package sandbox

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCaptures(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("cap-1", "4111111111111111") // USD 100.00

	c1 := e.captureReq("cap-1-a", id, "USD", "4000")
	wantResult(t, "partial capture", c1, "S", "SUCCESS")
	for _, f := range []string{"captureId", "captureTime", "acquirerReferenceNo", "acquirerInfo.acquirerTransactionId"} {
		if c1.str(f) == "" {
			t.Errorf("capture answer lacks %s: %s", f, c1.raw)
		}
	}
	if c1.str("captureRequestId") != "cap-1-a" || c1.str("paymentId") != id || c1.str("captureAmount.value") != "4000" {
		t.Errorf("capture echo: %s", c1.raw)
	}
	wantResult(t, "second capture", e.captureReq("cap-1-b", id, "USD", "6000"), "S", "SUCCESS")
	wantResult(t, "beyond authorized", e.captureReq("cap-1-c", id, "USD", "1"), "F", "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT")

	tx := e.inquiry(id).list("transactions")
	if len(tx) != 2 {
		t.Fatalf("transactions %v", tx)
	}
	for i, want := range []struct{ req, value string }{{"cap-1-a", "4000"}, {"cap-1-b", "6000"}} {
		got := tx[i].(obj)
		if got["transactionType"] != "CAPTURE" || got["transactionRequestId"] != want.req ||
			got["transactionAmount"].(obj)["value"] != want.value || got["transactionResult"].(obj)["resultStatus"] != "S" {
			t.Errorf("transaction %d: %v", i, got)
		}
	}

	id2 := e.authorized("cap-2", "4111111111111111")
	wantResult(t, "full capture over the limit", e.captureReq("cap-2-a", id2, "USD", "10001"), "F", "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT")
	r := e.captureReq("cap-2-b", id2, "EUR", "100")
	wantResult(t, "currency mismatch", r, "F", "PARAM_ILLEGAL")
	if !strings.Contains(r.str("result.resultMessage"), "captureAmount.currency") {
		t.Errorf("message %q", r.str("result.resultMessage"))
	}
	wantResult(t, "full capture", e.captureReq("cap-2-c", id2, "USD", "10000"), "S", "SUCCESS")

	wantResult(t, "unknown payment", e.captureReq("cap-3", "nope", "USD", "1"), "F", "AUTH_NOT_FOUND")
	for _, missing := range []string{"captureRequestId", "paymentId", "captureAmount"} {
		body := obj{"captureRequestId": "cap-4", "paymentId": id2, "captureAmount": amount("USD", "1")}
		delete(body, missing)
		r := e.call("capture", body)
		wantResult(t, "missing "+missing, r, "F", "PARAM_ILLEGAL")
		if !strings.Contains(r.str("result.resultMessage"), missing) {
			t.Errorf("message %q does not name %s", r.str("result.resultMessage"), missing)
		}
	}
}

func TestCaptureStatusRules(t *testing.T) {
	e := newEnv(t)
	declined := e.mustPay(payReq("csr-1", "4000000000000002"), "F").str("paymentId")
	wantResult(t, "failed payment", e.captureReq("csr-1-c", declined, "USD", "100"), "F", "ORDER_STATUS_INVALID")

	pending := e.mustPay(payReq("csr-2", "4000000000003220"), "U").str("paymentId")
	wantResult(t, "3DS pending", e.captureReq("csr-2-c", pending, "USD", "100"), "F", "ORDER_STATUS_INVALID")

	cancelled := e.authorized("csr-3", "4111111111111111")
	wantResult(t, "cancel", e.call("cancel", obj{"paymentId": cancelled}), "S", "SUCCESS")
	wantResult(t, "cancelled payment", e.captureReq("csr-3-c", cancelled, "USD", "100"), "F", "ORDER_STATUS_INVALID")

	expiring := e.authorized("csr-4", "4111111111111111")
	e.clock.Advance(7 * 24 * time.Hour)
	wantResult(t, "at expiry", e.captureReq("csr-4-a", expiring, "USD", "100"), "S", "SUCCESS")
	e.clock.Advance(time.Second)
	wantResult(t, "after expiry", e.captureReq("csr-4-b", expiring, "USD", "100"), "F", "AUTH_EXPIRED")

	last := e.authorized("csr-5", "4111111111111111")
	wantResult(t, "last capture", e.call("capture", obj{
		"captureRequestId": "csr-5-a", "paymentId": last, "captureAmount": amount("USD", "3000"), "isLastCapture": "true",
	}), "S", "SUCCESS")
	wantResult(t, "after the last capture", e.captureReq("csr-5-b", last, "USD", "100"), "F", "ORDER_STATUS_INVALID")
}

func TestCaptureIdempotency(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("ci-1", "4111111111111111")
	first := e.captureReq("ci-1-a", id, "USD", "2500")
	wantResult(t, "capture", first, "S", "SUCCESS")
	e.clock.Advance(time.Hour)
	again := e.captureReq("ci-1-a", id, "USD", "2500")
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("replay differs:\n%s\n%s", first.raw, again.raw)
	}
	wantResult(t, "other amount", e.captureReq("ci-1-a", id, "USD", "2600"), "F", "REPEAT_REQ_INCONSISTENT")
	other := e.authorized("ci-2", "4111111111111111")
	wantResult(t, "other payment", e.captureReq("ci-1-a", other, "USD", "2500"), "F", "REPEAT_REQ_INCONSISTENT")
	if tx := e.inquiry(id).list("transactions"); len(tx) != 1 {
		t.Errorf("replays created captures: %v", tx)
	}
	// A refused capture is final for its id as well.
	refused := e.captureReq("ci-1-b", id, "USD", "9999")
	wantResult(t, "exceed", refused, "F", "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT")
	if r := e.captureReq("ci-1-b", id, "USD", "9999"); !bytes.Equal(r.raw, refused.raw) {
		t.Errorf("refused replay differs")
	}
}

func TestDisputeCardOpensDisputeOnFirstCapture(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("dc-1", "4000000000000259")
	if n := len(e.srv.disputesOf(id)); n != 0 {
		t.Fatalf("%d disputes before capture", n)
	}
	wantResult(t, "first capture", e.captureReq("dc-1-a", id, "USD", "7000"), "S", "SUCCESS")
	wantResult(t, "second capture", e.captureReq("dc-1-b", id, "USD", "3000"), "S", "SUCCESS")
	ds := e.srv.disputesOf(id)
	if len(ds) != 1 {
		t.Fatalf("got %d disputes, want 1", len(ds))
	}
	d := ds[0]
	if d.Amount.Value != 7000 || d.Status != disputeCreated || d.CaptureID == "" || d.Source != "Visa" || !d.DefenseDue.After(d.Time) {
		t.Errorf("dispute %+v", d)
	}

	// Automatic capture of the dispute card opens one too.
	auto := e.mustPay(set(payReq("dc-2", "4000000000000259"), "paymentFactor.captureMode", "AUTOMATIC"), "S").str("paymentId")
	if n := len(e.srv.disputesOf(auto)); n != 1 {
		t.Errorf("automatic capture opened %d disputes, want 1", n)
	}
	// Other cards do not.
	plain := e.authorized("dc-3", "4111111111111111")
	e.captureReq("dc-3-a", plain, "USD", "100")
	if n := len(e.srv.disputesOf(plain)); n != 0 {
		t.Errorf("plain card opened %d disputes", n)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("can-1", "4111111111111111")
	first := e.call("cancel", obj{"paymentId": id})
	wantResult(t, "cancel", first, "S", "SUCCESS")
	if first.str("cancelTime") != "2026-11-23T10:00:00+00:00" || first.str("paymentRequestId") != "can-1" {
		t.Errorf("cancel answer %s", first.raw)
	}
	e.clock.Advance(time.Minute)
	again := e.call("cancel", obj{"paymentRequestId": "can-1"})
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("repeat cancel differs:\n%s\n%s", first.raw, again.raw)
	}
	inq := e.inquiry(id)
	tx := inq.list("transactions")
	if inq.str("paymentStatus") != "CANCELLED" || len(tx) != 1 || tx[0].(obj)["transactionType"] != "CANCEL" {
		t.Errorf("after cancel: %s", inq.raw)
	}
	if inq.str("paymentTime") != "" {
		t.Errorf("cancelled payment has a paymentTime")
	}

	captured := e.authorized("can-2", "4111111111111111")
	e.captureReq("can-2-a", captured, "USD", "100")
	wantResult(t, "after capture", e.call("cancel", obj{"paymentId": captured}), "F", "ORDER_STATUS_INVALID")

	declined := e.mustPay(payReq("can-3", "4000000000000002"), "F").str("paymentId")
	wantResult(t, "failed payment", e.call("cancel", obj{"paymentId": declined}), "F", "ORDER_STATUS_INVALID")
	wantResult(t, "unknown", e.call("cancel", obj{"paymentId": "nope"}), "F", "ORDER_NOT_EXIST")
	wantResult(t, "no id", e.call("cancel", obj{}), "F", "PARAM_ILLEGAL")

	// Cancelling a payment stuck in 3DS abandons it; the pay retry then
	// reports the cancellation, and the challenge can no longer complete.
	stuck := e.mustPay(payReq("can-4", "4000000000003220"), "U").str("paymentId")
	wantResult(t, "cancel pending", e.call("cancel", obj{"paymentId": stuck}), "S", "SUCCESS")
	wantResult(t, "pay replay after cancel", e.call("pay", payReq("can-4", "4000000000003220")), "F", "ORDER_IS_CANCELED")
	if err := e.srv.CompleteChallenge(stuck, true); err == nil {
		t.Errorf("challenge completed on a cancelled payment")
	}
	// And the delayed card does not come back to life after a cancel.
	late := e.mustPay(payReq("can-5", "4000000000000119"), "U").str("paymentId")
	wantResult(t, "cancel delayed", e.call("cancel", obj{"paymentId": late}), "S", "SUCCESS")
	e.clock.Advance(time.Hour)
	if got := e.inquiry(late).str("paymentStatus"); got != "CANCELLED" {
		t.Errorf("delayed payment after cancel: %s", got)
	}
}

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("ref-1", "4111111111111111")
	wantResult(t, "refund before capture", e.refundReq("ref-1-x", id, "USD", "100"), "F", "ORDER_STATUS_INVALID")
	e.captureReq("ref-1-cap", id, "USD", "6000")

	r1 := e.refundReq("ref-1-a", id, "USD", "2000")
	wantResult(t, "partial refund", r1, "S", "SUCCESS")
	for _, f := range []string{"refundId", "refundTime", "acquirerReferenceNo", "acquirerInfo.acquirerName"} {
		if r1.str(f) == "" {
			t.Errorf("refund answer lacks %s: %s", f, r1.raw)
		}
	}
	if r1.str("refundRequestId") != "ref-1-a" || r1.str("paymentId") != id || r1.str("refundAmount.value") != "2000" {
		t.Errorf("refund echo %s", r1.raw)
	}
	wantResult(t, "second refund", e.refundReq("ref-1-b", id, "USD", "4000"), "S", "SUCCESS")
	exceed := e.refundReq("ref-1-c", id, "USD", "1")
	wantResult(t, "beyond captured", exceed, "F", refundExceedCode)
	wantResult(t, "currency", e.refundReq("ref-1-d", id, "EUR", "1"), "F", "PARAM_ILLEGAL")

	// Idempotency.
	if again := e.refundReq("ref-1-a", id, "USD", "2000"); !bytes.Equal(again.raw, r1.raw) {
		t.Errorf("refund replay differs")
	}
	if again := e.refundReq("ref-1-c", id, "USD", "1"); !bytes.Equal(again.raw, exceed.raw) {
		t.Errorf("refused refund replay differs")
	}
	wantResult(t, "inconsistent", e.refundReq("ref-1-a", id, "USD", "2001"), "F", "REPEAT_REQ_INCONSISTENT")

	// inquiryRefund by id and by request id.
	byID := e.call("inquiryRefund", obj{"refundId": r1.str("refundId")})
	byReq := e.call("inquiryRefund", obj{"refundRequestId": "ref-1-a"})
	if !bytes.Equal(byID.raw, byReq.raw) {
		t.Errorf("inquiryRefund by id and request id differ")
	}
	want := map[string]string{
		"result.resultStatus": "S", "refundStatus": "SUCCESS", "refundId": r1.str("refundId"),
		"refundRequestId": "ref-1-a", "refundAmount.value": "2000", "refundTime": r1.str("refundTime"),
	}
	for path, v := range want {
		if got := byID.str(path); got != v {
			t.Errorf("inquiryRefund %s = %q, want %q", path, got, v)
		}
	}
	if byID.str("arn") == "" || byID.str("acquirerInfo.acquirerTransactionId") == "" {
		t.Errorf("inquiryRefund lacks arn or acquirerInfo: %s", byID.raw)
	}
	wantResult(t, "refused refund is not a refund", e.call("inquiryRefund", obj{"refundRequestId": "ref-1-c"}), "F", "REFUND_NOT_EXIST")
	wantResult(t, "unknown refund", e.call("inquiryRefund", obj{"refundId": "nope"}), "F", "REFUND_NOT_EXIST")
	wantResult(t, "no id", e.call("inquiryRefund", obj{}), "F", "PARAM_ILLEGAL")

	// inquiryPayment lists the capture and both refunds.
	var types []string
	for _, tx := range e.inquiry(id).list("transactions") {
		types = append(types, tx.(obj)["transactionType"].(string))
	}
	if strings.Join(types, ",") != "CAPTURE,REFUND,REFUND" {
		t.Errorf("transactions %v", types)
	}

	wantResult(t, "unknown payment", e.refundReq("ref-2", "nope", "USD", "1"), "F", "ORDER_NOT_EXIST")
	cancelled := e.authorized("ref-3", "4111111111111111")
	e.call("cancel", obj{"paymentId": cancelled})
	wantResult(t, "cancelled", e.refundReq("ref-3-a", cancelled, "USD", "1"), "F", "ORDER_IS_CANCELED")
	declined := e.mustPay(payReq("ref-4", "4000000000000002"), "F").str("paymentId")
	wantResult(t, "failed payment", e.refundReq("ref-4-a", declined, "USD", "1"), "F", "ORDER_STATUS_INVALID")
}

func TestRefundAgainstCapture(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("rac-1", "4111111111111111")
	c1 := e.captureReq("rac-1-a", id, "USD", "3000").str("captureId")
	e.captureReq("rac-1-b", id, "USD", "3000")
	body := func(rrid, v, captureID string) obj {
		return obj{"refundRequestId": rrid, "paymentId": id, "refundAmount": amount("USD", v), "captureId": captureID}
	}
	wantResult(t, "within the capture", e.call("refund", body("rac-r1", "3000", c1)), "S", "SUCCESS")
	wantResult(t, "beyond the capture", e.call("refund", body("rac-r2", "1", c1)), "F", refundExceedCode)
	wantResult(t, "unknown capture", e.call("refund", body("rac-r3", "1", "nope")), "F", "PARAM_ILLEGAL")
	wantResult(t, "rest of the payment", e.refundReq("rac-r4", id, "USD", "3000"), "S", "SUCCESS")
}
