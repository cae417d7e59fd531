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

	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/money"
)

// parse types one record. The first problem found is returned as the
// line's *LineError.
func (r *Reader) parse(rec []string, no int) (Line, error) {
	if len(rec) > len(r.header) && !blank(rec[len(r.header):]) {
		return Line{}, r.lineErr(no, "", fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.header)))
	}
	if len(rec) < len(r.header) && !r.xlsx {
		// A workbook omits empty trailing cells; a CSV line that is short
		// was cut, and guessing which fields are missing would be wrong.
		return Line{}, r.lineErr(no, "", fmt.Sprintf("has %d fields, the header has %d", len(rec), len(r.header)))
	}
	for i, v := range rec {
		// PostgreSQL text holds neither NUL nor invalid UTF-8; the file is
		// promised to be UTF-8, so such a field is a bad line, not a crash later.
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			col := ""
			if i < len(r.header) {
				col = r.header[i]
			}
			return Line{}, r.lineErr(no, col, "not valid UTF-8 text")
		}
	}
	get := func(f field) string {
		i := r.idx[f]
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
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
	var err error
	if l.PaymentTime, err = r.timeOf(get(fPaymentTime)); err != nil {
		return Line{}, r.lineErr(no, r.col(fPaymentTime), err.Error())
	}
	if l.SettlementTime, err = r.timeOf(get(fSettlementTime)); err != nil {
		return Line{}, r.lineErr(no, r.col(fSettlementTime), err.Error())
	}
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
				return Line{}, r.lineErr(no, r.col(a.val), "empty")
			}
			continue
		}
		if ccy == "" {
			return Line{}, r.lineErr(no, r.col(a.ccy), "empty while "+r.col(a.val)+" is set")
		}
		m, err := r.amountOf(v, ccy)
		if err == nil {
			// No line is that large; refusing it here keeps every sum of
			// staged amounts far from the int64 range.
			err = money.CheckCeiling(m)
		}
		if err != nil {
			return Line{}, r.lineErr(no, r.col(a.val), err.Error())
		}
		*a.dst = Amount{Money: m, Valid: true}
	}
	if q := get(fQuotePrice); q != "" {
		if !positiveDecimal(q) {
			return Line{}, r.lineErr(no, r.col(fQuotePrice), "not a positive decimal "+show(q))
		}
		l.QuotePrice = q
	}
	if c := get(fCount); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			return Line{}, r.lineErr(no, r.col(fCount), "not a count "+show(c))
		}
		l.Count, l.HasCount = n, true
	}
	if r.name.Kind != SettlementSummary {
		if l.TransactionType == "" {
			return Line{}, r.lineErr(no, r.col(fTransactionType), "empty")
		}
		if l.TransactionID == "" && l.TransactionRequestID == "" {
			return Line{}, r.lineErr(no, r.col(fTransactionID), "empty, and so is transactionRequestId")
		}
	}
	for _, i := range r.extra {
		if i >= len(rec) {
			break
		}
		v := strings.TrimSpace(rec[i])
		if v == "" || logging.IsSensitiveKey(r.header[i]) {
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

// timeLayouts are the accepted time forms, tried in order. Layouts without
// a zone are read as UTC (the reference does not say which zone APO uses).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// timeOf parses a time column; "" is the zero time.
func (r *Reader) timeOf(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	if r.xlsx {
		if serial, err := strconv.ParseFloat(v, 64); err == nil && serial > 0 {
			if t, err := excelize.ExcelDateToTime(serial, false); err == nil {
				return t.UTC().Round(time.Second), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 or yyyy-MM-dd HH:mm:ss time %s", show(v))
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
				return logging.Redact(v)
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
