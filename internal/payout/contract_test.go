package payout_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
	"github.com/payops/payops/internal/sandboxtest"
)

// contractFee is the intermediary bank's charge on the short payout, and
// contractTolerance the payout tolerance (both minor units of USD and
// EUR): the fee is beyond it, so the short payout is a mismatch.
const (
	contractFee       = 1500
	contractTolerance = 500
	contractPayDays   = 2 // the sandbox's PayoutDays default, payops' RECON_SETTLEMENT_DAYS
	contractLateDays  = 3
)

// TestBankAndBooksWeek is issue 18's contract: a past week of payments
// made through payments against the sandbox, its reports and its bank
// statements with faults, reconciled day by day with payout matching and
// journals wired as in internal/app, finds exactly the injected faults;
// every payout it does not hit is received, and every journal of the week
// balances and ties to its batch.
//
// The sandbox's clock walks the week. payops' clock is the real now,
// except for payments: the sandbox's authorizations expire seven days
// after its own clock, so a week in the past would be expired to
// payments, which refuses to capture them. payments shares the sandbox's
// clock, so our transactions complete on their report days and each run
// checks its day's transaction details against them. Recon, payouts and
// journals run on the real now, which does not disturb the checks: payout
// judgement and journals use the run's period, and payout.Service.List
// judges as of today, when every payout of the week is past due.
func TestBankAndBooksWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	monday := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	sunday := monday.AddDate(0, 0, 6)
	// Sunday's batch is due Tuesday; the late one arrives LateDays later.
	last := addBusinessDays(addBusinessDays(sunday, contractPayDays), contractLateDays)

	var clock atomic.Int64
	clock.Store(monday.UnixNano())
	dir := t.TempDir()
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	env := sandboxtest.Start(t, sandboxtest.Options{ReportsDir: dir, Now: now})
	db := pgtest.NewDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pay := payments.NewService(db, env.Client, nil, log, "http://127.0.0.1:1")
	pay.SetClock(now)

	// Each day up to the last one the statements cover is a run, which
	// judges the payouts due that day and the credits booked on it. The
	// days after the week carry one payment each: an empty day's
	// transaction details are the same bytes whatever the day, and recon
	// keeps files by content, so it takes all but the first for a
	// duplicate of it and those days could not run; their payouts due and
	// credits booked would never be judged (a gap of recon's custody, not
	// narrowed here). The batches of those days are the payouts due after
	// the statements end.
	for d := monday; !d.After(last); d = d.AddDate(0, 0, 1) {
		clock.Store(d.Add(10 * time.Hour).UnixNano())
		payDay(t, pay, d, d.After(sunday))
	}
	var reportFaults []string // as discrepancyKey writes them
	for d := monday; !d.After(last); d = d.AddDate(0, 0, 1) {
		req := sandbox.ReportRequest{Date: d.Format("20060102")}
		if !d.After(sunday) {
			req.Faults = dayFaults[d.Weekday()]
		}
		res, err := env.Sandbox.WriteReports(req)
		if err != nil {
			t.Fatalf("reports of %s: %v", d.Format(time.DateOnly), err)
		}
		for _, f := range res.Faults {
			reportFaults = append(reportFaults, key(reportKinds[f.Kind], f.TransactionType+":"+f.TransactionID, d.Format(time.DateOnly)))
		}
	}
	if len(reportFaults) != 5 {
		t.Fatalf("the sandbox injected %d report faults, want 5: %v", len(reportFaults), reportFaults)
	}
	stmts, err := env.Sandbox.WriteBankStatements(sandbox.BankStatementRequest{From: monday.Format("20060102"),
		To: last.Format("20060102"), Format: sandbox.BankFormatCamt053, Faults: &sandbox.BankFaults{
			WithholdPayout: 1, ShortPayout: 1, ShortFeeMinor: contractFee, LatePayout: 1, LateDays: contractLateDays,
			CombinePayouts: 1, UnrelatedCredit: 1, BreakChain: 1}})
	if err != nil {
		t.Fatalf("bank statements: %v", err)
	}
	if got := faultKinds(stmts.Faults); !slices.Equal(got, []string{sandbox.FaultBreakChain, sandbox.FaultCombinePayouts,
		sandbox.FaultLatePayout, sandbox.FaultShortPayout, sandbox.FaultUnrelatedCredit, sandbox.FaultWithholdPayout}) {
		t.Fatalf("the sandbox injected %v, want one of each bank fault", got)
	}

	bs := bank.NewService(db, bank.Config{ArchiveDir: filepath.Join(t.TempDir(), "bank")}, log)
	rs := recon.NewService(db, recon.Config{ReportsDir: dir, ArchiveDir: t.TempDir(), ExportDir: t.TempDir(),
		SettlementDays: contractPayDays}, log)
	js := journal.NewService(db, recon.NewStore(db))
	tolerance := map[string]int64{}
	for ccy, iban := range stmts.Accounts {
		if _, err := bs.CreateAccount(ctx, bank.NewAccount{Name: "Settlement " + ccy, IBAN: iban, Currency: ccy,
			SettlementCurrency: ccy, Remitters: []string{"ANTOM SETTLEMENT"}}); err != nil {
			t.Fatalf("account %s: %v", ccy, err)
		}
		tolerance[ccy] = contractTolerance
	}
	ps := payout.NewService(db, payout.Config{Default: recon.Calendar{Days: contractPayDays}, Tolerance: tolerance}, rs)
	hookErrs := wireAsApp(rs, js, ps)

	ingestReports(t, rs, dir)
	breaks := ingestStatements(t, bs, stmts)

	// Every run of the range, in order; its discrepancies are its latest
	// set, since each period runs once.
	var found []string
	batches := map[string]recon.Batch{}
	for d := monday; !d.After(last); d = d.AddDate(0, 0, 1) {
		run, err := rs.Run(ctx, recon.RunRequest{Date: d}, "contract")
		if err != nil || run.Status != recon.RunSucceeded {
			t.Fatalf("run of %s: %v %s %s", d.Format(time.DateOnly), err, run.Status, run.Error)
		}
		for _, b := range run.Batches {
			batches[b.BatchID] = b
		}
		page, err := rs.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: run.ID, Limit: 500})
		if err != nil || page.Next != "" {
			t.Fatalf("discrepancies of %s: %v (more than a page: %t)", d.Format(time.DateOnly), err, page.Next != "")
		}
		for _, x := range page.Items {
			found = append(found, discrepancyKey(x, d))
		}
	}
	if errs := hookErrs(); len(errs) > 0 {
		t.Errorf("journal hook: %v", errs)
	}

	want, special := injected(t, stmts)
	want = append(want, reportFaults...)
	sort.Strings(want)
	sort.Strings(found)
	if !slices.Equal(found, want) {
		t.Errorf("discrepancies (kind|batch|date):\ninjected %s\nfound    %s\nfaults: %s", strings.Join(want, " "),
			strings.Join(found, " "), describeFaults(stmts.Faults))
	}
	checkBreaks(t, stmts, breaks)
	checkPayouts(t, ps, batches, special, coverage(stmts))
	checkJournals(t, js, batches, monday, last)
}

// dayFaults damage the transaction details of the week's Tuesday and
// Thursday; they
// leave settlement alone, so the payouts and journals stay whole.
var dayFaults = map[time.Weekday]*sandbox.ReportFaults{
	time.Tuesday: {Seed: 5, DropLines: sandbox.FaultCount{Count: 1}, ChangeAmounts: sandbox.FaultCount{Count: 1}},
	time.Thursday: {Seed: 5, DuplicateLines: sandbox.FaultCount{Count: 1}, UnknownTransactions: sandbox.FaultCount{Count: 1},
		ChangeCurrency: sandbox.FaultCount{Count: 1}},
}

// reportKinds maps the sandbox's report faults to the discrepancies they
// raise, as internal/recon/sandbox_test.go does.
var reportKinds = map[string]recon.Kind{sandbox.FaultDropLine: recon.MissingInReport, sandbox.FaultChangeAmount: recon.AmountMismatch,
	sandbox.FaultDuplicateLine: recon.DuplicateInReport, sandbox.FaultUnknownTransaction: recon.MissingInLedger,
	sandbox.FaultChangeCurrency: recon.CurrencyMismatch}

// payDay makes day d's payments: captures in USD and EUR through three
// card brands (and so acquirers: batches of one currency due the same
// day, for a combined credit), and a refund on some; one capture only when
// one is set.
func payDay(t *testing.T, pay *payments.Service, d time.Time, one bool) {
	t.Helper()
	ctx := context.Background()
	cards := []struct{ card, ccy string }{{"4111111111111111", "USD"}, {"5555555555554444", "USD"},
		{"378282246310005", "USD"}, {"4111111111111111", "EUR"}, {"5555555555554444", "EUR"}}
	if one {
		cards = cards[1:2]
	}
	for i, c := range cards {
		ref := fmt.Sprintf("week-%s-%d", d.Format("0102"), i)
		p, err := pay.Create(ctx, payments.CreateRequest{ReferenceOrderID: ref,
			Amount:         money.Money{Minor: 8000 + int64(d.Day())*100 + int64(i)*7, Currency: c.ccy},
			BuyerReference: "b", TerminalType: "WEB", ClientIP: "198.51.100.2", RedirectURL: "https://shop.example/r",
			Card: payments.CardInput{Number: c.card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030", HolderFirst: "A", HolderLast: "B"}})
		if err != nil || p.Status != payments.StatusAuthorized {
			t.Fatalf("pay %s: %v %s", ref, err, p.Status)
		}
		if _, _, err := pay.Capture(ctx, p.ID, payments.CaptureRequest{}); err != nil {
			t.Fatalf("capture %s: %v", ref, err)
		}
		if !one && (i == 0 || (i == 4 && d.Weekday()%2 == 0)) {
			if _, _, err := pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: 1000, Reason: "r"}); err != nil {
				t.Fatalf("refund %s: %v", ref, err)
			}
		}
	}
}

// wireAsApp wires payout matching and the journal hook as internal/app
// does; the hook's errors, which recon only logs, are kept for the test.
func wireAsApp(rs *recon.Service, js *journal.Service, ps *payout.Service) func() []error {
	var mu sync.Mutex
	var errs []error
	rs.SetRunHook(func(ctx context.Context, run recon.Run) error {
		res, err := js.BuildRun(ctx, run.ID)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("run %d: %w", run.ID, err))
		}
		for _, r := range res {
			if r.Outcome == journal.Locked {
				errs = append(errs, fmt.Errorf("run %d: batch %s locked", run.ID, r.BatchID))
			}
		}
		return err
	})
	rs.SetPayoutChecker(ps)
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// ingestReports ingests every report file the sandbox wrote.
func ingestReports(t *testing.T, rs *recon.Service, dir string) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "bank" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		file, err := rs.Ingest(context.Background(), filepath.Base(p), f)
		f.Close()
		if err != nil || file.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %v %+v", p, err, file)
		}
	}
}

// ingestStatements ingests the statements in date order and returns
// their findings as "KIND|file".
func ingestStatements(t *testing.T, bs *bank.Service, res *sandbox.BankStatementResult) []string {
	t.Helper()
	files := slices.Clone(res.Statements)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Date < files[j].Date })
	var out []string
	for _, s := range files {
		f, err := os.Open(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bs.Ingest(context.Background(), s.Name, f)
		f.Close()
		if err != nil {
			t.Fatalf("ingest statement %s: %v", s.Name, err)
		}
		for _, st := range got.Statements {
			for _, x := range st.Findings {
				out = append(out, string(x.Kind)+"|"+s.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkBreaks requires the one statement finding: the broken chain.
func checkBreaks(t *testing.T, res *sandbox.BankStatementResult, found []string) {
	t.Helper()
	var want []string
	for _, f := range res.Faults {
		if f.Kind == sandbox.FaultBreakChain {
			want = append(want, string(statement.BalanceBreak)+"|"+f.File)
		}
	}
	if !slices.Equal(found, want) {
		t.Errorf("statement findings:\ninjected %v\nfound    %v", want, found)
	}
}

// special is what the faults did to payouts: batch → the status List
// must show; pairs are the batches paid in one credit.
type special struct {
	status map[string]payout.Status
	pairs  [][2]string
}

// injected returns the discrepancies the faults must raise, sorted, as
// discrepancyKey writes them, and the statuses of the payouts they hit.
func injected(t *testing.T, res *sandbox.BankStatementResult) ([]string, special) {
	t.Helper()
	var want []string
	sp := special{status: map[string]payout.Status{}}
	for _, f := range res.Faults {
		day := dashed(t, f.Date)
		switch f.Kind {
		case sandbox.FaultWithholdPayout:
			want = append(want, key(recon.PayoutNotReceived, f.BatchID, day))
			sp.status[f.BatchID] = payout.StatusNotReceived
		case sandbox.FaultShortPayout:
			want = append(want, key(recon.PayoutAmountMismatch, f.BatchID, day))
			sp.status[f.BatchID] = payout.StatusAmountMismatch
		case sandbox.FaultLatePayout:
			want = append(want, key(recon.PayoutLate, f.BatchID, day))
			sp.status[f.BatchID] = payout.StatusReceivedLate
		case sandbox.FaultUnrelatedCredit:
			want = append(want, key(recon.BankCreditUnexplained, creditName(f.Actual, f.Currency), day))
		case sandbox.FaultCombinePayouts:
			sp.status[f.BatchID], sp.status[f.PairedBatchID] = payout.StatusReceived, payout.StatusReceived
			sp.pairs = append(sp.pairs, [2]string{f.BatchID, f.PairedBatchID})
		}
	}
	sort.Strings(want)
	return want, sp
}

func key(k recon.Kind, batch, day string) string { return string(k) + "|" + batch + "|" + day }

func creditName(minor int64, ccy string) string { return fmt.Sprintf("credit:%d%s", minor, ccy) }

// discrepancyKey names a discrepancy of the run of day d by its batch, or
// for an unexplained credit by its amount.
func discrepancyKey(x recon.Discrepancy, d time.Time) string {
	id := x.SettlementBatchID
	if x.Kind == recon.BankCreditUnexplained {
		id = creditName(x.Report.Minor, x.Report.Currency)
	}
	if x.ReportKind == report.TransactionItems {
		id = x.TransactionType + ":" + x.TransactionID
	}
	return key(x.Kind, id, d.Format(time.DateOnly))
}

func dashed(t *testing.T, yyyymmdd string) string {
	t.Helper()
	d, err := time.Parse("20060102", yyyymmdd)
	if err != nil {
		t.Fatal(err)
	}
	return d.Format(time.DateOnly)
}

func faultKinds(fs []sandbox.InjectedBankFault) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	sort.Strings(out)
	return out
}

func describeFaults(fs []sandbox.InjectedBankFault) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s batch %s/%s %s %s: %s", f.Kind, f.BatchID, f.PairedBatchID, f.Currency, f.Date, f.Detail)
	}
	return b.String()
}

// coverage is the last statement day of each currency's account.
func coverage(res *sandbox.BankStatementResult) map[string]time.Time {
	out := map[string]time.Time{}
	for _, s := range res.Statements {
		d, _ := time.Parse("20060102", s.Date)
		if d.After(out[s.Currency]) {
			out[s.Currency] = d
		}
	}
	return out
}

// checkPayouts requires a payout for every batch of the week with a
// positive summary, each with its injected status, the others RECEIVED
// when their due date is covered, else still expected.
func checkPayouts(t *testing.T, ps *payout.Service, batches map[string]recon.Batch, sp special, cover map[string]time.Time) {
	t.Helper()
	got := map[string]payout.Payout{}
	f := payout.Filter{Limit: 200}
	for {
		page, err := ps.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			got[p.BatchID] = p
		}
		if f.Cursor = page.Next; f.Cursor == "" {
			break
		}
	}
	for _, pair := range sp.pairs {
		a, b := got[pair[0]], got[pair[1]]
		if len(a.Links) != 1 || len(b.Links) != 1 || a.Links[0].EntryID != b.Links[0].EntryID || a.Links[0].Duplicate || b.Links[0].Duplicate {
			t.Errorf("batches %s and %s paid in one credit: links %+v and %+v", pair[0], pair[1], a.Links, b.Links)
		}
	}
	for id, b := range batches {
		if b.Summary <= 0 {
			continue
		}
		p, ok := got[id]
		if !ok {
			t.Errorf("batch %s (%d %s) has no payout", id, b.Summary, b.Currency)
			continue
		}
		delete(got, id)
		want, hit := sp.status[id]
		switch {
		case hit:
		case p.DueDate.After(cover[p.Currency]):
			if p.Status != payout.StatusExpected && p.Status != payout.StatusAwaitingStatement {
				t.Errorf("payout %s due %s after the statements is %s", id, p.DueDate.Format(time.DateOnly), p.Status)
			}
			continue
		default:
			want = payout.StatusReceived
		}
		if p.Status != want || p.Amount != b.Summary {
			t.Errorf("payout %s due %s: %s %d %s (received %d, fee %d), want %s %d", id, p.DueDate.Format(time.DateOnly),
				p.Status, p.Amount, p.Currency, p.Received, p.Fee, want, b.Summary)
		}
	}
	for id, p := range got {
		t.Errorf("payout %s (%s %d) of no batch of the runs", id, p.Status, p.Amount)
	}
}

// checkJournals requires every batch of the runs to have a BALANCED
// journal whose debits equal its credits and whose payout and clearing
// line are the batch's summary.
func checkJournals(t *testing.T, js *journal.Service, batches map[string]recon.Batch, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	got := map[string]journal.Journal{}
	f := journal.Filter{From: from, To: to, Limit: 200}
	for {
		page, err := js.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Items {
			got[j.BatchID] = j
		}
		if f.Cursor = page.Next; f.Cursor == "" {
			break
		}
	}
	if len(batches) == 0 {
		t.Fatal("the week settled no batch")
	}
	for id, b := range batches {
		listed, ok := got[id]
		if !ok {
			t.Errorf("batch %s has no journal", id)
			continue
		}
		j, err := js.Get(ctx, listed.ID)
		if err != nil {
			t.Fatal(err)
		}
		d, c, ok := j.Totals()
		var clearing int64
		for _, l := range j.Lines {
			if l.Kind == journal.PayoutClearing {
				clearing += l.Debit - l.Credit
			}
		}
		if j.Status != "BALANCED" || !ok || d != c || d == 0 || j.Payout != b.Summary || clearing != b.Summary ||
			j.Currency != b.Currency || j.Items != b.Items {
			t.Errorf("journal of %s: %s %s, debits %d, credits %d, payout %d, clearing %d, %s, %d items; batch summary %d %s, %d items",
				id, j.Status, j.Reason, d, c, j.Payout, clearing, j.Currency, j.Items, b.Summary, b.Currency, b.Items)
		}
	}
	if len(got) != len(batches) {
		t.Errorf("%d journals for %d batches", len(got), len(batches))
	}
}

// addBusinessDays is the sandbox's bank calendar: n weekdays after d.
func addBusinessDays(d time.Time, n int) time.Time {
	for i := 0; i < n; {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			i++
		}
	}
	return d
}
