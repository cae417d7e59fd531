package recon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestNightlyIntakeSteps: Nightly runs its intake steps after ingesting the
// reports and before reconciling; a failing step is in its error (the task
// retries) and the runs still happen.
func TestNightlyIntakeSteps(t *testing.T) {
	t.Parallel()
	svc, db, _ := newTestService(t)
	ctx := context.Background()
	dir := filepath.Join(svc.cfg.ReportsDir, testCustomer, "20240307")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	items := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,unknown,1.00,USD\n<END>\n"
	if err := os.WriteFile(filepath.Join(dir, "transactionItems_20240307_001.csv"), []byte(items), 0o600); err != nil {
		t.Fatal(err)
	}
	var files, runs []int
	count := func(q string) int {
		var n int
		if err := db.GetContext(ctx, &n, q); err != nil {
			t.Fatal(err)
		}
		return n
	}
	svc.AddIntake(func(context.Context) error {
		files = append(files, count(`SELECT count(*) FROM report_files`))
		runs = append(runs, count(`SELECT count(*) FROM recon_runs`))
		return nil
	})
	broken := errors.New("statement drop unreadable")
	svc.AddIntake(func(context.Context) error { return broken })

	res, err := svc.Nightly(ctx, fri)
	if !errors.Is(err, broken) {
		t.Fatalf("nightly error %v, want the failing step's", err)
	}
	if len(files) != 1 || files[0] != 1 || runs[0] != 0 {
		t.Errorf("intake saw %v report files and %v runs; want the reports ingested and no run yet", files, runs)
	}
	if len(res.Runs) != 1 || res.Runs[0].Status != RunSucceeded {
		t.Fatalf("runs after a failing intake step: %+v", res.Runs)
	}
}
