package report

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
)

func mustName(t *testing.T, base string) Name {
	t.Helper()
	n, err := ParseName(base)
	if err != nil {
		t.Fatalf("ParseName(%q): %v", base, err)
	}
	return n
}

// readAll collects every line and every line error until the end.
func readAll(t *testing.T, r *Reader) ([]Line, []*LineError, error) {
	t.Helper()
	var (
		lines []Line
		bad   []*LineError
	)
	for {
		l, err := r.Next()
		var le *LineError
		switch {
		case err == nil:
			lines = append(lines, l)
		case errors.As(err, &le):
			bad = append(bad, le)
		case errors.Is(err, io.EOF):
			return lines, bad, nil
		default:
			return lines, bad, err
		}
	}
}

func TestParseName(t *testing.T) {
	cases := []struct {
		in   string
		want Name
	}{
		{"transactionItems_20181225_000.csv", Name{Kind: TransactionItems, Format: CSV, Date: time.Date(2018, 12, 25, 0, 0, 0, 0, time.UTC)}},
		{"transactionItems_20181225_012.XLSX", Name{Kind: TransactionItems, Format: XLSX, Date: time.Date(2018, 12, 25, 0, 0, 0, 0, time.UTC), Seq: 12}},
		{"settlementItems_USD_2024_03_01_B1_001.csv", Name{Kind: SettlementItems, Format: CSV, Currency: "USD", BatchID: "2024_03_01_B1", Seq: 1}},
		{"settlementSummary_EUR_9912345_000.xlsx", Name{Kind: SettlementSummary, Format: XLSX, Currency: "EUR", BatchID: "9912345"}},
	}
	for _, c := range cases {
		got, err := ParseName(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"transactionItems_2018122_000.csv", "transactionItems_20181332_000.csv",
		"settlementItems_usd_1_000.csv", "report.csv", "transactionItems_20181225_000.txt", "settlementItems_USD__000.csv"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

func TestCSVByHeaderNameWithBOMCRLFQuotesAndUnknownColumns(t *testing.T) {
	// Columns shuffled, two unknown ones (one named like a card number field),
	// BOM, CRLF, a quoted field with a comma and an escaped quote, a blank line.
	in := "\ufeffmyColumn,transactionAmountValue, TransactionId ,transactionCurrency,transactionType,cardNo,paymentTime,status,quotePrice,quoteCurrencyPair,settlementAmountValue,settlementCurrency\r\n" +
		"\"a, \"\"quoted\"\" value\",12.30,pay_1,USD,payment,4111111111111111,2024-03-01 10:00:00,success,,,12.30,USD\r\n" +
		"\r\n" +
		"x,-5,ref_1,JPY,REFUND,,2024-03-01T18:00:00+08:00,,,,,\r\n" +
		"y,10.00,pay_2,EUR,CAPTURE,,2024-03-01T10:00:00Z,,1.0845,EUR/USD,10.85,USD\r\n" +
		"<END>\r\n"
	r, err := NewCSV("transactionItems_20240301_000.csv", mustName(t, "transactionItems_20240301_000.csv"), strings.NewReader(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	lines, bad, err := readAll(t, r)
	if err != nil || len(bad) > 0 {
		t.Fatalf("err %v, bad %v", err, bad)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	l := lines[0]
	if l.No != 2 || l.TransactionID != "pay_1" || l.TransactionType != "PAYMENT" || l.Status != "SUCCESS" {
		t.Errorf("line 1 = %+v", l)
	}
	if l.TransactionAmount != (Amount{Money: money.Money{Minor: 1230, Currency: "USD"}, Valid: true}) {
		t.Errorf("amount = %+v", l.TransactionAmount)
	}
	if !l.PaymentTime.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("paymentTime = %v", l.PaymentTime)
	}
	if len(l.Extra) != 1 || l.Extra[0] != (Field{Name: "myColumn", Value: `a, "quoted" value`}) {
		t.Errorf("extra = %+v (the card-number column must be dropped)", l.Extra)
	}
	r2 := lines[1]
	if r2.No != 4 || r2.TransactionAmount.Minor != -5 || r2.TransactionAmount.Currency != "JPY" || r2.SettlementAmount.Valid {
		t.Errorf("line 2 = %+v", r2)
	}
	if !r2.PaymentTime.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("offset time = %v, want 10:00 UTC", r2.PaymentTime)
	}
	if c := lines[2]; c.QuotePrice != "1.0845" || c.QuoteCurrencyPair != "EUR/USD" || c.SettlementAmount.Minor != 1085 {
		t.Errorf("line 3 = %+v", c)
	}
}

func TestLFAndCRLFAndBOMReadAlike(t *testing.T) {
	base := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\nREFUND,r1,0.50,USD\n<END>\n"
	variants := map[string]string{
		"lf":    base,
		"crlf":  strings.ReplaceAll(base, "\n", "\r\n"),
		"bom":   "\ufeff" + base,
		"noeol": strings.TrimSuffix(base, "\n"),
	}
	var want []Line
	for name, in := range variants {
		r, err := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lines, bad, err := readAll(t, r)
		if err != nil || len(bad) > 0 || len(lines) != 2 {
			t.Fatalf("%s: %d lines, bad %v, err %v", name, len(lines), bad, err)
		}
		if want == nil {
			want = lines
			continue
		}
		for i := range lines {
			if lines[i].TransactionID != want[i].TransactionID || lines[i].TransactionAmount != want[i].TransactionAmount || lines[i].No != want[i].No {
				t.Errorf("%s: line %d = %+v, want %+v", name, i, lines[i], want[i])
			}
		}
	}
}

func TestTrailerRequired(t *testing.T) {
	h := "transactionType,transactionId,transactionAmountValue,transactionCurrency\n"
	cases := map[string]string{
		"no trailer":  h + "CAPTURE,c1,1.00,USD\n",
		"empty file":  "",
		"header only": h,
		"trailer cut": h + "CAPTURE,c1,1.00,USD\n<EN",
	}
	for name, in := range cases {
		r, err := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
		if err == nil {
			_, _, err = readAll(t, r)
		}
		if !errors.Is(err, ErrIncomplete) && name != "trailer cut" {
			t.Errorf("%s: err = %v, want ErrIncomplete", name, err)
		}
		if name == "trailer cut" && err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// An empty report (header + trailer) is complete; data after the trailer is not.
	r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(h+"<END>\n"), Limits{})
	if lines, bad, err := readAll(t, r); err != nil || len(lines)+len(bad) != 0 {
		t.Errorf("empty report: %v %v %v", lines, bad, err)
	}
	r, _ = NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(h+"<END>\nCAPTURE,c1,1.00,USD\n"), Limits{})
	if _, bad, err := readAll(t, r); err != nil || len(bad) != 1 || bad[0].Line != 3 {
		t.Errorf("after trailer: bad %v err %v", bad, err)
	}
	// A padded trailer row, as spreadsheet exports write it, is still the trailer.
	r, _ = NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(h+"<END>,,,\n"), Limits{})
	if _, bad, err := readAll(t, r); err != nil || len(bad) != 0 {
		t.Errorf("padded trailer: %v %v", bad, err)
	}
}

func TestBadLinesAreReportedWithFileAndLine(t *testing.T) {
	in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,paymentTime,count\n" +
		"CAPTURE,c1,1.00,USD,,\n" + // 2 ok
		"CAPTURE,c2,1.001,USD,,\n" + // 3 too many decimals
		"CAPTURE,c3,1.00,usd,,\n" + // 4 unknown currency spelling
		"CAPTURE,c4,1.00,USD,yesterday,\n" + // 5 bad time
		"CAPTURE,c5,\"1,000.00\",USD,,\n" + // 6 thousands separator
		"CAPTURE,c6,1.00\n" + // 7 short line
		"CAPTURE,c7,1.00,USD,,,extra\n" + // 8 long line
		",c8,1.00,USD,,\n" + // 9 no type
		"CAPTURE,,1.00,USD,,\n" + // 10 no ids
		"CAPTURE,c9,,USD,,\n" + // 11 no amount
		"CAPTURE,c10,1.00,,,\n" + // 12 no currency
		"CAPTURE,c11,1.00,USD,,-1\n" + // 13 bad count
		"CAPTURE,c12,1\"0,USD,,\n" + // 14 bare quote
		"CAPTURE,c13,2.00,USD,,\n" + // 15 ok
		"CAPTURE,c\x00,2.00,USD,,\n" + // 16 NUL
		"CAPTURE,c\xff,2.00,USD,,\n" + // 17 not UTF-8
		"<END>\n"
	r, err := NewCSV("transactionItems_20240301_000.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	lines, bad, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].No != 2 || lines[1].No != 15 {
		t.Errorf("good lines = %+v", lines)
	}
	var got []int
	for _, b := range bad {
		got = append(got, b.Line)
		if !strings.HasPrefix(b.Error(), "transactionItems_20240301_000.csv:") {
			t.Errorf("error %q does not name the file", b.Error())
		}
	}
	want := []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17}
	if len(got) != len(want) {
		t.Fatalf("bad lines %v, want %v (%v)", got, want, bad)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bad lines %v, want %v", got, want)
		}
	}
	if bad[0].Column != "transactionAmountValue" {
		t.Errorf("column = %q", bad[0].Column)
	}
}

// TestAmountsAboveTheCeilingAreBadLines: every amount of a line is held to
// money.Ceiling, so no staged amount (nor a sum of few) nears int64.
func TestAmountsAboveTheCeilingAreBadLines(t *testing.T) {
	in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency\n" +
		"CAPTURE,c1,100000000000.00,USD,,,,\n" + // 2 at the ceiling: ok
		"CAPTURE,c2,-100000000000.00,USD,,,,\n" + // 3 at the ceiling, negative: ok
		"CAPTURE,c3,50000000000000000.00,USD,,,,\n" + // 4 above
		"CAPTURE,c4,100000000000.01,USD,,,,\n" + // 5 just above
		"CAPTURE,c5,1.00,USD,-100000000001,JPY,,\n" + // 6 settlement above
		"CAPTURE,c6,1.00,USD,,,100000000000.0001,KWD\n" + // 7 fee above (KWD has 3 decimals: also too precise)
		"CAPTURE,c7,1.00,USD,,,100000000001,KWD\n" + // 8 fee above
		"<END>\n"
	r, err := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	lines, bad, err := readAll(t, r)
	if err != nil || len(lines) != 2 || lines[0].TransactionAmount.Minor != 100_000_000_000_00 || lines[1].TransactionAmount.Minor != -100_000_000_000_00 {
		t.Fatalf("lines %+v, %v", lines, err)
	}
	want := map[int]string{4: "transactionAmountValue", 5: "transactionAmountValue", 6: "settlementAmountValue", 7: "feeAmountValue", 8: "feeAmountValue"}
	if len(bad) != len(want) {
		t.Fatalf("bad = %v", bad)
	}
	for _, b := range bad {
		if want[b.Line] != b.Column || (b.Line != 7 && !strings.Contains(b.Reason, money.ErrAboveCeiling.Error())) {
			t.Errorf("line %d: %v", b.Line, b)
		}
	}
}

func TestMultiLineQuotedFieldKeepsLineNumbers(t *testing.T) {
	in := "transactionType,transactionId,orderDescription,transactionAmountValue,transactionCurrency\n" +
		"CAPTURE,c1,\"two\nlines\",1.00,USD\n" +
		"CAPTURE,c2,x,bad,USD\n<END>\n"
	r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
	lines, bad, err := readAll(t, r)
	if err != nil || len(lines) != 1 || len(bad) != 1 || bad[0].Line != 4 {
		t.Fatalf("lines %+v bad %v err %v", lines, bad, err)
	}
}

func TestErrorsNeverCarryCardNumbers(t *testing.T) {
	in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,paymentTime\n" +
		"CAPTURE,c1,4111111111111111,USD,4111111111111111\n" +
		"CAPTURE,c2,1.00,USD,4111 1111 1111 1111\n<END>\n"
	r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
	_, bad, _ := readAll(t, r)
	if len(bad) != 2 {
		t.Fatalf("bad = %v", bad)
	}
	for _, b := range bad {
		if strings.Contains(strings.ReplaceAll(b.Error(), " ", ""), "4111111111111111") {
			t.Errorf("error leaks a card number: %s", b)
		}
	}
}

func TestHeaderProblems(t *testing.T) {
	cases := map[string]string{
		"missing column": "transactionType,transactionAmountValue,transactionCurrency\n<END>\n",
		"duplicate":      "transactionType,transactionId,transactionId,transactionAmountValue,transactionCurrency\n<END>\n",
		"end first":      "<END>\n",
	}
	for name, in := range cases {
		if _, err := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{}); !errors.Is(err, ErrHeader) {
			t.Errorf("%s: err = %v, want ErrHeader", name, err)
		}
	}
	// Settlement files need settlement amounts; the batch id may come from the name.
	n := mustName(t, "settlementSummary_USD_B7_000.csv")
	r, err := NewCSV("s.csv", n, strings.NewReader("summaryType,count,settlementAmountValue,settlementCurrency\nTOTAL,2,10.00,USD\n<END>\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	lines, bad, err := readAll(t, r)
	if err != nil || len(bad) > 0 || len(lines) != 1 || lines[0].SettlementBatchID != "B7" || lines[0].Count != 2 || !lines[0].HasCount {
		t.Errorf("summary = %+v %v %v", lines, bad, err)
	}
}

func TestAliasesOfTheNewestGeneration(t *testing.T) {
	in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,PSP,transactionCompletionTime\n" +
		"PAYMENT,p1,1,USD,ANTOM,2024-03-01 00:00:01\n<END>\n"
	r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
	lines, bad, err := readAll(t, r)
	if err != nil || len(bad) > 0 || len(lines) != 1 {
		t.Fatal(bad, err)
	}
	if lines[0].Acquirer != "ANTOM" || lines[0].PaymentTime.IsZero() || len(lines[0].Extra) != 0 {
		t.Errorf("line = %+v", lines[0])
	}
}

func TestXLSX(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	rows := [][]any{
		{"unknown", "transactionType", "transactionId", "transactionAmountValue", "transactionCurrency", "paymentTime", "settlementTime"},
		{"u", "CAPTURE", "c1", 12.3, "USD", "2024-03-01 10:00:00", 45352.5}, // 2024-03-01 12:00 as an Excel serial
		{nil, "REFUND", "r1", "-0.5", "USD"},     // trailing cells omitted
		{},                                       // an empty row
		{nil, "CAPTURE", "c2", 0.1 + 0.2, "USD"}, // 0.30000000000000004 as stored
		{nil, "CAPTURE", "c3", "1.005", "USD"},   // truly too precise
		{"<END>"},
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := NewXLSX("transactionItems_20240301_000.xlsx", mustName(t, "transactionItems_20240301_000.xlsx"), writeTemp(t, buf.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines, bad, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || len(bad) != 1 || bad[0].Line != 6 {
		t.Fatalf("lines %+v bad %v", lines, bad)
	}
	if lines[0].TransactionAmount.Minor != 1230 || lines[0].No != 2 ||
		!lines[0].SettlementTime.Equal(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)) ||
		!lines[0].PaymentTime.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("row 2 = %+v", lines[0])
	}
	if lines[1].TransactionAmount.Minor != -50 || lines[2].TransactionAmount.Minor != 30 || lines[2].No != 5 {
		t.Errorf("rows = %+v", lines[1:])
	}
}

// TestISO8601Times: every ISO 8601 form APO could plausibly write, basic
// and extended, with and without an offset, and the space-separated form.
// A time without an offset is UTC.
func TestISO8601Times(t *testing.T) {
	utc := func(h, m, s, ns int) time.Time { return time.Date(2026, 12, 3, h, m, s, ns, time.UTC) }
	good := map[string]time.Time{
		"20261203":                       utc(0, 0, 0, 0),
		"2026-12-03":                     utc(0, 0, 0, 0),
		"20261203T101500+0800":           utc(2, 15, 0, 0),
		"20261203T101500+08":             utc(2, 15, 0, 0),
		"20261203T101500Z":               utc(10, 15, 0, 0),
		"20261203T101500":                utc(10, 15, 0, 0),
		"20261203T1015Z":                 utc(10, 15, 0, 0),
		"20261203T101500.123+0800":       utc(2, 15, 0, 123_000_000),
		"20261203T101500,5Z":             utc(10, 15, 0, 500_000_000),
		"2026-12-03T10:15:00+08:00":      utc(2, 15, 0, 0),
		"2026-12-03T10:15:00+0800":       utc(2, 15, 0, 0),
		"2026-12-03T10:15:00-05:30":      utc(15, 45, 0, 0),
		"2026-12-03T10:15:00Z":           utc(10, 15, 0, 0),
		"2026-12-03T10:15:00.123456789Z": utc(10, 15, 0, 123_456_789),
		"2026-12-03T10:15:00":            utc(10, 15, 0, 0),
		"2026-12-03T10:15":               utc(10, 15, 0, 0),
		"2026-12-03 10:15:00":            utc(10, 15, 0, 0),
		"2026-12-03 10:15:00.5":          utc(10, 15, 0, 500_000_000),
		"2026-12-03 10:15:00+08:00":      utc(2, 15, 0, 0),
		"2026-12-03t10:15:00z":           utc(10, 15, 0, 0),
		"2026-12-04T00:15:00+14:00":      utc(10, 15, 0, 0),
	}
	bad := []string{"yesterday", "2026-12-3", "2026-13-03", "2026-02-30", "20261203T10", "20261203T101", "2026-12-03T25:00:00",
		"2026-12-03T10:60:00", "2026-12-03T10:15:61", "2026-12-03T10:15:00+8", "2026-12-03T10:15:00+08:", "2026-12-03T10:15:00+0:800",
		"2026-12-03T10:15:00.Z", "2026-12-03T10:15.5", "2026-12-03T10:15:00.1234567890Z", "2026-12-03X10:15:00", "2026120", "03/12/2026",
		"2026-12-03T10:15:00+24:00", "2026-12-03T10:15:00 +08:00"}
	for v, want := range good {
		in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,paymentTime\nCAPTURE,c1,1.00,USD,\"" + v + "\"\n<END>\n"
		r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
		lines, bad, err := readAll(t, r)
		if err != nil || len(bad) > 0 || len(lines) != 1 || !lines[0].PaymentTime.Equal(want) || lines[0].PaymentTime.Location() != time.UTC {
			t.Errorf("%s: lines %+v bad %v err %v, want %v", v, lines, bad, err, want)
		}
	}
	for _, v := range bad {
		in := "transactionType,transactionId,transactionAmountValue,transactionCurrency,paymentTime\nCAPTURE,c1,1.00,USD,\"" + v + "\"\n<END>\n"
		r, _ := NewCSV("f.csv", Name{Kind: TransactionItems}, strings.NewReader(in), Limits{})
		_, errs, err := readAll(t, r)
		if err != nil || len(errs) != 1 || errs[0].Column != "paymentTime" || !strings.Contains(errs[0].Reason, "not an ISO 8601") {
			t.Errorf("%s: accepted (%v %v)", v, errs, err)
		}
	}
}
