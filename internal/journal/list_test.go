package journal

import (
	"context"
	"testing"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// TestListReads covers what the console's pages read: a list in one
// currency, each journal's stored totals, and the journals each period
// holds.
func TestListReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	run := reconcile(t, db, dayFiles("20261201"))
	if _, err := svc.BuildRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}

	all, err := svc.List(ctx, Filter{From: date("2026-12-01"), To: date("2026-12-31")})
	if err != nil || len(all.Items) != 2 {
		t.Fatalf("list of December: %+v %v", all, err)
	}
	eur, err := svc.List(ctx, Filter{Currency: "EUR"})
	if err != nil || len(eur.Items) != 1 || eur.Items[0].BatchID != "B-EUR-1" {
		t.Fatalf("list in EUR: %+v %v", eur, err)
	}
	if none, err := svc.List(ctx, Filter{Currency: "JPY"}); err != nil || len(none.Items) != 0 {
		t.Errorf("list in JPY: %+v %v", none, err)
	}
	for _, j := range all.Items {
		full, err := svc.Get(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		d, c, _ := full.Totals()
		if j.Debits != d || j.Credits != c || full.Debits != d || full.Credits != c || d == 0 {
			t.Errorf("journal %d: list %d/%d, get %d/%d, lines %d/%d", j.ID, j.Debits, j.Credits, full.Debits,
				full.Credits, d, c)
		}
	}

	if _, err := svc.ClosePeriod(ctx, date("2026-10-01"), "fin"); err != nil {
		t.Fatal(err)
	}
	ps, err := svc.Periods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, p := range ps {
		got[p.Month.Format("2006-01")] = p.Journals
	}
	if len(got) != 2 || got["2026-12"] != 2 || got["2026-10"] != 0 {
		t.Errorf("journals per period: %v", got)
	}
}
