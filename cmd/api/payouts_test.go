package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// TestPayoutsAPI registers two payouts through a payout check, pays one
// by a statement, and reads them back through the API.
func TestPayoutsAPI(t *testing.T) {
	e := &bankEnv{db: pgtest.NewDB(t)}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	rs := recon.NewService(e.db, recon.Config{ReportsDir: filepath.Join(dir, "r"), ArchiveDir: filepath.Join(dir, "a"),
		ExportDir: filepath.Join(dir, "e")}, log)
	ps := payout.NewService(e.db, payout.Config{Default: recon.Calendar{Days: 1}}, rs)
	bs := bank.NewService(e.db, bank.Config{ArchiveDir: filepath.Join(dir, "bank")}, log)
	svc := newServices(log, e.db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	svc.payouts = ps
	h, _ := newHandler(svc)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	_, e.viewer = mustCreateKey(t, e.db, "viewer-1", auth.RoleViewer)
	_, e.finance = mustCreateKey(t, e.db, "finance-1", auth.RoleFinance)
	_, e.admin = mustCreateKey(t, e.db, "admin-1", auth.RoleAdmin)

	if _, err := bs.CreateAccount(ctx, bank.NewAccount{Name: "Main", Number: "37040044/0532013000", Currency: "EUR",
		SettlementCurrency: "EUR", Remitters: []string{"APO"}}); err != nil {
		t.Fatal(err)
	}
	stmt := ":20:S1\r\n:25:37040044/0532013000\r\n:28C:00001/001\r\n:60F:C261207EUR0,00\r\n" +
		":61:2612081208C1000,00NTRFNONREF//X1\r\n:86:/EREF/P1/REMI/USTD//Payout P1/NAME/APO\r\n" +
		":62F:C261208EUR1000,00\r\n-\r\n"
	if _, err := bs.Ingest(ctx, "s1.sta", strings.NewReader(stmt)); err != nil {
		t.Fatal(err)
	}
	tx := e.db.MustBeginTx(ctx, nil)
	run := recon.Run{Period: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Batches: []recon.Batch{
		{BatchID: "P1", Currency: "EUR", Summary: 100000, HasSummary: true},
		{BatchID: "P2", Currency: "EUR", Summary: 5000, HasSummary: true}}}
	if err := tx.GetContext(ctx, &run.ID, `INSERT INTO recon_runs (period, request, input_file_ids, inputs, status,
		actor, created_at) VALUES ('2026-12-07', '{}', '{}', '[]', 'RUNNING', 'test', now()) RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ps.CheckPayouts(ctx, tx, run, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	if resp, _ := e.get(t, "/v1/payouts", e.viewer); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer: %d, want 403", resp.StatusCode)
	}
	resp, body := e.get(t, "/v1/payouts?status=RECEIVED", e.finance)
	var list struct{ Items []Payout }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if len(list.Items) != 1 || list.Items[0].BatchID != "P1" || list.Items[0].Received.Value != 100000 ||
		len(list.Items[0].Links) != 1 || list.Items[0].Links[0].Method != "REFERENCE" {
		t.Fatalf("received payouts: %s", body)
	}
	resp, body = e.get(t, "/v1/payouts/"+strconv.FormatInt(list.Items[0].ID, 10), e.admin)
	var d PayoutDetail
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &d) != nil {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	if len(d.Credits) != 1 || d.Credits[0].StatementFile != "s1.sta" || d.Credits[0].EndToEndID != "P1" {
		t.Errorf("credits: %s", body)
	}
	if resp, _ := e.get(t, "/v1/payouts/999", e.finance); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown payout: %d, want 404", resp.StatusCode)
	}
	for _, q := range []string{"payment_id=nope", "due_from=7.12.2026", "status=LOST"} {
		if resp, body := e.get(t, "/v1/payouts?"+q, e.finance); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422: %s", q, resp.StatusCode, body)
		}
	}
}
