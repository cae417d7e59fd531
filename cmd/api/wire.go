package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo/apometrics"
	"github.com/payops/payops/internal/app"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/console"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/users"
)

// wireDomains takes the domain services app.New builds for both binaries
// and adds what is the api's own: APO's readiness check and metrics, the
// budget of refused notifications at the webhook intake, the hand-over of
// recon runs to the worker, and the queue UI.
func wireDomains(svc *services, cfg config.Config, db *sqlx.DB, log *slog.Logger) (*app.App, error) {
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	a, err := app.New(cfg, db, rdb, log, "api")
	if err != nil {
		return nil, err
	}
	svc.checks = append(svc.checks, apoCheck(a.APO))
	// One serve per process registers once; a second in the same process
	// (tests) keeps the first's series rather than failing to start.
	if err := prometheus.Register(apometrics.NewCollector(a.APO)); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
		return nil, fmt.Errorf("register APO metrics: %w", err)
	}
	a.Inbox.SetRefusalGate(refusalGate(ratelimit.NewPerKey(rdb, "payops:webhook-refusals:", 1, webhookRefusalEvery,
		webhookRefusalBurst)))
	svc.usePayments(a.Payments, a.Inbox)
	svc.disputes = a.Disputes
	svc.recon = a.Recon
	svc.bank = a.Bank
	svc.journals = a.Journals
	svc.payouts = a.Payouts
	svc.uploadDir = a.Recon.TempDir()
	svc.enqueueRun = func(ctx context.Context, runID int64) error {
		t, err := recon.NewRunTask(runID)
		if err != nil {
			return err
		}
		if _, err := a.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue recon run %d: %w", runID, err)
		}
		return nil
	}
	con, err := console.New(console.Deps{
		Log: log, Users: users.New(db, rdb, log, users.Config{}),
		Payments: a.Payments, Disputes: a.Disputes, Recon: a.Recon, Inbox: a.Inbox,
		Payouts: a.Payouts, Bank: a.Bank, Journals: a.Journals,
		Audit: svc.audit, Keys: auth.NewKeys(db), KeyList: svc.keys, Idempotency: svc.idempotency,
		EnqueueRun: svc.enqueueRun, UploadDir: a.Recon.TempDir(),
		Secure: strings.HasPrefix(cfg.PublicURL, "https://"),
	})
	if err != nil {
		return nil, err
	}
	svc.console = con
	svc.queueUI = asynqmon.New(asynqmon.Options{RootPath: "/ops/queues",
		RedisConnOpt: asynq.RedisClientOpt{Addr: cfg.RedisAddr, DB: cfg.RedisDB}})
	return a, nil
}
