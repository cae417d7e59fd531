package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/jobs"
)

// deps are what task handlers are built from.
type deps struct {
	rdb    *redis.Client
	db     *sqlx.DB
	queue  *asynq.Client
	apo    *apo.Client // newAPOClient; /readyz reads its Verification too
	cfg    config.Config
	log    *slog.Logger
	worker string // this replica's name (host:pid)
}

// newAPOClient builds the APO client from the configured key files; every
// call is recorded in apo_calls, and a run of unverifiable replies is
// logged naming the likely cause.
func newAPOClient(cfg config.Config, db *sqlx.DB, log *slog.Logger) (*apo.Client, error) {
	priv, pub, err := apo.LoadKeyFiles(cfg.APOPrivateKey, cfg.APOPublicKey)
	if err != nil {
		return nil, fmt.Errorf("APO keys (APO_PRIVATE_KEY_FILE, APO_PUBLIC_KEY_FILE): %w", err)
	}
	return apo.New(apo.Config{BaseURL: cfg.APOBaseURL, ClientID: cfg.APOClientID, PrivateKey: priv, APOPublicKey: pub,
		Timeout: cfg.APOTimeout, InquiryTimeout: cfg.APOInquiryTime, Recorder: payments.NewCallRecorder(db), Logger: log})
}

// registerHandlers routes each task type to its handler, one line per type.
func registerHandlers(mux *asynq.ServeMux, d deps) error {
	hb := &heartbeat{rdb: d.rdb, worker: d.worker, now: time.Now}
	mux.HandleFunc(jobs.TypeHeartbeat, hb.HandleTask)

	client := d.apo
	polls := payments.NewPolls(d.db, d.queue, d.log)
	pay := payments.NewService(d.db, client, polls, d.log, d.cfg.PublicURL)
	pay.SetPayTimeout(d.cfg.APOTimeout)
	// Every worker's inquiries share one budget (APO_INQUIRY_RPS).
	pt := payments.NewTasks(pay, polls, ratelimit.New(d.rdb, "apo:inquiry", d.cfg.InquiryRPS), d.log)
	mux.HandleFunc(payments.TypeInquire, pt.HandleInquire)
	mux.HandleFunc(payments.TypeSweep, pt.HandleSweep)
	mux.HandleFunc(payments.TypeWatchdog, pt.HandleWatchdog)

	alerts, err := disputes.NewAlerter(disputes.AlertConfig{WebhookURL: d.cfg.AlertURL, Secret: d.cfg.AlertSecret}, d.log)
	if err != nil {
		return err
	}
	ds := disputes.NewService(d.db, client, pay, alerts, d.log)
	mux.HandleFunc(disputes.TypeDeadlines, ds.HandleDeadlinesTask)

	in := inbox.NewService(d.db, client, pay, ds, nil, d.log)
	it := inbox.NewTasks(in, d.queue, d.log)
	mux.HandleFunc(inbox.TypeProcessWebhook, it.HandleProcessWebhook)
	mux.HandleFunc(inbox.TypeSweep, it.HandleSweep)

	rs := recon.NewService(d.db, recon.ConfigFrom(d.cfg), d.log)
	if _, err := rs.UseTempDir("worker"); err != nil {
		return fmt.Errorf("RECON_TMP_DIR: %w", err)
	}
	mux.HandleFunc(recon.TypeNightly, rs.HandleNightlyTask)
	mux.HandleFunc(recon.TypeRun, rs.HandleRunTask)

	mux.HandleFunc(idempotency.TypePurge, idempotency.NewPurger(d.db, d.cfg.IdempotencyTTL, d.log).HandlePurgeTask)
	return nil
}
