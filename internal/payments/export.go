package payments

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/sheet"
)

// exportBatch is how many payments Export reads per query: enough that
// round trips cost little next to the rows, few enough that memory stays
// flat however many payments match.
const exportBatch = 1000

// Export calls fn with every payment f selects, in f's order, ignoring
// f.Cursor and f.Limit. It reads exportBatch payments per query and stops
// at fn's first error, which it returns, or when ctx is done. A bad filter
// value is an *InvalidError, as for List.
func (s *Service) Export(ctx context.Context, f Filter, fn func(Payment) error) error {
	if err := f.validate(); err != nil {
		return err
	}
	return NewStore(s.db).Each(ctx, f, exportBatch, fn)
}

// csvColumns are WriteCSV's columns in order. Amounts are in major units
// with the currency's decimals (42.00 USD, 1339 JPY). Text that came from
// merchants, buyers or APO goes through sheet.Safe, so a spreadsheet never
// evaluates it. The card token is left out on purpose: it pays again with
// the card, and a file travels further than the console.
var csvColumns = []struct {
	name  string
	value func(Payment) string
}{
	{"id", func(p Payment) string { return p.ID }},
	{"created_at", func(p Payment) string { return p.CreatedAt.UTC().Format(time.RFC3339) }},
	{"status", func(p Payment) string { return string(p.Status) }},
	{"amount", func(p Payment) string { return money.FormatMajor(p.Amount) }},
	{"currency", func(p Payment) string { return p.Amount.Currency }},
	{"captured", func(p Payment) string { return major(p, p.CapturedMinor) }},
	{"refunded", func(p Payment) string { return major(p, p.RefundedMinor) }},
	{"reference_order_id", func(p Payment) string { return sheet.Safe(p.ReferenceOrderID) }},
	{"buyer_reference", func(p Payment) string { return sheet.Safe(p.BuyerReference) }},
	{"buyer_email", func(p Payment) string { return sheet.Safe(p.BuyerEmail) }},
	{"card_brand", func(p Payment) string { return sheet.Safe(p.Card.Brand) }},
	{"card_masked", func(p Payment) string { return sheet.Safe(p.Card.Masked) }},
	{"card_last4", func(p Payment) string { return sheet.Safe(p.Card.Last4) }},
	{"acquirer", func(p Payment) string { return sheet.Safe(p.Acquirer.Name) }},
	{"apo_payment_id", func(p Payment) string { return sheet.Safe(p.APOPaymentID) }},
	{"needs_review", func(p Payment) string { return strconv.FormatBool(p.NeedsReview) }},
}

// major is an amount of p's currency in major units.
func major(p Payment, minor int64) string {
	return money.FormatMajor(money.Money{Minor: minor, Currency: p.Amount.Currency})
}

// WriteCSV writes every payment f selects to w as CSV with a header row,
// in f's order (Export; see csvColumns for what each column holds). Writes
// to w are buffered and the filter is checked first, so a bad filter or a
// failing first query leaves w untouched and the caller may still answer
// with an error; a later error leaves the file incomplete.
func (s *Service) WriteCSV(ctx context.Context, f Filter, w io.Writer) error {
	if err := f.validate(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	rec := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		rec[i] = c.name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	err := NewStore(s.db).Each(ctx, f, exportBatch, func(p Payment) error {
		for i, c := range csvColumns {
			rec[i] = c.value(p)
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
