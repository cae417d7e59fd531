// Package money owns our representation of amounts: an int64 count of minor
// units of an ISO 4217 currency, the table of currency exponents, and the
// exact conversions between minor units (APO's API), major-unit decimals (APO's
// settlement reports, finance exports) and text. Nothing here uses floating
// point: every conversion is integer or string arithmetic, so no amount ever
// gains or loses a unit.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in the minor unit of an ISO 4217 currency (cents for
// USD, yen for JPY, fils for KWD). Never use floating point for money.
type Money struct {
	Minor    int64
	Currency string
}

// Errors callers may test for with errors.Is. Every error returned by this
// package wraps exactly one of them.
var (
	// ErrUnknownCurrency means the code is not in the ISO 4217 table (or is
	// not spelled in upper case).
	ErrUnknownCurrency = errors.New("unknown currency")
	// ErrInvalidAmount means the text is not an amount in the expected form.
	ErrInvalidAmount = errors.New("invalid amount")
	// ErrOverflow means the amount does not fit in an int64 of minor units.
	ErrOverflow = errors.New("amount out of range")
	// ErrCurrencyMismatch means arithmetic was asked across two currencies.
	ErrCurrencyMismatch = errors.New("currency mismatch")
)

// ParseMinor parses APO's amount value: a string of minor units such as
// "4200" for USD 42.00. The form is strict, because it is a wire format and
// anything else points at a bug on one side: ASCII digits only, no sign, no
// decimal point, no spaces, no leading zeros (except "0" itself, so that
// MinorString gives back the same text), and at most math.MaxInt64.
//
// Zero is accepted. APO requires amounts to be positive; that is a business
// rule, so callers check m.Minor > 0 where it applies.
func ParseMinor(value, ccy string) (Money, error) {
	if !Known(ccy) {
		return Money{}, fmt.Errorf("parse minor amount %s: currency %q: %w", describe(value), truncate(ccy), ErrUnknownCurrency)
	}
	fail := func(reason string, err error) (Money, error) {
		return Money{}, fmt.Errorf("parse minor amount %s %s: %s: %w", describe(value), ccy, reason, err)
	}
	switch {
	case value == "":
		return fail("empty", ErrInvalidAmount)
	case !allDigits(value):
		return fail("not a string of digits", ErrInvalidAmount)
	case len(value) > 1 && value[0] == '0':
		return fail("leading zero", ErrInvalidAmount)
	}
	n, ok := accumulate(0, value, math.MaxInt64)
	if !ok {
		return fail("more than the largest int64", ErrOverflow)
	}
	return Money{Minor: int64(n), Currency: ccy}, nil
}

// ParseMajor converts a decimal in major units, as APO's settlement reports
// and finance spreadsheets write them ("42.00", "1339", "0.5", "-12.30"), into
// exact minor units of ccy.
//
// Accepted: an optional '-' (only when allowNegative; '+' never), one or more
// ASCII digits (leading zeros are harmless and allowed), then optionally '.'
// and one or more digits. Rejected: empty text, ".5", "5.", spaces, thousands
// separators ("1,000.00"), exponents ("1e3"), and more decimal places than the
// currency has ("1.001" USD, "1.5" JPY) — unless the extra places are all
// zeros: "42.000" USD and "1339.00" JPY are accepted, because report writers
// pad to a fixed number of places and the value is still exact.
//
// The range is that of int64 minor units, so math.MinInt64 parses when
// negatives are allowed; anything beyond fails with ErrOverflow.
func ParseMajor(value, ccy string, allowNegative bool) (Money, error) {
	exp, ok := exponents[ccy]
	if !ok {
		return Money{}, fmt.Errorf("parse amount %s: currency %q: %w", describe(value), truncate(ccy), ErrUnknownCurrency)
	}
	fail := func(reason string, err error) (Money, error) {
		return Money{}, fmt.Errorf("parse amount %s %s: %s: %w", describe(value), ccy, reason, err)
	}

	s := value
	neg := strings.HasPrefix(s, "-")
	if neg {
		if !allowNegative {
			return fail("negative amount not allowed", ErrInvalidAmount)
		}
		s = s[1:]
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case whole == "" || !allDigits(whole):
		return fail("expected digits before the decimal point", ErrInvalidAmount)
	case hasPoint && (frac == "" || !allDigits(frac)):
		return fail("expected digits after the decimal point", ErrInvalidAmount)
	}
	if len(frac) > exp {
		if strings.Trim(frac[exp:], "0") != "" {
			return fail(fmt.Sprintf("more than %d decimal places", exp), ErrInvalidAmount)
		}
		frac = frac[:exp]
	}

	// The magnitude of a negative int64 can be one more than MaxInt64.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	n, ok := accumulate(0, whole, limit)
	if ok {
		n, ok = accumulate(n, frac, limit)
	}
	for i := len(frac); ok && i < exp; i++ { // pad "0.5" to 50 cents
		n, ok = accumulate(n, "0", limit)
	}
	if !ok {
		return fail("does not fit in int64 minor units", ErrOverflow)
	}
	if neg {
		// Two's complement negation, correct for the MinInt64 magnitude too.
		return Money{Minor: int64(-n), Currency: ccy}, nil
	}
	return Money{Minor: int64(n), Currency: ccy}, nil
}

// FormatMajor writes m in major units with exactly the currency's number of
// decimal places: "42.00" (USD 4200), "1339" (JPY 1339), "-0.50" (USD -50),
// "1.234" (KWD 1234). It is the inverse of ParseMajor.
//
// For a currency not in the table it writes the minor units unscaled; amounts
// are validated with New, ParseMinor or ParseMajor where they enter, so that
// only happens with a Money built by hand.
func FormatMajor(m Money) string {
	exp := exponents[m.Currency] // 0 when unknown: the documented fallback
	u := uint64(m.Minor)
	neg := m.Minor < 0
	if neg {
		u = -u // magnitude, correct for math.MinInt64 too
	}
	digits := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// String returns the currency code and the major-unit amount, "USD 42.00",
// for logs and messages meant for people.
func (m Money) String() string {
	return m.Currency + " " + FormatMajor(m)
}

// MinorString returns the minor units as APO's amount value: "4200" for
// USD 42.00.
func (m Money) MinorString() string {
	return strconv.FormatInt(m.Minor, 10)
}

// Add returns m + o. It fails with ErrCurrencyMismatch when the currencies
// differ and with ErrOverflow when the sum leaves the int64 range, rather
// than wrapping around silently.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("add %s to %s: %w", truncate(o.Currency), truncate(m.Currency), ErrCurrencyMismatch)
	}
	s := m.Minor + o.Minor
	if (o.Minor > 0 && s < m.Minor) || (o.Minor < 0 && s > m.Minor) {
		return Money{}, fmt.Errorf("add %s to %s: %w", o, m, ErrOverflow)
	}
	return Money{Minor: s, Currency: m.Currency}, nil
}

// Sub returns m - o, with the same errors as Add.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("subtract %s from %s: %w", truncate(o.Currency), truncate(m.Currency), ErrCurrencyMismatch)
	}
	d := m.Minor - o.Minor
	if (o.Minor > 0 && d > m.Minor) || (o.Minor < 0 && d < m.Minor) {
		return Money{}, fmt.Errorf("subtract %s from %s: %w", o, m, ErrOverflow)
	}
	return Money{Minor: d, Currency: m.Currency}, nil
}

// allDigits reports whether s is made only of ASCII digits (true for "").
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// accumulate appends the ASCII digits of s to n in base 10, reporting false
// as soon as the value would exceed limit.
func accumulate(n uint64, s string, limit uint64) (uint64, bool) {
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// describe quotes a rejected input for an error message. Text with twelve or
// more digits might be a card number sent into the wrong field, and error
// messages end up in logs and tables, so such input is summarised by its
// length instead of being copied.
func describe(s string) string {
	const maxQuoted = 40
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	if digits >= 12 || len(s) > maxQuoted {
		return fmt.Sprintf("(%d bytes, not shown)", len(s))
	}
	return strconv.Quote(s)
}
