package disputes_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestDueWithinAndDeadlineList: the dashboard's figures (due soon in
// [now, now+7d), overdue, expired undefended) each equal the length of the
// list their filter gives, and the deadline order lists soonest first, ties
// by id, disputes without a due time last, page by page.
func TestDueWithinAndDeadlineList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := disputes.NewService(db, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	ids := map[string]string{}
	add := func(name string, status disputes.Status, due *time.Time) {
		t.Helper()
		ids[name] = uuid.NewString()
		if _, _, err := disputes.NewStore(db).Ensure(ctx, disputes.Dispute{ID: ids[name], APODisputeID: "2026" + name,
			Status: status, DefenseDue: due, CreatedAt: now.Add(-time.Duration(len(ids)) * time.Hour), UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	add("overdue", disputes.StatusOpen, at(-time.Hour))
	add("due-now", disputes.StatusOpen, at(0)) // the window's first instant
	add("due-3d", disputes.StatusOpen, at(72*time.Hour))
	add("due-3d-too", disputes.StatusOpen, at(72*time.Hour))
	add("due-7d", disputes.StatusOpen, at(week)) // the instant after the window
	add("due-10d", disputes.StatusOpen, at(10*24*time.Hour))
	add("no-due", disputes.StatusOpen, nil)
	add("no-due-too", disputes.StatusOpen, nil)
	add("expired", disputes.StatusExpiredUndefended, at(-48*time.Hour))
	add("defended", disputes.StatusDefenseSupplied, at(24*time.Hour))
	add("won", disputes.StatusWon, at(48*time.Hour))

	due, err := svc.DueWithin(ctx, now, week)
	if err != nil {
		t.Fatal(err)
	}
	if due != (disputes.Due{Soon: 3, Overdue: 1, Expired: 1}) {
		t.Fatalf("due %+v, want 3 soon, 1 overdue, 1 expired", due)
	}
	var invalid *disputes.InvalidError
	if _, err := svc.DueWithin(ctx, now, -time.Hour); !errors.As(err, &invalid) {
		t.Errorf("negative window: %v, want invalid", err)
	}

	// list pages through f two at a time and names what it listed.
	names := map[string]string{}
	for n, id := range ids {
		names[id] = n
	}
	list := func(f disputes.Filter) []string {
		t.Helper()
		var out []string
		f.Limit = 2
		for {
			page, err := svc.List(ctx, f)
			if err != nil {
				t.Fatalf("list %+v: %v", f, err)
			}
			for _, d := range page.Items {
				out = append(out, names[d.ID])
			}
			if page.Next == "" {
				return out
			}
			f.Cursor = page.Next
		}
	}
	byID := func(a, b string) []string {
		if ids[a] > ids[b] {
			a, b = b, a
		}
		return []string{a, b}
	}
	soon := list(disputes.Filter{DueFrom: now, DueBefore: now.Add(week), Sort: disputes.SortDeadline})
	if want := append([]string{"due-now"}, byID("due-3d", "due-3d-too")...); !slices.Equal(soon, want) {
		t.Errorf("due soon %v, want %v", soon, want)
	}
	if got := list(disputes.Filter{DueBefore: now}); !slices.Equal(got, []string{"overdue"}) || len(got) != due.Overdue {
		t.Errorf("overdue %v", got)
	}
	if got := list(disputes.Filter{Status: disputes.StatusExpiredUndefended}); len(got) != due.Expired {
		t.Errorf("expired %v", got)
	}
	want := []string{"expired", "overdue", "due-now", "defended", "won"}
	want = append(want, byID("due-3d", "due-3d-too")...)
	want = append(want, "due-7d", "due-10d")
	want = append(want, byID("no-due", "no-due-too")...)
	if got := list(disputes.Filter{Sort: disputes.SortDeadline}); !slices.Equal(got, want) {
		t.Errorf("by deadline %v,\nwant %v", got, want)
	}
	if got := list(disputes.Filter{Status: disputes.StatusOpen, Sort: disputes.SortDeadline}); len(got) != 8 ||
		got[0] != "overdue" || !strings.HasPrefix(got[7], "no-due") {
		t.Errorf("open by deadline %v", got)
	}

	// A cursor works only in the order that issued it.
	newest, err := svc.List(ctx, disputes.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	byDeadline, err := svc.List(ctx, disputes.Filter{Limit: 1, Sort: disputes.SortDeadline})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []disputes.Filter{
		{Cursor: newest.Next, Sort: disputes.SortDeadline},
		{Cursor: byDeadline.Next},
		{Sort: "amount"},
	} {
		if _, err := svc.List(ctx, f); !errors.As(err, &invalid) {
			t.Errorf("%+v: %v, want invalid", f, err)
		}
	}
}
