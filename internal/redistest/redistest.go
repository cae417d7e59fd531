// Package redistest starts a private redis-server per test on a Unix socket,
// so tests share no key space and need no flushing. A test fails, never
// skips, when redis-server cannot be started (make services-up installs it).
package redistest

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Server is a running private redis-server.
type Server struct {
	Socket string
	cmd    *exec.Cmd
}

// Start runs redis-server for the duration of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-server (make services-up installs it): %v", err)
	}
	s := &Server{Socket: sock, cmd: cmd}
	t.Cleanup(s.Stop)
	c := s.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server did not answer: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop kills the server; tests use it to simulate a Redis outage.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd.Process = nil
	}
}

// Opt is the asynq connection option for this server.
func (s *Server) Opt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Network: "unix", Addr: s.Socket}
}

// Client returns a go-redis client for this server; callers close it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
}

// WaitCompleted waits up to 10 s until queue holds n completed (retained)
// tasks, and fails the test otherwise.
func WaitCompleted(t testing.TB, in *asynq.Inspector, queue string, n int) *asynq.QueueInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := in.GetQueueInfo(queue)
		if err != nil {
			t.Fatal(err)
		}
		if info.Completed == n {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: %d completed tasks, want %d: %+v", queue, info.Completed, n, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// QuietAsynq is an asynq.Logger that keeps asynq's own log lines out of the
// test output.
type QuietAsynq struct{}

func (QuietAsynq) Debug(...any) {}
func (QuietAsynq) Info(...any)  {}
func (QuietAsynq) Warn(...any)  {}
func (QuietAsynq) Error(...any) {}
func (QuietAsynq) Fatal(...any) {}
