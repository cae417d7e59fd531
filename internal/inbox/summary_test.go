package inbox_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestSummary: failed notifications and those PENDING for longer than
// StuckAfter are counted, refused and settled ones are not, and each count
// is the length of the list its filter gives.
func TestSummary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	in := inbox.NewService(db, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.SetClock(func() time.Time { return now })
	ids := map[string]string{}
	add := func(name string, state inbox.State, verdict string, age time.Duration) {
		t.Helper()
		ids[name] = uuid.NewString()
		if _, _, err := inbox.NewStore(db).Insert(ctx, inbox.Event{ID: ids[name], DedupeKey: name, RawBody: []byte("{}"),
			Headers: http.Header{}, RequestURI: "/webhooks/apo", Verdict: verdict, State: state,
			ReceivedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	add("failed-old", inbox.Failed, "valid", 30*24*time.Hour)
	add("failed-new", inbox.Failed, "valid", time.Minute)
	add("stuck", inbox.Pending, "valid", inbox.StuckAfter+time.Second)
	add("waiting", inbox.Pending, "valid", inbox.StuckAfter-time.Second) // still being retried
	add("processed", inbox.Processed, "valid", time.Hour)
	add("refused", inbox.Ignored, "invalid", time.Hour)
	add("no-handler", inbox.Ignored, "valid", time.Hour)

	sum, err := in.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 2 || sum.Stuck != 1 || sum.NeedsAttention() != 3 || !sum.StuckBefore.Equal(now.Add(-inbox.StuckAfter)) {
		t.Fatalf("summary %+v, want 2 failed and 1 stuck before %v", sum, now.Add(-inbox.StuckAfter))
	}
	names := map[string]string{}
	for n, id := range ids {
		names[id] = n
	}
	list := func(f inbox.Filter) []string {
		t.Helper()
		var out []string
		f.Limit = 1
		for {
			page, err := in.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Items {
				out = append(out, names[ev.ID])
			}
			if page.Next == "" {
				return out
			}
			f.Cursor = page.Next
		}
	}
	for _, c := range []struct {
		f    inbox.Filter
		want []string
	}{
		{inbox.Filter{State: inbox.Failed}, []string{"failed-new", "failed-old"}},
		{inbox.Filter{State: inbox.Pending, ReceivedBefore: sum.StuckBefore}, []string{"stuck"}},
		{inbox.Filter{NeedsAttention: true}, []string{"failed-new", "stuck", "failed-old"}},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
	}
}
