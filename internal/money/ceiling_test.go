package money

import (
	"errors"
	"math"
	"testing"
)

func TestCeiling(t *testing.T) {
	for _, tc := range []struct {
		ccy  string
		want int64
	}{
		{"USD", 10_000_000_000_000},
		{"JPY", 100_000_000_000},
		{"KWD", 100_000_000_000_000},
		{"CLF", 1_000_000_000_000_000},
	} {
		got, err := Ceiling(tc.ccy)
		if err != nil || got != tc.want {
			t.Errorf("Ceiling(%s) = %d, %v; want %d", tc.ccy, got, err, tc.want)
		}
		if err := CheckCeiling(Money{Minor: tc.want, Currency: tc.ccy}); err != nil {
			t.Errorf("%s at the ceiling refused: %v", tc.ccy, err)
		}
		for _, over := range []int64{tc.want + 1, -tc.want - 1, math.MaxInt64, math.MinInt64} {
			if err := CheckCeiling(Money{Minor: over, Currency: tc.ccy}); !errors.Is(err, ErrAboveCeiling) {
				t.Errorf("CheckCeiling(%d %s) = %v, want ErrAboveCeiling", over, tc.ccy, err)
			}
		}
	}
	if _, err := Ceiling("usd"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("Ceiling(usd) = %v", err)
	}
	// The largest exponent in the table must still leave room in int64.
	for ccy, exp := range exponents {
		if exp > 4 {
			t.Errorf("%s has %d decimals: Ceiling would need a new bound", ccy, exp)
		}
	}
}
