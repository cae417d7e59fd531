package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/apometrics"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/recon"
)

// wireDomains builds the APO client and the domain services the handlers
// call, and the queue they hand background work to.
func wireDomains(svc *services, cfg config.Config, db *sqlx.DB, log *slog.Logger) error {
	priv, pub, err := apo.LoadKeyFiles(cfg.APOPrivateKey, cfg.APOPublicKey)
	if err != nil {
		return fmt.Errorf("APO keys (APO_PRIVATE_KEY_FILE, APO_PUBLIC_KEY_FILE): %w", err)
	}
	client, err := apo.New(apo.Config{BaseURL: cfg.APOBaseURL, ClientID: cfg.APOClientID, PrivateKey: priv,
		APOPublicKey: pub, Timeout: cfg.APOTimeout, InquiryTimeout: cfg.APOInquiryTime, Recorder: payments.NewCallRecorder(db),
		Logger: log})
	if err != nil {
		return fmt.Errorf("APO client: %w", err)
	}
	svc.checks = append(svc.checks, apoCheck(client))
	// One serve per process registers once; a second in the same process
	// (tests) keeps the first's series rather than failing to start.
	if err := prometheus.Register(apometrics.NewCollector(client)); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
		return fmt.Errorf("register APO metrics: %w", err)
	}
	ropt := asynq.RedisClientOpt{Addr: cfg.RedisAddr, DB: cfg.RedisDB}
	jobs := asynq.NewClient(ropt)
	polls := payments.NewPolls(db, jobs, log)
	pay := payments.NewService(db, client, polls, log, cfg.PublicURL)
	pay.SetPayTimeout(cfg.APOTimeout)

	alerts, err := disputes.NewAlerter(disputes.AlertConfig{WebhookURL: cfg.AlertURL, Secret: cfg.AlertSecret}, log)
	if err != nil {
		return err
	}
	svc.disputes = disputes.NewService(db, client, pay, alerts, log)

	// Polls of unknown outcomes and webhook processing go to the worker.
	in := inbox.NewService(db, client, pay, svc.disputes, inbox.QueueHandoff(inbox.NewQueue(jobs), log), log)
	in.SetRefusalGate(refusalGate(ratelimit.NewPerKey(redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB}),
		"payops:webhook-refusals:", 1, webhookRefusalEvery, webhookRefusalBurst)))
	svc.usePayments(pay, in)

	svc.recon = recon.NewService(db, recon.ConfigFrom(cfg), log)
	if _, err := svc.recon.UseTempDir("api"); err != nil {
		return fmt.Errorf("RECON_TMP_DIR: %w", err)
	}
	runs := asynq.NewClient(ropt)
	svc.enqueueRun = func(ctx context.Context, runID int64) error {
		t, err := recon.NewRunTask(runID)
		if err != nil {
			return err
		}
		if _, err := runs.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue recon run %d: %w", runID, err)
		}
		return nil
	}

	svc.queueUI = asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: ropt})
	return nil
}
