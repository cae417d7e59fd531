package statement

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCamt053V02(t *testing.T) {
	stmts, err := ParseCamt053("camt053_v02.xml", bytes.NewReader(mustRead(t, "camt053_v02.xml")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements, want 2", len(stmts))
	}
	s := stmts[0]
	if s.Format != Camt053 || s.ID != "20261201-0532013000-235" || s.Sequence != "235" || s.Line != 17 ||
		s.Account != (Account{IBAN: "DE89370400440532013000"}) || s.Currency != "EUR" {
		t.Errorf("statement header: %+v", s)
	}
	if want := time.Date(2026, 12, 1, 21, 0, 12, 0, time.UTC); !s.CreatedAt.Equal(want) || s.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, want %v", s.CreatedAt, want)
	}
	if !s.FromDate.Equal(date("2026-12-01")) || !s.ToDate.Equal(date("2026-12-01")) {
		t.Errorf("period %v – %v, want 2026-12-01 (FrToDt)", s.FromDate, s.ToDate)
	}
	if s.OpeningBalance != (Balance{Money: eur(1000000), Date: date("2026-11-30"), Valid: true}) ||
		s.ClosingBalance != (Balance{Money: eur(1422206), Date: date("2026-12-01"), Valid: true}) {
		t.Errorf("balances %+v %+v", s.OpeningBalance, s.ClosingBalance)
	}
	if len(s.Entries) != 3 {
		t.Fatalf("got %d entries, want 3", len(s.Entries))
	}

	// A single transaction: its references are the entry's.
	e := s.Entries[0]
	wantRefs := Refs{
		EndToEndID: "APO-B-20261201-01", AccountServicerRef: "2026120100012345",
		RemittanceInfo: "APO SETTLEMENT BATCH B-20261201-01 PAYOUT", CounterpartyName: "APO PAYMENTS EUROPE B.V.",
		CounterpartyAccount: "NL91ABNA0417164300", BankTxCode: "PMNT/RCDT/ESCT", Info: "SEPA-GUTSCHRIFT",
	}
	if e.Amount != eur(123456) || e.Status != Booked || e.Reversal || e.Refs != wantRefs || e.Transactions != nil ||
		!e.BookingDate.Equal(date("2026-12-01")) || e.Line != 72 {
		t.Errorf("single entry: %+v", e)
	}

	// A batch keeps each transaction's own references and amount.
	e = s.Entries[1]
	if e.Amount != eur(300000) || len(e.Transactions) != 2 || e.EndToEndID != "" || e.AccountServicerRef != "2026120100012346" {
		t.Fatalf("batched entry: %+v", e)
	}
	t1, t2 := e.Transactions[0], e.Transactions[1]
	if t1.Amount != eur(100000) || t1.EndToEndID != "APO-B-20261201-02" || t1.RemittanceInfo != "APO SETTLEMENT BATCH B-20261201-02" ||
		t1.CounterpartyName != "APO PAYMENTS EUROPE B.V." || t1.CounterpartyAccount != "NL91ABNA0417164300" {
		t.Errorf("first transaction: %+v", t1)
	}
	if t2.Amount != eur(200000) || t2.EndToEndID != "APO-B-20261201-03" || t2.CreditorRef != "RF18539007547034" || t2.RemittanceInfo != "" {
		t.Errorf("second transaction: %+v", t2)
	}
	if t1.Line >= t2.Line || t1.Line <= e.Line {
		t.Errorf("transaction lines %d, %d after entry line %d", t1.Line, t2.Line, e.Line)
	}

	e = s.Entries[2]
	if e.Amount != eur(-1250) || e.BankTxCode != "ACMT/MDOP/CHRG" || e.Info != "ENTGELTABSCHLUSS 11/2026" || !e.ValueDate.Equal(date("2026-11-30")) {
		t.Errorf("fee entry: %+v", e)
	}

	// A returned credit: a debit reversing an earlier credit, from its debtor.
	s = stmts[1]
	if s.Sequence != "236" || len(s.Entries) != 2 {
		t.Fatalf("second statement: %+v", s)
	}
	e = s.Entries[0]
	if e.Amount != eur(-25000) || !e.Reversal || e.CounterpartyName != "Erika Mustermann" || e.EndToEndID != "ORDER-77812" {
		t.Errorf("reversal: %+v", e)
	}
	e = s.Entries[1]
	if e.EndToEndID != "" || e.RemittanceInfo != "Rechnung 2026-118 Kunde 4711" {
		t.Errorf("NOTPROVIDED and two Ustrd: %+v", e)
	}

	if f := Check(stmts); len(f) != 0 {
		t.Errorf("Check found %+v, want nothing", f)
	}
}

func TestCamt053V08(t *testing.T) {
	stmts, err := ParseCamt053("camt053_v08.xml", bytes.NewReader(mustRead(t, "camt053_v08.xml")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1 {
		t.Fatalf("got %d statements, want 1", len(stmts))
	}
	s := stmts[0]
	// No FrToDt: the period comes from OPBD and CLBD; CLAV is not a closing.
	if !s.FromDate.Equal(date("2026-12-03")) || !s.ToDate.Equal(date("2026-12-03")) ||
		s.OpeningBalance.Money != eur(1447206) || s.ClosingBalance.Money != eur(1694119) || s.Sequence != "237" {
		t.Errorf("statement: %+v", s)
	}
	if len(s.Entries) != 3 {
		t.Fatalf("got %d entries, want 3", len(s.Entries))
	}
	e := s.Entries[0]
	if !e.BookingDate.Equal(date("2026-12-03")) || len(e.Transactions) != 2 {
		t.Fatalf("batched entry: %+v", e)
	}
	if tx := e.Transactions[0]; tx.Amount != eur(146913) || tx.EndToEndID != "APO-B-20261203-01" ||
		tx.AccountServicerRef != "2026120300031001-1" || tx.CounterpartyName != "APO PAYMENTS EUROPE B.V." {
		t.Errorf("transaction (Dbtr/Pty/Nm): %+v", tx)
	}
	e = s.Entries[1]
	if e.Amount != eur(-80000) || e.CounterpartyName != "Lieferant KG" || e.CounterpartyAccount != "CH9300762011623852957" ||
		e.Reference != "PAY-2026-0042" || e.BankTxCode != "PMNT/ICDT/ESCT" {
		t.Errorf("outgoing transfer: %+v", e)
	}
	// Its return is a credit whose counterparty is still the creditor.
	e = s.Entries[2]
	if e.Amount != eur(80000) || !e.Reversal || e.CounterpartyName != "Lieferant KG" || e.Info != "RETURNED CREDIT TRANSFER" {
		t.Errorf("returned transfer: %+v", e)
	}

	// The v.02 file's last day chains into this one.
	v02, err := ParseCamt053("camt053_v02.xml", bytes.NewReader(mustRead(t, "camt053_v02.xml")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f := Check(append(stmts, v02...)); len(f) != 0 {
		t.Errorf("Check found %+v, want nothing", f)
	}
}

// camtDoc builds a small camt.053.001.08 document around entries.
func camtDoc(entries ...string) string {
	return `<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>M</MsgId><CreDtTm>2026-12-01T22:00:00Z</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id>
<Acct><Id><Othr><Id>0532013000</Id></Othr></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>
` + strings.Join(entries, "\n") + `
</Stmt></BkToCstmrStmt></Document>
`
}

func ntryXML(amt, ind string) string {
	return fmt.Sprintf(`<Ntry><Amt Ccy="EUR">%s</Amt><CdtDbtInd>%s</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>`, amt, ind)
}

func TestCamt053Details(t *testing.T) {
	doc := camtDoc(ntryXML("1.00", "CRDT"),
		`<Ntry><Amt Ccy="EUR">2.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>`)
	stmts, err := ParseCamt053("d.xml", strings.NewReader(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s := stmts[0]
	if s.Account != (Account{Number: "0532013000"}) || s.OpeningBalance.Money != eur(-500) || s.ClosingBalance.Valid {
		t.Errorf("account, debit opening, no closing: %+v", s)
	}
	if !s.CreatedAt.Equal(time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("CreatedAt from the group header: %v", s.CreatedAt)
	}
	if len(s.Entries) != 2 || s.Entries[1].Status != "PDNG" {
		t.Errorf("entries: %+v", s.Entries)
	}
	// A BOM and a Latin-1 declaration are read too.
	latin := "\xef\xbb\xbf" + strings.Replace(camtDoc(ntryXML("1.00", "CRDT")), `<?xml version="1.0"?>`, `<?xml version="1.0" encoding="ISO-8859-1"?>`, 1)
	latin = strings.Replace(latin, "<Id>S1</Id>", "<Id>Gr\xfc\xdfe</Id>", 1)
	stmts, err = ParseCamt053("l.xml", strings.NewReader(latin), Limits{})
	if err != nil || stmts[0].ID != "Grüße" {
		t.Fatalf("Latin-1 with BOM: %v %+v", err, stmts)
	}
}

func TestCamt053BadEntries(t *testing.T) {
	for _, c := range []struct {
		name, entry, field, reason string
	}{
		{"amount", ntryXML("1,00", "CRDT"), "Ntry/Amt", `"1,00" is not a decimal`},
		{"negative", ntryXML("-1.00", "CRDT"), "Ntry/Amt", "is not a decimal"},
		{"too precise", ntryXML("1.001", "CRDT"), "Ntry/Amt", "is not a decimal"},
		{"ceiling", ntryXML("100000000000.01", "CRDT"), "Ntry/Amt", "ceiling"},
		{"indicator", ntryXML("1.00", "CREDIT"), "Ntry/CdtDbtInd", `"CREDIT"`},
		{"currency", strings.Replace(ntryXML("1.00", "CRDT"), `"EUR"`, `"USD"`, 1), "Ntry/Amt", "USD on a EUR account"},
		{"unknown currency", strings.Replace(ntryXML("1.00", "CRDT"), `"EUR"`, `"XXX"`, 1), "Ntry/Amt", "unknown currency"},
		{"date", strings.Replace(ntryXML("1.00", "CRDT"), "2026-12-01", "01.12.2026", 1), "BookgDt/Dt", "not an ISO date"},
		{"reversal", strings.Replace(ntryXML("1.00", "CRDT"), "<Sts>", "<RvslInd>yes</RvslInd><Sts>", 1), "RvslInd", "not a boolean"},
		{"long", strings.Replace(ntryXML("1.00", "CRDT"), "</Ntry>", "<AddtlNtryInf>"+strings.Repeat("x", 200)+"</AddtlNtryInf></Ntry>", 1), "AddtlNtryInf", "longer than 100 bytes"},
		{"tx amount", strings.Replace(ntryXML("1.00", "CRDT"), "</Ntry>", `<NtryDtls><TxDtls><Amt Ccy="EUR">x</Amt></TxDtls></NtryDtls></Ntry>`, 1), "TxDtls/Amt", "not a decimal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := camtDoc(ntryXML("7.00", "CRDT"), "\n"+c.entry, ntryXML("8.00", "DBIT"))
			stmts, err := ParseCamt053("bad.xml", strings.NewReader(doc), Limits{MaxField: 100})
			wantLineError(t, err, 9, c.field, c.reason)
			if len(stmts) != 1 || len(stmts[0].Entries) != 2 || stmts[0].Entries[0].Amount != eur(700) || stmts[0].Entries[1].Amount != eur(-800) {
				t.Fatalf("the good entries must stay: %+v", stmts)
			}
			if !strings.HasPrefix(err.Error(), "bad.xml: 1 problem; 9: Document/BkToCstmrStmt/Stmt/") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestCamt053BadStatement(t *testing.T) {
	doc := strings.Replace(camtDoc(ntryXML("1.00", "CRDT")), `<Amt Ccy="EUR">5.00</Amt>`, `<Amt Ccy="USD">5.00</Amt>`, 1)
	doc = strings.Replace(doc, "<Acct><Id><Othr><Id>0532013000</Id></Othr></Id>", "<Acct>", 1)
	stmts, err := ParseCamt053("s.xml", strings.NewReader(doc), Limits{})
	les := lineErrors(t, err)
	if len(les.Errs) != 2 || !strings.Contains(les.Errs[0].Reason, "balance in USD on a EUR account") ||
		!strings.Contains(les.Errs[1].Reason, "names no account") {
		t.Fatalf("got %v", err)
	}
	if len(stmts) != 1 || stmts[0].OpeningBalance.Valid || len(stmts[0].Entries) != 1 {
		t.Fatalf("the statement stays, without its bad balance: %+v", stmts)
	}
}

func TestCamt053Refused(t *testing.T) {
	many := camtDoc(ntryXML("1.00", "CRDT"), ntryXML("2.00", "CRDT"))
	for _, c := range []struct {
		name, doc string
		lim       Limits
		sentinel  error
		line      int
		reason    string
	}{
		{"empty", "", Limits{}, ErrFormat, 1, "no <Stmt>"},
		{"malformed", "<Document>\n<BkToCstmrStmt>\n</Document>", Limits{}, ErrFormat, 3, "malformed XML"},
		{"camt.052", `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"><BkToCstmrAcctRpt/></Document>`, Limits{}, ErrFormat, 1, "not camt.053"},
		{"camt.052 without namespace", `<Document><BkToCstmrAcctRpt/></Document>`, Limits{}, ErrFormat, 1, "not a BankToCustomerStatement"},
		{"root", `<Stmt/>`, Limits{}, ErrFormat, 1, "not <Document>"},
		{"two roots", camtDoc(ntryXML("1.00", "CRDT")) + "<Document/>", Limits{}, ErrFormat, 9, "second root"},
		{"encoding", `<?xml version="1.0" encoding="EBCDIC"?><Document/>`, Limits{}, ErrFormat, 1, "EBCDIC"},
		{"bytes", many, Limits{MaxBytes: 300}, ErrTooLarge, -1, "input larger than 300 bytes"},
		{"token", strings.Replace(many, "<Id>S1</Id>", "<Id>"+strings.Repeat("1", 5000)+"</Id>", 1), Limits{MaxLine: 1024}, ErrTooLarge, 4, "longer than 1 KiB"},
		{"entries", many, Limits{MaxEntries: 1}, ErrTooLarge, 8, "more than 1 entries"},
		{"entries over statements", strings.Replace(camtDoc(ntryXML("1.00", "CRDT")), "</Stmt>", "</Stmt>\n<Stmt><Ntry/></Stmt>", 1), Limits{MaxEntries: 1}, ErrTooLarge, 9, "more than 1 entries"},
		{"statements", strings.Replace(many, "</Stmt>", "</Stmt><Stmt></Stmt>", 1), Limits{MaxStatements: 1}, ErrTooLarge, 9, "more than 1 statements"},
		{"depth", strings.Replace(many, "<Id>S1</Id>", strings.Repeat("<a>", 70)+strings.Repeat("</a>", 70), 1), Limits{}, ErrTooLarge, 4, "deeper than 64"},
		{"entity", strings.Replace(many, "S1", "&ext;", 1), Limits{}, ErrFormat, 4, "invalid character entity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmts, err := ParseCamt053("r.xml", strings.NewReader(c.doc), c.lim)
			wantFatal(t, stmts, err, c.sentinel, c.line, c.reason)
		})
	}
}

// TestCamt053ManyErrors: problems beyond MaxErrors are counted, not listed.
func TestCamt053ManyErrors(t *testing.T) {
	var entries []string
	for range 12 {
		entries = append(entries, ntryXML("x", "CRDT"))
	}
	stmts, err := ParseCamt053("m.xml", strings.NewReader(camtDoc(entries...)), Limits{MaxErrors: 5})
	les := lineErrors(t, err)
	if len(les.Errs) != 5 || les.Omitted != 7 || len(stmts[0].Entries) != 0 {
		t.Fatalf("got %d listed, %d omitted", len(les.Errs), les.Omitted)
	}
	if !strings.Contains(err.Error(), "12 problems") || !strings.Contains(err.Error(), "and 9 more") {
		t.Errorf("message %q", err)
	}
}

// failingReader fails after its data, as a broken upload does.
type failingReader struct{ data *strings.Reader }

var errBroken = errors.New("connection reset")

func (f failingReader) Read(p []byte) (int, error) {
	if f.data.Len() == 0 {
		return 0, errBroken
	}
	return f.data.Read(p)
}

// TestReadFailure: a failing input is an I/O error, not a bad file.
func TestReadFailure(t *testing.T) {
	doc := camtDoc(ntryXML("1.00", "CRDT"))
	half := doc[:len(doc)/2]
	_, err := ParseCamt053("f.xml", failingReader{strings.NewReader(half)}, Limits{})
	if !errors.Is(err, errBroken) || errors.Is(err, ErrFormat) {
		t.Errorf("camt.053: %v", err)
	}
	_, err = ParseMT940("f.sta", failingReader{strings.NewReader(bare[:50])}, Limits{})
	if !errors.Is(err, errBroken) || errors.Is(err, ErrFormat) {
		t.Errorf("MT940: %v", err)
	}
	_, err = ParseCSV("f.csv", failingReader{strings.NewReader(ingCSV[:200])}, ingMapping, Limits{})
	if !errors.Is(err, errBroken) || errors.Is(err, ErrFormat) {
		t.Errorf("CSV: %v", err)
	}
}
