package payments_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/payops/payops/internal/payments"
)

func TestWatchdog(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	uncaptured := h.create(t, createReq("4111111111111111", 1000, "USD"))
	partial := h.create(t, createReq("5555555555554444", 1000, "USD"))
	if _, _, err := h.svc.Capture(ctx, partial.ID, payments.CaptureRequest{Amount: i64(400)}); err != nil {
		t.Fatal(err)
	}
	r := createReq("4111111111111111", 800, "EUR")
	r.CaptureMode = payments.CaptureAutomatic
	auto := h.create(t, r) // its capture stand-in stays PROCESSING: nobody synced

	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc := payments.NewService(h.db, h.env.Client, nil, log, "http://127.0.0.1:1")
	tasks := payments.NewTasks(svc, nil, nil, log)

	svc.SetClock(func() time.Time { return time.Now().Add(6*24*time.Hour + 12*time.Hour) })
	rep, err := tasks.Watchdog(ctx)
	if err != nil || rep.Expiring != 2 || rep.Expired != 0 || rep.AutoCaptured != 1 {
		t.Fatalf("day 6.5: %+v %v; want 2 expiring, the automatic capture chased", rep, err)
	}
	if got, _ := svc.Get(ctx, auto.ID); got.Status != payments.StatusCaptured {
		t.Fatalf("automatic capture: %s", got.Status)
	}

	svc.SetClock(func() time.Time { return time.Now().Add(8 * 24 * time.Hour) })
	if rep, err = tasks.Watchdog(ctx); err != nil || rep.Expired != 2 {
		t.Fatalf("day 8: %+v %v", rep, err)
	}
	if got, _ := svc.Get(ctx, uncaptured.ID); got.Status != payments.StatusExpired {
		t.Fatalf("uncaptured lapsed authorization: %s, want EXPIRED", got.Status)
	}
	if got, _ := svc.Get(ctx, partial.ID); got.Status != payments.StatusCaptured || got.CapturedMinor != 400 {
		t.Fatalf("partly captured lapsed authorization: %s %d, want CAPTURED 400", got.Status, got.CapturedMinor)
	}
	// A second run finds nothing left to do.
	if rep, err = tasks.Watchdog(ctx); err != nil || rep.Expired != 0 || rep.AutoCaptured != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}
