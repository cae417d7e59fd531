package payments_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/payops/payops/internal/payments"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	svc, db := newSearchService(t)
	now := base
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	expires := func(d time.Duration) *time.Time { e := now.Add(d); return &e }
	for _, p := range []payments.Payment{
		// Created in the last 24 hours: [now-24h, now).
		{CreatedAt: ago(24 * time.Hour), Status: payments.StatusCaptured},
		{CreatedAt: ago(time.Hour), Status: payments.StatusCaptured},
		{CreatedAt: ago(time.Microsecond), Status: payments.StatusFailed, NeedsReview: true},
		{CreatedAt: ago(2 * time.Hour), AuthExpiry: expires(0)},                          // and lapses now: expiring
		{CreatedAt: ago(3 * time.Hour), AuthExpiry: expires(24*time.Hour - time.Second)}, // expiring
		// Outside the window.
		{CreatedAt: ago(24*time.Hour + time.Microsecond), Status: payments.StatusFailed},
		{CreatedAt: now, Status: payments.StatusProcessing},
		{CreatedAt: ago(10 * 24 * time.Hour), Status: payments.StatusProcessing, NeedsReview: true}, // needs review, whatever its age
		{CreatedAt: ago(5 * 24 * time.Hour), AuthExpiry: expires(time.Hour)},                        // expiring, created long ago
		{CreatedAt: ago(5 * 24 * time.Hour), AuthExpiry: expires(24 * time.Hour)},                   // lapses after the horizon
		{CreatedAt: ago(5 * 24 * time.Hour), AuthExpiry: expires(-time.Second)},                     // lapsed: the watchdog's
		{CreatedAt: ago(5 * 24 * time.Hour), AuthExpiry: expires(time.Hour), Status: payments.StatusCancelled},
	} {
		mustInsert(t, db, p)
	}

	// The clock is given, in any zone; the figures are as of that instant.
	got, err := svc.Summary(context.Background(), now.In(time.FixedZone("UTC+9", 9*3600)))
	if err != nil {
		t.Fatal(err)
	}
	want := payments.Summary{
		From: ago(24 * time.Hour), To: now, ExpiringBefore: now.Add(24 * time.Hour),
		Created: map[payments.Status]int{
			payments.StatusProcessing: 0, payments.StatusRequiresAction: 0, payments.StatusAuthorized: 2,
			payments.StatusFailed: 1, payments.StatusCancelled: 0, payments.StatusExpired: 0, payments.StatusCaptured: 2,
		},
		NeedsReview: 2,
		Expiring:    3,
	}
	if !got.From.Equal(want.From) || !got.To.Equal(want.To) || !got.ExpiringBefore.Equal(want.ExpiringBefore) ||
		!maps.Equal(got.Created, want.Created) || got.NeedsReview != want.NeedsReview || got.Expiring != want.Expiring {
		t.Fatalf("got %+v,\nwant %+v", got, want)
	}

	// An empty database: every status present, all zero.
	empty, _ := newSearchService(t)
	got, err = empty.Summary(context.Background(), now)
	if err != nil || len(got.Created) != len(payments.Statuses) || got.NeedsReview != 0 || got.Expiring != 0 {
		t.Fatalf("empty: %+v %v", got, err)
	}
	for st, n := range got.Created {
		if n != 0 {
			t.Fatalf("empty: %s counted %d", st, n)
		}
	}
}
