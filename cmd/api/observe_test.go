package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

// TestMetricsNeedAKey: /metrics answers a key that may read (viewer and
// up), refuses a checkout key and anyone without a key.
func TestMetricsNeedAKey(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	srv := newTestServer(t, db, redistest.Start(t).Client())
	_, viewer := mustCreateKey(t, db, "prometheus", auth.RoleViewer)
	_, checkout := mustCreateKey(t, db, "shop", auth.RoleCheckout)
	for key, status := range map[string]int{"": http.StatusUnauthorized, "pk_nope": http.StatusUnauthorized,
		checkout: http.StatusForbidden, viewer: http.StatusOK} {
		resp, body := srv.do(t, http.MethodGet, "/metrics", key, nil)
		if resp.StatusCode != status {
			t.Errorf("key %.8q: %d, want %d: %s", key, resp.StatusCode, status, body)
		}
		if status != http.StatusOK && strings.Contains(string(body), "go_goroutines") {
			t.Errorf("key %.8q: metrics shown to a refused caller", key)
		}
	}
}

// TestHTTPObservability: requests are counted by route pattern, method
// and status (never by raw path); the database gauges (failed webhooks,
// reconciliation) are scraped; the access log names the API key; answers
// carry nosniff, and /v1 answers no-store.
func TestHTTPObservability(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	db, srv := e.db, e.srv
	key, viewer := mustCreateKey(t, db, "prometheus", auth.RoleViewer)
	const id = "01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e"
	db.MustExec(`INSERT INTO webhook_events (id, dedupe_key, raw_body, headers, request_uri, verdict, state, received_at)
		VALUES ('01937a2e-0000-7000-8000-000000000001', 'd1', '{}', '{}', '/webhooks/apo', 'valid', 'FAILED', now())`)

	resp, body := e.call(t, http.MethodGet, "/v1/payments/"+id, viewer, nil)
	mustProblem(t, resp, body, http.StatusNotFound)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/v1 problem headers: %v", resp.Header)
	}
	resp, _ = e.call(t, http.MethodGet, "/healthz", "", nil)
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "" {
		t.Errorf("/healthz headers: %v", resp.Header)
	}
	e.call(t, http.MethodGet, "/no/such/"+id, "", nil)

	resp, body = e.call(t, http.MethodGet, "/metrics", viewer, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	metrics := string(body)
	for _, want := range []string{
		`payops_http_request_duration_seconds_count{method="GET",route="/v1/payments/{id}",status="404"} 1`,
		`payops_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`,
		`payops_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
		"payops_webhook_events_failed 1",
		`payops_recon_open_discrepancies{kind="AMOUNT_MISMATCH"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, id) {
		t.Errorf("/metrics holds a raw path with an id")
	}

	srv.Close() // every access-log line is written once the server is closed
	var lines int
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil || l["msg"] != "http request" {
			continue
		}
		switch l["path"] {
		case "/v1/payments/" + id, "/metrics":
			lines++
			if l["api_key_id"] != key.ID || l["route"] == nil {
				t.Errorf("access log line %s lacks api_key_id %s or the route", sc.Bytes(), key.ID)
			}
		case "/healthz":
			if _, ok := l["api_key_id"]; ok {
				t.Errorf("a request without a key names one: %s", sc.Bytes())
			}
		}
	}
	if lines != 2 {
		t.Fatalf("%d access-log lines for keyed requests, want 2:\n%s", lines, e.logs.String())
	}
}
