package sandbox

import (
	"strconv"
	"strings"
)

// currencyExponents maps the ISO 4217 codes the sandbox accepts to their
// number of minor-unit digits. It is deliberately a small table of common
// codes: an unknown code gets PARAM_ILLEGAL, as APO would answer for a
// currency it does not know. Report writing will use the exponents to turn
// minor units into the major units APO's files carry.
var currencyExponents = map[string]int{
	// zero-decimal currencies
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// three-decimal currencies
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// two-decimal currencies
	"AED": 2, "ARS": 2, "AUD": 2, "BDT": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2,
	"CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "GEL": 2,
	"HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "KES": 2, "KZT": 2, "LKR": 2,
	"MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "PEN": 2, "PHP": 2,
	"PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2,
	"TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "ZAR": 2,
}

// currencyExponent reports the minor-unit digits of an ISO 4217 code and
// whether the sandbox knows the code.
func currencyExponent(code string) (int, bool) {
	e, ok := currencyExponents[code]
	return e, ok
}

// formatMajor writes minor units of ccy as the decimal major-unit amount
// APO's report files carry: JPY 1339 → "1339", USD 4200 → "42.00",
// KWD 1234 → "1.234", USD -250 → "-2.50". An unknown currency is written
// with two decimals; the sandbox only ever holds known ones.
func formatMajor(minor int64, ccy string) string {
	exp, ok := currencyExponent(ccy)
	if !ok {
		exp = 2
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u // two's complement: correct for math.MinInt64 too
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

// KnownCurrency reports whether the sandbox accepts an ISO 4217 code, in
// amounts and as a settlement currency.
func KnownCurrency(code string) bool {
	_, ok := currencyExponent(code)
	return ok
}
