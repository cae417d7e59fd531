package payout

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/recon"
)

// TestPayoutsSheet: the workbook of a run holds the payouts settled on its
// day and those due on it, each with its status, what the bank paid and
// the credit that paid it.
func TestPayoutsSheet(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	e.recon.AddSheet(e.svc.Sheet())
	apo := "APO Payments Europe"
	e.settle(t, "BMON", "2026-12-07", 100000) // due Tue 8
	e.settle(t, "BTUE", "2026-12-08", 20000)  // due Wed 9
	e.reconcile(t, "2026-12-07")
	e.statement(t, "2026-12-08", credit{99800, "", "Payout BMON", apo}) // short 2.00, within tolerance: a bank fee
	run, _ := e.reconcile(t, "2026-12-08")

	path, err := e.recon.Export(context.Background(), run.ID, filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Payouts")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, r := range rows {
		got = append(got, strings.Join(r, "|"))
	}
	want := []string{
		"Batch|Currency|Payout|Settled|Due|Status|Received|Bank fee|Difference|Bank credits",
		"BMON|EUR|1,000.00|2026-12-07|2026-12-08|RECEIVED_WITH_FEE|998.00|2.00|-2.00|2026-12-08 998.00 REFERENCE stmt-1.sta",
		// Past due (the test's today is the 31st) and no statement reaches its day yet.
		"BTUE|EUR|200.00|2026-12-08|2026-12-09|AWAITING_STATEMENT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Payouts sheet:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(f.GetSheetList(), ","), string(recon.PayoutNotReceived)) {
		t.Errorf("no sheet of the payout kinds: %v", f.GetSheetList())
	}
}
