package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"
	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// reconDay is the transaction date of the test ledger and its report.
var reconDay = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// reconEnv is the whole api handler (newHandler, so routes.go's wiring is
// what is tested) over a fresh database, with a real recon.Service over a
// temporary directory. Started runs execute in the background, as the
// worker would, unless failEnqueue says the queue is down.
type reconEnv struct {
	srv         *httptest.Server
	db          *sqlx.DB
	recon       *recon.Service
	runs        sync.WaitGroup
	failEnqueue atomic.Bool
	viewer      string
	finance     string
	checkout    string
	admin       string
}

// newReconEnv builds the env; uploadLimit > 0 replaces the upload
// operation's 256 MiB limit, so that 413 can be tested with small bodies.
func newReconEnv(t *testing.T, uploadLimit int64) *reconEnv {
	t.Helper()
	e := &reconEnv{db: pgtest.NewDB(t)}
	dir := t.TempDir()
	log := logging.New(&logtest.Buffer{}, slog.LevelDebug)
	// Redis only backs /readyz, which these tests do not call.
	svc := newServices(log, e.db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	e.recon = recon.NewService(e.db, recon.Config{ReportsDir: filepath.Join(dir, "reports"),
		ArchiveDir: filepath.Join(dir, "archive"), ExportDir: filepath.Join(dir, "exports"),
		TmpDir: filepath.Join(dir, "tmp")}, log)
	if _, err := e.recon.UseTempDir("api"); err != nil {
		t.Fatal(err)
	}
	svc.recon = e.recon
	svc.enqueueRun = func(_ context.Context, id int64) error {
		if e.failEnqueue.Load() {
			return errors.New("queue unavailable")
		}
		e.runs.Add(1)
		go func() {
			defer e.runs.Done()
			// A failure shows as the run's FAILED status, which tests read.
			_, _ = e.recon.ExecuteRun(context.Background(), id)
		}()
		return nil
	}
	h, api := newHandler(svc)
	if uploadLimit > 0 {
		api.OpenAPI().Paths["/v1/recon/reports"].Post.MaxBodyBytes = uploadLimit
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.runs.Wait) // runs first: no run outlives the database
	_, e.viewer = mustCreateKey(t, e.db, "viewer-1", auth.RoleViewer)
	_, e.finance = mustCreateKey(t, e.db, "finance-1", auth.RoleFinance)
	_, e.checkout = mustCreateKey(t, e.db, "checkout-1", auth.RoleCheckout)
	_, e.admin = mustCreateKey(t, e.db, "admin-1", auth.RoleAdmin)
	return e
}

func (e *reconEnv) call(t *testing.T, method, path, key string, hdr http.Header, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (e *reconEnv) get(t *testing.T, path, key string) (*http.Response, []byte) {
	t.Helper()
	return e.call(t, http.MethodGet, path, key, nil, nil)
}

func (e *reconEnv) sendJSON(t *testing.T, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return e.call(t, method, path, key, http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(b))
}

// reportPart is one file part of an upload; name goes into the
// Content-Disposition filename as it is.
type reportPart struct {
	name    string
	content []byte
}

func reportsForm(t *testing.T, parts ...reportPart) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+p.name+`"`)
		h.Set("Content-Type", "text/csv")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// upload posts the parts; idemKey may be empty.
func (e *reconEnv) upload(t *testing.T, key, idemKey string, parts ...reportPart) (*http.Response, []byte) {
	t.Helper()
	ct, body := reportsForm(t, parts...)
	return e.uploadForm(t, key, idemKey, ct, body)
}

// uploadForm posts a multipart body as it is (a retry must send the same
// bytes, boundary included, to be the same request).
func (e *reconEnv) uploadForm(t *testing.T, key, idemKey, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	hdr := http.Header{"Content-Type": {ct}}
	if idemKey != "" {
		hdr.Set(httpguard.Header, idemKey)
	}
	return e.call(t, http.MethodPost, "/v1/recon/reports", key, hdr, bytes.NewReader(body))
}

// uploadOK uploads one file and returns its record.
func (e *reconEnv) uploadOK(t *testing.T, p reportPart) ReconFile {
	t.Helper()
	resp, b := e.upload(t, e.finance, "", p)
	out := decodeBody[reconFilesBody](t, resp, b, http.StatusCreated)
	if len(out.Files) != 1 {
		t.Fatalf("files %+v", out.Files)
	}
	return out.Files[0]
}

// startRun posts a run request and returns the QUEUED run.
func (e *reconEnv) startRun(t *testing.T, body any) ReconRun {
	t.Helper()
	resp, b := e.sendJSON(t, http.MethodPost, "/v1/recon/runs", e.finance, body)
	run := decodeBody[ReconRun](t, resp, b, http.StatusAccepted)
	if run.Status != string(recon.RunQueued) || run.ID == 0 {
		t.Fatalf("started run %+v", run)
	}
	return run
}

// waitRun polls the run until it is done.
func (e *reconEnv) waitRun(t *testing.T, id int64) ReconRun {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, b := e.get(t, "/v1/recon/runs/"+strconv.FormatInt(id, 10), e.viewer)
		run := decodeBody[ReconRun](t, resp, b, http.StatusOK)
		if run.Status == string(recon.RunSucceeded) || run.Status == string(recon.RunFailed) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s (%s, %d%%)", id, run.Status, run.Phase, run.Progress)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *reconEnv) discrepancies(t *testing.T, runID int64, query string) discrepancyListBody {
	t.Helper()
	resp, b := e.get(t, "/v1/recon/runs/"+strconv.FormatInt(runID, 10)+"/discrepancies?"+query, e.viewer)
	return decodeBody[discrepancyListBody](t, resp, b, http.StatusOK)
}

func (e *reconEnv) audits(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := audit.NewStore(e.db).List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// reconFilesBody, reconRunListBody and discrepancyListBody are the bodies
// of ReconFilesOutput, ReconRunListOutput and DiscrepancyListOutput.
type reconFilesBody struct {
	Files []ReconFile `json:"files"`
}

type reconRunListBody struct {
	Items      []ReconRun `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

type discrepancyListBody struct {
	Items      []Discrepancy `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// ---- ledger and report ----

// ledgerPayment is a captured payment written straight into the payments
// tables: authorized at 09:00 and captured at 10:00 on reconDay.
type ledgerPayment struct {
	id, requestID, apoID string
	captureReq, capture  string
	amount               money.Money
}

func seedCaptured(t *testing.T, db *sqlx.DB, tag string, amount money.Money) ledgerPayment {
	t.Helper()
	ctx := context.Background()
	st := payments.NewStore(db)
	lp := ledgerPayment{id: uuid.NewString(), requestID: "payreq_" + tag, apoID: "2024apo_pay_" + tag,
		captureReq: "capreq_" + tag, capture: "2024cap_" + tag, amount: amount}
	authAt, capAt := reconDay.Add(9*time.Hour), reconDay.Add(10*time.Hour)
	p := payments.Payment{ID: lp.id, PaymentRequestID: lp.requestID, APOPaymentID: lp.apoID,
		ReferenceOrderID: "order-" + tag, Amount: amount, CaptureMode: "MANUAL", Status: payments.StatusCaptured,
		CapturedMinor: amount.Minor, CreatedBy: "test", Version: 1, CreatedAt: authAt, UpdatedAt: capAt}
	if err := st.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, tx := range []payments.Transaction{
		{ID: uuid.NewString(), PaymentID: lp.id, Type: payments.TxAuthorization, RequestID: lp.requestID,
			APOID: lp.apoID, Amount: amount, Status: payments.TxSucceeded, CreatedAt: authAt, UpdatedAt: authAt, CompletedAt: &authAt},
		{ID: uuid.NewString(), PaymentID: lp.id, Type: payments.TxCapture, RequestID: lp.captureReq,
			APOID: lp.capture, Amount: amount, Status: payments.TxSucceeded, CreatedAt: capAt, UpdatedAt: capAt, CompletedAt: &capAt},
	} {
		if err := st.CreateTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	return lp
}

// tdColumns is the header of APO's transactionItems report
// (apo-reference.md §6.2), in the order written.
var tdColumns = []string{"customerId", "acquirer", "transactionType", "transactionId", "originalTransactionId",
	"transactionRequestId", "paymentTime", "transactionAmountValue", "transactionCurrency",
	"settlementAmountValue", "settlementCurrency", "status", "cardBrand", "paymentMethodType"}

type tdLine map[string]string

func paymentLine(p ledgerPayment) tdLine {
	return tdLine{"transactionType": "PAYMENT", "transactionId": p.apoID, "transactionRequestId": p.requestID,
		"paymentTime":            reconDay.Add(9 * time.Hour).Format(time.RFC3339),
		"transactionAmountValue": money.FormatMajor(p.amount), "transactionCurrency": p.amount.Currency}
}

// captureLine reports p's capture with amount in major units.
func captureLine(p ledgerPayment, amount string) tdLine {
	return tdLine{"transactionType": "CAPTURE", "transactionId": p.capture, "originalTransactionId": p.apoID,
		"transactionRequestId": p.captureReq, "paymentTime": reconDay.Add(10 * time.Hour).Format(time.RFC3339),
		"transactionAmountValue": amount, "transactionCurrency": p.amount.Currency}
}

// tdReport writes a transactionItems CSV: header, lines in major units,
// and the <END> trailer unless ended is false.
func tdReport(t *testing.T, ended bool, lines ...tdLine) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	records := [][]string{tdColumns}
	for _, l := range lines {
		rec := make([]string, len(tdColumns))
		for i, c := range tdColumns {
			rec[i] = l[c]
		}
		set := func(col, v string) {
			for i, c := range tdColumns {
				if c == col && rec[i] == "" {
					rec[i] = v
				}
			}
		}
		set("customerId", "2188120000000000")
		set("acquirer", "ANTOM")
		set("status", "SUCCESS")
		set("cardBrand", "VISA")
		set("paymentMethodType", "CARD")
		set("settlementAmountValue", l["transactionAmountValue"])
		set("settlementCurrency", l["transactionCurrency"])
		records = append(records, rec)
	}
	if ended {
		records = append(records, []string{"<END>"})
	}
	if err := w.WriteAll(records); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// someReport is a valid one-line report whose content depends on seed, so
// that each call can make a file not ingested before.
func someReport(t *testing.T, seed string) []byte {
	t.Helper()
	return tdReport(t, true, tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_" + seed,
		"transactionAmountValue": "1.00", "transactionCurrency": "USD"})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ---- tests ----

// TestReconUploadReports: files are archived with their hash and staged;
// the same content again is a duplicate; a file without <END> is
// INCOMPLETE; bad lines are 422 naming file and line; bad names and
// non-multipart bodies are refused before anything is kept; an
// Idempotency-Key replays the first answer; uploads are audited.
func TestReconUploadReports(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	name := "transactionItems_20240301_000.csv"
	content := someReport(t, "first")

	ct, form := reportsForm(t, reportPart{name, content})
	resp, b := e.uploadForm(t, e.finance, "upload-1", ct, form)
	first := decodeBody[reconFilesBody](t, resp, b, http.StatusCreated)
	if len(first.Files) != 1 {
		t.Fatalf("files %+v", first.Files)
	}
	f := first.Files[0]
	if f.ID == 0 || f.Name != name || f.Kind != "TRANSACTION_ITEMS" || f.Format != "csv" || f.Status != "INGESTED" ||
		f.Lines != 1 || f.BadLines != 0 || f.SHA256 != sha256Hex(content) || f.Size != int64(len(content)) ||
		f.ReportDate != "2024-03-01" || f.Origin != "upload" || f.Duplicate {
		t.Fatalf("uploaded file %+v", f)
	}
	resp, again := e.uploadForm(t, e.finance, "upload-1", ct, form)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get(httpguard.ReplayedHeader) != "true" || !bytes.Equal(again, b) {
		t.Fatalf("replay: %d %q %s", resp.StatusCode, resp.Header.Get(httpguard.ReplayedHeader), again)
	}
	if dup := e.uploadOK(t, reportPart{name, content}); !dup.Duplicate || dup.ID != f.ID || dup.SHA256 != f.SHA256 {
		t.Fatalf("re-upload %+v, want duplicate of %d", dup, f.ID)
	}
	// The same content under another name is still the same file.
	if dup := e.uploadOK(t, reportPart{"transactionItems_20240301_001.csv", content}); !dup.Duplicate || dup.ID != f.ID {
		t.Fatalf("renamed re-upload %+v", dup)
	}

	// Two files at once: one incomplete, one fine.
	resp, b = e.upload(t, e.finance, "",
		reportPart{"transactionItems_20240302_000.csv", tdReport(t, false, tdLine{"transactionType": "CAPTURE",
			"transactionId": "2024cap_held", "transactionAmountValue": "5.00", "transactionCurrency": "USD"})},
		reportPart{"transactionItems_20240304_000.csv", someReport(t, "monday")})
	two := decodeBody[reconFilesBody](t, resp, b, http.StatusCreated)
	if len(two.Files) != 2 || two.Files[0].Status != "INCOMPLETE" || !strings.Contains(two.Files[0].Error, "<END>") ||
		two.Files[1].Status != "INGESTED" || two.Files[1].Name != "transactionItems_20240304_000.csv" {
		t.Fatalf("files %+v", two.Files)
	}

	// A bad line: 422 naming the file and line; the good file beside it is in.
	bad := tdReport(t, true,
		tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_ok", "transactionAmountValue": "1.00", "transactionCurrency": "USD"},
		tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_bad", "transactionAmountValue": "12.3.4", "transactionCurrency": "USD"})
	good := reportPart{"transactionItems_20240306_000.csv", someReport(t, "wednesday")}
	resp, b = e.upload(t, e.finance, "", reportPart{"transactionItems_20240305_000.csv", bad}, good)
	p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Location != "transactionItems_20240305_000.csv:3" ||
		!strings.Contains(p.Errors[0].Message, "transactionAmountValue") {
		t.Fatalf("problem %+v", p)
	}
	if !strings.Contains(p.Detail, "ingested: "+good.name) {
		t.Fatalf("detail %q does not say the good file was ingested", p.Detail)
	}
	if again := e.uploadOK(t, good); !again.Duplicate {
		t.Fatalf("the good file beside a bad one was not ingested: %+v", again)
	}
	// The bad file is recorded FAILED: uploading it again is refused again.
	resp, b = e.upload(t, e.finance, "", reportPart{"transactionItems_20240305_000.csv", bad})
	p = mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "FAILED") || !strings.Contains(p.Errors[0].Message, ":3:") {
		t.Fatalf("re-upload of a failed file: %+v", p)
	}

	// Bad names refuse the whole upload before anything is kept.
	fresh := reportPart{"transactionItems_20240307_000.csv", someReport(t, "thursday")}
	for _, badName := range []string{
		"../transactionItems_20240301_000.csv",
		`..\\transactionItems_20240301_000.csv`, // a backslash, once the quoted string is decoded
		"transactionItems_20240301_000.txt",
		"report.csv",
		strings.Repeat("a", 300) + ".csv",
		"",
	} {
		resp, b := e.upload(t, e.finance, "", fresh, reportPart{badName, someReport(t, "x")})
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.file[1]" {
			t.Errorf("name %q: %+v", badName, p)
		}
	}
	if f := e.uploadOK(t, fresh); f.Duplicate {
		t.Fatal("a refused upload ingested its good file")
	}

	// Not a file upload at all.
	var fields bytes.Buffer
	mw := multipart.NewWriter(&fields)
	if err := mw.WriteField("note", "no file here"); err != nil {
		t.Fatal(err)
	}
	_ = mw.Close()
	resp, b = e.call(t, http.MethodPost, "/v1/recon/reports", e.finance,
		http.Header{"Content-Type": {mw.FormDataContentType()}}, &fields)
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Location != "body.file" {
		t.Fatalf("no file part: %+v", p)
	}
	resp, b = e.sendJSON(t, http.MethodPost, "/v1/recon/reports", e.finance, map[string]string{"file": "x"})
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Location != "header.Content-Type" {
		t.Fatalf("json body: %+v", p)
	}

	// Audited: who uploaded what (names, sizes, hashes; never content).
	rows := e.audits(t, audit.ActionReconUpload)
	var ok, rejected int
	for _, r := range rows {
		if r.Actor != "finance-1" || r.Role != "finance" {
			t.Errorf("audit row %+v", r)
		}
		switch r.Outcome {
		case audit.OutcomeSucceeded:
			ok++
		case audit.OutcomeRejected:
			rejected++
		}
		if raw, _ := r.Input.(json.RawMessage); bytes.Contains(raw, []byte("2024cap_")) {
			t.Errorf("audit input holds file content: %s", raw)
		}
	}
	// The replay did not run the handler again.
	if ok != 6 || rejected != 10 {
		t.Errorf("audit rows: %d succeeded, %d rejected; want 6 and 10", ok, rejected)
	}
	oldest := rows[len(rows)-1]
	if oldest.Target != "recon-report:"+strconv.FormatInt(f.ID, 10) || !strings.Contains(string(oldest.Input.(json.RawMessage)), sha256Hex(content)) {
		t.Errorf("first upload's audit row %+v", oldest)
	}
}

// TestReconUploadTooLarge: past the operation's limit the answer is 413
// and nothing of the upload is ingested, with or without an
// Idempotency-Key (the guard buffers the body itself).
func TestReconUploadTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	e := newReconEnv(t, limit)
	small := reportPart{"transactionItems_20240301_000.csv", someReport(t, "small")}
	big := reportPart{"transactionItems_20240302_000.csv", bytes.Repeat([]byte("x"), limit)}
	for _, key := range []string{"", "big-1"} {
		resp, b := e.upload(t, e.finance, key, small, big)
		mustProblem(t, resp, b, http.StatusRequestEntityTooLarge)
	}
	if f := e.uploadOK(t, small); f.Duplicate {
		t.Fatal("a refused upload ingested its small file")
	}
}

// TestReconUploadOversizedShapes: a zip bomb, a CSV with one huge field and
// a file named .xlsx that is not a workbook are each a 422 naming the file
// and why, and the spooled parts do not outlive the request.
func TestReconUploadOversizedShapes(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("xl/sharedStrings.xml")
	_, _ = w.Write(bytes.Repeat([]byte("A"), 64<<20))
	_ = zw.Close()
	huge := append([]byte("transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,\""),
		bytes.Repeat([]byte("x"), 8<<20)...)
	cases := []struct {
		part reportPart
		want string
	}{
		{reportPart{"transactionItems_20240301_000.xlsx", bomb.Bytes()}, "packs"},
		{reportPart{"transactionItems_20240302_000.csv", huge}, "line 2: a record longer than 1 MiB"},
		{reportPart{"transactionItems_20240303_000.xlsx", someReport(t, "csv")}, "not an .xlsx workbook"},
	}
	for _, c := range cases {
		resp, b := e.upload(t, e.finance, "", c.part)
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if !strings.Contains(string(b), c.part.name) || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: problem %+v does not say %q", c.part.name, p, c.want)
		}
	}
	if left, _ := os.ReadDir(e.recon.TempDir()); len(left) != 1 || left[0].Name() != ".lock" {
		t.Errorf("the private temporary directory holds %v", left)
	}
}

// TestReconRunFlow: upload a report of a seeded ledger, start a run for
// its date, poll it to the end, page and filter its discrepancies, close
// one (the note is mandatory), export the workbook and a CSV, run again
// (the diff keeps the closed one), and fail a run the queue refuses.
func TestReconRunFlow(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	matched := seedCaptured(t, e.db, "matched", money.Money{Minor: 1000, Currency: "USD"})
	mismatched := seedCaptured(t, e.db, "mismatched", money.Money{Minor: 2550, Currency: "USD"})
	unreported := seedCaptured(t, e.db, "unreported", money.Money{Minor: 700, Currency: "EUR"})
	file := e.uploadOK(t, reportPart{"transactionItems_20240301_000.csv", tdReport(t, true,
		paymentLine(matched), captureLine(matched, "10.00"),
		paymentLine(mismatched), captureLine(mismatched, "26.50"), // line 5: ours is 25.50
		paymentLine(unreported), // its capture is missing
		tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_stranger", "originalTransactionId": "2024apo_pay_stranger",
			"transactionRequestId": "capreq_stranger", "transactionAmountValue": "99.00", "transactionCurrency": "USD"},
	)})

	started := e.startRun(t, map[string]any{"date": "2024-03-01"})
	if started.Period != "2024-03-01" || started.Request.Date != "2024-03-01" || len(started.Inputs) != 1 ||
		started.Inputs[0].FileID != file.ID || started.Inputs[0].SHA256 != file.SHA256 || started.Actor != "finance-1" {
		t.Fatalf("started %+v", started)
	}
	run := e.waitRun(t, started.ID)
	if run.Status != "SUCCEEDED" || run.Progress != 100 || run.FinishedAt == nil || run.Diff.New != 3 {
		t.Fatalf("run %+v", run)
	}
	wantCounts := map[string]int64{"AMOUNT_MISMATCH": 1, "MISSING_IN_REPORT": 1, "MISSING_IN_LEDGER": 1}
	for k, n := range run.Counts.Discrepancies {
		if n != wantCounts[k] {
			t.Errorf("%s: %d, want %d", k, n, wantCounts[k])
		}
	}
	if len(run.Counts.Discrepancies) != len(wantCounts) || run.Counts.Lines["TRANSACTION_ITEMS"] != 6 || len(run.Totals) != 3 {
		t.Fatalf("counts %+v totals %+v", run.Counts, run.Totals)
	}
	if rs := e.runList(t, "period=2024-03-01&status=SUCCEEDED"); len(rs.Items) != 1 || rs.Items[0].ID != run.ID {
		t.Fatalf("runs of the day %+v", rs)
	}
	if rs := e.runList(t, "period=2024-03-02"); len(rs.Items) != 0 {
		t.Fatalf("runs of another day %+v", rs)
	}
	for _, q := range []string{"period=01-03-2024", "cursor=nonsense", "status=DONE", "limit=201"} {
		resp, b := e.get(t, "/v1/recon/runs?"+q, e.viewer)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}
	resp, b := e.get(t, "/v1/recon/runs/999999", e.viewer)
	mustProblem(t, resp, b, http.StatusNotFound)

	// Discrepancies: all, filtered, paged.
	all := e.discrepancies(t, run.ID, "")
	if len(all.Items) != 3 || all.NextCursor != "" {
		t.Fatalf("discrepancies %+v", all)
	}
	amt := e.discrepancies(t, run.ID, "kind=AMOUNT_MISMATCH").Items
	if len(amt) != 1 {
		t.Fatalf("amount mismatches %+v", amt)
	}
	d := amt[0]
	if d.RunID != run.ID || d.Status != "OPEN" || d.Change != "NEW" || d.TransactionID != mismatched.capture ||
		d.PaymentID != mismatched.id || d.OurAmount == nil || *d.OurAmount != (Money{2550, "USD"}) ||
		d.ReportAmount == nil || *d.ReportAmount != (Money{2650, "USD"}) || d.FileID != file.ID ||
		d.FileName != file.Name || d.Line != 5 {
		t.Fatalf("amount mismatch %+v", d)
	}
	if m := e.discrepancies(t, run.ID, "kind=MISSING_IN_REPORT").Items; len(m) != 1 || m[0].TransactionID != unreported.capture {
		t.Fatalf("missing in report %+v", m)
	}
	page1 := e.discrepancies(t, run.ID, "limit=2")
	page2 := e.discrepancies(t, run.ID, "limit=2&cursor="+page1.NextCursor)
	if len(page1.Items) != 2 || page1.NextCursor == "" || len(page2.Items) != 1 || page2.NextCursor != "" ||
		page2.Items[0].ID <= page1.Items[1].ID {
		t.Fatalf("pages %+v %+v", page1, page2)
	}
	if n := len(e.discrepancies(t, run.ID, "change=NEW&status=OPEN").Items); n != 3 {
		t.Fatalf("new and open: %d", n)
	}
	for _, q := range []string{"kind=NOPE", "change=HEALED", "limit=500", "cursor=nonsense"} {
		resp, b := e.get(t, "/v1/recon/runs/"+strconv.FormatInt(run.ID, 10)+"/discrepancies?"+q, e.viewer)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}
	resp, b = e.get(t, "/v1/recon/runs/999999/discrepancies", e.viewer)
	mustProblem(t, resp, b, http.StatusNotFound)

	// Closing one: the note is mandatory; an open one is not opened again.
	path := "/v1/recon/discrepancies/" + strconv.FormatInt(d.ID, 10)
	for _, body := range []map[string]string{
		{"status": "RESOLVED"},
		{"status": "RESOLVED", "note": "   "},
		{"status": "DONE", "note": "why not"},
	} {
		resp, b := e.sendJSON(t, http.MethodPatch, path, e.finance, body)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}
	resp, b = e.sendJSON(t, http.MethodPatch, path, e.finance, map[string]string{"status": "OPEN", "note": "why not"})
	mustProblem(t, resp, b, http.StatusConflict)
	resp, b = e.sendJSON(t, http.MethodPatch, path, e.viewer, map[string]string{"status": "RESOLVED", "note": "x"})
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.sendJSON(t, http.MethodPatch, path, e.finance, map[string]string{"status": "RESOLVED", "note": "APO confirmed 26.50; our capture record is wrong"})
	closed := decodeBody[Discrepancy](t, resp, b, http.StatusOK)
	if closed.Status != "RESOLVED" || closed.Actor != "finance-1" || closed.ResolvedAt == nil ||
		closed.Note != "APO confirmed 26.50; our capture record is wrong" {
		t.Fatalf("closed %+v", closed)
	}
	resp, b = e.sendJSON(t, http.MethodPatch, path, e.finance, map[string]string{"status": "IGNORED", "note": "again"})
	mustProblem(t, resp, b, http.StatusConflict)
	resp, b = e.sendJSON(t, http.MethodPatch, "/v1/recon/discrepancies/999999", e.finance, map[string]string{"status": "IGNORED", "note": "x"})
	mustProblem(t, resp, b, http.StatusNotFound)
	if r := e.discrepancies(t, run.ID, "status=RESOLVED").Items; len(r) != 1 || r[0].ID != d.ID {
		t.Fatalf("resolved %+v", r)
	}
	var succeeded []audit.Entry
	for _, r := range e.audits(t, audit.ActionDiscrepancyUpdate) {
		if r.Outcome == audit.OutcomeSucceeded {
			succeeded = append(succeeded, r)
		}
	}
	if len(succeeded) != 1 || succeeded[0].Target != "recon-discrepancy:"+strconv.FormatInt(d.ID, 10) || succeeded[0].Actor != "finance-1" {
		t.Fatalf("audit of the update %+v", succeeded)
	}

	// Exports.
	runPath := "/v1/recon/runs/" + strconv.FormatInt(run.ID, 10)
	resp, b = e.get(t, runPath+"/export.xlsx", e.viewer)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != xlsxContentType ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="recon-run-`+strconv.FormatInt(run.ID, 10)+`.xlsx"` {
		t.Fatalf("xlsx: %d %v", resp.StatusCode, resp.Header)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("open workbook: %v", err)
	}
	sheets := wb.GetSheetList()
	_ = wb.Close()
	if len(sheets) == 0 || sheets[0] != "Summary" {
		t.Fatalf("sheets %v", sheets)
	}
	resp, b = e.get(t, runPath+"/export/AMOUNT_MISMATCH.csv", e.viewer)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "recon-run-"+strconv.FormatInt(run.ID, 10)+"-amount_mismatch.csv") {
		t.Fatalf("csv: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(records) != 2 || !contains(records[1], mismatched.capture) || !contains(records[1], "RESOLVED") {
		t.Fatalf("csv %v: %q", err, records)
	}
	resp, b = e.get(t, runPath+"/export/amount_mismatch.csv", e.viewer)
	mustProblem(t, resp, b, http.StatusUnprocessableEntity)

	// The nightly export's files are listed on the run with the SHA-256
	// taken when they were written; a workbook handed on can be checked.
	xlsxPath, err := e.recon.Export(context.Background(), run.ID, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	xlsxBytes, err := os.ReadFile(xlsxPath)
	if err != nil {
		t.Fatal(err)
	}
	resp, b = e.get(t, runPath, e.viewer)
	exported := decodeBody[ReconRun](t, resp, b, http.StatusOK).Exports
	if len(exported) != 1+len(recon.Kinds) || exported[0].Name != filepath.Base(xlsxPath) || exported[0].Format != "xlsx" ||
		exported[0].SHA256 != fmt.Sprintf("%x", sha256.Sum256(xlsxBytes)) || exported[0].Size != int64(len(xlsxBytes)) ||
		strings.Contains(string(b), filepath.Dir(xlsxPath)) {
		t.Fatalf("exports of the run %+v (body %s)", exported, b)
	}
	for _, x := range exported[1:] {
		if x.Format != "csv" || x.Kind == "" {
			t.Fatalf("export %+v", x)
		}
	}
	resp, b = e.get(t, "/v1/recon/runs/999999/export.xlsx", e.viewer)
	mustProblem(t, resp, b, http.StatusNotFound)

	// The same inputs again, by file id: same findings, the closed one
	// stays closed.
	second := e.waitRun(t, e.startRun(t, map[string]any{"file_ids": []int64{file.ID}}).ID)
	if second.Status != "SUCCEEDED" || second.Diff.PreviousRunID != run.ID || second.Diff.Same != 3 || second.Diff.New != 0 {
		t.Fatalf("second run %+v", second)
	}
	if r := e.discrepancies(t, second.ID, "status=RESOLVED").Items; len(r) != 1 || r[0].Fingerprint != d.Fingerprint {
		t.Fatalf("second run's resolved %+v", r)
	}

	// Refused requests.
	for _, body := range []map[string]any{
		{"date": "2024-03-01", "file_ids": []int64{file.ID}},
		{},
		{"date": "2024-02-01"},     // nothing ingested that day
		{"date": "01/03/2024"},     // not a date (refused by validation, before the handler audits)
		{"file_ids": []int64{999}}, // unknown file
	} {
		resp, b := e.sendJSON(t, http.MethodPost, "/v1/recon/runs", e.finance, body)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}

	// A run the queue refuses is failed at once, and cannot be exported.
	e.failEnqueue.Store(true)
	resp, b = e.sendJSON(t, http.MethodPost, "/v1/recon/runs", e.finance, map[string]any{"date": "2024-03-01"})
	mustProblem(t, resp, b, http.StatusServiceUnavailable)
	failed := e.runList(t, "status=FAILED")
	if len(failed.Items) != 1 || !strings.Contains(failed.Items[0].Error, "not queued") {
		t.Fatalf("failed runs %+v", failed)
	}
	resp, b = e.get(t, "/v1/recon/runs/"+strconv.FormatInt(failed.Items[0].ID, 10)+"/export.xlsx", e.viewer)
	mustProblem(t, resp, b, http.StatusConflict)
	var outcomes []string
	for _, r := range e.audits(t, audit.ActionReconRunStart) {
		outcomes = append(outcomes, r.Outcome)
	}
	sort.Strings(outcomes)
	if strings.Join(outcomes, ",") != "failed,rejected,rejected,rejected,rejected,succeeded,succeeded" {
		t.Fatalf("run audit outcomes %v", outcomes)
	}
}

// TestReconDiscrepancyReopenAndCurrent: finance reopens a closed
// discrepancy (note mandatory, audited); without knowing a run id, a viewer
// lists the current discrepancies of every period, each once and from its
// period's latest run, and filters them; a superseded run's row cannot
// change.
func TestReconDiscrepancyReopenAndCurrent(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	mismatched := seedCaptured(t, e.db, "mismatched", money.Money{Minor: 2550, Currency: "USD"})
	e.uploadOK(t, reportPart{"transactionItems_20240301_000.csv", tdReport(t, true,
		paymentLine(mismatched), captureLine(mismatched, "26.50"))})
	e.uploadOK(t, reportPart{"transactionItems_20240302_000.csv", someReport(t, "stranger")})
	first := e.waitRun(t, e.startRun(t, map[string]any{"date": "2024-03-01"}).ID)
	other := e.waitRun(t, e.startRun(t, map[string]any{"date": "2024-03-02"}).ID)
	if first.Status != "SUCCEEDED" || other.Status != "SUCCEEDED" {
		t.Fatalf("runs %+v %+v", first, other)
	}
	ds := e.discrepancies(t, first.ID, "").Items
	if len(ds) != 1 || ds[0].Kind != "AMOUNT_MISMATCH" || ds[0].Period != "2024-03-01" {
		t.Fatalf("first run's discrepancies %+v", ds)
	}
	path := "/v1/recon/discrepancies/" + strconv.FormatInt(ds[0].ID, 10)
	patch := func(key string, body map[string]string, status int) Discrepancy {
		t.Helper()
		resp, b := e.sendJSON(t, http.MethodPatch, path, key, body)
		if status != http.StatusOK {
			mustProblem(t, resp, b, status)
			return Discrepancy{}
		}
		return decodeBody[Discrepancy](t, resp, b, http.StatusOK)
	}

	// Closed, then reopened: the note is mandatory, finance only.
	patch(e.finance, map[string]string{"status": "RESOLVED", "note": "APO confirmed 26.50"}, http.StatusOK)
	patch(e.finance, map[string]string{"status": "IGNORED", "note": "closed twice"}, http.StatusConflict)
	patch(e.finance, map[string]string{"status": "OPEN"}, http.StatusUnprocessableEntity)
	patch(e.finance, map[string]string{"status": "OPEN", "note": "  "}, http.StatusUnprocessableEntity)
	patch(e.viewer, map[string]string{"status": "OPEN", "note": "x"}, http.StatusForbidden)
	reopened := patch(e.finance, map[string]string{"status": "OPEN", "note": "the corrected file never came"}, http.StatusOK)
	if reopened.Status != "OPEN" || reopened.Actor != "finance-1" || reopened.Note != "the corrected file never came" ||
		reopened.ResolvedAt != nil {
		t.Fatalf("reopened %+v", reopened)
	}
	patch(e.finance, map[string]string{"status": "OPEN", "note": "again"}, http.StatusConflict)
	var changes []string
	for _, r := range e.audits(t, audit.ActionDiscrepancyUpdate) {
		if r.Outcome == audit.OutcomeSucceeded && r.Target == "recon-discrepancy:"+strconv.FormatInt(ds[0].ID, 10) {
			changes = append(changes, string(r.Input.(json.RawMessage)))
		}
	}
	if len(changes) != 2 || !strings.Contains(changes[0], `"OPEN"`) || !strings.Contains(changes[0], "never came") {
		t.Fatalf("audited changes (newest first) %v", changes)
	}

	// A second run of the first day supersedes the first run.
	again := e.waitRun(t, e.startRun(t, map[string]any{"date": "2024-03-01"}).ID)
	current := func(query string) discrepancyListBody {
		t.Helper()
		resp, b := e.get(t, "/v1/recon/discrepancies?"+query, e.viewer)
		return decodeBody[discrepancyListBody](t, resp, b, http.StatusOK)
	}
	all := current("")
	if len(all.Items) != 2 || all.NextCursor != "" {
		t.Fatalf("current %+v", all)
	}
	byPeriod := map[string]Discrepancy{}
	for _, d := range all.Items {
		byPeriod[d.Period] = d
	}
	if d := byPeriod["2024-03-01"]; d.RunID != again.ID || d.Status != "OPEN" || d.Note != "the corrected file never came" ||
		d.Change != "SAME" {
		t.Fatalf("current of 2024-03-01 %+v", d)
	}
	if d := byPeriod["2024-03-02"]; d.RunID != other.ID || d.Kind != "MISSING_IN_LEDGER" {
		t.Fatalf("current of 2024-03-02 %+v", d)
	}
	for query, want := range map[string]int{
		"status=OPEN": 2, "status=RESOLVED": 0, "kind=MISSING_IN_LEDGER": 1, "period_from=2024-03-02": 1,
		"period_to=2024-03-01": 1, "period_from=2024-03-01&period_to=2024-03-02&status=OPEN": 2,
		"run_id=" + strconv.FormatInt(again.ID, 10): 1,
	} {
		if got := current(query); len(got.Items) != want {
			t.Errorf("%s: %d items, want %d", query, len(got.Items), want)
		}
	}
	page1 := current("limit=1")
	page2 := current("limit=1&cursor=" + page1.NextCursor)
	if len(page1.Items) != 1 || page1.NextCursor == "" || len(page2.Items) != 1 || page2.NextCursor != "" ||
		page2.Items[0].ID <= page1.Items[0].ID {
		t.Fatalf("pages %+v %+v", page1, page2)
	}
	// Youngest first, a page at a time.
	young1 := current("sort=age&dir=asc&limit=1")
	young2 := current("sort=age&dir=asc&limit=1&cursor=" + young1.NextCursor)
	if len(young1.Items) != 1 || len(young2.Items) != 1 || young1.Items[0].ID != page2.Items[0].ID ||
		young2.Items[0].ID != page1.Items[0].ID || young2.NextCursor != "" {
		t.Fatalf("youngest first: pages %+v %+v", young1, young2)
	}
	for query, param := range map[string]string{
		"sort=created":     "sort",
		"sort=kind&dir=up": "dir",
		"run_id=" + strconv.FormatInt(first.ID, 10): "run_id", // superseded
		"run_id=999999":                               "run_id",
		"period_from=01-03-2024":                      "period_from",
		"period_from=2024-03-02&period_to=2024-03-01": "period_to",
		"status=DONE":                                 "status",
		"cursor=nonsense":                             "cursor",
		"limit=201":                                   "limit",
	} {
		resp, b := e.get(t, "/v1/recon/discrepancies?"+query, e.viewer)
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if len(p.Errors) == 0 || p.Errors[0].Location != "query."+param {
			t.Errorf("%s: problem %+v, want it to name query.%s", query, p, param)
		}
	}

	// The first run's row is history now.
	resp, b := e.sendJSON(t, http.MethodPatch, path, e.finance, map[string]string{"status": "IGNORED", "note": "late"})
	if p := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(p.Detail,
		"change discrepancy "+strconv.FormatInt(byPeriod["2024-03-01"].ID, 10)) {
		t.Fatalf("change of a superseded row: %+v", p)
	}
}

func (e *reconEnv) runList(t *testing.T, query string) reconRunListBody {
	t.Helper()
	resp, b := e.get(t, "/v1/recon/runs?"+query, e.viewer)
	return decodeBody[reconRunListBody](t, resp, b, http.StatusOK)
}

// TestReconRoles: viewers read runs but cannot upload, run or close;
// checkout cannot read; no key is 401; admin passes everything.
func TestReconRoles(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	upload := reportPart{"transactionItems_20240301_000.csv", someReport(t, "roles")}
	for _, c := range []struct {
		who, key string
		read     int
		act      int
	}{
		{"no key", "", http.StatusUnauthorized, http.StatusUnauthorized},
		{"checkout", e.checkout, http.StatusForbidden, http.StatusForbidden},
		{"viewer", e.viewer, http.StatusOK, http.StatusForbidden},
	} {
		for _, path := range []string{"/v1/recon/runs", "/v1/recon/runs/1", "/v1/recon/runs/1/discrepancies",
			"/v1/recon/runs/1/export.xlsx", "/v1/recon/runs/1/export/FX_MISMATCH.csv", "/v1/recon/discrepancies"} {
			resp, b := e.get(t, path, c.key)
			if want := c.read; resp.StatusCode != want && !(want == http.StatusOK && resp.StatusCode == http.StatusNotFound) {
				t.Errorf("%s GET %s: %d, want %d: %s", c.who, path, resp.StatusCode, want, b)
			}
		}
		resp, b := e.upload(t, c.key, "", upload)
		if resp.StatusCode != c.act {
			t.Errorf("%s upload: %d, want %d: %s", c.who, resp.StatusCode, c.act, b)
		}
		resp, b = e.sendJSON(t, http.MethodPost, "/v1/recon/runs", c.key, map[string]any{"date": "2024-03-01"})
		if resp.StatusCode != c.act {
			t.Errorf("%s run: %d, want %d: %s", c.who, resp.StatusCode, c.act, b)
		}
		resp, b = e.sendJSON(t, http.MethodPatch, "/v1/recon/discrepancies/1", c.key, map[string]string{"status": "IGNORED", "note": "x"})
		if resp.StatusCode != c.act {
			t.Errorf("%s patch: %d, want %d: %s", c.who, resp.StatusCode, c.act, b)
		}
	}
	// Nothing the refused callers sent was ingested; finance and admin may.
	if f := e.uploadOK(t, upload); f.Duplicate {
		t.Fatal("a refused upload was ingested")
	}
	resp, b := e.upload(t, e.admin, "", upload)
	if got := decodeBody[reconFilesBody](t, resp, b, http.StatusCreated); !got.Files[0].Duplicate {
		t.Fatalf("admin upload %+v", got)
	}
	resp, b = e.get(t, "/v1/recon/runs", e.admin)
	decodeBody[reconRunListBody](t, resp, b, http.StatusOK)
}

// TestReconRoutesSpec: every recon operation declares its permission, the
// POSTs and the PATCH are guarded, the upload documents its multipart
// body, and the CSV export's file names follow recon.Kinds.
func TestReconRoutesSpec(t *testing.T) {
	t.Parallel()
	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	n := 0
	for path, item := range api.OpenAPI().Paths {
		if !strings.HasPrefix(path, "/v1/recon/") {
			continue
		}
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPatch: item.Patch} {
			if op == nil {
				continue
			}
			n++
			need, ok := op.Metadata[metaNeed].(auth.Need)
			if !ok {
				t.Errorf("%s %s declares no permission", method, path)
			}
			guarded, _ := op.Metadata[httpguard.MetadataKey].(bool)
			if method != http.MethodGet && (!guarded || need != auth.NeedFinance) {
				t.Errorf("%s %s: guarded=%v need=%s", method, path, guarded, need)
			}
			if method == http.MethodGet && need != auth.NeedRead {
				t.Errorf("%s %s: need=%s", method, path, need)
			}
		}
	}
	if n != 10 {
		t.Fatalf("%d recon operations, want 10", n)
	}
	paths := api.OpenAPI().Paths
	mt := paths["/v1/recon/reports"].Post.RequestBody.Content["multipart/form-data"]
	if mt == nil || mt.Schema.Properties["file"] == nil || mt.Schema.Properties["file"].Items.Format != "binary" {
		t.Fatalf("upload request body %+v", paths["/v1/recon/reports"].Post.RequestBody)
	}
	if c := paths["/v1/recon/runs/{id}/export.xlsx"].Get.Responses["200"].Content; c[xlsxContentType] == nil {
		t.Fatalf("xlsx response %+v", c)
	}
	var files []string
	for _, p := range paths["/v1/recon/runs/{id}/export/{file}"].Get.Parameters {
		if p.Name == "file" {
			for _, v := range p.Schema.Enum {
				files = append(files, v.(string))
			}
		}
	}
	var want []string
	for _, k := range recon.Kinds {
		want = append(want, string(k)+".csv")
	}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("CSV files %v, want %v", files, want)
	}
}
