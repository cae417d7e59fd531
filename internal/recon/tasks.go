package recon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
)

// Task types owned by this package.
const (
	TypeNightly = "recon:nightly"
	TypeRun     = "recon:run"
)

// NightlyActor is the actor recorded on runs the nightly task makes.
const NightlyActor = "system:nightly"

type nightlyPayload struct {
	Day string `json:"day"`
}

type runPayload struct {
	RunID int64 `json:"run_id"`
}

// NewNightlyTask returns the nightly reconciliation task for a day (the
// schedule's tick). Its id, "recon-nightly:<yyyy-mm-dd>", and its
// retention make a second enqueue for the same day — another replica, a
// rerun of the job — a no-op (asynq.ErrTaskIDConflict).
func NewNightlyTask(day time.Time) (*asynq.Task, error) {
	d := day.UTC().Format(time.DateOnly)
	b, err := json.Marshal(nightlyPayload{Day: d})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeNightly, err)
	}
	return asynq.NewTask(TypeNightly, b, asynq.TaskID("recon-nightly:"+d), asynq.MaxRetry(5),
		asynq.Timeout(2*time.Hour), asynq.Retention(48*time.Hour)), nil
}

// NewRunTask returns the task that executes a run recorded by StartRun,
// with id "recon-run:<run id>".
func NewRunTask(runID int64) (*asynq.Task, error) {
	b, err := json.Marshal(runPayload{RunID: runID})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeRun, err)
	}
	return asynq.NewTask(TypeRun, b, asynq.TaskID(fmt.Sprintf("recon-run:%d", runID)), asynq.MaxRetry(3),
		asynq.Timeout(time.Hour), asynq.Retention(24*time.Hour)), nil
}

// HandleNightlyTask runs Nightly. Delivered twice, the second delivery finds
// nothing new and does nothing.
func (s *Service) HandleNightlyTask(ctx context.Context, t *asynq.Task) error {
	var p nightlyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", TypeNightly, err, asynq.SkipRetry)
	}
	d, err := time.Parse(time.DateOnly, p.Day)
	if err != nil {
		return fmt.Errorf("decode %s payload: day %q: %w", TypeNightly, p.Day, asynq.SkipRetry)
	}
	_, err = s.Nightly(ctx, d)
	return err
}

// HandleRunTask executes a recorded run (ExecuteRun: a finished run is not
// redone). An unknown run id is permanent.
func (s *Service) HandleRunTask(ctx context.Context, t *asynq.Task) error {
	var p runPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.RunID <= 0 {
		return fmt.Errorf("decode %s payload: %w", TypeRun, asynq.SkipRetry)
	}
	_, err := s.ExecuteRun(ctx, p.RunID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("run %d: %w", p.RunID, asynq.SkipRetry)
	}
	return err
}

// NightlyResult is what a nightly pass did.
type NightlyResult struct {
	Pulled        ScanResult // from SFTP, when configured
	Scan          ScanResult
	Runs          []Run
	Exports       []string // workbook paths
	Discrepancies int64
}

// Nightly pulls new files from SFTP (when configured) and ingests what
// arrived in the reports directory, runs the intake steps (AddIntake),
// reconciles every date that has inputs no succeeded run has read, then
// every recent bank day whose payouts and credits its latest run has not
// judged as they now stand (unseenBankDays), exports each run into the
// export directory, and logs one summary line. A date that fails does not
// stop the others; the joined error makes the task retry, and the retry
// redoes only what is still missing (failed dates, unexported runs).
func (s *Service) Nightly(ctx context.Context, day time.Time) (NightlyResult, error) {
	start := time.Now()
	var (
		res  NightlyResult
		errs []error
	)
	if s.cfg.SFTP != nil {
		pulled, err := s.PullSFTP(ctx, *s.cfg.SFTP)
		res.Pulled = pulled
		if err != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", s.cfg.SFTP, err))
		}
	}
	// The drop directory is ours; a first night before any file arrived
	// finds it empty rather than missing.
	if err := os.MkdirAll(s.cfg.ReportsDir, 0o750); err != nil {
		return res, fmt.Errorf("reports dir: %w", err)
	}
	scan, err := s.ScanDir(ctx, s.cfg.ReportsDir)
	res.Scan = scan
	if err != nil {
		errs = append(errs, fmt.Errorf("scan %s: %w", s.cfg.ReportsDir, err))
	}
	for _, step := range s.intake {
		if err := step(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	st := NewStore(s.db)
	dates, err := st.DatesWithNewInputs(ctx)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	errs = append(errs, s.runDates(ctx, dates, &res)...)
	// Then the bank days those runs (or earlier ones) have not judged as
	// they now stand: after the report runs, which register the payouts.
	bankDays, err := s.unseenBankDays(ctx, day.AddDate(0, 0, -bankDaysBack), day)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	errs = append(errs, s.runDates(ctx, bankDays, &res)...)
	unexported, err := st.UnexportedRuns(ctx, NightlyActor)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range unexported {
		path, err := s.Export(ctx, id, s.cfg.ExportDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("export run %d: %w", id, err))
			continue
		}
		res.Exports = append(res.Exports, path)
	}
	var failed, incomplete int
	for _, f := range append(append([]File{}, res.Pulled.Ingested...), scan.Ingested...) {
		switch f.Status {
		case FileFailed:
			failed++
		case FileIncomplete:
			incomplete++
		}
	}
	var newD, healed int64
	for _, r := range res.Runs {
		newD += r.Diff.New
		healed += r.Diff.Healed
	}
	err = errors.Join(errs...)
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError // the error itself is logged by the queue's error handler
	}
	s.log.Log(ctx, level, "recon nightly", "day", day.Format(time.DateOnly),
		"files_seen", scan.Seen+res.Pulled.Seen, "files_new", len(scan.Ingested)+len(res.Pulled.Ingested),
		"files_pulled", len(res.Pulled.Ingested), "files_failed", failed,
		"files_incomplete", incomplete, "dates", len(dates), "runs", len(res.Runs),
		"discrepancies", res.Discrepancies, "new", newD, "healed", healed, "exports", len(res.Exports),
		"duration_ms", time.Since(start).Milliseconds(), "errors", len(errs))
	return res, err
}

// runDates reconciles each date, adding the runs to res; a date that fails
// does not stop the others.
func (s *Service) runDates(ctx context.Context, dates []time.Time, res *NightlyResult) []error {
	var errs []error
	for _, d := range dates {
		r, err := s.Run(ctx, RunRequest{Date: d}, NightlyActor)
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", d.Format(time.DateOnly), err))
			continue
		}
		res.Runs = append(res.Runs, r)
		for _, n := range r.Counts.Discrepancies {
			res.Discrepancies += n
		}
	}
	return errs
}
