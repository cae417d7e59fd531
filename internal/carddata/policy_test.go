package carddata_test

import (
	"testing"

	"github.com/payops/payops/internal/carddata"
)

// TestPolicy walks the rows of the package comment's table: one field per
// row, through Field and through RedactJSON, which must agree.
func TestPolicy(t *testing.T) {
	const R = carddata.Redacted
	for _, tt := range []struct{ row, key, in, want string }{
		{"card number field, clear", "cardNo", "4111111111111111", R},
		{"card number field, typo", "card_number", "4111 1111 1111 1112", R},
		{"card number field, short", "PAN", "4111", R},
		{"card number field, already masked", "cardNo", "411111******1111", "411111******1111"},
		{"card number field, masked to the last four", "cardNumber", "************1111", "************1111"},
		{"card number field, more than six and four shown", "cardNo", "4111111*****1111", R},
		{"security code", "cvv", "918", R},
		{"security code, masked look", "securityCode", "***", R},
		{"security code digest", "cardPasswordDigest", "ab12", R},
		{"card token", "cardToken", "tok_1", R},
		{"saved card token", "paymentMethodId", "pm_1", R},
		{"acquirer card token", "acquirer_card_token", "atok", R},
		{"base64 document", "disputeEvidence", "SGVsbG8=", "[8 base64 characters omitted]"},
		{"free text", "resultMessage", "card 4111 1111 1111 1111 declined", "card 4111 11** **** 1111 declined"},
		{"free text, key=value inside", "note", "cvv=918 ok", "cvv=" + R + " ok"},
		{"masked display field", "maskedCardNo", "411111******1111", "411111******1111"},
		{"bin and last four", "cardBin", "411111", "411111"},
		{"an id", "paymentRequestId", "pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e", "pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e"},
	} {
		t.Run(tt.row, func(t *testing.T) {
			if got := carddata.Field(tt.key, tt.in); got != tt.want {
				t.Errorf("Field(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
			}
			in := `{"` + tt.key + `":"` + tt.in + `"}`
			want := `{"` + tt.key + `":"` + tt.want + `"}`
			if got := string(carddata.RedactJSON([]byte(in))); got != want {
				t.Errorf("RedactJSON(%s) = %s, want %s", in, got, want)
			}
		})
	}
}

func TestPolicyNonStringValues(t *testing.T) {
	for in, want := range map[string]string{
		// A card number or secret field withholds any value.
		`{"cardNo":4111111111111111,"cvv":918,"cardToken":{"id":"t"},"pan":["4111"],"csc":null}`: `{"cardNo":"[REDACTED]","cvv":"[REDACTED]","cardToken":"[REDACTED]","pan":"[REDACTED]","csc":"[REDACTED]"}`,
		// A document field that is not a string is walked as any other.
		`{"disputeEvidence":{"note":"4111111111111111","cvv":"918"}}`: `{"disputeEvidence":{"note":"411111******1111","cvv":"[REDACTED]"}}`,
		// An integer that is a card number becomes its masked text.
		`{"n":4111111111111111}`: `{"n":"411111******1111"}`,
		// JSON inside a string is redacted as a document.
		`{"body":"{\"cardNo\":\"4111111111111111\",\"masked\":\"411111******1111\"}"}`: `{"body":"{\"cardNo\":\"[REDACTED]\",\"masked\":\"411111******1111\"}"}`,
	} {
		if got := string(carddata.RedactJSON([]byte(in))); got != want {
			t.Errorf("RedactJSON(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

func TestIsMasked(t *testing.T) {
	for s, want := range map[string]bool{
		"411111******1111":    true,
		"************1111":    true,
		"378282*****0005":     true,
		"***":                 true,
		"4111111111111111":    false,
		"4111111*****1111":    false, // seven shown at the front
		"411111*****11111":    false, // five shown at the end
		"4111":                false, // short, but not hidden
		"":                    false,
		"411111*********1111": true,
	} {
		if got := carddata.IsMasked(s); got != want {
			t.Errorf("IsMasked(%q) = %v, want %v", s, got, want)
		}
		if want && carddata.Mask(s) != s {
			t.Errorf("IsMasked(%q) but Mask changes it to %q", s, carddata.Mask(s))
		}
	}
}
