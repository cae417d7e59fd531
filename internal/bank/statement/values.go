package statement

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payops/payops/internal/money"
	"golang.org/x/text/encoding/charmap"
)

// amountOf converts a canonical major-unit decimal ("1234.56", no sign)
// into minor units of ccy, negated for a debit, within money's ceiling.
// The reason it returns is meant for a LineError.
func amountOf(v, ccy string, debit bool) (money.Money, string) {
	m, err := money.ParseMajor(v, ccy, false)
	if err != nil {
		switch {
		case errors.Is(err, money.ErrUnknownCurrency):
			return money.Money{}, fmt.Sprintf("unknown currency %q", clip(ccy))
		case errors.Is(err, money.ErrOverflow):
			return money.Money{}, "amount out of range"
		}
		return money.Money{}, fmt.Sprintf("amount %q is not a decimal in %s", clip(v), ccy)
	}
	if err := money.CheckCeiling(m); err != nil {
		return money.Money{}, "amount above the ceiling of " + money.FormatMajor(money.Money{Minor: mustCeiling(ccy), Currency: ccy})
	}
	if debit {
		m.Minor = -m.Minor
	}
	return m, ""
}

// mustCeiling is money.Ceiling for a currency already known to be valid.
func mustCeiling(ccy string) int64 {
	c, _ := money.Ceiling(ccy)
	return c
}

// commaDecimal turns an amount written with a decimal comma and no sign
// ("1234,56", "1234,", "0,5": SWIFT's 15d) into canonical form, or reports
// false.
func commaDecimal(v string) (string, bool) {
	whole, frac, _ := strings.Cut(v, ",")
	if whole == "" || !digits(whole) || !digits(frac) {
		return "", false
	}
	if frac == "" {
		return whole, true
	}
	return whole + "." + frac, true
}

// digits reports whether s is made of ASCII digits only (true for "").
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error message: an error names the
// problem, it does not copy a whole field of a customer's statement.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// isoDate parses an xs:date ("2026-12-01", optionally with a zone, which
// does not change the date) into its UTC midnight.
func isoDate(v string) (time.Time, bool) {
	if len(v) < 10 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02", v[:10])
	if err != nil || !zoneSuffix(v[10:]) {
		return time.Time{}, false
	}
	return t, true
}

// zoneSuffix accepts what xs:date and xs:dateTime allow after the value:
// nothing, "Z", or "+hh:mm"/"-hh:mm".
func zoneSuffix(s string) bool {
	switch {
	case s == "" || s == "Z":
		return true
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		return digits(s[1:3]) && digits(s[4:6])
	}
	return false
}

// isoDateTime parses an xs:dateTime, with or without a zone and fraction.
// A value without a zone is taken as UTC.
func isoDateTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// toUTF8 returns s unchanged when it is valid UTF-8 and otherwise reads it
// as Windows-1252: German banks still write MT940 and CSV files in it, and
// a statement's text must reach the database as valid UTF-8.
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}

// settlePeriod fills FromDate and ToDate where the layout did not say them
// outright: ToDate from the closing balance's date, FromDate from the
// opening balance's date (the day after it when that balance is the
// previous statement's closing, as MT940 :60F: and camt PRCD usually are),
// widened to the earliest booking date, and each from the other when only
// one is known.
func settlePeriod(s *Statement, openIsPrevClose bool) {
	if s.ToDate.IsZero() {
		s.ToDate = s.ClosingBalance.Date
	}
	if s.FromDate.IsZero() && s.OpeningBalance.Valid {
		d := s.OpeningBalance.Date
		if openIsPrevClose && !d.IsZero() && d.Before(s.ToDate) {
			d = d.AddDate(0, 0, 1)
		}
		s.FromDate = d
	}
	for _, e := range s.Entries {
		if e.BookingDate.IsZero() {
			continue
		}
		if s.FromDate.IsZero() || e.BookingDate.Before(s.FromDate) {
			s.FromDate = e.BookingDate
		}
		if s.ToDate.IsZero() || e.BookingDate.After(s.ToDate) {
			s.ToDate = e.BookingDate
		}
	}
	switch {
	case s.FromDate.IsZero():
		s.FromDate = s.ToDate
	case s.ToDate.IsZero() || s.ToDate.Before(s.FromDate):
		s.ToDate = s.FromDate
	}
}
