package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// bankEnv is the whole api handler (newHandler, so routes.go's wiring is
// what is tested) over a fresh database, with a real bank.Service whose
// archive is a temporary directory.
type bankEnv struct {
	srv      *httptest.Server
	db       *sqlx.DB
	archive  string
	viewer   string
	finance  string
	checkout string
	admin    string
}

// newBankEnv builds the env; uploadLimit > 0 replaces the upload
// operation's 256 MiB limit, so that 413 can be tested with small bodies.
func newBankEnv(t *testing.T, uploadLimit int64) *bankEnv {
	t.Helper()
	e := &bankEnv{db: pgtest.NewDB(t)}
	dir := t.TempDir()
	e.archive = filepath.Join(dir, "archive")
	log := logging.New(&logtest.Buffer{}, slog.LevelDebug)
	// Redis only backs /readyz, which these tests do not call.
	svc := newServices(log, e.db, redis.NewClient(&redis.Options{Addr: closedPort(t)}))
	svc.bank = bank.NewService(e.db, bank.Config{ArchiveDir: e.archive}, log)
	svc.uploadDir = filepath.Join(dir, "tmp")
	if err := os.Mkdir(svc.uploadDir, 0o700); err != nil {
		t.Fatal(err)
	}
	h, api := newHandler(svc)
	if uploadLimit > 0 {
		api.OpenAPI().Paths["/v1/bank/statements"].Post.MaxBodyBytes = uploadLimit
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	_, e.viewer = mustCreateKey(t, e.db, "viewer-1", auth.RoleViewer)
	_, e.finance = mustCreateKey(t, e.db, "finance-1", auth.RoleFinance)
	_, e.checkout = mustCreateKey(t, e.db, "checkout-1", auth.RoleCheckout)
	_, e.admin = mustCreateKey(t, e.db, "admin-1", auth.RoleAdmin)
	return e
}

func (e *bankEnv) call(t *testing.T, method, path, key string, hdr http.Header, body io.Reader) (*http.Response, []byte) {
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

func (e *bankEnv) get(t *testing.T, path, key string) (*http.Response, []byte) {
	t.Helper()
	return e.call(t, http.MethodGet, path, key, nil, nil)
}

// send sends a JSON body; idemKey may be empty.
func (e *bankEnv) send(t *testing.T, method, path, key, idemKey string, body any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if idemKey != "" {
		hdr.Set(httpguard.Header, idemKey)
	}
	return e.call(t, method, path, key, hdr, bytes.NewReader(b))
}

// upload posts the files as a multipart form.
func (e *bankEnv) upload(t *testing.T, key string, parts ...reportPart) (*http.Response, []byte) {
	t.Helper()
	ct, body := reportsForm(t, parts...)
	return e.call(t, http.MethodPost, "/v1/bank/statements", key, http.Header{"Content-Type": {ct}}, bytes.NewReader(body))
}

func (e *bankEnv) audits(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := audit.NewStore(e.db).List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// outcomes counts audit rows by outcome.
func outcomes(rows []audit.Entry) map[string]int {
	out := map[string]int{}
	for _, r := range rows {
		out[r.Outcome]++
	}
	return out
}

func statementSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "bank", "statement", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	bankIBAN   = "DE89370400440532013000"
	bankNumber = "37040044/0532013000"
)

// mustBankAccount configures an account through the API.
func (e *bankEnv) mustBankAccount(t *testing.T, body map[string]any) BankAccount {
	t.Helper()
	resp, b := e.send(t, http.MethodPost, "/v1/bank/accounts", e.admin, "", body)
	return decodeBody[BankAccount](t, resp, b, http.StatusCreated)
}

type bankAccountListBody struct {
	Items      []BankAccount `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

type bankFilesBody struct {
	Files []BankFile `json:"files"`
}

type bankStatementListBody struct {
	Items      []BankStatement `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

// TestBankAccountsAPI: admin configures and changes accounts, everyone
// who reads reads them; Huma's and the domain's rules are 422 problems
// naming the field, a second account of one IBAN 409; every change is
// audited, and Idempotency-Key replays the first answer.
func TestBankAccountsAPI(t *testing.T) {
	t.Parallel()
	e := newBankEnv(t, 0)
	mapping := json.RawMessage(statementSample(t, "csv_de_mapping.json"))
	body := map[string]any{"name": "Main EUR", "iban": "DE89 3704 0044 0532 0130 00", "account_number": bankNumber,
		"currency": "EUR", "settlement_currency": "EUR", "remitters": []string{"APO PAYMENTS EUROPE B.V."},
		"csv_mapping": mapping}

	for _, key := range []string{e.finance, e.viewer, e.checkout} {
		resp, b := e.send(t, http.MethodPost, "/v1/bank/accounts", key, "", body)
		mustProblem(t, resp, b, http.StatusForbidden)
	}
	resp, b := e.send(t, http.MethodPost, "/v1/bank/accounts", e.admin, "acct-1", body)
	a := decodeBody[BankAccount](t, resp, b, http.StatusCreated)
	if a.ID == 0 || a.IBAN != bankIBAN || a.AccountNumber != bankNumber || a.Name != "Main EUR" ||
		len(a.Remitters) != 1 || !strings.Contains(string(a.CSVMapping), `"Buchungstag"`) {
		t.Fatalf("created %+v", a)
	}
	again, replayed := e.send(t, http.MethodPost, "/v1/bank/accounts", e.admin, "acct-1", body)
	if again.StatusCode != http.StatusCreated || again.Header.Get(httpguard.ReplayedHeader) != "true" || !bytes.Equal(replayed, b) {
		t.Fatalf("replay: %d %s", again.StatusCode, replayed)
	}
	resp, b = e.send(t, http.MethodPost, "/v1/bank/accounts", e.admin, "", body)
	mustProblem(t, resp, b, http.StatusConflict)

	for _, c := range []struct {
		change map[string]any
		loc    string
	}{
		{map[string]any{"iban": "DE89370400440532013001"}, "body.iban"},
		{map[string]any{"account_number": "GB29NWBK60161331926819"}, "body.account_number"},
		{map[string]any{"iban": "", "account_number": ""}, "body.iban"},
		{map[string]any{"csv_mapping": map[string]any{"delimiter": ";"}}, "body.csv_mapping"},
		{map[string]any{"remitters": []string{" "}}, "body.remitters[0]"},
		// Huma's own: the service is not reached.
		{map[string]any{"currency": "eur"}, "body.currency"},
		{map[string]any{"colour": "blue"}, "body.colour"},
	} {
		in := map[string]any{"name": "Other", "iban": "GB29NWBK60161331926819", "currency": "GBP", "settlement_currency": "GBP"}
		for k, v := range c.change {
			in[k] = v
		}
		resp, b := e.send(t, http.MethodPost, "/v1/bank/accounts", e.admin, "", in)
		p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Location != c.loc {
			t.Errorf("%v: %+v", c.change, p)
		}
	}

	path := "/v1/bank/accounts/" + strconv.FormatInt(a.ID, 10)
	resp, b = e.get(t, path, e.viewer)
	if got := decodeBody[BankAccount](t, resp, b, http.StatusOK); got.ID != a.ID || got.IBAN != bankIBAN {
		t.Fatalf("get %+v", got)
	}
	resp, b = e.get(t, "/v1/bank/accounts/999", e.viewer)
	mustProblem(t, resp, b, http.StatusNotFound)
	resp, b = e.get(t, "/v1/bank/accounts", e.checkout)
	mustProblem(t, resp, b, http.StatusForbidden)

	resp, b = e.send(t, http.MethodPatch, path, e.finance, "", map[string]any{"name": "x"})
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.send(t, http.MethodPatch, path, e.admin, "", map[string]any{"name": "Renamed", "csv_mapping": nil,
		"remitters": []string{"ANTOM", "APO"}})
	u := decodeBody[BankAccount](t, resp, b, http.StatusOK)
	if u.Name != "Renamed" || u.CSVMapping != nil || len(u.Remitters) != 2 || u.IBAN != bankIBAN {
		t.Fatalf("updated %+v", u)
	}
	for _, c := range []struct {
		body   map[string]any
		status int
		loc    string
	}{
		{map[string]any{}, http.StatusUnprocessableEntity, "body"},
		{map[string]any{"iban": "GB29NWBK60161331926819"}, http.StatusUnprocessableEntity, "body.iban"},
		{map[string]any{"settlement_currency": "XXY"}, http.StatusUnprocessableEntity, "body.settlement_currency"},
	} {
		resp, b := e.send(t, http.MethodPatch, path, e.admin, "", c.body)
		if p := mustProblem(t, resp, b, c.status); len(p.Errors) != 1 || p.Errors[0].Location != c.loc {
			t.Errorf("%v: %+v", c.body, p)
		}
	}
	resp, b = e.send(t, http.MethodPatch, "/v1/bank/accounts/999", e.admin, "", map[string]any{"name": "x"})
	mustProblem(t, resp, b, http.StatusNotFound)

	e.mustBankAccount(t, map[string]any{"name": "GBP", "iban": "GB29NWBK60161331926819", "currency": "GBP",
		"settlement_currency": "GBP"})
	resp, b = e.get(t, "/v1/bank/accounts?limit=1", e.viewer)
	page := decodeBody[bankAccountListBody](t, resp, b, http.StatusOK)
	if len(page.Items) != 1 || page.Items[0].ID != a.ID || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	resp, b = e.get(t, "/v1/bank/accounts?limit=1&cursor="+page.NextCursor, e.viewer)
	if page := decodeBody[bankAccountListBody](t, resp, b, http.StatusOK); len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
	resp, b = e.get(t, "/v1/bank/accounts?cursor=nonsense", e.viewer)
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); p.Errors[0].Location != "query.cursor" {
		t.Fatalf("bad cursor %+v", p)
	}

	// Audited: who did what; Huma's refusals never reach the handler, and
	// the replay did not run it again.
	created := e.audits(t, audit.ActionBankAccountCreate)
	if got := outcomes(created); got[audit.OutcomeSucceeded] != 2 || got[audit.OutcomeRejected] != 6 || len(created) != 8 {
		t.Errorf("create audit rows %v", got)
	}
	first := created[len(created)-1]
	if first.Actor != "admin-1" || first.Target != "bank-account:"+strconv.FormatInt(a.ID, 10) ||
		!strings.Contains(string(first.Input.(json.RawMessage)), "Buchungstag") {
		t.Errorf("first create %+v", first)
	}
	updated := e.audits(t, audit.ActionBankAccountUpdate)
	if got := outcomes(updated); got[audit.OutcomeSucceeded] != 1 || got[audit.OutcomeRejected] != 3 {
		t.Errorf("update audit rows %v", got)
	}
}

// TestBankStatementsAPI: finance uploads statement files, readers list
// and read them with their entries and findings; the same file again is a
// duplicate; a refused file is a 422 naming its lines while the good file
// beside it goes in; uploads are audited without content.
func TestBankStatementsAPI(t *testing.T) {
	t.Parallel()
	e := newBankEnv(t, 0)
	acct := e.mustBankAccount(t, map[string]any{"name": "Main", "iban": bankIBAN, "account_number": bankNumber,
		"currency": "EUR", "settlement_currency": "EUR"})
	camt := reportPart{"camt053_v02.xml", statementSample(t, "camt053_v02.xml")}
	mt := reportPart{"auszug.sta", statementSample(t, "mt940_two.sta")}

	for _, key := range []string{e.viewer, e.checkout} {
		resp, b := e.upload(t, key, camt)
		mustProblem(t, resp, b, http.StatusForbidden)
	}
	resp, b := e.upload(t, e.finance, camt, mt)
	files := decodeBody[bankFilesBody](t, resp, b, http.StatusCreated).Files
	if len(files) != 2 || files[0].Format != "camt.053" || files[0].Duplicate || len(files[0].Statements) != 2 ||
		files[1].Format != "MT940" || len(files[1].Statements) != 2 || files[0].SHA256 != sha256Hex(camt.content) {
		t.Fatalf("files %+v", files)
	}
	// The MT940 sample opens at another balance than the camt sample
	// closes with (they are of one account here): a break, a finding.
	dec4 := files[1].Statements[0]
	if dec4.Status != "FINDINGS" || len(dec4.Findings) != 2 || dec4.Findings[0].Kind != "STATEMENT_BALANCE_BREAK" ||
		dec4.Findings[0].PreviousStatementID != files[0].Statements[1].ID || dec4.Findings[0].Expected == nil ||
		dec4.Findings[1].Kind != "STATEMENT_DAY_MISSING" || dec4.Findings[1].MissingFrom != "2026-12-03" {
		t.Fatalf("Dec 4 %+v", dec4)
	}

	resp, b = e.upload(t, e.finance, reportPart{"renamed.xml", camt.content})
	dup := decodeBody[bankFilesBody](t, resp, b, http.StatusCreated).Files
	if len(dup) != 1 || !dup[0].Duplicate || dup[0].Statements[0].ID != files[0].Statements[0].ID {
		t.Fatalf("duplicate %+v", dup)
	}

	// A bad line refuses its file whole; the good file beside it is in.
	bad := strings.Replace(string(mt.content), "C800,NTRF", "C8OO,NTRF", 1)
	good := reportPart{"v08.xml", statementSample(t, "camt053_v08.xml")}
	resp, b = e.upload(t, e.finance, reportPart{"bad.sta", []byte(bad)}, good)
	p := mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Location != "bad.sta:26" || !strings.HasPrefix(p.Errors[0].Message, ":61:") ||
		!strings.Contains(p.Detail, "refused whole") || !strings.Contains(p.Detail, "ingested: v08.xml") {
		t.Fatalf("bad line: %+v", p)
	}
	// A statement of an account not configured.
	other := strings.ReplaceAll(string(statementSample(t, "camt053_v08.xml")), bankIBAN, "GB29NWBK60161331926819")
	resp, b = e.upload(t, e.finance, reportPart{"other.xml", []byte(other)})
	p = mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Location != "other.xml:15" || !strings.Contains(p.Errors[0].Message, "IBAN GB29NWBK60161331926819") {
		t.Fatalf("unknown account: %+v", p)
	}
	// Not a file upload at all, and a name that is a path.
	resp, b = e.send(t, http.MethodPost, "/v1/bank/statements", e.finance, "", map[string]string{"file": "x"})
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); p.Errors[0].Location != "header.Content-Type" {
		t.Fatalf("json body: %+v", p)
	}
	resp, b = e.upload(t, e.finance, reportPart{"../x.sta", mt.content})
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); p.Errors[0].Location != "body.file[0]" {
		t.Fatalf("path name: %+v", p)
	}

	resp, b = e.get(t, "/v1/bank/statements?account_id="+strconv.FormatInt(acct.ID, 10)+"&from=2026-12-03&limit=2", e.viewer)
	list := decodeBody[bankStatementListBody](t, resp, b, http.StatusOK)
	if len(list.Items) != 2 || list.NextCursor == "" || list.Items[0].FromDate != "2026-12-03" || list.Items[0].Findings != nil {
		t.Fatalf("first page %+v", list)
	}
	resp, b = e.get(t, "/v1/bank/statements?from=2026-12-03&limit=2&cursor="+list.NextCursor, e.viewer)
	if rest := decodeBody[bankStatementListBody](t, resp, b, http.StatusOK); len(rest.Items) != 1 || rest.NextCursor != "" {
		t.Fatalf("second page %+v", rest)
	}
	for _, q := range []string{"from=2026-13-01", "account_id=0", "from=2026-12-05&to=2026-12-04", "cursor=x"} {
		resp, b := e.get(t, "/v1/bank/statements?"+q, e.viewer)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}

	path := "/v1/bank/statements/" + strconv.FormatInt(files[0].Statements[0].ID, 10)
	resp, b = e.get(t, path+"?entries_limit=2", e.viewer)
	st := decodeBody[BankStatementDetail](t, resp, b, http.StatusOK)
	if st.StatementID != "20261201-0532013000-235" || st.EntryCount != 3 || len(st.Entries) != 2 || st.EntriesNextCursor == "" ||
		st.OpeningBalance == nil || st.OpeningBalance.Amount.Value != 1_000_000 || st.File.Name != "camt053_v02.xml" ||
		st.Entries[0].EndToEndID != "APO-B-20261201-01" || len(st.Entries[1].Transactions) != 2 {
		t.Fatalf("statement %+v", st)
	}
	resp, b = e.get(t, path+"?entries_limit=2&entries_cursor="+st.EntriesNextCursor, e.viewer)
	if rest := decodeBody[BankStatementDetail](t, resp, b, http.StatusOK); len(rest.Entries) != 1 || rest.Entries[0].Seq != 3 ||
		rest.EntriesNextCursor != "" {
		t.Fatalf("entries page 2 %+v", rest.Entries)
	}
	resp, b = e.get(t, path+"?entries_cursor=x", e.viewer)
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); p.Errors[0].Location != "query.entries_cursor" {
		t.Fatalf("bad entries cursor %+v", p)
	}
	resp, b = e.get(t, "/v1/bank/statements/999", e.viewer)
	mustProblem(t, resp, b, http.StatusNotFound)

	rows := e.audits(t, audit.ActionBankStatementUpload)
	if got := outcomes(rows); got[audit.OutcomeSucceeded] != 2 || got[audit.OutcomeRejected] != 4 {
		t.Errorf("upload audit rows %v", got)
	}
	for _, r := range rows {
		if r.Actor != "finance-1" {
			t.Errorf("audit row %+v", r)
		}
		if raw, _ := r.Input.(json.RawMessage); bytes.Contains(raw, []byte("APO-B-")) {
			t.Errorf("audit input holds file content: %s", raw)
		}
	}
	oldest := rows[len(rows)-1]
	if oldest.Target != "bank-statement:"+strconv.FormatInt(files[0].Statements[0].ID, 10)+","+
		strconv.FormatInt(files[0].Statements[1].ID, 10)+","+strconv.FormatInt(files[1].Statements[0].ID, 10)+","+
		strconv.FormatInt(files[1].Statements[1].ID, 10) ||
		!strings.Contains(string(oldest.Input.(json.RawMessage)), sha256Hex(mt.content)) {
		t.Errorf("first upload's audit row %+v", oldest)
	}
}

// TestBankUploadTooLarge: past the operation's limit the answer is 413 and
// nothing of the upload is ingested.
func TestBankUploadTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	e := newBankEnv(t, limit)
	e.mustBankAccount(t, map[string]any{"name": "Main", "iban": bankIBAN, "currency": "EUR", "settlement_currency": "EUR"})
	small := reportPart{"camt.xml", statementSample(t, "camt053_v02.xml")}
	resp, b := e.upload(t, e.finance, small, reportPart{"big.sta", bytes.Repeat([]byte("x"), limit)})
	mustProblem(t, resp, b, http.StatusRequestEntityTooLarge)
	resp, b = e.upload(t, e.finance, small)
	if files := decodeBody[bankFilesBody](t, resp, b, http.StatusCreated).Files; len(files) != 1 || files[0].Duplicate {
		t.Fatalf("a refused upload ingested its small file: %+v", files)
	}
}
