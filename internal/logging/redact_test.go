package logging

import (
	"encoding/json"
	"strings"
	"testing"
)

// luhnComplete appends the check digit that makes prefix pass the Luhn check.
func luhnComplete(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if s := prefix + string(d); luhn(s) {
			return s
		}
	}
	panic("unreachable")
}

func TestLuhn(t *testing.T) {
	for _, pan := range []string{"4111111111111111", "5555555555554444", "378282246310005", "4000000000003220", "6011000990139424"} {
		if !luhn(pan) {
			t.Errorf("luhn(%s) = false, want true", pan)
		}
	}
	for _, s := range []string{"4111111111111112", "1700000000000", "1234567890123"} {
		if luhn(s) {
			t.Errorf("luhn(%s) = true, want false", s)
		}
	}
}

func TestRedact(t *testing.T) {
	pan12 := luhnComplete("41111111111")
	pan19 := luhnComplete("411111111111111111")
	tests := []struct{ in, want string }{
		{"4111111111111111", "411111******1111"},
		{"card 4111111111111111 declined", "card 411111******1111 declined"},
		{"4111 1111 1111 1111", "4111 11** **** 1111"},
		{"4111-1111-1111-1111", "4111-11**-****-1111"},
		{"378282246310005", "378282*****0005"},
		{"3782 822463 10005", "3782 82**** *0005"},
		{pan12, "411111**" + pan12[8:]},
		{pan19, "411111*********" + pan19[15:]},
		{"x4111111111111111y", "x411111******1111y"},
		{"a=4111111111111111&b=5555555555554444", "a=411111******1111&b=555555******4444"},
		{`{"pan":"4111111111111111"`, `{"pan":"[REDACTED]"`}, // truncated JSON: key rule
		// A card number inside a longer run of digit groups is still found.
		{"ref 12 4111 1111 1111 1111", "ref 12 4111 11** **** 1111"},
		// Not card numbers: no Luhn, too short, too long, starting with 0.
		{"4111111111111112", "4111111111111112"},
		{"order 1700000000000 at 1700000000000", "order 1700000000000 at 1700000000000"},
		{luhnComplete("4111111111"), luhnComplete("4111111111")}, // 11 digits
		{"41111111111111111111", "41111111111111111111"},         // 20 digits, one run
		{"0" + luhnComplete("41111111111111"), "0" + luhnComplete("41111111111111")},
		{"2024-01-15 10:30:00", "2024-01-15 10:30:00"},
		{"4111  1111 1111 1111", "4111  1111 1111 1111"}, // double space splits it into 4+12 digits
		{"", ""},
		// key=value forms.
		{"cvv=123&cardNo=4111111111111111", "cvv=[REDACTED]&cardNo=[REDACTED]"},
		{"card[cvc]=918&amount=100", "card[cvc]=[REDACTED]&amount=100"},
		{"security_code: 1234, next", "security_code: [REDACTED], next"},
		{`"CVV2" : '987'`, `"CVV2" : '[REDACTED]'`},
		{`body={\"cvv\":\"918\",\"x\":1}`, `body={\"cvv\":\"[REDACTED]\",\"x\":1}`},
		{"cvvx=1 acvv=2 panel=3", "cvvx=1 acvv=2 panel=3"},
		{"cvv required", "cvv required"},
		{"Security Code: 123; Card Number = 4111", "Security Code: [REDACTED]; Card Number = [REDACTED]"},
		{"the card number is wrong: 123", "the card number is wrong: 123"},
		{"my pan: 12", "my pan: [REDACTED]"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// The union rule: whatever surrounds a card number, at most its first six
// and last four digits survive.
func TestRedactNeverShowsMoreThanSixAndFour(t *testing.T) {
	pan := luhnComplete("453201511283036")
	grouped := pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:]
	strip := strings.NewReplacer(" ", "", "-", "")
	for _, prefix := range []string{"", "1 ", "12 ", "123-", "99 9 ", "5555 5555 5555 4444 ", "4111111111111111 "} {
		for _, suffix := range []string{"", " 1", " 22", "-333", " 5555 5555 5555 4444"} {
			in := prefix + grouped + suffix
			got := strip.Replace(Redact(in))
			if strings.Contains(got, pan[6:12]) || !strings.Contains(got, "*") {
				t.Errorf("Redact(%q) = %q shows the middle digits %s", in, got, pan[6:12])
			}
		}
	}
}

func TestIsSensitiveKey(t *testing.T) {
	for _, k := range []string{"cardNo", "CARDNO", "cardNumber", "card_number", "Card-Number", "card.number", "pan", "PAN",
		"cvv", "CVV2", "cvc", "cvc2", "csc", "securityCode", "security_code", "primaryAccountNumber", "card_num"} {
		if !IsSensitiveKey(k) {
			t.Errorf("IsSensitiveKey(%q) = false", k)
		}
	}
	for _, k := range []string{"maskedCardNo", "cardBrand", "panel", "span", "cvvResultRaw", "last4", "bin", "", "cv", "card"} {
		if IsSensitiveKey(k) {
			t.Errorf("IsSensitiveKey(%q) = true", k)
		}
	}
}

func TestRedactJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing sensitive, layout kept",
			"{ \"a\" : [1, 2.5e3, true, null, \"x\\u0041\"],\n \"b\":{} }",
			"{ \"a\" : [1, 2.5e3, true, null, \"x\\u0041\"],\n \"b\":{} }"},
		{"apo pay request",
			`{"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"4111111111111111","cvv":"918","expiryYear":"30","cardholderName":{"firstName":"A"}}},"paymentAmount":{"currency":"USD","value":"4200"}}`,
			`{"paymentMethod":{"paymentMethodType":"CARD","paymentMethodMetaData":{"cardNo":"[REDACTED]","cvv":"[REDACTED]","expiryYear":"30","cardholderName":{"firstName":"A"}}},"paymentAmount":{"currency":"USD","value":"4200"}}`},
		{"sensitive key holding an object or array",
			`{"card_number":{"x":[1,2]},"CVC":[1,{"a":"b"}],"pan":null}`,
			`{"card_number":"[REDACTED]","CVC":"[REDACTED]","pan":"[REDACTED]"}`},
		{"deep in arrays",
			`[[{"a":[{"securityCode":1234}]}]]`,
			`[[{"a":[{"securityCode":"[REDACTED]"}]}]]`},
		{"pan in a free-text string and as a number",
			`{"note":"paid with 4111 1111 1111 1111","n":4111111111111111,"m":-5555555555554444,"ts":1700000000000}`,
			`{"note":"paid with 4111 11** **** 1111","n":"411111******1111","m":"-555555******4444","ts":1700000000000}`},
		{"pan as a key",
			`{"4111111111111111":1}`,
			`{"411111******1111":1}`},
		{"escaped key name",
			`{"c\u0076v":"918"}`,
			`{"c\u0076v":"[REDACTED]"}`},
		{"json inside a string",
			`{"body":"{\"cvv\":\"918\",\"cardNo\":\"4111111111111111\",\"ok\":\"<&>\"}"}`,
			`{"body":"{\"cvv\":\"[REDACTED]\",\"cardNo\":\"[REDACTED]\",\"ok\":\"<&>\"}"}`},
		{"not json: redacted as text",
			`cardNo=4111111111111111&cvv=918`,
			`cardNo=[REDACTED]&cvv=[REDACTED]`},
		{"masked display kept",
			`{"maskedCardNo":"411111******1111","cardBrand":"VISA"}`,
			`{"maskedCardNo":"411111******1111","cardBrand":"VISA"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := RedactJSON(in)
			if string(got) != tt.want {
				t.Errorf("RedactJSON\n got %s\nwant %s", got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("input modified: %s", in)
			}
			if json.Valid(in) && !json.Valid(got) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestRedactJSONReturnsACopy(t *testing.T) {
	in := []byte(`{"a":"b"}`)
	out := RedactJSON(in)
	out[2] = 'X'
	if string(in) != `{"a":"b"}` {
		t.Errorf("RedactJSON output aliases its input: %s", in)
	}
}

// FuzzRedactJSON: never panics, keeps valid JSON valid, and never lets a
// planted card number through.
func FuzzRedactJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",{"cvv":2}]}`))
	f.Add([]byte(`{"s":"a\"b\\"}`))
	f.Add([]byte(`not json 4111`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := RedactJSON(b)
		if json.Valid(b) && !json.Valid(got) {
			t.Fatalf("RedactJSON(%q) = %q, not valid JSON", b, got)
		}
		planted := append(append([]byte(`{"x":`), b...), []byte(`,"cvv":"918"}`)...)
		if !json.Valid(planted) {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(RedactJSON(planted), &m); err != nil || string(m["cvv"]) != `"[REDACTED]"` {
			t.Fatalf("planted cvv survived in %q: %v %s", planted, err, m["cvv"])
		}
	})
}

// FuzzRedact: whatever text precedes a typed card number, its middle digits
// never survive.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "cvv=", "12", "1-", "x 9", `{"a":"`, "0", "4111 1111 1111"} {
		f.Add(s)
	}
	pan := luhnComplete("453201511283036")
	planted := " " + pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:] + " "
	strip := strings.NewReplacer(" ", "", "-", "")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(strip.Replace(s), pan[6:12]) {
			return // the text itself brings those digits
		}
		if got := Redact(s + planted); strings.Contains(strip.Replace(got), pan[6:12]) {
			t.Fatalf("Redact(%q) = %q shows %s", s+planted, got, pan[6:12])
		}
	})
}
