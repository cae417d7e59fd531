package statement

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func germanMapping(t *testing.T) Mapping {
	t.Helper()
	m, err := ParseMapping(bytes.NewReader(mustRead(t, "csv_de_mapping.json")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCSVGerman(t *testing.T) {
	m := germanMapping(t)
	if m.Delimiter != ';' || m.Decimal != ',' || m.Thousands != '.' || m.Columns.Debit != "Soll" || !m.NewestFirst {
		t.Fatalf("mapping: %+v", m)
	}
	stmts, err := ParseCSV("csv_de.csv", bytes.NewReader(mustRead(t, "csv_de.csv")), m, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1 {
		t.Fatalf("got %d statements, want 1", len(stmts))
	}
	s := stmts[0]
	if s.Format != CSV || s.ID != "csv_de.csv" || s.Line != 6 || s.Currency != "EUR" ||
		s.Account != (Account{IBAN: "DE89370400440532013000"}) ||
		!s.FromDate.Equal(date("2026-12-04")) || !s.ToDate.Equal(date("2026-12-07")) ||
		s.OpeningBalance.Valid || s.ClosingBalance.Valid {
		t.Errorf("statement: %+v", s)
	}
	if len(s.Entries) != 4 {
		t.Fatalf("got %d entries, want 4", len(s.Entries))
	}
	e := s.Entries[0]
	want := Refs{Reference: "APO-B-20261207-01", RemittanceInfo: "APO SETTLEMENT BATCH B-20261207-01",
		CounterpartyName: "APO PAYMENTS EUROPE B.V.", CounterpartyAccount: "NL91ABNA0417164300", BankTxCode: "SEPA-Überweisung von"}
	if e.Line != 7 || e.Amount != eur(123456) || e.Refs != want || e.Status != Booked {
		t.Errorf("credit (Haben): %+v", e)
	}
	if e := s.Entries[1]; e.Line != 8 || e.Amount != eur(-1250) || e.RemittanceInfo != "Kontoführung\n12/2026" {
		t.Errorf("debit (Soll) with a quoted line break: %+v", e)
	}
	if e := s.Entries[2]; e.Line != 10 || e.Amount != eur(-8900) || e.Reference != "" || e.RemittanceInfo != `Abschlag Strom; Vertrag "4711"` ||
		!e.ValueDate.Equal(date("2026-12-05")) || !e.BookingDate.Equal(date("2026-12-06")) {
		t.Errorf("quoted delimiter, NOTPROVIDED, value date: %+v", e)
	}
	// No balances in the file or the mapping: the checks say they skipped.
	f := Check(stmts)
	if len(f) != 1 || f[0].Kind != BalancesAbsent || f[0].StatementID != "csv_de.csv" || f[0].Line != 6 {
		t.Errorf("Check: %+v", f)
	}
}

// ingMapping reads an ING-style export: signed amounts, a running balance
// ("Saldo"), two columns named "Währung", newest row first.
var ingMapping = Mapping{
	Delimiter: ';', DateFormat: "DD.MM.YYYY", Decimal: ',', Thousands: '.', NewestFirst: true,
	Account: "DE89370400440532013000",
	Columns: Columns{BookingDate: "Buchung", ValueDate: "Valuta", Amount: "Betrag", Currency: "#9",
		Balance: "Saldo", CounterpartyName: "Auftraggeber/Empfänger", Remittance: "Verwendungszweck", BankTxCode: "Buchungstext"},
}

const ingCSV = `Buchung;Valuta;Auftraggeber/Empfänger;Buchungstext;Verwendungszweck;Saldo;Währung;Betrag;Währung
09.12.2026;09.12.2026;APO PAYMENTS EUROPE B.V.;Gutschrift;APO B-20261209-01;10.100,00;EUR;100,00;EUR
08.12.2026;08.12.2026;Stadtwerke;Lastschrift;Abschlag;10.000,00;EUR;-1.000,00;EUR
08.12.2026;08.12.2026;Beispiel AG;Gutschrift;Rechnung 7;11.000,00;EUR;1.000,00;EUR
`

func TestCSVRunningBalance(t *testing.T) {
	stmts, err := ParseCSV("ing.csv", strings.NewReader(ingCSV), ingMapping, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s := stmts[0]
	if s.OpeningBalance != (Balance{Money: eur(1000000), Date: date("2026-12-08"), Valid: true}) ||
		s.ClosingBalance != (Balance{Money: eur(1010000), Date: date("2026-12-09"), Valid: true}) {
		t.Errorf("balances from the Saldo column: %+v %+v", s.OpeningBalance, s.ClosingBalance)
	}
	if f := Check(stmts); len(f) != 0 {
		t.Errorf("Check: %+v", f)
	}
	// A row whose amount does not explain its balance breaks the sum.
	broken := strings.Replace(ingCSV, "10.000,00;EUR;-1.000,00", "10.000,00;EUR;-1.001,00", 1)
	stmts, err = ParseCSV("ing.csv", strings.NewReader(broken), ingMapping, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f := Check(stmts); len(f) != 1 || f[0].Kind != SumMismatch || f[0].Actual != eur(9900) || f[0].Expected != eur(10000) {
		t.Errorf("Check: %+v", f)
	}
}

func TestCSVMarksAndFixedBalances(t *testing.T) {
	m := Mapping{
		NoHeader: true, DateFormat: "YY-MM-DD", Currency: "JPY", OpeningBalance: "-100", ClosingBalance: "1900",
		DebitMarks: []string{"S"}, CreditMarks: []string{"H"},
		Columns: Columns{BookingDate: "#1", Amount: "#2", Mark: "#3", EndToEndID: "#4", Account: "#5"},
	}
	in := "26-12-01,2000,H,E2E-1,0532013000\n\n26-12-02,0,S,NOTPROVIDED,0532013000\n"
	stmts, err := ParseCSV("jp.csv", strings.NewReader(in), m, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s := stmts[0]
	if s.Line != 1 || s.Account != (Account{Number: "0532013000"}) || len(s.Entries) != 2 || s.Entries[0].EndToEndID != "E2E-1" ||
		s.Entries[1].Line != 3 || s.OpeningBalance.Minor != -100 || s.ClosingBalance.Minor != 1900 || s.Currency != "JPY" {
		t.Fatalf("statement: %+v", s)
	}
	if f := Check(stmts); len(f) != 0 {
		t.Errorf("Check: %+v", f)
	}
}

func TestCSVBadRows(t *testing.T) {
	m := Mapping{
		Delimiter: ';', DateFormat: "DD.MM.YYYY", Decimal: ',', Thousands: '.',
		Columns: Columns{BookingDate: "Tag", Debit: "Soll", Credit: "Haben", Currency: "Whg", Account: "Konto", Remittance: "Text"},
	}
	const head = "Tag;Soll;Haben;Whg;Konto;Text\n01.12.2026;;1,00;EUR;A;ok\n"
	for _, c := range []struct{ name, row, field, reason string }{
		{"date", "2026-12-01;;1,00;EUR;A;x", "Tag", "not a date in the form DD.MM.YYYY"},
		{"both", "01.12.2026;1,00;2,00;EUR;A;x", "Haben", "both a debit and a credit"},
		{"neither", "01.12.2026;;;EUR;A;x", "Soll", "neither a debit nor a credit"},
		{"negative credit", "01.12.2026;;-2,00;EUR;A;x", "Haben", "negative credit"},
		{"grouping", "01.12.2026;;1.00,00;EUR;A;x", "Haben", `"1.00,00" is not an amount such as -1234,56`},
		{"point", "01.12.2026;;1.5;EUR;A;x", "Haben", "is not an amount"},
		{"currency", "01.12.2026;;1,00;USD;A;x", "Whg", "USD where earlier rows are in EUR"},
		{"unknown currency", "01.12.2026;;1,00;EURO;A;x", "Whg", "not an ISO 4217 code"},
		{"account", "01.12.2026;;1,00;EUR;B;x", "Konto", `account "B" where earlier rows are for "A"`},
		{"long", "01.12.2026;;1,00;EUR;A;" + strings.Repeat("x", 65), "Text", "longer than 64 bytes"},
		{"quote", "01.12.2026;;1,00;EUR;A;x\"y", "", "malformed CSV"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := head + c.row + "\n01.12.2026;2,00;;EUR;A;ok\n"
			stmts, err := ParseCSV("b.csv", strings.NewReader(in), m, Limits{MaxField: 64})
			wantLineError(t, err, 3, c.field, c.reason)
			if len(stmts) != 1 || len(stmts[0].Entries) != 2 || stmts[0].Entries[1].Amount != eur(-200) {
				t.Fatalf("the good rows must stay: %+v", stmts)
			}
		})
	}
	// Trailing minus and grouping are read.
	stmts, err := ParseCSV("g.csv", strings.NewReader(head+"01.12.2026;1.234.567,89-;;EUR;A;x\n"), m, Limits{})
	if err != nil || stmts[0].Entries[1].Amount != eur(-123456789) {
		t.Fatalf("got %v %+v", err, stmts)
	}
}

func TestCSVRefused(t *testing.T) {
	m := Mapping{Columns: Columns{BookingDate: "date", Amount: "amount"}, Currency: "EUR", SkipLines: 1}
	for _, c := range []struct {
		name, in string
		lim      Limits
		sentinel error
		line     int
		reason   string
	}{
		{"empty", "", Limits{}, ErrFormat, 1, "ends before its header"},
		{"no header", "preamble\n\n", Limits{}, ErrFormat, 2, "no header row"},
		{"column", "preamble\ndate,amt\n", Limits{}, ErrFormat, 2, "amount: the header has no such column"},
		{"twice", "preamble\ndate,amount,amount\n", Limits{}, ErrFormat, 2, "name it #N"},
		{"bad header", "preamble\n\"date,amount\n", Limits{}, ErrFormat, 2, "malformed CSV"},
		{"preamble line", strings.Repeat("p", 300) + "\n", Limits{MaxLine: 256}, ErrTooLarge, 1, "a line longer than 256 bytes"},
		{"record", "p\ndate,amount\n2026-12-01,1\n\"" + strings.Repeat("x\n", 200) + "\"\n", Limits{MaxLine: 256}, ErrTooLarge, 4, "a record longer than 256 bytes"},
		{"rows", "p\ndate,amount\n2026-12-01,1\n2026-12-01,1\n", Limits{MaxEntries: 1}, ErrTooLarge, 4, "more than 1 rows"},
		{"bytes", "p\ndate,amount\n2026-12-01,1\n2026-12-01,1\n", Limits{MaxBytes: 30}, ErrTooLarge, -1, "input larger than 30 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmts, err := ParseCSV("r.csv", strings.NewReader(c.in), m, c.lim)
			wantFatal(t, stmts, err, c.sentinel, c.line, c.reason)
		})
	}
}

func TestMapping(t *testing.T) {
	ok := `{"currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`
	if _, err := ParseMapping(strings.NewReader(ok)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, json, reason string }{
		{"syntax", `{`, "unexpected EOF"},
		{"trailing", `{"currency":"EUR","columns":{"booking_date":"d","amount":"a"}} {}`, "text after"},
		{"unknown key", `{"currency":"EUR","columns":{"booking_date":"d","amount":"a","amout":"b"}}`, `unknown field "amout"`},
		{"delimiter", `{"delimiter":";;","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "not one character"},
		{"quote delimiter", `{"delimiter":"\"","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "delimiter"},
		{"decimal", `{"decimal":";","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "decimal separator"},
		{"thousands", `{"decimal":",","thousands":",","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "thousands separator"},
		{"date", `{"date_format":"DD.MM.","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "needs a day, a month and a year"},
		{"date token", `{"date_format":"D.M.YYYY","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "only DD, MM"},
		{"date twice", `{"date_format":"DD.MM.YYYY DD","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "twice"},
		{"no date", `{"currency":"EUR","columns":{"amount":"a"}}`, "no booking_date"},
		{"no amount", `{"currency":"EUR","columns":{"booking_date":"d","debit":"s"}}`, "no amount column"},
		{"both", `{"currency":"EUR","columns":{"booking_date":"d","amount":"a","debit":"s","credit":"h"}}`, "both an amount column"},
		{"mark", `{"currency":"EUR","columns":{"booking_date":"d","debit":"s","credit":"h","mark":"m"}}`, "needs an amount column"},
		{"marks", `{"currency":"EUR","columns":{"booking_date":"d","amount":"a","mark":"m"}}`, "needs debit_marks"},
		{"mark both", `{"currency":"EUR","debit_marks":["S"],"credit_marks":["S"],"columns":{"booking_date":"d","amount":"a","mark":"m"}}`, "both a debit and a credit mark"},
		{"currency", `{"columns":{"booking_date":"d","amount":"a"}}`, "no currency"},
		{"unknown currency", `{"currency":"EURO","columns":{"booking_date":"d","amount":"a"}}`, "not an ISO 4217 code"},
		{"balances", `{"currency":"EUR","opening_balance":"1,00","closing_balance":"1","columns":{"booking_date":"d","amount":"a"}}`, "not a plain decimal"},
		{"one balance", `{"currency":"EUR","opening_balance":"1","columns":{"booking_date":"d","amount":"a"}}`, "needs a fixed closing"},
		{"balance column", `{"currency":"EUR","opening_balance":"1","closing_balance":"1","columns":{"booking_date":"d","amount":"a","balance":"b"}}`, "both a balance column"},
		{"no header", `{"no_header":true,"currency":"EUR","columns":{"booking_date":"#1","amount":"a"}}`, "names its columns #N"},
		{"column number", `{"currency":"EUR","columns":{"booking_date":"#0","amount":"a"}}`, "#1 … #1000"},
		{"encoding", `{"encoding":"utf-16","currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "encoding"},
		{"skip", `{"skip_lines":-1,"currency":"EUR","columns":{"booking_date":"d","amount":"a"}}`, "skip_lines"},
		{"size", `{"account":"` + strings.Repeat("x", 70000) + `"}`, "larger than 64 KiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMapping(strings.NewReader(c.json))
			if !errors.Is(err, ErrMapping) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("got %v, want ErrMapping and ~%q", err, c.reason)
			}
		})
	}
	// ParseCSV checks a mapping built in code the same way.
	if _, err := ParseCSV("x.csv", strings.NewReader(""), Mapping{}, Limits{}); !errors.Is(err, ErrMapping) {
		t.Errorf("got %v, want ErrMapping", err)
	}
}
