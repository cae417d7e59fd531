package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/pquerna/otp/totp"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/users"
)

var update = flag.Bool("update", false, "rewrite openapi/openapi.yaml from the code")

const specFile = "../../openapi/openapi.yaml"

// TestOpenAPIGolden fails when the committed spec differs from what the
// code generates. Run `go test ./cmd/api -run OpenAPI -update` (or
// `make openapi`) after changing the API.
func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	var got bytes.Buffer
	if err := run(context.Background(), []string{"openapi"}, env(nil), &got); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(specFile, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("openapi/openapi.yaml is stale: regenerate it with `go run ./cmd/api openapi > openapi/openapi.yaml`\n%s",
			firstDiff(string(want), got.String()))
	}
	for _, s := range []string{"title: payops", "bearer:", "/v1/api-keys", "/v1/audit-log", "/healthz", "/readyz"} {
		if !strings.Contains(got.String(), s) {
			t.Errorf("spec lacks %q", s)
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return ""
}

// TestEveryOperationDeclaresAccess keeps the fail-closed default of
// authenticate from ever being what decides: each operation says either
// who may call it or that it is public.
func TestEveryOperationDeclaresAccess(t *testing.T) {
	t.Parallel()
	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	n := 0
	for path, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head, item.Options} {
			if op == nil {
				continue
			}
			n++
			need, hasNeed := op.Metadata[metaNeed].(auth.Need)
			isPublic, _ := op.Metadata[metaPublic].(bool)
			switch {
			case hasNeed == isPublic:
				t.Errorf("%s %s: declares need=%v public=%v, want exactly one", op.Method, path, hasNeed, isPublic)
			case hasNeed && (!need.Valid() || len(op.Security) != 1):
				t.Errorf("%s %s: need %q, security %v", op.Method, path, need, op.Security)
			case isPublic && len(op.Security) != 0:
				t.Errorf("%s %s: public but has security %v", op.Method, path, op.Security)
			}
		}
	}
	if n < 6 {
		t.Fatalf("only %d operations registered", n)
	}
}

// TestRoleEnumsMatchAuth ties the enum tags of the API to auth.Roles.
func TestRoleEnumsMatchAuth(t *testing.T) {
	t.Parallel()
	var roles []string
	for _, r := range auth.Roles() {
		roles = append(roles, string(r))
	}
	want := strings.Join(roles, ",")
	for _, typ := range []reflect.Type{reflect.TypeFor[APIKey](), reflect.TypeFor[CreateAPIKeyInput]().Field(0).Type} {
		f, ok := typ.FieldByName("Role")
		if !ok || f.Tag.Get("enum") != want {
			t.Errorf("%s.Role enum %q, want %q", typ, f.Tag.Get("enum"), want)
		}
	}
}

func TestRunCommandErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := run(ctx, []string{"frobnicate"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	var cerr *config.Error
	err := run(ctx, []string{"serve"}, env(map[string]string{"PAYOPS_HTTP_ADDR": "nonsense"}), io.Discard)
	if !errors.As(err, &cerr) || cerr.Var != "PAYOPS_HTTP_ADDR" {
		t.Errorf("bad config: %v, want a config error naming PAYOPS_HTTP_ADDR", err)
	}
	for _, args := range [][]string{
		{"keys"}, {"keys", "delete"}, {"keys", "create", "--name", "x"},
		{"keys", "create", "--name", "x", "--role", "root"}, {"keys", "create", "--bogus"},
		{"users"}, {"users", "delete"}, {"users", "create", "--email", "a@example.com"},
		{"users", "create", "--email", "a@example.com", "--role", "root"}, {"users", "create", "--bogus"},
		{"users", "create", "--email", "a@example.com", "--role", "viewer", "extra"},
		{"openapi", "extra"}, {"serve", "extra"},
	} {
		var out bytes.Buffer
		if err := run(ctx, args, env(nil), &out); err == nil {
			t.Errorf("run %v succeeded", args)
		}
		if out.Len() != 0 {
			t.Errorf("run %v wrote %q", args, out.String())
		}
	}
}

func TestKeysCreateCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewURL(t)
	e := env(map[string]string{"DATABASE_URL": url})
	if err := run(ctx, []string{"migrate"}, e, io.Discard); err != nil {
		t.Fatalf("migrate on a migrated database: %v", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"keys", "create", "--name", "dev admin", "--role", "admin"}, e, &out); err != nil {
		t.Fatal(err)
	}
	raw := strings.TrimSuffix(out.String(), "\n")
	if strings.Contains(raw, "\n") || !strings.HasPrefix(raw, "pk_") {
		t.Fatalf("stdout %q, want the key alone on one line", out.String())
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	actor, err := auth.NewStore(db).Authenticate(ctx, raw)
	if err != nil || actor.Name != "dev admin" || actor.Role != auth.RoleAdmin {
		t.Fatalf("printed key authenticates as %+v, %v", actor, err)
	}
	entries, _, err := audit.NewStore(db).List(ctx, audit.Filter{Actor: "cli"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("cli audit rows %+v, %v", entries, err)
	}
	if e := entries[0]; e.Action != audit.ActionAPIKeyCreate || e.Target != "api-key:"+actor.KeyID || e.KeyID != "" {
		t.Fatalf("audit row %+v", e)
	}
	var dump []string
	if err := db.Select(&dump, `SELECT t::text FROM api_keys t UNION ALL SELECT t::text FROM audit_log t`); err != nil {
		t.Fatal(err)
	}
	mustContainNone(t, "table dump", strings.Join(dump, "\n"), raw, raw[len("pk_")+6:])
}

// TestUsersCreateCommand: the printed password and TOTP secret log the new
// user in; the audit row names the cli; no table holds either secret.
func TestUsersCreateCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewURL(t)
	e := env(map[string]string{"DATABASE_URL": url})
	var out bytes.Buffer
	if err := run(ctx, []string{"users", "create", "--email", "ops@example.com", "--role", "operator"}, e, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("line %q is not name: value", line)
		}
		got[name] = strings.TrimSpace(value)
	}
	if len(got) != 5 || got["email"] != "ops@example.com" || got["role"] != "operator" || len(got["password"]) < users.MinPasswordLen ||
		got["totp-secret"] == "" || !strings.HasPrefix(got["totp-url"], "otpauth://totp/payops:ops@example.com?") {
		t.Fatalf("stdout:\n%s", out.String())
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rdb := redistest.Start(t).Client()
	defer rdb.Close()
	svc := users.New(db, rdb, slog.New(slog.DiscardHandler), users.Config{})
	code, err := totp.GenerateCode(got["totp-secret"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := svc.Login(ctx, users.LoginRequest{Email: "ops@example.com", Password: users.Secret(got["password"]), Code: code})
	if err != nil {
		t.Fatalf("login with the printed password and secret: %v", err)
	}
	if u, _, err := svc.Authenticate(ctx, tok); err != nil || u.Role != auth.RoleOperator || u.CreatedBy != "cli" {
		t.Fatalf("authenticated as %+v, %v", u, err)
	}
	entries, _, err := audit.NewStore(db).List(ctx, audit.Filter{Actor: "cli"})
	if err != nil || len(entries) != 1 || entries[0].Action != users.ActionCreate || entries[0].Role != "admin" {
		t.Fatalf("cli audit rows %+v, %v", entries, err)
	}

	// A viewer gets no second factor to print.
	out.Reset()
	if err := run(ctx, []string{"users", "create", "--email", "viewer@example.com", "--role", "viewer"}, e, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "totp") || !strings.Contains(out.String(), "password:") {
		t.Fatalf("viewer stdout:\n%s", out.String())
	}
	var dump []string
	if err := db.Select(&dump, `SELECT t::text FROM console_users t UNION ALL SELECT t::text FROM audit_log t`); err != nil {
		t.Fatal(err)
	}
	mustContainNone(t, "table dump", strings.Join(dump, "\n"), got["password"])
	if err := run(ctx, []string{"users", "create", "--email", "OPS@example.com", "--role", "admin"}, e, io.Discard); !errors.Is(err, users.ErrDuplicate) {
		t.Fatalf("same email again: %v, want ErrDuplicate", err)
	}
}

// TestRunServe is the end-to-end check of the process: run serves on a
// free port from a fake environment, answers /healthz, and returns nil
// once its context is cancelled.
func TestRunServe(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, env(withKeys(t, map[string]string{
			"DATABASE_URL":     pgtest.NewURL(t),
			"REDIS_ADDR":       closedPort(t), // Redis is only needed by /readyz and the queue
			"PAYOPS_HTTP_ADDR": addr,
		})), io.Discard)
	}()

	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before serving: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(shutdownTimeout + 2*time.Minute):
		t.Fatal("run did not return after cancel")
	}
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

// withKeys adds dev APO key files to a test environment: serve builds its
// APO client at start and refuses to run without them.
func withKeys(t *testing.T, m map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	priv, pub, err := apo.GenerateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	m["APO_PRIVATE_KEY_FILE"] = filepath.Join(dir, "merchant_private.pem")
	m["APO_PUBLIC_KEY_FILE"] = filepath.Join(dir, "apo_public.pem")
	for name, b := range map[string][]byte{m["APO_PRIVATE_KEY_FILE"]: priv, m["APO_PUBLIC_KEY_FILE"]: pub} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
