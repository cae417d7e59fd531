package money

import (
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestExponent(t *testing.T) {
	tests := []struct {
		ccy  string
		want int
	}{
		{"USD", 2}, {"EUR", 2}, {"SGD", 2}, {"GBP", 2}, {"CNY", 2}, {"IDR", 2},
		{"JPY", 0}, {"KRW", 0}, {"VND", 0}, {"CLP", 0}, {"ISK", 0}, {"XOF", 0},
		{"XAF", 0}, {"UGX", 0}, {"PYG", 0}, {"XPF", 0},
		{"KWD", 3}, {"BHD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3},
		{"CLF", 4}, {"UYW", 4},
	}
	for _, tt := range tests {
		got, err := Exponent(tt.ccy)
		if err != nil || got != tt.want {
			t.Errorf("Exponent(%q) = %d, %v; want %d, nil", tt.ccy, got, err, tt.want)
		}
		if !Known(tt.ccy) {
			t.Errorf("Known(%q) = false, want true", tt.ccy)
		}
	}
	for _, ccy := range []string{"", "usd", "Usd", "XAU", "XDR", "XTS", "XXX", "HRK", "ABC", "USDX", " USD"} {
		if _, err := Exponent(ccy); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("Exponent(%q) error = %v, want ErrUnknownCurrency", ccy, err)
		}
		if Known(ccy) {
			t.Errorf("Known(%q) = true, want false", ccy)
		}
	}
}

func TestExponentTableShape(t *testing.T) {
	if len(exponents) < 150 {
		t.Fatalf("table has %d currencies, want the whole ISO 4217 list (> 150)", len(exponents))
	}
	for ccy, e := range exponents {
		if len(ccy) != 3 || strings.ToUpper(ccy) != ccy {
			t.Errorf("code %q is not three upper-case letters", ccy)
		}
		if !slices.Contains([]int{0, 2, 3, 4}, e) {
			t.Errorf("%s exponent %d, ISO 4217 only uses 0, 2, 3 and 4", ccy, e)
		}
	}
}

func TestParseMinor(t *testing.T) {
	tests := []struct {
		in, ccy string
		want    int64
		wantErr error
	}{
		{"4200", "USD", 4200, nil},
		{"1", "JPY", 1, nil},
		{"0", "USD", 0, nil},
		{"9223372036854775807", "USD", math.MaxInt64, nil},
		{"9223372036854775808", "USD", 0, ErrOverflow},
		{"99999999999999999999999", "USD", 0, ErrOverflow},
		{"", "USD", 0, ErrInvalidAmount},
		{"-1", "USD", 0, ErrInvalidAmount},
		{"+1", "USD", 0, ErrInvalidAmount},
		{"42.00", "USD", 0, ErrInvalidAmount},
		{" 42", "USD", 0, ErrInvalidAmount},
		{"42 ", "USD", 0, ErrInvalidAmount},
		{"0042", "USD", 0, ErrInvalidAmount},
		{"00", "USD", 0, ErrInvalidAmount},
		{"4e2", "USD", 0, ErrInvalidAmount},
		{"４２", "USD", 0, ErrInvalidAmount}, // full-width digits
		{"4200", "usd", 0, ErrUnknownCurrency},
		{"4200", "", 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := ParseMinor(tt.in, tt.ccy)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseMinor(%q, %q) error = %v, want %v", tt.in, tt.ccy, err, tt.wantErr)
			}
			continue
		}
		want := Money{Minor: tt.want, Currency: tt.ccy}
		if err != nil || got != want {
			t.Errorf("ParseMinor(%q, %q) = %+v, %v; want %+v", tt.in, tt.ccy, got, err, want)
		}
		if s := got.MinorString(); s != tt.in {
			t.Errorf("MinorString() = %q, want %q", s, tt.in)
		}
	}
}

func TestParseMajor(t *testing.T) {
	tests := []struct {
		in, ccy string
		neg     bool
		want    int64
		wantErr error
	}{
		{"42.00", "USD", false, 4200, nil},
		{"42", "USD", false, 4200, nil},
		{"0.5", "USD", false, 50, nil},
		{"0.05", "USD", false, 5, nil},
		{"0", "USD", false, 0, nil},
		{"007.10", "USD", false, 710, nil},
		{"42.000", "USD", false, 4200, nil},     // padded zeros beyond the exponent
		{"42.1000000", "USD", false, 4210, nil}, // …however many
		{"1339", "JPY", false, 1339, nil},
		{"1339.00", "JPY", false, 1339, nil},
		{"1.234", "KWD", false, 1234, nil},
		{"1.2", "KWD", false, 1200, nil},
		{"0.0001", "CLF", false, 1, nil},
		{"-12.30", "USD", true, -1230, nil},
		{"-0.50", "USD", true, -50, nil},
		{"-0", "USD", true, 0, nil},
		{"92233720368547758.07", "USD", false, math.MaxInt64, nil},
		{"-92233720368547758.08", "USD", true, math.MinInt64, nil},
		{"9223372036854775807", "JPY", false, math.MaxInt64, nil},
		{"-9223372036854775808", "JPY", true, math.MinInt64, nil},

		{"92233720368547758.08", "USD", false, 0, ErrOverflow},
		{"-92233720368547758.09", "USD", true, 0, ErrOverflow},
		{"9223372036854775808", "JPY", false, 0, ErrOverflow},
		{"100000000000000000", "USD", false, 0, ErrOverflow},
		{"1.001", "USD", false, 0, ErrInvalidAmount},
		{"1.0001", "USD", false, 0, ErrInvalidAmount},
		{"1.5", "JPY", false, 0, ErrInvalidAmount},
		{"1.2345", "KWD", false, 0, ErrInvalidAmount},
		{"-12.30", "USD", false, 0, ErrInvalidAmount},
		{"+12.30", "USD", true, 0, ErrInvalidAmount},
		{"--1", "USD", true, 0, ErrInvalidAmount},
		{"-", "USD", true, 0, ErrInvalidAmount},
		{".5", "USD", false, 0, ErrInvalidAmount},
		{"5.", "USD", false, 0, ErrInvalidAmount},
		{"1.2.3", "USD", false, 0, ErrInvalidAmount},
		{"1,000.00", "USD", false, 0, ErrInvalidAmount},
		{"1 000", "USD", false, 0, ErrInvalidAmount},
		{" 1", "USD", false, 0, ErrInvalidAmount},
		{"1e3", "USD", false, 0, ErrInvalidAmount},
		{"NaN", "USD", false, 0, ErrInvalidAmount},
		{"", "USD", false, 0, ErrInvalidAmount},
		{"0x10", "USD", false, 0, ErrInvalidAmount},
		{"1.00", "XAU", false, 0, ErrUnknownCurrency},
		{"1.00", "eur", false, 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := ParseMajor(tt.in, tt.ccy, tt.neg)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseMajor(%q, %q, %v) error = %v, want %v", tt.in, tt.ccy, tt.neg, err, tt.wantErr)
			}
			continue
		}
		want := Money{Minor: tt.want, Currency: tt.ccy}
		if err != nil || got != want {
			t.Errorf("ParseMajor(%q, %q, %v) = %+v, %v; want %+v", tt.in, tt.ccy, tt.neg, got, err, want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		m                  Money
		major, str, minors string
	}{
		{Money{4200, "USD"}, "42.00", "USD 42.00", "4200"},
		{Money{5, "USD"}, "0.05", "USD 0.05", "5"},
		{Money{0, "USD"}, "0.00", "USD 0.00", "0"},
		{Money{-50, "USD"}, "-0.50", "USD -0.50", "-50"},
		{Money{1339, "JPY"}, "1339", "JPY 1339", "1339"},
		{Money{-1, "JPY"}, "-1", "JPY -1", "-1"},
		{Money{1234, "KWD"}, "1.234", "KWD 1.234", "1234"},
		{Money{7, "BHD"}, "0.007", "BHD 0.007", "7"},
		{Money{12345, "CLF"}, "1.2345", "CLF 1.2345", "12345"},
		{Money{math.MaxInt64, "USD"}, "92233720368547758.07", "USD 92233720368547758.07", "9223372036854775807"},
		{Money{math.MinInt64, "USD"}, "-92233720368547758.08", "USD -92233720368547758.08", "-9223372036854775808"},
		{Money{4200, "XYZ"}, "4200", "XYZ 4200", "4200"}, // unknown: unscaled, as documented
	}
	for _, tt := range tests {
		if got := FormatMajor(tt.m); got != tt.major {
			t.Errorf("FormatMajor(%+v) = %q, want %q", tt.m, got, tt.major)
		}
		if got := tt.m.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.m.MinorString(); got != tt.minors {
			t.Errorf("MinorString() = %q, want %q", got, tt.minors)
		}
	}
}

func TestAddSub(t *testing.T) {
	usd := func(n int64) Money { return Money{n, "USD"} }
	if got, err := usd(150).Add(usd(-50)); err != nil || got != usd(100) {
		t.Errorf("150 + -50 = %+v, %v", got, err)
	}
	if got, err := usd(150).Sub(usd(200)); err != nil || got != usd(-50) {
		t.Errorf("150 - 200 = %+v, %v", got, err)
	}
	if got, err := usd(math.MinInt64 + 1).Sub(usd(1)); err != nil || got != usd(math.MinInt64) {
		t.Errorf("(MinInt64+1) - 1 = %+v, %v", got, err)
	}
	overflows := []struct {
		name string
		fn   func() (Money, error)
	}{
		{"max+1", func() (Money, error) { return usd(math.MaxInt64).Add(usd(1)) }},
		{"min+-1", func() (Money, error) { return usd(math.MinInt64).Add(usd(-1)) }},
		{"min-1", func() (Money, error) { return usd(math.MinInt64).Sub(usd(1)) }},
		{"max-(-1)", func() (Money, error) { return usd(math.MaxInt64).Sub(usd(-1)) }},
		{"0-min", func() (Money, error) { return usd(0).Sub(usd(math.MinInt64)) }},
	}
	for _, o := range overflows {
		if _, err := o.fn(); !errors.Is(err, ErrOverflow) {
			t.Errorf("%s: error = %v, want ErrOverflow", o.name, err)
		}
	}
	if _, err := usd(1).Add(Money{1, "EUR"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("USD + EUR error = %v, want ErrCurrencyMismatch", err)
	}
	if _, err := usd(1).Sub(Money{1, "EUR"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("USD - EUR error = %v, want ErrCurrencyMismatch", err)
	}
}

// A card number fed into an amount field by mistake must not be copied into
// the error, which is likely to be logged or stored.
func TestParseErrorsDoNotEchoCardNumbers(t *testing.T) {
	for _, in := range []string{"4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111.123", "-4111111111111111"} {
		_, err := ParseMajor(in, "USD", false)
		if err == nil {
			t.Fatalf("ParseMajor(%q) succeeded", in)
		}
		if strings.Contains(err.Error(), "1111") {
			t.Errorf("error %q echoes the input", err)
		}
		_, err = ParseMinor(in, "USD")
		if err == nil || strings.Contains(err.Error(), "1111") {
			t.Errorf("ParseMinor(%q) error %v echoes the input or is nil", in, err)
		}
	}
	// Short garbage is quoted, which helps whoever reads the error.
	if _, err := ParseMajor("12,50", "EUR", false); err == nil || !strings.Contains(err.Error(), `"12,50"`) {
		t.Errorf("error %v does not quote short input", err)
	}
}

// codes lists the table's currencies in a fixed order for the fuzz targets.
func codes() []string {
	cs := make([]string, 0, len(exponents))
	for c := range exponents {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// FuzzRoundTrip checks that formatting any int64 amount in any known currency
// and parsing it back never loses or gains a unit.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(4200), uint16(0))
	f.Add(int64(math.MinInt64), uint16(7))
	f.Add(int64(-1), uint16(100))
	cs := codes()
	f.Fuzz(func(t *testing.T, minor int64, idx uint16) {
		m := Money{Minor: minor, Currency: cs[int(idx)%len(cs)]}
		s := FormatMajor(m)
		got, err := ParseMajor(s, m.Currency, true)
		if err != nil || got != m {
			t.Fatalf("ParseMajor(FormatMajor(%+v) = %q) = %+v, %v", m, s, got, err)
		}
		if minor >= 0 {
			if got, err := ParseMinor(m.MinorString(), m.Currency); err != nil || got != m {
				t.Fatalf("ParseMinor(%q) = %+v, %v; want %+v", m.MinorString(), got, err, m)
			}
		}
	})
}

// FuzzParseMajor feeds arbitrary text to ParseMajor: it must never panic, and
// whatever it accepts must be exactly the decimal value of the text (checked
// against math/big) and must survive a format/parse round trip.
func FuzzParseMajor(f *testing.F) {
	for _, s := range []string{"42.00", "-0.50", "1.001", "0.0001", "92233720368547758.08", "1,000", ".5", "0x1p3", "1_0"} {
		f.Add(s, uint16(0), true)
	}
	cs := codes()
	f.Fuzz(func(t *testing.T, s string, idx uint16, allowNeg bool) {
		ccy := cs[int(idx)%len(cs)]
		m, err := ParseMajor(s, ccy, allowNeg)
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("ParseMajor(%q, %s) error %v wraps no sentinel", s, ccy, err)
			}
			return
		}
		if !allowNeg && m.Minor < 0 {
			t.Fatalf("ParseMajor(%q, %s, false) = %d, negative", s, ccy, m.Minor)
		}
		// big.Rat accepts a superset of our syntax; it is the oracle for value.
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("ParseMajor accepted %q, which is not a decimal", s)
		}
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exponents[ccy])), nil)
		r.Mul(r, new(big.Rat).SetInt(scale))
		if !r.IsInt() || r.Num().Cmp(big.NewInt(m.Minor)) != 0 {
			t.Fatalf("ParseMajor(%q, %s) = %d, exact value is %s minor units", s, ccy, m.Minor, r.RatString())
		}
		back, err := ParseMajor(FormatMajor(m), ccy, true)
		if err != nil || back != m {
			t.Fatalf("round trip of %+v via %q = %+v, %v", m, FormatMajor(m), back, err)
		}
	})
}

// FuzzParseMinor checks that APO's wire form is canonical: whatever parses
// formats back to the same text.
func FuzzParseMinor(f *testing.F) {
	for _, s := range []string{"4200", "0", "007", "9223372036854775808", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMinor(s, "USD")
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("ParseMinor(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		if m.Minor < 0 || m.MinorString() != s {
			t.Fatalf("ParseMinor(%q) = %+v, formats back as %q", s, m, m.MinorString())
		}
	})
}
