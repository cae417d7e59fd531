package journal

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// Compile-time check that the service is the run's journal checker.
var _ recon.JournalChecker = (*Service)(nil)

// TestCheckJournalsInRun wires the journal check into a real run, as
// internal/app does: a batch whose fee columns itemise more than its fee
// is a JOURNAL_UNBALANCED discrepancy of the run (and no journal), and a
// re-run of the period over the corrected file heals it and books it.
func TestCheckJournalsInRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	rs := recon.NewService(db, recon.Config{ReportsDir: t.TempDir(), ArchiveDir: t.TempDir(), ExportDir: t.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	rs.SetJournalChecker(svc)
	rs.SetRunHook(func(ctx context.Context, run recon.Run) error {
		_, err := svc.BuildRun(ctx, run.ID)
		return err
	})
	eur := func(interchange string) string {
		return items("B-EUR-1", "EUR", "2026-12-01",
			testRow{"transactionType": "CAPTURE", "settlementAmountValue": "80.00", "feeAmountValue": "-2.00",
				"feeCurrency": "EUR", "interchangeFeeAmountValue": interchange, "interchangeFeeCurrency": "EUR"},
			testRow{"transactionType": "REFUND", "settlementAmountValue": "-5.00"},
			testRow{"transactionType": "SETTLEMENT_FEE", "settlementAmountValue": "0.00", "feeAmountValue": "-1.00", "feeCurrency": "EUR"},
		)
	}
	runOf := func(eurItems string) recon.Run {
		files := dayFiles("20261201")
		files[2].content = eurItems
		var ids []int64
		for _, f := range files {
			file, err := rs.Ingest(ctx, f.path, strings.NewReader(f.content))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, file.ID)
		}
		run, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
		if err != nil || run.Status != recon.RunSucceeded {
			t.Fatalf("run: %+v %v", run, err)
		}
		return run
	}
	breaks := func(run recon.Run) []recon.Discrepancy { // the journal kinds': the test day has no ledger
		var out []recon.Discrepancy
		for _, k := range []recon.Kind{recon.JournalUnbalanced, recon.JournalRollForwardMismatch} {
			page, err := rs.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: run.ID, Kind: k, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Items...)
		}
		return out
	}

	first := runOf(eur("-3.00")) // 3.00 itemised of a 2.00 fee
	got := breaks(first)
	if len(got) != 1 {
		t.Fatalf("breaks of the first run: %+v", got)
	}
	d := got[0]
	var det struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(d.Details, &det); err != nil {
		t.Fatal(err)
	}
	if d.Kind != recon.JournalUnbalanced || d.Fingerprint != "JOURNAL_UNBALANCED|B-EUR-1|EUR" ||
		d.SettlementBatchID != "B-EUR-1" || d.Report.Minor != 7_200 || d.Report.Currency != "EUR" ||
		!strings.Contains(det.Reason, "fee columns") {
		t.Errorf("the break: %+v (%s)", d, d.Details)
	}
	js := journals(t, db)
	if _, ok := js["B-EUR-1"]; ok {
		t.Error("the unbalanced batch was booked")
	}
	if _, ok := js["B-USD-1"]; !ok {
		t.Error("the USD batch was not booked")
	}

	second := runOf(eur("-1.00"))
	if got := breaks(second); len(got) != 0 {
		t.Errorf("breaks of the corrected run: %+v", got)
	}
	if second.Diff.PreviousRunID != first.ID || second.Diff.Healed != 1 {
		t.Errorf("the corrected run's diff: %+v", second.Diff)
	}
	if j, ok := journals(t, db)["B-EUR-1"]; !ok || j.RunID != second.ID {
		t.Errorf("the corrected batch's journal: %+v", j)
	}
}
