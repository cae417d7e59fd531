package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/sandboxtest"
)

// ---- fixtures ----

// reconReport is a report file the sandbox wrote.
type reconReport struct {
	Name, Path string
	Content    []byte
}

// reconFaults are the breaks the tests' reports carry: three changed
// amounts, one line left out, two transactions we never made, and a
// broken batch summary.
func reconFaults() *sandbox.ReportFaults {
	return &sandbox.ReportFaults{Seed: 7, ChangeAmounts: sandbox.FaultCount{Count: 3}, DropLines: sandbox.FaultCount{Count: 1},
		UnknownTransactions: sandbox.FaultCount{Count: 2}, BreakSummaryTotal: 1}
}

// reconDay makes today's payments (captured, some partly refunded) in e's
// database through a sandbox of its own that writes APO's reports, then
// has that sandbox write the day's transaction details, settlement
// details and summaries with faults.
func reconDay(t *testing.T, e *env, faults *sandbox.ReportFaults) ([]reconReport, *sandbox.ReportResult) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandboxtest.Options{ReportsDir: dir})
	pay := payments.NewService(e.db, sb.Client, nil, slog.New(slog.DiscardHandler), "http://127.0.0.1:1")
	for i, c := range []struct{ card, ccy string }{{"4111111111111111", "USD"}, {"5555555555554444", "JPY"},
		{"378282246310005", "KWD"}, {"4111111111111111", "EUR"}, {"5555555555554444", "USD"}, {"4111111111111111", "USD"},
		{"378282246310005", "USD"}, {"4111111111111111", "JPY"}} {
		p, err := pay.Create(ctx, payments.CreateRequest{ReferenceOrderID: fmt.Sprintf("recon-%d", i),
			Amount: money.Money{Minor: 125000 + int64(i)*1307, Currency: c.ccy}, BuyerReference: "b", TerminalType: "WEB",
			ClientIP: "198.51.100.2", RedirectURL: "https://shop.example/r",
			Card: payments.CardInput{Number: c.card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030", HolderFirst: "A", HolderLast: "B"}})
		if err != nil || p.Status != payments.StatusAuthorized {
			t.Fatalf("pay: %v %s", err, p.Status)
		}
		if _, _, err := pay.Capture(ctx, p.ID, payments.CaptureRequest{}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, _, err := pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: 1000, Reason: "r"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := sb.Sandbox.WriteReports(sandbox.ReportRequest{Date: time.Now().UTC().Format("20060102"), Faults: faults})
	if err != nil {
		t.Fatalf("write reports: %v", err)
	}
	var out []reconReport
	for _, f := range res.Files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, reconReport{Name: f.Name, Path: f.Path, Content: b})
	}
	return out, res
}

var (
	reconUploadToken = regexp.MustCompile(`/console/recon/reports\?token=([A-Za-z0-9]+)`)
	reconFormToken   = regexp.MustCompile(`name="token" value="([A-Za-z0-9]+)"`)
)

// reconToken is the token of the form with id on page body.
func reconToken(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no form %q on the page", id)
	}
	re := reconFormToken
	if id == "upload" {
		re = reconUploadToken
	}
	m := re.FindStringSubmatch(body[i:])
	if m == nil {
		t.Fatalf("form %q has no token", id)
	}
	return m[1]
}

// reconUploadForm posts files as the upload form does, with token in the
// form's URL.
func (e *env) reconUploadForm(t *testing.T, c *http.Client, token string, files []reconReport, headers ...string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+f.Name+`"`)
		h.Set("Content-Type", "text/csv")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(f.Content); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/console/recon/reports?token="+url.QueryEscape(token), &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	return e.do(t, c, req)
}

// reconUploadAll uploads files through the page's form and returns the
// ids of the files kept, from the redirect.
func (e *env) reconUploadAll(t *testing.T, c *http.Client, files []reconReport) []int64 {
	t.Helper()
	_, page := e.get(t, c, "/console/recon")
	resp, body := e.reconUploadForm(t, c, reconToken(t, page, "upload"), files)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/console/recon" {
		t.Fatalf("upload went to %q", resp.Header.Get("Location"))
	}
	ids, err := reconIDs("files", loc.Query().Get("files"), 100)
	if err != nil || len(ids) != len(files) {
		t.Fatalf("upload kept %v (%v), want %d files", ids, err, len(files))
	}
	return ids
}

// reconStart starts a run from the runs page's form and returns its id.
func (e *env) reconStart(t *testing.T, c *http.Client, form url.Values) int64 {
	t.Helper()
	_, page := e.get(t, c, "/console/recon")
	form.Set("token", reconToken(t, page, "start"))
	resp, body := e.post(t, c, "/console/recon/runs", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start run: %d\n%s", resp.StatusCode, body)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(resp.Header.Get("Location"), "/console/recon/runs/"), 10, 64)
	if err != nil {
		t.Fatalf("start run went to %q", resp.Header.Get("Location"))
	}
	return id
}

// reconWait waits for run id to end (the harness's worker runs it).
func (e *env) reconWait(t *testing.T, id int64) recon.Run {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		run, err := e.recon.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == recon.RunSucceeded || run.Status == recon.RunFailed {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s (%s %d%%)", id, run.Status, run.Phase, run.Progress)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reconOpen lists the open discrepancies as the service has them.
func (e *env) reconOpen(t *testing.T) []recon.Discrepancy {
	t.Helper()
	page, err := e.recon.CurrentDiscrepancies(context.Background(), recon.CurrentFilter{Status: recon.StatusOpen, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// reconAudits are the audit rows of action, newest first.
func (e *env) reconAudits(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := e.audit.List(context.Background(), audit.Filter{Action: action, Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// reconReconciled uploads a faulty day, runs it by file ids and waits for
// it to succeed.
func (e *env) reconReconciled(t *testing.T, c *http.Client) (recon.Run, []reconReport) {
	t.Helper()
	files, _ := reconDay(t, e, reconFaults())
	ids := e.reconUploadAll(t, c, files)
	id := e.reconStart(t, c, url.Values{"file_ids": {reconJoinIDs(ids)}})
	run := e.reconWait(t, id)
	if run.Status != recon.RunSucceeded {
		t.Fatalf("run %d %s: %s", id, run.Status, run.Error)
	}
	return run, files
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not show %q", what, w)
		}
	}
}

// ---- tests ----

// TestReconViewerReadsOnly: a viewer sees runs and discrepancies with no
// action on them, and a forged change from a viewer's session is 403 and
// changes nothing.
func TestReconViewerReadsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	fc, vc := e.client(t), e.client(t)
	e.login(t, fc, fin)
	e.login(t, vc, viewer)
	run, _ := e.reconReconciled(t, fc)
	open := e.reconOpen(t)
	if len(open) == 0 {
		t.Fatal("the faulty day has no open discrepancy")
	}
	_, finPage := e.get(t, fc, "/console/recon")
	token := reconToken(t, finPage, "start")

	for _, p := range []string{"/console/recon", fmt.Sprintf("/console/recon/runs/%d", run.ID), "/console/recon/discrepancies"} {
		resp, body := e.get(t, vc, p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("viewer GET %s: %d", p, resp.StatusCode)
		}
		for _, no := range []string{`id="upload"`, `id="start"`, "Start run", `type="checkbox"`, `id="dc-`, "Save decision", "Resolve…", `id="bulk"`} {
			if strings.Contains(body, no) {
				t.Errorf("viewer sees %q on %s", no, p)
			}
		}
	}
	runsBefore, _ := e.recon.ListRuns(context.Background(), recon.RunFilter{})
	auditsBefore := len(e.reconAudits(t, ""))
	d := open[0]
	for _, post := range []struct {
		path string
		form url.Values
	}{
		{"/console/recon/runs", url.Values{"token": {token}, "file_ids": {"1"}}},
		{fmt.Sprintf("/console/recon/discrepancies/%d/status", d.ID), url.Values{"token": {token}, "status": {"RESOLVED"}, "note": {"forged"}}},
		{"/console/recon/discrepancies/bulk/preview", url.Values{"scope": {"selected"}, "id": {strconv.FormatInt(d.ID, 10)}, "status": {"RESOLVED"}, "note": {"forged"}}},
		{"/console/recon/discrepancies/bulk", url.Values{"token": {token}, "scope": {"filter"}, "filter": {"kind=" + string(d.Kind)}, "status": {"RESOLVED"}, "note": {"forged"}}},
	} {
		if resp, _ := e.post(t, vc, post.path, post.form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", post.path, resp.StatusCode)
		}
	}
	if resp, _ := e.reconUploadForm(t, vc, token, []reconReport{{Name: "transactionItems_20240301_000.csv", Content: []byte("x")}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer upload: %d, want 403", resp.StatusCode)
	}
	runsAfter, _ := e.recon.ListRuns(context.Background(), recon.RunFilter{})
	if len(runsAfter.Items) != len(runsBefore.Items) || len(e.reconAudits(t, "")) != auditsBefore {
		t.Error("a refused viewer request changed something")
	}
	if now := e.reconOpen(t); len(now) != len(open) {
		t.Errorf("open discrepancies %d, were %d", len(now), len(open))
	}
}

// TestReconUploadRunAndPages: finance uploads a day's reports in one
// form, sees each file's outcome, starts a run of exactly those files,
// and reads the run (summary, totals, batch roll-forward, discrepancies)
// and its downloads; each change has its audit row with the console
// user as the actor and the API's input.
func TestReconUploadRunAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)

	_, empty := e.get(t, c, "/console/recon")
	mustContain(t, "the empty runs page", empty, "No run yet. Upload the day's reports above")

	files, res := reconDay(t, e, reconFaults())
	ids := e.reconUploadAll(t, c, files)
	resp, page := e.get(t, c, "/console/recon?files="+strings.ReplaceAll(reconJoinIDs(ids), " ", ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("runs page after upload: %d", resp.StatusCode)
	}
	mustContain(t, "the runs page after the upload", page, "Just uploaded", `value="`+reconJoinIDs(ids)+`"`,
		"Uploaded "+plural(len(files), "report file", "report files")+": "+strconv.Itoa(len(files))+" new, 0 already here.")
	for _, f := range files {
		mustContain(t, "the uploaded list", page, f.Name)
	}
	rows := e.reconAudits(t, audit.ActionReconUpload)
	if len(rows) != 1 || rows[0].Actor != fin.Email || rows[0].Role != "finance" || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("upload audit rows %+v", rows)
	}
	var idStrings []string
	for _, id := range ids {
		idStrings = append(idStrings, strconv.FormatInt(id, 10))
	}
	if rows[0].Target != audit.ReconReportTarget(idStrings) {
		t.Errorf("upload audit target %q, want %q", rows[0].Target, audit.ReconReportTarget(idStrings))
	}
	var up reconUploadAudit
	if err := json.Unmarshal(rows[0].Input.(json.RawMessage), &up); err != nil || len(up.Files) != len(files) {
		t.Fatalf("upload audit input %s: %v", rows[0].Input, err)
	}
	for i, f := range up.Files {
		if f.Name != files[i].Name || f.Size != int64(len(files[i].Content)) || f.ID != ids[i] || f.Status != "INGESTED" || len(f.SHA256) != 64 {
			t.Errorf("upload audit file %+v", f)
		}
	}

	id := e.reconStart(t, c, url.Values{"file_ids": {reconJoinIDs(ids)}})
	run := e.reconWait(t, id)
	if run.Status != recon.RunSucceeded {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	rows = e.reconAudits(t, audit.ActionReconRunStart)
	var in reconStartInput
	if len(rows) != 1 || rows[0].Actor != fin.Email || rows[0].Target != audit.ReconRunTarget(id) ||
		json.Unmarshal(rows[0].Input.(json.RawMessage), &in) != nil || in.Date != "" || reconJoinIDs(in.FileIDs) != reconJoinIDs(ids) {
		t.Fatalf("start audit rows %+v", rows)
	}

	reconCheckRunPage(t, e, c, run, len(res.Faults))
	reconCheckDownloads(t, e, c, run)
}

// reconCheckRunPage reads a succeeded run's page, its status block as a
// poll asks for it, and the runs list.
func reconCheckRunPage(t *testing.T, e *env, c *http.Client, run recon.Run, faults int) {
	t.Helper()
	id := run.ID
	// The run's page: summary, totals, roll-forward and what it found.
	resp, body := e.get(t, c, fmt.Sprintf("/console/recon/runs/%d", id))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("run page: %d", resp.StatusCode)
	}
	mustContain(t, "the run page", body, "badge-succeeded", "Batch roll-forward", "Totals by kind and currency",
		"Amount mismatch", "Missing in ledger", "Batch total mismatch", "Download workbook", "What this run found",
		fmt.Sprintf("/console/recon/runs/%d/workbook.xlsx", id))
	if strings.Contains(body, "hx-trigger") {
		t.Error("a finished run's page still polls")
	}
	for _, b := range run.Batches {
		mustContain(t, "the roll-forward", body, b.BatchID, formatAmount(b.Computed, b.Currency))
	}
	for _, tot := range run.Totals {
		mustContain(t, "the totals", body, formatMoney(tot.ReportMinor, tot.Currency))
	}
	if n := strings.Count(body, "<tr>") - 1; n < faults {
		t.Errorf("the run page lists %d rows, want at least the %d faults", n, faults)
	}
	// Its status block, as a poll would ask for it: the run is over, so
	// the page is told to reload.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+fmt.Sprintf("/console/recon/runs/%d/status", id), nil)
	req.Header.Set("HX-Request", "true")
	resp, body = e.do(t, c, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("HX-Refresh") != "true" || strings.Contains(body, "<html") ||
		!strings.Contains(body, "badge-succeeded") {
		t.Fatalf("status of a finished run: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Refresh"), body)
	}

	// The runs list shows the run with its numbers and batches.
	_, body = e.get(t, c, "/console/recon?status=SUCCEEDED&period="+run.Period.Format(time.DateOnly))
	mustContain(t, "the runs list", body, fmt.Sprintf(`href="/console/recon/runs/%d"`, id), "badge-succeeded",
		strconv.FormatInt(reconRunView{run}.Found(), 10))
	_, body = e.get(t, c, "/console/recon?status=FAILED")
	mustContain(t, "a filtered empty list", body, "No run matches these filters.")

}

// reconCheckDownloads fetches a succeeded run's workbook and a CSV.
func reconCheckDownloads(t *testing.T, e *env, c *http.Client, run recon.Run) {
	t.Helper()
	id := run.ID
	// Downloads: the workbook and a kind's CSV, as attachments.
	resp, body := e.get(t, c, fmt.Sprintf("/console/recon/runs/%d/workbook.xlsx", id))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != reconXLSXType ||
		resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="recon-run-%d.xlsx"`, id) ||
		!strings.HasPrefix(body, "PK") {
		t.Fatalf("workbook: %d %q %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.Header.Get("Content-Disposition"), len(body))
	}
	resp, body = e.get(t, c, fmt.Sprintf("/console/recon/runs/%d/csv/AMOUNT_MISMATCH.csv", id))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="recon-run-%d-amount_mismatch.csv"`, id) ||
		strings.Count(body, "\n") != 1+int(run.Counts.Discrepancies[recon.AmountMismatch]) {
		t.Fatalf("csv: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	if resp, _ := e.get(t, c, fmt.Sprintf("/console/recon/runs/%d/csv/NOPE.csv", id)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("csv of an unknown kind: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, c, "/console/recon/runs/999999"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown run: %d", resp.StatusCode)
	}
}

// TestReconWorkbookOfUnfinishedRun: a run that has not succeeded cannot
// be exported: 409, shown as a page, not a broken download.
func TestReconWorkbookOfUnfinishedRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	files, _ := reconDay(t, e, nil)
	ids := e.reconUploadAll(t, c, files)
	// Recorded but never handed to the worker: it stays QUEUED.
	run, err := e.recon.StartRun(context.Background(), recon.RunRequest{FileIDs: ids}, "test")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := e.get(t, c, fmt.Sprintf("/console/recon/runs/%d/workbook.xlsx", run.ID))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Content-Disposition") != "" || !strings.Contains(body, "only a succeeded run can be exported") {
		t.Fatalf("workbook of a queued run: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	// Its page polls its status block while it waits.
	_, body = e.get(t, c, fmt.Sprintf("/console/recon/runs/%d", run.ID))
	mustContain(t, "a queued run's page", body, fmt.Sprintf(`hx-get="/console/recon/runs/%d/status"`, run.ID),
		`hx-trigger="every 2s"`, "badge-queued", `<progress id="run-progress"`)
	if strings.Contains(body, "Download workbook") {
		t.Error("a queued run offers its workbook")
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+fmt.Sprintf("/console/recon/runs/%d/status", run.ID), nil)
	req.Header.Set("HX-Request", "true")
	resp, body = e.do(t, c, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("HX-Refresh") != "" || !strings.Contains(body, `hx-trigger="every 2s"`) {
		t.Fatalf("status of a queued run: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Refresh"), body)
	}
}

// TestReconUploadBadFile: a file with bad lines is refused with each bad
// line named "<file>:<line>", inline; nothing of it is staged, so there is
// nothing to reconcile; the audit row says rejected.
func TestReconUploadBadFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	name := "transactionItems_20240301_000.csv"
	bad := "transactionType,transactionId,transactionAmountValue,transactionCurrency\n" +
		"CAPTURE,c1,1.00,USD\nCAPTURE,c2,12.3.4,USD\nCAPTURE,c3,x,USD\n<END>\n"
	_, page := e.get(t, c, "/console/recon")
	token := reconToken(t, page, "upload")
	resp, body := e.reconUploadForm(t, c, token, []reconReport{{Name: name, Content: []byte(bad)}},
		"HX-Request: true", "HX-Trigger: upload")
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#upload-error" {
		t.Fatalf("bad file: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	mustContain(t, "the upload's error", body, "Bad report file(s): "+name, name+":3</code>: transactionAmountValue",
		name+":4</code>: transactionAmountValue")
	// Plain form post: the same error on a page of its own.
	resp, body = e.reconUploadForm(t, c, token, []reconReport{{Name: name, Content: []byte(bad)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, name+":3") || !strings.Contains(body, "<html") {
		t.Fatalf("bad file, plain post: %d\n%s", resp.StatusCode, body)
	}
	// A bad name is refused before anything is kept.
	resp, body = e.reconUploadForm(t, c, token, []reconReport{{Name: "notes.txt", Content: []byte(bad)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "bad report file name") {
		t.Fatalf("bad name: %d\n%s", resp.StatusCode, body)
	}

	if _, err := e.recon.StartRun(context.Background(), recon.RunRequest{Date: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}, "t"); err == nil {
		t.Fatal("a refused file can be reconciled")
	}
	id := func() string {
		_, page := e.get(t, c, "/console/recon")
		return reconToken(t, page, "start")
	}()
	resp, body = e.post(t, c, "/console/recon/runs", url.Values{"token": {id}, "date": {"2024-03-01"}}, "HX-Request: true", "HX-Trigger: start")
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#start-error" ||
		!strings.Contains(body, "no ingested report files, payout due or bank credit booked on 2024-03-01") {
		t.Fatalf("run of the refused file's date: %d\n%s", resp.StatusCode, body)
	}
	rows := e.reconAudits(t, audit.ActionReconUpload)
	if len(rows) != 3 {
		t.Fatalf("upload audit rows %+v, want 3", rows)
	}
	for _, r := range rows {
		if r.Outcome != audit.OutcomeRejected || r.Actor != fin.Email {
			t.Errorf("upload audit row %+v, want rejected by %s", r, fin.Email)
		}
	}
	// The file is known (FAILED) to the two refusals that read it; the one
	// with a bad name never got that far.
	if rows[0].Target != audit.ReconReportTarget(nil) || !strings.HasPrefix(rows[2].Target, "recon-report:") || rows[2].Target == "recon-report:" {
		t.Errorf("upload audit targets %q, %q", rows[0].Target, rows[2].Target)
	}
	starts := e.reconAudits(t, audit.ActionReconRunStart)
	if len(starts) != 1 || starts[0].Outcome != audit.OutcomeRejected || starts[0].Target != "recon-run:" {
		t.Errorf("start audit rows %+v", starts)
	}
}

// TestReconStartRunRefusals: the start form's own checks (no audit row,
// like the API's schema), the domain's (audited as rejected), and a run
// the queue does not take (marked FAILED, audited as failed).
func TestReconStartRunRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	token := func() string {
		_, page := e.get(t, c, "/console/recon")
		return reconToken(t, page, "start")
	}
	for _, tc := range []struct {
		form    url.Values
		status  int
		want    string
		audited bool
	}{
		{url.Values{"date": {"01/03/2024"}}, http.StatusUnprocessableEntity, "want a date, YYYY-MM-DD", false},
		{url.Values{"file_ids": {"12, x"}}, http.StatusUnprocessableEntity, "is not an id", false},
		{url.Values{}, http.StatusUnprocessableEntity, "a date or file ids are required", true},
		{url.Values{"date": {"2024-03-01"}, "file_ids": {"1"}}, http.StatusUnprocessableEntity, "give a date or file ids, not both", true},
		{url.Values{"file_ids": {"424242"}}, http.StatusUnprocessableEntity, "unknown file id", true},
	} {
		tc.form.Set("token", token())
		resp, body := e.post(t, c, "/console/recon/runs", tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("start %v: %d, want %d with %q\n%s", tc.form, resp.StatusCode, tc.status, tc.want, body)
		}
	}
	if rows := e.reconAudits(t, audit.ActionReconRunStart); len(rows) != 3 {
		t.Errorf("start audit rows %d, want 3 (the domain's refusals)", len(rows))
	}

	// The queue is down: the run is recorded, then marked FAILED.
	files, _ := reconDay(t, e, nil)
	ids := e.reconUploadAll(t, c, files)
	down := reconConsole(t, e, func(context.Context, int64) error { return errors.New("queue unavailable") })
	form := url.Values{"token": {token()}, "file_ids": {reconJoinIDs(ids)}}
	resp, body := e.reconPost(t, c, down, "/console/recon/runs", form)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "The run could not be queued") {
		t.Fatalf("queue down: %d\n%s", resp.StatusCode, body)
	}
	runs, err := e.recon.ListRuns(context.Background(), recon.RunFilter{})
	if err != nil || len(runs.Items) != 1 || runs.Items[0].Status != recon.RunFailed ||
		!strings.Contains(runs.Items[0].Error, "not queued: queue unavailable") {
		t.Fatalf("the unqueued run: %+v %v", runs.Items, err)
	}
	rows := e.reconAudits(t, audit.ActionReconRunStart)
	if rows[0].Outcome != audit.OutcomeFailed || rows[0].Target != audit.ReconRunTarget(runs.Items[0].ID) {
		t.Errorf("unqueued start audit row %+v", rows[0])
	}
}

// reconConsole is a second console over e's services whose worker queue
// is enqueue, on a server of its own.
func reconConsole(t *testing.T, e *env, enqueue func(context.Context, int64) error) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	c, err := New(Deps{Log: log, Users: e.users, Payments: e.pay, Disputes: e.disputes, Recon: e.recon, Inbox: e.inbox,
		Audit: e.audit, Keys: auth.NewKeys(e.db), KeyList: auth.NewStore(e.db), Idempotency: idempotency.NewStore(e.db),
		EnqueueRun: enqueue, UploadDir: e.recon.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", c)
	srv := httptest.NewServer(httpx.RequestID(mux))
	t.Cleanup(srv.Close)
	return srv
}

// reconPost posts form to srv with c's session: cookies go by host, not
// port, so the session made on e's server is sent to srv too.
func (e *env) reconPost(t *testing.T, c *http.Client, srv *httptest.Server, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.do(t, c, req)
}

// TestReconResolveOneAtATime: a discrepancy is resolved, ignored or
// reopened from its row with a mandatory note; the same form sent twice
// acts once; each change has its audit row with the API's input and the
// console user as the actor.
func TestReconResolveOneAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	e.reconReconciled(t, c)
	open := e.reconOpen(t)
	if len(open) < 3 {
		t.Fatalf("%d open discrepancies, want several", len(open))
	}
	d := open[0]
	list := "/console/recon/discrepancies?kind=" + string(d.Kind)
	resp, page := e.get(t, c, list)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discrepancies: %d", resp.StatusCode)
	}
	form := fmt.Sprintf("dc-%d", d.ID)
	path := fmt.Sprintf("/console/recon/discrepancies/%d/status", d.ID)
	token := reconToken(t, page, form)

	reconCheckNoteRequired(t, e, c, d.ID, token, list)

	send := url.Values{"token": {token}, "status": {"RESOLVED"}, "note": {"refund booked by hand"}, "back": {list}}
	for i := range 2 {
		resp, _ := e.post(t, c, path, send)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != list {
			t.Fatalf("resolve #%d: %d to %q", i+1, resp.StatusCode, resp.Header.Get("Location"))
		}
		_, body := e.get(t, c, list)
		want := fmt.Sprintf("Discrepancy %d resolved.", d.ID)
		if i == 1 {
			want = "Already done: " + want
		}
		mustContain(t, "the page after the change", body, want)
		if strings.Contains(body, fmt.Sprintf(`id="d%d"`, d.ID)) {
			t.Error("a resolved discrepancy is still on the open list")
		}
	}
	rows := e.reconAudits(t, audit.ActionDiscrepancyUpdate)
	if len(rows) != 2 || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Actor != fin.Email ||
		rows[0].Target != audit.DiscrepancyTarget(d.ID) {
		t.Fatalf("audit rows %+v, want one success for the form sent twice", rows)
	}
	var in reconUpdateInput
	if err := json.Unmarshal(rows[0].Input.(json.RawMessage), &in); err != nil || in != (reconUpdateInput{Status: "RESOLVED", Note: "refund booked by hand"}) {
		t.Fatalf("audit input %s: %v", rows[0].Input, err)
	}
	page2, err := e.recon.CurrentDiscrepancies(context.Background(), recon.CurrentFilter{Status: recon.StatusResolved})
	if err != nil || len(page2.Items) != 1 || page2.Items[0].ID != d.ID || page2.Items[0].Actor != fin.Email ||
		page2.Items[0].Note != "refund booked by hand" {
		t.Fatalf("resolved: %+v %v", page2.Items, err)
	}
	reconCheckReopenAndConflicts(t, e, c, d.ID, open[1].ID, open[2].ID)
}

// reconCheckNoteRequired sends a change of discrepancy id without a note:
// refused inline before the service (no audit row), then with blanks:
// refused by the service, and audited as rejected, as the API's is.
func reconCheckNoteRequired(t *testing.T, e *env, c *http.Client, id int64, token, list string) {
	t.Helper()
	form := fmt.Sprintf("dc-%d", id)
	path := fmt.Sprintf("/console/recon/discrepancies/%d/status", id)
	resp, body := e.post(t, c, path, url.Values{"token": {token}, "status": {"RESOLVED"}, "note": {""}, "back": {list}},
		"HX-Request: true", "HX-Trigger: "+form)
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#"+form+"-error" ||
		!strings.Contains(body, "a note is required") {
		t.Fatalf("no note: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	resp, body = e.post(t, c, path, url.Values{"token": {token}, "status": {"RESOLVED"}, "note": {"   "}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "a note is required") {
		t.Fatalf("blank note: %d\n%s", resp.StatusCode, body)
	}
	if rows := e.reconAudits(t, audit.ActionDiscrepancyUpdate); len(rows) != 1 || rows[0].Outcome != audit.OutcomeRejected {
		t.Fatalf("audit rows after the refusals %+v", rows)
	}
}

// reconCheckReopenAndConflicts reopens the resolved discrepancy id, then
// closes other twice with two forms (the workflow's 409 the second time),
// and checks that a change's return address stays in the console.
func reconCheckReopenAndConflicts(t *testing.T, e *env, c *http.Client, id, other, third int64) {
	t.Helper()
	form := fmt.Sprintf("dc-%d", id)
	path := fmt.Sprintf("/console/recon/discrepancies/%d/status", id)
	// The closed one shows under its status, with its note, and reopens.
	_, body := e.get(t, c, "/console/recon/discrepancies?status=RESOLVED")
	mustContain(t, "the resolved list", body, fmt.Sprintf(`id="d%d"`, id), "refund booked by hand", "Reopen…")
	resp, _ := e.post(t, c, path, url.Values{"token": {reconToken(t, body, form)}, "status": {"OPEN"}, "note": {"not booked after all"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/recon/discrepancies" {
		t.Fatalf("reopen: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Closing an open one twice with two forms: the second is the
	// workflow's 409, shown inline.
	opath := fmt.Sprintf("/console/recon/discrepancies/%d/status", other)
	_, page := e.get(t, c, "/console/recon/discrepancies")
	t1, t2 := reconToken(t, page, fmt.Sprintf("dc-%d", other)), reconToken(t, page, fmt.Sprintf("dc-%d", third))
	if resp, _ := e.post(t, c, opath, url.Values{"token": {t1}, "status": {"IGNORED"}, "note": {"test payment"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ignore: %d", resp.StatusCode)
	}
	resp, body = e.post(t, c, opath, url.Values{"token": {t2}, "status": {"RESOLVED"}, "note": {"again"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "reopen it (OPEN) before closing it") {
		t.Fatalf("close a closed one: %d\n%s", resp.StatusCode, body)
	}
	// An outside "back" is not followed.
	_, page = e.get(t, c, "/console/recon/discrepancies")
	resp, _ = e.post(t, c, fmt.Sprintf("/console/recon/discrepancies/%d/status", third), url.Values{
		"token": {reconToken(t, page, fmt.Sprintf("dc-%d", third))}, "status": {"IGNORED"}, "note": {"n"},
		"back": {"//evil.example/console/recon/discrepancies"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/recon/discrepancies" {
		t.Fatalf("outside back: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestReconInBrowser: finance uploads a day's reports through the form,
// starts a run of them and watches it finish, works a discrepancy from
// its row, and downloads the workbook with the browser's session; each
// page passes axe and is saved as a screenshot.
func TestReconInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	files, _ := reconDay(t, e, reconFaults())
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	// The worker takes each run only when the test lets it, so the page
	// is seen waiting for it, polling, before it shows the results. The
	// browser's session works on this second console: cookies go by host.
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release) // before the env's cleanup waits for the runs
	srv := reconConsole(t, e, func(_ context.Context, id int64) error {
		e.runs.Add(1)
		go func() {
			defer e.runs.Done()
			<-gate
			_, _ = e.recon.ExecuteRun(context.Background(), id)
		}()
		return nil
	}).URL
	ctx := e.browser(t)
	e.browserLogin(t, ctx, fin)

	run(t, ctx, "upload the reports",
		chromedp.Navigate(srv+"/console/recon"),
		chromedp.WaitVisible(chromedp.ID("upload-file")),
		chromedp.SetUploadFiles(chromedp.ID("upload-file"), paths),
		chromedp.Click(chromedp.CSS("#upload button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("uploaded")),
	)
	if got := read(t, ctx, "start form", chromedp.Value(chromedp.ID("start-files"))); strings.Count(got, ",") != len(files)-1 {
		t.Fatalf("the start form holds %q, want the %d uploaded files", got, len(files))
	}
	run(t, ctx, "start the run",
		chromedp.Click(chromedp.CSS("#start button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("run-progress")),
	)
	if poll := read(t, ctx, "poll", chromedp.AttributeValue(chromedp.ID("run-status"), "hx-trigger")); poll.Value != "every 2s" {
		t.Fatalf("a queued run's status block polls %+v", poll)
	}
	checkAccessibility(t, ctx, "recon run queued")
	screenshot(t, ctx, "recon-run-queued")
	release()
	// The status block polls until the run ends, then the page reloads
	// with the results.
	run(t, ctx, "watch the run finish", chromedp.WaitVisible(chromedp.ID("batches")))
	status := read(t, ctx, "status", chromedp.Text(chromedp.ID("run-status")))
	if !strings.Contains(status, "SUCCEEDED") {
		t.Fatalf("run status %q", status)
	}
	checkAccessibility(t, ctx, "recon run")
	screenshot(t, ctx, "recon-run")
	runURL := read(t, ctx, "run url", chromedp.Evaluate[string](`location.pathname`))

	run(t, ctx, "runs list", chromedp.Navigate(srv+"/console/recon"), chromedp.WaitVisible(chromedp.CSS("table.grid")))
	checkAccessibility(t, ctx, "recon runs")
	screenshot(t, ctx, "recon-runs")

	open := e.reconOpen(t)
	d := open[0]
	form := fmt.Sprintf("dc-%d", d.ID)
	run(t, ctx, "resolve one",
		chromedp.Navigate(srv+"/console/recon/discrepancies"),
		chromedp.WaitVisible(chromedp.CSS("table.discrepancies")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#d%d details summary", d.ID))),
		chromedp.WaitVisible(chromedp.ID(form+"-note")),
	)
	checkAccessibility(t, ctx, "recon discrepancies")
	run(t, ctx, "resolve one",
		chromedp.SendKeys(chromedp.ID(form+"-note"), "booked by hand"),
		chromedp.Click(chromedp.CSS("#"+form+" button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
	)
	if flash := read(t, ctx, "flash", chromedp.Text(chromedp.CSS("p.flash"))); flash != fmt.Sprintf("Discrepancy %d resolved.", d.ID) {
		t.Fatalf("flash %q", flash)
	}
	screenshot(t, ctx, "recon-discrepancies")
	reconBrowserBulk(t, e, ctx, open[1:4])

	// The workbook, fetched with the browser's session cookie.
	cookies := read(t, ctx, "cookies", func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL + "/console/"}})
		return res.Cookies, err
	})
	req, _ := http.NewRequest(http.MethodGet, srv+runURL+"/workbook.xlsx", nil)
	for _, ck := range cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, body := e.do(t, &http.Client{}, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != reconXLSXType || !strings.HasPrefix(body, "PK") ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="recon-run-`) {
		t.Fatalf("workbook with the browser's session: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if href := read(t, ctx, "workbook link", chromedp.Evaluate[string](`(() => { const a = document.querySelector('a[href$="workbook.xlsx"]'); return a ? a.getAttribute("href") : "" })()`)); href != "" {
		t.Fatalf("the discrepancies page links a workbook %q", href)
	}
}

var reconHiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// reconConfirmForm is the confirmation form's fields on a preview answer.
func reconConfirmForm(t *testing.T, body string) url.Values {
	t.Helper()
	i := strings.Index(body, `id="bulk-go"`)
	if i < 0 {
		t.Fatalf("no confirmation in\n%s", body)
	}
	form := body[i:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range reconHiddenInput.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// reconSums adds up the amounts of ds per currency ("" for those
// without), as a bulk preview does.
func reconSums(ds []recon.Discrepancy) map[string]int64 {
	out := map[string]int64{}
	for _, d := range ds {
		a := d.Amount()
		if !a.Valid {
			out[""] += 0
			continue
		}
		out[a.Currency] += a.Minor
	}
	return out
}

// reconPreview posts a bulk form for a preview, as htmx does.
func (e *env) reconPreview(t *testing.T, c *http.Client, form url.Values) (*http.Response, string) {
	t.Helper()
	return e.post(t, c, "/console/recon/discrepancies/bulk/preview", form, "HX-Request: true", "HX-Trigger: bulk")
}

// reconWithNote lists the current discrepancies that carry note.
func (e *env) reconWithNote(t *testing.T, note string) []recon.Discrepancy {
	t.Helper()
	page, err := e.recon.CurrentDiscrepancies(context.Background(), recon.CurrentFilter{Status: recon.StatusResolved, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []recon.Discrepancy
	for _, d := range page.Items {
		if d.Note == note {
			out = append(out, d)
		}
	}
	return out
}

// TestReconBulkSelection: ticked discrepancies are resolved together
// after a confirmation whose count and amounts per currency are exactly
// what then changes; the same confirmation sent twice acts once; each
// discrepancy changed has its audit row.
func TestReconBulkSelection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	e.reconReconciled(t, c)
	open := e.reconOpen(t)
	if len(open) < 5 {
		t.Fatalf("%d open discrepancies, want at least 5", len(open))
	}
	picked := []recon.Discrepancy{open[0], open[3], open[len(open)-1]}
	_, page := e.get(t, c, "/console/recon/discrepancies")
	mustContain(t, "the discrepancies page", page, `id="bulk"`, `name="id" value="`+strconv.FormatInt(open[0].ID, 10)+`" form="bulk"`)
	form := url.Values{"scope": {"selected"}, "status": {"RESOLVED"}, "note": {"settled in the March batch"},
		"back": {"/console/recon/discrepancies"}, "filter": {""}}
	for _, d := range picked {
		form.Add("id", strconv.FormatInt(d.ID, 10))
	}

	reconCheckBulkRefusals(t, e, c, form["id"])

	resp, body := e.reconPreview(t, c, form)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "<html") {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, body)
	}
	mustContain(t, "the confirmation", body, "Resolve 3 discrepancies?", ">Resolve 3 discrepancies</button>")
	sums := reconSums(picked)
	for ccy, minor := range sums {
		if ccy != "" {
			mustContain(t, "the confirmation's totals", body, "<td>"+ccy+"</td>", formatMoney(minor, ccy))
		}
	}
	if e.reconWithNote(t, "settled in the March batch") != nil {
		t.Fatal("the preview changed something")
	}
	confirm := reconConfirmForm(t, body)
	for i := range 2 {
		resp, _ := e.post(t, c, "/console/recon/discrepancies/bulk", confirm)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/recon/discrepancies" {
			t.Fatalf("confirm #%d: %d to %q", i+1, resp.StatusCode, resp.Header.Get("Location"))
		}
		_, page := e.get(t, c, "/console/recon/discrepancies")
		want := "Resolved 3 discrepancies: "
		if i == 1 {
			want = "Already done: " + want
		}
		mustContain(t, "the page after the bulk change", page, want)
	}
	changed := e.reconWithNote(t, "settled in the March batch")
	if len(changed) != len(picked) {
		t.Fatalf("changed %d discrepancies, the confirmation said %d", len(changed), len(picked))
	}
	if got := reconSums(changed); fmt.Sprint(got) != fmt.Sprint(sums) {
		t.Fatalf("changed amounts %v, the confirmation said %v", got, sums)
	}
	reconCheckBulkAudit(t, e, fin.Email, picked, "settled in the March batch")

	// All or nothing: one closed and one open, both to RESOLVED, is
	// refused whole and recorded against both.
	both := url.Values{"scope": {"selected"}, "status": {"RESOLVED"}, "note": {"again"},
		"id": {strconv.FormatInt(open[0].ID, 10), strconv.FormatInt(open[1].ID, 10)}}
	_, body = e.reconPreview(t, c, both)
	resp, body = e.post(t, c, "/console/recon/discrepancies/bulk", reconConfirmForm(t, body), "HX-Request: true", "HX-Trigger: bulk-go")
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("HX-Retarget") != "#bulk-go-error" || !strings.Contains(body, "cannot change, so none did") {
		t.Fatalf("mixed selection: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	if now := e.reconOpen(t); len(now) != len(open)-len(picked) {
		t.Fatalf("a refused bulk change changed something: %d open, want %d", len(now), len(open)-len(picked))
	}
	if rows := e.reconAudits(t, audit.ActionDiscrepancyBulk); len(rows) != 2 || rows[0].Outcome != audit.OutcomeRejected ||
		!strings.Contains(string(rows[0].Input.(json.RawMessage)), `"changed": null`) {
		t.Fatalf("audit rows of the refusal: %d, newest %+v (%s)", len(rows), rows[0], rows[0].Input)
	}
}

// TestReconBulkFilter: every discrepancy matching the filters, on every
// page, is changed after a confirmation; a selection that changed since
// its confirmation is refused and nothing changes.
func TestReconBulkFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	e.reconReconciled(t, c)
	byKind := map[recon.Kind][]recon.Discrepancy{}
	for _, d := range e.reconOpen(t) {
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	kind := recon.AmountMismatch
	if len(byKind[kind]) < 3 {
		t.Fatalf("open discrepancies by kind %v, want three amount mismatches", byKind)
	}
	list := "/console/recon/discrepancies?kind=" + string(kind) + "&currency=USD&min_amount=0.01"
	resp, page := e.get(t, c, list)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("filtered list: %d", resp.StatusCode)
	}
	filter := regexp.MustCompile(`name="filter" value="([^"]*)"`).FindStringSubmatch(page)
	if filter == nil {
		t.Fatal("the bulk form carries no filter")
	}
	form := url.Values{"scope": {"filter"}, "filter": {html.UnescapeString(filter[1])}, "status": {"IGNORED"},
		"note": {"rounding at the acquirer"}, "back": {list}}
	_, body := e.reconPreview(t, c, form)
	mustContain(t, "the filter's confirmation", body, "Ignore 3 discrepancies?", "Every discrepancy matching the filters",
		formatMoney(reconSums(byKind[kind])["USD"], "USD"))
	confirm := reconConfirmForm(t, body)

	reconCheckStaleConfirmation(t, e, c, confirm, byKind[kind][0].ID, kind)

	// A plain form post shows the confirmation on the page itself.
	resp, body = e.post(t, c, "/console/recon/discrepancies/bulk/preview", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") || !strings.Contains(body, "Ignore 2 discrepancies?") ||
		!strings.Contains(body, `id="bulk"`) {
		t.Fatalf("plain preview: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = e.post(t, c, "/console/recon/discrepancies/bulk", reconConfirmForm(t, body))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != list {
		t.Fatalf("confirm: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	page2, err := e.recon.CurrentDiscrepancies(context.Background(), recon.CurrentFilter{Status: recon.StatusIgnored, Limit: 500})
	if err != nil || len(page2.Items) != 2 {
		t.Fatalf("ignored %+v %v, want the 2 left", page2.Items, err)
	}
	for _, d := range page2.Items {
		if d.Kind != kind || d.Note != "rounding at the acquirer" || d.Actor != fin.Email {
			t.Errorf("ignored %+v", d)
		}
	}
	// An amount bound without a currency is refused where the filter is read.
	resp, body = e.get(t, c, "/console/recon/discrepancies?min_amount=1")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "choose a currency too") {
		t.Fatalf("amount without currency: %d\n%s", resp.StatusCode, body)
	}
}

// reconCheckBulkRefusals sends bulk forms the preview refuses: without a
// note (into the bulk form's error slot), with nothing ticked.
func reconCheckBulkRefusals(t *testing.T, e *env, c *http.Client, ids []string) {
	t.Helper()
	noNote := url.Values{"scope": {"selected"}, "status": {"RESOLVED"}, "id": ids}
	resp, body := e.reconPreview(t, c, noNote)
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#bulk-error" || !strings.Contains(body, "a note is required") {
		t.Fatalf("bulk without a note: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	resp, body = e.reconPreview(t, c, url.Values{"scope": {"selected"}, "status": {"RESOLVED"}, "note": {"n"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "tick the discrepancies to change") {
		t.Fatalf("bulk without a selection: %d\n%s", resp.StatusCode, body)
	}
}

// reconCheckBulkAudit checks the one audit row of a bulk change, the
// API's: the request and the discrepancies it changed.
func reconCheckBulkAudit(t *testing.T, e *env, actor string, picked []recon.Discrepancy, note string) {
	t.Helper()
	rows := e.reconAudits(t, audit.ActionDiscrepancyBulk)
	if len(rows) != 1 || rows[0].Actor != actor || rows[0].Target != audit.DiscrepancyBulkTarget || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("bulk audit rows %+v, want one success (and none for the resend)", rows)
	}
	var in reconBulkAudit
	if err := json.Unmarshal(rows[0].Input.(json.RawMessage), &in); err != nil || in.Status != "RESOLVED" || in.Note != note ||
		in.Filter != nil || len(in.IDs) != len(picked) || len(in.Changed) != len(picked) {
		t.Fatalf("bulk audit input %s: %v", rows[0].Input, err)
	}
	changed := map[int64]bool{}
	for _, id := range in.Changed {
		changed[id] = true
	}
	for _, d := range picked {
		if !changed[d.ID] {
			t.Errorf("the audit row does not list discrepancy %d as changed", d.ID)
		}
	}
	if rows := e.reconAudits(t, audit.ActionDiscrepancyUpdate); len(rows) != 0 {
		t.Errorf("a bulk change wrote %d one-at-a-time rows", len(rows))
	}
}

// reconCheckStaleConfirmation resolves one discrepancy of a confirmed
// selection behind its back: the confirmation no longer says what would
// change, so nothing does, and the refusal is audited.
func reconCheckStaleConfirmation(t *testing.T, e *env, c *http.Client, confirm url.Values, id int64, kind recon.Kind) {
	t.Helper()
	if _, err := e.recon.UpdateDiscrepancy(context.Background(), id, recon.StatusResolved, "by hand", "someone@example.com"); err != nil {
		t.Fatal(err)
	}
	resp, body := e.post(t, c, "/console/recon/discrepancies/bulk", confirm)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "the selection changed since you reviewed it: it now holds 2 discrepancies") {
		t.Fatalf("stale confirmation: %d\n%s", resp.StatusCode, body)
	}
	still := 0
	for _, d := range e.reconOpen(t) {
		if d.Kind == kind {
			still++
		}
	}
	if still != 2 || len(e.reconWithNote(t, "rounding at the acquirer")) != 0 {
		t.Fatalf("a stale confirmation changed something: %d amount mismatches open, want 2", still)
	}
	rows := e.reconAudits(t, audit.ActionDiscrepancyBulk)
	var in reconBulkAudit
	if len(rows) != 1 || rows[0].Target != audit.DiscrepancyBulkTarget || rows[0].Outcome != audit.OutcomeRejected ||
		json.Unmarshal(rows[0].Input.(json.RawMessage), &in) != nil || in.Filter == nil || in.Filter.Kind != string(kind) ||
		in.Filter.Currency != "USD" || in.Filter.MinAmount == nil || *in.Filter.MinAmount != 1 || in.Filter.Status != "OPEN" {
		t.Fatalf("audit rows of the stale confirmation %+v", rows)
	}
}

// reconBrowserBulk ticks ds on the discrepancies page, reviews resolving
// them with a note, and confirms once the confirmation shows their count.
func reconBrowserBulk(t *testing.T, e *env, ctx context.Context, ds []recon.Discrepancy) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.ID("bulk"))}
	for _, d := range ds {
		steps = append(steps, chromedp.Click(chromedp.ID(fmt.Sprintf("sel-%d", d.ID))))
	}
	steps = append(steps,
		chromedp.SendKeys(chromedp.ID("bulk-note"), "paid out in the next batch"),
		chromedp.Click(chromedp.CSS("#bulk button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("bulk-go")),
	)
	run(t, ctx, "review a bulk change", steps...)
	want := fmt.Sprintf("Resolve %d discrepancies", len(ds))
	if b := read(t, ctx, "confirm button", chromedp.Text(chromedp.CSS("#bulk-go button[type=submit]"))); b != want {
		t.Fatalf("confirm button %q, want %q", b, want)
	}
	for ccy, minor := range reconSums(ds) {
		if ccy != "" && !strings.Contains(read(t, ctx, "confirmation", chromedp.Text(chromedp.ID("bulk-confirm"))), formatMoney(minor, ccy)) {
			t.Errorf("the confirmation does not show %s", formatMoney(minor, ccy))
		}
	}
	checkAccessibility(t, ctx, "recon bulk confirmation")
	screenshot(t, ctx, "recon-discrepancies-bulk")
	run(t, ctx, "confirm the bulk change", chromedp.Click(chromedp.CSS("#bulk-go button[type=submit]")))
	read(t, ctx, "the bulk change's flash", chromedp.Poll[bool](
		`(() => { const f = document.querySelector("p.flash"); return !!f && f.textContent.startsWith("Resolved ") })()`,
		chromedp.WithPollingTimeout(2*time.Minute)))
	if got := e.reconWithNote(t, "paid out in the next batch"); len(got) != len(ds) {
		t.Fatalf("the bulk change resolved %d discrepancies, want %d", len(got), len(ds))
	}
}

// TestReconFormReading: the small readers the recon pages share.
func TestReconFormReading(t *testing.T) {
	t.Parallel()
	p := reconPage{Path: "/console/recon/discrepancies", Query: url.Values{"kind": {"FX_MISMATCH"}, "cursor": {"abc"}}}
	for _, tc := range []struct {
		pairs []string
		want  string
	}{
		{nil, "/console/recon/discrepancies?kind=FX_MISMATCH"},
		{[]string{"cursor", "next"}, "/console/recon/discrepancies?cursor=next&kind=FX_MISMATCH"},
		{[]string{"kind", ""}, "/console/recon/discrepancies"},
		{[]string{"status", "OPEN"}, "/console/recon/discrepancies?kind=FX_MISMATCH&status=OPEN"},
	} {
		if got := p.Link(tc.pairs...); got != tc.want {
			t.Errorf("Link(%q) = %q, want %q", tc.pairs, got, tc.want)
		}
	}
	for in, want := range map[string]string{"MISSING_IN_LEDGER": "Missing in ledger", "FX_MISMATCH": "FX mismatch",
		"SETTLEMENT_SUMMARY": "Settlement summary", "_X": " x", "": ""} {
		if got := reconLabel(in); got != want {
			t.Errorf("reconLabel(%q) = %q, want %q", in, got, want)
		}
	}
	if ids, err := reconIDs("f", " 12, 13\n14,,", 10); err != nil || fmt.Sprint(ids) != "[12 13 14]" {
		t.Errorf("reconIDs: %v %v", ids, err)
	}
	for _, bad := range []string{"1,x", "0", "-3", "1 2 3 4"} {
		if _, err := reconIDs("f", bad, 3); err == nil {
			t.Errorf("reconIDs(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{
		"/console/recon/discrepancies?kind=X": "/console/recon/discrepancies?kind=X",
		"/console/recon/runs/7":               "/console/recon/runs/7",
		"https://evil.example/":               "/console/recon/discrepancies",
		"/console/recon/discrepancies//x":     "/console/recon/discrepancies",
		"/console/recon/discrepanciesX":       "/console/recon/discrepancies",
		"/console/payments":                   "/console/recon/discrepancies",
	} {
		if got := reconBack(in); got != want {
			t.Errorf("reconBack(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		v, ccy string
		want   int64
		ok     bool
	}{{"12.50", "USD", 1250, true}, {"1339", "JPY", 1339, true}, {"1.234", "KWD", 1234, true}, {"1.5", "JPY", 0, false},
		{"-1", "USD", 0, false}, {"1", "", 0, false}, {"1", "XXX", 0, false}} {
		got, err := reconMinor("min_amount", tc.v, tc.ccy)
		if (err == nil) != tc.ok || (tc.ok && *got != tc.want) {
			t.Errorf("reconMinor(%q, %q) = %v, %v", tc.v, tc.ccy, got, err)
		}
	}
}
