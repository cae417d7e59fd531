package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
)

// ---- helpers ----

var bankUploadToken = regexp.MustCompile(`/console/bank/statements\?token=([A-Za-z0-9]+)`)

// bankUploadForm posts one statement file as the upload form does, with
// token in the form's URL.
func (e *env) bankUploadForm(t *testing.T, c *http.Client, token, name, content string, headers ...string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "text/plain")
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/console/bank/statements?token="+url.QueryEscape(token), &buf)
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

// bankConfirmed is the hidden fields of the confirmation form id on body,
// as the browser would post them.
func bankConfirmed(t *testing.T, body, id string) url.Values {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no form %q on the page:\n%s", id, body)
	}
	form := body[i:]
	form = form[:strings.Index(form, "</form>")]
	out := url.Values{}
	for _, m := range reconHiddenInput.FindAllStringSubmatch(form, -1) {
		out.Add(m[1], html.UnescapeString(m[2]))
	}
	return out
}

// bankStatements lists every stored statement.
func (e *env) bankStatements(t *testing.T) []bank.Statement {
	t.Helper()
	page, err := e.bank.ListStatements(context.Background(), bank.StatementFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func bankAccountInput(t *testing.T, row audit.Entry) map[string]any {
	t.Helper()
	var in map[string]any
	raw, _ := row.Input.(json.RawMessage)
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatalf("audit input %s: %v", raw, err)
	}
	return in
}

// ---- tests ----

// TestBankAccountsAdminOnly: an admin configures an account and changes it,
// each asked first with what will be configured, acted on once per form
// token, with the API's audit row (action, target, its body as input);
// refusals are shown and audited as the API's. Finance and viewers see no
// such form, and their forged posts are 403 and change nothing.
func TestBankAccountsAdminOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	ac, fc := e.client(t), e.client(t)
	e.login(t, ac, admin)
	e.login(t, fc, fin)
	ctx := context.Background()

	_, page := e.get(t, ac, "/console/bank")
	mustContain(t, "the admin's empty bank page", page, `id="create-account"`, "No bank account yet. Configure the account")
	form := url.Values{"name": {"Second"}, "iban": {"GB29 NWBK 6016 1331 9268 19"}, "account_number": {""},
		"currency": {"gbp"}, "settlement_currency": {"GBP"}, "remitters": {"APO Payments Europe\n\n"}, "csv_mapping": {""}}
	resp, preview := e.post(t, ac, "/console/bank/accounts/preview", form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, preview)
	}
	mustContain(t, "the confirmation", preview, "Configure the bank account “Second”?", "GB29 NWBK 6016 1331 9268 19",
		"<dd>GBP</dd>", "APO Payments Europe", `value="Second"`)
	if accounts, _ := e.bank.ListAccounts(ctx, "", 10); len(accounts.Items) != 0 {
		t.Fatal("a preview configured an account")
	}
	confirm := bankConfirmed(t, preview, "create-account-go")
	resp, body := e.post(t, ac, "/console/bank/accounts", confirm)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	accounts, err := e.bank.ListAccounts(ctx, "", 10)
	if err != nil || len(accounts.Items) != 1 {
		t.Fatalf("accounts %v %+v", err, accounts.Items)
	}
	a := accounts.Items[0]
	if a.IBAN != "GB29NWBK60161331926819" || a.Currency != "GBP" || fmt.Sprint(a.Remitters) != "[APO Payments Europe]" ||
		resp.Header.Get("Location") != fmt.Sprintf("/console/bank/accounts/%d", a.ID) {
		t.Fatalf("configured %+v, sent to %q", a, resp.Header.Get("Location"))
	}
	// The same confirmation again: acted on once.
	if resp, _ := e.post(t, ac, "/console/bank/accounts", confirm); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resubmission: %d", resp.StatusCode)
	}
	if again, _ := e.bank.ListAccounts(ctx, "", 10); len(again.Items) != 1 {
		t.Fatalf("a resubmitted form configured %d accounts", len(again.Items))
	}
	rows := e.reconAudits(t, audit.ActionBankAccountCreate)
	if len(rows) != 1 || rows[0].Target != audit.BankAccountTarget(a.ID) || rows[0].Actor != admin.Email ||
		rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("create audit rows %+v", rows)
	}
	if in := bankAccountInput(t, rows[0]); in["iban"] != "GB29 NWBK 6016 1331 9268 19" || in["currency"] != "GBP" ||
		in["name"] != "Second" || fmt.Sprint(in["remitters"]) != "[APO Payments Europe]" || in["csv_mapping"] != nil {
		t.Errorf("create audit input %v", in)
	}

	// The same IBAN again: refused by the domain, audited as rejected.
	_, preview = e.post(t, ac, "/console/bank/accounts/preview", form)
	resp, body = e.post(t, ac, "/console/bank/accounts", bankConfirmed(t, preview, "create-account-go"),
		"HX-Request: true", "HX-Trigger: create-account-go")
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("HX-Retarget") != "#create-account-go-error" ||
		!strings.Contains(body, "already configured") {
		t.Fatalf("duplicate IBAN: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	if rows := e.reconAudits(t, audit.ActionBankAccountCreate); len(rows) != 2 || rows[0].Outcome != audit.OutcomeRejected ||
		rows[0].Target != "bank-account:0" {
		t.Fatalf("duplicate's audit rows %+v", rows)
	}
	// A form the API's schema would refuse: named, not audited.
	bad := url.Values{"name": {"X"}, "iban": {""}, "currency": {"EURO"}, "settlement_currency": {"EUR"}}
	resp, body = e.post(t, ac, "/console/bank/accounts/preview", bad, "HX-Request: true", "HX-Trigger: create-account")
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#create-account-error" ||
		!strings.Contains(body, "<code>currency</code>") {
		t.Fatalf("bad currency: %d\n%s", resp.StatusCode, body)
	}

	// Change: the confirmation names only what changes, and the audit row
	// keeps only that, as the API's PATCH body would.
	path := fmt.Sprintf("/console/bank/accounts/%d", a.ID)
	_, page = e.get(t, ac, path)
	mustContain(t, "the account page", page, `id="change-account"`, "GB29NWBK60161331926819")
	change := url.Values{"name": {"Second GBP"}, "settlement_currency": {"gbp"}, "remitters": {"APO Payments Europe"}, "csv_mapping": {""}}
	resp, preview = e.post(t, ac, path+"/preview", change)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("change preview: %d\n%s", resp.StatusCode, preview)
	}
	mustContain(t, "the change's confirmation", preview, "Second → Second GBP", "Save 1 change")
	confirm = bankConfirmed(t, preview, "change-account-go")
	if len(confirm) != 2 || confirm.Get("name") != "Second GBP" {
		t.Fatalf("the change's confirmation posts %v", confirm)
	}
	if resp, body := e.post(t, ac, path, confirm); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", resp.StatusCode, body)
	}
	if got, _ := e.bank.GetAccount(ctx, a.ID); got.Name != "Second GBP" || got.SettlementCurrency != "GBP" {
		t.Fatalf("changed %+v", got)
	}
	rows = e.reconAudits(t, audit.ActionBankAccountUpdate)
	if len(rows) != 1 || rows[0].Target != audit.BankAccountTarget(a.ID) || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("update audit rows %+v", rows)
	}
	if in := bankAccountInput(t, rows[0]); len(in) != 1 || in["name"] != "Second GBP" {
		t.Errorf("update audit input %v", in)
	}
	change.Set("name", "Second GBP")
	resp, body = e.post(t, ac, path+"/preview", change)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "nothing to change") {
		t.Fatalf("a change of nothing: %d\n%s", resp.StatusCode, body)
	}

	// Finance uploads statements but configures no account.
	_, page = e.get(t, fc, "/console/bank")
	if strings.Contains(page, `id="create-account"`) || !strings.Contains(page, `id="statement-upload"`) {
		t.Error("finance's bank page: want the upload form and no account form")
	}
	if _, page = e.get(t, fc, path); strings.Contains(page, `id="change-account"`) {
		t.Error("finance sees the change form")
	}
	audits := len(e.reconAudits(t, ""))
	for _, p := range []string{"/console/bank/accounts/preview", "/console/bank/accounts", path + "/preview", path} {
		if resp, _ := e.post(t, fc, p, url.Values{"token": {"t1"}, "name": {"Forged"}, "currency": {"EUR"},
			"settlement_currency": {"EUR"}, "iban": {"DE89370400440532013000"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("finance POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
	if got, _ := e.bank.GetAccount(ctx, a.ID); got.Name != "Second GBP" {
		t.Errorf("a forged change went through: %+v", got)
	}
	if all, _ := e.bank.ListAccounts(ctx, "", 10); len(all.Items) != 1 || len(e.reconAudits(t, "")) != audits {
		t.Error("a refused finance request changed something")
	}
}

// TestBankViewerReadsOnly: a viewer reads accounts, statements and a
// statement's entries, sees no upload or account form, and a forged
// upload or change from a viewer's session is 403 and stores nothing.
func TestBankViewerReadsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	vc, fc := e.client(t), e.client(t)
	e.login(t, vc, viewer)
	e.login(t, fc, fin)
	ctx := context.Background()
	a, err := e.bank.CreateAccount(ctx, bank.NewAccount{Name: "Main EUR", Number: payoutAccountNumber, Currency: "EUR",
		SettlementCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.bank.Ingest(ctx, "stmt-1.sta", strings.NewReader(payoutMT940(1, "2026-11-24", 0, payoutCredit{7500, "Payout BPAID"})))
	if err != nil {
		t.Fatal(err)
	}
	st := f.Statements[0]
	for _, p := range []string{"/console/bank", fmt.Sprintf("/console/bank/accounts/%d", a.ID), fmt.Sprintf("/console/bank/statements/%d", st.ID)} {
		resp, body := e.get(t, vc, p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("viewer GET %s: %d", p, resp.StatusCode)
		}
		for _, no := range []string{`id="statement-upload"`, `id="create-account"`, `id="change-account"`, "Review…", `type="file"`} {
			if strings.Contains(body, no) {
				t.Errorf("viewer sees %q on %s", no, p)
			}
		}
	}
	_, body := e.get(t, vc, fmt.Sprintf("/console/bank/statements/%d", st.ID))
	mustContain(t, "the statement page", body, "STMT1", "2026-11-24", "75.00 EUR", "Payout BPAID", "stmt-1.sta", "Main EUR")
	_, body = e.get(t, vc, "/console/bank")
	mustContain(t, "the statements list", body, fmt.Sprintf(`id="statement-%d"`, st.ID), "0.00 EUR", "75.00 EUR", "Main EUR")

	_, finPage := e.get(t, fc, "/console/bank")
	token := bankUploadToken.FindStringSubmatch(finPage)[1]
	audits := len(e.reconAudits(t, ""))
	if resp, _ := e.bankUploadForm(t, vc, token, "stmt-2.sta", payoutMT940(2, "2026-11-25", 7500)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer upload: %d, want 403", resp.StatusCode)
	}
	for _, p := range []string{"/console/bank/accounts/preview", "/console/bank/accounts", fmt.Sprintf("/console/bank/accounts/%d", a.ID)} {
		if resp, _ := e.post(t, vc, p, url.Values{"token": {token}, "name": {"Forged"}, "currency": {"EUR"},
			"settlement_currency": {"EUR"}, "iban": {"DE89370400440532013000"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
	if n := len(e.bankStatements(t)); n != 1 || len(e.reconAudits(t, "")) != audits {
		t.Errorf("a refused viewer request changed something: %d statements", n)
	}
	if got, _ := e.bank.GetAccount(ctx, a.ID); got.Name != "Main EUR" {
		t.Errorf("a forged change went through: %+v", got)
	}
	for _, p := range []string{"/console/bank/statements/999999", "/console/bank/accounts/0"} {
		if resp, _ := e.get(t, vc, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestBankUploadInBrowser: finance uploads a statement file with a bad
// line and sees the line named inline, nothing stored; then the good file,
// and sees it listed with its balances and its entries on its page. Each
// upload has its audit row as the API's. The pages pass the accessibility
// check.
func TestBankUploadInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	if _, err := e.bank.CreateAccount(context.Background(), bank.NewAccount{Name: "Main EUR", Number: payoutAccountNumber,
		Currency: "EUR", SettlementCurrency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	good := payoutMT940(1, "2026-11-24", 1000, payoutCredit{7500, "Payout BPAID"}, payoutCredit{1234, "Payout BNEXT"})
	bad := strings.Replace(good, "C75,00NTRF", "C75,0O0NTRF", 1)
	ctx := e.browser(t)
	e.browserLogin(t, ctx, fin)

	run(t, ctx, "the bank page", chromedp.Navigate(e.srv.URL+"/console/bank"), chromedp.WaitVisible(chromedp.ID("statement-file")))
	mustContain(t, "the empty statements list", read(t, ctx, "statements", chromedp.Text(chromedp.ID("statements"))),
		"No statement yet. Upload the bank's statement files above")
	checkAccessibility(t, ctx, "bank")
	run(t, ctx, "upload the bad file",
		chromedp.SetUploadFiles(chromedp.ID("statement-file"), []string{payoutTempFile(t, "bad.sta", bad)}),
		chromedp.Click(chromedp.CSS("#statement-upload button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#statement-upload-error .problem")),
	)
	problem := read(t, ctx, "the error", chromedp.Text(chromedp.ID("statement-upload-error")))
	mustContain(t, "the inline error", problem, "Statement file(s) refused: bad.sta", "bad.sta:5", ":61:")
	if n := len(e.bankStatements(t)); n != 0 {
		t.Fatalf("a refused file stored %d statements", n)
	}
	checkAccessibility(t, ctx, "bank upload refused")
	screenshot(t, ctx, "bank-upload-refused")

	run(t, ctx, "upload the good file",
		chromedp.SetUploadFiles(chromedp.ID("statement-file"), []string{payoutTempFile(t, "stmt-20261124.sta", good)}),
		chromedp.Click(chromedp.CSS("#statement-upload button[type=submit]")),
	)
	read(t, ctx, "the upload's flash", chromedp.Poll[bool](
		`(() => { const f = document.querySelector("p.flash"); return !!f && f.textContent.startsWith("Uploaded 1 statement file: 1 statement stored") })()`,
		chromedp.WithPollingTimeout(2*time.Minute)))
	stmts := e.bankStatements(t)
	if len(stmts) != 1 || stmts[0].Entries != 2 || stmts[0].Status != bank.StatusOK {
		t.Fatalf("stored %+v", stmts)
	}
	row := read(t, ctx, "the statement's row", chromedp.Text(chromedp.ID(fmt.Sprintf("statement-%d", stmts[0].ID))))
	mustContain(t, "the statement's row", row, "STMT1", "Main EUR", "2026-11-24", "10.00 EUR", "97.34 EUR", "2", "OK", "stmt-20261124.sta")
	screenshot(t, ctx, "bank")

	run(t, ctx, "the statement", chromedp.Click(chromedp.CSS(fmt.Sprintf("#statement-%d a", stmts[0].ID))),
		chromedp.WaitVisible(chromedp.CSS("table.entries")))
	mustContain(t, "the entries", read(t, ctx, "entries", chromedp.Text(chromedp.CSS("table.entries tbody"))),
		"75.00 EUR", "12.34 EUR", "Payout BNEXT", "APO Payments Europe")
	checkAccessibility(t, ctx, "bank statement")
	screenshot(t, ctx, "bank-statement")

	rows := e.reconAudits(t, audit.ActionBankStatementUpload)
	if len(rows) != 2 || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Target != "bank-statement:"+strconv.FormatInt(stmts[0].ID, 10) ||
		rows[1].Outcome != audit.OutcomeRejected || rows[1].Target != "bank-statement:" || rows[0].Actor != fin.Email {
		t.Fatalf("upload audit rows %+v", rows)
	}
	var in reconUploadAudit
	if err := json.Unmarshal(rows[1].Input.(json.RawMessage), &in); err != nil || len(in.Files) != 1 ||
		in.Files[0].Name != "bad.sta" || in.Files[0].Status != "REFUSED" {
		t.Errorf("the refused upload's audit input %s", rows[1].Input)
	}
}

// TestBankUploadRefusals: an htmx upload of a bad file answers the problem
// into the form's error slot with each bad line as "<file>:<line>"; a file
// of an account not configured is refused whole; a plain post shows the
// same on a page of its own.
func TestBankUploadRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	_, page := e.get(t, c, "/console/bank")
	token := bankUploadToken.FindStringSubmatch(page)[1]
	// No account configured: the statement's account is unknown.
	resp, body := e.bankUploadForm(t, c, token, "stmt.sta", payoutMT940(1, "2026-11-24", 0), "HX-Request: true", "HX-Trigger: statement-upload")
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#statement-upload-error" ||
		!strings.Contains(body, "stmt.sta:1</code>") || !strings.Contains(body, "no bank account is configured") {
		t.Fatalf("unknown account: %d %q\n%s", resp.StatusCode, resp.Header.Get("HX-Retarget"), body)
	}
	if _, err := e.bank.CreateAccount(context.Background(), bank.NewAccount{Name: "Main EUR", Number: payoutAccountNumber,
		Currency: "EUR", SettlementCurrency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(payoutMT940(1, "2026-11-24", 0, payoutCredit{100, "x"}), "C1,00NTRF", "C1,0O0NTRF", 1)
	_, page = e.get(t, c, "/console/bank")
	resp, body = e.bankUploadForm(t, c, bankUploadToken.FindStringSubmatch(page)[1], "bad.sta", bad)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "<html") || !strings.Contains(body, "bad.sta:5</code>") {
		t.Fatalf("bad line, plain post: %d\n%s", resp.StatusCode, body)
	}
	if n := len(e.bankStatements(t)); n != 0 {
		t.Fatalf("refused files stored %d statements", n)
	}
}
