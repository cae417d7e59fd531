package apo_test

import (
	"encoding/json"
	"testing"

	"github.com/payops/payops/internal/apo"
)

// TestPayRequestWire pins the exact JSON field names and value types of a
// card authorisation (reference §3.1).
func TestPayRequestWire(t *testing.T) {
	b, err := json.Marshal(cardPayRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"productCode":"CASHIER_PAYMENT","paymentRequestId":"req-1",` +
		`"order":{"referenceOrderId":"order-1","orderDescription":"Shoes","orderAmount":{"currency":"USD","value":"1999"},"buyer":{"referenceBuyerId":"buyer-1"}},` +
		`"paymentAmount":{"currency":"USD","value":"1999"},` +
		`"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"` + testPAN + `","cvv":"` + testCVV + `","expiryYear":"27","expiryMonth":"03",` +
		`"cardholderName":{"firstName":"Ada","lastName":"Lovelace","fullName":"Ada Lovelace"},"billingAddress":{"region":"US","zipCode":"94105"},"is3DSAuthentication":"true"}},` +
		`"paymentFactor":{"isAuthorization":true,"captureMode":"MANUAL"},` +
		`"paymentNotifyUrl":"https://m.example/webhooks/apo","paymentRedirectUrl":"https://m.example/return",` +
		`"env":{"terminalType":"WEB","clientIp":"203.0.113.7"}}`
	if string(b) != want {
		t.Fatalf("wire JSON\ngot  %s\nwant %s", b, want)
	}

	saved := apo.PayRequest{
		ProductCode:      apo.ProductCashierPayment,
		PaymentRequestID: "req-2",
		PaymentAmount:    apo.NewAmount(500, "EUR"),
		PaymentMethod: apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodID: "ALIPAYtok==",
			PaymentMethodMetaData: &apo.CardMetaData{IsCardOnFile: true}},
	}
	b, err = json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"productCode":"CASHIER_PAYMENT","paymentRequestId":"req-2","paymentAmount":{"currency":"EUR","value":"500"},` +
		`"paymentMethod":{"paymentMethodType":"CARD","paymentMethodId":"ALIPAYtok==","paymentMethodMetaData":{"isCardOnFile":"true"}}}`
	if string(b) != want {
		t.Fatalf("saved card JSON\ngot  %s\nwant %s", b, want)
	}
}

func TestFlexBoolDecode(t *testing.T) {
	for in, want := range map[string]bool{
		`true`: true, `false`: false, `"true"`: true, `"TRUE"`: true, `"false"`: false, `""`: false, `null`: false, `" true "`: true,
	} {
		var f struct {
			F apo.FlexBool   `json:"f"`
			S apo.StringBool `json:"s"`
		}
		if err := json.Unmarshal([]byte(`{"f":`+in+`,"s":`+in+`}`), &f); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if bool(f.F) != want || bool(f.S) != want {
			t.Errorf("%s: got %v/%v, want %v", in, f.F, f.S, want)
		}
	}
	for _, in := range []string{`"yes"`, `1`, `{}`} {
		var f apo.FlexBool
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s: got nil error", in)
		}
	}
	b, _ := json.Marshal(struct {
		F apo.FlexBool   `json:"f"`
		S apo.StringBool `json:"s"`
	}{true, false})
	if string(b) != `{"f":true,"s":"false"}` {
		t.Fatalf("encode: got %s", b)
	}
}

func TestAmountMinor(t *testing.T) {
	if a := apo.NewAmount(1999, "USD"); a.Value != "1999" || a.Currency != "USD" {
		t.Fatalf("NewAmount: got %+v", a)
	}
	for in, want := range map[string]int64{"0": 0, "1": 1, "000100": 100, "9223372036854775807": 9223372036854775807} {
		got, err := apo.Amount{Value: in}.Minor()
		if err != nil || got != want {
			t.Errorf("Minor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.00", "-5", "1e3", " 1", "9223372036854775808"} {
		if _, err := (apo.Amount{Value: in}).Minor(); err == nil {
			t.Errorf("Minor(%q): got nil error", in)
		}
	}
}
