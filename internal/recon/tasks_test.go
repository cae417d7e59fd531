package recon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/redistest"
)

func TestNightlyTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	var logs logtest.Buffer
	svc.log = slog.New(slog.NewJSONHandler(&logs, nil))
	lg := buildLedger([]time.Time{thu, fri, sat, mon}, perDay)
	seedLedger(t, db, lg)
	item, summary, want := faults()
	write(t, svc.cfg.ReportsDir, buildFiles(lg, svc.cal, item, summary), fileOpts{})

	task, err := NewNightlyTask(tue)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.HandleNightlyTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	runs, err := svc.ListRuns(ctx, RunFilter{})
	if err != nil || len(runs.Items) != 5 {
		t.Fatalf("runs = %d %v", len(runs.Items), err)
	}
	var found int64
	for _, r := range runs.Items {
		if r.Actor != NightlyActor || r.Status != RunSucceeded {
			t.Errorf("run %+v", r)
		}
		for _, n := range r.Counts.Discrepancies {
			found += n
		}
	}
	if found != int64(len(want)) {
		t.Errorf("nightly found %d discrepancies, want %d", found, len(want))
	}
	workbooks, _ := filepath.Glob(filepath.Join(svc.cfg.ExportDir, "*.xlsx"))
	if len(workbooks) != 5 {
		t.Errorf("workbooks = %v", workbooks)
	}
	if n := strings.Count(logs.String(), `"msg":"recon nightly"`); n != 1 {
		t.Errorf("summary lines = %d:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"runs":5`) || !strings.Contains(logs.String(), `"discrepancies":9`) {
		t.Errorf("summary line lacks the numbers:\n%s", logs.String())
	}

	// A second delivery finds nothing new and does nothing.
	if err := svc.HandleNightlyTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	again, _ := svc.ListRuns(ctx, RunFilter{})
	if len(again.Items) != 5 {
		t.Errorf("second delivery made runs: %d", len(again.Items))
	}
	// A file arriving later reconciles only its date.
	extra := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,late1,1.00,USD\n<END>\n"
	p := filepath.Join(svc.cfg.ReportsDir, testCustomer, "20240311", "transactionItems_20240311_001.csv")
	if err := os.WriteFile(p, []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Nightly(ctx, tue.AddDate(0, 0, 1))
	if err != nil || len(res.Runs) != 1 || !res.Runs[0].Period.Equal(mon) || len(res.Exports) != 1 {
		t.Fatalf("later nightly = %+v %v", res, err)
	}
	if res.Runs[0].Diff.New != 1 || res.Runs[0].Diff.Same != 3 {
		t.Errorf("later run diff = %+v", res.Runs[0].Diff)
	}

	if err := svc.HandleNightlyTask(ctx, asynq.NewTask(TypeNightly, []byte(`{"day":"x"}`))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("bad payload: %v", err)
	}
}

func TestRunTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	if _, err := svc.Ingest(ctx, "transactionItems_20240307_000.csv", strings.NewReader(
		"transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,nope,1.00,USD\n<END>\n")); err != nil {
		t.Fatal(err)
	}
	queued, err := svc.StartRun(ctx, RunRequest{Date: thu}, "alice")
	if err != nil || queued.Status != RunQueued {
		t.Fatalf("start: %+v %v", queued, err)
	}
	task, err := NewRunTask(queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // delivered twice: done once
		if err := svc.HandleRunTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	r, err := svc.GetRun(ctx, queued.ID)
	if err != nil || r.Status != RunSucceeded || r.Counts.Discrepancies[MissingInLedger] != 1 ||
		r.Counts.Discrepancies[MissingInReport] != 7 { // 3 authorizations, 3 captures and a refund
		t.Fatalf("run = %+v %v", r, err)
	}
	page, _ := svc.ListDiscrepancies(ctx, DiscrepancyFilter{RunID: r.ID})
	if len(page.Items) != 8 {
		t.Errorf("discrepancies = %d, want 8 (no duplicates from the second delivery)", len(page.Items))
	}
	unknown, _ := NewRunTask(987654)
	if err := svc.HandleRunTask(ctx, unknown); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("unknown run: %v", err)
	}
	if err := svc.HandleRunTask(ctx, asynq.NewTask(TypeRun, []byte(`{`))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("bad payload: %v", err)
	}
}

func TestTaskIDsAreDeterministic(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := asynq.NewClient(srv.Opt())
	defer client.Close()
	ctx := context.Background()
	nightly, err := NewNightlyTask(time.Date(2024, 3, 11, 2, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.EnqueueContext(ctx, nightly)
	if err != nil || info.ID != "recon-nightly:2024-03-11" || info.Type != TypeNightly {
		t.Fatalf("enqueue: %+v %v", info, err)
	}
	again, _ := NewNightlyTask(time.Date(2024, 3, 11, 23, 0, 0, 0, time.UTC))
	if _, err := client.EnqueueContext(ctx, again); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("second enqueue of the day: %v, want a conflict", err)
	}
	run, _ := NewRunTask(42)
	if info, err := client.EnqueueContext(ctx, run); err != nil || info.ID != "recon-run:42" {
		t.Errorf("run task: %+v %v", info, err)
	}
}
