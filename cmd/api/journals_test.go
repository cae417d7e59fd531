package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// journalEnv is the whole api handler over a fresh database with a real
// journal.Service, and a recon.Service to make runs with, its after-run
// hook left unset so the API's build is what books them.
type journalEnv struct {
	*bankEnv
	recon *recon.Service
}

func newJournalEnv(t *testing.T) *journalEnv {
	t.Helper()
	e := &journalEnv{bankEnv: &bankEnv{db: pgtest.NewDB(t)}}
	log := logging.New(&logtest.Buffer{}, slog.LevelDebug)
	svc := newServices(log, e.db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	svc.journals = journal.NewService(e.db, recon.NewStore(e.db))
	h, _ := newHandler(svc)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	_, e.viewer = mustCreateKey(t, e.db, "viewer-1", auth.RoleViewer)
	_, e.finance = mustCreateKey(t, e.db, "finance-1", auth.RoleFinance)
	_, e.admin = mustCreateKey(t, e.db, "admin-1", auth.RoleAdmin)
	e.recon = recon.NewService(e.db, recon.Config{ReportsDir: t.TempDir(), ArchiveDir: t.TempDir(),
		ExportDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return e
}

// run reconciles one USD batch settled on 30 November 2026: captures of
// 100.00 (fee 3.00) and, when late, a second of 50.00 (fee 1.50).
func (e *journalEnv) run(t *testing.T, late bool) recon.Run {
	t.Helper()
	ctx := context.Background()
	items := "settlementBatchId,customerId,acquirer,transactionType,transactionId,settlementTime," +
		"settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency\n" +
		"B-API,C1,ADYEN,CAPTURE,T1,2026-11-30T23:59:59Z,100.00,USD,-3.00,USD\n"
	count, payout := "1", "97.00"
	if late {
		items += "B-API,C1,ADYEN,CAPTURE,T2,2026-11-30T23:59:59Z,50.00,USD,-1.50,USD\n"
		count, payout = "2", "145.50"
	}
	files := map[string]string{
		"C1/20261130/settlementItems_USD_B-API_000.csv": items + "<END>\n",
		"C1/20261130/settlementSummary_USD_B-API_000.csv": "settlementBatchId,customerId,acquirer,summaryType,count," +
			"settlementAmountValue,settlementCurrency\nB-API,C1,ADYEN,TOTAL," + count + "," + payout + ",USD\n<END>\n",
	}
	var ids []int64
	for path, content := range files {
		f, err := e.recon.Ingest(ctx, path, strings.NewReader(content))
		if err != nil || f.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %+v %v", path, f, err)
		}
		ids = append(ids, f.ID)
	}
	run, err := e.recon.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("run: %+v %v", run, err)
	}
	return run
}

func (e *journalEnv) build(t *testing.T, runID int64) []JournalBuildResult {
	t.Helper()
	resp, body := e.send(t, http.MethodPost, "/v1/journals/build", e.finance, "", map[string]int64{"run_id": runID})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("build: %d %s", resp.StatusCode, body)
	}
	var out struct{ Results []JournalBuildResult }
	unmarshalJournal(t, body, &out)
	return out.Results
}

func unmarshalJournal(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}

const apiChart = "kind,currency,account_code,account_name,tax_code,tracking_name,tracking_option\n" +
	"CAPTURE_GROSS,,1210,APO receivable,Tax Exempt,Class,Online\n" +
	"FEE_PROCESSING,,6100,Card fees,Tax Exempt,,\n" +
	"PAYOUT_CLEARING,USD,1090,Clearing USD,Tax Exempt,,\n"

// TestJournalAPI builds a run's journals through the API, reads them,
// loads the chart, and exports each format; an unmapped kind is a problem
// naming it.
func TestJournalAPI(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	run := e.run(t, false)
	res := e.build(t, run.ID)
	if len(res) != 1 || res[0].Outcome != "BUILT" || res[0].JournalID == 0 {
		t.Fatalf("build: %+v", res)
	}
	if again := e.build(t, run.ID); again[0].Outcome != "UNCHANGED" {
		t.Errorf("build again: %+v", again)
	}
	resp, body := e.send(t, http.MethodPost, "/v1/journals/build", e.finance, "", map[string]int64{"run_id": 999})
	mustProblem(t, resp, body, http.StatusUnprocessableEntity)

	resp, body = e.get(t, "/v1/journals?period_from=2026-11-01&period_to=2026-11-30&status=BALANCED", e.finance)
	var list JournalListOutput
	unmarshalJournal(t, body, &list.Body)
	if resp.StatusCode != http.StatusOK || len(list.Body.Items) != 1 || list.Body.Items[0].BatchID != "B-API" ||
		list.Body.Items[0].Lines != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.get(t, "/v1/journals?period_from=2026-12-01", e.finance); !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("December: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get(t, "/v1/journals", e.viewer)
	mustProblem(t, resp, body, http.StatusForbidden)

	resp, body = e.get(t, "/v1/journals/"+strconv.FormatInt(res[0].JournalID, 10), e.finance)
	var j Journal
	unmarshalJournal(t, body, &j)
	if resp.StatusCode != http.StatusOK || len(j.Lines) != 3 || j.Payout.Value != 9_700 || j.Date != "2026-11-30" {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get(t, "/v1/journals/99999", e.finance)
	mustProblem(t, resp, body, http.StatusNotFound)

	export := "/v1/journals/export?period_from=2026-11-01&period_to=2026-11-30&format="
	resp, body = e.get(t, export+"generic", e.finance)
	p := mustProblem(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "CAPTURE_GROSS") || len(p.Errors) != 3 {
		t.Errorf("unmapped: %+v", p)
	}

	put := func(key, chart string) (*http.Response, []byte) {
		return e.call(t, http.MethodPut, "/v1/journal-accounts", key, http.Header{"Content-Type": {"text/csv"}},
			strings.NewReader(chart))
	}
	resp, body = put(e.finance, "kind,account_code\nNOT_A_KIND,1\n")
	if p := mustProblem(t, resp, body, http.StatusUnprocessableEntity); !strings.Contains(p.Detail, "line 2") {
		t.Errorf("bad chart: %+v", p)
	}
	resp, body = put(e.viewer, apiChart)
	mustProblem(t, resp, body, http.StatusForbidden)
	if resp, body = put(e.finance, apiChart); resp.StatusCode != http.StatusOK {
		t.Fatalf("chart: %d %s", resp.StatusCode, body)
	}
	if rows := e.audits(t, audit.ActionJournalAccountsReplace); len(rows) != 2 || outcomes(rows)[audit.OutcomeSucceeded] != 1 {
		t.Errorf("chart audit rows: %+v", rows)
	}
	resp, body = e.get(t, "/v1/journal-accounts", e.finance)
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), `"kind"`) != 3 {
		t.Errorf("chart: %d %s", resp.StatusCode, body)
	}

	for format, first := range map[string]string{"generic": "journal_id", "xero": "*Narration", "qbo": "JournalNo",
		"netsuite": "External ID"} {
		resp, body := e.get(t, export+format, e.finance)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", format, resp.StatusCode, body)
		}
		want := `attachment; filename="journals-2026-11-01-2026-11-30-` + format + `.csv"`
		if cd := resp.Header.Get("Content-Disposition"); cd != want {
			t.Errorf("%s: Content-Disposition %q", format, cd)
		}
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil || len(recs) != 4 || recs[0][0] != first {
			t.Errorf("%s: %q %v", format, recs, err)
		}
	}
}

// TestJournalPeriodAPI closes November, books a late run of one of its
// days as an adjustment in December with a link back, and reopens the
// month: admin only, with a reason.
func TestJournalPeriodAPI(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	first := e.build(t, e.run(t, false).ID)

	resp, body := e.send(t, http.MethodPost, "/v1/journal-periods/2026-11/close", e.viewer, "k0", nil)
	mustProblem(t, resp, body, http.StatusForbidden)
	resp, body = e.send(t, http.MethodPost, "/v1/journal-periods/2026-11/close", e.finance, "k1", nil)
	var p JournalPeriod
	unmarshalJournal(t, body, &p)
	if resp.StatusCode != http.StatusOK || p.Status != "CLOSED" || p.ClosedBy != "finance-1" {
		t.Fatalf("close: %d %s", resp.StatusCode, body)
	}
	// The same key replays the answer; a new one finds the month closed.
	if resp, again := e.send(t, http.MethodPost, "/v1/journal-periods/2026-11/close", e.finance, "k1", nil); resp.StatusCode != http.StatusOK ||
		string(again) != string(body) {
		t.Errorf("replay: %d %s", resp.StatusCode, again)
	}
	resp, body = e.send(t, http.MethodPost, "/v1/journal-periods/2026-11/close", e.finance, "k2", nil)
	mustProblem(t, resp, body, http.StatusConflict)
	resp, body = e.send(t, http.MethodPost, "/v1/journal-periods/2026-13/close", e.finance, "k3", nil)
	mustProblem(t, resp, body, http.StatusUnprocessableEntity)

	res := e.build(t, e.run(t, true).ID)
	if len(res) != 1 || res[0].Outcome != "ADJUSTED" {
		t.Fatalf("late run: %+v", res)
	}
	resp, body = e.get(t, "/v1/journals/"+strconv.FormatInt(res[0].JournalID, 10), e.finance)
	var adj Journal
	unmarshalJournal(t, body, &adj)
	if resp.StatusCode != http.StatusOK || adj.AdjustsJournalID != first[0].JournalID || adj.Date != "2026-12-01" ||
		adj.Payout.Value != 4_850 || len(adj.Lines) != 3 {
		t.Fatalf("adjustment: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get(t, "/v1/journals?batch_id=B-API&period_from=2026-12-01", e.finance)
	if !strings.Contains(string(body), `"adjusts_journal_id":`+strconv.FormatInt(first[0].JournalID, 10)) {
		t.Errorf("December's list: %d %s", resp.StatusCode, body)
	}
	// Two journals of the batch, one a page, newest first.
	var page1, page2 JournalListOutput
	_, body = e.get(t, "/v1/journals?batch_id=B-API&limit=1", e.finance)
	unmarshalJournal(t, body, &page1.Body)
	_, body = e.get(t, "/v1/journals?batch_id=B-API&limit=1&cursor="+page1.Body.NextCursor, e.finance)
	unmarshalJournal(t, body, &page2.Body)
	if len(page1.Body.Items) != 1 || page1.Body.Items[0].ID != adj.ID || page1.Body.NextCursor == "" ||
		len(page2.Body.Items) != 1 || page2.Body.Items[0].ID != first[0].JournalID || page2.Body.NextCursor != "" {
		t.Errorf("pages: %+v %+v", page1.Body, page2.Body)
	}
	resp, body = e.get(t, "/v1/journals?cursor=x", e.finance)
	mustProblem(t, resp, body, http.StatusUnprocessableEntity)

	reopen := "/v1/journal-periods/2026-11/reopen"
	resp, body = e.send(t, http.MethodPost, reopen, e.finance, "r1", map[string]string{"reason": "late chargeback"})
	mustProblem(t, resp, body, http.StatusForbidden)
	resp, body = e.send(t, http.MethodPost, reopen, e.admin, "r2", map[string]string{"reason": ""})
	mustProblem(t, resp, body, http.StatusUnprocessableEntity)
	resp, body = e.send(t, http.MethodPost, reopen, e.admin, "r3", map[string]string{"reason": "late chargeback"})
	unmarshalJournal(t, body, &p)
	if resp.StatusCode != http.StatusOK || p.Status != "OPEN" || p.ReopenReason != "late chargeback" || p.ReopenedBy != "admin-1" {
		t.Fatalf("reopen: %d %s", resp.StatusCode, body)
	}
	// Refused by role or by validation, a request never reaches the handler that audits.
	for action, n := range map[string]int{audit.ActionJournalPeriodClose: 3, audit.ActionJournalPeriodReopen: 1} {
		if rows := e.audits(t, action); len(rows) != n {
			t.Errorf("%s: %d audit rows, want %d", action, len(rows), n)
		}
	}
	resp, body = e.get(t, "/v1/journal-periods", e.finance)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"month":"2026-11","status":"OPEN"`) {
		t.Errorf("periods: %d %s", resp.StatusCode, body)
	}
}
