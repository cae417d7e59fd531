package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
)

// testServer is the api handler over real dependencies on an httptest
// server. Close it before reading logs: Close waits for every handler, so
// every access-log line is written by then.
type testServer struct {
	*httptest.Server
	logs *logtest.Buffer
}

func newTestServer(t *testing.T, db *sqlx.DB, rdb *redis.Client) *testServer {
	t.Helper()
	logs := &logtest.Buffer{}
	h, _ := newHandler(newServices(logging.New(logs, slog.LevelDebug), db, rdb))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, logs: logs}
}

// do sends a request with an optional bearer key and JSON body and returns
// the response with its body read.
func (s *testServer) do(t *testing.T, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// problem is an RFC 9457 document as Huma writes it.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

// mustProblem checks that resp is a problem document with status and
// returns it.
func mustProblem(t *testing.T, resp *http.Response, body []byte, status int) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || p.Title != http.StatusText(status) {
		t.Fatalf("problem %+v, want status %d titled %q", p, status, http.StatusText(status))
	}
	return p
}

// mustCreateKey makes a key directly in the store and returns its secret.
func mustCreateKey(t *testing.T, db *sqlx.DB, name string, role auth.Role) (auth.Key, string) {
	t.Helper()
	k, s, err := auth.NewStore(db).Create(context.Background(), auth.NewKey{Name: name, Role: role, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return k, s.Reveal()
}

// closedPort returns a local TCP address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// unreachableDB is a handle on a PostgreSQL that does not answer.
func unreachableDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", "postgres://postgres@"+closedPort(t)+"/payops?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// env is a fake environment for run.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func mustContainNone(t *testing.T, what, haystack string, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if n != "" && strings.Contains(haystack, n) {
			t.Errorf("%s contains %q", what, n)
		}
	}
}
