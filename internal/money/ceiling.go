package money

import (
	"errors"
	"fmt"
)

// ErrAboveCeiling means an amount's magnitude is beyond Ceiling for its
// currency: no card payment, capture, refund, dispute or report line is that
// large, so such a value is a mistake or an attack, never money to book.
var ErrAboveCeiling = errors.New("amount above the ceiling")

// CeilingMajor is the documented bound on every amount payops accepts, in
// major units of the amount's currency: USD 100,000,000,000.00, JPY
// 100,000,000,000, KWD 100,000,000,000.000. APO's own per-transaction limits
// are far below it; it exists so that no input can come near the int64 range
// of minor units (the ceiling is at most 10^15 minor units, for a currency
// with four decimals, so 9,000 amounts at the ceiling still add up in int64;
// sums of more than that are done in numeric or checked with Add).
const CeilingMajor = 100_000_000_000

// Ceiling returns the largest magnitude, in minor units of ccy, that payops
// accepts: CeilingMajor × 10^exponent.
func Ceiling(ccy string) (int64, error) {
	exp, err := Exponent(ccy)
	if err != nil {
		return 0, err
	}
	c := int64(CeilingMajor)
	for range exp {
		c *= 10
	}
	return c, nil
}

// CheckCeiling fails with ErrAboveCeiling when |m| exceeds Ceiling for its
// currency, and with ErrUnknownCurrency when the currency is not known.
func CheckCeiling(m Money) error {
	c, err := Ceiling(m.Currency)
	if err != nil {
		return err
	}
	if m.Minor > c || m.Minor < -c {
		return fmt.Errorf("%s %s is beyond %s: %w", m.Currency, FormatMajor(m), FormatMajor(Money{Minor: c, Currency: m.Currency}), ErrAboveCeiling)
	}
	return nil
}
