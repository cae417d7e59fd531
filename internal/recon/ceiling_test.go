package recon

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// TestOversizedLinesNeverFailARun: two lines of 50,000,000,000,000,000.00
// USD once made the day's run FAILED on "bigint out of range" when its
// totals were summed. Such a file is now refused at ingest, naming each
// line, with nothing staged, and the day's good files still reconcile.
func TestOversizedLinesNeverFailARun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	write(t, svc.cfg.ReportsDir, buildFiles(lg, svc.cal, nil, nil), fileOpts{})
	if _, err := svc.ScanDir(ctx, svc.cfg.ReportsDir); err != nil {
		t.Fatal(err)
	}

	huge := "transactionType,transactionId,transactionAmountValue,transactionCurrency,status\n" +
		"CAPTURE,big1,50000000000000000.00,USD,SUCCESS\n" +
		"CAPTURE,big2,50000000000000000.00,USD,SUCCESS\n<END>\n"
	f, ingestErr := svc.Ingest(ctx, "transactionItems_20240307_001.csv", strings.NewReader(huge))

	run, err := svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil || run.Status != RunSucceeded {
		t.Fatalf("run: %s %q %v", run.Status, run.Error, err)
	}

	var pe *ParseError
	if !errors.As(ingestErr, &pe) || f.Status != FileFailed || pe.Total != 2 {
		t.Fatalf("oversized file: %+v %v", f, ingestErr)
	}
	for _, w := range []string{"transactionItems_20240307_001.csv:2: transactionAmountValue", "transactionItems_20240307_001.csv:3: transactionAmountValue", money.ErrAboveCeiling.Error()} {
		if !strings.Contains(ingestErr.Error(), w) {
			t.Errorf("error %q does not say %q", ingestErr, w)
		}
	}
	var staged int
	if err := db.GetContext(ctx, &staged, `SELECT count(*) FROM report_lines WHERE file_id = $1`, f.ID); err != nil || staged != 0 {
		t.Errorf("a refused file staged %d lines (%v)", staged, err)
	}
	for _, in := range run.Inputs {
		if in.FileID == f.ID {
			t.Errorf("the refused file is an input of the run")
		}
	}
}

// TestTotalsCannotOverflow: amounts stored before the ceiling existed
// (or sums of many amounts near it) add up beyond int64; the totals are
// summed in numeric and a total beyond the range is saturated and marked,
// never an error.
func TestTotalsCannotOverflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 2)
	seedLedger(t, db, lg)
	write(t, svc.cfg.ReportsDir, buildFiles(lg, svc.cal, nil, nil), fileOpts{})
	if _, err := svc.ScanDir(ctx, svc.cfg.ReportsDir); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil {
		t.Fatal(err)
	}
	big := func(id string, minor int64) Discrepancy {
		return Discrepancy{Kind: MissingInLedger, ReportKind: report.TransactionItems, Fingerprint: "test|" + id,
			TransactionType: "CAPTURE", TransactionID: id,
			Report: report.Amount{Money: money.Money{Minor: minor, Currency: "USD"}, Valid: true}}
	}
	st := NewStore(db)
	ds := []Discrepancy{big("a", 5e18), big("b", 5e18), big("c", -3), {Kind: AmountMismatch, ReportKind: report.TransactionItems,
		Fingerprint: "test|d", TransactionID: "d",
		Ours:   report.Amount{Money: money.Money{Minor: math.MinInt64 + 1, Currency: "JPY"}, Valid: true},
		Report: report.Amount{Money: money.Money{Minor: -7, Currency: "JPY"}, Valid: true}}}
	if err := st.InsertDiscrepancies(ctx, run.ID, ds, time.Now()); err != nil {
		t.Fatal(err)
	}
	totals, err := st.Totals(ctx, run.ID)
	if err != nil {
		t.Fatalf("totals: %v", err)
	}
	got := map[string]Total{}
	for _, x := range totals {
		got[string(x.Kind)+"|"+x.Currency] = x
	}
	if x := got["MISSING_IN_LEDGER|USD"]; x.Count != 3 || x.ReportMinor != math.MaxInt64 || !x.Saturated {
		t.Errorf("USD total %+v, want 3 lines saturated at the int64 maximum", x)
	}
	if x := got["AMOUNT_MISMATCH|JPY"]; x.Count != 1 || x.OurMinor != math.MinInt64+1 || x.ReportMinor != -7 || x.Saturated {
		t.Errorf("JPY total %+v, want exact sums", x)
	}
}

// TestBatchSumsCannotOverflow: settlement items whose amounts add up
// beyond int64 make one BATCH_TOTAL_MISMATCH saying so, not a wrapped sum.
func TestBatchSumsCannotOverflow(t *testing.T) {
	m := newMatcher(nil, nil)
	for i := range 3 {
		m.sumBatch(&itemRow{LineNo: i + 2, TransactionType: "CAPTURE", SettlementBatchID: "B1",
			Settle: report.Amount{Money: money.Money{Minor: 4e18, Currency: "USD"}, Valid: true}})
	}
	m.sumBatch(&itemRow{LineNo: 9, TransactionType: "REFUND", SettlementBatchID: "B2",
		Settle: report.Amount{Money: money.Money{Minor: -5e18, Currency: "USD"}, Valid: true}})
	m.sumBatch(&itemRow{LineNo: 10, TransactionType: "SETTLEMENT_FEE", SettlementBatchID: "B2",
		Settle: report.Amount{Money: money.Money{Minor: -5e18, Currency: "USD"}, Valid: true}})
	batches, ds := rollForward(m.batchSums(), []summaryLine{
		{BatchID: "B1", Currency: "USD", Minor: 100, LineNo: 2},
		{BatchID: "B2", Currency: "USD", Minor: 100, LineNo: 2},
	}, ConventionAuto)
	if len(batches) != 2 || len(ds) != 2 {
		t.Fatalf("batches %+v, discrepancies %+v", batches, ds)
	}
	for _, d := range ds {
		if d.Kind != BatchTotalMismatch || !strings.Contains(string(d.Details), "beyond the int64 range") {
			t.Errorf("discrepancy %s %s", d.Kind, d.Details)
		}
	}
}
