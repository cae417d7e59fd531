package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

var disOrders atomic.Int64

// disOpen captures a payment of minor EUR, opens a chargeback on it in the
// sandbox and delivers DISPUTE_CREATED with its defence due in due, as
// cmd/api's dispute tests do; it returns the dispute and its payment.
func (e *env) disOpen(t *testing.T, minor int64, due time.Duration) (disputes.Dispute, payments.Payment) {
	t.Helper()
	ctx := context.Background()
	p, err := e.pay.Create(ctx, payments.CreateRequest{
		ReferenceOrderID: fmt.Sprintf("dis-order-%d-%d", time.Now().UnixNano(), disOrders.Add(1)),
		Amount:           money.Money{Minor: minor, Currency: "EUR"}, BuyerReference: "buyer-9", TerminalType: "WEB",
		ClientIP: "198.51.100.4", RedirectURL: "https://shop.example/back",
		Card: payments.CardInput{Number: "5555555555554444", CVV: "737", ExpiryMonth: "03",
			ExpiryYear: strconv.Itoa(time.Now().Year() + 3), HolderFirst: "Grace", HolderLast: "Hopper"},
		Actor: "test",
	})
	if err != nil || p.Status != payments.StatusAuthorized {
		t.Fatalf("create: %v %s", err, p.Status)
	}
	if p, _, err = e.pay.Capture(ctx, p.ID, payments.CaptureRequest{Actor: "test"}); err != nil {
		t.Fatalf("capture: %v", err)
	}
	did, err := e.sb.Sandbox.OpenDispute(p.APOPaymentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"disputeNotificationType": apo.DisputeCreated, "disputeId": did, "paymentId": p.APOPaymentID,
		"paymentRequestId": p.PaymentRequestID, "disputeAmount": map[string]string{"currency": "EUR", "value": strconv.FormatInt(minor, 10)},
		"defenseDueTime": time.Now().Add(due).UTC().Format(time.RFC3339), "disputeReasonCode": "4853",
		"disputeSource": "Mastercard", "disputeType": "CHARGEBACK", "disputeReasonMsg": "Cardholder Dispute",
		"disputeTime": time.Now().UTC().Format(time.RFC3339),
	})
	n, err := apo.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.disputes.HandleDisputeNotification(ctx, n.Dispute, body); err != nil {
		t.Fatal(err)
	}
	page, err := e.disputes.List(ctx, disputes.Filter{PaymentID: p.ID})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(page.Items))
	}
	return page.Items[0], p
}

// disFile is one file of a multipart upload.
type disFile struct {
	Name, Type string
	Data       []byte
}

// disUpload posts files as the defence form does (field "file"), as a
// same-origin browser would.
func (e *env) disUpload(t *testing.T, c *http.Client, path string, files []disFile, headers ...string) (*http.Response, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, f.Name))
		h.Set("Content-Type", f.Type)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(f.Data)
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, &b)
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

// disPNG is a small PNG image.
func disPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(40 + x%200), G: 90, B: uint8(120 + y%100), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var disPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

var disFieldRE = map[string]*regexp.Regexp{}

// disField is the value of the hidden input name in body.
func disField(t *testing.T, body, name string) string {
	t.Helper()
	re, ok := disFieldRE[name]
	if !ok {
		re = regexp.MustCompile(`name="` + name + `" value="([^"]+)"`)
		disFieldRE[name] = re
	}
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s field in:\n%s", name, body)
	}
	return m[1]
}

// disExpect fails unless resp has status and body holds every want.
func disExpect(t *testing.T, what string, resp *http.Response, body string, status int, wants ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, resp.StatusCode, status, body)
	}
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Fatalf("%s: the answer lacks %q\n%s", what, w, body)
		}
	}
}

// disAudits lists the audit rows of action on target, newest first.
func (e *env) disAudits(t *testing.T, action, target string) []audit.Entry {
	t.Helper()
	rows, _, err := e.audit.List(context.Background(), audit.Filter{Action: action, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// disFlash follows a change's redirect and returns the page it lands on,
// which shows the change's confirmation.
func (e *env) disFlash(t *testing.T, c *http.Client, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: status %d, want 303", resp.StatusCode)
	}
	r, body := e.get(t, c, resp.Header.Get("Location"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("after the change: %d\n%s", r.StatusCode, body)
	}
	return body
}

// TestDisputesList: open disputes soonest deadline first with their time
// left, filters and page size in the URL, keyset pages, and what a viewer
// may see.
func TestDisputesList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	late, _ := e.disOpen(t, 2000, 10*24*time.Hour)
	soon, soonPay := e.disOpen(t, 1500, 30*time.Hour)
	mid, _ := e.disOpen(t, 123456, 5*24*time.Hour)
	done, _ := e.disOpen(t, 700, 3*24*time.Hour)
	if _, err := e.disputes.Accept(context.Background(), done.ID, "refunded already", "test"); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	e.login(t, c, viewer)

	resp, body := e.get(t, c, "/console/disputes")
	disExpect(t, "list", resp, body, http.StatusOK, "15.00 EUR", "1,234.56 EUR", "1d 5h", "Cardholder Dispute", "Mastercard",
		`href="/console/payments/`+soonPay.ID+`"`, `href="/console/disputes/`+soon.ID+`"`)
	order := []int{strings.Index(body, soon.APODisputeID), strings.Index(body, mid.APODisputeID), strings.Index(body, late.APODisputeID)}
	if order[0] < 0 || order[0] > order[1] || order[1] > order[2] {
		t.Fatalf("rows at %v: want the soonest deadline first", order)
	}
	if strings.Contains(body, done.APODisputeID) {
		t.Fatal("an accepted dispute is in the default (open) list")
	}

	resp, body = e.get(t, c, "/console/disputes?due_within=48h")
	disExpect(t, "due within 48h", resp, body, http.StatusOK, soon.APODisputeID)
	if strings.Contains(body, mid.APODisputeID) {
		t.Fatal("due_within=48h lists a dispute due in 5 days")
	}
	resp, body = e.get(t, c, "/console/disputes?status=all&sort=newest")
	disExpect(t, "every status", resp, body, http.StatusOK, done.APODisputeID, "ACCEPTED")
	if strings.Index(body, done.APODisputeID) > strings.Index(body, late.APODisputeID) {
		t.Fatal("sort=newest does not list the newest first")
	}
	resp, body = e.get(t, c, "/console/disputes?status=ACCEPTED")
	disExpect(t, "accepted", resp, body, http.StatusOK, done.APODisputeID)
	resp, body = e.get(t, c, "/console/disputes?status=BOGUS")
	disExpect(t, "bad status", resp, body, http.StatusUnprocessableEntity, "unknown status")
	resp, body = e.get(t, c, "/console/disputes?due_within=forever")
	disExpect(t, "bad due_within", resp, body, http.StatusUnprocessableEntity, "due_within")
	resp, body = e.get(t, c, "/console/disputes?reason=9999")
	disExpect(t, "no match", resp, body, http.StatusOK, "No dispute matches these filters")

	// Pages of two, following the pager: each dispute once, in order.
	var seen []string
	path := "/console/disputes?limit=2"
	for range 5 {
		resp, body = e.get(t, c, path)
		disExpect(t, "page", resp, body, http.StatusOK)
		for _, d := range []disputes.Dispute{soon, mid, late} {
			if strings.Contains(body, `href="/console/disputes/`+d.ID+`"`) {
				seen = append(seen, d.ID)
			}
		}
		m := regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`).FindStringSubmatch(body)
		if m == nil {
			break
		}
		path = strings.ReplaceAll(m[1], "&amp;", "&")
		if !strings.Contains(path, "limit=2") {
			t.Fatalf("the next page link %q drops the page size", path)
		}
	}
	if want := []string{soon.ID, mid.ID, late.ID}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("pages listed %v, want %v", seen, want)
	}
}

// TestDisputeAccept: a viewer sees the dispute without its actions and is
// refused a forged accept; an operator's accept goes through a
// confirmation that states the money effect, is audited as the API does
// with the console user as the actor, and happens once per form token.
func TestDisputeAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	d, p := e.disOpen(t, 2000, 7*24*time.Hour)
	vc := e.client(t)
	e.login(t, vc, viewer)
	page := "/console/disputes/" + d.ID

	resp, body := e.get(t, vc, page)
	disExpect(t, "viewer's detail", resp, body, http.StatusOK, d.APODisputeID, "20.00 EUR", `href="/console/payments/`+p.ID+`"`,
		p.APOPaymentID, "DISPUTE_CREATED", "555555", "4444")
	for _, action := range []string{"Review acceptance", "Review defence", "/template"} {
		if strings.Contains(body, action) {
			t.Fatalf("a viewer is offered %q", action)
		}
	}
	for _, forged := range []string{page + "/accept/preview", page + "/accept", page + "/defend/preview", page + "/defend"} {
		resp, body = e.post(t, vc, forged, url.Values{"reason": {"forged"}, "token": {"forged-token"}})
		disExpect(t, "viewer's forged "+forged, resp, body, http.StatusForbidden, "Not allowed")
	}
	if resp, _ = e.get(t, vc, page+"/template"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer's template download: %d, want 403", resp.StatusCode)
	}
	if rows := e.disAudits(t, audit.ActionDisputeAccept, ""); len(rows) != 0 {
		t.Fatalf("refused requests left audit rows: %+v", rows)
	}

	oc := e.client(t)
	e.login(t, oc, ops)
	resp, body = e.get(t, oc, page)
	disExpect(t, "operator's detail", resp, body, http.StatusOK, "Review acceptance", "Review defence", page+"/template")

	resp, body = e.post(t, oc, page+"/accept/preview", url.Values{"reason": {"  "}}, "HX-Request: true", "HX-Trigger: accept")
	disExpect(t, "accept without a reason", resp, body, http.StatusUnprocessableEntity, "reason", "required")
	if resp.Header.Get("HX-Retarget") != "#accept-error" {
		t.Fatalf("the problem goes to %q, want the form's error slot", resp.Header.Get("HX-Retarget"))
	}

	resp, body = e.post(t, oc, page+"/accept/preview", url.Values{"reason": {"goods never shipped"}}, "HX-Request: true")
	disExpect(t, "accept preview (htmx)", resp, body, http.StatusOK,
		"Accept the chargeback of EUR 20.00: the money stays with the cardholder.", ">Accept EUR 20.00</button>")
	resp, body = e.post(t, oc, page+"/accept/preview", url.Values{"reason": {"goods never shipped"}})
	disExpect(t, "accept preview (plain)", resp, body, http.StatusOK, "<html", "Accept EUR 20.00")
	token := disField(t, body, "token")
	if got, _ := e.disputes.Get(context.Background(), d.ID); got.Dispute.Status != disputes.StatusOpen {
		t.Fatalf("the preview changed the dispute: %s", got.Dispute.Status)
	}

	form := url.Values{"token": {token}, "reason": {"goods never shipped"}}
	resp, _ = e.post(t, oc, page+"/accept", form)
	body = e.disFlash(t, oc, resp)
	disExpect(t, "after accept", resp, body, http.StatusSeeOther, "Accepted the chargeback of EUR 20.00", "ACCEPTED")
	got, _ := e.disputes.Get(context.Background(), d.ID)
	if got.Dispute.Status != disputes.StatusAccepted {
		t.Fatalf("status %s after accept", got.Dispute.Status)
	}

	// The same form again (a double click, a resend): answered with the
	// first outcome, nothing asked of APO twice.
	resp, _ = e.post(t, oc, page+"/accept", form)
	body = e.disFlash(t, oc, resp)
	disExpect(t, "resubmitted accept", resp, body, http.StatusSeeOther, "Already done: Accepted")
	rows := e.disAudits(t, audit.ActionDisputeAccept, audit.DisputeTarget(d.ID))
	if len(rows) != 1 || rows[0].Actor != ops.Email || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Role != "operator" {
		t.Fatalf("audit rows %+v, want one succeeded row by %s", rows, ops.Email)
	}
	var in acceptInput
	if err := json.Unmarshal(rows[0].Input.(json.RawMessage), &in); err != nil || in.Reason != "goods never shipped" {
		t.Fatalf("audit input %s, want the API's {reason}", rows[0].Input)
	}
	accepts := 0
	for _, ev := range got.Events {
		if ev.Kind == "accept" {
			accepts++
		}
	}
	if accepts != 1 {
		t.Fatalf("%d accept events, want 1", accepts)
	}

	// Accepted: no more actions, and a forged one is the domain's refusal.
	resp, body = e.get(t, oc, page)
	disExpect(t, "accepted detail", resp, body, http.StatusOK, "Lost", "20.00 EUR")
	if strings.Contains(body, "Review acceptance") {
		t.Fatal("an accepted dispute still offers accepting")
	}
	resp, body = e.post(t, oc, page+"/accept/preview", url.Values{"reason": {"again"}})
	disExpect(t, "accept an accepted dispute", resp, body, http.StatusConflict, "cannot be accepted")

	// APO's template, as a download with a safe name.
	resp, body = e.get(t, oc, page+"/template")
	disExpect(t, "template", resp, body, http.StatusOK)
	if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="dispute-` + d.ID + `-template(\.pdf|\.docx?)?"$`).MatchString(cd) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	if resp, _ = e.get(t, oc, "/console/disputes/not-a-dispute/template"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("template of no dispute: %d", resp.StatusCode)
	}
}

// TestDisputeDefendWithFiles: two evidence files become one PDF, shown
// with their names and sizes before the one-shot submit; the submit sends
// it through Defend once per form token, audited with each file, and the
// uploads do not outlive it. Bad uploads are refused before anything is
// sent.
func TestDisputeDefendWithFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	other := e.user(t, "other@example.com", auth.RoleOperator)
	d, _ := e.disOpen(t, 2000, 7*24*time.Hour)
	page := "/console/disputes/" + d.ID
	c := e.client(t)
	e.login(t, c, ops)

	png := disPNG(t, 64, 48)
	files := []disFile{{"receipt.png", "image/png", png}, {"delivery proof.pdf", "application/pdf", disPDF}}

	// Refusals first: nothing kept, nothing sent.
	resp, body := e.disUpload(t, c, page+"/defend/preview", []disFile{files[0], {"notes.txt", "text/plain", []byte("hello")}},
		"HX-Request: true", "HX-Trigger: defend")
	disExpect(t, "a text file", resp, body, http.StatusUnprocessableEntity, "notes.txt", "not a PDF, JPEG or PNG")
	if resp.Header.Get("HX-Retarget") != "#defend-error" {
		t.Fatalf("the problem goes to %q", resp.Header.Get("HX-Retarget"))
	}
	resp, body = e.disUpload(t, c, page+"/defend/preview", []disFile{{"big.pdf", "application/pdf",
		append(append([]byte{}, disPDF...), make([]byte, disputes.MaxEvidenceBytes+100<<10)...)}})
	disExpect(t, "too large", resp, body, http.StatusRequestEntityTooLarge, "Upload too large")
	resp, body = e.disUpload(t, c, page+"/defend/preview", []disFile{{"", "application/octet-stream", nil}})
	disExpect(t, "no file chosen", resp, body, http.StatusUnprocessableEntity, "choose one or more files")

	resp, body = e.disUpload(t, c, page+"/defend/preview", files)
	disExpect(t, "defence preview", resp, body, http.StatusOK, "receipt.png", "delivery proof.pdf",
		groupThousands(len(png))+" bytes", fmt.Sprintf("%d bytes", len(disPDF)), "Sent as one PDF",
		"Submit defence to APO — this can be done once")
	token, upload := disField(t, body, "token"), disField(t, body, "upload")
	if matches, _ := filepath.Glob(filepath.Join(e.recon.TempDir(), "console-evidence-*")); len(matches) != 0 {
		t.Fatalf("spooled uploads left behind: %v", matches)
	}

	// Another operator cannot send this person's upload.
	oc := e.client(t)
	e.login(t, oc, other)
	resp, body = e.post(t, oc, page+"/defend", url.Values{"token": {"other-token"}, "upload": {upload}})
	disExpect(t, "someone else's upload", resp, body, http.StatusUnprocessableEntity, "this upload is gone")
	resp, body = e.post(t, c, page+"/defend", url.Values{"token": {"bad-upload"}, "upload": {"../../etc/passwd"}})
	disExpect(t, "a forged upload id", resp, body, http.StatusUnprocessableEntity, "this upload is gone")

	form := url.Values{"token": {token}, "upload": {upload}}
	resp, _ = e.post(t, c, page+"/defend", form)
	body = e.disFlash(t, c, resp)
	disExpect(t, "after defend", resp, body, http.StatusSeeOther, "Defence sent to APO: 2 files as one PDF", "DEFENSE_SUPPLIED",
		"application/pdf")
	got, _ := e.disputes.Get(context.Background(), d.ID)
	if got.Dispute.Status != disputes.StatusDefenseSupplied || got.Dispute.Evidence == nil ||
		got.Dispute.Evidence.ContentType != disputes.ContentTypePDF || got.Dispute.DefenseActor != ops.Email {
		t.Fatalf("after defend: %s %+v by %q", got.Dispute.Status, got.Dispute.Evidence, got.Dispute.DefenseActor)
	}

	resp, _ = e.post(t, c, page+"/defend", form)
	body = e.disFlash(t, c, resp)
	disExpect(t, "resubmitted defence", resp, body, http.StatusSeeOther, "Already done: Defence sent")
	rows := e.disAudits(t, audit.ActionDisputeDefend, audit.DisputeTarget(d.ID))
	if len(rows) != 1 || rows[0].Actor != ops.Email || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("audit rows %+v, want one succeeded row by %s", rows, ops.Email)
	}
	var in defenceInput
	if err := json.Unmarshal(rows[0].Input.(json.RawMessage), &in); err != nil {
		t.Fatal(err)
	}
	if in.ContentType != disputes.ContentTypePDF || in.Size != got.Dispute.Evidence.Size || len(in.Files) != 2 ||
		in.Files[0] != (defenceFile{"receipt.png", len(png)}) || in.Files[1] != (defenceFile{"delivery proof.pdf", len(disPDF)}) {
		t.Fatalf("audit input %+v", in)
	}
	defences := 0
	for _, ev := range got.Events {
		if ev.Kind == "defense" {
			defences++
		}
	}
	if defences != 1 {
		t.Fatalf("%d defence events, want 1", defences)
	}
	// The document is in the dispute; the upload keeps no copy of it.
	kept, err := os.ReadFile(filepath.Join(e.recon.TempDir(), uploadPrefix+upload+".json"))
	if err == nil && bytes.Contains(kept, []byte(`"doc"`)) {
		t.Fatal("the sent document is still kept in the upload directory")
	}
	// Defended: no more responses offered.
	resp, body = e.get(t, c, page)
	disExpect(t, "defended detail", resp, body, http.StatusOK, "Defence sent")
	if strings.Contains(body, "Review defence") {
		t.Fatal("a defended dispute still offers a defence")
	}
}

// TestDisputesInBrowser: an operator opens the list and a dispute, defends
// it with two files through the confirmation and sees its new status, then
// accepts another; each page passes axe and is saved as a screenshot.
func TestDisputesInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	d1, _ := e.disOpen(t, 4200, 36*time.Hour)
	d2, _ := e.disOpen(t, 2000, 6*24*time.Hour)
	e.disOpen(t, 99000, -2*time.Hour) // overdue
	dir := t.TempDir()
	receipt, proof := filepath.Join(dir, "receipt.png"), filepath.Join(dir, "delivery-proof.pdf")
	if err := os.WriteFile(receipt, disPNG(t, 320, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proof, disPDF, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := e.browser(t)
	e.browserLogin(t, ctx, ops)

	run(t, ctx, "disputes list", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.srv.URL+"/console/disputes"), chromedp.WaitVisible(chromedp.CSS("table.grid")))
	first := read(t, ctx, "first row", chromedp.Text(chromedp.CSS("table.grid tbody tr")))
	if !strings.Contains(first, "overdue") {
		t.Fatalf("first row %q: want the overdue dispute first", first)
	}
	checkAccessibility(t, ctx, "disputes")
	screenshot(t, ctx, "disputes")

	run(t, ctx, "open a dispute", chromedp.Click(chromedp.CSS(`a[href="/console/disputes/`+d1.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("defend")))
	checkAccessibility(t, ctx, "dispute")
	screenshot(t, ctx, "dispute")

	run(t, ctx, "choose two files", chromedp.SetUploadFiles(chromedp.ID("defend-files"), []string{receipt, proof}),
		chromedp.Click(chromedp.CSS("#defend button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("defend-send")))
	panel := read(t, ctx, "confirmation", chromedp.Text(chromedp.ID("defend-confirm")))
	for _, want := range []string{"receipt.png", "delivery-proof.pdf", fmt.Sprintf("%d bytes", len(disPDF)), "cannot be changed or sent again"} {
		if !strings.Contains(panel, want) {
			t.Fatalf("confirmation %q lacks %q", panel, want)
		}
	}
	checkAccessibility(t, ctx, "dispute defence confirmation")
	screenshot(t, ctx, "dispute-defence-confirm")
	run(t, ctx, "submit the defence", chromedp.Click(chromedp.CSS("#defend-send button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	flash := read(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash")))
	status := read(t, ctx, "status", chromedp.Text(chromedp.CSS("h1 .badge")))
	if !strings.Contains(flash, "Defence sent to APO: 2 files") || status != "DEFENSE SUPPLIED" {
		t.Fatalf("after the defence: flash %q, status %q", flash, status)
	}
	screenshot(t, ctx, "dispute-defended")

	run(t, ctx, "open another", chromedp.Navigate(e.srv.URL+"/console/disputes/"+d2.ID), chromedp.WaitVisible(chromedp.ID("accept")),
		chromedp.SendKeys(chromedp.ID("accept-reason"), "the goods were never shipped"),
		chromedp.Click(chromedp.CSS("#accept button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("accept-send")))
	button := read(t, ctx, "accept button", chromedp.Text(chromedp.CSS("#accept-send button[type=submit]")))
	effect := read(t, ctx, "accept effect", chromedp.Text(chromedp.ID("accept-effect")))
	if button != "Accept EUR 20.00" || effect != "Accept the chargeback of EUR 20.00: the money stays with the cardholder." {
		t.Fatalf("accept confirmation: %q / %q", effect, button)
	}
	run(t, ctx, "accept", chromedp.Click(chromedp.CSS("#accept-send button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if status := read(t, ctx, "status", chromedp.Text(chromedp.CSS("h1 .badge"))); status != "ACCEPTED" {
		t.Fatalf("after accepting: %q", status)
	}
	if rows := e.disAudits(t, audit.ActionDisputeAccept, audit.DisputeTarget(d2.ID)); len(rows) != 1 || rows[0].Actor != ops.Email {
		t.Fatalf("accept audit rows %+v", rows)
	}
}
