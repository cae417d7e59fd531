package carddata

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// luhnComplete appends the check digit that makes prefix pass the Luhn check.
func luhnComplete(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if s := prefix + string(d); Luhn(s) {
			return s
		}
	}
	panic("unreachable")
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

// A canonical UUID is an identifier: no digit run in it is masked, however
// its digit groups happen to add up. Anything short of the whole shape is
// redacted as text.
func TestRedactUUIDs(t *testing.T) {
	pan := "4111111111111111"
	// Every all-digit stretch of these ids is Luhn-valid, so without the
	// exemption each would be partly masked.
	u16 := pan[:8] + "-" + pan[8:12] + "-" + pan[12:] + "-8abc-0123456789ab" // 8+4+4 digits make pan
	last12 := "0190a6b2-1234-7abc-8def-" + luhnComplete("41111111111")       // a 12-digit card number as the last group
	inside := "abcd4111-1111-1111-1111-1111abcdef01"                         // 4111-1111-1111-1111 spread over groups
	tests := []struct{ name, in, want string }{
		// Kept: the whole UUID shape is there.
		{"bare", u16, u16},
		{"upper case", strings.ToUpper(u16), strings.ToUpper(u16)},
		{"request id", "pay-" + u16, "pay-" + u16},
		{"last group", last12, last12},
		{"dash-grouped digits inside", inside, inside},
		{"in a sentence", "retry " + u16 + " (pay-" + last12 + ")", "retry " + u16 + " (pay-" + last12 + ")"},
		{"next to each other", u16 + "/" + last12, u16 + "/" + last12},
		{"uuidv7", "01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e", "01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e"},
		// Masked: a card number beside a UUID, or a UUID-like shape that is not one.
		{"pan then uuid", pan + "-" + u16, "411111******1111-" + u16},
		{"uuid then pan", u16 + "-" + pan, u16 + "-411111******1111"},
		{"uuid then spaced pan", u16 + " 4111 1111 1111 1111", u16 + " 4111 11** **** 1111"},
		{"pan glued before a uuid's letters", pan + "abcdef01-1234-7abc-8def-0123456789ab", "411111******1111abcdef01-1234-7abc-8def-0123456789ab"},
		{"pan glued after a uuid's letters", "0190a6b2-1234-7abc-8def-0123456789ab" + pan, "0190a6b2-1234-7abc-8def-0123456789ab411111******1111"},
		// The first or last digit run of a UUID still joins a number typed beside it.
		{"pan ending in a uuid", "4111 1111 1111-1111abcd-1234-7abc-8def-0123456789ab", "4111 11** ****-1111abcd-1234-7abc-8def-0123456789ab"},
		{"pan starting in a uuid", "0190a6b2-1234-7abc-8def-abcdefab4111 1111 1111 1111", "0190a6b2-1234-7abc-8def-abcdefab4111 11** **** 1111"},
		{"inside a longer hex run", "f" + u16, "f411111**-****-1111-8abc-0123456789ab"},
		{"followed by hex", u16 + "f", "411111**-****-1111-8abc-0123456789abf"},
		{"four groups only", pan[:8] + "-" + pan[8:12] + "-" + pan[12:] + "-8abc", "411111**-****-1111-8abc"},
		{"4-4-4-4-12", "4111-1111-1111-1111-0123456789ab", "4111-11**-****-1111-0123456789ab"},
		{"not hex", pan[:8] + "-" + pan[8:12] + "-" + pan[12:] + "-8abc-0123456789ag", "411111**-****-1111-8abc-0123456789ag"},
		{"missing hyphen", pan[:8] + pan[8:12] + "-" + pan[12:] + "-8abc-0123456789ab", "411111******-1111-8abc-0123456789ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactJSONKeepsUUIDs(t *testing.T) {
	id := "41111111-1111-1111-8abc-0123456789ab"
	in := `{"paymentRequestId":"pay-` + id + `","` + id + `":1,"note":"card 4111111111111111","cardNo":"4111111111111111"}`
	want := `{"paymentRequestId":"pay-` + id + `","` + id + `":1,"note":"card 411111******1111","cardNo":"[REDACTED]"}`
	if got := RedactJSON([]byte(in)); string(got) != want {
		t.Errorf("RedactJSON\n got %s\nwant %s", got, want)
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

// canonicalUUID is the fuzz oracle's own idea of a UUID, independent of the
// scanner: 8-4-4-4-12 hex digits.
var canonicalUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$`)

// insideUUID reports whether s[from:to] lies inside one canonical UUID that is
// not part of a longer run of hex digits.
func insideUUID(s string, from, to int) bool {
	hex := func(i int) bool {
		return i >= 0 && i < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[i]) >= 0
	}
	for u := max(0, to-36); u <= from && u+36 <= len(s); u++ {
		if canonicalUUID.MatchString(s[u:u+36]) && !hex(u-1) && !hex(u+36) {
			return true
		}
	}
	return false
}

// FuzzRedact: whatever text surrounds a typed card number, its middle digits
// never survive, except where the number sits inside a canonical UUID. Typed
// with spaces or as one run of 16 digits it never can (a UUID has no spaces,
// and its groups hold at most 12 characters), so only the dash-grouped form
// may ever be let through, and only where the oracle finds a UUID around it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "cvv=", "12", "1-", "x 9", `{"a":"`, "0", "4111 1111 1111", "pay-", "abcd", "0190a6b2-", "0190a6b2-1234-"} {
		f.Add(s, "", uint8(0))
		f.Add(s, "-8abc-0123456789ab", uint8(1))
		f.Add(s, "abcdef01", uint8(2))
	}
	f.Add("abcd", "-0123456789ab", uint8(1)) // the whole number inside a UUID: kept
	number := luhnComplete("453201511283036")
	typed := []string{
		" " + number[:4] + " " + number[4:8] + " " + number[8:12] + " " + number[12:] + " ",
		number[:4] + "-" + number[4:8] + "-" + number[8:12] + "-" + number[12:],
		number,
	}
	middle := number[6:12]
	strip := strings.NewReplacer(" ", "", "-", "")
	f.Fuzz(func(t *testing.T, before, after string, form uint8) {
		form %= uint8(len(typed))
		if strings.Contains(strip.Replace(before), middle) || strings.Contains(strip.Replace(after), middle) {
			return // the text itself brings those digits
		}
		in := before + typed[form] + after
		if form == 0 {
			if got := Redact(in); strings.Contains(strip.Replace(got), middle) {
				t.Fatalf("Redact(%q) = %q shows %s", in, got, middle)
			}
		}
		// pan.MaskText keeps the text's length, so the middle digits can be
		// checked where they were. Digits glued on either side make another,
		// longer number, which is judged as such.
		if form > 0 && (before != "" && isDigit(before[len(before)-1]) || after != "" && isDigit(after[0])) {
			return
		}
		from, to := -1, 0 // in[from:to] holds the 7th to the 12th digit
		for i, k := len(before), 0; k < 12; i++ {
			if isDigit(in[i]) {
				if k == 6 {
					from = i
				}
				k, to = k+1, i+1
			}
		}
		got := MaskText(in)
		if !strings.ContainsAny(got[from:to], "0123456789") || form == 1 && insideUUID(in, from, to) {
			return
		}
		t.Fatalf("MaskText(%q) = %q shows %s", in, got, got[from:to])
	})
}

// BenchmarkRedact measures Redact on the texts it sees most: a log message
// carrying UUIDv7 ids, a webhook body, a line with no digits to speak of, and
// one holding a card number.
func BenchmarkRedact(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"uuids", "payment 01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e charged: request pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e, capture 01937a2f-1234-7567-8901-234567890123 at 2024-11-23 10:30:00"},
		{"webhook", `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"paymentRequestId":"pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e","paymentId":"202411231940108001001884C0212345678","paymentAmount":{"currency":"USD","value":"4200"},"paymentCreateTime":"2024-11-23T10:30:00-08:00","paymentTime":"2024-11-23T10:30:01-08:00"}`},
		{"plain", "apo: result U PAYMENT_IN_PROCESS for pay_01J9Z8"},
		{"card", "card 4111 1111 1111 1111 declined for order 1700000000000"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Redact(bc.in)
			}
		})
	}
}
