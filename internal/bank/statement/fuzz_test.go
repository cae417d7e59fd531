package statement

import (
	"bytes"
	"errors"
	"testing"

	"github.com/payops/payops/internal/money"
)

// fuzzLimits are small, so that the fuzzers reach every bound and each
// input's cost stays within them: at most 64 KiB read, 16 statements of 64
// entries, kept values of 256 bytes.
var fuzzLimits = Limits{MaxBytes: 64 << 10, MaxLine: 1 << 10, MaxField: 256, MaxStatements: 16, MaxEntries: 64, MaxErrors: 8}

// checkParsed holds what every parser promises whatever its input: an
// error is a refusal (a *LineError wrapping ErrTooLarge or ErrFormat, no
// statements) or a bounded list of placed line errors; every statement and
// entry is within the limits, every amount is exact, known and below the
// ceiling, and Check runs on the result.
func checkParsed(t *testing.T, file string, stmts []Statement, err error) {
	t.Helper()
	lim := fuzzLimits
	if les, ok := err.(*LineErrors); ok {
		if les.File != file || len(les.Errs) == 0 || len(les.Errs) > lim.MaxErrors || les.Omitted < 0 {
			t.Fatalf("bad error list: %v", les)
		}
		for _, le := range les.Errs {
			if le.File != file || le.Line < 0 || le.Err != nil || le.Reason == "" {
				t.Fatalf("line error without a place or reason: %+v", le)
			}
		}
	} else if err != nil {
		var le *LineError
		if !errors.As(err, &le) || !(errors.Is(err, ErrTooLarge) || errors.Is(err, ErrFormat)) || le.File != file {
			t.Fatalf("error of an unexpected class: %v", err)
		}
		if stmts != nil {
			t.Fatalf("a refused file returned %d statements", len(stmts))
		}
	}
	if len(stmts) > lim.MaxStatements {
		t.Fatalf("%d statements, beyond %d", len(stmts), lim.MaxStatements)
	}
	for _, s := range stmts {
		checkStatement(t, s, lim)
	}
	Check(stmts)
}

func checkStatement(t *testing.T, s Statement, lim Limits) {
	t.Helper()
	items := len(s.Entries)
	for _, e := range s.Entries {
		items += len(e.Transactions)
	}
	if s.Line < 1 || items > lim.MaxEntries {
		t.Fatalf("statement at line %d with %d entries", s.Line, items)
	}
	fields(t, lim, s.ID, s.Sequence, s.Account.IBAN, s.Account.Number)
	for _, b := range []Balance{s.OpeningBalance, s.ClosingBalance} {
		if b.Valid {
			checkAmount(t, b.Money)
		}
	}
	if s.ToDate.Before(s.FromDate) {
		t.Fatalf("period %v – %v", s.FromDate, s.ToDate)
	}
	for _, e := range s.Entries {
		if e.Line < s.Line || e.Status == "" {
			t.Fatalf("entry at line %d (statement at %d), status %q", e.Line, s.Line, e.Status)
		}
		checkAmount(t, e.Amount)
		checkRefs(t, lim, e.Refs)
		for _, tx := range e.Transactions {
			if tx.Amount.Currency != "" {
				checkAmount(t, tx.Amount)
			}
			checkRefs(t, lim, tx.Refs)
		}
	}
}

func checkAmount(t *testing.T, m money.Money) {
	t.Helper()
	back, err := money.ParseMajor(money.FormatMajor(m), m.Currency, true)
	if err != nil || back != m {
		t.Fatalf("amount %v does not round-trip: %v %v", m, back, err)
	}
	if err := money.CheckCeiling(m); err != nil {
		t.Fatalf("accepted %v: %v", m, err)
	}
}

func checkRefs(t *testing.T, lim Limits, r Refs) {
	t.Helper()
	fields(t, lim, r.EndToEndID, r.AccountServicerRef, r.Reference, r.RemittanceInfo, r.CreditorRef,
		r.CounterpartyName, r.CounterpartyAccount, r.BankTxCode, r.Info)
}

// fields checks kept values against MaxField (a BankTxCode joins three
// codes and an MT940 one adds its GVC, hence the slack).
func fields(t *testing.T, lim Limits, vs ...string) {
	t.Helper()
	for _, v := range vs {
		if len(v) > 3*lim.MaxField+2 {
			t.Fatalf("a value of %d bytes kept, beyond MaxField %d", len(v), lim.MaxField)
		}
	}
}

func FuzzCamt053(f *testing.F) {
	// Compact seeds rather than the testdata files: the fuzzer minimizes
	// every new input it finds, and from a 9 KB seed that takes most of
	// the few seconds make test gives each target.
	f.Add([]byte(camtDoc(ntryXML("1.00", "CRDT"), ntryXML("x", "DBIT"))))
	f.Add([]byte(camtDoc(`<Ntry><Amt Ccy="EUR">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd><Sts>BOOK</Sts>
<BookgDt><DtTm>2026-12-01T09:00:00+01:00</DtTm></BookgDt><ValDt><Dt>2026-12-01</Dt></ValDt><AcctSvcrRef>A</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><Refs><EndToEndId>E1</EndToEndId><InstrId>I1</InstrId></Refs><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<RltdPties><Dbtr><Pty><Nm>D</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></DbtrAcct></RltdPties>
<RmtInf><Ustrd>U1</Ustrd><Strd><CdtrRefInf><Ref>RF18</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>
<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">2.00</Amt></TxAmt></AmtDtls>
<RltdPties><Cdtr><Nm>C</Nm></Cdtr><CdtrAcct><Id><Othr><Id>1</Id></Othr></Id></CdtrAcct></RltdPties><AddtlTxInf>X</AddtlTxInf></TxDtls>
</NtryDtls><AddtlNtryInf>N</AddtlNtryInf></Ntry>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><DtTm>2026-12-01T23:00:00Z</DtTm></Dt></Bal>`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		stmts, err := ParseCamt053("fuzz.xml", bytes.NewReader(data), fuzzLimits)
		checkParsed(t, "fuzz.xml", stmts, err)
	})
}

func FuzzMT940(f *testing.F) {
	f.Add(mustRead(f, "mt940_two.sta"))
	f.Add([]byte(bare))
	f.Add([]byte(":20:X\n:25:1\n:60F:C261201EUR0,\n:61:2612011201RD1,NTRFNONREF//B\nsupplement\n:86:/EREF/E//REMI/STRD/CUR/RF18\n:62F:C261201EUR1,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		stmts, err := ParseMT940("fuzz.sta", bytes.NewReader(data), fuzzLimits)
		checkParsed(t, "fuzz.sta", stmts, err)
	})
}

// FuzzCSV fuzzes the file and its mapping; a mapping that does not parse
// is replaced by the German sample's, so that the file is still read.
func FuzzCSV(f *testing.F) {
	de := mustRead(f, "csv_de_mapping.json")
	f.Add(mustRead(f, "csv_de.csv"), de)
	f.Add([]byte(ingCSV), []byte(`{"delimiter":";","date_format":"DD.MM.YYYY","decimal":",","thousands":".","newest_first":true,
		"columns":{"booking_date":"Buchung","amount":"Betrag","currency":"#9","balance":"Saldo","remittance":"Verwendungszweck"}}`))
	f.Add([]byte("26-12-01,2000,H\n26-12-02,5,S\n"), []byte(`{"no_header":true,"date_format":"YY-MM-DD","currency":"JPY",
		"opening_balance":"0","closing_balance":"1995","debit_marks":["S"],"credit_marks":["H"],
		"columns":{"booking_date":"#1","amount":"#2","mark":"#3"}}`))
	fallback, err := ParseMapping(bytes.NewReader(de))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data, mapping []byte) {
		m, err := ParseMapping(bytes.NewReader(mapping))
		if err != nil {
			if !errors.Is(err, ErrMapping) {
				t.Fatalf("mapping error of an unexpected class: %v", err)
			}
			m = fallback
		}
		stmts, err := ParseCSV("fuzz.csv", bytes.NewReader(data), m, fuzzLimits)
		checkParsed(t, "fuzz.csv", stmts, err)
		if err == nil && len(stmts) != 1 {
			t.Fatalf("a CSV file read as %d statements", len(stmts))
		}
	})
}
