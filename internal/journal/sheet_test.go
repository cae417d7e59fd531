package journal

import (
	"context"
	"testing"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// TestJournalSheet: the workbook's Journal sheet holds every line of the
// day's journals, debits equal to credits per journal, and a row naming the
// finding of a batch that could not be journaled.
func TestJournalSheet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	files := dayFiles("20261201")
	files[3].content = summary("B-EUR-1", "EUR", 3, "72.50")
	run := reconcile(t, db, files)
	if _, err := svc.BuildRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	sh := svc.Sheet()
	if err := sh.Rows(ctx, run, func(r []any) error {
		if len(r) != len(sh.Columns) {
			t.Fatalf("row %v for %d columns", r, len(sh.Columns))
		}
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	balance := map[int64]int64{}
	var payout, finding bool
	for _, r := range rows {
		if r[1] == nil { // a finding
			finding = r[2] == "B-EUR-1" && r[4] == string(RollForwardMismatch) && r[8] != ""
			continue
		}
		id := r[1].(int64)
		if r[2] != "B-USD-1" || r[3] != "USD" {
			t.Errorf("line of another batch: %v", r)
		}
		if d, ok := r[5].(money.Money); ok {
			balance[id] += d.Minor
		}
		if c, ok := r[6].(money.Money); ok {
			balance[id] -= c.Minor
		}
		payout = payout || r[4] == string(PayoutClearing)
	}
	if len(balance) != 1 || !payout || !finding {
		t.Fatalf("rows %v", rows)
	}
	for id, b := range balance {
		if b != 0 {
			t.Errorf("journal %d is off by %d", id, b)
		}
	}
}
