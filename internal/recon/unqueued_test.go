package recon

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFailUnqueued: a started run the queue refused is FAILED with the
// queue's reason, also when the caller's context is already cancelled.
func TestFailUnqueued(t *testing.T) {
	t.Parallel()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 1)
	seedLedger(t, db, lg)
	write(t, svc.cfg.ReportsDir, buildFiles(lg, svc.cal, nil, nil), fileOpts{})
	if _, err := svc.ScanDir(context.Background(), svc.cfg.ReportsDir); err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(context.Background(), RunRequest{Date: thu}, "alice")
	if err != nil || run.Status != RunQueued {
		t.Fatalf("start: %+v %v", run, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := svc.FailUnqueued(ctx, run.ID, errors.New("queue unavailable")); err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetRun(context.Background(), run.ID)
	if err != nil || got.Status != RunFailed || got.Error != "not queued: queue unavailable" || got.FinishedAt == nil {
		t.Fatalf("run after FailUnqueued: %+v %v", got, err)
	}
}
