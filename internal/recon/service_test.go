package recon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon/report"
)

// The scenario: Thursday 7 to Monday 11 March 2024, ten payments a day,
// settlement T+1 working day, so batches settle on Friday (Thursday's
// transactions), Monday (Friday's and Saturday's) and Tuesday (Monday's).
// EUR payments settle in the USD batch at EUR/USD 1.0845; JPY has its own.
var (
	thu = time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC)
	fri = thu.AddDate(0, 0, 1)
	sat = thu.AddDate(0, 0, 2)
	mon = thu.AddDate(0, 0, 4)
	tue = thu.AddDate(0, 0, 5)
)

const perDay = 10

func newTestService(t testing.TB) (*Service, *sqlx.DB, string) {
	t.Helper()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	svc := NewService(db, Config{ReportsDir: filepath.Join(dir, "reports"), ArchiveDir: filepath.Join(dir, "archive"),
		ExportDir: filepath.Join(dir, "exports"), SettlementDays: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, db, dir
}

// faults are the injected faults, one of each kind, and want the
// discrepancies they must produce: "<run date>|<kind>|<report kind>|<id>".
func faults() (item, summary map[string]func([]row) []row, want []string) {
	return faultsGen(genOpts{})
}

// faultsGen are the faults written in a generation. In the earlier
// generation the id of a wanted discrepancy is its transactionId; in the
// newest, where that is the paymentId of every line, "<type> <tag>" (see
// scenario.key).
func faultsGen(g genOpts) (item, summary map[string]func([]row) []row, want []string) {
	unknown := row{"customerId": testCustomer, "transactionType": "CAPTURE", "transactionId": "2024cap_UNKNOWN",
		"originalTransactionId": "2024apo_pay_UNKNOWN", "transactionRequestId": "capreq_UNKNOWN",
		"transactionAmountValue": "99.00", "transactionCurrency": "USD", "status": "SUCCESS"}
	if g.gen == genB {
		unknown = row{"customerId": testCustomer, "PSP": "ANTOM", "transactionType": "CAPTURE",
			"transactionId": "2024apo_pay_UNKNOWN", "transactionRequestId": "capreq_UNKNOWN",
			"originalTransactionRequestId": "payreq_UNKNOWN", "transactionCompletionTime": "2024-03-09T18:00:00+08:00",
			"transactionAmountValue": "99.00", "transactionCurrency": "USD", "status": "SUCCESS"}
	}
	item = map[string]func([]row) []row{
		"transactionItems_20240307_000.csv": chain(
			setField(txOf("CAPTURE", "20240307_001"), "transactionAmountValue", "13.37"), // ours 11.37
			setField(txOf("PAYMENT", "20240307_005"), "status", "FAIL"),                  // ours succeeded
		),
		"transactionItems_20240308_000.csv":        dropRow(txOf("CAPTURE", "20240308_008")),
		"transactionItems_20240309_000.csv":        addRow(unknown),
		"transactionItems_20240311_000.csv":        setField(txOf("CAPTURE", "20240311_005"), "transactionCurrency", "GBP"),
		"settlementItems_USD_B20240308USD_000.csv": dropRow(txOf("CAPTURE", "20240307_008")),
		"settlementItems_USD_B20240311USD_000.csv": chain(
			dupRow(txOf("CAPTURE", "20240308_001")),
			setField(txOf("CAPTURE", "20240308_002"), "settlementAmountValue", "23.29"), // 21.42 EUR × 1.0845 = 23.229…; written 23.29
		),
	}
	summary = map[string]func([]row) []row{
		"settlementSummary_USD_B20240312USD_000.csv": func(rows []row) []row {
			rows[0]["settlementAmountValue"] = "1.01"
			return rows
		},
	}
	want = []string{
		"2024-03-07|AMOUNT_MISMATCH|TRANSACTION_ITEMS|2024cap_20240307_001",
		"2024-03-07|STATUS_MISMATCH|TRANSACTION_ITEMS|2024apo_pay_20240307_005",
		"2024-03-08|MISSING_IN_REPORT|TRANSACTION_ITEMS|2024cap_20240308_008",
		"2024-03-08|MISSING_IN_REPORT|SETTLEMENT_ITEMS|2024cap_20240307_008",
		"2024-03-09|MISSING_IN_LEDGER|TRANSACTION_ITEMS|2024cap_UNKNOWN",
		"2024-03-11|CURRENCY_MISMATCH|TRANSACTION_ITEMS|2024cap_20240311_005",
		"2024-03-11|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|2024cap_20240308_001",
		"2024-03-11|FX_MISMATCH|SETTLEMENT_ITEMS|2024cap_20240308_002",
		"2024-03-12|BATCH_TOTAL_MISMATCH|SETTLEMENT_SUMMARY|B20240312USD",
	}
	if g.gen == genB {
		want = []string{
			"2024-03-07|AMOUNT_MISMATCH|TRANSACTION_ITEMS|CAPTURE 20240307_001",
			"2024-03-07|STATUS_MISMATCH|TRANSACTION_ITEMS|PAYMENT 20240307_005",
			"2024-03-08|MISSING_IN_REPORT|TRANSACTION_ITEMS|CAPTURE 20240308_008",
			"2024-03-08|MISSING_IN_REPORT|SETTLEMENT_ITEMS|CAPTURE 20240307_008",
			"2024-03-09|MISSING_IN_LEDGER|TRANSACTION_ITEMS|CAPTURE UNKNOWN",
			"2024-03-11|CURRENCY_MISMATCH|TRANSACTION_ITEMS|CAPTURE 20240311_005",
			"2024-03-11|DUPLICATE_IN_REPORT|SETTLEMENT_ITEMS|CAPTURE 20240308_001",
			"2024-03-11|FX_MISMATCH|SETTLEMENT_ITEMS|CAPTURE 20240308_002",
			"2024-03-12|BATCH_TOTAL_MISMATCH|SETTLEMENT_SUMMARY|B20240312USD",
		}
	}
	return item, summary, want
}

// scenario seeds the ledger, writes the files (with the faults, plus an
// incomplete extra file), scans them in and runs every date with inputs.
type scenario struct {
	gen   genOpts
	svc   *Service
	db    *sqlx.DB
	dir   string
	lg    *ledger
	runs  map[string]Run // by date
	found []string       // "<date>|<kind>|<report kind>|<id>", sorted
	rows  []string       // every discrepancy in full, for comparisons across variants
	scan  ScanResult
}

func runScenario(t *testing.T, o fileOpts, withFaults bool) *scenario {
	t.Helper()
	return runScenarioGen(t, genOpts{}, o, withFaults)
}

// key names a discrepancy for comparison with faultsGen's want.
func (sc *scenario) key(x Discrepancy) string {
	switch {
	case x.Kind == BatchTotalMismatch:
		return x.SettlementBatchID
	case sc.gen.gen == genA:
		return x.TransactionID
	}
	typ := x.TransactionType
	if typ == "AUTHORIZATION" {
		typ = "PAYMENT"
	}
	_, tag, _ := strings.Cut(x.TransactionRequestID, "_")
	return typ + " " + tag
}

func runScenarioGen(t *testing.T, g genOpts, o fileOpts, withFaults bool) *scenario {
	t.Helper()
	ctx := context.Background()
	svc, db, dir := newTestService(t)
	sc := &scenario{gen: g, svc: svc, db: db, dir: dir, runs: map[string]Run{}}
	sc.lg = buildLedger([]time.Time{thu, fri, sat, mon}, perDay)
	seedLedger(t, db, sc.lg)
	var item, summary map[string]func([]row) []row
	if withFaults {
		item, summary, _ = faultsGen(g)
	}
	files := buildFilesGen(sc.lg, svc.cal, g, item, summary)
	// A second transaction file for Saturday that APO has not finished: it
	// would add an unknown transaction, but it must be held back.
	files = append(files, &genFile{dir: "20240309", name: "transactionItems_20240309_001.csv", kind: report.TransactionItems,
		header: files[0].header, noTrailer: true, rows: []row{{"transactionType": "CAPTURE", "transactionId": "2024cap_HELD_BACK",
			"transactionAmountValue": "5.00", "transactionCurrency": "USD"}}})
	write(t, svc.cfg.ReportsDir, files, o)
	var err error
	if sc.scan, err = svc.ScanDir(ctx, svc.cfg.ReportsDir); err != nil {
		t.Fatalf("scan: %v", err)
	}
	dates, err := NewStore(db).DatesWithNewInputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dates {
		r, err := svc.Run(ctx, RunRequest{Date: d}, "test")
		if err != nil {
			t.Fatalf("run %s: %v", d.Format(time.DateOnly), err)
		}
		sc.runs[d.Format(time.DateOnly)] = r
		ds := allDiscrepancies(t, svc, r.ID)
		for _, x := range ds {
			sc.found = append(sc.found, strings.Join([]string{d.Format(time.DateOnly), string(x.Kind), string(x.ReportKind), sc.key(x)}, "|"))
			sc.rows = append(sc.rows, fmt.Sprintf("%s|%s|ours=%v|report=%v|line=%d|%s", d.Format(time.DateOnly),
				x.Fingerprint, x.Ours, x.Report, x.Line, x.Details))
		}
	}
	sort.Strings(sc.found)
	sort.Strings(sc.rows)
	return sc
}

func allDiscrepancies(t testing.TB, svc *Service, runID int64) []Discrepancy {
	t.Helper()
	var out []Discrepancy
	f := DiscrepancyFilter{RunID: runID, Limit: 3}
	for {
		page, err := svc.ListDiscrepancies(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		f.Cursor = page.Next
	}
}

func TestCleanReportsFlagNothing(t *testing.T) {
	t.Parallel()
	sc := runScenario(t, fileOpts{}, false)
	if len(sc.found) != 0 {
		t.Fatalf("clean reports flagged:\n%s", strings.Join(sc.found, "\n"))
	}
	if len(sc.runs) != 5 {
		t.Fatalf("runs for %d dates, want 5 (Thu, Fri, Sat, Mon, Tue)", len(sc.runs))
	}
	// Friday's and Monday's own captures and refunds settle next working
	// day: expected, not breaks.
	if e := sc.runs["2024-03-08"].Counts.Expected; e != 11 {
		t.Errorf("Friday expected = %d, want 11", e)
	}
	if e := sc.runs["2024-03-11"].Counts.Expected; e != 11 {
		t.Errorf("Monday expected = %d, want 11", e)
	}
	mon := sc.runs["2024-03-11"]
	// Monday's transaction items (10 payments, 8 captures, 3 refunds, 1
	// cancel) and Friday+Saturday's settlement items are all matched. The
	// ledger checks cover Monday's successful transactions (9
	// authorizations, 8 captures, 3 refunds, 1 cancel: one payment failed)
	// and the 22 settled ones.
	if mon.Counts.Lines[report.TransactionItems] != 22 || mon.Counts.Matched != 22+22 || mon.Counts.RollForwardOnly != 4 ||
		mon.Counts.LedgerChecked != 21+22 {
		t.Errorf("Monday counts = %+v", mon.Counts)
	}
	if len(mon.Batches) != 2 {
		t.Fatalf("Monday batches = %+v", mon.Batches)
	}
	for _, b := range mon.Batches {
		if !b.HasSummary || b.Residual != 0 || b.Computed != b.Summary || b.Captures <= 0 || b.Fees >= 0 || b.Reserves >= 0 {
			t.Errorf("batch %+v", b)
		}
	}
}

func TestEveryInjectedFaultIsFoundAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, true)
	_, _, want := faults()
	sort.Strings(want)
	if strings.Join(sc.found, "\n") != strings.Join(want, "\n") {
		t.Fatalf("found:\n%s\nwant:\n%s", strings.Join(sc.found, "\n"), strings.Join(want, "\n"))
	}
	// The incomplete file was archived, recorded and held back.
	var incomplete int
	for _, f := range sc.scan.Ingested {
		if f.Status == FileIncomplete {
			incomplete++
			if f.Name != "transactionItems_20240309_001.csv" || !strings.Contains(f.Error, "<END>") {
				t.Errorf("incomplete file = %+v", f)
			}
		}
	}
	if incomplete != 1 {
		t.Errorf("incomplete files = %d, want 1", incomplete)
	}
	for _, in := range sc.runs["2024-03-09"].Inputs {
		if in.Name == "transactionItems_20240309_001.csv" {
			t.Error("the incomplete file was reconciled")
		}
	}

	// Details carry the numbers.
	tue := sc.runs["2024-03-12"]
	ds := allDiscrepancies(t, sc.svc, tue.ID)
	if len(ds) != 1 || ds[0].Report.Minor != 101 || ds[0].Ours.Minor == 101 || !strings.Contains(string(ds[0].Details), "residual") {
		t.Errorf("batch mismatch = %+v %s", ds, ds[0].Details)
	}
	var residual int64
	for _, b := range tue.Batches {
		if b.BatchID == "B20240312USD" {
			residual = b.Residual
		}
	}
	if residual != 101-ds[0].Ours.Minor {
		t.Errorf("roll-forward residual %d, want %d", residual, 101-ds[0].Ours.Minor)
	}
	for _, d := range allDiscrepancies(t, sc.svc, sc.runs["2024-03-11"].ID) {
		if d.Kind == FXMismatch && (d.Report.Minor != 2329 || d.Ours.Minor != 2323 || d.Line == 0 || d.FileName == "") {
			t.Errorf("fx = %+v %s", d, d.Details)
		}
	}

	// Re-running every period gives the same set, with a diff saying so.
	for date, r := range sc.runs {
		again, err := sc.svc.Run(ctx, RunRequest{Date: r.Period}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if again.Diff.PreviousRunID != r.ID || again.Diff.New != 0 || again.Diff.Healed != 0 || again.Diff.Changed != 0 ||
			again.Diff.Same != int64(len(allDiscrepancies(t, sc.svc, r.ID))) {
			t.Errorf("%s re-run diff = %+v", date, again.Diff)
		}
		if fmt.Sprint(again.Counts) != fmt.Sprint(r.Counts) {
			t.Errorf("%s re-run counts %+v, first %+v", date, again.Counts, r.Counts)
		}
	}
}

// The newest generation (apo-reference.md §6.2 B, §6.3): the same ledger
// and faults written with transactionId = paymentId on every line, PSP,
// +08:00 completion times and settlementInitiatedDate give the same
// discrepancies and nothing else, whether capture lines carry the
// capture's request id or (as some docs say) the payment's.
func TestNewestGenerationFaultsFoundAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, g := range map[string]genOpts{"capture request id": {gen: genB},
		"payment request id": {gen: genB, captureWithPaymentRequest: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if clean := runScenarioGen(t, g, fileOpts{}, false); len(clean.found) != 0 {
				t.Fatalf("clean reports flagged:\n%s", strings.Join(clean.found, "\n"))
			}
			sc := runScenarioGen(t, g, fileOpts{}, true)
			_, _, want := faultsGen(g)
			sort.Strings(want)
			if strings.Join(sc.found, "\n") != strings.Join(want, "\n") {
				t.Fatalf("found:\n%s\nwant:\n%s", strings.Join(sc.found, "\n"), strings.Join(want, "\n"))
			}
			for _, d := range allDiscrepancies(t, sc.svc, sc.runs["2024-03-07"].ID) {
				if d.Kind == AmountMismatch && (d.Report.Minor != 1337 || d.Ours.Minor != 1137 || d.LedgerTransactionID == "") {
					t.Errorf("amount mismatch = %+v", d)
				}
			}
			for date, r := range sc.runs {
				again, err := sc.svc.Run(ctx, RunRequest{Date: r.Period}, "test")
				if err != nil {
					t.Fatal(err)
				}
				if again.Diff.New != 0 || again.Diff.Healed != 0 || again.Diff.Changed != 0 {
					t.Errorf("%s re-run diff = %+v", date, again.Diff)
				}
			}
		})
	}
}

func TestRunDiffResolutionAndHealing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, true)
	thuRun := sc.runs["2024-03-07"]
	ds := allDiscrepancies(t, sc.svc, thuRun.ID)
	var amount Discrepancy
	for _, d := range ds {
		if d.Kind == AmountMismatch {
			amount = d
		}
	}
	var conflict *ConflictError
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusOpen, "x", "alice"); !errors.As(err, &conflict) {
		t.Errorf("an OPEN discrepancy opened again: %v, want a conflict", err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusResolved, "  ", "alice"); err == nil {
		t.Error("empty note accepted")
	}
	got, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusResolved, "APO confirmed a typo; corrected file follows", "alice")
	if err != nil || got.Status != StatusResolved || got.Actor != "alice" || got.ResolvedAt == nil {
		t.Fatalf("resolve: %+v %v", got, err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusIgnored, "again", "bob"); !errors.As(err, &conflict) {
		t.Errorf("second close: %v, want a conflict", err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, 1<<40, StatusIgnored, "n", "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	// A re-run keeps the resolution of the unchanged discrepancy.
	again, err := sc.svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil {
		t.Fatal(err)
	}
	page, err := sc.svc.ListDiscrepancies(ctx, DiscrepancyFilter{RunID: again.ID, Kind: AmountMismatch})
	if err != nil || len(page.Items) != 1 || page.Items[0].Status != StatusResolved || page.Items[0].Change != ChangeSame ||
		page.Items[0].Note != got.Note {
		t.Fatalf("carried = %+v %v", page.Items, err)
	}

	// APO delivers a corrected Thursday file (same name, new content):
	// the amount break heals, the status break stays, and it is the latest
	// arrival of the name that counts.
	item, summary, _ := faults()
	item["transactionItems_20240307_000.csv"] = setField(match("transactionId", "2024apo_pay_20240307_005"), "status", "FAIL")
	files := buildFiles(sc.lg, sc.svc.cal, item, summary)
	fixedDir := filepath.Join(sc.dir, "fixed")
	write(t, fixedDir, files[:1], fileOpts{})
	fh, err := os.Open(filepath.Join(fixedDir, testCustomer, "20240307", "transactionItems_20240307_000.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := sc.svc.Ingest(ctx, testCustomer+"/20240307/transactionItems_20240307_000.csv", fh)
	if err != nil || f.Status != FileIngested || f.Duplicate {
		t.Fatalf("corrected file: %+v %v", f, err)
	}
	healed, err := sc.svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if healed.Diff.Healed != 1 || healed.Diff.Same != 1 || healed.Diff.New != 0 {
		t.Errorf("diff after correction = %+v", healed.Diff)
	}
	for _, in := range healed.Inputs {
		if in.Kind == report.TransactionItems && in.FileID != f.ID {
			t.Errorf("an outdated file was read: %+v", in)
		}
	}
	old, err := NewStore(sc.db).Discrepancy(ctx, amount.ID+0)
	if err != nil {
		t.Fatal(err)
	}
	if old.HealedByRunID != 0 {
		t.Errorf("the first run's row should be healed only by the run after it, got %d", old.HealedByRunID)
	}
	prev := allDiscrepancies(t, sc.svc, again.ID)
	healedCount := 0
	for _, d := range prev {
		if d.HealedByRunID == healed.ID {
			healedCount++
			if d.Kind != AmountMismatch {
				t.Errorf("healed %s, want the amount mismatch", d.Kind)
			}
		}
	}
	if healedCount != 1 {
		t.Errorf("healed rows = %d", healedCount)
	}
	// The current list has what the latest run finds: not the healed one.
	cur, err := sc.svc.CurrentDiscrepancies(ctx, CurrentFilter{PeriodFrom: thu, PeriodTo: thu})
	if err != nil || len(cur.Items) != 1 || cur.Items[0].RunID != healed.ID || cur.Items[0].Kind != StatusMismatch {
		t.Errorf("current discrepancies of the period = %+v %v", cur.Items, err)
	}
}

// TestDiscrepancyReopenAndCurrentList: a closed discrepancy can be reopened
// (with a note, by an actor) and closed again; only the current row of a
// discrepancy (its period's latest run) changes, and not while a run of the
// period works; the list across runs shows each discrepancy once, in its
// latest state, and filters by status, kind, period and run.
func TestDiscrepancyReopenAndCurrentList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, true)
	current := func(f CurrentFilter) []Discrepancy {
		t.Helper()
		var out []Discrepancy
		seen := map[int64]bool{}
		f.Limit = 2
		for {
			page, err := sc.svc.CurrentDiscrepancies(ctx, f)
			if err != nil {
				t.Fatalf("current %+v: %v", f, err)
			}
			for _, d := range page.Items {
				if seen[d.ID] {
					t.Fatalf("discrepancy %d listed twice", d.ID)
				}
				seen[d.ID] = true
			}
			out = append(out, page.Items...)
			if page.Next == "" {
				return out
			}
			f.Cursor = page.Next
		}
	}
	if all := current(CurrentFilter{}); len(all) != len(sc.found) {
		t.Fatalf("current = %d discrepancies, the runs found %d", len(all), len(sc.found))
	}

	thuRun := sc.runs["2024-03-07"]
	var amount Discrepancy
	for _, d := range allDiscrepancies(t, sc.svc, thuRun.ID) {
		if d.Kind == AmountMismatch {
			amount = d
		}
	}
	if !amount.Period.Equal(thu) {
		t.Fatalf("period = %v, want %v", amount.Period, thu)
	}
	var (
		conflict *ConflictError
		invalid  *InvalidError
	)
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusResolved, "APO confirmed a typo", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusIgnored, "closed twice", "bob"); !errors.As(err, &conflict) ||
		!strings.Contains(err.Error(), "reopen it") {
		t.Errorf("RESOLVED → IGNORED: %v, want a conflict", err)
	}
	for _, c := range []struct {
		status Status
		note   string
	}{{StatusOpen, "  "}, {"DONE", "x"}} {
		if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, c.status, c.note, "bob"); !errors.As(err, &invalid) {
			t.Errorf("%s with note %q: %v, want invalid", c.status, c.note, err)
		}
	}
	reopened, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusOpen, "the corrected file still says 13.37", "bob")
	if err != nil || reopened.Status != StatusOpen || reopened.Actor != "bob" ||
		reopened.Note != "the corrected file still says 13.37" || reopened.ResolvedAt != nil {
		t.Fatalf("reopened = %+v %v", reopened, err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusOpen, "again", "bob"); !errors.As(err, &conflict) {
		t.Errorf("OPEN → OPEN: %v, want a conflict", err)
	}
	if d, err := sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusIgnored, "known APO issue", "carol"); err != nil ||
		d.Status != StatusIgnored || d.ResolvedAt == nil {
		t.Fatalf("closed again = %+v %v", d, err)
	}

	// A new run of the period supersedes the first: its row is history.
	again, err := sc.svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var carried Discrepancy
	for _, d := range current(CurrentFilter{PeriodFrom: thu, PeriodTo: thu}) {
		if d.RunID != again.ID {
			t.Errorf("discrepancy %d of superseded run %d listed", d.ID, d.RunID)
		}
		if d.Kind == AmountMismatch {
			carried = d
		}
	}
	if carried.Status != StatusIgnored || carried.Note != "known APO issue" || carried.Actor != "carol" {
		t.Fatalf("carried = %+v", carried)
	}
	_, err = sc.svc.UpdateDiscrepancy(ctx, amount.ID, StatusOpen, "too late", "bob")
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), fmt.Sprintf("change discrepancy %d instead", carried.ID)) {
		t.Errorf("change of a superseded row: %v", err)
	}

	// Filters, each over the latest runs only.
	all := current(CurrentFilter{})
	if len(all) != len(sc.found) {
		t.Errorf("after the re-run: %d discrepancies, want %d", len(all), len(sc.found))
	}
	for _, c := range []struct {
		f    CurrentFilter
		want int
	}{
		{CurrentFilter{Status: StatusIgnored}, 1},
		{CurrentFilter{Status: StatusOpen}, len(sc.found) - 1},
		{CurrentFilter{Kind: MissingInReport}, 2},
		{CurrentFilter{PeriodFrom: fri, PeriodTo: sat}, 3},
		{CurrentFilter{PeriodFrom: mon}, 4},
		{CurrentFilter{PeriodTo: thu, Status: StatusOpen}, 1},
		{CurrentFilter{RunID: again.ID}, 2},
	} {
		if got := current(c.f); len(got) != c.want {
			t.Errorf("%+v: %d discrepancies, want %d", c.f, len(got), c.want)
		}
	}
	for _, f := range []CurrentFilter{{RunID: thuRun.ID}, {RunID: 1 << 40}, {PeriodFrom: sat, PeriodTo: fri},
		{Kind: "NOPE"}, {Status: "DONE"}, {Cursor: "nonsense"}} {
		if _, err := sc.svc.CurrentDiscrepancies(ctx, f); !errors.As(err, &invalid) {
			t.Errorf("%+v: %v, want invalid", f, err)
		}
	}

	// While a run of the period works, its discrepancies do not change.
	tx, err := sc.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := NewStore(tx).LockPeriod(ctx, thu); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.svc.UpdateDiscrepancy(ctx, carried.ID, StatusOpen, "reopen", "bob"); !errors.As(err, &conflict) ||
		!strings.Contains(err.Error(), "in progress") {
		t.Errorf("change during a run: %v, want a conflict", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if d, err := sc.svc.UpdateDiscrepancy(ctx, carried.ID, StatusOpen, "reopen", "bob"); err != nil || d.Status != StatusOpen {
		t.Errorf("change after the run: %+v %v", d, err)
	}
}

// Shuffled columns, unknown columns, quoting, CRLF, a BOM, or .xlsx with
// numeric cells: the discrepancies are identical, to the amount and line.
func TestFileLayoutDoesNotChangeResults(t *testing.T) {
	t.Parallel()
	base := runScenario(t, fileOpts{}, true)
	variants := map[string]fileOpts{
		"shuffled+unknown+crlf+bom": {bom: true, crlf: true, shuffle: rand.New(rand.NewSource(7)), unknown: true},
		"xlsx":                      {xlsx: true, shuffle: rand.New(rand.NewSource(9)), unknown: true},
	}
	for name, o := range variants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := runScenario(t, o, true)
			if strings.Join(got.rows, "\n") != strings.Join(base.rows, "\n") {
				t.Errorf("results differ:\n%s\nwant:\n%s", strings.Join(got.rows, "\n"), strings.Join(base.rows, "\n"))
			}
		})
	}
}

// TestEmptyReportsOfTwoDays: a quiet day's transaction details hold no
// line, byte for byte the same as another quiet day's. Each is its day's
// report, so a day on which we did transact and APO reported nothing still
// has its transactions checked; a report with lines arriving again under
// another name stays one file (TestIngestRules).
func TestEmptyReportsOfTwoDays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	fri := thu.AddDate(0, 0, 1)
	seedLedger(t, db, buildLedger([]time.Time{fri}, 2)) // one captured and refunded, one failed
	empty := "transactionType,transactionId,transactionAmountValue,transactionCurrency\n<END>\n"

	a, err := svc.Ingest(ctx, "transactionItems_20240307_000.csv", strings.NewReader(empty))
	if err != nil || a.Duplicate || a.ReportDate != thu {
		t.Fatalf("Thursday's empty report: %+v %v", a, err)
	}
	b, err := svc.Ingest(ctx, "transactionItems_20240308_000.csv", strings.NewReader(empty))
	if err != nil || b.Duplicate || b.ID == a.ID || b.ReportDate != fri || b.SHA256 != a.SHA256 {
		t.Fatalf("Friday's empty report, the same bytes: %+v %v", b, err)
	}
	if again, err := svc.Ingest(ctx, "transactionItems_20240308_000.csv", strings.NewReader(empty)); err != nil ||
		!again.Duplicate || again.ID != b.ID {
		t.Fatalf("Friday's again: %+v %v", again, err)
	}
	quiet, err := svc.Run(ctx, RunRequest{Date: thu}, "test")
	if err != nil || len(quiet.Inputs) != 1 || len(quiet.Counts.Discrepancies) != 0 {
		t.Fatalf("Thursday: %+v %v", quiet.Counts, err)
	}
	busy, err := svc.Run(ctx, RunRequest{Date: fri}, "test")
	if err != nil || len(busy.Inputs) != 1 || busy.Inputs[0].FileID != b.ID || busy.Counts.Discrepancies[MissingInReport] == 0 {
		t.Fatalf("Friday, our transactions absent from its report: %+v %v", busy.Counts, err)
	}
}

func TestIngestRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	good := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\n<END>\n"

	f, err := svc.Ingest(ctx, "transactionItems_20240307_000.csv", strings.NewReader(good))
	if err != nil || f.Status != FileIngested || f.Lines != 1 || f.Duplicate || f.ReportDate != thu || len(f.SHA256) != 64 {
		t.Fatalf("first ingest: %+v %v", f, err)
	}
	if b, err := os.ReadFile(f.ArchivePath); err != nil || string(b) != good {
		t.Errorf("archive holds %q, %v", b, err)
	}
	// The same bytes again, under any name, are a no-op that says so.
	again, err := svc.Ingest(ctx, "x/20240308/transactionItems_20240308_000.csv", strings.NewReader(good))
	if err != nil || !again.Duplicate || again.ID != f.ID {
		t.Fatalf("second ingest: %+v %v", again, err)
	}
	var lines int
	if err := db.GetContext(ctx, &lines, `SELECT count(*) FROM report_lines`); err != nil || lines != 1 {
		t.Errorf("staged lines = %d %v", lines, err)
	}

	// A malformed line: FAILED, nothing staged, file and line reported.
	bad := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\nCAPTURE,c2,1.234,USD\nCAPTURE,c3,x,USD\n<END>\n"
	f, err = svc.Ingest(ctx, "transactionItems_20240309_000.csv", strings.NewReader(bad))
	var pe *ParseError
	if !errors.As(err, &pe) || f.Status != FileFailed || pe.Total != 2 || f.BadLines != 2 {
		t.Fatalf("bad file: %+v %v", f, err)
	}
	for _, w := range []string{"transactionItems_20240309_000.csv:3: transactionAmountValue", "transactionItems_20240309_000.csv:4:"} {
		if !strings.Contains(err.Error(), w) || !strings.Contains(f.Error, w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if err := db.GetContext(ctx, &lines, `SELECT count(*) FROM report_lines WHERE file_id = $1`, f.ID); err != nil || lines != 0 {
		t.Errorf("a failed file staged %d lines", lines)
	}
	if _, err := svc.Run(ctx, RunRequest{Date: sat}, "t"); err == nil {
		t.Error("a failed file was reconciled")
	}
	if _, err := svc.Run(ctx, RunRequest{FileIDs: []int64{f.ID}}, "t"); err == nil {
		t.Error("a failed file was accepted by id")
	}

	// A bad header and a bad name.
	if _, err := svc.Ingest(ctx, "transactionItems_20240310_000.csv", strings.NewReader("a,b\n<END>\n")); !errors.As(err, &pe) || !errors.Is(err, report.ErrHeader) {
		t.Errorf("bad header: %v", err)
	}
	var inv *InvalidError
	if _, err := svc.Ingest(ctx, "../../etc/passwd", strings.NewReader(good)); !errors.As(err, &inv) {
		t.Errorf("bad name: %v", err)
	}

	// Incomplete: recorded, archived, not staged; the complete file later is new content.
	f, err = svc.Ingest(ctx, "transactionItems_20240311_000.csv", strings.NewReader(strings.TrimSuffix(good, "<END>\n")))
	if err != nil || f.Status != FileIncomplete {
		t.Fatalf("incomplete: %+v %v", f, err)
	}
	complete := strings.Replace(good, "c1", "c9", 1)
	f, err = svc.Ingest(ctx, "transactionItems_20240311_000.csv", strings.NewReader(complete))
	if err != nil || f.Status != FileIngested {
		t.Fatalf("completed: %+v %v", f, err)
	}
}

func TestScanDirSkipsWhatItHasRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	dir := svc.cfg.ReportsDir
	write(t, dir, buildFiles(lg, svc.cal, nil, nil), fileOpts{})
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a report"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".partial", "transactionItems_20240307_001.csv"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := svc.ScanDir(ctx, dir)
	if err != nil || first.Seen != 3 || len(first.Ingested) != 3 || len(first.Ignored) != 1 {
		t.Fatalf("first scan: %+v %v", first, err)
	}
	for _, f := range first.Ingested {
		if f.CustomerID != testCustomer || f.ReportDate.IsZero() || f.Status != FileIngested {
			t.Errorf("file %+v", f)
		}
	}
	second, err := svc.ScanDir(ctx, dir)
	if err != nil || second.Unchanged != 3 || len(second.Ingested) != 0 {
		t.Fatalf("second scan: %+v %v", second, err)
	}
}

func TestRunRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	write(t, svc.cfg.ReportsDir, buildFiles(lg, svc.cal, nil, nil), fileOpts{})
	scan, err := svc.ScanDir(ctx, svc.cfg.ReportsDir)
	if err != nil {
		t.Fatal(err)
	}
	var inv *InvalidError
	for _, req := range []RunRequest{{}, {Date: mon}, {FileIDs: []int64{999}}} {
		if _, err := svc.Run(ctx, req, "t"); !errors.As(err, &inv) {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
	}
	if _, err := svc.Run(ctx, RunRequest{Date: thu}, ""); !errors.As(err, &inv) {
		t.Errorf("no actor: %v", err)
	}
	var td int64
	for _, f := range scan.Ingested {
		if f.Kind == report.TransactionItems {
			td = f.ID
		}
	}
	r, err := svc.Run(ctx, RunRequest{FileIDs: []int64{td}}, "alice")
	if err != nil || r.Status != RunSucceeded || !r.Period.Equal(thu) || len(r.Inputs) != 1 || r.Actor != "alice" ||
		r.Counts.Lines[report.TransactionItems] != 8 || r.Progress != 100 || r.FinishedAt == nil || r.Timings.Total <= 0 {
		t.Fatalf("run by ids: %+v %v", r, err)
	}
	// ExecuteRun of a finished run is a no-op that returns it.
	again, err := svc.ExecuteRun(ctx, r.ID)
	if err != nil || again.ID != r.ID || again.FinishedAt == nil || !again.FinishedAt.Equal(*r.FinishedAt) {
		t.Errorf("re-execute: %+v %v", again, err)
	}
	got, err := svc.GetRun(ctx, r.ID)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(r) {
		t.Errorf("get = %+v %v", got, err)
	}
	// Runs list newest first with a cursor.
	if _, err := svc.Run(ctx, RunRequest{Date: thu}, "bob"); err != nil {
		t.Fatal(err)
	}
	p1, err := svc.ListRuns(ctx, RunFilter{Limit: 1})
	if err != nil || len(p1.Items) != 1 || p1.Items[0].Actor != "bob" || p1.Next == "" {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	p2, err := svc.ListRuns(ctx, RunFilter{Limit: 1, Cursor: p1.Next})
	if err != nil || len(p2.Items) != 1 || p2.Items[0].ID != r.ID || p2.Next != "" {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	if _, err := svc.ListRuns(ctx, RunFilter{Cursor: "!!"}); !errors.As(err, &inv) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := svc.ListDiscrepancies(ctx, DiscrepancyFilter{RunID: 424242}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	if _, err := svc.ListDiscrepancies(ctx, DiscrepancyFilter{RunID: r.ID, Kind: "NOPE"}); !errors.As(err, &inv) {
		t.Errorf("bad kind: %v", err)
	}
}

func TestSettlementTimelineEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, false)
	count := func() int {
		var n int
		if err := sc.db.GetContext(ctx, &n, `SELECT count(*) FROM payment_events WHERE source = 'settlement'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Every settled capture and refund of the three settlement dates.
	var want int64
	for _, r := range sc.runs {
		want += r.Counts.LinesByType["SETTLEMENT_ITEMS/CAPTURE"] + r.Counts.LinesByType["SETTLEMENT_ITEMS/REFUND"]
	}
	if n := count(); int64(n) != want || want == 0 {
		t.Fatalf("settlement events = %d, want %d", n, want)
	}
	if _, err := sc.svc.Run(ctx, RunRequest{Date: mon}, "test"); err != nil {
		t.Fatal(err)
	}
	if n := count(); int64(n) != want {
		t.Errorf("a re-run added events: %d, want %d", n, want)
	}
	var note string
	if err := sc.db.GetContext(ctx, &note, `SELECT note FROM payment_events WHERE source = 'settlement' ORDER BY id LIMIT 1`); err != nil ||
		!strings.Contains(note, "settlement batch B20240308") {
		t.Errorf("note = %q %v", note, err)
	}
}
