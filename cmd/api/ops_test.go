package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynqmon"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	r := redistest.Start(t)
	rdb := r.Client()
	defer rdb.Close()
	svc := newServices(slog.New(slog.NewJSONHandler(io.Discard, nil)), db, rdb)
	svc.queueUI = asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: r.Opt()})
	h, _ := newHandler(svc)
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, admin := mustCreateKey(t, db, "ops-admin", auth.RoleAdmin)
	_, viewer := mustCreateKey(t, db, "ops-viewer", auth.RoleViewer)

	get := func(path string, set func(*http.Request)) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get("/metrics", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+viewer) }); resp.StatusCode != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	resp, _ := get("/ops/queues/", nil)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("queue UI without a key: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := get("/ops/queues/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+viewer) }); resp.StatusCode != 403 {
		t.Fatalf("queue UI with a viewer key: %d", resp.StatusCode)
	}
	resp, body := get("/ops/queues/", func(r *http.Request) { r.SetBasicAuth("admin", admin) })
	if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("queue UI as admin (basic auth): %d", resp.StatusCode)
	}
	if resp, body := get("/ops/queues/api/queues", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+admin) }); resp.StatusCode != 200 || !strings.Contains(body, "queues") {
		t.Fatalf("queue UI API as admin: %d %s", resp.StatusCode, body)
	}
	// The profiler: admin only, like the queue UI.
	if resp, _ := get("/debug/pprof/heap", nil); resp.StatusCode != 401 {
		t.Fatalf("pprof without a key: %d", resp.StatusCode)
	}
	if resp, _ := get("/debug/pprof/goroutine?debug=1", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+viewer) }); resp.StatusCode != 403 {
		t.Fatalf("pprof with a viewer key: %d", resp.StatusCode)
	}
	if resp, body := get("/debug/pprof/goroutine?debug=1", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+admin) }); resp.StatusCode != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("pprof as admin: %d", resp.StatusCode)
	}
}
