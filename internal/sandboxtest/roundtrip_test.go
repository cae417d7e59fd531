package sandboxtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/sandboxtest"
)

// The round-trip suite: the real APO client against the sandbox over real
// HTTP, for every API and every test card, with idempotent replays.

func payReq(id, card string, minor int64, ccy, mode string) apo.PayRequest {
	return apo.PayRequest{
		ProductCode: apo.ProductCashierPayment, PaymentRequestID: id,
		Order: &apo.Order{ReferenceOrderID: "o-" + id, OrderDescription: "round trip",
			Buyer: &apo.Buyer{ReferenceBuyerID: "b-1"}},
		PaymentAmount: apo.NewAmount(minor, ccy),
		PaymentMethod: apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &apo.CardMetaData{
			CardNo: card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "30",
			CardholderName: &apo.Name{FirstName: "Ada", LastName: "Lovelace"}}},
		PaymentFactor:      &apo.PaymentFactor{IsAuthorization: true, CaptureMode: mode},
		PaymentRedirectURL: "https://shop.example/back",
		Env:                &apo.Env{TerminalType: "WEB", ClientIP: "198.51.100.1"},
	}
}

func TestEveryCard(t *testing.T) {
	t.Parallel()
	env := sandboxtest.Start(t, sandboxtest.Options{TimeScale: 1})
	ctx := context.Background()
	cases := []struct {
		card    string
		outcome apo.Outcome
		code    string
		action  bool
	}{
		{"4111111111111111", apo.OutcomeSuccess, "SUCCESS", false},
		{"5555555555554444", apo.OutcomeSuccess, "SUCCESS", false},
		{"378282246310005", apo.OutcomeSuccess, "SUCCESS", false},
		{"4000000000003220", apo.OutcomeUnknown, apo.CodePaymentInProcess, true},
		{"4000000000000002", apo.OutcomeFailed, "DO_NOT_HONOR", false},
		{"4000000000009995", apo.OutcomeFailed, "USER_BALANCE_NOT_ENOUGH", false},
		{"4000000000000119", apo.OutcomeUnknown, apo.CodePaymentInProcess, false},
		{"4000000000000259", apo.OutcomeSuccess, "SUCCESS", false},
		{"4111111111111112", apo.OutcomeFailed, "INVALID_CARD_NUMBER", false},
	}
	for i, c := range cases {
		id := "rt-card-" + c.card
		resp, err := env.Client.Pay(ctx, payReq(id, c.card, 1000+int64(i), "USD", apo.CaptureManual))
		if apo.OutcomeOf(err) != c.outcome || resp.Result.ResultCode != c.code || resp.NeedsBuyerAction() != c.action {
			t.Errorf("%s: outcome %s code %q action %v (err %v)", c.card, apo.OutcomeOf(err), resp.Result.ResultCode, resp.NeedsBuyerAction(), err)
			continue
		}
		if c.outcome != apo.OutcomeFailed && resp.PaymentID == "" {
			t.Errorf("%s: no paymentId", c.card)
		}
		// Replaying the same request id returns the same answer.
		again, err2 := env.Client.Pay(ctx, payReq(id, c.card, 1000+int64(i), "USD", apo.CaptureManual))
		if apo.OutcomeOf(err2) != c.outcome || again.PaymentID != resp.PaymentID || again.Result != resp.Result {
			t.Errorf("%s: replay differs: %+v vs %+v", c.card, again.Result, resp.Result)
		}
	}
	// Same id, different amount: REPEAT_REQ_INCONSISTENT.
	_, err := env.Client.Pay(ctx, payReq("rt-card-4111111111111111", "4111111111111111", 9999, "USD", apo.CaptureManual))
	var e *apo.Error
	if !apo.IsFinalFailure(err) || !asAPO(err, &e) || e.Result.ResultCode != "REPEAT_REQ_INCONSISTENT" {
		t.Fatalf("inconsistent replay: %v", err)
	}
}

func asAPO(err error, e **apo.Error) bool {
	x, ok := err.(*apo.Error)
	if ok {
		*e = x
	}
	return ok
}

func TestLifecycleAPIs(t *testing.T) {
	t.Parallel()
	env := sandboxtest.Start(t, sandboxtest.Options{})
	ctx := context.Background()
	pay, err := env.Client.Pay(ctx, payReq("rt-life", "5555555555554444", 10000, "JPY", apo.CaptureManual))
	if err != nil {
		t.Fatal(err)
	}
	inq, err := env.Client.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentRequestID: "rt-life"})
	if err != nil || inq.PaymentStatus != apo.StatusSuccess || inq.PaymentID != pay.PaymentID || inq.AcquirerInfo == nil {
		t.Fatalf("inquiry: %v %+v", err, inq)
	}
	capture := func(id string, minor int64) (apo.CaptureResponse, error) {
		return env.Client.Capture(ctx, apo.CaptureRequest{CaptureRequestID: id, PaymentID: pay.PaymentID, CaptureAmount: apo.NewAmount(minor, "JPY")})
	}
	c1, err := capture("rt-cap-1", 4000)
	if err != nil || c1.CaptureID == "" {
		t.Fatalf("capture 1: %v", err)
	}
	if again, err := capture("rt-cap-1", 4000); err != nil || again.CaptureID != c1.CaptureID {
		t.Fatalf("capture replay: %v %s", err, again.CaptureID)
	}
	if _, err := capture("rt-cap-1", 4001); !apo.IsFinalFailure(err) {
		t.Fatalf("capture replay with another amount: %v", err)
	}
	if _, err := capture("rt-cap-2", 7000); !apo.IsFinalFailure(err) {
		t.Fatalf("capture beyond the authorization: %v", err)
	}
	if _, err := capture("rt-cap-3", 6000); err != nil {
		t.Fatalf("capture rest: %v", err)
	}
	if _, err := env.Client.Cancel(ctx, apo.CancelRequest{PaymentID: pay.PaymentID}); !apo.IsFinalFailure(err) {
		t.Fatalf("cancel after capture: %v", err)
	}
	r1, err := env.Client.Refund(ctx, apo.RefundRequest{RefundRequestID: "rt-ref-1", PaymentID: pay.PaymentID, RefundAmount: apo.NewAmount(3000, "JPY")})
	if err != nil || r1.RefundID == "" {
		t.Fatalf("refund: %v", err)
	}
	ir, err := env.Client.InquiryRefund(ctx, apo.InquiryRefundRequest{RefundRequestID: "rt-ref-1"})
	if err != nil || ir.RefundStatus != apo.StatusSuccess || ir.RefundID != r1.RefundID {
		t.Fatalf("inquiry refund: %v %+v", err, ir)
	}
	if _, err := env.Client.Refund(ctx, apo.RefundRequest{RefundRequestID: "rt-ref-2", PaymentID: pay.PaymentID, RefundAmount: apo.NewAmount(7001, "JPY")}); !apo.IsFinalFailure(err) {
		t.Fatalf("refund beyond captured: %v", err)
	}
	inq, err = env.Client.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentID: pay.PaymentID})
	if err != nil || len(inq.Transactions) != 3 {
		t.Fatalf("transactions: %v %+v", err, inq.Transactions)
	}

	// A second payment is cancelled before capture.
	p2, err := env.Client.Pay(ctx, payReq("rt-cancel", "4111111111111111", 500, "KWD", apo.CaptureManual))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.Cancel(ctx, apo.CancelRequest{PaymentID: p2.PaymentID}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if inq, _ := env.Client.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentID: p2.PaymentID}); inq.PaymentStatus != apo.StatusCancelled {
		t.Fatalf("after cancel: %s", inq.PaymentStatus)
	}

	// Disputes: accept one, defend another, download the template.
	d1, err := env.Sandbox.OpenDispute(pay.PaymentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.AcceptDispute(ctx, apo.AcceptDisputeRequest{DisputeID: d1}); err != nil {
		t.Fatalf("accept: %v", err)
	}
	d2, err := env.Sandbox.OpenDispute(pay.PaymentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := env.Client.DownloadDisputeEvidence(ctx, apo.DownloadDisputeEvidenceRequest{DisputeID: d2, DisputeEvidenceType: apo.EvidenceTemplate})
	if err != nil {
		t.Fatalf("evidence template: %v", err)
	}
	doc, err := base64.StdEncoding.DecodeString(tpl.DisputeEvidence)
	if err != nil || !bytes.HasPrefix(doc, []byte("%PDF")) {
		t.Fatalf("template is not a PDF (%v)", err)
	}
	if _, err := env.Client.SupplyDefenseDocument(ctx, apo.SupplyDefenseDocumentRequest{DisputeID: d2, DisputeEvidence: tpl.DisputeEvidence}); err != nil {
		t.Fatalf("defend: %v", err)
	}
	if _, err := env.Client.AcceptDispute(ctx, apo.AcceptDisputeRequest{DisputeID: "no-such-dispute"}); !apo.IsFinalFailure(err) {
		t.Fatalf("unknown dispute: %v", err)
	}
}
