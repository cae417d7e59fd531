// Package jobs decides when the worker's periodic work happens. Each job is
// a gocron definition whose body only enqueues an asynq task and returns;
// how the work is done, retried and timed out belongs to the task's handler
// and to asynq.
//
// A job fires once per schedule tick across replicas in two layers: the
// scheduler's locker (internal/schedlock) lets one replica claim a tick, and
// every task a job enqueues has an id derived from the tick and is retained
// after completion, so an enqueue that slips through anyway is rejected by
// the queue (asynq.ErrTaskIDConflict), which we treat as success.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/schedlock"
	"github.com/payops/payops/internal/users"
)

// Enqueuer puts tasks on the queue; *asynq.Client is one.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Schedules say when each job fires, in the scheduler's time zone. Every
// spec is a cron expression that fires on whole seconds, which is what lets
// replicas agree on a tick (see schedlock.Tick). Zero fields take defaults.
type Schedules struct {
	// Heartbeat is a 6-field cron spec (seconds first) for the heartbeat
	// job. Default DefaultHeartbeat, second 0 of every minute.
	Heartbeat string
	// Sweep is when the sweepers (inbox's, payments') re-queue lost work. Default
	// DefaultSweep, second 30 of every minute.
	Sweep string
	// Watchdog is when authorizations are checked for expiry and missing
	// automatic captures. Default DefaultWatchdog, every 5 minutes.
	Watchdog string
	// Deadlines is when dispute defence deadlines are checked. Default
	// DefaultDeadlines, hourly.
	Deadlines string
	// Recon is when the nightly reconciliation is enqueued (RECON_SCHEDULE
	// with a leading seconds field), in the scheduler's zone (RECON_TZ).
	// Default DefaultRecon.
	Recon string
	// IdempotencyPurge is when expired idempotency keys and ended console
	// sessions are deleted.
	// Default DefaultIdempotencyPurge, hourly.
	IdempotencyPurge string
}

// DefaultRecon is design.md's 02:30 every night.
const DefaultRecon = "0 30 2 * * *"

// DefaultDeadlines checks dispute deadlines at minute 5 of every hour.
const DefaultDeadlines = "0 5 * * * *"

// DefaultIdempotencyPurge deletes expired idempotency keys at minute 45 of
// every hour, away from the other hourly and nightly jobs.
const DefaultIdempotencyPurge = "0 45 * * * *"

// DefaultWatchdog runs the payments watchdog every 5 minutes.
const DefaultWatchdog = "15 */5 * * * *"

// DefaultSweep fires the sweepers (inbox's, payments') at second 30 of every minute.
const DefaultSweep = "30 * * * * *"

// DefaultHeartbeat fires the heartbeat job at second 0 of every minute.
const DefaultHeartbeat = "0 * * * * *"

// Job names, kebab case; the scheduler's locker keys on them.
const (
	HeartbeatJob        = "worker-heartbeat"
	SweepJob            = "payments-sweep"
	WatchdogJob         = "payments-watchdog"
	DeadlinesJob        = "dispute-deadlines"
	ReconJob            = "recon-nightly"
	IdempotencyPurgeJob = "idempotency-purge"
)

// Register adds every job to s. q receives the tasks the jobs enqueue; log
// reports failed runs and lock errors.
func Register(s gocron.Scheduler, q Enqueuer, cfg Schedules, log *slog.Logger) error {
	if cfg.Heartbeat == "" {
		cfg.Heartbeat = DefaultHeartbeat
	}
	_, err := s.NewJob(
		gocron.CronJob(cfg.Heartbeat, true),
		// gocron passes the job's ctx, cancelled on scheduler shutdown.
		gocron.NewTask(func(ctx context.Context) error {
			return EnqueueHeartbeat(ctx, q, schedlock.Tick(time.Now()))
		}),
		options(HeartbeatJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", HeartbeatJob, cfg.Heartbeat, err)
	}
	if cfg.Sweep == "" {
		cfg.Sweep = DefaultSweep
	}
	_, err = s.NewJob(
		gocron.CronJob(cfg.Sweep, true),
		// Two sweeps on one tick: the inbox's of stored notifications still
		// unprocessed, and payments' of lost poll chains.
		gocron.NewTask(func(ctx context.Context) error {
			tick := schedlock.Tick(time.Now())
			return errors.Join(enqueue(ctx, q, inbox.NewSweepTask(tick)), enqueue(ctx, q, payments.NewSweepTask(tick)))
		}),
		options(SweepJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", SweepJob, cfg.Sweep, err)
	}
	if cfg.Watchdog == "" {
		cfg.Watchdog = DefaultWatchdog
	}
	_, err = s.NewJob(
		gocron.CronJob(cfg.Watchdog, true),
		gocron.NewTask(func(ctx context.Context) error {
			return enqueue(ctx, q, payments.NewWatchdogTask(schedlock.Tick(time.Now())))
		}),
		options(WatchdogJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", WatchdogJob, cfg.Watchdog, err)
	}
	if cfg.Deadlines == "" {
		cfg.Deadlines = DefaultDeadlines
	}
	_, err = s.NewJob(
		gocron.CronJob(cfg.Deadlines, true),
		gocron.NewTask(func(ctx context.Context) error {
			return enqueue(ctx, q, disputes.NewDeadlinesTask(schedlock.Tick(time.Now())))
		}),
		options(DeadlinesJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", DeadlinesJob, cfg.Deadlines, err)
	}
	if cfg.IdempotencyPurge == "" {
		cfg.IdempotencyPurge = DefaultIdempotencyPurge
	}
	_, err = s.NewJob(
		gocron.CronJob(cfg.IdempotencyPurge, true),
		gocron.NewTask(func(ctx context.Context) error {
			// Two retention tasks on one tick: expired idempotency keys and
			// ended console sessions.
			tick := schedlock.Tick(time.Now())
			return errors.Join(enqueue(ctx, q, idempotency.NewPurgeTask(tick)), enqueue(ctx, q, users.NewPurgeSessionsTask(tick)))
		}),
		options(IdempotencyPurgeJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", IdempotencyPurgeJob, cfg.IdempotencyPurge, err)
	}
	if cfg.Recon == "" {
		cfg.Recon = DefaultRecon
	}
	_, err = s.NewJob(
		gocron.CronJob(cfg.Recon, true),
		gocron.NewTask(func(ctx context.Context) error { return EnqueueNightlyRecon(ctx, q, time.Now()) }),
		options(ReconJob, log)...,
	)
	if err != nil {
		return fmt.Errorf("register job %s (%q): %w", ReconJob, cfg.Recon, err)
	}
	return nil
}

// EnqueueNightlyRecon queues the reconciliation of the day before now; the
// task id is per day, so replicas (and a re-run the same night) enqueue it once.
func EnqueueNightlyRecon(ctx context.Context, q Enqueuer, now time.Time) error {
	t, err := recon.NewNightlyTask(now.UTC().AddDate(0, 0, -1))
	if err != nil {
		return err
	}
	return enqueue(ctx, q, t)
}

// options are what every job shares: its name (the locker's key), no
// overlapping runs on one replica, and logging at the edge.
func options(name string, log *slog.Logger) []gocron.JobOption {
	return []gocron.JobOption{
		gocron.WithName(name),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(
			gocron.AfterJobRunsWithError(func(_ uuid.UUID, job string, err error) {
				log.Error("job failed", "job", job, "err", err)
			}),
			gocron.AfterLockError(func(_ uuid.UUID, job string, err error) {
				if errors.Is(err, schedlock.ErrTaken) {
					log.Debug("job tick ran on another replica", "job", job)
					return
				}
				log.Warn("job skipped: schedule lock failed", "job", job, "err", err)
			}),
		),
	}
}

// enqueue puts t on q. A task id conflict means this tick's task is already
// queued, running or retained as done, so the enqueue is a no-op.
func enqueue(ctx context.Context, q Enqueuer, t *asynq.Task) error {
	if _, err := q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}
