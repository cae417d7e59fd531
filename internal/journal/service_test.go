package journal

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// Compile-time check that the reconciliation store is what journals read.
var _ Source = (*recon.Store)(nil)

// settlement columns of the test files: APO's generation A with the
// per-type fee columns.
var testItemColumns = []string{"settlementBatchId", "customerId", "acquirer", "transactionType", "transactionId",
	"originalTransactionId", "transactionRequestId", "paymentTime", "settlementTime", "transactionAmountValue",
	"transactionCurrency", "settlementAmountValue", "settlementCurrency", "quoteCurrencyPair", "quotePrice",
	"feeAmountValue", "feeCurrency", "interchangeFeeAmountValue", "interchangeFeeCurrency", "schemeFeeAmountValue",
	"schemeFeeCurrency", "acquirerMarkupAmountValue", "acquirerMarkupCurrency", "taxFeeAmountValue", "taxFeeCurrency",
	"disputeHandlingFee", "disputeHandlingFeeCurrency"}

type testRow map[string]string

// items writes a settlement details file of batch id settled on day.
func items(id, ccy, day string, rows ...testRow) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(testItemColumns)
	for i, r := range rows {
		rec := make([]string, len(testItemColumns))
		for j, c := range testItemColumns {
			rec[j] = r[c]
		}
		rec[0], rec[1], rec[2] = id, "C1", "ADYEN"
		if rec[4] == "" {
			rec[4] = id + "-" + string(rune('a'+i))
		}
		rec[8] = day + "T23:59:59Z"
		if rec[12] == "" {
			rec[12] = ccy
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return b.String() + "<END>\n"
}

// summary writes the settlement summary of a batch.
func summary(id, ccy string, count int, payout string) string {
	return "settlementBatchId,customerId,acquirer,summaryType,count,settlementAmountValue,settlementCurrency\n" +
		id + ",C1,ADYEN,TOTAL," + strconv.Itoa(count) + "," + payout + "," + ccy + "\n<END>\n"
}

// The test day: a USD batch with every fee column, a cross-currency
// capture settled a cent beyond its quote, a chargeback and a reserve; and
// a EUR batch.
var (
	usdBatch = items("B-USD-1", "USD", "2026-12-01",
		testRow{"transactionType": "CAPTURE", "settlementAmountValue": "100.00", "feeAmountValue": "-2.90", "feeCurrency": "USD"},
		testRow{"transactionType": "CAPTURE", "transactionAmountValue": "50.00", "transactionCurrency": "EUR",
			"quoteCurrencyPair": "EUR/USD", "quotePrice": "1.0845", "settlementAmountValue": "54.24",
			"feeAmountValue": "-1.57", "feeCurrency": "USD"},
		testRow{"transactionType": "CAPTURE", "settlementAmountValue": "200.00", "feeAmountValue": "-6.00", "feeCurrency": "USD",
			"interchangeFeeAmountValue": "-3.00", "interchangeFeeCurrency": "USD", "schemeFeeAmountValue": "-1.00",
			"schemeFeeCurrency": "USD", "acquirerMarkupAmountValue": "-1.50", "acquirerMarkupCurrency": "USD",
			"taxFeeAmountValue": "-0.20", "taxFeeCurrency": "USD"},
		testRow{"transactionType": "REFUND", "settlementAmountValue": "-20.00", "feeAmountValue": "0.00", "feeCurrency": "USD"},
		testRow{"transactionType": "DISPUTE", "settlementAmountValue": "-30.00", "feeAmountValue": "-15.00", "feeCurrency": "USD",
			"disputeHandlingFee": "-15.00", "disputeHandlingFeeCurrency": "USD"},
		testRow{"transactionType": "SETTLEMENT_FEE", "settlementAmountValue": "0.00", "feeAmountValue": "-1.00", "feeCurrency": "USD"},
		testRow{"transactionType": "RESERVE_WITHHOLDING", "settlementAmountValue": "-10.00"},
	)
	// 100 − 2.90 + 54.24 − 1.57 + 200 − 6 − 20 − 30 − 15 − 1 − 10
	usdPayout = "267.77"
	eurBatch  = items("B-EUR-1", "EUR", "2026-12-01",
		testRow{"transactionType": "CAPTURE", "settlementAmountValue": "80.00", "feeAmountValue": "-2.00", "feeCurrency": "EUR"},
		testRow{"transactionType": "REFUND", "settlementAmountValue": "-5.00"},
		testRow{"transactionType": "SETTLEMENT_FEE", "settlementAmountValue": "0.00", "feeAmountValue": "-1.00", "feeCurrency": "EUR"},
	)
	eurPayout = "72.00"
)

// testFile is a report file to ingest: its path under the reports
// directory and its content.
type testFile struct{ path, content string }

func dayFiles(day string) []testFile {
	return []testFile{
		{"C1/" + day + "/settlementItems_USD_B-USD-1_000.csv", usdBatch},
		{"C1/" + day + "/settlementSummary_USD_B-USD-1_000.csv", summary("B-USD-1", "USD", 7, usdPayout)},
		{"C1/" + day + "/settlementItems_EUR_B-EUR-1_000.csv", eurBatch},
		{"C1/" + day + "/settlementSummary_EUR_B-EUR-1_000.csv", summary("B-EUR-1", "EUR", 3, eurPayout)},
	}
}

// reconcile ingests files and runs reconciliation over exactly them.
func reconcile(t *testing.T, db *sqlx.DB, files []testFile) recon.Run {
	t.Helper()
	ctx := context.Background()
	rs := recon.NewService(db, recon.Config{ReportsDir: t.TempDir(), ArchiveDir: t.TempDir(), ExportDir: t.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	var ids []int64
	for _, f := range files {
		file, err := rs.Ingest(ctx, f.path, strings.NewReader(f.content))
		if err != nil || file.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %+v %v", f.path, file, err)
		}
		ids = append(ids, file.ID)
	}
	run, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return run
}

// journals returns every built journal of December 2026 by batch.
func journals(t *testing.T, db *sqlx.DB) map[string]Journal {
	t.Helper()
	return journalsOf(t, db, Selection{From: date("2026-12-01"), To: date("2026-12-31")})
}

// journalsOf returns the built journals of sel by batch.
func journalsOf(t *testing.T, db *sqlx.DB, sel Selection) map[string]Journal {
	t.Helper()
	out := map[string]Journal{}
	err := NewStore(db).EachJournal(context.Background(), sel, func(j *Journal) error {
		c := *j
		c.Lines = slices.Clone(j.Lines)
		out[j.BatchID] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// checkTies fails unless every batch of the run has a journal that
// balances and whose clearing line is the batch's payout.
func checkTies(t *testing.T, run recon.Run, results []Result, js map[string]Journal) {
	t.Helper()
	if len(results) != len(run.Batches) {
		t.Fatalf("%d results for %d batches", len(results), len(run.Batches))
	}
	for _, b := range run.Batches {
		j, ok := js[b.BatchID]
		if !ok {
			t.Errorf("batch %s %s has no journal (results %+v)", b.BatchID, b.Currency, results)
			continue
		}
		d, c, ok := j.Totals()
		if !ok || d != c || d == 0 {
			t.Errorf("journal of %s: debits %d, credits %d", b.BatchID, d, c)
		}
		var clearing int64
		for _, l := range j.Lines {
			if l.Kind == PayoutClearing {
				clearing += l.Debit - l.Credit
			}
		}
		if j.Payout != b.Summary || clearing != b.Summary || j.Currency != b.Currency || j.Items != b.Items {
			t.Errorf("journal of %s: payout %d, clearing %d, %s, %d items; batch %+v", b.BatchID, j.Payout, clearing,
				j.Currency, j.Items, b)
		}
	}
}

// TestBuildRun builds the journals of a real run, replays it, rebuilds it
// from a later run of the period, and keeps a batch that comes again in
// another period's reports from being booked twice.
func TestBuildRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	run := reconcile(t, db, dayFiles("20261201"))
	res, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != Built || r.Finding != nil || r.JournalID == 0 {
			t.Errorf("%+v", r)
		}
	}
	js := journals(t, db)
	checkTies(t, run, res, js)
	want := map[Kind]int64{CaptureGross: 35_423, Refund: -2_000, Chargeback: -3_000, FeeProcessing: -477,
		FeeInterchange: -300, FeeScheme: -100, FeeAcquirerMarkup: -150, FeeTax: -20, FeeDispute: -1_500,
		FeeSettlement: -100, ReserveWithheld: -1_000, FXDifference: 1, PayoutClearing: -26_777}
	if d := diffLines(want, sides(js["B-USD-1"])); d != "" {
		t.Errorf("USD journal (-want +got):\n%s", d)
	}

	again, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Outcome != Unchanged || r.JournalID != res[i].JournalID {
			t.Errorf("replay: %+v, first %+v", r, res[i])
		}
	}

	later := reconcile(t, db, dayFiles("20261201")) // the same files: a re-run of the period
	rebuilt, err := svc.BuildRun(ctx, later.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rebuilt {
		if r.Outcome != Built || r.JournalID != res[i].JournalID {
			t.Errorf("rebuild: %+v, first %+v", r, res[i])
		}
	}
	if j := journals(t, db)["B-USD-1"]; j.RunID != later.ID {
		t.Errorf("the journal is run %d's, want the later run %d's", j.RunID, later.ID)
	}
	older, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range older {
		if r.Outcome != Superseded {
			t.Errorf("the earlier run again: %+v", r)
		}
	}

	// The EUR batch again, settled in a later period's reports.
	repeat := strings.ReplaceAll(eurBatch, "2026-12-01", "2026-12-02")
	next := reconcile(t, db, []testFile{{"C1/20261202/settlementItems_EUR_B-EUR-1_000.csv", repeat},
		{"C1/20261202/settlementSummary_EUR_B-EUR-1_000.csv", summary("B-EUR-1", "EUR", 3, eurPayout)}})
	elsewhere, err := svc.BuildRun(ctx, next.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(elsewhere) != 1 || elsewhere[0].Outcome != BookedElsewhere || elsewhere[0].JournalID != res[0].JournalID {
		t.Errorf("the repeated batch: %+v", elsewhere)
	}
	if j := journals(t, db)["B-EUR-1"]; !j.Period.Equal(date("2026-12-01")) {
		t.Errorf("the EUR journal moved to %s", j.Period)
	}

	if _, err := svc.BuildRun(ctx, 999_999); !isInvalid(err) {
		t.Errorf("an unknown run: %v", err)
	}
}

func isInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// A batch whose items do not add up to its summary is kept as a finding,
// not booked, and stops the period's export.
func TestBuildRunFinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	files := dayFiles("20261201")
	files[3].content = summary("B-EUR-1", "EUR", 3, "72.50")
	run := reconcile(t, db, files)
	res, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var found *Finding
	for _, r := range res {
		if r.BatchID == "B-EUR-1" {
			found = r.Finding
		} else if r.Finding != nil {
			t.Errorf("%+v", r)
		}
	}
	if found == nil || found.Kind != RollForwardMismatch || !strings.Contains(found.Reason, "summary says 72.50") {
		t.Fatalf("the EUR batch's finding: %+v", found)
	}
	if _, ok := journals(t, db)["B-EUR-1"]; ok {
		t.Error("the EUR batch was booked")
	}
	if _, err := svc.LoadAccounts(ctx, strings.NewReader(testChart)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = svc.Export(ctx, &buf, ExportRequest{Format: FormatCSV, From: date("2026-12-01"), To: date("2026-12-01")})
	var be *BlockedError
	if !errors.As(err, &be) || len(be.Findings) != 1 || be.Findings[0].BatchID != "B-EUR-1" || buf.Len() != 0 {
		t.Errorf("export: %v, %d bytes written", err, buf.Len())
	}
	// The USD journal alone can go.
	if _, err := svc.Export(ctx, &buf, ExportRequest{Format: FormatCSV, From: date("2026-12-01"), To: date("2026-12-01"),
		Currency: "USD"}); err != nil {
		t.Error(err)
	}
}

// exportDay builds the test day's journals and loads chart.
func exportDay(t *testing.T, chart string) (*Service, recon.Run) {
	t.Helper()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	run := reconcile(t, db, dayFiles("20261201"))
	if _, err := svc.BuildRun(context.Background(), run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.LoadAccounts(context.Background(), strings.NewReader(chart)); err != nil {
		t.Fatal(err)
	}
	return svc, run
}

// export runs an export and reads the file back.
func export(t *testing.T, svc *Service, req ExportRequest) [][]string {
	t.Helper()
	var buf bytes.Buffer
	sum, err := svc.Export(context.Background(), &buf, req)
	if err != nil {
		t.Fatalf("export %s: %v", req.Format, err)
	}
	if !strings.HasSuffix(buf.String(), "\r\n") {
		t.Errorf("%s: rows do not end in CRLF", req.Format)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(recs)-1) != sum.Lines {
		t.Errorf("%s: %d rows, the summary says %d lines", req.Format, len(recs)-1, sum.Lines)
	}
	return recs
}

// row finds the row whose columns col hold want.
func row(t *testing.T, recs [][]string, want map[int]string) []string {
	t.Helper()
	for _, r := range recs[1:] {
		match := true
		for i, v := range want {
			match = match && r[i] == v
		}
		if match {
			return r
		}
	}
	t.Fatalf("no row with %v in %q", want, recs)
	return nil
}

// TestExportLayouts checks each format's header and rows against the
// layout docs/journal-exports.md documents.
func TestExportLayouts(t *testing.T) {
	t.Parallel()
	svc, run := exportDay(t, testChart)
	day := date("2026-12-01")
	js := journals(t, svc.db)
	eur, usdJ := js["B-EUR-1"], js["B-USD-1"]
	id := func(j Journal) string { return strconv.FormatInt(j.ID, 10) }

	t.Run("csv", func(t *testing.T) {
		recs := export(t, svc, ExportRequest{Format: FormatCSV, From: day, To: day})
		if got := strings.Join(recs[0], ","); got != "journal_id,date,batch_id,account_code,kind,debit,credit,currency,description,reference" {
			t.Errorf("header %s", got)
		}
		got := row(t, recs, map[int]string{2: "B-EUR-1", 4: "CAPTURE_GROSS"})
		want := []string{id(eur), "2026-12-01", "B-EUR-1", "1210", "CAPTURE_GROSS", "", "80.00", "EUR",
			"Gross captures, APO batch B-EUR-1, 1 settlement line(s)", "recon-run-" + strconv.FormatInt(run.ID, 10)}
		if !slices.Equal(got, want) {
			t.Errorf("row\n got %q\nwant %q", got, want)
		}
		// Every journal of the file balances in its currency.
		sums := map[string][2]int64{}
		for _, r := range recs[1:] {
			s := sums[r[0]]
			for i, v := range r[5:7] {
				if v != "" {
					m, err := money.ParseMajor(v, r[7], false)
					if err != nil {
						t.Fatal(err)
					}
					s[i] += m.Minor
				}
			}
			sums[r[0]] = s
		}
		if len(sums) != 2 {
			t.Errorf("%d journals in the file", len(sums))
		}
		for j, s := range sums {
			if s[0] != s[1] || s[0] == 0 {
				t.Errorf("journal %s: debits %d, credits %d", j, s[0], s[1])
			}
		}
	})

	t.Run("xero", func(t *testing.T) {
		_, err := svc.Export(context.Background(), io.Discard, ExportRequest{Format: FormatXero, From: day, To: day})
		if !isInvalid(err) || !strings.Contains(err.Error(), "EUR, USD") {
			t.Errorf("two currencies in one Xero file: %v", err)
		}
		recs := export(t, svc, ExportRequest{Format: FormatXero, From: day, To: day, Currency: "EUR"})
		if got := strings.Join(recs[0], ","); got != "*Narration,*Date,Description,*AccountCode,*TaxRate,*Amount,TrackingName1,TrackingOption1,TrackingName2,TrackingOption2" {
			t.Errorf("header %s", got)
		}
		narration := "APO settlement batch B-EUR-1 EUR (payops journal " + id(eur) + ")"
		for _, c := range []struct {
			code string
			want []string
		}{
			{"1210", []string{narration, "01 Dec 2026", "Gross captures, APO batch B-EUR-1, 1 settlement line(s)", "1210", "Tax Exempt", "-80.00", "", "", "", ""}},
			{"6116", []string{narration, "01 Dec 2026", "Settlement fees, APO batch B-EUR-1, 1 settlement line(s)", "6116", "Tax Exempt", "1.00", "Class", "Payments", "", ""}},
			{"1251", []string{narration, "01 Dec 2026", "Payout to bank clearing, APO batch B-EUR-1, 3 settlement line(s)", "1251", "Tax Exempt", "72.00", "", "", "", ""}},
		} {
			if got := row(t, recs, map[int]string{3: c.code, 5: c.want[5]}); !slices.Equal(got, c.want) {
				t.Errorf("row\n got %q\nwant %q", got, c.want)
			}
		}
	})

	t.Run("quickbooks", func(t *testing.T) {
		recs := export(t, svc, ExportRequest{Format: FormatQuickBooks, From: day, To: day, Currency: "USD"})
		if got := strings.Join(recs[0], ","); got != "JournalNo,JournalDate,AccountName,Debits,Credits,Description,Name,Location,Class" {
			t.Errorf("header %s", got)
		}
		got := row(t, recs, map[int]string{2: "Payment fees:Interchange"})
		want := []string{"APO-" + id(usdJ), "12/01/2026", "Payment fees:Interchange", "3.00", "",
			"Interchange fees, APO batch B-USD-1, 1 settlement line(s)", "", "", "Payments"}
		if !slices.Equal(got, want) {
			t.Errorf("row\n got %q\nwant %q", got, want)
		}
		dayFirst := export(t, svc, ExportRequest{Format: FormatQuickBooks, From: day, To: day, Currency: "USD", DayFirst: true})
		if dayFirst[1][1] != "01/12/2026" {
			t.Errorf("day first: %q", dayFirst[1][1])
		}
	})

	t.Run("netsuite", func(t *testing.T) {
		recs := export(t, svc, ExportRequest{Format: FormatNetSuite, From: day, To: day})
		if got := strings.Join(recs[0], ","); got != "External ID,Date,Currency,Memo,Account,Debit,Credit,Line Memo,Department,Class,Location,Tax Code" {
			t.Errorf("header %s", got)
		}
		got := row(t, recs, map[int]string{0: "apo-B-USD-1-USD", 4: "7510"})
		want := []string{"apo-B-USD-1-USD", "12/01/2026", "USD", "APO settlement batch B-USD-1 USD (payops journal " + id(usdJ) + ")",
			"7510", "", "0.01", "FX difference to the quoted rate, APO batch B-USD-1, 1 settlement line(s)", "", "", "",
			"Tax Exempt"}
		if !slices.Equal(got, want) {
			t.Errorf("row\n got %q\nwant %q", got, want)
		}
	})
}

// An export stops before writing when a kind has no account, naming it.
func TestExportUnmapped(t *testing.T) {
	t.Parallel()
	var chart []string
	for _, l := range strings.Split(testChart, "\r\n") {
		if !strings.HasPrefix(l, "FX_DIFFERENCE,") && !strings.HasPrefix(l, "FEE_TAX,") {
			chart = append(chart, l)
		}
	}
	svc, _ := exportDay(t, strings.Join(chart, "\r\n"))
	day := date("2026-12-01")
	var buf bytes.Buffer
	_, err := svc.Export(context.Background(), &buf, ExportRequest{Format: FormatNetSuite, From: day, To: day})
	var ue *UnmappedError
	if !errors.As(err, &ue) || buf.Len() != 0 {
		t.Fatalf("got %v and %d bytes, want an UnmappedError before any byte", err, buf.Len())
	}
	want := []Unmapped{{Kind: FeeTax, Currency: "USD"}, {Kind: FXDifference, Currency: "USD"}}
	if !slices.Equal(ue.Missing, want) || !strings.Contains(err.Error(), "no account mapped for FEE_TAX in USD") {
		t.Errorf("missing %+v (%v), want %+v", ue.Missing, err, want)
	}
}

// Xero's TaxRate and QuickBooks' account name are mandatory: a chart
// without them stops those exports, naming the kind.
func TestExportNeeds(t *testing.T) {
	t.Parallel()
	chart := strings.Replace(testChart, "CAPTURE_GROSS,,1210,APO receivable,Tax Exempt,,", "CAPTURE_GROSS,,1210,,,,", 1)
	svc, _ := exportDay(t, chart)
	day := date("2026-12-01")
	for f, field := range map[Format]string{FormatXero: "tax_code", FormatQuickBooks: "account_name"} {
		_, err := svc.Export(context.Background(), io.Discard, ExportRequest{Format: f, From: day, To: day, Currency: "EUR"})
		var ue *UnmappedError
		if !errors.As(err, &ue) || len(ue.Missing) != 1 || ue.Missing[0].Kind != CaptureGross || !strings.HasPrefix(ue.Missing[0].Field, field) {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := svc.Export(context.Background(), io.Discard, ExportRequest{Format: FormatNetSuite, From: day, To: day}); err != nil {
		t.Errorf("netsuite needs neither: %v", err)
	}
}
