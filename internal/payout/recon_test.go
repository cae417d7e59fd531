package payout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/recon"
)

// settle ingests the settlement items and summary of batch id, settled on
// day d ("2026-12-07"): one reserve release of minor EUR cents, and the
// capture lines of 10.00 EUR given as "transactionId,originalTransactionId".
func (e *testEnv) settle(t *testing.T, id, d string, minor int64, captures ...string) {
	t.Helper()
	amount := fmt.Sprintf("%d.%02d", minor/100, minor%100)
	items := "settlementBatchId,customerId,acquirer,transactionType,transactionId,originalTransactionId," +
		"transactionRequestId,paymentTime,settlementTime,transactionAmountValue,transactionCurrency," +
		"settlementAmountValue,settlementCurrency,quoteCurrencyPair,quotePrice,feeAmountValue,feeCurrency\n" +
		id + ",2188120000000000,,RESERVE_RELEASE,rel_" + id + ",,,," + d + " 02:00:00,,," + amount + ",EUR,,,,\n"
	for _, c := range captures {
		items += id + ",2188120000000000,,CAPTURE," + c + ",capreq,," + d + " 02:00:00,10.00,EUR,10.00,EUR,,,,\n"
	}
	total := minor + 1000*int64(len(captures))
	summary := "settlementBatchId,customerId,acquirer,summaryType,count,settlementAmountValue,settlementCurrency\n" +
		id + ",2188120000000000,,TOTAL," + fmt.Sprint(1+len(captures)) + "," + fmt.Sprintf("%d.%02d", total/100, total%100) + ",EUR\n<END>\n"
	for name, content := range map[string]string{"settlementItems_EUR_" + id + "_000.csv": items + "<END>\n",
		"settlementSummary_EUR_" + id + "_000.csv": summary} {
		if f, err := e.recon.Ingest(context.Background(), name, strings.NewReader(content)); err != nil || f.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %v %+v", name, err, f)
		}
	}
}

// reconcile runs recon for day d and returns the run and its breaks as
// "KIND|batch" (payouts) or "KIND|amount" (credits).
func (e *testEnv) reconcile(t *testing.T, d string) (recon.Run, []string) {
	t.Helper()
	ctx := context.Background()
	run, err := e.recon.Run(ctx, recon.RunRequest{Date: date2(d)}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("run %s: %v %s", d, err, run.Error)
	}
	page, err := e.recon.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: run.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range page.Items {
		id := x.SettlementBatchID
		if x.Kind == recon.BankCreditUnexplained {
			id = fmt.Sprint(x.Report.Minor)
		}
		out = append(out, string(x.Kind)+"|"+id)
	}
	sort.Strings(out)
	return run, out
}

// TestPayoutsThroughReconRun: the payout breaks are discrepancies of
// recon's runs, and a re-run after the late credit arrives heals
// PAYOUT_NOT_RECEIVED in the run diff.
func TestPayoutsThroughReconRun(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	apo := "APO Payments Europe"
	e.settle(t, "BMON", "2026-12-07", 100000) // due Tue 8
	e.settle(t, "BTUE", "2026-12-08", 20000)  // due Wed 9
	e.settle(t, "BWED", "2026-12-09", 30000)  // due Thu 10

	run, got := e.reconcile(t, "2026-12-07")
	same(t, "Monday", got, []string{})
	same(t, "Monday's payouts", run.Counts.Payouts, recon.PayoutCounts{Expected: 1})

	e.statement(t, "2026-12-08", credit{777, "", "Correction", apo})
	first, got := e.reconcile(t, "2026-12-08")
	same(t, "Tuesday", got, []string{"BANK_CREDIT_UNEXPLAINED|777", "PAYOUT_NOT_RECEIVED|BMON"})

	e.statement(t, "2026-12-09", credit{100000, "", "Payout BMON", apo}, credit{20000, "BTUE", "", apo})
	again, got := e.reconcile(t, "2026-12-08")
	same(t, "Tuesday again", got, []string{"BANK_CREDIT_UNEXPLAINED|777"})
	same(t, "diff", fmt.Sprintf("prev %v healed %d same %d", again.Diff.PreviousRunID == first.ID, again.Diff.Healed,
		again.Diff.Same), "prev true healed 1 same 1")

	_, got = e.reconcile(t, "2026-12-09")
	same(t, "Wednesday", got, []string{"PAYOUT_LATE|BMON"})
}

// TestPayoutTracesAPayment: payment_id finds the payout of the batch that
// settled the payment's capture, and the payout page lists that line.
func TestPayoutTracesAPayment(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	ctx := context.Background()
	const pay = "0b7f3c55-3d4e-4d1c-9a57-8a3c1f0e2b11"
	// The ledger is payments'; a test seeds it the way recon's tests do.
	e.db.MustExec(`INSERT INTO payments (id, payment_request_id, apo_payment_id, reference_order_id, amount_minor,
		currency, capture_mode, status, captured_minor, refunded_minor, created_at, updated_at)
		VALUES ($1, 'payreq_1', 'apo_pay_1', 'order-1', 1000, 'EUR', 'MANUAL', 'CAPTURED', 1000, 0, now(), now())`, pay)
	e.db.MustExec(`INSERT INTO payment_transactions (id, payment_id, type, request_id, apo_id, amount_minor, currency,
		status, created_at, updated_at, completed_at)
		VALUES (gen_random_uuid(), $1, 'CAPTURE', 'capreq', 'apo_cap_1', 1000, 'EUR', 'SUCCEEDED', now(), now(), now())`, pay)
	e.settle(t, "BCAP", "2026-12-07", 5000, "apo_cap_1,apo_pay_1")
	e.settle(t, "BOTHER", "2026-12-07", 7000)
	e.reconcile(t, "2026-12-07")

	page, err := e.svc.List(ctx, Filter{PaymentID: pay})
	if err != nil || len(page.Items) != 1 || page.Items[0].BatchID != "BCAP" {
		t.Fatalf("payouts of the payment: %v %+v", err, page.Items)
	}
	d, err := e.svc.Get(ctx, page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range d.Lines {
		types = append(types, l.TransactionType+" "+l.TransactionID)
	}
	sort.Strings(types)
	same(t, "lines", types, []string{"CAPTURE apo_cap_1", "RESERVE_RELEASE rel_BCAP"})
	same(t, "status past due without statements", d.Status, StatusAwaitingStatement)
}

// TestNightlyJudgesPayoutsOnceTheirStatementArrives: a payout whose due
// date's run found no statement reaching that day is awaiting, not judged;
// the next nightly after the statement arrives runs the period again and
// judges it (here: not received); a day with a payout due and no report
// (Wednesday) is run with no files; and a period whose facts its latest
// run has seen is not run again.
func TestNightlyJudgesPayoutsOnceTheirStatementArrives(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	ctx := context.Background()
	e.settle(t, "BMON", "2026-12-07", 100000) // due Tue 8
	e.reconcile(t, "2026-12-07")
	e.statement(t, "2026-12-07")
	e.settle(t, "BTUE", "2026-12-08", 20000)
	run, got := e.reconcile(t, "2026-12-08")
	same(t, "Tuesday before its statement", got, []string{})
	same(t, "awaiting", run.Counts.Payouts.AwaitingStatement, int64(1))

	e.statement(t, "2026-12-08") // Tuesday's statement arrives: no credit
	res, err := e.recon.Nightly(ctx, date2("2026-12-09"))
	if err != nil {
		t.Fatal(err)
	}
	var periods []string
	for _, r := range res.Runs {
		periods = append(periods, r.Period.Format(time.DateOnly))
	}
	same(t, "periods run again", periods, []string{"2026-12-08", "2026-12-09"})
	same(t, "Wednesday's inputs and payouts", fmt.Sprint(len(res.Runs[1].Inputs), res.Runs[1].Counts.Payouts.AwaitingStatement), "0 1")
	page, err := e.recon.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: res.Runs[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Kind != recon.PayoutNotReceived || page.Items[0].SettlementBatchID != "BMON" {
		t.Fatalf("the re-run's breaks: %+v", page.Items)
	}
	res, err = e.recon.Nightly(ctx, date2("2026-12-10"))
	if err != nil || len(res.Runs) != 0 {
		t.Fatalf("a judged period is run again: %+v %v", res.Runs, err)
	}
}

// TestNightlyJudgesBankDaysWithoutReports: APO sends no report of a day
// (or one byte-identical to an earlier day's, which custody keeps once),
// yet a payout falls due on it and credits are booked on it: the nightly
// judges that day with a run of no files — the payout not received, the
// remitter's stray credit unexplained — and the next day's credit paying
// it is late. A day with neither reports nor bank facts cannot be run.
func TestNightlyJudgesBankDaysWithoutReports(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	ctx := context.Background()
	apo := "APO Payments Europe"
	e.settle(t, "BMON", "2026-12-07", 100000) // due Tue 8
	e.reconcile(t, "2026-12-07")
	e.statement(t, "2026-12-07")
	e.statement(t, "2026-12-08", credit{777, "", "Correction", apo})

	periods := func(res recon.NightlyResult) []string {
		var out []string
		for _, r := range res.Runs {
			out = append(out, r.Period.Format(time.DateOnly)+fmt.Sprintf(" files %d", len(r.Inputs)))
		}
		return out
	}
	breaks := func(run recon.Run) []string {
		page, err := e.recon.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: run.ID})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range page.Items {
			out = append(out, string(d.Kind)+"|"+d.SettlementBatchID+fmt.Sprint(d.Report.Minor))
		}
		sort.Strings(out)
		return out
	}
	res, err := e.recon.Nightly(ctx, date2("2026-12-08"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Tuesday's nightly", periods(res), []string{"2026-12-08 files 0"})
	same(t, "Tuesday's breaks", breaks(res.Runs[0]), []string{"BANK_CREDIT_UNEXPLAINED|777", "PAYOUT_NOT_RECEIVED|BMON0"})

	e.statement(t, "2026-12-09", credit{100000, "BMON", "", apo})
	res, err = e.recon.Nightly(ctx, date2("2026-12-09"))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Wednesday's nightly", periods(res), []string{"2026-12-09 files 0"})
	same(t, "Wednesday's breaks", breaks(res.Runs[0]), []string{"PAYOUT_LATE|BMON100000"})

	res, err = e.recon.Nightly(ctx, date2("2026-12-10"))
	if err != nil || len(res.Runs) != 0 {
		t.Fatalf("days already judged run again: %v %v", periods(res), err)
	}
	var invalid *recon.InvalidError
	if _, err := e.recon.Run(ctx, recon.RunRequest{Date: date2("2026-12-12")}, "test"); !errors.As(err, &invalid) ||
		!strings.Contains(invalid.Reason, "payout due or bank credit") {
		t.Fatalf("a day without reports or bank facts: %v", err)
	}
}
