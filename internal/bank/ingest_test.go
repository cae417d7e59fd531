package bank

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/money"
)

// TestBankIngestEachFormat: the sample camt.053 (both versions), MT940 and CSV
// files are stored with their statements and entries, archived by
// SHA-256, and checked: the samples chain, the CSV has no balances.
func TestBankIngestEachFormat(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	main := e.mustAccount(t, "Main EUR", "DE89 3704 0044 0532 0130 00", "", sample(t, "csv_de_mapping.json"))
	legacy := e.mustAccount(t, "Legacy EUR", "", sampleNumber, nil)

	v02 := sample(t, "camt053_v02.xml")
	f := e.mustIngest(t, "camt053_v02.xml", v02)
	if f.Duplicate || f.Format != statement.Camt053 || f.SHA256 != sha256Hex(v02) || f.Size != int64(len(v02)) ||
		f.Source != SourceUpload || len(f.Statements) != 2 {
		t.Fatalf("camt.053.001.02: %+v", f)
	}
	first := f.Statements[0]
	want := Statement{ID: first.ID, AccountID: main.ID, Format: statement.Camt053, StatementID: "20261201-0532013000-235",
		Sequence: "235", FromDate: date("2026-12-01"), ToDate: date("2026-12-01"), Currency: "EUR",
		Opening:       statement.Balance{Money: money.Money{Minor: 1_000_000, Currency: "EUR"}, Date: date("2026-11-30"), Valid: true},
		Closing:       statement.Balance{Money: money.Money{Minor: 1_422_206, Currency: "EUR"}, Date: date("2026-12-01"), Valid: true},
		BankCreatedAt: time.Date(2026, 12, 1, 21, 0, 12, 0, time.UTC), Entries: 3, Line: 17,
		File:   FileRef{Name: "camt053_v02.xml", SHA256: sha256Hex(v02), Size: int64(len(v02)), Source: SourceUpload},
		Status: StatusOK, CreatedAt: first.CreatedAt}
	if !equalStatement(first, want) {
		t.Fatalf("first statement\n got %+v\nwant %+v", first, want)
	}
	if f.Statements[1].StatementID != "20261202-0532013000-236" || f.Statements[1].Status != StatusOK {
		t.Fatalf("second statement %+v", f.Statements[1])
	}
	entries, err := e.svc.ListEntries(ctx, first.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries.Items) != 3 || entries.Next != "" {
		t.Fatalf("entries %+v", entries)
	}
	payout := entries.Items[0]
	if payout.Seq != 1 || payout.Amount != (money.Money{Minor: 123_456, Currency: "EUR"}) ||
		payout.EndToEndID != "APO-B-20261201-01" || payout.BankTxCode != "PMNT/RCDT/ESCT" ||
		!payout.BookingDate.Equal(date("2026-12-01")) || payout.Status != statement.Booked {
		t.Fatalf("payout entry %+v", payout)
	}
	if batch := entries.Items[1]; len(batch.Transactions) != 2 || batch.Transactions[0].EndToEndID == "" ||
		batch.Transactions[0].Amount.Currency != "EUR" {
		t.Fatalf("batched entry %+v", batch)
	}
	if archived := e.archived(t); !slices.Equal(archived, []string{sha256Hex(v02)[:2] + "/" + sha256Hex(v02) + "_camt053_v02.xml"}) {
		t.Fatalf("archive holds %q", archived)
	}

	// The .08 sample is the next day of the same account: it chains.
	f = e.mustIngest(t, "camt053_v08.xml", sample(t, "camt053_v08.xml"))
	if len(f.Statements) != 1 || f.Statements[0].Status != StatusOK || len(f.Statements[0].Findings) != 0 {
		t.Fatalf("camt.053.001.08: %+v", f.Statements)
	}

	f = e.mustIngest(t, "mt940_two.sta", sample(t, "mt940_two.sta"))
	if f.Format != statement.MT940 || len(f.Statements) != 2 {
		t.Fatalf("MT940: %+v", f)
	}
	for i, s := range f.Statements {
		if s.AccountID != legacy.ID || s.StatementID != "STARTUMSE" || s.Status != StatusOK || s.Entries != 3-i {
			t.Errorf("MT940 statement %d: %+v", i, s)
		}
	}
	if f.Statements[0].Sequence != "00245/001" || !f.Statements[1].FromDate.Equal(date("2026-12-05")) {
		t.Errorf("MT940 statements %+v", f.Statements)
	}

	// The CSV export, Windows-1252, read with the main account's mapping.
	f = e.mustIngest(t, "umsaetze.csv", sample(t, "csv_de.csv"))
	if f.Format != statement.CSV || len(f.Statements) != 1 {
		t.Fatalf("CSV: %+v", f)
	}
	c := f.Statements[0]
	if c.AccountID != main.ID || c.StatementID != "umsaetze.csv" || c.Entries != 4 || c.Status != StatusUnchecked ||
		c.Opening.Valid || !c.FromDate.Equal(date("2026-12-04")) || !c.ToDate.Equal(date("2026-12-07")) {
		t.Fatalf("CSV statement %+v", c)
	}
	entries, err = e.svc.ListEntries(ctx, c.ID, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries.Items) != 2 || entries.Next == "" || entries.Items[0].CounterpartyName != "APO PAYMENTS EUROPE B.V." {
		t.Fatalf("CSV entries %+v", entries)
	}
	rest, err := e.svc.ListEntries(ctx, c.ID, entries.Next, 2)
	if err != nil || len(rest.Items) != 2 || rest.Items[0].Seq != 3 || rest.Next != "" {
		t.Fatalf("second page %+v %v", rest, err)
	}
	if got := e.count(t, "bank_entries"); got != 3+2+3+3+2+4 {
		t.Fatalf("%d entries stored", got)
	}
	if got := len(e.archived(t)); got != 4 {
		t.Fatalf("%d files archived, want 4", got)
	}
}

// equalStatement compares statements, their times by instant.
func equalStatement(a, b Statement) bool {
	return a.BankCreatedAt.Equal(b.BankCreatedAt) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.FromDate.Equal(b.FromDate) && a.ToDate.Equal(b.ToDate) &&
		a.Opening.Date.Equal(b.Opening.Date) && a.Closing.Date.Equal(b.Closing.Date) &&
		reflect.DeepEqual(strip(a), strip(b))
}

func strip(s Statement) Statement {
	s.BankCreatedAt, s.CreatedAt, s.FromDate, s.ToDate = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	s.Opening.Date, s.Closing.Date = time.Time{}, time.Time{}
	s.Findings = nil
	return s
}

// TestBankIngestDuplicateFile: the same content again, under any name, is the
// file as first ingested: nothing stored or archived twice.
func TestBankIngestDuplicateFile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustAccount(t, "Main", sampleIBAN, "", nil)
	content := sample(t, "camt053_v02.xml")
	first := e.mustIngest(t, "camt053_v02.xml", content)
	for _, name := range []string{"camt053_v02.xml", "again.xml"} {
		again := e.mustIngest(t, name, content)
		if !again.Duplicate || again.Name != name || again.SHA256 != first.SHA256 || again.Format != statement.Camt053 ||
			len(again.Statements) != 2 || again.Statements[0].ID != first.Statements[0].ID ||
			again.Statements[0].File.Name != "camt053_v02.xml" {
			t.Fatalf("%s again: %+v", name, again)
		}
	}
	if n := e.count(t, "bank_statements"); n != 2 {
		t.Fatalf("%d statements stored", n)
	}
	if n := len(e.archived(t)); n != 1 {
		t.Fatalf("%d files archived", n)
	}
	// Other bytes, the same statements, but a period that ends before it
	// starts: refused for that before it could be a duplicate.
	backwards := strings.Replace(string(content), "<ToDtTm>2026-12-01T23:59:59.0+01:00", "<ToDtTm>2026-11-30T23:59:59.0+01:00", 1)
	if refused := e.mustRefuse(t, "backwards.xml", []byte(backwards), nil); !strings.Contains(refused.Reason, "ends before it starts") {
		t.Fatalf("backwards: %v", refused)
	}
}

// TestBankIngestSameContentAtOnce: two arrivals of the same content racing
// store it once; the other answers as a duplicate.
func TestBankIngestSameContentAtOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	content := sample(t, "mt940_two.sta")
	var (
		wg    sync.WaitGroup
		files [4]File
		errs  [4]error
	)
	for i := range files {
		wg.Go(func() { files[i], errs[i] = e.ingest(t, "mt940.sta", content) })
	}
	wg.Wait()
	var dups int
	for i := range files {
		if errs[i] != nil {
			t.Fatalf("arrival %d: %v", i, errs[i])
		}
		if files[i].Duplicate {
			dups++
		}
	}
	if dups != len(files)-1 || e.count(t, "bank_statements") != 2 || e.count(t, "bank_entries") != 5 {
		t.Fatalf("%d duplicates, %d statements, %d entries", dups, e.count(t, "bank_statements"), e.count(t, "bank_entries"))
	}
}

// TestBankIngestDuplicateStatement: a statement stored from one file is
// refused in another, and that whole file with it; a file holding one
// statement twice is refused too.
func TestBankIngestDuplicateStatement(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	mon := mtDay{seq: 1, d: "2026-12-07", open: 10_000, close: 15_000, entries: []int64{5_000}}
	tue := mtDay{seq: 2, d: "2026-12-08", open: 15_000, close: 14_000, entries: []int64{-1_000}}
	wed := mtDay{seq: 3, d: "2026-12-09", open: 14_000, close: 14_000}
	e.mustIngest(t, "mon.sta", mt940(mon))

	// Tuesday's file repeats Monday (another delivery, other bytes).
	refused := e.mustRefuse(t, "mon-tue.sta", mt940(tue, mon), ErrDuplicateStatement)
	if len(refused.Lines) != 1 || refused.Lines[0].Line != 9 || !strings.Contains(refused.Reason, "mon.sta") ||
		!strings.Contains(refused.Reason, `"STARTUMSE" (sequence 00001/001) of 2026-12-07`) {
		t.Fatalf("refusal %+v", refused)
	}
	refused = e.mustRefuse(t, "tue-twice.sta", mt940(tue, wed, tue), ErrDuplicateStatement)
	if refused.Lines[0].Line != 15 || !strings.Contains(refused.Reason, "twice (first at line 1)") {
		t.Fatalf("refusal %+v: %v", refused, refused)
	}
	if n := e.count(t, "bank_statements"); n != 1 {
		t.Fatalf("%d statements stored, want Monday's alone", n)
	}
	if n := len(e.archived(t)); n != 1 {
		t.Fatalf("%d files archived, want Monday's alone", n)
	}
	// The same sequence number a year later is another statement.
	e.mustIngest(t, "next-year.sta", mt940(mtDay{seq: 1, d: "2027-12-07", open: 1, close: 1}))
}

// TestBankIngestBadLineStoresNothing: one bad line refuses the whole file
// with its line named; nothing is stored or archived, and the fixed file
// goes in.
func TestBankIngestBadLineStoresNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	good := mt940(mtDay{seq: 1, d: "2026-12-07", open: 10_000, close: 15_000, entries: []int64{2_000, 3_000}},
		mtDay{seq: 2, d: "2026-12-08", open: 15_000, close: 15_000})
	bad := strings.Replace(string(good), "C30,00NTRF", "C3O,00NTRF", 1)
	refused := e.mustRefuse(t, "bad.sta", []byte(bad), nil)
	if len(refused.Lines) != 1 || refused.Lines[0].Line != 7 || refused.Lines[0].Field != ":61:" ||
		!strings.Contains(refused.Error(), "bad.sta: 1 bad line(s)") {
		t.Fatalf("refusal %+v: %v", refused.Lines, refused)
	}
	for _, table := range []string{"bank_statements", "bank_entries", "bank_statement_findings"} {
		if n := e.count(t, table); n != 0 {
			t.Errorf("%d rows in %s", n, table)
		}
	}
	if got := e.archived(t); len(got) != 0 {
		t.Fatalf("archive holds %q", got)
	}
	if f := e.mustIngest(t, "fixed.sta", good); len(f.Statements) != 2 {
		t.Fatalf("fixed file: %+v", f)
	}
}

// TestBankIngestRefusals: what a file is refused for, named.
func TestBankIngestRefusals(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	camt := sample(t, "camt053_v02.xml")

	refused := e.mustRefuse(t, "camt.xml", camt, ErrUnknownAccount)
	if !strings.Contains(refused.Error(), "no bank account is configured for IBAN "+sampleIBAN) || refused.Lines[0].Line != 17 {
		t.Fatalf("unknown IBAN: %v", refused)
	}
	refused = e.mustRefuse(t, "mt940.sta", sample(t, "mt940_two.sta"), ErrUnknownAccount)
	if !strings.Contains(refused.Error(), `no bank account is configured for account "`+sampleNumber+`"`) {
		t.Fatalf("unknown number: %v", refused)
	}
	// An account that names no currency, and an entry in another one
	// than the balances': camt.053 leaves that to the reader.
	e.mustAccount(t, "Main", sampleIBAN, "", nil)
	mixed := strings.Replace(string(sample(t, "camt053_v08.xml")), "<Ccy>EUR</Ccy>", "", 1)
	mixed = strings.Replace(mixed, `<Amt Ccy="EUR">800.00</Amt>`, `<Amt Ccy="USD">800.00</Amt>`, 1)
	refused = e.mustRefuse(t, "mixed.xml", []byte(mixed), nil)
	if len(refused.Lines) != 1 || refused.Lines[0].Line != 144 || refused.Lines[0].Reason != "entry in USD on a EUR statement" {
		t.Fatalf("mixed currencies: %+v %v", refused.Lines, refused)
	}
	if _, err := e.db.Exec(`DELETE FROM bank_accounts`); err != nil {
		t.Fatal(err)
	}

	refused = e.mustRefuse(t, "export.csv", sample(t, "csv_de.csv"), statement.ErrFormat)
	if !strings.Contains(refused.Reason, "no bank account has a CSV mapping") {
		t.Fatalf("CSV without mappings: %v", refused)
	}
	e.mustRefuse(t, "broken.xml", []byte("<Document><BkToCstmrStmt>"), statement.ErrFormat)

	// An account in another currency.
	if _, err := e.svc.CreateAccount(context.Background(), NewAccount{Name: "USD", IBAN: sampleIBAN, Currency: "USD",
		SettlementCurrency: "USD"}); err != nil {
		t.Fatal(err)
	}
	refused = e.mustRefuse(t, "camt.xml", camt, nil)
	if !strings.Contains(refused.Reason, "is in EUR, but bank account") {
		t.Fatalf("currency: %v", refused)
	}

	// Beyond the size limit: refused before it is parsed, nothing kept.
	small := NewService(e.db, Config{ArchiveDir: e.archive, Limits: statement.Limits{MaxBytes: 1024}}, e.svc.log)
	_, err := small.Ingest(context.Background(), "camt.xml", strings.NewReader(string(camt)))
	var tooLarge *RefusedError
	if !errors.As(err, &tooLarge) || !errors.Is(err, statement.ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if got := e.archived(t); len(got) != 0 {
		t.Fatalf("archive holds %q", got)
	}
	if _, err := e.svc.Ingest(context.Background(), "../", strings.NewReader("x")); err == nil {
		t.Fatal("a name without a file was accepted")
	}
}

// TestBankFindings: a balance that does not chain, a missing weekday and
// entries that do not add up are stored as findings of the later
// statement; a weekend is not missing; the statement that fills a gap
// later mends the findings of the one after it.
func TestBankFindings(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	// Mon 7, Tue 8, (Wed 9 missing), Thu 10 opening at another balance,
	// Fri 11, (weekend), Mon 14 whose entries do not add up.
	f := e.mustIngest(t, "week.sta", mt940(
		mtDay{seq: 1, d: "2026-12-07", open: 10_000, close: 15_000, entries: []int64{5_000}},
		mtDay{seq: 2, d: "2026-12-08", open: 15_000, close: 14_000, entries: []int64{-1_000}},
		mtDay{seq: 4, d: "2026-12-10", open: 20_000, close: 20_000},
		mtDay{seq: 5, d: "2026-12-11", open: 20_000, close: 20_000},
		mtDay{seq: 6, d: "2026-12-14", open: 20_000, close: 25_000, entries: []int64{4_000}},
	))
	statuses := func(stmts []Statement) []Status {
		out := make([]Status, len(stmts))
		for i, s := range stmts {
			out[i] = s.Status
		}
		return out
	}
	if got, want := statuses(f.Statements), []Status{StatusOK, StatusOK, StatusFindings, StatusOK, StatusFindings}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	thu := f.Statements[2]
	if got := kinds(thu.Findings); !slices.Equal(got, []statement.Kind{statement.BalanceBreak, statement.DayMissing}) {
		t.Fatalf("Thursday's findings %v", got)
	}
	brk, gap := thu.Findings[0], thu.Findings[1]
	if brk.PreviousStatementID != f.Statements[1].ID || brk.Expected != (money.Money{Minor: 14_000, Currency: "EUR"}) ||
		brk.Actual != (money.Money{Minor: 20_000, Currency: "EUR"}) || brk.Line != thu.Line {
		t.Errorf("balance break %+v", brk)
	}
	if gap.PreviousStatementID != f.Statements[1].ID || !gap.MissingFrom.Equal(date("2026-12-09")) ||
		!gap.MissingTo.Equal(date("2026-12-09")) || gap.Expected.Currency != "" || !strings.Contains(gap.Detail, "2026-12-09") {
		t.Errorf("missing day %+v", gap)
	}
	mon := f.Statements[4]
	if len(mon.Findings) != 1 || mon.Findings[0].Kind != statement.SumMismatch ||
		mon.Findings[0].Expected != (money.Money{Minor: 5_000, Currency: "EUR"}) ||
		mon.Findings[0].Actual != (money.Money{Minor: 4_000, Currency: "EUR"}) || mon.Findings[0].PreviousStatementID != 0 {
		t.Fatalf("Monday's findings %+v", mon.Findings)
	}

	// Wednesday arrives, with the balance that Thursday opens with: the
	// gap and the break are mended, Wednesday itself breaks with Tuesday.
	wed := e.mustIngest(t, "wed.sta", mt940(mtDay{seq: 3, d: "2026-12-09", open: 14_000, close: 20_000, entries: []int64{6_000}}))
	if s := wed.Statements[0]; s.Status != StatusOK || len(s.Findings) != 0 {
		t.Fatalf("Wednesday %+v", s)
	}
	after, err := e.svc.GetStatement(ctx, thu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != StatusOK || len(after.Findings) != 0 {
		t.Fatalf("Thursday after Wednesday arrived: %s %+v", after.Status, after.Findings)
	}
	if after, _ := e.svc.GetStatement(ctx, mon.ID); after.Status != StatusFindings || len(after.Findings) != 1 {
		t.Fatalf("Monday's own sum finding must stand: %+v", after)
	}

	// A statement before all others: the first has nothing to chain with.
	early := e.mustIngest(t, "early.sta", mt940(mtDay{seq: 9, d: "2026-12-03", open: 1, close: 1}))
	if early.Statements[0].Status != StatusOK {
		t.Fatalf("earliest statement %+v", early.Statements[0])
	}
	monday, _ := e.svc.GetStatement(ctx, f.Statements[0].ID)
	if got := kinds(monday.Findings); !slices.Equal(got, []statement.Kind{statement.BalanceBreak, statement.DayMissing}) ||
		!monday.Findings[1].MissingFrom.Equal(date("2026-12-04")) || !monday.Findings[1].MissingTo.Equal(date("2026-12-06")) {
		t.Fatalf("first Monday after an earlier statement arrived: %+v", monday.Findings)
	}
	if n := e.count(t, "bank_statement_findings"); n != 3 {
		t.Fatalf("%d findings stored, want Monday 7's two and Monday 14's sum", n)
	}
}

// TestBankScanDir: dropped files are ingested once; hidden files, the archive
// and files read before are skipped; a refused file is listed, and listed
// again by the next scan until it is fixed.
func TestBankScanDir(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	dir := t.TempDir()
	// The archive inside the drop directory, not hidden: the scan skips it.
	e.archive = filepath.Join(dir, "archive")
	e.svc = NewService(e.db, Config{ArchiveDir: e.archive}, e.svc.log)
	e.mustAccount(t, "Main", sampleIBAN, sampleNumber, nil)
	write := func(rel string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("2026/12/camt053_v02.xml", sample(t, "camt053_v02.xml"))
	write("mt940.sta", sample(t, "mt940_two.sta"))
	write("copy.sta", sample(t, "mt940_two.sta"))
	write(".partial.xml", []byte("<Doc"))
	write("bad.sta", []byte(":20:X\r\n:25:"+sampleNumber+"\r\n:28C:1\r\n:60F:C261203EUR1,00\r\n:61:nonsense\r\n:62F:C261204EUR1,00\r\n-"))
	ctx := context.Background()

	res, err := e.svc.ScanDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seen != 4 || len(res.Ingested) != 2 || res.Duplicates != 1 || res.Unchanged != 0 || len(res.Refused) != 1 ||
		res.Refused[0].File != "bad.sta" {
		t.Fatalf("first scan %+v", res)
	}
	for _, f := range res.Ingested {
		if f.Source != SourceDir || f.Statements[0].File.Source != SourceDir {
			t.Errorf("scanned file %+v", f)
		}
	}
	if p := res.Ingested[0].Statements[0].File.SourcePath; p != "2026/12/camt053_v02.xml" {
		t.Errorf("source path %q", p)
	}
	res, err = e.svc.ScanDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// copy.sta was a duplicate, not stored: it is hashed again.
	if res.Seen != 4 || len(res.Ingested) != 0 || res.Unchanged != 2 || res.Duplicates != 1 || len(res.Refused) != 1 {
		t.Fatalf("second scan %+v", res)
	}
}

// TestBankIngestLongReferences: references as long as the parser keeps
// (statement.Limits.MaxField) are stored and found; their indexes hold
// them.
func TestBankIngestLongReferences(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mapping := `{"account": "` + sampleIBAN + `", "currency": "EUR",
		"columns": {"booking_date": "date", "amount": "amount", "reference": "ref", "end_to_end_id": "e2e"}}`
	e.mustAccount(t, "Main", sampleIBAN, "", []byte(mapping))
	// Random, so that no compression brings it under a B-tree entry's size.
	raw := make([]byte, statement.DefaultLimits.MaxField/2)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	long := hex.EncodeToString(raw)
	f := e.mustIngest(t, "export.csv", []byte("date,amount,ref,e2e\n2026-12-01,1.00,"+long+","+long+"\n"))
	page, err := e.svc.ListEntries(context.Background(), f.Statements[0].ID, "", 0)
	if err != nil || len(page.Items) != 1 || page.Items[0].Reference != long || page.Items[0].EndToEndID != long {
		t.Fatalf("entries %d %v", len(page.Items), err)
	}
}
