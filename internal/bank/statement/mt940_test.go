package statement

import (
	"bytes"
	"strings"
	"testing"
)

func TestMT940Sample(t *testing.T) {
	stmts, err := ParseMT940("mt940_two.sta", bytes.NewReader(mustRead(t, "mt940_two.sta")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements, want 2", len(stmts))
	}
	s := stmts[0]
	if s.Format != MT940 || s.ID != "STARTUMSE" || s.Sequence != "00245/001" || s.Line != 2 ||
		s.Account != (Account{Number: "37040044/0532013000"}) || s.Currency != "EUR" || !s.CreatedAt.IsZero() {
		t.Errorf("statement header: %+v", s)
	}
	// :60F: carries the previous statement's date, so the statement covers
	// the day after it.
	if s.OpeningBalance != (Balance{Money: eur(500000), Date: date("2026-12-03"), Valid: true}) ||
		s.ClosingBalance != (Balance{Money: eur(597206), Date: date("2026-12-04"), Valid: true}) ||
		!s.FromDate.Equal(date("2026-12-04")) || !s.ToDate.Equal(date("2026-12-04")) {
		t.Errorf("balances and period: %+v", s)
	}
	if len(s.Entries) != 3 {
		t.Fatalf("got %d entries, want 3", len(s.Entries))
	}
	e := s.Entries[0]
	want := Refs{
		EndToEndID: "APO-B-20261204-01", AccountServicerRef: "261204-0001",
		RemittanceInfo: "APO SETTLEMENT BATCH B-20261204-01 PAYOUT", CounterpartyName: "APO PAYMENTS EUROPE B.V.",
		CounterpartyAccount: "NL91ABNA0417164300", BankTxCode: "NTRF/166", Info: "SEPA-GUTSCHRIFT",
	}
	if e.Line != 6 || e.Amount != eur(123456) || e.Refs != want || e.Status != Booked ||
		!e.ValueDate.Equal(date("2026-12-04")) || !e.BookingDate.Equal(date("2026-12-04")) {
		t.Errorf("structured entry: %+v\nwant refs %+v", e, want)
	}
	if e := s.Entries[1]; e.Amount != eur(-1250) || e.RemittanceInfo != "Kontofuehrung 11/2026" || e.CounterpartyAccount != "0532013000" || e.Info != "ENTGELTABSCHLUSS" {
		t.Errorf("fee entry: %+v", e)
	}
	e = s.Entries[2]
	if e.Amount != eur(-25000) || !e.Reversal || e.Reference != "ORDER-77812" || e.BankTxCode != "NRTI" ||
		e.RemittanceInfo != "RUECKLASTSCHRIFT MANGELS DECKUNG BESTELLUNG 77812 ERIKA MUSTERMANN ENTGELT 0,00 EUR" {
		t.Errorf("reversal with multi-line :86:: %+v", e)
	}

	s = stmts[1]
	if s.Sequence != "00246/001" || !s.FromDate.Equal(date("2026-12-05")) || len(s.Entries) != 2 {
		t.Fatalf("second statement: %+v", s)
	}
	e = s.Entries[0]
	if e.Amount != eur(80000) || e.Reference != "PO-2026-17" || e.EndToEndID != "" ||
		e.RemittanceInfo != "Bestellung 2026-17, Kunde 4711 danke" || e.CounterpartyName != "Beispiel AG" ||
		!e.BookingDate.Equal(date("2026-12-05")) {
		t.Errorf("entry without entry date, SVWZ over subfields: %+v", e)
	}
	e = s.Entries[1]
	if e.EndToEndID != "APO-FEE-20261205" || e.RemittanceInfo != "FEE INVOICE F-2026-12" ||
		e.CounterpartyName != "APO PAYMENTS EUROPE B.V." || e.CounterpartyAccount != "NL91ABNA0417164300" {
		t.Errorf("/EREF/…/REMI/ layout: %+v", e)
	}

	if f := Check(stmts); len(f) != 0 {
		t.Errorf("Check found %+v, want nothing", f)
	}
}

// bare is an MT940 message as banks deliver it over EBICS: no SWIFT
// blocks, "-" between messages.
const bare = `:20:REF1
:25:DE89370400440532013000
:28C:1
:60F:D261230EUR100,00
:61:2612311231C100,00NTRFNONREF
:62F:C261231EUR0,
-
:20:REF2
:25:DE89370400440532013000
:28C:2/1
:60M:C261231EUR0,00
:61:2701021231D1,50NCHGNONREF
:61:2612310102C2,50NTRFNONREF
:62M:C270102EUR1,00
-
`

func TestMT940Bare(t *testing.T) {
	stmts, err := ParseMT940("bare.sta", strings.NewReader(bare), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[0].Account.IBAN != "DE89370400440532013000" || stmts[0].OpeningBalance.Money != eur(-10000) ||
		stmts[0].ClosingBalance.Money != eur(0) || stmts[1].Line != 8 {
		t.Fatalf("statements: %+v", stmts)
	}
	// The entry date's year is the one nearest the value date.
	e := stmts[1].Entries
	if !e[0].ValueDate.Equal(date("2027-01-02")) || !e[0].BookingDate.Equal(date("2026-12-31")) ||
		!e[1].ValueDate.Equal(date("2026-12-31")) || !e[1].BookingDate.Equal(date("2027-01-02")) {
		t.Errorf("year rollover: %+v", e)
	}
	// The period reaches back to the earliest booking.
	if s := stmts[1]; !s.FromDate.Equal(date("2026-12-31")) || !s.ToDate.Equal(date("2027-01-02")) {
		t.Errorf("period %v – %v", s.FromDate, s.ToDate)
	}
	if f := Check(stmts); len(f) != 0 {
		t.Errorf("Check found %+v, want nothing", f)
	}
}

func TestMT940Account(t *testing.T) {
	for in, want := range map[string]Account{
		"DE89370400440532013000":             {IBAN: "DE89370400440532013000"},
		"COBADEFFXXX/DE89370400440532013000": {IBAN: "DE89370400440532013000"},
		"DE89370400440532013000EUR":          {IBAN: "DE89370400440532013000"},
		"37040044/0532013000":                {Number: "37040044/0532013000"},
		"DE89370400440532013001":             {Number: "DE89370400440532013001"}, // check digits fail
	} {
		if got := mtAccount(in); got != want {
			t.Errorf("mtAccount(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestMT940Windows1252(t *testing.T) {
	in := ":20:X\n:25:1/2\n:60F:C261201EUR0,\n:61:261201C1,NTRFNONREF\n:86:M\xfcller Stra\xdfe\n:62F:C261201EUR1,\n"
	stmts, err := ParseMT940("w.sta", strings.NewReader(in), Limits{})
	if err != nil || stmts[0].Entries[0].RemittanceInfo != "Müller Straße" {
		t.Fatalf("got %v %+v", err, stmts)
	}
}

func TestMT940BadLines(t *testing.T) {
	for _, c := range []struct {
		name, line, field, reason string
	}{
		{"value date", ":61:261301C1,00NTRFNONREF", ":61:", "value date"},
		{"entry date", ":61:2612011301C1,00NTRFNONREF", ":61:", "entry date"},
		{"mark", ":61:261201X1,00NTRFNONREF", ":61:", "debit/credit mark"},
		{"expected credit", ":61:261201EC1,00NTRFNONREF", ":61:", "debit/credit mark"},
		{"amount", ":61:261201C1.00NTRFNONREF", ":61:", "decimal comma"},
		{"no amount", ":61:261201CNTRFNONREF", ":61:", "decimal comma"},
		{"precision", ":61:261201C1,001NTRFNONREF", ":61:", "not a decimal"},
		{"type", ":61:261201C1,00XTRFNONREF", ":61:", "transaction type"},
		{"ceiling", ":61:261201C999999999999,00NTRFNONREF", ":61:", "ceiling"},
		{"long reference", ":61:261201C1,00NTRF" + strings.Repeat("R", 80), ":61:", "longer than 64 bytes"},
		{"text", "no tag here", "", "text outside a field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := ":20:X\n:25:1/2\n:60F:C261201EUR0,\n:61:261201C5,NTRFNONREF\n" + c.line + "\n:86:for the bad line\n:61:261201D2,NTRFNONREF\n:86:kept\n:62F:C261201EUR3,\n"
			if c.name == "text" {
				in = c.line + "\n" + in
			}
			stmts, err := ParseMT940("b.sta", strings.NewReader(in), Limits{MaxField: 64})
			line := 5
			if c.name == "text" {
				line = 1
			}
			wantLineError(t, err, line, c.field, c.reason)
			if len(stmts) != 1 || len(stmts[0].Entries) != 2 || stmts[0].Entries[1].RemittanceInfo != "kept" {
				t.Fatalf("the good entries must stay: %+v", stmts)
			}
			if f := Check(stmts); len(f) != 0 {
				t.Errorf("Check: %+v", f)
			}
		})
	}
}

func TestMT940BadStatement(t *testing.T) {
	in := ":20:X\n:61:261201C5,NTRFNONREF\n:86:" + strings.Repeat("x", 100) + "\n:60F:C261201USD0,\n:61:261201C5,NTRFNONREF\n:86:" + strings.Repeat("x", 100) + "\n:62F:C261201EUR5,\n-\n:28C:orphan\n"
	stmts, err := ParseMT940("s.sta", strings.NewReader(in), Limits{MaxField: 64})
	les := lineErrors(t, err)
	var got []string
	for _, le := range les.Errs {
		got = append(got, le.Error())
	}
	want := []string{
		"s.sta:2: :61:: no valid :60F: opening balance before the entry, so its currency is unknown",
		"s.sta:6: :86:: longer than 64 bytes",
		"s.sta:7: :62F:: closing balance in EUR, opening balance in USD",
		"s.sta:1: :20:: the statement has no :25: account identification",
		"s.sta:9: :28C:: field outside a statement (no :20: before it)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(stmts) != 1 || len(stmts[0].Entries) != 0 || stmts[0].ClosingBalance.Valid {
		t.Fatalf("statement: %+v", stmts)
	}
}

func TestMT940Refused(t *testing.T) {
	two := ":20:A\n:25:1\n:60F:C261201EUR0,\n:61:261201C1,NTRFNONREF\n:61:261201C1,NTRFNONREF\n:62F:C261201EUR2,\n-\n:20:B\n"
	for _, c := range []struct {
		name, in string
		lim      Limits
		sentinel error
		line     int
		reason   string
	}{
		{"empty", "", Limits{}, ErrFormat, 0, "no :20: field"},
		{"csv", "a;b;c\n1;2;3\n", Limits{}, ErrFormat, 0, "no :20: field"},
		{"bytes", two, Limits{MaxBytes: 40}, ErrTooLarge, 4, "input larger than 40 bytes"},
		{"line", ":20:" + strings.Repeat("x", 300) + "\n", Limits{MaxLine: 256}, ErrTooLarge, 1, "a line longer than 256 bytes"},
		{"field", ":20:A\n:86:" + strings.Repeat("x\n", 300), Limits{MaxLine: 256}, ErrTooLarge, 2, "a field longer than 256 bytes"},
		{"entries", two, Limits{MaxEntries: 1}, ErrTooLarge, 5, "more than 1 entries"},
		{"entries over statements", ":20:A\n:25:1\n:60F:C261201EUR0,\n:61:261201C1,NTRFNONREF\n:62F:C261201EUR1,\n-\n:20:B\n:25:1\n:60F:C261201EUR1,\n:61:261201C1,NTRFNONREF\n", Limits{MaxEntries: 1}, ErrTooLarge, 10, "more than 1 entries"},
		{"statements", two, Limits{MaxStatements: 1}, ErrTooLarge, 8, "more than 1 statements"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmts, err := ParseMT940("r.sta", strings.NewReader(c.in), c.lim)
			wantFatal(t, stmts, err, c.sentinel, c.line, c.reason)
		})
	}
}
