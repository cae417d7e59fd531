package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestReadinessNamesUnverifiableAPO: the key on record at APO is not our
// merchant key, and the sandbox answers the SIGNATURE_INVALID rejections
// unsigned (its unsignedRejections fault). After a run of such replies
// /readyz stays 200 but says degraded, naming the likely cause; once the
// key is fixed, one verified reply makes it ok again.
func TestReadinessNamesUnverifiableAPO(t *testing.T) {
	t.Parallel()
	gw := sandboxtest.MisregisteredGateway(t)
	client := sandboxtest.NewClient(t, gw.URL)
	logs := &logtest.Buffer{}
	svc := newServices(logging.New(logs, slog.LevelDebug), pgtest.NewDB(t), redistest.Start(t).Client())
	svc.checks = append(svc.checks, apoCheck(client))
	h, _ := newHandler(svc)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	srv := &testServer{Server: ts, logs: logs}

	ready := func() (string, string) {
		t.Helper()
		resp, body := srv.do(t, http.MethodGet, "/readyz", "", nil)
		var out struct {
			Status string
			Checks map[string]string
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
		return out.Status, out.Checks["apo"]
	}
	if status, check := ready(); status != "ok" || check != "ok" {
		t.Fatalf("before any call: %s, apo %q", status, check)
	}
	for range apo.DegradedAfter {
		if _, err := client.Pay(context.Background(), sandboxtest.CardPay("ready-1")); !apo.IsUnknown(err) {
			t.Fatalf("pay answered unsigned: %v, want unknown", err)
		}
	}
	status, check := ready()
	if status != "degraded" || !strings.HasPrefix(check, "degraded: ") || !strings.Contains(check, "wrong key pair") ||
		!strings.Contains(check, "SIGNATURE_INVALID") {
		t.Fatalf("after %d unverifiable replies: %s, apo %q", apo.DegradedAfter, status, check)
	}

	gw.Fix()
	if _, err := client.Pay(context.Background(), sandboxtest.CardPay("ready-2")); err != nil {
		t.Fatalf("pay once the key is fixed: %v", err)
	}
	if status, check := ready(); status != "ok" || check != "ok" {
		t.Fatalf("after a verified reply: %s, apo %q", status, check)
	}
}
