package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/apometrics"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestReadyzAndMetricsNameUnverifiableAPO: against a sandbox that has the
// wrong key on record and answers its rejections unsigned, the worker's
// /readyz turns degraded naming the likely cause and /metrics counts the
// replies; one verified reply, once the key is fixed, clears the gauge and
// the degradation while the counter keeps its count.
func TestReadyzAndMetricsNameUnverifiableAPO(t *testing.T) {
	t.Parallel()
	gw := sandboxtest.MisregisteredGateway(t)
	client := sandboxtest.NewClient(t, gw.URL)
	quiet := slog.New(slog.DiscardHandler)
	up := func(context.Context) error { return nil }
	srv := httptest.NewServer(opsHandler(startedTrue(), []*probe{newProbe("postgres", up, quiet), newProbe("redis", up, quiet)},
		client, apometrics.NewCollector(client)))
	t.Cleanup(srv.Close)

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b)
	}
	ready := func() (string, string) {
		t.Helper()
		code, body := get("/readyz")
		var out struct {
			Status string
			Checks map[string]string
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		return out.Status, out.Checks["apo"]
	}
	metrics := func(want ...string) {
		t.Helper()
		_, body := get("/metrics")
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				t.Fatalf("/metrics lacks %q:\n%s", w, body)
			}
		}
	}

	if status, check := ready(); status != "ok" || check != "ok" {
		t.Fatalf("before any call: %s, apo %q", status, check)
	}
	metrics(`payops_apo_unverifiable_consecutive 0`, `payops_apo_unverifiable_replies_total{cause="signature_invalid"} 0`)
	for range apo.DegradedAfter {
		_, _ = client.InquiryPayment(context.Background(), apo.InquiryPaymentRequest{PaymentRequestID: "w-1"})
	}
	status, check := ready()
	if status != "degraded" || !strings.Contains(check, "wrong key pair") {
		t.Fatalf("after %d unverifiable replies: %s, apo %q", apo.DegradedAfter, status, check)
	}
	metrics(`payops_apo_unverifiable_consecutive 3`, `payops_apo_unverifiable_replies_total{cause="signature_invalid"} 3`,
		`payops_apo_unverifiable_replies_total{cause="unsigned_reply"} 0`)

	gw.Fix()
	if _, err := client.Pay(context.Background(), sandboxtest.CardPay("w-2")); err != nil {
		t.Fatalf("pay once the key is fixed: %v", err)
	}
	if status, check := ready(); status != "ok" || check != "ok" {
		t.Fatalf("after a verified reply: %s, apo %q", status, check)
	}
	metrics(`payops_apo_unverifiable_consecutive 0`, `payops_apo_unverifiable_replies_total{cause="signature_invalid"} 3`)

	// A dependency down makes the worker unavailable, whatever APO says.
	down := newProbe("postgres", func(context.Context) error { return context.DeadlineExceeded }, quiet)
	down.check(context.Background())
	srv2 := httptest.NewServer(opsHandler(startedTrue(), []*probe{down}, client))
	t.Cleanup(srv2.Close)
	res, err := http.Get(srv2.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Status string
		Checks map[string]string
	}
	err = json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || out.Status != "unavailable" ||
		out.Checks["postgres"] != "unreachable" || out.Checks["apo"] != "ok" {
		t.Fatalf("/readyz with postgres down: %d %+v %v", res.StatusCode, out, err)
	}
}
