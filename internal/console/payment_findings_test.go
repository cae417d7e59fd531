package console

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// TestPaymentReconciliationInBrowser: a payment's page shows what
// reconciliation found about it — its discrepancy, linked to where finance
// works it, with its status — and its settlement lines; a payment settled
// without a break says it was reconciled clean, and one no run has seen
// says it is not reconciled yet.
func TestPaymentReconciliationInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	e.reconReconciled(t, c)
	fresh := e.payCreate(t, payOrder{Order: "ORD-NOT-SETTLED", Minor: 900})

	// The payment of a discrepancy that names one, and a reconciled
	// payment that no discrepancy names.
	var found recon.Discrepancy
	for _, d := range e.reconOpen(t) {
		if d.PaymentID != "" && d.Kind == recon.AmountMismatch {
			found = d
			break
		}
	}
	if found.ID == 0 {
		t.Fatal("the faulty day has no amount mismatch naming a payment")
	}
	page, err := e.pay.List(ctx, payments.Filter{OrderIDContains: "recon-", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var clean string
	for _, p := range page.Items {
		f, err := e.recon.PaymentFindings(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID == found.PaymentID && len(f.Findings) == 0 {
			t.Fatalf("PaymentFindings of %s misses discrepancy %d", p.ID, found.ID)
		}
		if clean == "" && len(f.Findings) == 0 && len(f.Settled) > 0 {
			clean = p.ID
		}
	}
	if clean == "" {
		t.Fatal("no payment of the day was reconciled clean")
	}
	if f, err := e.recon.PaymentFindings(ctx, fresh.ID); err != nil || len(f.Findings)+len(f.Settled) != 0 {
		t.Fatalf("a payment no run saw has findings %+v (%v)", f, err)
	}

	bctx := e.browser(t)
	e.browserLogin(t, bctx, fin)
	run(t, bctx, "payment with a finding", chromedp.Navigate(e.srv.URL+"/console/payments/"+found.PaymentID),
		chromedp.WaitVisible(chromedp.ID("reconciliation")))
	row := read(t, bctx, "finding row", chromedp.Text(chromedp.ID(fmt.Sprintf("finding-%d", found.ID))))
	mustContain(t, "the finding's row", row, "Amount mismatch", "OPEN", found.FileName)
	href := read(t, bctx, "finding link", chromedp.Evaluate[string](
		fmt.Sprintf(`document.querySelector("#finding-%d a").getAttribute("href")`, found.ID)))
	want := fmt.Sprintf("/console/recon/discrepancies?kind=%s&run_id=%d&status=ANY#d%d", found.Kind, found.RunID, found.ID)
	if href != want {
		t.Fatalf("the finding links %q, want %q", href, want)
	}
	checkAccessibility(t, bctx, "payment with a finding")
	screenshot(t, bctx, "payment-reconciliation")

	// The link lands on the finding's row, where finance works it.
	run(t, bctx, "follow the finding", chromedp.Click(chromedp.CSS(fmt.Sprintf("#finding-%d a", found.ID))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("d%d", found.ID))))

	for _, c := range []struct{ id, want string }{{clean, "Reconciled clean"}, {fresh.ID, "Not reconciled yet"}} {
		run(t, bctx, "payment "+c.id, chromedp.Navigate(e.srv.URL+"/console/payments/"+c.id),
			chromedp.WaitVisible(chromedp.ID("reconciliation")))
		if got := read(t, bctx, "empty state", chromedp.Text(chromedp.CSS("#reconciliation p.empty"))); !strings.HasPrefix(got, c.want) {
			t.Errorf("payment %s says %q, want %q", c.id, got, c.want)
		}
		settled := read(t, bctx, "settled rows", chromedp.Evaluate[int](`document.querySelectorAll("table.settled tbody tr").length`))
		if (c.id == clean) != (settled > 0) {
			t.Errorf("payment %s shows %d settlement lines", c.id, settled)
		}
	}
}
