package recon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon/report"
)

// Settlement files may write amounts in ways apo-reference.md §6.2 and §9
// leave open: settlementAmountValue before the line's fee (gross, the fee in
// feeAmountValue) or after it (net); refunds and fees negative, or
// positive with the transaction type giving the direction. Each function
// rewrites a batch's items, which the generator writes gross with refunds
// and fees negative and whose summary total is the payout; none of them
// changes the payout.

// positive writes every amount as a magnitude.
func positive(rows []row) {
	for _, r := range rows {
		for _, f := range []string{"settlementAmountValue", "feeAmountValue"} {
			r[f] = strings.TrimPrefix(r[f], "-")
		}
	}
}

// toNet deducts each line's fee from its settlement amount; feeAmountValue
// stays, saying what was taken.
func toNet(rows []row) {
	for _, r := range rows {
		ccy := r["settlementCurrency"]
		r["settlementAmountValue"] = major(parseMinor(r["settlementAmountValue"], ccy)+parseMinor(r["feeAmountValue"], ccy), ccy)
	}
}

// feeOnlyBatchFee moves the SETTLEMENT_FEE line's amount to its fee column,
// leaving a zero settlement amount.
func feeOnlyBatchFee(rows []row) {
	for _, r := range rows {
		if r["transactionType"] == "SETTLEMENT_FEE" {
			r["feeAmountValue"], r["feeCurrency"] = r["settlementAmountValue"], r["settlementCurrency"]
			r["settlementAmountValue"] = major(0, r["settlementCurrency"])
		}
	}
}

// feeAboveCapture makes the first capture's fee one unit more than the
// capture, as a tiny capture with a fixed fee would be, so that written net
// the line is negative against its type's direction.
func feeAboveCapture(rows []row) {
	for _, r := range rows {
		if r["transactionType"] == "CAPTURE" {
			ccy := r["settlementCurrency"]
			r["feeAmountValue"] = major(-parseMinor(r["settlementAmountValue"], ccy)-unitOf(ccy), ccy)
			r["feeCurrency"] = ccy
			return
		}
	}
	panic("feeAboveCapture: no capture")
}

func unitOf(ccy string) int64 {
	if ccy == "JPY" {
		return 1
	}
	return 100
}

func parseMinor(v, ccy string) int64 {
	if v == "" {
		return 0
	}
	m, err := money.ParseMajor(v, ccy, true)
	if err != nil {
		panic(err)
	}
	return m.Minor
}

// conventionDay seeds one day of payments and writes its reports; each
// settlement batch is first edited by gross (written gross, refunds and
// fees negative), then summarised (its total is the payout, off by
// usdTotalDelta minor units in the USD batch), then rewritten. It runs
// every date and returns the settlement date's run and the discrepancies
// of all runs.
func conventionDay(t *testing.T, setting string, gross func([]row), usdTotalDelta int64, rewrite ...func([]row)) (Run, []Discrepancy) {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	svc := NewService(db, Config{ReportsDir: filepath.Join(dir, "reports"), ArchiveDir: filepath.Join(dir, "archive"),
		ExportDir: filepath.Join(dir, "exports"), SettlementDays: 1, AmountConvention: setting},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	lg := buildLedger([]time.Time{thu}, perDay)
	seedLedger(t, db, lg)
	files := buildFiles(lg, svc.cal, nil, nil)
	for i, f := range files {
		if f.kind != report.SettlementItems {
			continue
		}
		ccy, id := f.rows[0]["settlementCurrency"], f.rows[0]["settlementBatchId"]
		if gross != nil {
			gross(f.rows)
		}
		sum := files[i+1] // buildFiles puts each batch's summary right after it
		sum.rows = summarise(f, id, ccy, nil).rows
		if ccy == "USD" && usdTotalDelta != 0 {
			sum.rows[0]["settlementAmountValue"] = major(parseMinor(sum.rows[0]["settlementAmountValue"], ccy)+usdTotalDelta, ccy)
		}
		for _, fn := range rewrite {
			fn(f.rows)
		}
	}
	write(t, svc.cfg.ReportsDir, files, fileOpts{})
	if _, err := svc.ScanDir(ctx, svc.cfg.ReportsDir); err != nil {
		t.Fatalf("scan: %v", err)
	}
	dates, err := NewStore(db).DatesWithNewInputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var settled Run
	var found []Discrepancy
	for _, d := range dates {
		r, err := svc.Run(ctx, RunRequest{Date: d}, "test")
		if err != nil {
			t.Fatalf("run %s: %v", d.Format(time.DateOnly), err)
		}
		if d.Equal(fri) {
			settled = r
		}
		found = append(found, allDiscrepancies(t, svc, r.ID)...)
	}
	if len(settled.Batches) != 2 {
		t.Fatalf("settlement run batches = %+v, want USD and JPY", settled.Batches)
	}
	return settled, found
}

// TestAmountConventions: a batch written any of the ways APO's docs allow
// reconciles to nothing, each batch read the way its lines add up to its
// summary.
func TestAmountConventions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		setting string
		gross   func([]row)
		rewrite []func([]row)
		want    string
	}{
		{"gross, refunds and fees negative", "", nil, nil, "gross"},
		{"gross, refunds and fees positive", "", nil, []func([]row){positive}, "gross"},
		{"net, refunds and fees negative", "", nil, []func([]row){toNet}, "net"},
		{"net, refunds and fees positive", "", nil, []func([]row){toNet, positive}, "net"},
		{"net, the batch fee in feeAmountValue only", "", nil, []func([]row){toNet, feeOnlyBatchFee}, "net"},
		{"net, a capture netting negative", "", feeAboveCapture, []func([]row){toNet}, "net, signs as written"},
		{"gross set for the deployment", ConventionGross, nil, []func([]row){positive}, "gross"},
		{"net set for the deployment", ConventionNet, nil, []func([]row){toNet}, "net"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run, found := conventionDay(t, c.setting, c.gross, 0, c.rewrite...)
			for _, d := range found {
				t.Errorf("flagged %s %s %s: %s", d.Kind, d.SettlementBatchID, d.TransactionID, d.Details)
			}
			for _, b := range run.Batches {
				if !b.HasSummary || b.Residual != 0 || b.Computed != b.Summary || b.Convention != c.want {
					t.Errorf("batch %+v, want it read as %q with no residual", b, c.want)
				}
			}
		})
	}
}

// TestAmountConventionNoneFits: a batch no convention explains is one
// BATCH_TOTAL_MISMATCH naming what each convention gave; the other batch
// still reconciles.
func TestAmountConventionNoneFits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, setting string
		delta         int64
		tried         []string
	}{
		{"auto", "", 1, []string{"gross", "net", "gross, signs as written", "net, signs as written"}},
		{"net set for the deployment", ConventionNet, -3, []string{"net", "net, signs as written"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run, found := conventionDay(t, c.setting, nil, c.delta, toNet)
			if len(found) != 1 || found[0].Kind != BatchTotalMismatch || found[0].SettlementBatchID != "B20240308USD" {
				t.Fatalf("found %+v, want one BATCH_TOTAL_MISMATCH for B20240308USD", found)
			}
			var details struct {
				Reason string            `json:"reason"`
				Tried  map[string]string `json:"conventions_tried"`
			}
			if err := json.Unmarshal(found[0].Details, &details); err != nil {
				t.Fatal(err)
			}
			if len(details.Tried) != len(c.tried) || !strings.Contains(details.Reason, "none of the conventions tried") {
				t.Errorf("details %s, want each of %q tried", found[0].Details, c.tried)
			}
			for _, name := range c.tried {
				if details.Tried[name] == "" || !strings.Contains(details.Reason, name) {
					t.Errorf("details %s do not name %q", found[0].Details, name)
				}
			}
			for _, b := range run.Batches {
				switch {
				case b.Currency == "JPY" && (b.Residual != 0 || b.Convention != "net"):
					t.Errorf("JPY batch %+v, want it read net", b)
				case b.Currency == "USD" && (b.Residual != -c.delta && b.Residual != c.delta) && b.Convention != "":
					t.Errorf("USD batch %+v", b)
				}
			}
		})
	}
}
