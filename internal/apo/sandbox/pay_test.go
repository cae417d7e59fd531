package sandbox

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTestCards(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BaseURL = "https://sandbox.example/" })
	cases := []struct {
		pan, status, code, inquiryStatus string
		normalURL                        bool
	}{
		{"4111111111111111", "S", "SUCCESS", "SUCCESS", false},
		{"5555555555554444", "S", "SUCCESS", "SUCCESS", false},
		{"378282246310005", "S", "SUCCESS", "SUCCESS", false},
		{"4000000000003220", "U", "PAYMENT_IN_PROCESS", "PROCESSING", true},
		{"4000000000000002", "F", "DO_NOT_HONOR", "FAIL", false},
		{"4000000000009995", "F", "USER_BALANCE_NOT_ENOUGH", "FAIL", false},
		{"4000000000000119", "U", "PAYMENT_IN_PROCESS", "PROCESSING", false},
		{"4000000000000259", "S", "SUCCESS", "SUCCESS", false},
		{"4242424242424242", "S", "SUCCESS", "SUCCESS", false},          // unknown Luhn-valid card
		{"4111111111111112", "F", "INVALID_CARD_NUMBER", "FAIL", false}, // Luhn failure
		{"41111111111", "F", "INVALID_CARD_NUMBER", "FAIL", false},      // too short
	}
	for i, c := range cases {
		t.Run(c.pan, func(t *testing.T) {
			r := e.call("pay", payReq("card-"+strconv.Itoa(i), c.pan))
			wantResult(t, "pay", r, c.status, c.code)
			id := r.str("paymentId")
			if id == "" || r.str("paymentRequestId") != "card-"+strconv.Itoa(i) || r.str("paymentCreateTime") == "" {
				t.Fatalf("pay answer lacks ids or create time: %s", r.raw)
			}
			gotURL := r.str("normalUrl")
			if c.normalURL && gotURL != "https://sandbox.example/sandbox/3ds/"+id {
				t.Errorf("normalUrl %q", gotURL)
			}
			if !c.normalURL && gotURL != "" {
				t.Errorf("unexpected normalUrl %q", gotURL)
			}
			if r.get("acquirerInfo.acquirerName") == nil {
				t.Errorf("no acquirerInfo: %s", r.raw)
			}
			inq := e.inquiry(id)
			if got := inq.str("paymentStatus"); got != c.inquiryStatus {
				t.Errorf("paymentStatus %s, want %s", got, c.inquiryStatus)
			}
			if c.status == "F" && inq.str("paymentResultCode") != c.code {
				t.Errorf("paymentResultCode %s, want %s", inq.str("paymentResultCode"), c.code)
			}
		})
	}
}

func TestExpiredCard(t *testing.T) {
	e := newEnv(t)
	// The clock is in November 2026: 10/26 has expired, 11/26 is still valid.
	req := payReq("exp-1", "4111111111111111")
	set(req, "paymentMethod.paymentMethodMetaData.expiryMonth", "10")
	set(req, "paymentMethod.paymentMethodMetaData.expiryYear", "26")
	wantResult(t, "10/26", e.call("pay", req), "F", "INVALID_EXPIRATION_DATE")
	req = payReq("exp-2", "4111111111111111")
	set(req, "paymentMethod.paymentMethodMetaData.expiryMonth", "11")
	set(req, "paymentMethod.paymentMethodMetaData.expiryYear", "26")
	wantResult(t, "11/26", e.call("pay", req), "S", "SUCCESS")
}

func TestForced3DSChallenge(t *testing.T) {
	e := newEnv(t)
	for i, v := range []any{true, "true"} {
		req := payReq("force-"+strconv.Itoa(i), "4111111111111111")
		set(req, "paymentMethod.paymentMethodMetaData.is3DSAuthentication", v)
		r := e.mustPay(req, "U")
		if r.code() != "PAYMENT_IN_PROCESS" || !strings.HasSuffix(r.str("normalUrl"), "/sandbox/3ds/"+r.str("paymentId")) {
			t.Errorf("forced 3DS: %s", r.raw)
		}
		// Without a configured BaseURL the URL is built from the Host header.
		if !strings.HasPrefix(r.str("normalUrl"), e.ts.URL) {
			t.Errorf("normalUrl %q not on %s", r.str("normalUrl"), e.ts.URL)
		}
	}
	// A decline card is declined, 3DS or not.
	req := payReq("force-decline", "4000000000000002")
	set(req, "paymentMethod.paymentMethodMetaData.is3DSAuthentication", true)
	wantResult(t, "decline with 3DS", e.call("pay", req), "F", "DO_NOT_HONOR")
}

func TestChallengeCompletion(t *testing.T) {
	e := newEnv(t)
	r := e.mustPay(payReq("chal-ok", "4000000000003220"), "U")
	id := r.str("paymentId")
	if err := e.srv.CompleteChallenge(id, true); err != nil {
		t.Fatal(err)
	}
	inq := e.inquiry(id)
	if inq.str("paymentStatus") != "SUCCESS" || inq.get("paymentResultInfo.threeDSResult.challenged") != true {
		t.Errorf("after challenge: %s", inq.raw)
	}
	// The retried pay now reports the outcome, and keeps reporting it identically.
	re1 := e.mustPay(payReq("chal-ok", "4000000000003220"), "S")
	re2 := e.mustPay(payReq("chal-ok", "4000000000003220"), "S")
	if !bytes.Equal(re1.raw, re2.raw) {
		t.Errorf("replays differ:\n%s\n%s", re1.raw, re2.raw)
	}
	if err := e.srv.CompleteChallenge(id, true); !errors.Is(err, ErrState) {
		t.Errorf("second completion: got %v, want ErrState", err)
	}
	if err := e.srv.CompleteChallenge("nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown payment: got %v, want ErrNotFound", err)
	}

	r = e.mustPay(payReq("chal-fail", "4000000000003220"), "U")
	if err := e.srv.CompleteChallenge(r.str("paymentId"), false); err != nil {
		t.Fatal(err)
	}
	inq = e.inquiry(r.str("paymentId"))
	if inq.str("paymentStatus") != "FAIL" || inq.str("paymentResultCode") != challengeFailedCode {
		t.Errorf("failed challenge: %s", inq.raw)
	}
	wantResult(t, "replay after failed challenge", e.call("pay", payReq("chal-fail", "4000000000003220")), "F", challengeFailedCode)
}

func TestDelayedCardBecomesSuccess(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TimeScale = 0.001 })
	r := e.mustPay(set(payReq("late-1", "4000000000000119"), "paymentFactor.captureMode", "AUTOMATIC"), "U")
	if r.code() != "PAYMENT_IN_PROCESS" || r.str("normalUrl") != "" {
		t.Fatalf("delayed card: %s", r.raw)
	}
	id := r.str("paymentId")
	e.clock.Advance(29 * time.Millisecond) // 30 s × 0.001 is not over yet
	if got := e.inquiry(id).str("paymentStatus"); got != "PROCESSING" {
		t.Fatalf("before the delay: %s", got)
	}
	// Replaying the pay while it is processing gives the first answer again.
	if again := e.mustPay(set(payReq("late-1", "4000000000000119"), "paymentFactor.captureMode", "AUTOMATIC"), "U"); !bytes.Equal(again.raw, r.raw) {
		t.Errorf("replay while processing differs")
	}
	e.clock.Advance(time.Millisecond)
	inq := e.inquiry(id)
	if inq.str("paymentStatus") != "SUCCESS" || inq.str("paymentTime") != "2026-11-23T10:00:00+00:00" {
		t.Fatalf("after the delay: %s", inq.raw)
	}
	// Automatic capture happened at the moment of success.
	tx := inq.list("transactions")
	if len(tx) != 1 || tx[0].(obj)["transactionType"] != "CAPTURE" {
		t.Errorf("transactions %v", tx)
	}
}

func TestCardFacts(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ pan, masked, brand, eci string }{
		{"4111111111111111", "411111******1111", "VISA", "05"},
		{"5555555555554444", "555555******4444", "MASTERCARD", "02"},
		{"378282246310005", "378282*****0005", "AMEX", "05"},
	}
	for i, c := range cases {
		r := e.mustPay(payReq("facts-"+strconv.Itoa(i), c.pan), "S")
		want := map[string]string{
			"paymentResultInfo.cardNo":                       c.masked,
			"paymentResultInfo.cardBin":                      c.pan[:6],
			"paymentResultInfo.lastFour":                     c.pan[len(c.pan)-4:],
			"paymentResultInfo.cardBrand":                    c.brand,
			"paymentResultInfo.funding":                      "CREDIT",
			"paymentResultInfo.issuingCountry":               "US",
			"paymentResultInfo.expiryMonth":                  "12",
			"paymentResultInfo.expiryYear":                   "30",
			"paymentResultInfo.cvvResultRaw":                 "M",
			"paymentResultInfo.avsResultRaw":                 "U",
			"paymentResultInfo.threeDSResult.eci":            c.eci,
			"paymentResultInfo.threeDSResult.threeDSVersion": "2.2.0",
			"paymentTime":                                    "2026-11-23T10:00:00+00:00",
			"authExpiryTime":                                 "2026-11-30T10:00:00+00:00",
			"paymentAmount.value":                            "10000",
			"paymentAmount.currency":                         "USD",
		}
		for path, v := range want {
			if got := r.str(path); got != v {
				t.Errorf("%s %s = %q, want %q", c.pan, path, got, v)
			}
		}
		if r.get("paymentResultInfo.threeDSResult.challenged") != false {
			t.Errorf("%s: frictionless payment marked challenged", c.pan)
		}
		if !strings.HasPrefix(r.str("paymentResultInfo.cardToken"), "ALIPAY") {
			t.Errorf("%s: cardToken %q", c.pan, r.str("paymentResultInfo.cardToken"))
		}
		acq := r.str("acquirerInfo.acquirerName")
		if acq != "ADYEN" && acq != "CHECKOUT" && acq != "ALIPAY" {
			t.Errorf("%s: acquirer %q", c.pan, acq)
		}
		for _, f := range []string{"acquirerTransactionId", "referenceRequestId", "acquirerMerchantId", "acquirerResultCode", "acquirerResultMessage"} {
			if r.str("acquirerInfo."+f) == "" {
				t.Errorf("%s: acquirerInfo.%s empty", c.pan, f)
			}
		}
		// Routing is deterministic: the same card goes to the same acquirer.
		again := e.mustPay(payReq("facts-again-"+strconv.Itoa(i), c.pan), "S")
		if again.str("acquirerInfo.acquirerName") != acq {
			t.Errorf("%s routed to %s then %s", c.pan, acq, again.str("acquirerInfo.acquirerName"))
		}
		if again.str("paymentResultInfo.cardToken") != r.str("paymentResultInfo.cardToken") {
			t.Errorf("%s: the same card got two tokens", c.pan)
		}
	}
	// Declines carry the acquirer's refusal.
	r := e.mustPay(payReq("facts-decline", "4000000000009995"), "F")
	if r.str("paymentResultInfo.refusalCodeRaw") != "51" || r.str("acquirerInfo.acquirerResultCode") == "" {
		t.Errorf("decline facts: %s", r.raw)
	}
	if r.str("paymentResultInfo.cardToken") != "" || r.str("authExpiryTime") != "" {
		t.Errorf("a declined payment has a token or an auth expiry: %s", r.raw)
	}
}

func TestSavedCardToken(t *testing.T) {
	e := newEnv(t)
	first := e.mustPay(payReq("tok-1", "5555555555554444"), "S")
	token := first.str("paymentResultInfo.cardToken")

	byToken := func(rid, tok string) obj {
		req := payReq(rid, "")
		set(req, "paymentMethod.paymentMethodMetaData", nil)
		set(req, "paymentMethod.paymentMethodId", tok)
		return req
	}
	r := e.mustPay(byToken("tok-2", token), "S")
	for _, f := range []string{"paymentResultInfo.cardNo", "paymentResultInfo.cardBrand", "paymentResultInfo.expiryYear", "acquirerInfo.acquirerName", "paymentResultInfo.cardToken"} {
		if r.str(f) != first.str(f) {
			t.Errorf("token payment %s = %q, want %q", f, r.str(f), first.str(f))
		}
	}
	wantResult(t, "unknown token", e.call("pay", byToken("tok-3", "ALIPAYnotatoken==")), "F", "PARAM_ILLEGAL")

	// A saved card keeps its behaviour: the dispute card disputes again.
	disputeToken := e.mustPay(payReq("tok-4", "4000000000000259"), "S").str("paymentResultInfo.cardToken")
	id := e.mustPay(byToken("tok-5", disputeToken), "S").str("paymentId")
	wantResult(t, "capture", e.captureReq("tok-5-cap", id, "USD", "10000"), "S", "SUCCESS")
	if n := len(e.srv.disputesOf(id)); n != 1 {
		t.Errorf("token payment with the dispute card opened %d disputes, want 1", n)
	}
}

// disputesOf lists the disputes of a payment.
func (s *Server) disputesOf(paymentID string) []dispute {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dispute
	for _, id := range s.st.disputeOrder {
		if d := s.st.disputes[id]; d.PaymentID == paymentID {
			out = append(out, *d)
		}
	}
	return out
}

func TestCaptureModes(t *testing.T) {
	e := newEnv(t)
	for _, mode := range []string{"AUTOMATIC", ""} {
		req := payReq("auto-"+mode, "4111111111111111")
		set(req, "paymentFactor.captureMode", mode)
		id := e.mustPay(req, "S").str("paymentId")
		tx := e.inquiry(id).list("transactions")
		if len(tx) != 1 {
			t.Fatalf("mode %q: %d transactions, want 1 CAPTURE", mode, len(tx))
		}
		c := tx[0].(obj)
		if c["transactionType"] != "CAPTURE" || c["transactionStatus"] != "SUCCESS" || c["transactionId"] == "" ||
			c["transactionAmount"].(obj)["value"] != "10000" || c["acquirerInfo"] == nil {
			t.Errorf("mode %q: capture transaction %v", mode, c)
		}
		wantResult(t, "capture after automatic capture", e.captureReq("auto-cap-"+mode, id, "USD", "1"), "F", "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT")
	}
	id := e.authorized("manual-1", "4111111111111111")
	if tx := e.inquiry(id).list("transactions"); len(tx) != 0 {
		t.Errorf("MANUAL mode: transactions %v, want none", tx)
	}
}

func TestIsAuthorizationForms(t *testing.T) {
	e := newEnv(t)
	for i, v := range []any{true, "true", false, "false"} {
		req := payReq("isauth-"+strconv.Itoa(i), "4111111111111111")
		set(req, "paymentFactor.isAuthorization", v)
		e.mustPay(req, "S")
	}
}

func TestCurrencies(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ cur, v string }{{"JPY", "1"}, {"KRW", "5000"}, {"KWD", "1500"}, {"BHD", "1"}, {"EUR", "999"}, {"SGD", "100"}, {"GBP", "1"}} {
		req := payReq("cur-"+c.cur, "4111111111111111")
		set(req, "paymentAmount", amount(c.cur, c.v))
		set(req, "order.orderAmount", amount(c.cur, c.v))
		r := e.mustPay(req, "S")
		if r.str("paymentAmount.currency") != c.cur || r.str("paymentAmount.value") != c.v {
			t.Errorf("%s: paymentAmount %v", c.cur, r.get("paymentAmount"))
		}
	}
	for code, exp := range map[string]int{"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "USD": 2, "EUR": 2} {
		if got, ok := currencyExponent(code); !ok || got != exp {
			t.Errorf("exponent of %s: %d %v, want %d", code, got, ok, exp)
		}
	}
}

func TestPayIdempotency(t *testing.T) {
	e := newEnv(t)
	first := e.mustPay(payReq("idem-1", "4111111111111111"), "S")
	e.clock.Advance(time.Minute)
	again := e.mustPay(payReq("idem-1", "4111111111111111"), "S")
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("replay body differs:\n%s\n%s", first.raw, again.raw)
	}
	if first.header.Get("response-time") == again.header.Get("response-time") {
		t.Errorf("replay was not re-signed with a fresh response-time")
	}
	// Fields outside the key (order description, notify URL) may change.
	same := payReq("idem-1", "4111111111111111")
	set(same, "order.orderDescription", "something else")
	if r := e.mustPay(same, "S"); !bytes.Equal(r.raw, first.raw) {
		t.Errorf("replay with a non-key change differs")
	}
	inconsistent := map[string]obj{
		"amount":   set(payReq("idem-1", "4111111111111111"), "paymentAmount.value", "10001"),
		"currency": set(set(payReq("idem-1", "4111111111111111"), "paymentAmount.currency", "EUR"), "order.orderAmount.currency", "EUR"),
		"card":     payReq("idem-1", "5555555555554444"),
		"token":    set(payReq("idem-1", "4111111111111111"), "paymentMethod.paymentMethodId", first.str("paymentResultInfo.cardToken")),
	}
	for name, req := range inconsistent {
		wantResult(t, name, e.call("pay", req), "F", "REPEAT_REQ_INCONSISTENT")
	}
	// The original is untouched.
	if r := e.mustPay(payReq("idem-1", "4111111111111111"), "S"); !bytes.Equal(r.raw, first.raw) {
		t.Errorf("original answer changed after inconsistent repeats")
	}
	// Failures are final too.
	declined := e.mustPay(payReq("idem-2", "4000000000000002"), "F")
	if r := e.mustPay(payReq("idem-2", "4000000000000002"), "F"); !bytes.Equal(r.raw, declined.raw) {
		t.Errorf("declined replay differs")
	}
}

func TestInquiryPayment(t *testing.T) {
	e := newEnv(t)
	id := e.authorized("inq-1", "4111111111111111")
	byReq := e.call("inquiryPayment", obj{"paymentRequestId": "inq-1"})
	byID := e.call("inquiryPayment", obj{"paymentId": id})
	if !bytes.Equal(byReq.raw, byID.raw) {
		t.Errorf("inquiry by request id and by payment id differ")
	}
	// paymentId wins over paymentRequestId.
	both := e.call("inquiryPayment", obj{"paymentId": id, "paymentRequestId": "other"})
	if both.str("paymentId") != id {
		t.Errorf("paymentId did not win: %s", both.raw)
	}
	want := map[string]string{
		"result.resultCode": "SUCCESS", "paymentStatus": "SUCCESS", "paymentResultCode": "SUCCESS",
		"paymentRequestId": "inq-1", "paymentMethodType": "CARD", "paymentTime": "2026-11-23T10:00:00+00:00",
		"authExpiryTime": "2026-11-30T10:00:00+00:00", "paymentCreateTime": "2026-11-23T10:00:00+00:00",
		"paymentResultInfo.cardNo": "411111******1111",
	}
	for path, v := range want {
		if got := byID.str(path); got != v {
			t.Errorf("%s = %q, want %q", path, got, v)
		}
	}
	if byID.str("acquirerInfo.acquirerTransactionId") == "" {
		t.Errorf("no acquirerInfo")
	}
	wantResult(t, "unknown", e.call("inquiryPayment", obj{"paymentId": "nope"}), "F", "ORDER_NOT_EXIST")
	r := e.call("inquiryPayment", obj{})
	wantResult(t, "no id", r, "F", "PARAM_ILLEGAL")
	if !strings.Contains(r.str("result.resultMessage"), "paymentId") {
		t.Errorf("message %q", r.str("result.resultMessage"))
	}
}
