package payments

import (
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/payops/payops/internal/money"
)

// Bounds of OrderIDContains. Its trigram index narrows a search by runs of
// three letters or digits: without one ("a-1", "---") PostgreSQL rechecks
// tens of thousands of rows or reads them all (0.3 to 0.8 s at a million
// payments, against milliseconds with one). No order id is longer than the
// checkout API's 64 characters.
const (
	minOrderIDRun  = 3
	maxOrderIDPart = 64
)

// validate reports every bad value of f at once, as *InvalidError values
// joined with errors.Join, each naming its admin API query parameter.
func (f Filter) validate() error {
	var v violations
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		v.add("status", "one of "+strings.Join(statusNames(), ", "))
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		v.add("created_to", "must be after created_from")
	}
	if f.OrderIDContains != "" && (!hasAlnumRun(f.OrderIDContains, minOrderIDRun) ||
		utf8.RuneCountInString(f.OrderIDContains) > maxOrderIDPart) {
		v.add("order_id_contains", "at most 64 characters, with 3 letters or digits in a row")
	}
	if f.Last4 != "" && (len(f.Last4) != 4 || !allDigits(f.Last4)) {
		v.add("last4", "4 digits")
	}
	f.checkAmount(&v)
	if _, ok := sorts[f.sort()]; !ok {
		v.add("sort", "one of "+strings.Join(Sorts, ", "))
	}
	if f.Dir != "" && f.Dir != "asc" && f.Dir != "desc" {
		v.add("dir", "asc or desc")
	}
	return errors.Join(v...)
}

// checkAmount: amounts are minor units of a currency, so a bound needs one.
func (f Filter) checkAmount(v *violations) {
	if f.Currency != "" && !money.Known(f.Currency) {
		v.add("currency", "not an ISO 4217 currency code")
	}
	if f.AmountMin < 0 {
		v.add("amount_min", "must not be negative")
	}
	if f.AmountMax < 0 {
		v.add("amount_max", "must not be negative")
	}
	if f.AmountMin > 0 && f.AmountMax > 0 && f.AmountMin > f.AmountMax {
		v.add("amount_max", "must not be below amount_min")
	}
	if (f.AmountMin != 0 || f.AmountMax != 0) && f.Currency == "" {
		v.add("currency", "required with amount_min or amount_max, which are in its minor units")
	}
}

// hasAlnumRun reports whether s holds n letters or digits in a row.
func hasAlnumRun(s string, n int) bool {
	run := 0
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			run = 0
		} else if run++; run >= n {
			return true
		}
	}
	return false
}

func statusNames() []string {
	out := make([]string, len(Statuses))
	for i, s := range Statuses {
		out[i] = string(s)
	}
	return out
}
