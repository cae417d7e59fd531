package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/redistest"
)

// FuzzListQuery sends GET <list endpoint>?<query> with an admin key
// through the whole api handler, over a real database holding a few rows of
// everything listed. Whatever the query, the answer is 200 with an items
// array or a 4xx problem document, never a 5xx (a filter value that reached
// SQL badly, or a panic), and the rows are unchanged. The committed seed
// corpus is in testdata/fuzz/FuzzListQuery; endpoint picks the path, modulo
// the number of list endpoints.
func FuzzListQuery(f *testing.F) {
	// Set up once per process: each input then costs one request and one
	// checksum query.
	db := pgtest.NewDB(f)
	runID := seedListed(f, db)
	_, admin, err := auth.NewStore(db).Create(context.Background(), auth.NewKey{Name: "fuzz-admin", Role: auth.RoleAdmin, CreatedBy: "test"})
	if err != nil {
		f.Fatal(err)
	}
	key := "Bearer " + admin.Reveal()
	logs := &logtest.Buffer{}
	log := logging.New(logs, slog.LevelInfo)
	rdb := redistest.Start(f).Client()
	f.Cleanup(func() { _ = rdb.Close() })
	svc := newServices(log, db, rdb)
	pay := payments.NewService(db, nil, nil, log, "http://127.0.0.1:1")
	svc.usePayments(pay, inbox.NewService(db, nil, pay, nil, nil, log))
	svc.disputes = disputes.NewService(db, nil, pay, nil, log)
	dir := f.TempDir()
	svc.recon = recon.NewService(db, recon.Config{ReportsDir: filepath.Join(dir, "reports"),
		ArchiveDir: filepath.Join(dir, "archive"), ExportDir: filepath.Join(dir, "exports")}, log)
	h, _ := newHandler(svc)
	paths := []string{"/v1/payments", "/v1/disputes", "/v1/webhook-events", "/v1/recon/runs",
		"/v1/recon/runs/" + strconv.FormatInt(runID, 10) + "/discrepancies", "/v1/audit-log", "/v1/recon/discrepancies"}
	before := listedChecksum(f, db)

	f.Fuzz(func(t *testing.T, endpoint uint, query string) {
		path := paths[endpoint%uint(len(paths))]
		logs.Reset()
		// The query goes in raw, past any client's encoding, as a hostile
		// client could send it.
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.URL.RawQuery = query
		req.RequestURI = path + "?" + query
		req.Header.Set("Authorization", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp, body := rec.Result(), rec.Body.Bytes()

		switch code := resp.StatusCode; {
		case code == http.StatusOK:
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("GET %s?%q: 200 with content type %q", path, query, ct)
			}
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(body, &page); err != nil || page.Items == nil {
				t.Fatalf("GET %s?%q: 200 without an items array (%v): %s", path, query, err, body)
			}
			if len(page.Items) > 200 {
				t.Fatalf("GET %s?%q: %d items, more than the largest page", path, query, len(page.Items))
			}
		case code >= 400 && code < 500:
			mustProblem(t, resp, body, code)
		default:
			t.Fatalf("GET %s?%q: status %d, want 200 or 4xx; body %s\nserver log:\n%s", path, query, code, body, logs)
		}
		if after := listedChecksum(t, db); after != before {
			t.Fatalf("GET %s?%q changed the listed rows", path, query)
		}
	})
}

// listedChecksum is a digest of every row of the tables the list endpoints
// read, in one query: it runs after every input.
func listedChecksum(t testing.TB, db *sqlx.DB) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"payments", "payment_transactions", "disputes", "webhook_events",
		"report_files", "recon_runs", "discrepancies", "audit_log"} {
		parts = append(parts, `(SELECT '`+table+`=' || count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
			FROM `+table+` t)`)
	}
	var sum string
	if err := db.Get(&sum, `SELECT concat_ws(' ', `+strings.Join(parts, ", ")+`)`); err != nil {
		t.Fatal(err)
	}
	return sum
}

// seedListed writes a few rows for every list endpoint, so that filters,
// pages and cursors meet data: payments in several states (one captured on
// 2024-03-01 and missing from the report, so a discrepancy names it),
// disputes, notifications, two reconciliation runs of that day with
// discrepancies, and audit rows. It returns the latest run's id.
func seedListed(tb testing.TB, db *sqlx.DB) int64 {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	day := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	expiry := time.Now().Add(12 * time.Hour).UTC()
	st := payments.NewStore(db)
	var ids []string
	for i, s := range []struct {
		status   payments.Status
		last4    string
		acquirer string
		review   bool
	}{
		{payments.StatusCaptured, "4242", "ANTOM", false},
		{payments.StatusAuthorized, "1111", "ANTOM", false},
		{payments.StatusFailed, "0002", "Adyen", true},
		{payments.StatusProcessing, "", "", false},
	} {
		at := day.Add(time.Duration(i) * time.Hour)
		tag := strconv.Itoa(i)
		p := payments.Payment{ID: uuid.NewString(), PaymentRequestID: "payreq_fuzz" + tag, APOPaymentID: "2024apo_fuzz" + tag,
			ReferenceOrderID: "order-fuzz-" + tag, Amount: money.Money{Minor: 1000 + int64(i), Currency: "USD"},
			CaptureMode: "MANUAL", Status: s.status, Card: payments.Card{Brand: "VISA", Last4: s.last4},
			Acquirer: payments.Acquirer{Name: s.acquirer}, NeedsReview: s.review, CreatedBy: "test", Version: 1,
			CreatedAt: at, UpdatedAt: at}
		if s.status == payments.StatusAuthorized {
			p.AuthExpiry = &expiry
		}
		if s.status == payments.StatusCaptured {
			p.CapturedMinor = p.Amount.Minor
		}
		must(st.Create(ctx, p))
		ids = append(ids, p.ID)
		if s.status != payments.StatusCaptured {
			continue
		}
		capAt := at.Add(time.Hour)
		for _, tx := range []payments.Transaction{
			{ID: uuid.NewString(), PaymentID: p.ID, Type: payments.TxAuthorization, RequestID: p.PaymentRequestID,
				APOID: p.APOPaymentID, Amount: p.Amount, Status: payments.TxSucceeded, CreatedAt: at, UpdatedAt: at, CompletedAt: &at},
			{ID: uuid.NewString(), PaymentID: p.ID, Type: payments.TxCapture, RequestID: "capreq_fuzz" + tag,
				APOID: "2024cap_fuzz" + tag, Amount: p.Amount, Status: payments.TxSucceeded, CreatedAt: capAt, UpdatedAt: capAt, CompletedAt: &capAt},
		} {
			must(st.CreateTx(ctx, tx))
		}
	}

	ds := disputes.NewStore(db)
	for i, s := range []disputes.Status{disputes.StatusOpen, disputes.StatusLost} {
		due := time.Now().Add(time.Duration(i+1) * 24 * time.Hour).UTC()
		_, _, err := ds.Ensure(ctx, disputes.Dispute{ID: uuid.Must(uuid.NewV7()).String(), APODisputeID: "2024dsp_fuzz" + strconv.Itoa(i),
			PaymentID: ids[0], APOPaymentID: "2024apo_fuzz0", Type: "CHARGEBACK", ReasonCode: "4853", Source: "Visa",
			Amount: money.Money{Minor: 500, Currency: "USD"}, Status: s, DisputeTime: &day, DefenseDue: &due,
			CreatedAt: day, UpdatedAt: day})
		must(err)
	}

	for i, v := range []struct{ verdict, notifyType string }{{"valid", "PAYMENT_RESULT"}, {"invalid", ""}} {
		ev := inbox.Event{ID: uuid.Must(uuid.NewV7()).String(), NotifyType: v.notifyType,
			DedupeKey: "fuzz:" + strconv.Itoa(i), RawBody: []byte(`{"notifyType":"PAYMENT_RESULT"}`),
			Headers: http.Header{"content-type": {"application/json"}}, RequestURI: "/webhooks/apo",
			Verdict: v.verdict, State: inbox.Pending, ReceivedAt: day}
		_, _, err := inbox.NewStore(db).Insert(ctx, ev)
		must(err)
		if v.verdict == "valid" {
			must(inbox.NewStore(db).Mark(ctx, ev.ID, inbox.Processed, "", ids[0], day))
		}
	}

	dir := tb.TempDir()
	rs := recon.NewService(db, recon.Config{ReportsDir: filepath.Join(dir, "reports"),
		ArchiveDir: filepath.Join(dir, "archive"), ExportDir: filepath.Join(dir, "exports")}, slog.New(slog.DiscardHandler))
	// Two captures APO reports and we never made (MISSING_IN_LEDGER), and
	// the captured payment it leaves out (MISSING_IN_REPORT).
	report := "customerId,acquirer,transactionType,transactionId,originalTransactionId,transactionRequestId," +
		"paymentTime,transactionAmountValue,transactionCurrency,settlementAmountValue,settlementCurrency,status," +
		"cardBrand,paymentMethodType\n" +
		"2188120000000000,ANTOM,CAPTURE,2024cap_stranger1,2024apo_stranger1,capreq_stranger1,2024-03-01T10:00:00Z,99.00,USD,99.00,USD,SUCCESS,VISA,CARD\n" +
		"2188120000000000,ANTOM,CAPTURE,2024cap_stranger2,2024apo_stranger2,capreq_stranger2,2024-03-01T11:00:00Z,12.34,EUR,12.34,EUR,SUCCESS,VISA,CARD\n" +
		"<END>\n"
	_, err := rs.Ingest(ctx, "transactionItems_20240301_000.csv", bytes.NewReader([]byte(report)))
	must(err)
	var run recon.Run
	for range 2 {
		run, err = rs.Run(ctx, recon.RunRequest{Date: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}, "fuzz")
		must(err)
		if run.Status != recon.RunSucceeded {
			tb.Fatalf("seed run %+v", run)
		}
	}

	as := audit.NewStore(db)
	for i, a := range []string{"payment.capture", "payment.refund", "api-key.create"} {
		must(as.Record(ctx, audit.Entry{Actor: "fuzz-" + strconv.Itoa(i%2), Role: "admin", Action: a,
			Target: "payment:" + ids[i%len(ids)], Input: map[string]any{"n": i}, Outcome: audit.OutcomeSucceeded,
			RemoteAddr: "127.0.0.1", RequestID: "req-" + strconv.Itoa(i)}))
	}
	return run.ID
}
