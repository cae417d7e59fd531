package apo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
)

// assertNoCard fails if s contains testPAN (in clear or grouped), a long
// run of its digits, or testCVV.
func assertNoCard(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{testPAN, "4242 4242 4242 4242", "4242424242", testCVV} {
		if strings.Contains(s, bad) {
			t.Fatalf("%s contains %q: %s", what, bad, s)
		}
	}
}

func TestFmtNeverPrintsCard(t *testing.T) {
	req := cardPayRequest()
	card := *req.PaymentMethod.PaymentMethodMetaData
	wrapper := struct {
		Req  apo.PayRequest
		Card *apo.CardMetaData
	}{req, &card}
	values := map[string]any{
		"PayRequest":     req,
		"*PayRequest":    &req,
		"PaymentMethod":  req.PaymentMethod,
		"*PaymentMethod": &req.PaymentMethod,
		"CardMetaData":   card,
		"*CardMetaData":  &card,
		"nested":         wrapper,
		"slice":          []apo.PayRequest{req},
		"map":            map[string]apo.CardMetaData{"c": card},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T %v"} {
			out := fmt.Sprintf(verb, v)
			assertNoCard(t, name+" "+verb, out)
		}
	}
	// The masked number and the non-secret fields do show, so the output is useful.
	if out := fmt.Sprintf("%v", req); !strings.Contains(out, "424242******4242") || !strings.Contains(out, "req-1") {
		t.Fatalf("%%v lost useful fields: %s", out)
	}
	if out := fmt.Sprint(card); !strings.Contains(out, `"expiryMonth":"03"`) {
		t.Fatalf("card String lost the expiry: %s", out)
	}
}

// dropTime removes the time attribute from log lines scanned for a CVV.
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestSlogNeverLogsCard(t *testing.T) {
	req := cardPayRequest()
	for _, handler := range []string{"json", "text"} {
		t.Run(handler, func(t *testing.T) {
			var buf bytes.Buffer
			// No timestamps: their digits could hold the CVV by chance.
			opts := &slog.HandlerOptions{ReplaceAttr: dropTime}
			var h slog.Handler = slog.NewJSONHandler(&buf, opts)
			if handler == "text" {
				h = slog.NewTextHandler(&buf, opts)
			}
			log := slog.New(h)
			log.Info("pay", "req", req)
			log.Info("pay", "req", &req)
			log.Info("pay", "pm", req.PaymentMethod)
			log.Info("pay", "card", req.PaymentMethod.PaymentMethodMetaData)
			log.Info("pay", slog.Group("outer", "req", req))
			log.With("req", req).Info("with")
			assertNoCard(t, handler+" log", buf.String())
			if !strings.Contains(buf.String(), "424242******4242") || !strings.Contains(buf.String(), "req-1") {
				t.Fatalf("log lost the masked card or the request id: %s", buf.String())
			}
		})
	}
	// JSON output must stay structured (LogValue groups), not a quoted blob.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("pay", "req", req)
	var line struct {
		Req struct {
			PaymentRequestID string `json:"paymentRequestId"`
			PaymentMethod    struct {
				Meta struct {
					CardNo string `json:"cardNo"`
					CVV    string `json:"cvv"`
				} `json:"paymentMethodMetaData"`
			} `json:"paymentMethod"`
		} `json:"req"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Req.PaymentRequestID != "req-1" || line.Req.PaymentMethod.Meta.CardNo != "424242******4242" || line.Req.PaymentMethod.Meta.CVV != "[REDACTED]" {
		t.Fatalf("structured log: got %+v", line)
	}
}

func TestRedacted(t *testing.T) {
	req := cardPayRequest()
	red := req.Redacted()
	if got := red.PaymentMethod.PaymentMethodMetaData.CardNo; got != "424242******4242" {
		t.Fatalf("redacted cardNo: got %q", got)
	}
	if got := red.PaymentMethod.PaymentMethodMetaData.CVV; got != "[REDACTED]" {
		t.Fatalf("redacted cvv: got %q", got)
	}
	if req.PaymentMethod.PaymentMethodMetaData.CardNo != testPAN || req.PaymentMethod.PaymentMethodMetaData.CVV != testCVV {
		t.Fatal("Redacted modified the original request")
	}
	b, err := json.Marshal(red)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCard(t, "redacted JSON", string(b))
	if red.PaymentMethod.PaymentMethodMetaData.ExpiryYear != "27" || red.PaymentRequestID != "req-1" {
		t.Fatal("Redacted lost non-secret fields")
	}
	// A saved-card request (no metadata) keeps its shape; its card token is
	// a credential and is withheld.
	saved := apo.PayRequest{PaymentMethod: apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodID: "tok-1"}}
	if got := saved.Redacted(); got.PaymentMethod.PaymentMethodID != "[REDACTED]" || got.PaymentMethod.PaymentMethodMetaData != nil {
		t.Fatalf("saved card: got %+v", got.PaymentMethod)
	}
	if saved.PaymentMethod.PaymentMethodID != "tok-1" {
		t.Fatal("Redacted modified the original saved-card request")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("pay", "req", saved)
	if out := buf.String() + fmt.Sprint(saved); strings.Contains(out, "tok-1") {
		t.Fatalf("saved card token printed: %s", out)
	}
}

func TestRedactedJSON(t *testing.T) {
	body, err := json.Marshal(cardPayRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), testPAN) {
		t.Fatal("the wire body must carry the card")
	}
	red := string(apo.RedactedJSON(body))
	assertNoCard(t, "RedactedJSON", red)
	// The number under cardNo is withheld whole, as any value of a card
	// number field that is not already masked.
	for _, want := range []string{`"cardNo":"[REDACTED]"`, `"cvv":"[REDACTED]"`, `"paymentRequestId":"req-1"`, `"isAuthorization":true`} {
		if !strings.Contains(red, want) {
			t.Errorf("RedactedJSON lacks %s: %s", want, red)
		}
	}
	// Layout and key order are kept (carddata.RedactJSON copies the body).
	tests := map[string]struct{ in, want string }{
		"nested and case-insensitive": {`{"a":[{"CardNo":"5555555555554444","CVC":"123"}],"n":12.50}`, `{"a":[{"CardNo":"[REDACTED]","CVC":"[REDACTED]"}],"n":12.50}`},
		"non-string secrets":          {`{"cvv":737,"cardNo":4242424242424242,"errorMessage":{"cardNo":"4242424242424242"}}`, `{"cvv":"[REDACTED]","cardNo":"[REDACTED]","errorMessage":{"cardNo":"[REDACTED]"}}`},
		"already masked":              {`{"cardNo":"555555******4444"}`, `{"cardNo":"555555******4444"}`},
		"evidence elided":             {`{"disputeEvidence":"SGVsbG8="}`, `{"disputeEvidence":"[8 base64 characters omitted]"}`},
		"free text scrubbed":          {`{"result":{"resultMessage":"card 4242 4242 4242 4242 declined"},"refundReason":"4242424242424242"}`, `{"result":{"resultMessage":"card 4242 42** **** 4242 declined"},"refundReason":"424242******4242"}`},
		// Every string is free text now, the buyer's phone number included.
		"typed into what a buyer types": {`{"order":{"orderDescription":"4242-4242-4242-4242","buyer":{"referenceBuyerId":"4242424242424242","buyerPhoneNo":"4242424242424242"}},"cardholderName":{"firstName":"4242424242424242","fullName":"A 4242424242424242"}}`,
			`{"order":{"orderDescription":"4242-42**-****-4242","buyer":{"referenceBuyerId":"424242******4242","buyerPhoneNo":"424242******4242"}},"cardholderName":{"firstName":"424242******4242","fullName":"A 424242******4242"}}`},
		"not a card number": {`{"resultMessage":"order 4242424242424241 unknown"}`, `{"resultMessage":"order 4242424242424241 unknown"}`},
		"card tokens withheld": {`{"paymentMethod":{"paymentMethodId":"tok_1"},"paymentResultInfo":{"cardToken":"tok_1","acquirerInfo":{"acquirerCardToken":"atok"}}}`,
			`{"paymentMethod":{"paymentMethodId":"[REDACTED]"},"paymentResultInfo":{"cardToken":"[REDACTED]","acquirerInfo":{"acquirerCardToken":"[REDACTED]"}}}`},
		"ids with long digit runs": {`{"paymentId":"202611231234567890123"}`, `{"paymentId":"202611231234567890123"}`},
		"not json":                 {`card 4242424242424242 <b>`, `{"unparsedBody":"card 424242******4242 <b>"}`},
		"trailing garbage":         {`{"cardNo":"4242424242424242"} x`, `{"unparsedBody":"{\"cardNo\":\"[REDACTED]\"} x"}`},
		"invalid utf-8":            {"{\"resultMessage\":\"caf\xe9 4242424242424242\"}", "{\"resultMessage\":\"caf\uFFFD 424242******4242\"}"},
		// Cut before redaction, the 2 KiB would end in nine digits of the
		// card, too short a run to be found.
		"cut after redaction": {strings.Repeat("x", 2036) + " 4242 4242 4242 4242", `{"unparsedBody":"` + strings.Repeat("x", 2036) + ` 4242 42** *"}`},
	}
	for name, tt := range tests {
		if got := string(apo.RedactedJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", name, got, tt.want)
		}
	}
}

func TestMaskPAN(t *testing.T) {
	for in, want := range map[string]string{
		"4242424242424242":    "424242******4242",
		"378282246310005":     "378282*****0005",
		"424242******4242":    "424242******4242",
		"************4242":    "************4242",
		"1234567890":          "**********",
		"":                    "",
		"4242424242424242424": "424242*********2424",
	} {
		if got := apo.MaskPAN(in); got != want {
			t.Errorf("MaskPAN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorStringScrubsCardNumbers(t *testing.T) {
	e := &apo.Error{API: "pay", HTTPStatus: 200, Outcome: apo.OutcomeFailed,
		Result: apo.Result{ResultCode: "PARAM_ILLEGAL", ResultStatus: "F", ResultMessage: "cardNo 4242-4242-4242-4242 illegal"}}
	got := e.Error()
	assertNoCard(t, "error", got)
	if got != "apo pay: F PARAM_ILLEGAL: cardNo 4242-42**-****-4242 illegal" {
		t.Fatalf("got %q", got)
	}
	u := &apo.Error{API: "refund", HTTPStatus: 502, Outcome: apo.OutcomeUnknown, Err: fmt.Errorf("http status 502")}
	if got := u.Error(); got != "apo refund: outcome unknown (http 502): http status 502" {
		t.Fatalf("got %q", got)
	}
}

func TestGoStringMasks(t *testing.T) {
	req := cardPayRequest()
	for name, s := range map[string]string{
		"PayRequest":    req.GoString(),
		"PaymentMethod": req.PaymentMethod.GoString(),
		"CardMetaData":  req.PaymentMethod.PaymentMethodMetaData.GoString(),
	} {
		assertNoCard(t, name+".GoString", s)
		if !strings.Contains(s, "424242******4242") {
			t.Errorf("%s.GoString lost the masked number: %s", name, s)
		}
	}
}
