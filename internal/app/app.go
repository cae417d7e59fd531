// Package app builds payops' domain services from the configuration, once,
// for both binaries: the APO client, payments with its poller and task
// handlers, the inbox of APO's notifications, disputes with its alerter,
// recon with its configuration and temporary directory, the bank accounts
// with their statements, and the journals built after each run. cmd/api and
// cmd/worker add only what is theirs: routes, readiness and metrics, the
// asynq mux, the scheduler.
//
// It is wiring and nothing else: no SQL, no business rule. Besides cmd/*,
// it is the only package that imports internal/inbox, the top of the domain
// pyramid (inbox → payments | disputes).
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/ratelimit"
	"github.com/payops/payops/internal/recon"
)

// App is the wired domain services of one process.
type App struct {
	// APO is the provider client every domain calls; the binaries read
	// its verification state for /readyz and its metrics.
	APO *apo.Client
	// Queue is the task queue every domain enqueues on (polls,
	// notifications, recon runs). Close closes it.
	Queue *asynq.Client

	Payments *payments.Service
	// PaymentTasks are payments' task handlers (inquiry chains, the poll
	// sweep, the watchdog); the worker routes them.
	PaymentTasks *payments.Tasks
	// Inbox receives, stores and processes APO's notifications; the api's
	// intake hands stored ones to the worker's queue.
	Inbox *inbox.Service
	// InboxTasks are the inbox's task handlers (processing, the sweep).
	InboxTasks *inbox.Tasks
	Disputes   *disputes.Service
	Recon      *recon.Service
	Bank       *bank.Service
	// Journals books every succeeded recon run's settlement batches
	// (recon's after-run hook) and exports them.
	Journals *journal.Service
	// Payouts matches APO's payouts to bank credits; recon runs call it.
	Payouts *payout.Service
}

// New wires the services over db. rdb carries the budgets shared by every
// process (the inquiry budget, APO_INQUIRY_RPS); tasks go to the Redis of
// cfg. process ("api", "worker") names the process's temporary directory
// under RECON_TMP_DIR, which it claims for its lifetime.
func New(cfg config.Config, db *sqlx.DB, rdb *redis.Client, log *slog.Logger, process string) (*App, error) {
	client, err := newAPOClient(cfg, db, log)
	if err != nil {
		return nil, err
	}
	a := &App{APO: client, Queue: asynq.NewClient(asynq.RedisClientOpt{Addr: cfg.RedisAddr, DB: cfg.RedisDB})}

	// The poller is built before the service, so the service starts the
	// chains the worker's handlers continue; nothing is rewired later.
	polls := payments.NewPolls(db, a.Queue, log)
	a.Payments = payments.NewService(db, client, polls, log, cfg.PublicURL)
	a.Payments.SetPayTimeout(cfg.APOTimeout)
	// Every worker's inquiries share one budget (APO_INQUIRY_RPS).
	a.PaymentTasks = payments.NewTasks(a.Payments, polls, ratelimit.New(rdb, "apo:inquiry", cfg.InquiryRPS), log)

	alerts, err := disputes.NewAlerter(disputes.AlertConfig{WebhookURL: cfg.AlertURL, Secret: cfg.AlertSecret}, log)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Disputes = disputes.NewService(db, client, a.Payments, alerts, log)

	// Stored notifications are processed by the worker: the intake hands
	// them to the queue, off the acknowledgement path.
	a.Inbox = inbox.NewService(db, client, a.Payments, a.Disputes, inbox.QueueHandoff(inbox.NewQueue(a.Queue), log), log)
	a.InboxTasks = inbox.NewTasks(a.Inbox, a.Queue, log)

	a.Recon = recon.NewService(db, reconConfig(cfg), log)
	if _, err := a.Recon.UseTempDir(process); err != nil {
		a.Close()
		return nil, fmt.Errorf("RECON_TMP_DIR: %w", err)
	}
	a.Bank = bank.NewService(db, bank.Config{ArchiveDir: cfg.BankArchiveDir, SFTP: cfg.BankSFTP}, log)
	a.Recon.AddIntake(func(ctx context.Context) error {
		_, err := a.Bank.Intake(ctx, cfg.StatementsDir)
		return err
	})
	a.Journals = journal.NewService(db, recon.NewStore(db))
	// Each run reports the batches that cannot be journaled as its own
	// breaks; the hook then stores the journals. A run stays succeeded if
	// its journals fail to build: recon logs it, and the next execution of
	// the run or POST /v1/journals/build redoes it.
	a.Recon.SetJournalChecker(a.Journals)
	a.Recon.SetRunHook(func(ctx context.Context, run recon.Run) error {
		res, err := a.Journals.BuildRun(ctx, run.ID)
		for _, r := range res {
			if r.Outcome == journal.Locked { // the run's discrepancy names the batch; the log says its journal stays
				log.WarnContext(ctx, "batch of a closed period could not be journaled; its closed journal stays",
					"run", run.ID, "batch", r.BatchID, "currency", r.Currency, "finding", r.Finding.Kind,
					"reason", r.Finding.Reason)
			}
		}
		return err
	})
	pc, err := payoutConfig(cfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Payouts = payout.NewService(db, pc, a.Recon)
	a.Recon.SetPayoutChecker(a.Payouts)
	a.Recon.AddSheet(a.Payouts.Sheet())
	a.Recon.AddSheet(a.Journals.Sheet())
	// The hook's build also books the receipts of the payouts each run's
	// credits paid.
	a.Journals.SetReceipts(a.Payouts)
	return a, nil
}

// Close releases the queue client.
func (a *App) Close() error { return a.Queue.Close() }

// newAPOClient builds the APO client from the configured key files; every
// call is recorded in apo_calls, and a run of unverifiable replies is
// logged naming the likely cause.
func newAPOClient(cfg config.Config, db *sqlx.DB, log *slog.Logger) (*apo.Client, error) {
	priv, pub, err := apo.LoadKeyFiles(cfg.APOPrivateKey, cfg.APOPublicKey)
	if err != nil {
		return nil, fmt.Errorf("APO keys (APO_PRIVATE_KEY_FILE, APO_PUBLIC_KEY_FILE): %w", err)
	}
	client, err := apo.New(apo.Config{BaseURL: cfg.APOBaseURL, ClientID: cfg.APOClientID, PrivateKey: priv,
		APOPublicKey: pub, Timeout: cfg.APOTimeout, InquiryTimeout: cfg.APOInquiryTime,
		Recorder: payments.NewCallRecorder(db), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("APO client: %w", err)
	}
	return client, nil
}

// reconConfig maps the process configuration onto recon's, so the domain
// package reads neither the environment nor package config.
func reconConfig(c config.Config) recon.Config {
	rc := recon.Config{ReportsDir: c.ReportsDir, ArchiveDir: c.ArchiveDir, ExportDir: c.ExportDir,
		SettlementDays: c.SettleDays, AmountConvention: c.ReconAmounts, TmpDir: c.TmpDir, SFTP: c.ReportsSFTP}
	return rc
}
