package journal

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestSandboxJournals is the whole path on the simulated gateway: a day of
// payments, refunds and chargebacks in four currencies settled in USD, the
// sandbox's reports in each generation, a reconciliation run, and the
// journals of its batches, each of which must balance and tie to its
// batch; the generic export of the day must balance journal by journal.
func TestSandboxJournals(t *testing.T) {
	t.Parallel()
	for _, generation := range []string{sandbox.GenerationAPO, sandbox.GenerationNewest} {
		t.Run(generation, func(t *testing.T) {
			t.Parallel()
			sandboxDay(t, generation)
		})
	}
}

func sandboxDay(t *testing.T, generation string) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A sandbox of our own (settling in USD) with the harness's keys.
	keys := sandboxtest.Start(t, sandboxtest.Options{})
	sb, err := sandbox.New(sandbox.Config{ClientID: sandboxtest.ClientID, APOPrivateKey: keys.APOKey,
		MerchantPublicKey: &keys.MerchantKey.PublicKey, TimeScale: 0.001, Seed: 1, ReportsDir: dir, SettlementCurrency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { _ = sb.Close() })
	t.Cleanup(srv.Close)
	pay := payments.NewService(db, sandboxtest.NewClient(t, srv.URL), nil, log, "http://127.0.0.1:1")
	makeDay(t, pay, sb)
	today := time.Now().UTC()
	res, err := sb.WriteReports(sandbox.ReportRequest{Date: today.Format("20060102"), Generation: generation})
	if err != nil {
		t.Fatalf("write reports: %v", err)
	}
	files := reportFiles(t, res)
	run := reconcile(t, db, files)

	svc := NewService(db, recon.NewStore(db))
	results, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Outcome != Built || r.Finding != nil {
			t.Errorf("%+v %+v", r, r.Finding)
		}
	}
	day := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	js := journalsOf(t, db, Selection{From: day, To: day})
	checkTies(t, run, results, js)
	seen := map[Kind]bool{}
	for _, j := range js {
		for _, l := range j.Lines {
			seen[l.Kind] = true
		}
	}
	for _, k := range []Kind{CaptureGross, Refund, Chargeback, ChargebackReversal, FeeProcessing, FeeSettlement, PayoutClearing} {
		if !seen[k] {
			t.Errorf("no %s line in the day's journals", k)
		}
	}

	checkExportBalances(t, svc, day, len(js))
}

// makeDay pays, captures, refunds and has disputes opened on the sandbox:
// a chargeback, and another one won back.
func makeDay(t *testing.T, pay *payments.Service, sb *sandbox.Server) {
	t.Helper()
	ctx := context.Background()
	for i, c := range []struct{ card, ccy string }{{"4111111111111111", "USD"}, {"5555555555554444", "JPY"},
		{"378282246310005", "KWD"}, {"4111111111111111", "EUR"}, {"5555555555554444", "USD"}, {"4111111111111111", "SGD"}} {
		p, err := pay.Create(ctx, payments.CreateRequest{ReferenceOrderID: "jr-" + c.ccy, Amount: money.Money{Minor: 5000 + int64(i)*7, Currency: c.ccy},
			BuyerReference: "b", TerminalType: "WEB", ClientIP: "198.51.100.2", RedirectURL: "https://shop.example/r",
			Card: payments.CardInput{Number: c.card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030", HolderFirst: "A", HolderLast: "B"}})
		if err != nil || p.Status != payments.StatusAuthorized {
			t.Fatalf("pay: %v %s", err, p.Status)
		}
		if _, _, err := pay.Capture(ctx, p.ID, payments.CaptureRequest{}); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0, 3:
			if _, _, err := pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: 1000, Reason: "r"}); err != nil {
				t.Fatal(err)
			}
		case 1, 4: // a chargeback; the second one won back
			id, err := sb.OpenDispute(p.APOPaymentID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if i == 4 {
				if err := sb.JudgeDispute(id, "ACCEPT_BY_CUSTOMER", nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// reportFiles reads the report files the sandbox wrote.
func reportFiles(t *testing.T, res *sandbox.ReportResult) []testFile {
	t.Helper()
	var files []testFile
	for _, f := range res.Files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, testFile{f.Name, string(b)})
	}
	return files
}

// checkExportBalances exports the day as generic CSV and requires every
// journal in the file to balance.
func checkExportBalances(t *testing.T, svc *Service, day time.Time, journals int) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.LoadAccounts(ctx, strings.NewReader(testChart)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum, err := svc.Export(ctx, &buf, ExportRequest{Format: FormatCSV, From: day, To: day})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Journals != int64(journals) || int64(len(recs)-1) != sum.Lines {
		t.Errorf("export summary %+v for %d journals and %d rows", sum, journals, len(recs)-1)
	}
	balance := map[string]int64{}
	for _, r := range recs[1:] {
		for i, sign := range map[int]int64{5: 1, 6: -1} {
			if r[i] != "" {
				m, err := money.ParseMajor(r[i], r[7], false)
				if err != nil {
					t.Fatal(err)
				}
				balance[r[0]] += sign * m.Minor
			}
		}
	}
	for id, b := range balance {
		if b != 0 {
			t.Errorf("exported journal %s is off by %d", id, b)
		}
	}
}
