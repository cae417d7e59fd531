package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/recon"
)

// ---- fixtures ----

// journalEnv is e's services with journals, behind a console of their own
// (e's is built without them). Cookies go by host, not port, so a session
// made on e's server works on this one too.
type journalEnv struct {
	*env
	jsrv *httptest.Server
	js   *journal.Service
}

func newJournalEnv(t *testing.T) *journalEnv {
	t.Helper()
	e := newEnv(t)
	js := journal.NewService(e.db, recon.NewStore(e.db))
	c, err := New(Deps{Log: slog.New(slog.DiscardHandler), Users: e.users, Payments: e.pay, Disputes: e.disputes,
		Recon: e.recon, Inbox: e.inbox, Journals: js, Audit: e.audit, Keys: auth.NewKeys(e.db), KeyList: auth.NewStore(e.db),
		Idempotency: idempotency.NewStore(e.db), UploadDir: e.recon.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", c)
	srv := httptest.NewServer(httpx.RequestID(mux))
	t.Cleanup(srv.Close)
	return &journalEnv{env: e, jsrv: srv, js: js}
}

// book reconciles one USD batch settled on 30 November 2026 (a capture of
// 100.00, fee 3.00, payout 97.00) and builds its journal, as a run's
// after-success hook does; it returns the journal's id.
func (e *journalEnv) book(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	files := map[string]string{
		"C1/20261130/settlementItems_USD_B-CON_000.csv": "settlementBatchId,customerId,acquirer,transactionType," +
			"transactionId,settlementTime,settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency\n" +
			"B-CON,C1,ADYEN,CAPTURE,T1,2026-11-30T23:59:59Z,100.00,USD,-3.00,USD\n<END>\n",
		"C1/20261130/settlementSummary_USD_B-CON_000.csv": "settlementBatchId,customerId,acquirer,summaryType,count," +
			"settlementAmountValue,settlementCurrency\nB-CON,C1,ADYEN,TOTAL,1,97.00,USD\n<END>\n",
	}
	var ids []int64
	for name, content := range files {
		f, err := e.recon.Ingest(ctx, name, strings.NewReader(content))
		if err != nil || f.Status != recon.FileIngested {
			t.Fatalf("ingest %s: %+v %v", name, f, err)
		}
		ids = append(ids, f.ID)
	}
	run, err := e.recon.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("run: %+v %v", run, err)
	}
	res, err := e.js.BuildRun(ctx, run.ID)
	if err != nil || len(res) != 1 || res[0].Outcome != journal.Built {
		t.Fatalf("build: %+v %v", res, err)
	}
	return res[0].JournalID
}

// journalChart maps the three kinds the test journal books, with what
// every layout needs.
const journalChart = "kind,currency,account_code,account_name,tax_code,tracking_name,tracking_option\n" +
	"CAPTURE_GROSS,,1210,APO receivable,Tax Exempt,Class,Online\n" +
	"FEE_PROCESSING,,6100,Card fees,Tax Exempt,,\n" +
	"PAYOUT_CLEARING,USD,1090,Clearing USD,Tax Exempt,,\n"

// journalNoFees is the chart without the fees' account.
var journalNoFees = strings.Replace(journalChart, "FEE_PROCESSING,,6100,Card fees,Tax Exempt,,\n", "", 1)

func (e *journalEnv) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.jsrv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, c, req)
}

func (e *journalEnv) post(t *testing.T, c *http.Client, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	return e.reconPost(t, c, e.jsrv, path, form)
}

var journalChartToken = regexp.MustCompile(`/console/journals/accounts\?token=([A-Za-z0-9]+)`)

// uploadChart sends chart as the chart page's upload form does, with a
// token from the page.
func (e *journalEnv) uploadChart(t *testing.T, c *http.Client, chart string) (*http.Response, string) {
	t.Helper()
	_, page := e.get(t, c, "/console/journals/accounts")
	m := journalChartToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the chart page has no upload form\n%s", page)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="chart.csv"`)
	h.Set("Content-Type", "text/csv")
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte(chart)); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.jsrv.URL+"/console/journals/accounts?token="+m[1], &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", e.jsrv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.do(t, c, req)
}

// journalShows fails unless the page (unescaped) holds every one of want.
func journalShows(t *testing.T, what, page string, want ...string) {
	t.Helper()
	text := html.UnescapeString(page)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("%s: the page lacks %q\n%s", what, w, page)
		}
	}
}

// journalAudit is the newest audit row of action on target.
func (e *journalEnv) journalAudit(t *testing.T, action, target string) audit.Entry {
	t.Helper()
	rows, _, err := e.audit.List(context.Background(), audit.Filter{Action: action, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("no audit row %s on %s", action, target)
	}
	return rows[0]
}

// ---- tests ----

// TestJournalListAndDetail: finance lists November's journals, with their
// totals right-aligned in major units and a balanced badge, filters by
// currency, and opens one to its lines; the lines show their accounts once
// the chart maps them. Viewers and operators do not see journals.
func TestJournalListAndDetail(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	id := e.book(t)
	fin := e.client(t)
	e.login(t, fin, e.user(t, "finance@example.com", auth.RoleFinance))

	resp, page := e.get(t, fin, "/console/journals?month=2026-11")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d\n%s", resp.StatusCode, page)
	}
	journalShows(t, "list", page, fmt.Sprintf(`href="/console/journals/%d"`, id), "B-CON", "2026-11-30", "Settlement",
		`<td class="num">100.00</td>`, "BALANCED", "November 2026", `href="/console/journals" aria-current="page"`)
	if _, page := e.get(t, fin, "/console/journals?month=2026-11&currency=EUR"); strings.Contains(page, "B-CON") ||
		!strings.Contains(page, "No journal matches these filters") {
		t.Errorf("a EUR list holds the USD journal\n%s", page)
	}
	if resp, page := e.get(t, fin, "/console/journals?currency=XYZ"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "ISO 4217") {
		t.Errorf("an unknown currency: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := e.get(t, fin, "/console/journals?month=2026-13"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a month that is none: %d", resp.StatusCode)
	}

	resp, page = e.get(t, fin, fmt.Sprintf("/console/journals/%d", id))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("detail: %d\n%s", resp.StatusCode, page)
	}
	journalShows(t, "detail", page, "CAPTURE_GROSS", "FEE_PROCESSING", "PAYOUT_CLEARING", "not mapped",
		`<td class="num">97.00</td>`, `<td class="num">3.00</td>`, "balanced", `href="/console/recon/runs/`)
	if strings.Contains(page, "not balanced") {
		t.Errorf("a balanced journal reads unbalanced\n%s", page)
	}
	if resp, _ := e.get(t, fin, "/console/journals/999999"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no such journal: %d", resp.StatusCode)
	}
	if resp, body := e.uploadChart(t, fin, journalChart); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload the chart: %d\n%s", resp.StatusCode, body)
	}
	_, page = e.get(t, fin, fmt.Sprintf("/console/journals/%d", id))
	journalShows(t, "detail with the chart", page, "<code>1210</code>", "<code>6100</code>", "<code>1090</code>")
	if strings.Contains(page, "not mapped") {
		t.Errorf("a mapped line reads unmapped\n%s", page)
	}

	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleOperator} {
		c := e.client(t)
		e.login(t, c, e.user(t, string(role)+"@example.com", role))
		if resp, _ := e.get(t, c, "/console/journals"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s lists journals: %d", role, resp.StatusCode)
		}
		if _, page := e.get(t, c, "/console/today"); strings.Contains(page, `href="/console/journals"`) {
			t.Errorf("%s is offered Journals in the navigation", role)
		}
	}
}

// TestJournalExportAndChart: an export of a month with no chart, or with
// a kind the chart leaves out, is refused on the journals page naming the
// kinds and nothing is downloaded; a bad chart file is refused naming its
// line and changes nothing; the chart uploaded shows, downloads as the
// file it was and is audited as the API audits it; the export then
// downloads in the layout's columns.
func TestJournalExportAndChart(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	e.book(t)
	fin := e.client(t)
	e.login(t, fin, e.user(t, "finance@example.com", auth.RoleFinance))

	resp, page := e.get(t, fin, "/console/journals/export?month=2026-11&format=generic")
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Content-Disposition") != "" {
		t.Fatalf("export with no chart: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), page)
	}
	journalShows(t, "export with no chart", page, `id="export-error"`, "does not book every line",
		"CAPTURE_GROSS in USD", "FEE_PROCESSING in USD", "PAYOUT_CLEARING in USD", "no account mapped",
		`value="2026-11"`)

	resp, page = e.uploadChart(t, fin, journalChart+"REFUND,,=1+1,x,Tax Exempt,,\n")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a bad chart: %d\n%s", resp.StatusCode, page)
	}
	journalShows(t, "a bad chart", page, "The chart file was not loaded", "line 5", "formula")
	if accounts, err := e.js.Accounts(context.Background()); err != nil || len(accounts) != 0 {
		t.Fatalf("a bad chart loaded %+v %v", accounts, err)
	}
	if row := e.journalAudit(t, audit.ActionJournalAccountsReplace, audit.JournalAccountsTarget); row.Outcome != audit.OutcomeRejected {
		t.Errorf("the bad chart's audit row: %+v", row)
	}

	if resp, body := e.uploadChart(t, fin, journalNoFees); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload a chart without fees: %d\n%s", resp.StatusCode, body)
	}
	resp, page = e.get(t, fin, "/console/journals/export?month=2026-11&format=xero")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("export with fees unmapped: %d\n%s", resp.StatusCode, page)
	}
	journalShows(t, "export with fees unmapped", page, "FEE_PROCESSING in USD")
	if strings.Contains(html.UnescapeString(page), "CAPTURE_GROSS in USD") {
		t.Errorf("a mapped kind is named unmapped\n%s", page)
	}

	resp, body := e.uploadChart(t, fin, journalChart)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/journals/accounts" {
		t.Fatalf("upload the chart: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, page = e.get(t, fin, "/console/journals/accounts")
	journalShows(t, "chart page", page, "Chart of accounts replaced: 3 rows.", "<code>1210</code>", "Card fees",
		"Class: Online", "every currency")
	row := e.journalAudit(t, audit.ActionJournalAccountsReplace, audit.JournalAccountsTarget)
	var in struct{ Bytes, Rows int }
	if err := json.Unmarshal(row.Input.(json.RawMessage), &in); err != nil || row.Outcome != audit.OutcomeSucceeded ||
		row.Actor != "finance@example.com" || in.Rows != 3 || in.Bytes != len(journalChart) {
		t.Errorf("the chart's audit row: %+v (%s) %v", row, row.Input, err)
	}
	resp, body = e.get(t, fin, "/console/journals/accounts.csv")
	if resp.StatusCode != http.StatusOK || body != journalChart ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "journal-accounts.csv") {
		t.Errorf("chart download: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}

	resp, body = e.get(t, fin, "/console/journals/export?month=2026-11&format=xero&currency=usd")
	if resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="journals-2026-11-01-2026-11-30-xero.csv"` {
		t.Fatalf("xero export: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	lines := strings.Split(strings.TrimSpace(body), "\r\n")
	if len(lines) != 4 || lines[0] != "*Narration,*Date,Description,*AccountCode,*TaxRate,*Amount,TrackingName1,"+
		"TrackingOption1,TrackingName2,TrackingOption2" || !strings.Contains(body, ",1210,Tax Exempt,-100.00,Class,Online,,") {
		t.Errorf("xero export:\n%s", body)
	}
	if resp, page := e.get(t, fin, "/console/journals/export?month=2026-11&format=sage"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "netsuite") {
		t.Errorf("an unknown format: %d\n%s", resp.StatusCode, page)
	}
}

// TestJournalPeriodCloseAndReopen: finance closes November after a
// confirmation naming it and what it locks; the month then shows closed,
// by whom. Finance is offered no reopen and a forged one is 403; an admin
// reopens with a mandatory reason. Each change has the API's audit row.
func TestJournalPeriodCloseAndReopen(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	e.book(t)
	fin := e.client(t)
	e.login(t, fin, e.user(t, "finance@example.com", auth.RoleFinance))

	_, page := e.get(t, fin, "/console/journals/periods")
	journalShows(t, "periods", page, "November 2026", "OPEN", `action="/console/journals/periods/2026-11/close/preview"`)
	resp, page := e.post(t, fin, "/console/journals/periods/2026-11/close/preview", url.Values{})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("close preview: %d\n%s", resp.StatusCode, page)
	}
	journalShows(t, "close confirmation", page, "Close November 2026?", "locks the 1 journal dated 2026-11-01 to 2026-11-30",
		"adjustment", "Only an admin can reopen it")
	token := formToken(t, page, "close-confirm")
	if p, err := e.js.Periods(context.Background()); err != nil || p[0].Status != journal.PeriodOpen {
		t.Fatalf("a preview closed the month: %+v %v", p, err)
	}
	resp, body := e.post(t, fin, "/console/journals/periods/2026-11/close", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d\n%s", resp.StatusCode, body)
	}
	_, page = e.get(t, fin, "/console/journals/periods")
	journalShows(t, "closed", page, "November 2026 closed: its journals are locked.", "CLOSED", "finance@example.com")
	if strings.Contains(page, `id="reopen-`) {
		t.Errorf("finance is offered a reopen\n%s", page)
	}
	if row := e.journalAudit(t, audit.ActionJournalPeriodClose, audit.JournalPeriodTarget("2026-11")); row.Outcome != audit.OutcomeSucceeded ||
		row.Actor != "finance@example.com" {
		t.Errorf("the close's audit row: %+v", row)
	}
	// The same form again changes nothing; a new close of a closed month
	// is refused already at its preview.
	if resp, _ := e.post(t, fin, "/console/journals/periods/2026-11/close", url.Values{"token": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the close form again: %d", resp.StatusCode)
	}
	if resp, page := e.post(t, fin, "/console/journals/periods/2026-11/close/preview", url.Values{}); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(page, "is closed already") {
		t.Errorf("closing a closed month: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := e.post(t, fin, "/console/journals/periods/2026-11/reopen", url.Values{"token": {"forged"}, "reason": {"r"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("finance reopens: %d", resp.StatusCode)
	}

	adm := e.client(t)
	e.login(t, adm, e.user(t, "admin@example.com", auth.RoleAdmin))
	_, page = e.get(t, adm, "/console/journals/periods")
	token = formToken(t, page, "reopen-2026-11")
	if resp, page := e.post(t, adm, "/console/journals/periods/2026-11/reopen", url.Values{"token": {token}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "a reason is required") {
		t.Errorf("a reopen without a reason: %d\n%s", resp.StatusCode, page)
	}
	resp, body = e.post(t, adm, "/console/journals/periods/2026-11/reopen", url.Values{"token": {token},
		"reason": {"late refund report from APO"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopen: %d\n%s", resp.StatusCode, body)
	}
	_, page = e.get(t, adm, "/console/journals/periods")
	journalShows(t, "reopened", page, "November 2026 reopened.", "OPEN", "admin@example.com", "late refund report from APO")
	row := e.journalAudit(t, audit.ActionJournalPeriodReopen, audit.JournalPeriodTarget("2026-11"))
	var in struct{ Reason string }
	if err := json.Unmarshal(row.Input.(json.RawMessage), &in); err != nil || row.Outcome != audit.OutcomeSucceeded ||
		row.Actor != "admin@example.com" || row.Role != string(auth.RoleAdmin) || in.Reason != "late refund report from APO" {
		t.Errorf("the reopen's audit row: %+v (%s) %v", row, row.Input, err)
	}
}

// TestJournalsInBrowser: finance, in Chromium, lists journals and opens
// one, is refused an export inline, uploads the chart through its form
// and closes November through its confirmation; each page passes axe and
// is saved as a screenshot.
func TestJournalsInBrowser(t *testing.T) {
	t.Parallel()
	e := newJournalEnv(t)
	id := e.book(t)
	srv := e.jsrv.URL
	ctx := e.browser(t)
	e.browserLogin(t, ctx, e.user(t, "finance@example.com", auth.RoleFinance))

	run(t, ctx, "journals", chromedp.Navigate(srv+"/console/journals"), chromedp.WaitVisible(chromedp.CSS("table.journals")))
	checkAccessibility(t, ctx, "journals")
	screenshot(t, ctx, "journals")
	run(t, ctx, "open the journal", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/console/journals/%d"]`, id))),
		chromedp.WaitVisible(chromedp.CSS("table.journal-lines")))
	checkAccessibility(t, ctx, "journal")
	screenshot(t, ctx, "journal")

	run(t, ctx, "export with no chart",
		chromedp.Navigate(srv+"/console/journals?month=2026-11"),
		chromedp.WaitVisible(chromedp.ID("export")),
		chromedp.Click(chromedp.CSS(`#export button[value="netsuite"]`)),
		chromedp.WaitVisible(chromedp.CSS("#export-error .problem")))
	if got := read(t, ctx, "export problem", chromedp.Text(chromedp.ID("export-error"))); !strings.Contains(got, "PAYOUT_CLEARING in USD") {
		t.Errorf("the export's problem reads %q", got)
	}
	checkAccessibility(t, ctx, "journals with an export refused")
	screenshot(t, ctx, "journals-export-refused")

	chart := filepath.Join(t.TempDir(), "chart.csv")
	if err := os.WriteFile(chart, []byte(journalChart), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "upload the chart",
		chromedp.Navigate(srv+"/console/journals/accounts"),
		chromedp.WaitVisible(chromedp.ID("chart-file")),
		chromedp.SetUploadFiles(chromedp.ID("chart-file"), []string{chart}),
		chromedp.Click(chromedp.CSS("#chart-upload button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
		chromedp.WaitVisible(chromedp.CSS("table.chart")))
	checkAccessibility(t, ctx, "chart of accounts")
	screenshot(t, ctx, "journal-accounts")

	run(t, ctx, "ask to close November",
		chromedp.Navigate(srv+"/console/journals/periods"),
		chromedp.WaitVisible(chromedp.ID("close-2026-11")),
		chromedp.Click(chromedp.CSS("#close-2026-11 button")),
		chromedp.WaitVisible(chromedp.ID("close-confirm")))
	checkAccessibility(t, ctx, "close confirmation")
	screenshot(t, ctx, "journal-period-close")
	run(t, ctx, "close November", chromedp.Click(chromedp.CSS(`#close-confirm button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("p.flash")))
	if got := read(t, ctx, "period row", chromedp.Text(chromedp.ID("period-2026-11"))); !strings.Contains(got, "CLOSED") {
		t.Errorf("November after closing reads %q", got)
	}
	checkAccessibility(t, ctx, "periods")
	screenshot(t, ctx, "journal-periods")
	if n := read(t, ctx, "reopen controls", chromedp.Evaluate[int](`document.querySelectorAll('[id^="reopen-"]').length`)); n != 0 {
		t.Errorf("finance sees %d reopen controls", n)
	}
}
