package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

func TestAuthProblems(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	srv := newTestServer(t, db, redistest.Start(t).Client())
	_, viewer := mustCreateKey(t, db, "viewer", auth.RoleViewer)
	_, checkout := mustCreateKey(t, db, "checkout", auth.RoleCheckout)
	revokedKey, revoked := mustCreateKey(t, db, "gone", auth.RoleAdmin)
	if _, err := auth.NewStore(db).Revoke(context.Background(), revokedKey.ID); err != nil {
		t.Fatal(err)
	}

	resp, body := srv.do(t, http.MethodGet, "/v1/api-keys", "", nil)
	mustProblem(t, resp, body, http.StatusUnauthorized)
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
	}
	for name, key := range map[string]string{
		"unknown":   "pk_" + strings.Repeat("A", 43),
		"malformed": "not-a-key",
		"revoked":   revoked,
	} {
		resp, body := srv.do(t, http.MethodGet, "/v1/api-keys", key, nil)
		p := mustProblem(t, resp, body, http.StatusUnauthorized)
		if p.Detail != "invalid or revoked API key" {
			t.Errorf("%s: detail %q", name, p.Detail)
		}
	}
	// Basic credentials are not a bearer key.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/api-keys", nil)
	req.SetBasicAuth("admin", viewer)
	r2, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Errorf("basic auth: status %d, want 401", r2.StatusCode)
	}

	for _, tc := range []struct{ method, path, key string }{
		{http.MethodGet, "/v1/api-keys", viewer},
		{http.MethodPost, "/v1/api-keys", viewer},
		{http.MethodGet, "/v1/audit-log", viewer},
		{http.MethodGet, "/v1/audit-log", checkout},
		{http.MethodDelete, "/v1/api-keys/" + revokedKey.ID, checkout},
	} {
		var body any
		if tc.method == http.MethodPost {
			body = map[string]string{"name": "x", "role": "admin"}
		}
		resp, b := srv.do(t, tc.method, tc.path, tc.key, body)
		p := mustProblem(t, resp, b, http.StatusForbidden)
		if !strings.Contains(p.Detail, "lacks permission admin") {
			t.Errorf("%s %s: detail %q", tc.method, tc.path, p.Detail)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM api_keys`); err != nil || n != 3 {
		t.Errorf("forbidden create changed api_keys: %d rows (%v), want 3", n, err)
	}
}

// TestAPIKeyLifecycle creates a key through the API, uses it, revokes it,
// and then searches every table and the logs for the raw keys.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	srv := newTestServer(t, db, redistest.Start(t).Client())
	adminKey, admin := mustCreateKey(t, db, "root", auth.RoleAdmin)

	resp, body := srv.do(t, http.MethodPost, "/v1/api-keys", admin, map[string]string{"name": "ops-team", "role": "operator"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var created struct {
		APIKey
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	newKey := created.Key
	if !strings.HasPrefix(newKey, created.Prefix) || !strings.HasPrefix(newKey, "pk_") || created.Role != auth.RoleOperator ||
		created.Name != "ops-team" || created.CreatedBy != "root" || created.RevokedAt != nil {
		t.Fatalf("created %+v", created)
	}

	// The audit row names the admin, the new key and this request.
	entries, _, err := audit.NewStore(db).List(ctx, audit.Filter{Action: audit.ActionAPIKeyCreate})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit rows %+v, %v", entries, err)
	}
	e := entries[0]
	if e.Actor != "root" || e.KeyID != adminKey.ID || e.Role != "admin" || e.Target != "api-key:"+created.ID ||
		e.Outcome != audit.OutcomeSucceeded || e.RequestID != resp.Header.Get("X-Request-Id") || e.RemoteAddr == "" {
		t.Fatalf("audit row %+v (request id %q)", e, resp.Header.Get("X-Request-Id"))
	}
	var in apiKeyAuditInput
	if err := json.Unmarshal(e.Input.(json.RawMessage), &in); err != nil || in != (apiKeyAuditInput{Name: "ops-team", Role: "operator"}) {
		t.Fatalf("audit input %s (%v)", e.Input, err)
	}

	// The new key authenticates: an operator is refused admin routes (403,
	// not 401).
	resp, body = srv.do(t, http.MethodGet, "/v1/api-keys", newKey, nil)
	mustProblem(t, resp, body, http.StatusForbidden)

	resp, body = srv.do(t, http.MethodGet, "/v1/api-keys", admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal(body, &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("list %s (%v)", body, err)
	}
	for _, item := range list.Items {
		for _, field := range []string{"key", "key_hash", "hash"} {
			if _, ok := item[field]; ok {
				t.Errorf("list item has %q: %v", field, item)
			}
		}
	}
	if item := list.Items[0]; item["id"] != created.ID || item["last_used_at"] == nil {
		t.Errorf("newest key first with last_used_at: %v", item)
	}

	resp, body = srv.do(t, http.MethodDelete, "/v1/api-keys/"+created.ID, admin, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = srv.do(t, http.MethodGet, "/v1/api-keys", newKey, nil)
	mustProblem(t, resp, body, http.StatusUnauthorized)
	revokes, _, err := audit.NewStore(db).List(ctx, audit.Filter{Action: audit.ActionAPIKeyRevoke, Target: "api-key:" + created.ID})
	if err != nil || len(revokes) != 1 || revokes[0].Actor != "root" {
		t.Fatalf("revoke audit rows %+v, %v", revokes, err)
	}

	resp, body = srv.do(t, http.MethodDelete, "/v1/api-keys/0190a0c0-0000-7000-8000-000000000000", admin, nil)
	mustProblem(t, resp, body, http.StatusNotFound)
	resp, body = srv.do(t, http.MethodDelete, "/v1/api-keys/not-a-uuid", admin, nil)
	mustProblem(t, resp, body, http.StatusUnprocessableEntity)
	for _, bad := range []map[string]string{
		{"name": "x", "role": "root"},
		{"name": "", "role": "admin"},
		{"name": "   ", "role": "admin"}, // passes the schema, fails the store's rule
	} {
		resp, body = srv.do(t, http.MethodPost, "/v1/api-keys", admin, bad)
		mustProblem(t, resp, body, http.StatusUnprocessableEntity)
	}

	// Neither key is anywhere but in the one response: not in any table,
	// not in the logs.
	var dump []string
	for _, table := range []string{"api_keys", "audit_log"} {
		var rows []string
		if err := db.Select(&rows, `SELECT t::text FROM `+table+` t`); err != nil {
			t.Fatal(err)
		}
		dump = append(dump, rows...)
	}
	srv.Close()
	logs := srv.logs.String()
	if !strings.Contains(logs, `"path":"/v1/api-keys"`) {
		t.Fatalf("no access log captured: %s", logs)
	}
	for _, key := range []string{newKey, admin} {
		secretPart := key[len(created.Prefix):]
		mustContainNone(t, "table dump", strings.Join(dump, "\n"), key, secretPart)
		mustContainNone(t, "logs", logs, key, secretPart)
	}
}

func TestAuditLogEndpoint(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	srv := newTestServer(t, db, redistest.Start(t).Client())
	_, admin := mustCreateKey(t, db, "root", auth.RoleAdmin)
	st := audit.NewStore(db)
	for i := range 5 {
		actor := "alice"
		if i%2 == 1 {
			actor = "bob"
		}
		if err := st.Record(ctx, audit.Entry{Actor: actor, Role: "operator", Action: "payment.refund",
			Target: "payment:p" + string(rune('0'+i)), Input: map[string]int{"amount": 100 * i}, Outcome: audit.OutcomeSucceeded}); err != nil {
			t.Fatal(err)
		}
	}

	type page struct {
		Items []struct {
			ID     int64           `json:"id"`
			Actor  string          `json:"actor"`
			Target string          `json:"target"`
			Input  json.RawMessage `json:"input"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	get := func(query string) page {
		t.Helper()
		resp, body := srv.do(t, http.MethodGet, "/v1/audit-log"+query, admin, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, resp.StatusCode, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var targets []string
	p := get("?actor=alice&limit=2")
	for {
		for _, it := range p.Items {
			if it.Actor != "alice" {
				t.Fatalf("filter leaked %+v", it)
			}
			targets = append(targets, it.Target)
		}
		if p.NextCursor == "" {
			break
		}
		p = get("?actor=alice&limit=2&cursor=" + p.NextCursor)
	}
	if got := strings.Join(targets, ","); got != "payment:p4,payment:p2,payment:p0" {
		t.Fatalf("alice's rows %s", got)
	}
	one := get("?target=payment:p3")
	if len(one.Items) != 1 || string(one.Items[0].Input) != `{"amount":300}` {
		t.Fatalf("by target: %+v", one)
	}
	if all := get(""); len(all.Items) != 5 || all.NextCursor != "" {
		t.Fatalf("default page: %d items, next %q", len(all.Items), all.NextCursor)
	}

	for _, q := range []string{"?limit=201", "?limit=0", "?cursor=@@@"} {
		resp, body := srv.do(t, http.MethodGet, "/v1/audit-log"+q, admin, nil)
		mustProblem(t, resp, body, http.StatusUnprocessableEntity)
	}
}

// TestUnexpectedErrorIsBare500 makes authentication fail on an unreachable
// database: the client gets a problem without detail, the log gets the error.
func TestUnexpectedErrorIsBare500(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, unreachableDB(t), redistest.Start(t).Client())
	resp, body := srv.do(t, http.MethodGet, "/v1/api-keys", "pk_"+strings.Repeat("A", 43), nil)
	p := mustProblem(t, resp, body, http.StatusInternalServerError)
	if p.Detail != "" || len(p.Errors) != 0 {
		t.Fatalf("500 carries detail: %s", body)
	}
	mustContainNone(t, "500 body", string(body), "127.0.0.1", "dial", "connect")
	srv.Close()
	if !strings.Contains(srv.logs.String(), "authentication error") {
		t.Fatalf("error not logged: %s", srv.logs.String())
	}
}
