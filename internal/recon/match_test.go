package recon

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
)

// The report generations a case runs in: the earlier one, the newest, and
// the newest with capture lines carrying the payment's request id.
var generations = map[string]genOpts{
	"earlier":                    {gen: genA},
	"newest":                     {gen: genB},
	"newest, payment request id": {gen: genB, captureWithPaymentRequest: true},
}

// addMultiCapture adds a USD 100.00 payment on day d captured three times
// (30.00, 30.00, 40.00, an hour apart) and refunded twice (10.00 each), at
// half past the hour (buildLedger's transactions are on the minute).
func addMultiCapture(lg *ledger, d time.Time) *genPayment {
	tag := d.Format("20060102") + "_M"
	amt := money.Money{Minor: 10000, Currency: "USD"}
	p := &genPayment{id: detUUID("pay" + tag), requestID: "payreq_" + tag, apoID: "2024apo_pay_" + tag, amount: amt,
		status: "CAPTURED", captured: 10000, refunded: 2000, createdAt: d.Add(8 * time.Hour)}
	add := func(typ, req, apoID string, minor int64, h int) {
		p.txs = append(p.txs, &genTx{id: detUUID(typ + req), paymentID: p.id, typ: typ, requestID: req, apoID: apoID,
			amount: money.Money{Minor: minor, Currency: "USD"}, status: "SUCCEEDED", completedAt: d.Add(time.Duration(h)*time.Hour + 30*time.Minute),
			payAPOID: p.apoID, payReqID: p.requestID})
	}
	add("AUTHORIZATION", p.requestID, p.apoID, 10000, 8)
	for i, minor := range []int64{3000, 3000, 4000} {
		n := string(rune('1' + i))
		add("CAPTURE", "capreq_"+tag+n, "2024cap_"+tag+n, minor, 10+i)
	}
	for i := 0; i < 2; i++ {
		n := string(rune('1' + i))
		add("REFUND", "refreq_"+tag+n, "2024ref_"+tag+n, 1000, 14+i)
	}
	lg.pays = append(lg.pays, p)
	return p
}

// lineFor selects the line of one ledger transaction in either
// generation, by type and completion time (the two captures of 30.00
// differ only in that).
func lineFor(x *genTx) func(row) bool {
	typ := x.typ
	if typ == "AUTHORIZATION" {
		typ = "PAYMENT"
	}
	return func(r row) bool {
		return r["transactionType"] == typ && (r["paymentTime"] == x.completedAt.Format(time.RFC3339) ||
			r["transactionCompletionTime"] == x.completedAt.In(cst).Format(time.RFC3339))
	}
}

// reconcileAll scans the reports directory and runs every date with new
// inputs; it returns "<date>|<kind>|<report kind>|<our transaction id, or
// the line's transactionId>" for every discrepancy, sorted, and the runs.
func reconcileAll(t *testing.T, svc *Service) ([]string, map[string]Run) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.ScanDir(ctx, svc.cfg.ReportsDir); err != nil {
		t.Fatal(err)
	}
	dates, err := NewStore(svc.db).DatesWithNewInputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]Run{}
	var found []string
	for _, d := range dates {
		r, err := svc.Run(ctx, RunRequest{Date: d}, "test")
		if err != nil {
			t.Fatal(err)
		}
		runs[d.Format(time.DateOnly)] = r
		found = append(found, discrepancyKeys(t, svc, r)...)
	}
	sort.Strings(found)
	return found, runs
}

func discrepancyKeys(t *testing.T, svc *Service, r Run) []string {
	var out []string
	for _, x := range allDiscrepancies(t, svc, r.ID) {
		id := x.LedgerTransactionID
		if id == "" {
			id = x.TransactionID
		}
		out = append(out, strings.Join([]string{r.Period.Format(time.DateOnly), string(x.Kind), string(x.ReportKind), id}, "|"))
	}
	return out
}

// A payment captured three times and refunded twice: a changed amount on
// one capture or refund is one AMOUNT_MISMATCH on that transaction, and a
// repeated line is one DUPLICATE_IN_REPORT, in every generation — also
// where the lines name only the payment and the two captures of 30.00
// differ only in time.
func TestMultiCaptureMatchesEachLineToItsTransaction(t *testing.T) {
	t.Parallel()
	for name, g := range generations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, db, _ := newTestService(t)
			lg := buildLedger([]time.Time{thu}, 4)
			p := addMultiCapture(lg, thu)
			seedLedger(t, db, lg)
			cap1, cap2, cap3, ref1, ref2 := p.txs[1], p.txs[2], p.txs[3], p.txs[4], p.txs[5]
			files := buildFilesGen(lg, svc.cal, g, map[string]func([]row) []row{
				"transactionItems_20240307_000.csv": chain(
					dupRow(lineFor(cap3)), // the repeat comes before the changed line
					setField(lineFor(cap2), "transactionAmountValue", "35.00"),
					setField(lineFor(ref2), "transactionAmountValue", "12.00")),
				"settlementItems_USD_B20240308USD_000.csv": chain(dupRow(lineFor(cap1)), dupRow(lineFor(ref1))),
			}, nil)
			write(t, svc.cfg.ReportsDir, files, fileOpts{})
			found, _ := reconcileAll(t, svc)
			want := []string{
				"2024-03-07|AMOUNT_MISMATCH|TRANSACTION_ITEMS|" + cap2.id,
				"2024-03-07|AMOUNT_MISMATCH|TRANSACTION_ITEMS|" + ref2.id,
				"2024-03-07|DUPLICATE_IN_REPORT|TRANSACTION_ITEMS|" + cap3.id,
				"2024-03-08|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|" + cap1.id,
				"2024-03-08|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|" + ref1.id,
			}
			sort.Strings(want)
			if strings.Join(found, "\n") != strings.Join(want, "\n") {
				t.Fatalf("found:\n%s\nwant:\n%s", strings.Join(found, "\n"), strings.Join(want, "\n"))
			}
			// Each settled capture and refund is one fact on the payment's
			// timeline, though in the newest generation their lines share
			// the payment's id.
			var facts int
			if err := db.GetContext(context.Background(), &facts,
				`SELECT count(*) FROM payment_events WHERE source = 'settlement' AND payment_id = $1`, p.id); err != nil || facts != 5 {
				t.Errorf("settlement facts = %d %v, want 5", facts, err)
			}
		})
	}
}

// A capture paid out twice — in an early batch, then in the regular one;
// or in the regular one, then again days later — is one
// DUPLICATE_IN_REPORT in the run of the later settlement date, naming the
// batch that paid it first; the earlier date's run finds nothing, also
// when it runs again.
func TestCaptureSettledTwiceAcrossBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, g := range generations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, db, _ := newTestService(t)
			lg := buildLedger([]time.Time{thu, fri, sat, mon}, 5)
			seedLedger(t, db, lg)
			early, late := lg.pays[0].txs[1], lg.pays[1].txs[1] // Thursday's captures 000 and 001, in USD
			files := buildFilesGen(lg, svc.cal, g, nil, nil)
			// An early batch on Thursday pays capture 000, which Friday's
			// regular batch pays again.
			files = settleIn(files, g, "settlementItems_USD_B20240308USD_000.csv", lineFor(early), "E20240307USD", "20240307", false)
			// Tuesday's batch pays capture 001 again, settled on Friday.
			files = settleIn(files, g, "settlementItems_USD_B20240308USD_000.csv", lineFor(late), "B20240312USD", "20240312", false)
			write(t, svc.cfg.ReportsDir, files, fileOpts{})
			found, runs := reconcileAll(t, svc)
			want := []string{
				"2024-03-08|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|" + early.id,
				"2024-03-12|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|" + late.id,
			}
			if strings.Join(found, "\n") != strings.Join(want, "\n") {
				t.Fatalf("found:\n%s\nwant:\n%s", strings.Join(found, "\n"), strings.Join(want, "\n"))
			}
			for date, first := range map[string]string{"2024-03-08": "E20240307USD", "2024-03-12": "B20240308USD"} {
				ds := allDiscrepancies(t, svc, runs[date].ID)
				var details map[string]any
				if err := json.Unmarshal(ds[0].Details, &details); err != nil || details["first_batch"] != first ||
					details["first_file"] != "settlementItems_USD_"+first+"_000.csv" {
					t.Errorf("%s duplicate details = %s %v", date, ds[0].Details, err)
				}
			}
			// The money was counted once in the payout: one settlement fact
			// per capture on the payments timeline.
			var facts int
			if err := db.GetContext(ctx, &facts, `SELECT count(*) FROM payment_events WHERE source = 'settlement' AND transaction_id = $1`,
				early.id); err != nil || facts != 1 {
				t.Errorf("settlement facts for the early capture = %d %v", facts, err)
			}
			// Runs of every date again change nothing.
			for date, r := range runs {
				again, err := svc.Run(ctx, RunRequest{Date: r.Period}, "test")
				if err != nil {
					t.Fatal(err)
				}
				if again.Diff.New != 0 || again.Diff.Changed != 0 || again.Diff.Healed != 0 {
					t.Errorf("%s re-run diff = %+v", date, again.Diff)
				}
			}
		})
	}
}

// Lines that arrive late — a capture in the next day's transaction
// details, another in a later settlement batch than its due date's — are
// timing differences: the nightly pass after they arrive re-runs the
// earlier dates, whose MISSING_IN_REPORT breaks heal, each naming the file
// and line that healed it; the later dates flag nothing.
func TestLateLinesHealEarlierBreaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, g := range generations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, db, _ := newTestService(t)
			lg := buildLedger([]time.Time{thu, fri}, 5)
			seedLedger(t, db, lg)
			lateTD, lateSD := lg.pays[1].txs[1], lg.pays[0].txs[1] // Thursday's captures 001 and 000 (USD)
			files := buildFilesGen(lg, svc.cal, g, nil, nil)
			moveRow(files, "transactionItems_20240307_000.csv", "transactionItems_20240308_000.csv", lineFor(lateTD))
			files = settleIn(files, g, "settlementItems_USD_B20240308USD_000.csv", lineFor(lateSD), "B20240311USD", "20240311", true)
			tdLine := lineOf(files, "transactionItems_20240308_000.csv", lineFor(lateTD))
			sdLine := lineOf(files, "settlementItems_USD_B20240311USD_000.csv", lineFor(lateSD))

			// Friday night: Thursday's transaction details and Friday's
			// batches have arrived, without the late lines.
			var first, rest []*genFile
			for _, f := range files {
				if f.dir <= "20240308" && f.name != "transactionItems_20240308_000.csv" {
					first = append(first, f)
				} else {
					rest = append(rest, f)
				}
			}
			write(t, svc.cfg.ReportsDir, first, fileOpts{})
			res, err := svc.Nightly(ctx, sat)
			if err != nil {
				t.Fatal(err)
			}
			before := map[string]Run{}
			var found []string
			for _, r := range res.Runs {
				before[r.Period.Format(time.DateOnly)] = r
				found = append(found, discrepancyKeys(t, svc, r)...)
			}
			sort.Strings(found)
			want := []string{
				"2024-03-07|MISSING_IN_REPORT|TRANSACTION_ITEMS|" + lateTD.id,
				"2024-03-08|MISSING_IN_REPORT|SETTLEMENT_ITEMS|" + lateSD.id,
			}
			if strings.Join(found, "\n") != strings.Join(want, "\n") {
				t.Fatalf("first night found:\n%s\nwant:\n%s", strings.Join(found, "\n"), strings.Join(want, "\n"))
			}

			// Monday night: the rest arrives, late lines included.
			write(t, svc.cfg.ReportsDir, rest, fileOpts{})
			res, err = svc.Nightly(ctx, tue)
			if err != nil {
				t.Fatal(err)
			}
			var periods []string
			found = nil
			for _, r := range res.Runs {
				periods = append(periods, r.Period.Format(time.DateOnly))
				found = append(found, discrepancyKeys(t, svc, r)...)
			}
			sort.Strings(periods)
			if strings.Join(periods, " ") != "2024-03-07 2024-03-08 2024-03-11" || len(found) != 0 {
				t.Fatalf("second night ran %v and found %v", periods, found)
			}
			for _, c := range []struct {
				period, file string
				line         int
			}{{"2024-03-07", "transactionItems_20240308_000.csv", tdLine}, {"2024-03-08", "settlementItems_USD_B20240311USD_000.csv", sdLine}} {
				var rerun Run
				for _, r := range res.Runs {
					if r.Period.Format(time.DateOnly) == c.period {
						rerun = r
					}
				}
				if rerun.Diff.Healed != 1 || rerun.Diff.PreviousRunID != before[c.period].ID {
					t.Errorf("%s diff = %+v", c.period, rerun.Diff)
				}
				old := allDiscrepancies(t, svc, before[c.period].ID)
				var healed struct {
					HealedBy struct {
						File string `json:"file"`
						Line int    `json:"line"`
					} `json:"healed_by"`
				}
				if len(old) != 1 || old[0].HealedByRunID != rerun.ID || json.Unmarshal(old[0].Details, &healed) != nil ||
					healed.HealedBy.File != c.file || healed.HealedBy.Line != c.line {
					t.Errorf("%s healed row = %+v %s, want healed by %s:%d", c.period, old, old[0].Details, c.file, c.line)
				}
			}

			// Nothing new arrived: the next night runs nothing.
			if res, err = svc.Nightly(ctx, tue.AddDate(0, 0, 1)); err != nil || len(res.Runs) != 0 {
				t.Errorf("third night ran %d runs, %v", len(res.Runs), err)
			}
		})
	}
}
