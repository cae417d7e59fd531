package main

import (
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/app"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/users"
	"github.com/payops/payops/jobs"
)

// deps are what task handlers are built from.
type deps struct {
	rdb    *redis.Client
	db     *sqlx.DB
	app    *app.App // the domain services, wired as the api wires them
	cfg    config.Config
	log    *slog.Logger
	worker string // this replica's name (host:pid)
}

// registerHandlers routes each task type to its handler, one line per type.
func registerHandlers(mux *asynq.ServeMux, d deps) {
	hb := &heartbeat{rdb: d.rdb, worker: d.worker, now: time.Now}
	mux.HandleFunc(jobs.TypeHeartbeat, hb.HandleTask)

	a := d.app
	mux.HandleFunc(inbox.TypeProcessWebhook, a.InboxTasks.HandleProcessWebhook)
	mux.HandleFunc(inbox.TypeSweep, a.InboxTasks.HandleSweep)

	mux.HandleFunc(payments.TypeInquire, a.PaymentTasks.HandleInquire)
	mux.HandleFunc(payments.TypeSweep, a.PaymentTasks.HandleSweep)
	mux.HandleFunc(payments.TypeWatchdog, a.PaymentTasks.HandleWatchdog)

	mux.HandleFunc(disputes.TypeDeadlines, a.Disputes.HandleDeadlinesTask)

	mux.HandleFunc(recon.TypeNightly, a.Recon.HandleNightlyTask)
	mux.HandleFunc(recon.TypeRun, a.Recon.HandleRunTask)

	mux.HandleFunc(idempotency.TypePurge, idempotency.NewPurger(d.db, d.cfg.IdempotencyTTL, d.log).HandlePurgeTask)
	mux.HandleFunc(users.TypePurgeSessions, users.New(d.db, d.rdb, d.log, users.Config{}).HandlePurgeSessionsTask)
}
