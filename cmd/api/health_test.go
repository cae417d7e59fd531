package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	srv := newTestServer(t, pgtest.NewDB(t), rs.Client())

	resp, body := srv.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("healthz: %d %s (request id %q)", resp.StatusCode, body, resp.Header.Get("X-Request-Id"))
	}
	resp, body = srv.do(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Status string
		Checks map[string]string
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Status != "ok" || out.Checks["postgres"] != "ok" || out.Checks["redis"] != "ok" {
		t.Fatalf("readyz body %s (%v)", body, err)
	}

	rs.Stop()
	resp, body = srv.do(t, http.MethodGet, "/readyz", "", nil)
	p := mustProblem(t, resp, body, http.StatusServiceUnavailable)
	if p.Detail != "redis: unreachable" {
		t.Fatalf("detail %q, want redis: unreachable", p.Detail)
	}
	resp, _ = srv.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz with redis down: %d", resp.StatusCode)
	}
}

func TestReadinessPostgresDown(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, unreachableDB(t), redistest.Start(t).Client())
	resp, body := srv.do(t, http.MethodGet, "/readyz", "", nil)
	p := mustProblem(t, resp, body, http.StatusServiceUnavailable)
	if p.Detail != "postgres: unreachable" || len(p.Errors) != 1 || p.Errors[0].Location != "postgres" {
		t.Fatalf("problem %+v", p)
	}
	mustContainNone(t, "503 body", string(body), "127.0.0.1", "refused")
	resp, _ = srv.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz with postgres down: %d", resp.StatusCode)
	}
	srv.Close()
	if !strings.Contains(srv.logs.String(), "readiness check failed") {
		t.Fatalf("failed check not logged: %s", srv.logs.String())
	}
}

func TestDocsAndSpecServed(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, pgtest.NewDB(t), redistest.Start(t).Client())
	for path, ctype := range map[string]string{
		"/docs":         "text/html",
		"/openapi.json": "application/openapi+json",
		"/openapi.yaml": "application/openapi+yaml",
	} {
		resp, body := srv.do(t, http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if path == "/openapi.json" && !json.Valid(body) {
			t.Errorf("GET %s: not JSON", path)
		}
	}
}
