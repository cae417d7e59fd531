package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/jobs"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// withKeys adds dev APO key files to a test environment: the worker builds
// its APO client at start and refuses to run without them.
func withKeys(t *testing.T, m map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	priv, pub, err := apo.GenerateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	m["APO_PRIVATE_KEY_FILE"] = filepath.Join(dir, "merchant_private.pem")
	m["APO_PUBLIC_KEY_FILE"] = filepath.Join(dir, "apo_public.pem")
	if err := os.WriteFile(m["APO_PRIVATE_KEY_FILE"], priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m["APO_PUBLIC_KEY_FILE"], pub, 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// tcpRedis starts a private Redis and opens a TCP port on it, because
// REDIS_ADDR is host:port while redistest listens on a Unix socket.
func tcpRedis(t *testing.T) (addr string, rdb *redis.Client) {
	t.Helper()
	r := redistest.Start(t)
	rdb = r.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := rdb.ConfigSet(context.Background(), "port", strconv.Itoa(port)).Err(); err != nil {
		t.Fatalf("open a TCP port on the test redis: %v", err)
	}
	return "127.0.0.1:" + strconv.Itoa(port), rdb
}

// TestRunEndToEnd starts the worker against a fresh database and a private
// Redis with a heartbeat every second, waits until a heartbeat went through
// scheduler, lock, queue and handler, checks the ops listener, and stops it.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	addr, rdb := tcpRedis(t)
	var out logtest.Buffer
	e := env(withKeys(t, map[string]string{
		"DATABASE_URL":               pgtest.NewURL(t),
		"REDIS_ADDR":                 addr,
		"PAYOPS_WORKER_METRICS_ADDR": "127.0.0.1:0",
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-heartbeat", "* * * * * *"}, e, &out) }()

	deadline := time.Now().Add(2 * time.Minute)
	var tick string
	for tick == "" {
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat recorded in 2m:\n%s", out.String())
		}
		v, err := rdb.HGet(ctx, heartbeatKey, "tick").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		tick = v
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := time.Parse(time.RFC3339, tick); err != nil {
		t.Fatalf("heartbeat tick %q: %v", tick, err)
	}

	var metricsAddr string
	for _, l := range lines(t, out.String()) {
		if l.Msg == "metrics listening" {
			metricsAddr = l.Addr
		}
	}
	if metricsAddr == "" {
		t.Fatalf("no metrics address logged:\n%s", out.String())
	}
	res, err := http.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	err = json.NewDecoder(res.Body).Decode(&health)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || health["postgres"] != "up" || health["redis"] != "up" {
		t.Fatalf("/healthz: %d %v %v", res.StatusCode, health, err)
	}
	res, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "go_goroutines") {
		t.Fatalf("/metrics lacks the default registry's metrics:\n%s", b)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: got %v, want nil after cancel", err)
		}
	case <-time.After(drainTimeout + 2*time.Minute):
		t.Fatal("run did not return after cancel")
	}
	ls := lines(t, out.String())
	for _, l := range ls {
		if l.Level == "ERROR" {
			t.Errorf("error logged during a clean run: %+v", l)
		}
	}
	if countMsg(ls, "worker started") != 1 || countMsg(ls, "worker stopping") != 1 {
		t.Errorf("start and stop not logged once each:\n%s", out.String())
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad config", nil, map[string]string{"REDIS_DB": "99"}, "REDIS_DB"},
		{"bad metrics address", nil, map[string]string{"PAYOPS_WORKER_METRICS_ADDR": "9091"}, "PAYOPS_WORKER_METRICS_ADDR"},
		{"unknown flag", []string{"-nope"}, nil, "usage"},
		{"stray argument", []string{"serve"}, nil, "usage"},
		{"cron descriptor", nil, map[string]string{"RECON_SCHEDULE": "@daily"}, "RECON_SCHEDULE"},
		{"cron with a zone", nil, map[string]string{"RECON_SCHEDULE": "CRON_TZ=UTC 30 2 * * *"}, "RECON_SCHEDULE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, env(c.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %s", err, c.want)
			}
		})
	}
}

func TestRunBadHeartbeatSpec(t *testing.T) {
	t.Parallel()
	addr, _ := tcpRedis(t)
	e := env(withKeys(t, map[string]string{
		"DATABASE_URL":               pgtest.NewURL(t),
		"REDIS_ADDR":                 addr,
		"PAYOPS_WORKER_METRICS_ADDR": "127.0.0.1:0",
	}))
	err := run(context.Background(), []string{"-heartbeat", "every second"}, e, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "worker-heartbeat") {
		t.Fatalf("got %v, want an error naming the job", err)
	}
}

// TestTaskErrorLog runs a failing task through a real asynq server: the
// log line names the task type and id and never carries the payload.
func TestTaskErrorLog(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	var out logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	srv := asynq.NewServer(r.Opt(), asynq.Config{
		Queues:       map[string]int{"default": 1},
		Logger:       asynqLogger{slog.New(slog.DiscardHandler)},
		ErrorHandler: logTaskError(log),
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:fail", func(context.Context, *asynq.Task) error { return errors.New("provider said no") })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	c := asynq.NewClient(r.Opt())
	defer c.Close()
	if _, err := c.Enqueue(asynq.NewTask("test:fail", []byte(`{"secret":"payload-marker-7"}`)),
		asynq.TaskID("fail-1"), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "task failed") {
		if time.Now().After(deadline) {
			t.Fatal("no task failure logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(out.String(), "\n", 2)[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got["task_type"] != "test:fail" || got["task_id"] != "fail-1" || got["queue"] != "default" ||
		got["err"] != "provider said no" || got["level"] != "ERROR" {
		t.Fatalf("task failure line: %v", got)
	}
	if strings.Contains(out.String(), "payload-marker-7") {
		t.Fatalf("payload logged:\n%s", out.String())
	}
}

func TestAsynqLoggerLevels(t *testing.T) {
	var out logtest.Buffer
	l := asynqLogger{slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Debug("a", 1) // Sprint spacing, as asynq's default logger prints
	l.Info("b")
	l.Warn("c")
	l.Error("d ", errors.New("e"))
	ls := lines(t, out.String())
	want := []logLine{{Level: "DEBUG", Msg: "a1"}, {Level: "INFO", Msg: "b"}, {Level: "WARN", Msg: "c"}, {Level: "ERROR", Msg: "d e"}}
	if len(ls) != len(want) {
		t.Fatalf("got %v, want %v", ls, want)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, ls[i], want[i])
		}
	}
}

func TestRedisLoggerGoesToDebug(t *testing.T) {
	var l redisLogger
	l.Printf(context.Background(), "dropped %d", 1) // before serve sets a logger
	var out logtest.Buffer
	l.log.Store(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf(context.Background(), "pool: failed to dial after %d attempts", 5)
	ls := lines(t, out.String())
	if len(ls) != 1 || ls[0].Level != "DEBUG" || ls[0].Msg != "pool: failed to dial after 5 attempts" {
		t.Fatalf("got %+v, want one debug line", ls)
	}
}

// TestReconScheduleRegisters: whatever RECON_SCHEDULE config accepts, the
// scheduler accepts too, so a start never fails on a value config passed.
func TestReconScheduleRegisters(t *testing.T) {
	for _, v := range []string{"30 2 * * *", "*/15 1-3 * * 1-5", "0 4 1,15 * *", "5 0 * JAN-MAR MON"} {
		cfg, err := config.Load(env(map[string]string{"RECON_SCHEDULE": v}))
		if err != nil {
			t.Fatalf("RECON_SCHEDULE=%q: %v", v, err)
		}
		s, err := gocron.NewScheduler()
		if err != nil {
			t.Fatal(err)
		}
		err = jobs.Register(s, unusedQueue{}, schedules(cfg, jobs.DefaultHeartbeat), slog.New(slog.DiscardHandler))
		_ = s.Shutdown()
		if err != nil {
			t.Errorf("RECON_SCHEDULE=%q passed config but not the scheduler: %v", v, err)
		}
	}
}

// unusedQueue stands in for the queue where no job fires during a test.
type unusedQueue struct{}

func (unusedQueue) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errors.New("no job should fire in this test")
}
