package carddata_test

import (
	"testing"

	"github.com/payops/payops/internal/carddata"
)

func TestLuhn(t *testing.T) {
	for _, s := range []string{"4111111111111111", "5555555555554444", "378282246310005", "4000000000003220",
		"6011000990139424", "4111 1111 1111 1111", "4111-1111-1111-1111"} {
		if !carddata.Luhn(s) {
			t.Errorf("Luhn(%s) = false, want true", s)
		}
	}
	for _, s := range []string{"4111111111111112", "1700000000000", "1234567890123"} {
		if carddata.Luhn(s) {
			t.Errorf("Luhn(%s) = true, want false", s)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"4111111111111111":    "411111******1111",
		"378282246310005":     "378282*****0005",
		"411111******1111":    "411111******1111", // already masked: unchanged
		"41111111111":         "***********",      // too short to show six and four
		"":                    "",
		"4111111111111111111": "411111*********1111",
	} {
		if got := carddata.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMaskText covers the policy every stored text goes through; the
// tests of Redact in redact_test.go cover the rest of its cases.
func TestMaskText(t *testing.T) {
	for in, want := range map[string]string{
		"2 x beans, card 4111 1111 1111 1111":      "2 x beans, card 4111 11** **** 1111",
		"4111-1111-1111-1111":                      "4111-11**-****-1111",
		"Ada 5555555555554444 Lovelace":            "Ada 555555******4444 Lovelace",
		"4111111111111112":                         "4111111111111112",                         // fails Luhn
		"pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e": "pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e", // an id
		"202611231940108001001888G0000000001":      "202611231940108001001888G0000000001",      // APO id: one long run
	} {
		if got := carddata.MaskText(in); got != want {
			t.Errorf("MaskText(%q) = %q, want %q", in, got, want)
		}
	}
}
