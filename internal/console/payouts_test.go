package console

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
)

// ---- fixtures ----

// payoutAccountNumber is the test account, as its MT940 statements name it.
const payoutAccountNumber = "37040044/0532013000"

// payoutFixture is a reconciled fortnight of payouts: a payment captured
// through the sandbox and settled in batch BPAID, which a bank credit
// naming the batch paid on its due date; BLOST, due the same day and not
// paid; BNEXT, due a day the statements do not reach yet.
type payoutFixture struct {
	account              bank.Account
	payment              payments.Payment
	paid, lost, awaiting payout.Payout
	statementFile        string
}

// payoutDays builds the fixture through the domain services, as the
// nightly would: APO's settlement reports ingested, a bank statement
// ingested, reconciliation runs of the two days with payouts checked.
func payoutDays(t *testing.T, e *env) payoutFixture {
	t.Helper()
	ctx := context.Background()
	e.recon.SetPayoutChecker(e.payouts)
	var f payoutFixture
	p, err := e.pay.Create(ctx, payments.CreateRequest{ReferenceOrderID: "payout-1",
		Amount: money.Money{Minor: 2500, Currency: "EUR"}, BuyerReference: "b", TerminalType: "WEB",
		ClientIP: "198.51.100.2", RedirectURL: "https://shop.example/r",
		Card: payments.CardInput{Number: "4111111111111111", CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030", HolderFirst: "A", HolderLast: "B"}})
	if err != nil || p.Status != payments.StatusAuthorized {
		t.Fatalf("pay: %v %s", err, p.Status)
	}
	if _, _, err := e.pay.Capture(ctx, p.ID, payments.CaptureRequest{}); err != nil {
		t.Fatal(err)
	}
	d, err := e.pay.GetDetail(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.payment = d.Payment
	var captureID string
	for _, tx := range d.Transactions {
		if tx.Type == payments.TxCapture {
			captureID = tx.APOID
		}
	}
	if captureID == "" || f.payment.APOPaymentID == "" {
		t.Fatalf("the capture has no APO id: %+v", d.Transactions)
	}
	if f.account, err = e.bank.CreateAccount(ctx, bank.NewAccount{Name: "Main EUR", Number: payoutAccountNumber,
		Currency: "EUR", SettlementCurrency: "EUR", Remitters: []string{"APO Payments Europe"}}); err != nil {
		t.Fatal(err)
	}
	// Settled Monday 23 November, due Tuesday 24 (T+1); BNEXT settled
	// Tuesday, due Wednesday.
	payoutSettle(t, e, "BPAID", "2026-11-23", 5000, captureID+","+f.payment.APOPaymentID)
	payoutSettle(t, e, "BLOST", "2026-11-23", 4000)
	payoutSettle(t, e, "BNEXT", "2026-11-24", 1000)
	payoutRun(t, e, "2026-11-23")
	f.statementFile = "stmt-20261124.sta"
	if _, err := e.bank.Ingest(ctx, f.statementFile, strings.NewReader(payoutMT940(1, "2026-11-24", 0,
		payoutCredit{7500, "Payout BPAID"}))); err != nil {
		t.Fatal(err)
	}
	payoutRun(t, e, "2026-11-24")
	for _, x := range []struct {
		batch string
		into  *payout.Payout
	}{{"BPAID", &f.paid}, {"BLOST", &f.lost}, {"BNEXT", &f.awaiting}} {
		page, err := e.payouts.List(ctx, payout.Filter{BatchID: x.batch})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("payout of %s: %v %+v", x.batch, err, page.Items)
		}
		*x.into = page.Items[0]
	}
	if f.paid.Status != payout.StatusReceived || f.lost.Status != payout.StatusNotReceived ||
		f.awaiting.Status != payout.StatusAwaitingStatement {
		t.Fatalf("statuses %s %s %s", f.paid.Status, f.lost.Status, f.awaiting.Status)
	}
	return f
}

// payoutSettle ingests the settlement items and summary of batch id,
// settled on day d: a reserve release of minor EUR cents and the capture
// lines of 25.00 EUR given as "transactionId,originalTransactionId".
func payoutSettle(t *testing.T, e *env, id, d string, minor int64, captures ...string) {
	t.Helper()
	major := func(m int64) string { return fmt.Sprintf("%d.%02d", m/100, m%100) }
	items := "settlementBatchId,customerId,acquirer,transactionType,transactionId,originalTransactionId," +
		"transactionRequestId,paymentTime,settlementTime,transactionAmountValue,transactionCurrency," +
		"settlementAmountValue,settlementCurrency,quoteCurrencyPair,quotePrice,feeAmountValue,feeCurrency\n" +
		id + ",2188120000000000,,RESERVE_RELEASE,rel_" + id + ",,,," + d + " 02:00:00,,," + major(minor) + ",EUR,,,,\n"
	for _, c := range captures {
		items += id + ",2188120000000000,,CAPTURE," + c + ",,," + d + " 02:00:00,25.00,EUR,25.00,EUR,,,,\n"
	}
	total := minor + 2500*int64(len(captures))
	summary := "settlementBatchId,customerId,acquirer,summaryType,count,settlementAmountValue,settlementCurrency\n" +
		id + ",2188120000000000,,TOTAL," + fmt.Sprint(1+len(captures)) + "," + major(total) + ",EUR\n<END>\n"
	for name, content := range map[string]string{"settlementItems_EUR_" + id + "_000.csv": items + "<END>\n",
		"settlementSummary_EUR_" + id + "_000.csv": summary} {
		if f, err := e.recon.Ingest(context.Background(), name, strings.NewReader(content)); err != nil || f.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %v %+v", name, err, f)
		}
	}
}

// payoutRun reconciles day d and fails unless the run succeeds.
func payoutRun(t *testing.T, e *env, d string) recon.Run {
	t.Helper()
	day, _ := time.Parse(time.DateOnly, d)
	run, err := e.recon.Run(context.Background(), recon.RunRequest{Date: day}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("run %s: %v %s", d, err, run.Error)
	}
	return run
}

// payoutCredit is a credit of a test statement, from APO.
type payoutCredit struct {
	minor int64
	remi  string
}

// payoutMT940 is an MT940 statement number seq of the test account for
// day d, opening at open EUR cents, holding the credits.
func payoutMT940(seq int, d string, open int64, cs ...payoutCredit) string {
	day, _ := time.Parse(time.DateOnly, d)
	comma := func(m int64) string { return fmt.Sprintf("%d,%02d", m/100, m%100) }
	var b strings.Builder
	fmt.Fprintf(&b, ":20:STMT%d\r\n:25:%s\r\n:28C:%05d/001\r\n", seq, payoutAccountNumber, seq)
	fmt.Fprintf(&b, ":60F:C%sEUR%s\r\n", day.AddDate(0, 0, -1).Format("060102"), comma(open))
	for i, c := range cs {
		fmt.Fprintf(&b, ":61:%s%sC%sNTRFNONREF//BANK%d-%d\r\n", day.Format("060102"), day.Format("0102"), comma(c.minor), seq, i)
		fmt.Fprintf(&b, ":86:/EREF/NOTPROVIDED/REMI/USTD//%s/NAME/APO Payments Europe\r\n", c.remi)
		open += c.minor
	}
	fmt.Fprintf(&b, ":62F:C%sEUR%s\r\n-\r\n", day.Format("060102"), comma(open))
	return b.String()
}

// ---- tests ----

// TestPayoutPagesInBrowser: a finance user opens Payouts, filters them by
// status, opens the one paid and sees its settlement lines (the capture
// linked to its payment) and the bank credit that paid it with its
// statement file and booking date; the payment links back to its payouts;
// the unpaid payout's discrepancy links to its row on the reconciliation
// page. Each page passes the accessibility check.
func TestPayoutPagesInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	f := payoutDays(t, e)
	ctx := e.browser(t)
	e.browserLogin(t, ctx, fin)

	run(t, ctx, "payouts", chromedp.Navigate(e.srv.URL+"/console/payouts"), chromedp.WaitVisible(chromedp.CSS("table.payouts")))
	if n := read(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("table.payouts tbody tr").length`)); n != 3 {
		t.Fatalf("%d payouts listed, want 3", n)
	}
	row := read(t, ctx, "BPAID's row", chromedp.Text(chromedp.ID(fmt.Sprintf("payout-%d", f.paid.ID))))
	mustContain(t, "BPAID's row", row, "BPAID", "2026-11-23", "2026-11-24", "RECEIVED", "75.00 EUR")
	checkAccessibility(t, ctx, "payouts")
	screenshot(t, ctx, "payouts")

	run(t, ctx, "filter by status",
		chromedp.SetValue(chromedp.ID("f-status"), "RECEIVED"),
		chromedp.Click(chromedp.CSS("#payout-filters button[type=submit]")),
	)
	// The page reloads with the filter in its URL and the status chosen.
	run(t, ctx, "the filtered list", chromedp.WaitReady(chromedp.CSS(`#f-status option[value="RECEIVED"][selected]`)))
	if q := read(t, ctx, "url", chromedp.Evaluate[string](`location.search`)); !strings.Contains(q, "status=RECEIVED") {
		t.Fatalf("the filtered list's URL %q", q)
	}
	if n := read(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("table.payouts tbody tr").length`)); n != 1 {
		t.Fatalf("%d payouts RECEIVED, want 1", n)
	}
	link := fmt.Sprintf(`a[href="/console/payouts/%d"]`, f.paid.ID)
	run(t, ctx, "open the payout", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.CSS("table.lines")))
	if st := read(t, ctx, "status", chromedp.Text(chromedp.ID("payout-status"))); st != "RECEIVED" {
		t.Fatalf("payout status %q", st)
	}
	payLink := `table.lines a[href="/console/payments/` + f.payment.ID + `"]`
	if n := read(t, ctx, "payment link", chromedp.Evaluate[int](`document.querySelectorAll('`+payLink+`').length`)); n != 1 {
		t.Fatalf("the capture line links its payment %d times, want once", n)
	}
	credits := read(t, ctx, "credits", chromedp.Text(chromedp.CSS("table.credits tbody")))
	mustContain(t, "the credit that paid it", credits, f.statementFile, "2026-11-24", "75.00 EUR", "Payout BPAID")
	lines := read(t, ctx, "lines", chromedp.Text(chromedp.CSS("table.lines tbody")))
	mustContain(t, "the settlement lines", lines, "CAPTURE", "25.00 EUR", "RESERVE_RELEASE", "50.00 EUR", "rel_BPAID")
	checkAccessibility(t, ctx, "payout")
	screenshot(t, ctx, "payout")

	run(t, ctx, "open the payment", chromedp.Click(chromedp.CSS(payLink)), chromedp.WaitVisible(chromedp.ID("payment-payouts")))
	run(t, ctx, "back to its payouts", chromedp.Click(chromedp.ID("payment-payouts")), chromedp.WaitVisible(chromedp.CSS(link)))
	if n := read(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("table.payouts tbody tr").length`)); n != 1 {
		t.Fatalf("the payment's payouts: %d rows, want BPAID's", n)
	}

	run(t, ctx, "the unpaid payout", chromedp.Navigate(fmt.Sprintf("%s/console/payouts/%d", e.srv.URL, f.lost.ID)),
		chromedp.WaitVisible(chromedp.CSS("table.findings")))
	mustContain(t, "the unpaid payout", read(t, ctx, "findings", chromedp.Text(chromedp.CSS("table.findings"))),
		"Payout not received", "2026-11-24", "40.00 EUR", "OPEN")
	checkAccessibility(t, ctx, "payout not received")
	run(t, ctx, "its discrepancy", chromedp.Click(chromedp.CSS("table.findings tbody a")),
		chromedp.WaitVisible(chromedp.CSS("table.discrepancies")))
	hash := read(t, ctx, "anchor", chromedp.Evaluate[string](`location.hash`))
	if n := read(t, ctx, "the row", chromedp.Evaluate[int](`document.querySelectorAll("`+hash+`").length`)); hash == "" || n != 1 {
		t.Fatalf("the discrepancy link lands on %q, found %d times", hash, n)
	}
	mustContain(t, "its row", read(t, ctx, "row", chromedp.Text(chromedp.CSS(hash))), "Payout not received", "BLOST")
}

// TestPayoutListFiltersAndRoles: the list's filters in the URL (status,
// currency, due dates, payment id) and their refusals, the pager, and the
// role rule: finance and admin read payouts, a viewer gets 403 and no
// link to them.
func TestPayoutListFiltersAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	fc, vc := e.client(t), e.client(t)
	e.login(t, fc, fin)
	e.login(t, vc, viewer)

	_, empty := e.get(t, fc, "/console/payouts")
	mustContain(t, "the empty list", empty, "No payout yet.", `href="/console/recon"`, `href="/console/bank"`)
	f := payoutDays(t, e)
	audits := len(e.reconAudits(t, ""))
	rows := func(body string) []string {
		var out []string
		for _, p := range []payout.Payout{f.paid, f.lost, f.awaiting} {
			if strings.Contains(body, fmt.Sprintf(`id="payout-%d"`, p.ID)) {
				out = append(out, p.BatchID)
			}
		}
		return out
	}
	for q, want := range map[string][]string{
		"":                                     {"BPAID", "BLOST", "BNEXT"},
		"?status=NOT_RECEIVED":                 {"BLOST"},
		"?status=AWAITING_STATEMENT":           {"BNEXT"},
		"?currency=eur&due_from=2026-11-25":    {"BNEXT"},
		"?due_to=2026-11-24":                   {"BPAID", "BLOST"},
		"?payment_id=" + f.payment.ID:          {"BPAID"},
		"?batch_id=BLOST":                      {"BLOST"},
		"?currency=USD":                        nil,
		"?status=RECEIVED&due_from=2026-11-25": nil,
	} {
		resp, body := e.get(t, fc, "/console/payouts"+q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", q, resp.StatusCode)
		}
		if got := rows(body); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("payouts%s: %v, want %v", q, got, want)
		}
		if want == nil {
			mustContain(t, "a filtered empty list", body, "No payout matches these filters.")
		}
	}
	for q, msg := range map[string]string{"?status=LOST": "status", "?due_from=24.11.2026": "due_from",
		"?payment_id=nope": "payment_id", "?currency=EURO": "currency"} {
		resp, body := e.get(t, fc, "/console/payouts"+q)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "<code>"+msg+"</code>") ||
			!strings.Contains(body, `id="payout-filters"`) {
			t.Errorf("payouts%s: %d, want 422 naming %s in the page", q, resp.StatusCode, msg)
		}
	}
	// Two a page: the pager keeps the filters.
	page, err := e.payouts.List(context.Background(), payout.Filter{Limit: 2})
	if err != nil || page.Next == "" {
		t.Fatalf("a page of two: %v %+v", err, page)
	}
	resp, body := e.get(t, fc, "/console/payouts?currency=EUR&cursor="+page.Next)
	if resp.StatusCode != http.StatusOK || fmt.Sprint(rows(body)) != "[BNEXT]" {
		t.Errorf("the page after the first two: %d %v", resp.StatusCode, rows(body))
	}

	_, home := e.get(t, vc, "/console/today")
	if strings.Contains(home, `href="/console/payouts"`) || !strings.Contains(home, `href="/console/bank"`) {
		t.Error("a viewer's navigation: want Bank and no Payouts")
	}
	for _, p := range []string{"/console/payouts", fmt.Sprintf("/console/payouts/%d", f.paid.ID)} {
		if resp, _ := e.get(t, vc, p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	_, payPage := e.get(t, vc, "/console/payments/"+f.payment.ID)
	if strings.Contains(payPage, `id="payment-payouts"`) {
		t.Error("a viewer's payment page links payouts it may not read")
	}
	for _, p := range []string{"/console/payouts/999999", "/console/payouts/x"} {
		if resp, _ := e.get(t, fc, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if n := len(e.reconAudits(t, "")); n != audits {
		t.Errorf("reading payouts wrote %d audit rows", n-audits)
	}
}

// payoutTempFile writes content to a file named name for the browser to
// upload.
func payoutTempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
