package payments_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// fields lists the fields of every *payments.InvalidError joined in err.
func fields(err error) []string {
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fields(e)...)
		}
		return out
	}
	var ie *payments.InvalidError
	if errors.As(err, &ie) {
		out = append(out, ie.Field)
	}
	return out
}

// TestCheckReportsEveryRule: one call names every broken rule, by the
// request's JSON field.
func TestCheckReportsEveryRule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	r := createReq("4111111111111112", 1000, "USD")
	r.ClientIP, r.RedirectURL, r.Card.ExpiryYear = "nope", "/relative", "2020"
	r.Card.HolderFirst, r.Card.HolderLast = "Zoë", "Ł"
	want := []string{"env.client_ip", "redirect_url", "card.number", "card.expiry_year",
		"card.holder_first_name", "card.holder_last_name"}
	if got := fields(r.Check(now)); !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	r = createReq("4111111111111111", 1000, "USD")
	r.Card.HolderFirst, r.Card.HolderLast = "", " "
	if got := fields(r.Check(now)); !slices.Equal(got, []string{"card.holder_first_name"}) {
		t.Fatalf("no holder name: fields %v", got)
	}
	if err := createReq("4111111111111111", 1000, "USD").Check(now); err != nil {
		t.Fatalf("good request: %v", err)
	}
}

// TestCheckCeiling: an amount above money.Ceiling of its currency is
// refused at amount.value; one at the ceiling is not.
func TestCheckCeiling(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for _, ccy := range []string{"USD", "JPY", "KWD", "CLF"} {
		c, err := money.Ceiling(ccy)
		if err != nil {
			t.Fatal(err)
		}
		for v, refused := range map[int64]bool{c: false, c + 1: true, math.MaxInt64: true} {
			err := createReq("4111111111111111", v, ccy).Check(now)
			if got := fields(err); refused != slices.Equal(got, []string{"amount.value"}) || (!refused && err != nil) {
				t.Errorf("%s %d: %v", ccy, v, err)
			}
		}
	}
}
