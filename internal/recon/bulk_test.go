package recon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// bulkFixture is two periods of discrepancies as of 10 March 2024: the
// 1st (its first run superseded by a second) and the 5th.
type bulkFixture struct {
	ctx                           context.Context
	svc                           *Service
	db                            *sqlx.DB
	b                             *book
	now                           time.Time
	oldA1, a1, a2, a3, m1, a4, a5 int64
}

func newBulkFixture(t *testing.T) *bulkFixture {
	t.Helper()
	svc, db, _ := newTestService(t)
	f := &bulkFixture{ctx: context.Background(), svc: svc, db: db, b: &book{t: t, db: db},
		now: time.Date(2024, 3, 10, 9, 30, 0, 0, time.UTC)}
	svc.now = func() time.Time { return f.now }
	eur := func(m int64) side { return side{m, "EUR"} }
	old := f.b.run("2024-03-01", RunSucceeded, "test")
	f.oldA1 = f.b.add(old, AmountMismatch, StatusOpen, "a1", eur(1000), eur(900))
	first := f.b.run("2024-03-01", RunSucceeded, "test")
	f.a1 = f.b.add(first, AmountMismatch, StatusOpen, "a1", eur(1000), eur(900))
	f.a2 = f.b.add(first, AmountMismatch, StatusOpen, "", eur(-2500), eur(-2400)) // size 2500
	f.a3 = f.b.add(first, AmountMismatch, StatusResolved, "", eur(50), eur(40))
	f.m1 = f.b.add(first, MissingInReport, StatusOpen, "", side{}, side{300, "USD"})
	later := f.b.run("2024-03-05", RunSucceeded, "test")
	f.a4 = f.b.add(later, AmountMismatch, StatusOpen, "", eur(80), eur(70))
	f.a5 = f.b.add(later, AmountMismatch, StatusOpen, "", side{80, "JPY"}, side{70, "JPY"})
	return f
}

func (f *bulkFixture) get(t *testing.T, id int64) Discrepancy {
	t.Helper()
	d, err := NewStore(f.db).Discrepancy(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// untouched checks that nobody changed the discrepancies since the fixture.
func (f *bulkFixture) untouched(t *testing.T, what string, ids ...int64) {
	t.Helper()
	want := map[int64]Status{f.oldA1: StatusOpen, f.a1: StatusOpen, f.a2: StatusOpen, f.a3: StatusResolved,
		f.m1: StatusOpen, f.a4: StatusOpen, f.a5: StatusOpen}
	if len(ids) == 0 {
		ids = slices.Collect(maps.Keys(want))
	}
	for _, id := range ids {
		if d := f.get(t, id); d.Status != want[id] || d.Actor != "" {
			t.Errorf("%s: discrepancy %d is %s by %q, want %s untouched", what, id, d.Status, d.Actor, want[id])
		}
	}
}

func i64(n int64) *int64 { return &n }

// TestBulkRefusals: a bad request, an empty or unclear selection, unknown
// ids, a bad filter (named at filter.<field>) or a missing note change
// nothing.
func TestBulkRefusals(t *testing.T) {
	t.Parallel()
	f := newBulkFixture(t)
	var invalid *InvalidError
	for _, c := range []struct {
		sel         Selection
		status      Status
		note, field string
	}{
		{Selection{IDs: []int64{f.a1}}, StatusIgnored, "   ", "note"},
		{Selection{IDs: []int64{f.a1}}, "DONE", "why", "status"},
		{Selection{}, StatusIgnored, "why", "filter"},
		{Selection{IDs: []int64{f.a1}, Filter: CurrentFilter{Kind: AmountMismatch}}, StatusIgnored, "why", "ids"},
		{Selection{IDs: []int64{f.a1, 1 << 40}}, StatusIgnored, "why", "ids"},
		{Selection{IDs: make([]int64, MaxBulk+1)}, StatusIgnored, "why", "ids"},
		{Selection{Filter: CurrentFilter{Kind: AmountMismatch, Limit: 10}}, StatusIgnored, "why", "filter"},
		{Selection{Filter: CurrentFilter{Currency: "eur"}}, StatusIgnored, "why", "filter.currency"},
		{Selection{Filter: CurrentFilter{MaxMinor: i64(100)}}, StatusIgnored, "why", "filter.max_amount"},
		{Selection{Filter: CurrentFilter{Currency: "EUR", MinMinor: i64(5), MaxMinor: i64(4)}}, StatusIgnored, "why", "filter.max_amount"},
		{Selection{Filter: CurrentFilter{OlderThanDays: -1}}, StatusIgnored, "why", "filter.older_than_days"},
	} {
		_, err := f.svc.UpdateDiscrepancies(f.ctx, c.sel, c.status, c.note, "alice")
		if !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("%+v %s %q: %v, want invalid %s", c.sel.Filter, c.status, c.note, err, c.field)
		}
	}
	f.untouched(t, "refused")
}

// TestBulkAllOrNothing: one discrepancy that may not change as
// UpdateDiscrepancy would refuse it (closed already, a superseded run's
// row, its period being run) means none changes.
func TestBulkAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newBulkFixture(t)
	var conflict *ConflictError

	// Older than 7 days on the 10th: the periods up to the 2nd, where a3 is
	// RESOLVED already.
	old7 := Selection{Filter: CurrentFilter{Kind: AmountMismatch, OlderThanDays: 7}}
	p, err := f.svc.PreviewBulk(f.ctx, old7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkPreview{Count: 3, Totals: []CurrencyTotal{{"EUR", 3, 1000 - 2500 + 50, false}}}); !equalPreview(p, want) {
		t.Fatalf("preview older than 7 days %+v, want %+v", p, want)
	}
	_, err = f.svc.UpdateDiscrepancies(f.ctx, old7, StatusResolved, "booked", "alice")
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "1 of 3 discrepancies cannot change") ||
		!strings.Contains(err.Error(), fmt.Sprintf("discrepancy %d is RESOLVED already", f.a3)) {
		t.Fatalf("resolve with one resolved: %v", err)
	}
	f.untouched(t, "one closed already")

	_, err = f.svc.UpdateDiscrepancies(f.ctx, Selection{IDs: []int64{f.a4, f.oldA1}}, StatusIgnored, "dup", "alice")
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), fmt.Sprintf("change discrepancy %d instead", f.a1)) {
		t.Fatalf("superseded row: %v", err)
	}
	f.untouched(t, "superseded")

	tx, err := f.db.BeginTxx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStore(tx).LockPeriod(f.ctx, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.UpdateDiscrepancies(f.ctx, Selection{IDs: []int64{f.a1, f.a4}}, StatusIgnored, "x", "alice")
	if rbErr := tx.Rollback(); rbErr != nil {
		t.Fatal(rbErr)
	}
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "run of period 2024-03-05 is in progress") {
		t.Fatalf("during a run: %v", err)
	}
	f.untouched(t, "during a run")
}

// TestBulkPreviewIsWhatChanges: EUR amounts of size up to 10.00 across
// periods: the preview, the list of the same filter and the change agree,
// and each row records the change as UpdateDiscrepancy does; reopening by
// ids (repeated ones once) clears the resolution.
func TestBulkPreviewIsWhatChanges(t *testing.T) {
	t.Parallel()
	f := newBulkFixture(t)
	small := Selection{Filter: CurrentFilter{Kind: AmountMismatch, Status: StatusOpen, Currency: "EUR", MaxMinor: i64(1000)}}
	p, err := f.svc.PreviewBulk(f.ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkPreview{Count: 2, Totals: []CurrencyTotal{{"EUR", 2, 1080, false}}}); !equalPreview(p, want) {
		t.Fatalf("preview %+v, want %+v", p, want)
	}
	page, err := f.svc.CurrentDiscrepancies(f.ctx, small.Filter)
	if err != nil || len(page.Items) != p.Count {
		t.Fatalf("the list of the same filter: %d items, %v", len(page.Items), err)
	}
	res, err := f.svc.UpdateDiscrepancies(f.ctx, small, StatusIgnored, "  below the write-off threshold  ", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !equalPreview(res.BulkPreview, p) || !slices.Equal(res.IDs, []int64{f.a1, f.a4}) {
		t.Fatalf("result %+v, want the preview %+v over %d, %d", res, p, f.a1, f.a4)
	}
	for _, id := range res.IDs {
		d := f.get(t, id)
		if d.Status != StatusIgnored || d.Note != "below the write-off threshold" || d.Actor != "alice" ||
			d.ResolvedAt == nil || !d.ResolvedAt.Equal(f.now) {
			t.Errorf("changed %+v", d)
		}
	}
	f.untouched(t, "outside the selection", f.oldA1, f.a2, f.a3, f.m1, f.a5)

	res, err = f.svc.UpdateDiscrepancies(f.ctx, Selection{IDs: []int64{f.a4, f.a1, f.a4}}, StatusOpen, "the write-off was refused", "bob")
	if err != nil || res.Count != 2 {
		t.Fatalf("reopen: %+v %v", res, err)
	}
	if d := f.get(t, f.a1); d.Status != StatusOpen || d.Actor != "bob" || d.ResolvedAt != nil {
		t.Errorf("reopened %+v", d)
	}
}

// TestBulkBound: MaxBulk discrepancies change at once; a selection of one
// more is refused, in the preview as in the change.
func TestBulkBound(t *testing.T) {
	t.Parallel()
	f := newBulkFixture(t)
	bulk := f.b.run("2024-03-06", RunSucceeded, "test")
	if _, err := f.db.Exec(`INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, report_amount_minor,
		report_currency, created_at) SELECT $1, 'MISSING_IN_LEDGER', 'g' || g, 'h', g, 'USD', now()
		FROM generate_series(1, $2) AS g`, bulk, MaxBulk); err != nil {
		t.Fatal(err)
	}
	many := Selection{Filter: CurrentFilter{RunID: bulk}}
	start := time.Now()
	res, err := f.svc.UpdateDiscrepancies(f.ctx, many, StatusIgnored, "test data", "alice")
	if err != nil || res.Count != MaxBulk || res.Totals[0].AmountMinor != MaxBulk*(MaxBulk+1)/2 {
		t.Fatalf("%d at once: %+v %v", MaxBulk, res.BulkPreview, err)
	}
	t.Logf("%d discrepancies changed in %v", MaxBulk, time.Since(start).Round(time.Millisecond))
	f.b.add(bulk, MissingInLedger, StatusOpen, "", side{1, "USD"}, side{})
	var invalid *InvalidError
	if _, err := f.svc.PreviewBulk(f.ctx, many); !errors.As(err, &invalid) || invalid.Field != "filter" {
		t.Fatalf("preview of %d + 1: %v, want invalid", MaxBulk, err)
	}
	if _, err := f.svc.UpdateDiscrepancies(f.ctx, many, StatusOpen, "x", "alice"); !errors.As(err, &invalid) || invalid.Field != "filter" {
		t.Fatalf("change of %d + 1: %v, want invalid", MaxBulk, err)
	}
}

func equalPreview(a, b BulkPreview) bool {
	return a.Count == b.Count && slices.Equal(a.Totals, b.Totals)
}
