package payments_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// TestListSortedPagesWithTies lists 25 payments that hold only 3 distinct
// amounts, statuses and creation times, 10 a page, in every order both
// ways: the pages put together are every payment once, in (key, id)
// order, and Export reads them in that same order.
func TestListSortedPagesWithTies(t *testing.T) {
	t.Parallel()
	svc, db := newSearchService(t)
	ctx := context.Background()
	statuses := []payments.Status{payments.StatusCaptured, payments.StatusAuthorized, payments.StatusFailed}
	var all []payments.Payment
	for i := range 25 {
		all = append(all, mustInsert(t, db, payments.Payment{
			Amount:    money.Money{Minor: int64(500 * (1 + i*7%3)), Currency: []string{"USD", "EUR"}[i%2]},
			Status:    statuses[i*5%3],
			CreatedAt: base.Add(time.Duration(i%3) * time.Minute),
		}))
	}
	mustInsert(t, db, payments.Payment{ReferenceOrderID: "not-listed"}) // the filter leaves it out
	keys := map[string]func(a, b payments.Payment) int{
		payments.SortCreated: func(a, b payments.Payment) int { return a.CreatedAt.Compare(b.CreatedAt) },
		payments.SortAmount:  func(a, b payments.Payment) int { return cmp.Compare(a.Amount.Minor, b.Amount.Minor) },
		payments.SortStatus:  func(a, b payments.Payment) int { return cmp.Compare(a.Status, b.Status) },
	}
	for _, sort := range payments.Sorts {
		for _, dir := range []string{"asc", "desc", ""} {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b payments.Payment) int {
				c := cmp.Or(keys[sort](a, b), cmp.Compare(a.ID, b.ID))
				if dir == "desc" || dir == "" && payments.DefaultDir(sort) == "desc" {
					return -c
				}
				return c
			})
			f := payments.Filter{Sort: sort, Dir: dir, OrderIDContains: "order-", Limit: 10}
			var got []payments.Payment
			for pages := 1; ; pages++ {
				page, err := svc.List(ctx, f)
				if err != nil {
					t.Fatalf("%s %s: %v", sort, dir, err)
				}
				got = append(got, page.Items...)
				if page.Next == "" {
					if pages != 3 {
						t.Fatalf("%s %s: %d pages, want 3", sort, dir, pages)
					}
					break
				}
				f.Cursor = page.Next
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("%s %s: pages listed\n%v\nwant\n%v", sort, dir, ids(got), ids(want))
			}
			var exported []payments.Payment
			err := svc.Export(ctx, payments.Filter{Sort: sort, Dir: dir, OrderIDContains: "order-"},
				func(p payments.Payment) error { exported = append(exported, p); return nil })
			if err != nil || !slices.Equal(ids(exported), ids(want)) {
				t.Fatalf("%s %s: export %v (%v), want the list's order", sort, dir, ids(exported), err)
			}
		}
	}
	// The default order is the newest first.
	def, err := svc.List(ctx, payments.Filter{OrderIDContains: "order-", Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	newest, _ := svc.List(ctx, payments.Filter{OrderIDContains: "order-", Sort: payments.SortCreated, Dir: "desc", Limit: 25})
	if !slices.Equal(ids(def.Items), ids(newest.Items)) {
		t.Fatalf("default order %v, want created desc %v", ids(def.Items), ids(newest.Items))
	}
	// A cursor of one order is refused by another, not read as its key.
	byAmount, err := svc.List(ctx, payments.Filter{Sort: payments.SortAmount, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ie *payments.InvalidError
	if _, err := svc.List(ctx, payments.Filter{Cursor: byAmount.Next}); !errors.As(err, &ie) || ie.Field != "cursor" {
		t.Fatalf("an amount cursor in the created order: %v, want an invalid cursor", err)
	}
	// The store refuses an unknown order too, when no service checked it.
	if _, err := payments.NewStore(db).List(ctx, payments.Filter{Sort: "fee"}); !errors.As(err, &ie) || ie.Field != "sort" {
		t.Fatalf("store, unknown sort: %v, want an invalid sort", err)
	}
}
