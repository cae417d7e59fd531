package sandbox

import (
	"fmt"
	"math/big"
	"strings"
)

// usdRates are the sandbox's built-in exchange rates: US dollars per unit
// of each currency it knows. They are plausible, not live; a pair's quote
// is derived from them unless Config.FXRates gives it.
var usdRates = map[string]string{
	"BIF": "0.00034", "CLP": "0.00105", "DJF": "0.0056", "GNF": "0.000116", "ISK": "0.0072",
	"JPY": "0.0067", "KMF": "0.0022", "KRW": "0.00072", "PYG": "0.000128", "RWF": "0.00072",
	"UGX": "0.00027", "VND": "0.000039", "VUV": "0.0084", "XAF": "0.00165", "XOF": "0.00165",
	"XPF": "0.0091",
	"BHD": "2.65", "IQD": "0.00076", "JOD": "1.41", "KWD": "3.25", "LYD": "0.205", "OMR": "2.6",
	"TND": "0.32",
	"AED": "0.2723", "ARS": "0.0011", "AUD": "0.65", "BDT": "0.0083", "BGN": "0.55", "BRL": "0.18",
	"CAD": "0.72", "CHF": "1.12", "CNY": "0.138", "COP": "0.00025", "CZK": "0.043", "DKK": "0.145",
	"EGP": "0.02", "EUR": "1.08", "GBP": "1.27", "GEL": "0.37", "HKD": "0.128", "HUF": "0.0027",
	"IDR": "0.000063", "ILS": "0.27", "INR": "0.012", "KES": "0.0077", "KZT": "0.002", "LKR": "0.0033",
	"MAD": "0.1", "MXN": "0.055", "MYR": "0.22", "NGN": "0.00065", "NOK": "0.093", "NZD": "0.6",
	"PEN": "0.27", "PHP": "0.017", "PKR": "0.0036", "PLN": "0.25", "QAR": "0.2747", "RON": "0.217",
	"SAR": "0.2667", "SEK": "0.095", "SGD": "0.74", "THB": "0.029", "TRY": "0.03", "TWD": "0.031",
	"UAH": "0.024", "USD": "1", "ZAR": "0.055",
}

// quoteDecimals is the precision of a derived quote price.
const quoteDecimals = 8

// parseDecimal reads a positive decimal string ("0.0067", "149.25") into
// an exact rational.
func parseDecimal(s string) (*big.Rat, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (strings.Contains(s, ".") && !allDigits(frac)) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return nil, false
	}
	return r, true
}

// formatDecimal writes r with at most decimals places, rounded half away
// from zero, without trailing zeros.
func formatDecimal(r *big.Rat, decimals int) string {
	s := r.FloatString(decimals) // FloatString rounds half away from zero
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// quote is the price of one unit of from in to, as APO's reports write it
// in quotePrice, and the same value exactly.
type quote struct {
	pair  string // "JPY/USD"
	price string // "0.0067"
	rat   *big.Rat
}

// quoteFor finds the quote of a pair: a configured one, else one derived
// from usdRates and rounded to quoteDecimals places. cache keeps the
// quotes of one report run.
func (rs *reportSettings) quoteFor(from, to string, cache map[string]quote) (quote, error) {
	pair := from + "/" + to
	if q, ok := rs.fx[pair]; ok {
		return q, nil
	}
	if q, ok := cache[pair]; ok {
		return q, nil
	}
	f, okf := usdRates[from]
	t, okt := usdRates[to]
	if !okf || !okt {
		return quote{}, fmt.Errorf("no exchange rate for %s; set it in Config.FXRates", pair)
	}
	fr, _ := parseDecimal(f)
	tr, _ := parseDecimal(t)
	price := formatDecimal(new(big.Rat).Quo(fr, tr), quoteDecimals)
	rat, _ := new(big.Rat).SetString(price)
	q := quote{pair: pair, price: price, rat: rat}
	cache[pair] = q
	return q, nil
}

// convert turns minor units of one currency into minor units of another
// at q: amount × price, rounded half-up (away from zero, so a refund
// converts to exactly the negated capture) to the target's exponent.
// Exact: no floating point is involved.
func convert(minor int64, fromExp, toExp int, q quote) int64 {
	v := new(big.Rat).SetInt64(minor)
	v.Mul(v, q.rat)
	shift := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(toExp-fromExp))), nil))
	if toExp >= fromExp {
		v.Mul(v, shift)
	} else {
		v.Quo(v, shift)
	}
	return roundRat(v)
}

// roundRat rounds to the nearest integer, halves away from zero.
func roundRat(v *big.Rat) int64 {
	num := new(big.Int).Abs(v.Num())
	q, r := new(big.Int).QuoRem(num, v.Denom(), new(big.Int))
	if r.Lsh(r, 1).Cmp(v.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if v.Sign() < 0 {
		q.Neg(q)
	}
	return q.Int64()
}

// feeOf is bps basis points of |minor|, rounded half-up.
func feeOf(minor int64, bps int) int64 {
	v := new(big.Int).Mul(big.NewInt(minor), big.NewInt(int64(bps)))
	return roundRat(new(big.Rat).SetFrac(v.Abs(v), big.NewInt(10000)))
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
