package recon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBulkUpdate: a bulk change over ids or a filter (kind, currency,
// amount bounds, age) previews exactly what it then changes, recording
// each change as UpdateDiscrepancy does; the note is mandatory; one
// discrepancy that may not change (closed already, superseded, its period
// being run) means none changes; the size is bounded.
func TestBulkUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	now := time.Date(2024, 3, 10, 9, 30, 0, 0, time.UTC)
	svc.now = func() time.Time { return now }
	b := &book{t: t, db: db}
	eur := func(m int64) side { return side{m, "EUR"} }
	old := b.run("2024-03-01", RunSucceeded, "test")
	oldA1 := b.add(old, AmountMismatch, StatusOpen, "a1", eur(1000), eur(900))
	first := b.run("2024-03-01", RunSucceeded, "test")
	a1 := b.add(first, AmountMismatch, StatusOpen, "a1", eur(1000), eur(900))
	a2 := b.add(first, AmountMismatch, StatusOpen, "", eur(-2500), eur(-2400)) // size 2500
	a3 := b.add(first, AmountMismatch, StatusResolved, "", eur(50), eur(40))
	m1 := b.add(first, MissingInReport, StatusOpen, "", side{}, side{300, "USD"})
	later := b.run("2024-03-05", RunSucceeded, "test")
	a4 := b.add(later, AmountMismatch, StatusOpen, "", eur(80), eur(70))
	a5 := b.add(later, AmountMismatch, StatusOpen, "", side{80, "JPY"}, side{70, "JPY"})

	status := func(id int64) Discrepancy {
		t.Helper()
		d, err := NewStore(db).Discrepancy(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	unchanged := func(what string, want map[int64]Status) {
		t.Helper()
		for id, st := range want {
			if d := status(id); d.Status != st || d.Actor != "" {
				t.Errorf("%s: discrepancy %d is %s by %q, want %s untouched", what, id, d.Status, d.Actor, st)
			}
		}
	}
	before := map[int64]Status{oldA1: StatusOpen, a1: StatusOpen, a2: StatusOpen, a3: StatusResolved, m1: StatusOpen,
		a4: StatusOpen, a5: StatusOpen}
	i64 := func(n int64) *int64 { return &n }

	// Refused requests change nothing.
	var invalid *InvalidError
	for _, c := range []struct {
		sel         Selection
		status      Status
		note, field string
	}{
		{Selection{IDs: []int64{a1}}, StatusIgnored, "   ", "note"},
		{Selection{IDs: []int64{a1}}, "DONE", "why", "status"},
		{Selection{}, StatusIgnored, "why", "filter"},
		{Selection{IDs: []int64{a1}, Filter: CurrentFilter{Kind: AmountMismatch}}, StatusIgnored, "why", "ids"},
		{Selection{IDs: []int64{a1, 1 << 40}}, StatusIgnored, "why", "ids"},
		{Selection{IDs: make([]int64, MaxBulk+1)}, StatusIgnored, "why", "ids"},
		{Selection{Filter: CurrentFilter{Kind: AmountMismatch, Limit: 10}}, StatusIgnored, "why", "filter"},
		{Selection{Filter: CurrentFilter{Currency: "eur"}}, StatusIgnored, "why", "filter.currency"},
		{Selection{Filter: CurrentFilter{MaxMinor: i64(100)}}, StatusIgnored, "why", "filter.max_amount"},
		{Selection{Filter: CurrentFilter{Currency: "EUR", MinMinor: i64(5), MaxMinor: i64(4)}}, StatusIgnored, "why", "filter.max_amount"},
		{Selection{Filter: CurrentFilter{OlderThanDays: -1}}, StatusIgnored, "why", "filter.older_than_days"},
	} {
		_, err := svc.UpdateDiscrepancies(ctx, c.sel, c.status, c.note, "alice")
		if !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("%+v %s %q: %v, want invalid %s", c.sel.Filter, c.status, c.note, err, c.field)
		}
	}
	unchanged("refused", before)

	// Older than 7 days on the 10th: the periods up to the 2nd. A3 there is
	// RESOLVED already, so resolving the selection changes nothing at all.
	old7 := Selection{Filter: CurrentFilter{Kind: AmountMismatch, OlderThanDays: 7}}
	p, err := svc.PreviewBulk(ctx, old7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkPreview{Count: 3, Totals: []CurrencyTotal{{"EUR", 3, 1000 - 2500 + 50, false}}}); !equalPreview(p, want) {
		t.Fatalf("preview older than 7 days %+v, want %+v", p, want)
	}
	var conflict *ConflictError
	if _, err := svc.UpdateDiscrepancies(ctx, old7, StatusResolved, "booked", "alice"); !errors.As(err, &conflict) ||
		!strings.Contains(err.Error(), "1 of 3 discrepancies cannot change") ||
		!strings.Contains(err.Error(), fmt.Sprintf("discrepancy %d is RESOLVED already", a3)) {
		t.Fatalf("resolve with one resolved: %v", err)
	}
	unchanged("one closed already", before)

	// Ids naming a superseded row: none changes, and the error names the
	// row to change instead.
	_, err = svc.UpdateDiscrepancies(ctx, Selection{IDs: []int64{a4, oldA1}}, StatusIgnored, "dup", "alice")
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), fmt.Sprintf("change discrepancy %d instead", a1)) {
		t.Fatalf("superseded row: %v", err)
	}
	unchanged("superseded", before)

	// While a run of one period works, nothing of it changes.
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStore(tx).LockPeriod(ctx, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	_, err = svc.UpdateDiscrepancies(ctx, Selection{IDs: []int64{a1, a4}}, StatusIgnored, "x", "alice")
	if rbErr := tx.Rollback(); rbErr != nil {
		t.Fatal(rbErr)
	}
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "run of period 2024-03-05 is in progress") {
		t.Fatalf("during a run: %v", err)
	}
	unchanged("during a run", before)

	// EUR amounts of size up to 10.00, across periods: the preview is what
	// the change changes, recorded on each row.
	small := Selection{Filter: CurrentFilter{Kind: AmountMismatch, Status: StatusOpen, Currency: "EUR", MaxMinor: i64(1000)}}
	p, err = svc.PreviewBulk(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkPreview{Count: 2, Totals: []CurrencyTotal{{"EUR", 2, 1080, false}}}); !equalPreview(p, want) {
		t.Fatalf("preview %+v, want %+v", p, want)
	}
	page, err := svc.CurrentDiscrepancies(ctx, small.Filter)
	if err != nil || len(page.Items) != p.Count {
		t.Fatalf("the list of the same filter: %d items, %v", len(page.Items), err)
	}
	res, err := svc.UpdateDiscrepancies(ctx, small, StatusIgnored, "  below the write-off threshold  ", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !equalPreview(res.BulkPreview, p) || !slices.Equal(res.IDs, []int64{a1, a4}) {
		t.Fatalf("result %+v, want the preview %+v over %d, %d", res, p, a1, a4)
	}
	for _, id := range res.IDs {
		d := status(id)
		if d.Status != StatusIgnored || d.Note != "below the write-off threshold" || d.Actor != "alice" ||
			d.ResolvedAt == nil || !d.ResolvedAt.Equal(now) {
			t.Errorf("changed %+v", d)
		}
	}
	unchanged("outside the selection", map[int64]Status{oldA1: StatusOpen, a2: StatusOpen, m1: StatusOpen, a5: StatusOpen})

	// Reopened by id (repeated ids count once), as one reopens one.
	res, err = svc.UpdateDiscrepancies(ctx, Selection{IDs: []int64{a4, a1, a4}}, StatusOpen, "the write-off was refused", "bob")
	if err != nil || res.Count != 2 {
		t.Fatalf("reopen: %+v %v", res, err)
	}
	if d := status(a1); d.Status != StatusOpen || d.Actor != "bob" || d.ResolvedAt != nil {
		t.Errorf("reopened %+v", d)
	}

	// The bound: MaxBulk discrepancies change at once, one more is refused.
	bulk := b.run("2024-03-06", RunSucceeded, "test")
	if _, err := db.Exec(`INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, report_amount_minor,
		report_currency, created_at) SELECT $1, 'MISSING_IN_LEDGER', 'g' || g, 'h', g, 'USD', now()
		FROM generate_series(1, $2) AS g`, bulk, MaxBulk); err != nil {
		t.Fatal(err)
	}
	many := Selection{Filter: CurrentFilter{RunID: bulk}}
	start := time.Now()
	res, err = svc.UpdateDiscrepancies(ctx, many, StatusIgnored, "test data", "alice")
	if err != nil || res.Count != MaxBulk || res.Totals[0].AmountMinor != MaxBulk*(MaxBulk+1)/2 {
		t.Fatalf("%d at once: %+v %v", MaxBulk, res.BulkPreview, err)
	}
	t.Logf("%d discrepancies changed in %v", MaxBulk, time.Since(start).Round(time.Millisecond))
	b.add(bulk, MissingInLedger, StatusOpen, "", side{1, "USD"}, side{})
	if _, err := svc.PreviewBulk(ctx, many); !errors.As(err, &invalid) || invalid.Field != "filter" {
		t.Fatalf("%d + 1: %v, want invalid", MaxBulk, err)
	}
}

func equalPreview(a, b BulkPreview) bool {
	return a.Count == b.Count && slices.Equal(a.Totals, b.Totals)
}
