package report

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/money"
)

// parse types one record. The first problem found is returned as the
// line's *LineError. It checks the record's shape, reads the text fields,
// types the times, amounts, quote price and count, checks the ids a line
// must carry, and keeps the extra columns.
func (r *Reader) parse(rec []string, no int) (Line, error) {
	if err := r.checkRecord(rec, no); err != nil {
		return Line{}, err
	}
	get := func(f field) string {
		i := r.idx[f]
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	l := r.textFields(no, get)
	for _, typed := range []func(*Line, func(field) string) *LineError{r.times, r.amounts, r.quoteAndCount, r.ids} {
		if err := typed(&l, get); err != nil {
			return Line{}, err
		}
	}
	for _, i := range r.extra {
		if i >= len(rec) {
			break
		}
		v := strings.TrimSpace(rec[i])
		if v == "" || carddata.IsSensitiveKey(r.header[i]) {
			continue
		}
		l.Extra = append(l.Extra, Field{Name: r.header[i], Value: maskCards(v)})
	}
	return l, nil
}

func (r *Reader) lineErr(no int, col, reason string) *LineError {
	return &LineError{File: r.file, Line: no, Column: col, Reason: reason}
}

// col is the header name of a typed field as the file spells it.
func (r *Reader) col(f field) string {
	if i := r.idx[f]; i >= 0 {
		return r.header[i]
	}
	return Columns[f]
}

// amountOf parses a major-unit amount exactly. A workbook may store a
// number as the shortest text of a binary double ("12.300000000000001");
// such a value is read the way Excel shows it, at 15 significant digits,
// and accepted only if that is exact in the currency's minor unit.
func (r *Reader) amountOf(v, ccy string) (money.Money, error) {
	m, err := money.ParseMajor(v, ccy, true)
	if err == nil || !r.xlsx || !errors.Is(err, money.ErrInvalidAmount) {
		return m, err
	}
	f, perr := strconv.ParseFloat(v, 64)
	if perr != nil {
		return m, err
	}
	exp, _ := money.Exponent(ccy) // ParseMajor accepted the currency
	rat, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', 15, 64))
	if !ok {
		return m, err
	}
	scaled := new(big.Rat).Mul(rat, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
	if !scaled.IsInt() || !scaled.Num().IsInt64() {
		return m, err
	}
	return money.Money{Minor: scaled.Num().Int64(), Currency: ccy}, nil
}

// timeOf parses a time column; "" is the zero time. It accepts ISO 8601
// (see parseISO) and, in a workbook, an Excel serial day number.
func (r *Reader) timeOf(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, ok := parseISO(v); ok {
		return t, nil
	}
	if r.xlsx {
		if serial, err := strconv.ParseFloat(v, 64); err == nil && serial > 0 {
			if t, err := excelize.ExcelDateToTime(serial, false); err == nil {
				return t.UTC().Round(time.Second), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 date or time %s", show(v))
}

// parseISO reads the ISO 8601 forms a report may plausibly carry, in UTC:
//
//   - a date, extended or basic: 2026-12-03, 20261203;
//   - a date and a time, joined by 'T' or a space: 2026-12-03T10:15:00,
//     2026-12-03 10:15:00, 20261203T101500; the time as hh:mm[:ss] or
//     hhmm[ss], seconds with a fraction of up to nine digits after '.' or ','
//     (10:15:00.123, 101500,5);
//   - then an offset Z, ±hh:mm, ±hhmm or ±hh.
//
// A time without an offset is taken as UTC, as APO's reports give UTC unless
// they say otherwise; a date alone is its midnight, UTC.
func parseISO(v string) (time.Time, bool) {
	y, mo, d, rest, ok := isoDate(v)
	if !ok {
		return time.Time{}, false
	}
	var h, mi, sec, nsec int
	loc := time.UTC
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
			return time.Time{}, false
		}
		rest = rest[1:]
		// The time runs up to the offset, if any.
		clock, zone := rest, ""
		if i := strings.IndexAny(rest, "Zz+-"); i >= 0 {
			clock, zone = rest[:i], rest[i:]
		}
		if h, mi, sec, nsec, ok = isoClock(clock); !ok {
			return time.Time{}, false
		}
		if loc, ok = isoZone(zone); !ok {
			return time.Time{}, false
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return time.Time{}, false // 2026-02-30 and the like
	}
	return t.UTC(), true
}

// isoNum reads a non-empty run of ASCII digits.
func isoNum(s string) (int, bool) {
	if s == "" || !digits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// isoDate reads the date at the start of v, extended (2026-12-03) or basic
// (20261203), and returns what follows it. The date is not checked against
// the calendar here.
func isoDate(v string) (y, mo, d int, rest string, ok bool) {
	var ok1, ok2, ok3 bool
	switch {
	case len(v) >= 10 && v[4] == '-' && v[7] == '-':
		y, ok1 = isoNum(v[:4])
		mo, ok2 = isoNum(v[5:7])
		d, ok3 = isoNum(v[8:10])
		rest = v[10:]
	case len(v) >= 8:
		y, ok1 = isoNum(v[:4])
		mo, ok2 = isoNum(v[4:6])
		d, ok3 = isoNum(v[6:8])
		rest = v[8:]
	}
	return y, mo, d, rest, ok1 && ok2 && ok3
}

// isoClock reads hh:mm[:ss] or hhmm[ss], seconds with a fraction of up to
// nine digits after '.' or ','.
func isoClock(clock string) (h, mi, sec, nsec int, ok bool) {
	frac := ""
	if i := strings.IndexAny(clock, ".,"); i >= 0 {
		clock, frac = clock[:i], clock[i+1:]
		if frac == "" || len(frac) > 9 || !digits(frac) {
			return 0, 0, 0, 0, false
		}
	}
	var parts []string
	if strings.Contains(clock, ":") {
		parts = strings.Split(clock, ":")
	} else {
		for i := 0; i+2 <= len(clock); i += 2 {
			parts = append(parts, clock[i:i+2])
		}
		if len(clock)%2 != 0 {
			return 0, 0, 0, 0, false
		}
	}
	if len(parts) < 2 || len(parts) > 3 || (frac != "" && len(parts) != 3) {
		return 0, 0, 0, 0, false
	}
	vals := [3]int{}
	for i, p := range parts {
		n, ok := isoNum(p)
		if !ok || len(p) != 2 {
			return 0, 0, 0, 0, false
		}
		vals[i] = n
	}
	h, mi, sec = vals[0], vals[1], vals[2]
	if h > 23 || mi > 59 || sec > 59 {
		return 0, 0, 0, 0, false
	}
	if frac != "" {
		nsec, _ = strconv.Atoi((frac + "00000000")[:9])
	}
	return h, mi, sec, nsec, true
}

// isoZone reads the offset after a time: none or Z (UTC), ±hh:mm, ±hhmm or
// ±hh.
func isoZone(zone string) (*time.Location, bool) {
	if zone == "" || zone == "Z" || zone == "z" {
		return time.UTC, true
	}
	sign := 1
	if zone[0] == '-' {
		sign = -1
	}
	var z string
	switch {
	case len(zone) == 3: // ±hh
		z = zone[1:] + "00"
	case len(zone) == 5: // ±hhmm
		z = zone[1:]
	case len(zone) == 6 && zone[3] == ':': // ±hh:mm
		z = zone[1:3] + zone[4:]
	default:
		return nil, false
	}
	zh, ok1 := isoNum(z[:2])
	zm, ok2 := isoNum(z[2:])
	if !ok1 || !ok2 || zh > 23 || zm > 59 {
		return nil, false
	}
	return time.FixedZone("", sign*(zh*3600+zm*60)), true
}

// positiveDecimal reports digits with at most one '.', not all zeros.
func positiveDecimal(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || (hasPoint && (frac == "" || !digits(frac))) {
		return false
	}
	return strings.Trim(whole+frac, "0") != ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maskCards masks card numbers in a value we keep. Checking the digit count
// first keeps the common case (short text) free of the full scan.
func maskCards(v string) string {
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			if n++; n >= 12 {
				return carddata.Redact(v)
			}
		}
	}
	return v
}

// show quotes a rejected value for an error message: shortened, with card
// numbers masked, because error texts reach logs and tables.
func show(v string) string {
	const limit = 40
	if len(v) > limit {
		v = v[:limit] + "…"
	}
	return strconv.Quote(maskCards(v))
}

// checkRecord refuses a record with more fields than the header (unless
// they are blank), a CSV record with fewer, and a field that is not UTF-8
// text.
func (r *Reader) checkRecord(rec []string, no int) *LineError {
	if len(rec) > len(r.header) && !blank(rec[len(r.header):]) {
		return r.lineErr(no, "", fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.header)))
	}
	if len(rec) < len(r.header) && !r.xlsx {
		// A workbook omits empty trailing cells; a CSV line that is short
		// was cut, and guessing which fields are missing would be wrong.
		return r.lineErr(no, "", fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.header)))
	}
	for i, v := range rec {
		// PostgreSQL text holds neither NUL nor invalid UTF-8; the file is
		// promised to be UTF-8, so such a field is a bad line, not a crash later.
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			col := ""
			if i < len(r.header) {
				col = r.header[i]
			}
			return r.lineErr(no, col, "not valid UTF-8 text")
		}
	}
	return nil
}

// textFields reads the fields kept as text. A settlement file's lines
// without a batch id take the one its name carries.
func (r *Reader) textFields(no int, get func(field) string) Line {
	l := Line{
		No:                           no,
		SettlementBatchID:            get(fSettlementBatchID),
		CustomerID:                   get(fCustomerID),
		Acquirer:                     get(fAcquirer),
		TransactionType:              strings.ToUpper(get(fTransactionType)),
		TransactionID:                get(fTransactionID),
		OriginalTransactionID:        get(fOriginalTransactionID),
		TransactionRequestID:         get(fTransactionRequestID),
		OriginalTransactionRequestID: get(fOriginalTransactionRequestID),
		QuoteCurrencyPair:            get(fQuoteCurrencyPair),
		SummaryType:                  strings.ToUpper(get(fSummaryType)),
		Status:                       strings.ToUpper(get(fStatus)),
		CardBrand:                    get(fCardBrand),
	}
	if l.SettlementBatchID == "" && r.name.Kind != TransactionItems {
		l.SettlementBatchID = r.name.BatchID // the file name carries it
	}
	return l
}

// times types the payment and settlement times.
func (r *Reader) times(l *Line, get func(field) string) *LineError {
	var err error
	if l.PaymentTime, err = r.timeOf(get(fPaymentTime)); err != nil {
		return r.lineErr(l.No, r.col(fPaymentTime), err.Error())
	}
	if l.SettlementTime, err = r.timeOf(get(fSettlementTime)); err != nil {
		return r.lineErr(l.No, r.col(fSettlementTime), err.Error())
	}
	return nil
}

// amounts types the transaction, settlement and fee amounts. Transaction
// details must carry the first, the other kinds the second; an amount
// needs its currency.
func (r *Reader) amounts(l *Line, get func(field) string) *LineError {
	amounts := []struct {
		dst       *Amount
		val, ccy  field
		mustExist bool
	}{
		{&l.TransactionAmount, fTransactionAmountValue, fTransactionCurrency, r.name.Kind == TransactionItems},
		{&l.SettlementAmount, fSettlementAmountValue, fSettlementCurrency, r.name.Kind != TransactionItems},
		{&l.FeeAmount, fFeeAmountValue, fFeeCurrency, false},
	}
	for _, a := range amounts {
		v, ccy := get(a.val), get(a.ccy)
		if v == "" {
			if a.mustExist {
				return r.lineErr(l.No, r.col(a.val), "empty")
			}
			continue
		}
		if ccy == "" {
			return r.lineErr(l.No, r.col(a.ccy), "empty while "+r.col(a.val)+" is set")
		}
		m, err := r.amountOf(v, ccy)
		if err == nil {
			// No line is that large; refusing it here keeps every sum of
			// staged amounts far from the int64 range.
			err = money.CheckCeiling(m)
		}
		if err != nil {
			return r.lineErr(l.No, r.col(a.val), err.Error())
		}
		*a.dst = Amount{Money: m, Valid: true}
	}
	return nil
}

// quoteAndCount types the FX quote price and a summary line's count.
func (r *Reader) quoteAndCount(l *Line, get func(field) string) *LineError {
	if q := get(fQuotePrice); q != "" {
		if !positiveDecimal(q) {
			return r.lineErr(l.No, r.col(fQuotePrice), "not a positive decimal "+show(q))
		}
		l.QuotePrice = q
	}
	if c := get(fCount); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			return r.lineErr(l.No, r.col(fCount), "not a count "+show(c))
		}
		l.Count, l.HasCount = n, true
	}
	return nil
}

// ids checks that an item line has a type and an id of its transaction.
func (r *Reader) ids(l *Line, _ func(field) string) *LineError {
	if r.name.Kind == SettlementSummary {
		return nil
	}
	if l.TransactionType == "" {
		return r.lineErr(l.No, r.col(fTransactionType), "empty")
	}
	if l.TransactionID == "" && l.TransactionRequestID == "" {
		return r.lineErr(l.No, r.col(fTransactionID), "empty, and so is transactionRequestId")
	}
	return nil
}
