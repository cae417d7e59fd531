package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/sandboxtest"
)

// disputeEnv is the dispute operations on a real server: the api's
// authentication middleware, addDisputeRoutes, real payments and disputes
// services on a fresh database, and the sandbox with a clock that can run
// ahead.
type disputeEnv struct {
	srv      *httptest.Server
	db       *sqlx.DB
	sb       *sandboxtest.Env
	pay      *payments.Service
	svc      *disputes.Service
	ahead    atomic.Int64 // how far the sandbox's clock runs ahead, in ns
	logs     *logtest.Buffer
	viewer   string
	operator string
	checkout string
}

func newDisputeEnv(t *testing.T) *disputeEnv {
	t.Helper()
	e := &disputeEnv{db: pgtest.NewDB(t), logs: &logtest.Buffer{}}
	e.sb = sandboxtest.Start(t, sandboxtest.Options{Now: func() time.Time {
		return time.Now().Add(time.Duration(e.ahead.Load()))
	}})
	log := logging.New(e.logs, slog.LevelDebug)
	e.pay = payments.NewService(e.db, e.sb.Client, nil, log, "http://127.0.0.1:1")
	e.svc = disputes.NewService(e.db, e.sb.Client, e.pay, nil, log)
	mux := http.NewServeMux()
	api := humago.New(mux, apiConfig())
	api.UseMiddleware(authenticate(api, log, auth.NewStore(e.db)))
	addDisputeRoutes(api, newEdge(api, log, audit.NewStore(e.db), idempotency.NewStore(e.db)), e.svc)
	e.srv = httptest.NewServer(httpx.RequestID(mux))
	t.Cleanup(e.srv.Close)
	_, e.viewer = mustCreateKey(t, e.db, "viewer-1", auth.RoleViewer)
	_, e.operator = mustCreateKey(t, e.db, "operator-1", auth.RoleOperator)
	_, e.checkout = mustCreateKey(t, e.db, "checkout-1", auth.RoleCheckout)
	return e
}

// dispute captures a payment, opens a dispute on it in the sandbox and
// delivers DISPUTE_CREATED; it returns payops' dispute id.
func (e *disputeEnv) dispute(t *testing.T, minor int64) (string, payments.Payment) {
	t.Helper()
	ctx := context.Background()
	p, err := e.pay.Create(ctx, payments.CreateRequest{
		ReferenceOrderID: "order-" + strconv.FormatInt(time.Now().UnixNano(), 36), Amount: money.Money{Minor: minor, Currency: "EUR"},
		BuyerReference: "buyer-9", TerminalType: "WEB", ClientIP: "198.51.100.4", RedirectURL: "https://shop.example/back",
		Card: payments.CardInput{Number: "5555555555554444", CVV: "737", ExpiryMonth: "03", ExpiryYear: expiryYear(),
			HolderFirst: "Grace", HolderLast: "Hopper"},
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
		"defenseDueTime": time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339), "disputeReasonCode": "4853",
		"disputeSource": "Mastercard", "disputeType": "CHARGEBACK", "disputeReasonMsg": "Cardholder Dispute",
	})
	n, err := apo.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.HandleDisputeNotification(ctx, n.Dispute, body); err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.List(ctx, disputes.Filter{PaymentID: p.ID})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(page.Items))
	}
	return page.Items[0].ID, p
}

func (e *disputeEnv) call(t *testing.T, method, path, key string, hdr http.Header, body io.Reader) (*http.Response, []byte) {
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

func (e *disputeEnv) postJSON(t *testing.T, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	return e.call(t, http.MethodPost, path, key, http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(b))
}

// multipartBody builds a form with one file part named field.
func multipartBody(t *testing.T, field, partType string, doc []byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="evidence.bin"`)
	if partType != "" {
		h.Set("Content-Type", partType)
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(doc); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// upload posts a multipart defence with one part named field.
func (e *disputeEnv) upload(t *testing.T, id, key, field, partType string, doc []byte) (*http.Response, []byte) {
	t.Helper()
	ct, body := multipartBody(t, field, partType, doc)
	return e.call(t, http.MethodPost, "/v1/disputes/"+id+"/defense", key, http.Header{"Content-Type": {ct}}, bytes.NewReader(body))
}

// disputeListBody and disputeDetailBody are the bodies of
// DisputeListOutput and DisputeDetailOutput.
type disputeListBody struct {
	Items      []Dispute `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

type disputeDetailBody struct {
	Dispute
	History []DisputeEvent  `json:"history"`
	Payment *DisputePayment `json:"payment"`
}

func decodeBody[T any](t *testing.T, resp *http.Response, body []byte, status int) T {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func (e *disputeEnv) audits(t *testing.T, action string) []audit.Entry {
	t.Helper()
	rows, _, err := audit.NewStore(e.db).List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestDisputeRoles: a viewer reads disputes and the payment facts, but
// cannot accept or defend; checkout cannot even read; an operator accepts,
// and the acceptance is audited.
func TestDisputeRoles(t *testing.T) {
	t.Parallel()
	e := newDisputeEnv(t)
	id, p := e.dispute(t, 4200)

	resp, b := e.call(t, http.MethodGet, "/v1/disputes", e.viewer, nil, nil)
	list := decodeBody[disputeListBody](t, resp, b, http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].Status != "OPEN" || list.Items[0].Amount.Value != 4200 {
		t.Fatalf("list %s", b)
	}
	resp, b = e.call(t, http.MethodGet, "/v1/disputes/"+id, e.viewer, nil, nil)
	det := decodeBody[disputeDetailBody](t, resp, b, http.StatusOK)
	if det.Payment == nil || det.Payment.ID != p.ID || det.Payment.Card.Last4 != "4444" || det.Payment.Card.BIN != "555555" ||
		det.Payment.CapturedAmount.Value != 4200 || len(det.Payment.Timeline) == 0 || len(det.Payment.Transactions) != 2 ||
		len(det.History) != 1 || det.History[0].Kind != "DISPUTE_CREATED" || det.ReasonCode != "4853" || det.Scheme != "Mastercard" {
		t.Fatalf("detail %s", b)
	}
	mustContainNone(t, "dispute detail", string(b), "5555555555554444", `"737"`)

	resp, b = e.postJSON(t, "/v1/disputes/"+id+"/accept", e.viewer, map[string]string{"reason": "x"})
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.upload(t, id, e.viewer, "file", "application/pdf", []byte("%PDF-1.4 x"))
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.call(t, http.MethodGet, "/v1/disputes", e.checkout, nil, nil)
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.call(t, http.MethodGet, "/v1/disputes", "", nil, nil)
	mustProblem(t, resp, b, http.StatusUnauthorized)
	if rows := e.audits(t, audit.ActionDisputeAccept); len(rows) != 0 {
		t.Fatalf("forbidden accept audited as an action: %+v", rows)
	}

	resp, b = e.postJSON(t, "/v1/disputes/"+id+"/accept", e.operator, map[string]string{"reason": ""})
	mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	resp, b = e.postJSON(t, "/v1/disputes/"+id+"/accept", e.operator, map[string]string{"reason": "goods never shipped"})
	d := decodeBody[Dispute](t, resp, b, http.StatusOK)
	if d.Status != "ACCEPTED" || d.LostAmount == nil || d.LostAmount.Value != 4200 || d.AcceptReason != "MERCHANT_ACCEPTED" {
		t.Fatalf("accept %s", b)
	}
	rows := e.audits(t, audit.ActionDisputeAccept)
	if len(rows) != 1 || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Actor != "operator-1" ||
		rows[0].Target != "dispute:"+id || !strings.Contains(string(rows[0].Input.(json.RawMessage)), "goods never shipped") {
		t.Fatalf("accept audit rows %+v", rows)
	}
	// The payment now refuses refunds beyond captured − accepted.
	var conflict *payments.ConflictError
	if _, _, err := e.pay.Refund(context.Background(), p.ID, payments.RefundRequest{Amount: 1, Reason: "x", Actor: "op"}); !errors.As(err, &conflict) {
		t.Fatalf("refund after accepting the whole amount: %v", err)
	}

	resp, b = e.call(t, http.MethodGet, "/v1/disputes/01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e", e.viewer, nil, nil)
	mustProblem(t, resp, b, http.StatusNotFound)
	mustContainNone(t, "logs", e.logs.String(), "5555555555554444")
}

// TestDisputeDefenseUpload: bad uploads are 422 (413 when the body is far
// too large) and reach neither APO nor the database; a good one is stored
// and sent; Idempotency-Key replays work on the multipart body.
func TestDisputeDefenseUpload(t *testing.T) {
	t.Parallel()
	e := newDisputeEnv(t)
	id, _ := e.dispute(t, 990)

	bigPDF := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{'x'}, 760_000)...)
	for name, tc := range map[string]struct {
		field, ct string
		doc       []byte
		status    int
		detail    string
	}{
		"gif":           {"file", "image/gif", []byte("GIF89a\x01\x00"), 422, "not a PDF, JPEG or PNG"},
		"text":          {"file", "", []byte("just words"), 422, "not a PDF, JPEG or PNG"},
		"empty":         {"file", "application/pdf", nil, 422, "empty"},
		"over 750,000":  {"file", "application/pdf", bigPDF, 422, "at most 750000"},
		"type mismatch": {"file", "image/png", []byte("%PDF-1.4\n"), 422, "declared image/png"},
		"no file field": {"document", "application/pdf", []byte("%PDF-1.4\n"), 422, "file field is missing"},
		"far too large": {"file", "application/pdf", append([]byte("%PDF"), make([]byte, 900_000)...), 413, ""},
	} {
		resp, b := e.upload(t, id, e.operator, tc.field, tc.ct, tc.doc)
		p := mustProblem(t, resp, b, tc.status)
		if !strings.Contains(p.Detail, tc.detail) && !strings.Contains(string(b), tc.detail) {
			t.Errorf("%s: problem %s, want it to mention %q", name, b, tc.detail)
		}
	}
	resp, b := e.call(t, http.MethodPost, "/v1/disputes/"+id+"/defense", e.operator,
		http.Header{"Content-Type": {"application/pdf"}}, bytes.NewReader([]byte("%PDF-1.4\n")))
	mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	var stored int
	if err := e.db.Get(&stored, `SELECT count(*) FROM disputes WHERE evidence IS NOT NULL`); err != nil || stored != 0 {
		t.Fatalf("%d documents stored after rejected uploads (%v)", stored, err)
	}

	doc := []byte("%PDF-1.4\n1 0 obj << >> endobj\nshipping label and signed delivery receipt\n%%EOF\n")
	ct, form := multipartBody(t, "file", "application/pdf", doc)
	hdr := http.Header{"Content-Type": {ct}, "Idempotency-Key": {"defend-1"}}
	path := "/v1/disputes/" + id + "/defense"
	resp, b = e.call(t, http.MethodPost, path, e.operator, hdr, bytes.NewReader(form))
	d := decodeBody[Dispute](t, resp, b, http.StatusOK)
	if d.Status != "DEFENSE_SUPPLIED" || d.Evidence == nil || d.Evidence.Size != len(doc) ||
		d.Evidence.ContentType != "application/pdf" || d.DefenseActor != "operator-1" {
		t.Fatalf("defence %s", b)
	}
	resp2, b2 := e.call(t, http.MethodPost, path, e.operator, hdr, bytes.NewReader(form))
	if resp2.StatusCode != http.StatusOK || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay with the same key: %d %q %s", resp2.StatusCode, resp2.Header.Get("Idempotent-Replayed"), b2)
	}
	resp, b = e.upload(t, id, e.operator, "file", "application/pdf", []byte("%PDF-1.4\nanother\n"))
	mustProblem(t, resp, b, http.StatusConflict)

	rows := e.audits(t, audit.ActionDisputeDefend)
	outcomes := map[string]int{}
	for _, r := range rows {
		outcomes[r.Outcome]++
		mustContainNone(t, "audit input", string(r.Input.(json.RawMessage)), "shipping label")
	}
	if outcomes[audit.OutcomeSucceeded] != 1 || outcomes[audit.OutcomeRejected] < 7 {
		t.Fatalf("defence audit outcomes %v", outcomes)
	}
}

// TestDisputeTimeExceedsLimit: APO's TIME_EXCEEDS_LIMIT comes back as 409
// with the code, for a defence and for an acceptance.
func TestDisputeTimeExceedsLimit(t *testing.T) {
	t.Parallel()
	e := newDisputeEnv(t)
	id, _ := e.dispute(t, 500)
	e.ahead.Store(int64(11 * 24 * time.Hour)) // past the sandbox's 10-day window

	resp, b := e.upload(t, id, e.operator, "file", "application/pdf", []byte("%PDF-1.4\nlate\n"))
	p := mustProblem(t, resp, b, http.StatusConflict)
	if !strings.Contains(p.Detail, "TIME_EXCEEDS_LIMIT") || len(p.Errors) != 1 || p.Errors[0].Message != "TIME_EXCEEDS_LIMIT" {
		t.Fatalf("late defence problem %s", b)
	}
	resp, b = e.postJSON(t, "/v1/disputes/"+id+"/accept", e.operator, map[string]string{"reason": "too late anyway"})
	if p = mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(p.Detail, "TIME_EXCEEDS_LIMIT") {
		t.Fatalf("late accept problem %s", b)
	}
	if rows := e.audits(t, audit.ActionDisputeDefend); len(rows) != 1 || rows[0].Outcome != audit.OutcomeFailed {
		t.Fatalf("defence audit %+v", rows)
	}
	resp, b = e.call(t, http.MethodGet, "/v1/disputes/"+id, e.viewer, nil, nil)
	if det := decodeBody[disputeDetailBody](t, resp, b, http.StatusOK); det.Status != "OPEN" || len(det.History) != 3 {
		t.Fatalf("after refusals %s", b)
	}
}

// TestDisputeListAndTemplate: filters, their validation, and the template
// download.
func TestDisputeListAndTemplate(t *testing.T) {
	t.Parallel()
	e := newDisputeEnv(t)
	id, p := e.dispute(t, 700)
	for q, want := range map[string]int{
		"?due_within=7d": 0, "?due_within=11d": 1, "?due_within=239h": 0, "?status=OPEN": 1, "?status=WON": 0,
		"?reason=4853": 1, "?reason=10.4": 0, "?scheme=mastercard": 1, "?payment_id=" + p.ID: 1, "?limit=1": 1,
	} {
		resp, b := e.call(t, http.MethodGet, "/v1/disputes"+q, e.viewer, nil, nil)
		if got := decodeBody[disputeListBody](t, resp, b, http.StatusOK); len(got.Items) != want {
			t.Errorf("%s: %d items, want %d", q, len(got.Items), want)
		}
	}
	for _, q := range []string{"?due_within=soon", "?due_within=-1h", "?due_within=0d", "?status=MAYBE",
		"?payment_id=nope", "?cursor=garbage", "?limit=0"} {
		resp, b := e.call(t, http.MethodGet, "/v1/disputes"+q, e.viewer, nil, nil)
		mustProblem(t, resp, b, http.StatusUnprocessableEntity)
	}

	resp, b := e.call(t, http.MethodGet, "/v1/disputes/"+id+"/evidence-template", e.viewer, nil, nil)
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = e.call(t, http.MethodGet, "/v1/disputes/"+id+"/evidence-template", e.operator, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" ||
		!bytes.HasPrefix(b, []byte("%PDF-")) || !strings.Contains(resp.Header.Get("Content-Disposition"), "template.pdf") {
		t.Fatalf("template: %d %q %q %.30q", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.Header.Get("Content-Disposition"), b)
	}
}

// TestDisputeRoutesSpec registers the routes as the openapi command does
// (no database, no service) and checks what the spec promises.
func TestDisputeRoutesSpec(t *testing.T) {
	t.Parallel()
	api := humago.New(http.NewServeMux(), apiConfig())
	addDisputeRoutes(api, newEdge(api, slog.New(slog.DiscardHandler), nil, nil), nil)
	paths := api.OpenAPI().Paths
	for path, ops := range map[string][]*huma.Operation{
		"/v1/disputes":                        {paths["/v1/disputes"].Get},
		"/v1/disputes/{id}":                   {paths["/v1/disputes/{id}"].Get},
		"/v1/disputes/{id}/accept":            {paths["/v1/disputes/{id}/accept"].Post},
		"/v1/disputes/{id}/defense":           {paths["/v1/disputes/{id}/defense"].Post},
		"/v1/disputes/{id}/evidence-template": {paths["/v1/disputes/{id}/evidence-template"].Get},
	} {
		for _, op := range ops {
			if op == nil {
				t.Fatalf("%s not registered", path)
			}
			if _, ok := op.Metadata[metaNeed].(auth.Need); !ok {
				t.Errorf("%s declares no permission", path)
			}
			if op.Method == http.MethodPost {
				if guarded, _ := op.Metadata[httpguard.MetadataKey].(bool); !guarded {
					t.Errorf("%s is not guarded by Idempotency-Key", path)
				}
			}
		}
	}
	mt := paths["/v1/disputes/{id}/defense"].Post.RequestBody.Content["multipart/form-data"]
	if mt == nil || mt.Schema.Properties["file"] == nil || mt.Schema.Properties["file"].Format != "binary" {
		t.Fatalf("defense request body %+v", paths["/v1/disputes/{id}/defense"].Post.RequestBody)
	}
}
