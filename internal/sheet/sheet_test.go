package sheet_test

import (
	"testing"

	"github.com/payops/payops/internal/sheet"
)

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"order-1":           "order-1",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1":                "'+1",
		"-2+3":              "'-2+3",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tcmd":             "'\tcmd",
		"\rcmd":             "'\rcmd",
		"a=b":               "a=b",
		"'=quoted":          "'=quoted",
	} {
		if got := sheet.Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}
