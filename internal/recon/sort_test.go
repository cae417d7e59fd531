package recon

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

// TestCurrentDiscrepanciesSorted pages 25 current discrepancies holding
// only 3 distinct amounts (one of them none) and 3 kinds, 10 a page, in
// every order both ways: the pages put together are every one once, in
// (key, id) order, and a superseded run's are never listed.
func TestCurrentDiscrepanciesSorted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	b := &book{t: t, db: db}
	old := b.run("2024-05-01", RunSucceeded, "alice")
	b.add(old, AmountMismatch, StatusOpen, "", side{999, "EUR"}, side{})
	runs := []int64{b.run("2024-05-01", RunSucceeded, NightlyActor), b.run("2024-05-02", RunSucceeded, NightlyActor)}
	amounts := []side{{500, "EUR"}, {-200, "USD"}, {}}
	kinds := []Kind{StatusMismatch, AmountMismatch, FXMismatch} // first letters differ: any collation agrees
	type item struct {
		id     int64
		amount int64
		kind   Kind
	}
	var all []item
	for i := range 25 {
		a, k := amounts[i*7%3], kinds[i*5%3]
		id := b.add(runs[i%2], k, StatusOpen, "", a, side{})
		amount := a.minor
		if a.ccy == "" {
			amount = math.MinInt64
		}
		all = append(all, item{id, amount, k})
	}
	keys := map[string]func(a, b item) int{
		SortAge:    func(a, b item) int { return -cmp.Compare(a.id, b.id) }, // a larger id is younger
		SortAmount: func(a, b item) int { return cmp.Compare(a.amount, b.amount) },
		SortKind:   func(a, b item) int { return cmp.Compare(a.kind, b.kind) },
	}
	for _, sort := range Sorts {
		for _, dir := range []string{"asc", "desc", ""} {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b item) int {
				c := keys[sort](a, b)
				if c == 0 {
					c = cmp.Compare(a.id, b.id)
				}
				if dir == "desc" || dir == "" && DefaultDir(sort) == "desc" {
					return -c
				}
				return c
			})
			var wantIDs, got []int64
			for _, w := range want {
				wantIDs = append(wantIDs, w.id)
			}
			f := CurrentFilter{Sort: sort, Dir: dir, Limit: 10}
			for pages := 1; ; pages++ {
				page, err := svc.CurrentDiscrepancies(ctx, f)
				if err != nil {
					t.Fatalf("%s %s: %v", sort, dir, err)
				}
				for _, d := range page.Items {
					got = append(got, d.ID)
				}
				if page.Next == "" {
					if pages != 3 {
						t.Fatalf("%s %s: %d pages, want 3", sort, dir, pages)
					}
					break
				}
				f.Cursor = page.Next
			}
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("%s %s: pages listed\n%v\nwant\n%v", sort, dir, got, wantIDs)
			}
		}
	}
	// The default order is id order, as before lists could be sorted.
	def, err := svc.CurrentDiscrepancies(ctx, CurrentFilter{Limit: 30})
	if err != nil || len(def.Items) != 25 || !slices.IsSortedFunc(def.Items, func(a, b Discrepancy) int { return cmp.Compare(a.ID, b.ID) }) {
		t.Fatalf("default order: %d items (%v), want 25 in id order", len(def.Items), err)
	}
	var ie *InvalidError
	for field, f := range map[string]CurrentFilter{
		"sort":   {Sort: "created"},
		"dir":    {Sort: SortKind, Dir: "up"},
		"cursor": {Sort: SortAmount, Cursor: "bm90LWEtY3Vyc29y"},
	} {
		if _, err := svc.CurrentDiscrepancies(ctx, f); !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%+v: %v, want an invalid %s", f, err, field)
		}
	}
}
