package apo_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
)

const notifyBody = `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},` +
	`"paymentRequestId":"req-1","paymentId":"pay-1","paymentAmount":{"currency":"USD","value":"1999"},` +
	`"paymentResultInfo":{"cardNo":"4242424242424242","cardBrand":"VISA","threeDSResult":{"challenged":"true"}}}`

// signedNotification returns headers as APO would send them: lowercase keys
// set directly on the map (not canonicalised), spaces after the commas.
func signedNotification(t *testing.T, k testKeys, path, reqTime, body string) http.Header {
	t.Helper()
	sig, err := apo.Sign(k.apo, "POST", path, testClientID, reqTime, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{
		"client-id":    {testClientID},
		"request-time": {reqTime},
		"signature":    {strings.ReplaceAll(sig, ",", ", ")},
	}
}

func TestVerifyNotification(t *testing.T) {
	k := loadKeys(t)
	const path = "/webhooks/apo"
	for _, reqTime := range []string{"2026-11-23T10:00:00Z", "2026-11-23T18:00:00+08:00", "1763892000000"} {
		h := signedNotification(t, k, path, reqTime, notifyBody)
		if err := apo.VerifyNotification(k.apoPub, "POST", path, h, []byte(notifyBody)); err != nil {
			t.Fatalf("request-time %s: %v", reqTime, err)
		}
	}
	h := signedNotification(t, k, path, "2026-11-23T10:00:00Z", notifyBody)

	// Canonical header keys, a full URL and a lowercase method work too.
	canon := http.Header{}
	for key, v := range h {
		canon.Set(key, v[0])
	}
	if err := apo.VerifyNotification(k.apoPub, "post", "https://payops.example"+path, canon, []byte(notifyBody)); err != nil {
		t.Fatalf("canonical headers: %v", err)
	}
	c := newClient(t, k, "http://127.0.0.1:1")
	if err := c.VerifyNotification("POST", path, h, []byte(notifyBody)); err != nil {
		t.Fatalf("Client.VerifyNotification: %v", err)
	}

	without := func(name string) http.Header {
		out := http.Header{}
		for key, v := range h {
			if key != name {
				out[key] = v
			}
		}
		return out
	}
	with := func(name, value string) http.Header {
		out := without(name)
		out[name] = []string{value}
		return out
	}
	tests := map[string]struct {
		path string
		h    http.Header
		body string
		key  bool // verify with the merchant key instead of APO's
	}{
		"body":           {path, h, strings.Replace(notifyBody, "1999", "1", 1), false},
		"path":           {"/webhooks/other", h, notifyBody, false},
		"client id":      {path, with("client-id", "SANDBOX_OTHER"), notifyBody, false},
		"time":           {path, with("request-time", "2026-11-23T10:00:01Z"), notifyBody, false},
		"key":            {path, h, notifyBody, true},
		"no signature":   {path, without("signature"), notifyBody, false},
		"no client id":   {path, without("client-id"), notifyBody, false},
		"no time":        {path, without("request-time"), notifyBody, false},
		"garbage header": {path, with("signature", "nonsense"), notifyBody, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pub := k.apoPub
			if tt.key {
				pub = k.merchantPub
			}
			err := apo.VerifyNotification(pub, "POST", tt.path, tt.h, []byte(tt.body))
			if !errors.Is(err, apo.ErrSignature) {
				t.Fatalf("got %v, want ErrSignature", err)
			}
		})
	}
	if err := apo.VerifyNotification(nil, "POST", path, h, []byte(notifyBody)); !errors.Is(err, apo.ErrSignature) {
		t.Fatalf("nil key: got %v", err)
	}
}

func TestDecodeNotification(t *testing.T) {
	n, err := apo.DecodeNotification([]byte(notifyBody))
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != apo.KindPayment || n.NotifyType != apo.NotifyPaymentResult || n.Payment == nil || n.Capture != nil {
		t.Fatalf("got %+v", n)
	}
	p := n.Payment
	if p.PaymentID != "pay-1" || p.Result.Outcome() != apo.OutcomeSuccess || !bool(p.PaymentResultInfo.ThreeDSResult.Challenged) {
		t.Fatalf("payment: got %+v", p)
	}
	if p.PaymentResultInfo.CardNo != "424242******4242" {
		t.Fatalf("a clear cardNo from the gateway must be masked on decode, got %q", p.PaymentResultInfo.CardNo)
	}

	tests := []struct {
		name, body string
		kind       apo.NotificationKind
		check      func(apo.Notification) bool
	}{
		{"capture", `{"notifyType":"CAPTURE_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S"},"captureRequestId":"capreq-1","paymentId":"pay-1","captureId":"cap-1","captureAmount":{"currency":"USD","value":"500"}}`,
			apo.KindCapture, func(n apo.Notification) bool {
				return n.Capture.CaptureID == "cap-1" && n.Capture.CaptureAmount.Value == "500"
			}},
		{"refund", `{"notifyType":"REFUND_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S"},"refundStatus":"SUCCESS","refundRequestId":"refreq-1","refundId":"ref-1","refundAmount":{"currency":"USD","value":"100"},"arn":"74000000000000000000001"}`,
			apo.KindRefund, func(n apo.Notification) bool { return n.Refund.RefundStatus == apo.StatusSuccess && n.Refund.ARN != "" }},
		{"payment pending", `{"notifyType":"PAYMENT_PENDING","result":{"resultCode":"PAYMENT_IN_PROCESS","resultStatus":"U"},"paymentId":"pay-1"}`,
			apo.KindPayment, func(n apo.Notification) bool { return n.Payment.Result.Outcome() == apo.OutcomeUnknown }},
		{"dispute without notifyType", `{"disputeId":"d-1","paymentId":"pay-1","disputeNotificationType":"DISPUTE_CREATED","disputeAmount":{"currency":"EUR","value":"1000"},"defenseDueTime":"2027-11-23T10:00:00+00:00","disputeReasonCode":"4853","disputeSource":"Mastercard","defendable":"true"}`,
			apo.KindDispute, func(n apo.Notification) bool {
				d := n.Dispute
				return d.DisputeNotificationType == apo.DisputeCreated && d.DisputeAmount.Value == "1000" && bool(d.Defendable) && n.NotifyType == "" && d.Result == nil
			}},
		{"dispute with own notifyType", `{"notifyType":"DISPUTE","result":{"resultCode":"SUCCESS","resultStatus":"S"},"disputeId":"d-1","disputeNotificationType":"DISPUTE_JUDGED","disputeJudgedResult":"ACCEPT_BY_MERCHANT","defendable":false}`,
			apo.KindDispute, func(n apo.Notification) bool {
				return n.Dispute.DisputeJudgedResult == "ACCEPT_BY_MERCHANT" && n.NotifyType == "DISPUTE" && n.Dispute.Result.ResultStatus == "S"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := apo.DecodeNotification([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if n.Kind != tt.kind || !tt.check(n) {
				t.Fatalf("got %+v", n)
			}
		})
	}

	if _, err := apo.DecodeNotification([]byte(`{"notifyType":"VAULTING_RESULT"}`)); !errors.Is(err, apo.ErrUnknownNotification) {
		t.Fatalf("unknown type: got %v", err)
	}
	if _, err := apo.DecodeNotification([]byte(`{}`)); !errors.Is(err, apo.ErrUnknownNotification) {
		t.Fatalf("empty body: got %v", err)
	}
	if _, err := apo.DecodeNotification([]byte(`not json`)); err == nil {
		t.Fatal("bad JSON: got nil error")
	}
	if _, err := apo.DecodeNotification([]byte(`{"notifyType":"CAPTURE_RESULT","captureAmount":"oops"}`)); err == nil {
		t.Fatal("bad field type: got nil error")
	}
}

func TestNotificationAck(t *testing.T) {
	want := `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`
	if apo.NotificationAck != want {
		t.Fatalf("got %s", apo.NotificationAck)
	}
}
