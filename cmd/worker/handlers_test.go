package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/app"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/jobs"
)

// TestEveryTaskTypeHasAHandler: a task type that something enqueues (a job,
// the api, another handler) but no handler takes would sit in Redis and be
// retried until it is archived; each must be routed.
func TestEveryTaskTypeHasAHandler(t *testing.T) {
	t.Parallel()
	addr, rdb := tcpRedis(t)
	cfg, err := config.Load(env(withKeys(t, map[string]string{"DATABASE_URL": pgtest.NewURL(t), "REDIS_ADDR": addr})))
	if err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	db, log := pgtest.NewDB(t), slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := app.New(cfg, db, rdb, log, "worker")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	registerHandlers(mux, deps{rdb: rdb, db: db, app: a, cfg: cfg, log: log, worker: "test"})
	for _, typ := range []string{jobs.TypeHeartbeat, inbox.TypeProcessWebhook, inbox.TypeSweep, payments.TypeInquire, payments.TypeSweep,
		payments.TypeWatchdog, disputes.TypeDeadlines, recon.TypeNightly, recon.TypeRun, idempotency.TypePurge} {
		if _, pattern := mux.Handler(asynq.NewTask(typ, nil)); pattern == "" {
			t.Errorf("task type %s has no handler", typ)
		}
	}
}
