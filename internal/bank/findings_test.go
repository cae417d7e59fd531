package bank

import (
	"context"
	"slices"
	"testing"

	"github.com/payops/payops/internal/bank/statement"
)

// TestBankFindingsOfMany: the findings of several statements at once, as a
// list shows them, are those GetStatement gives each; a statement without
// findings and an unknown id have none.
func TestBankFindingsOfMany(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	f := e.mustIngest(t, "week.sta", mt940(
		mtDay{seq: 1, d: "2026-12-07", open: 10_000, close: 15_000, entries: []int64{5_000}},
		mtDay{seq: 3, d: "2026-12-09", open: 20_000, close: 20_000},
		mtDay{seq: 4, d: "2026-12-10", open: 20_000, close: 25_000, entries: []int64{4_000}},
	))
	var ids []int64
	for _, s := range f.Statements {
		ids = append(ids, s.ID)
	}
	got, err := e.svc.Findings(ctx, append(ids, ids[2]+100))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("findings of %d statements, want 2: %+v", len(got), got)
	}
	if _, ok := got[ids[0]]; ok {
		t.Errorf("the first statement has findings %+v", got[ids[0]])
	}
	if k := kinds(got[ids[1]]); !slices.Equal(k, []statement.Kind{statement.BalanceBreak, statement.DayMissing}) {
		t.Errorf("the second statement's findings %v", k)
	}
	for _, id := range ids[1:] {
		one, err := e.svc.GetStatement(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(kinds(one.Findings), kinds(got[id])) {
			t.Errorf("statement %d: %v read alone, %v in the list", id, kinds(one.Findings), kinds(got[id]))
		}
	}
	if none, err := e.svc.Findings(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("findings of no statement: %v %v", none, err)
	}
}
