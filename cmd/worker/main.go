// Command worker runs payops' background work (design.md §2): the asynq
// server that executes tasks and the gocron scheduler whose jobs (package
// jobs) enqueue them. Several replicas may run; a scheduled tick fires on
// one of them (internal/schedlock) and its task is enqueued once.
//
//	worker [-heartbeat SPEC]
//
// Configuration comes from the environment (design.md §3). The worker
// survives PostgreSQL and Redis outages: it logs when a dependency stops
// answering and when it is back, and carries on without a restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo/apometrics"
	"github.com/payops/payops/internal/app"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/schedlock"
	"github.com/payops/payops/jobs"
)

const (
	// drainTimeout is how long in-flight tasks may run on shutdown before
	// asynq puts them back on the queue for another worker. It stays under
	// the usual 30 s a process manager waits between SIGTERM and SIGKILL.
	drainTimeout = 25 * time.Second
	// probeInterval is how often PostgreSQL and Redis are checked.
	probeInterval = 5 * time.Second
	// httpShutdownTimeout bounds the /metrics listener's shutdown.
	httpShutdownTimeout = 5 * time.Second
)

func main() {
	// Installed before any client exists: go-redis reads it unsynchronised.
	redis.SetLogger(&goRedisLog)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

const usage = `usage: worker [-heartbeat SPEC]
  -heartbeat SPEC   cron spec with seconds for the heartbeat job (default "` + jobs.DefaultHeartbeat + `")`

// run is the whole program with its inputs made explicit, so tests can
// drive it: args without the program name, the environment as a function,
// and where log lines go. It returns when ctx is cancelled and everything
// has shut down, or at once when the start fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	heartbeat := fs.String("heartbeat", jobs.DefaultHeartbeat, "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("config: PAYOPS_LOG_LEVEL=%q: %w", cfg.LogLevel, err)
	}
	return serve(ctx, cfg, schedules(cfg, *heartbeat), logging.New(stdout, level))
}

// schedules are the scheduler's specs: RECON_SCHEDULE is a 5-field cron
// (config checks that) and the scheduler's specs carry seconds.
func schedules(cfg config.Config, heartbeat string) jobs.Schedules {
	return jobs.Schedules{Heartbeat: heartbeat, Recon: "0 " + cfg.ReconSchedule}
}

// serve starts everything, waits for ctx and stops everything in reverse
// order: the scheduler (no new enqueues), the task server (drains in-flight
// tasks), the /metrics listener, the probes, then the connections.
// PostgreSQL must answer at start, so that a wrong DATABASE_URL stops the
// process; later outages are only logged.
func serve(ctx context.Context, cfg config.Config, schedules jobs.Schedules, log *slog.Logger) error {
	goRedisLog.log.Store(log)
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	postgres.SetPool(db, cfg.DBMaxConns)
	defer db.Close()
	// Every replica migrates; postgres.Migrate's session lock makes the
	// others wait for the one that does the work.
	if err := postgres.Migrate(ctx, db.DB); err != nil {
		return err
	}

	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	defer rdb.Close()
	ropt := asynq.RedisClientOpt{Addr: cfg.RedisAddr, DB: cfg.RedisDB}
	queue := asynq.NewClient(ropt)
	defer queue.Close()
	name := workerName()

	redisProbe := newProbe("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, log)
	redisProbe.recovered = requeueAfterOutage(queue, log)
	probes := []*probe{newProbe("postgres", db.PingContext, log), redisProbe}
	probeCtx, stopProbes := context.WithCancel(context.Background())
	done := make(chan struct{}, len(probes))
	for _, p := range probes {
		go func() { p.watch(probeCtx, probeInterval); done <- struct{}{} }()
	}
	defer func() {
		stopProbes()
		for range probes {
			<-done
		}
	}()

	// The domain services, wired as the api wires them.
	a, err := app.New(cfg, db, rdb, log, "worker")
	if err != nil {
		return err
	}
	defer a.Close()
	// The worker applies the same PAYMENT_RESULT the api applies from pay's
	// answer, under the same row lock: a cold backend holding that lock
	// while it loads its catalog made the first pays after a start wait.
	warmed := time.Now()
	if err := postgres.Warm(ctx, db, cfg.DBMaxConns, a.Payments.Rehearse, a.Inbox.Rehearse); err != nil {
		log.WarnContext(ctx, "database pool not warmed; first tasks will be slower", "err", err)
	} else {
		log.InfoContext(ctx, "database pool warmed", "connections", cfg.DBMaxConns, "duration_ms", time.Since(warmed).Milliseconds())
	}
	client := a.APO

	ln, err := net.Listen("tcp", cfg.WorkerMetrics)
	if err != nil {
		return fmt.Errorf("metrics listener on %s (PAYOPS_WORKER_METRICS_ADDR): %w", cfg.WorkerMetrics, err)
	}
	ins := asynq.NewInspector(ropt)
	defer ins.Close()
	var started atomic.Bool
	hs := &http.Server{Handler: opsHandler(&started, probes, client, newQueueCollector(ins), payments.NewStatusCollector(db),
		apometrics.NewCollector(client)), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			log.Error("metrics listener shutdown", "err", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())

	srv := asynq.NewServer(ropt, asynq.Config{
		Queues: map[string]int{"webhooks": 12, "critical": 6, "default": 3, "low": 1},
		// Tasks wait on PostgreSQL and APO, not on the CPU: asynq's default of
		// one per core would leave a 2-core worker mostly idle.
		Concurrency:     20,
		Logger:          asynqLogger{log.With("component", "asynq")},
		ErrorHandler:    logTaskError(log),
		ShutdownTimeout: drainTimeout,
		// The default 1 s check interval adds ~0.5 s to a webhook's processing
		// on an idle queue; 50 ms keeps it near-immediate for little Redis load.
		TaskCheckInterval: 50 * time.Millisecond,
		// Deferred and backed-off polls are scheduled tasks: check them often
		// enough that a 2 s poll interval means about 2 s, not up to 7.
		DelayedTaskCheckInterval: 500 * time.Millisecond,
	})
	mux := asynq.NewServeMux()
	registerHandlers(mux, deps{rdb: rdb, db: db, app: a, cfg: cfg, log: log, worker: name})
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start task server: %w", err)
	}
	defer srv.Shutdown()

	s, err := gocron.NewScheduler(
		gocron.WithLocation(cfg.ReconTZ),
		gocron.WithLogger(log.With("component", "gocron")),
		gocron.WithDistributedLocker(schedlock.New(rdb, schedlock.Options{Owner: name})),
	)
	if err != nil {
		return fmt.Errorf("new scheduler: %w", err)
	}
	defer func() {
		if err := s.Shutdown(); err != nil {
			log.Error("scheduler shutdown", "err", err)
		}
	}()
	if err := jobs.Register(s, queue, schedules, log); err != nil {
		return err
	}
	s.Start()
	started.Store(true)

	log.Info("worker started", "worker", name, "tz", cfg.ReconTZ.String())
	<-ctx.Done()
	log.Info("worker stopping")
	return nil
}

// requeueAfterOutage asks for a sweep of the notifications stored before
// Redis came back: what the api stored during the outage was never queued,
// and Redis may have come back empty. Without it they would wait for the
// minute sweeper, a minute after they are a minute old. If the enqueue
// fails too, that sweeper is still there.
func requeueAfterOutage(queue *asynq.Client, log *slog.Logger) func(context.Context, time.Time) {
	return func(ctx context.Context, at time.Time) {
		ctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		if _, err := queue.EnqueueContext(ctx, inbox.NewRecoverySweepTask(at)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			log.Warn("could not ask for a sweep after the redis outage; the minute sweeper will do it", "err", err)
			return
		}
		log.Info("asked for a sweep of notifications stored during the redis outage")
	}
}

// workerName identifies this replica in locks and heartbeats.
func workerName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// logTaskError logs a failed task run once, where asynq reports it. The
// payload is never logged: it may carry customer data.
func logTaskError(log *slog.Logger) asynq.ErrorHandlerFunc {
	return func(ctx context.Context, t *asynq.Task, err error) {
		id, _ := asynq.GetTaskID(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		retry, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		log.ErrorContext(ctx, "task failed",
			"task_type", t.Type(), "task_id", id, "queue", queue,
			"retry", retry, "max_retry", maxRetry, "err", err)
	}
}

// goRedisLog takes go-redis' own log lines, which it otherwise prints to
// stderr as plain text: mostly pool dial errors, several a second during a
// Redis outage. The redis probe already logs an outage once, so these go
// out at debug level, through the process logger once serve has set it.
var goRedisLog redisLogger

// redisLogger is go-redis' logging interface over slog.
type redisLogger struct{ log atomic.Pointer[slog.Logger] }

func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if log := l.log.Load(); log != nil {
		log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
	}
}

// asynqLogger lets asynq log through slog. asynq's Logger takes Print-style
// arguments and has Fatal, so *slog.Logger does not fit it as is.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }

// Fatal logs and exits, as asynq's Logger contract requires; asynq v0.26
// itself never calls it.
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...), "fatal", true)
	os.Exit(1)
}
