package recon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestSandboxReportsReconcile is the contract between the two sides that
// read and write APO's report format: a day made through payments against
// the sandbox, written by the sandbox in each report generation with faults
// in its transaction details, is reconciled to exactly the injected truth.
func TestSandboxReportsReconcile(t *testing.T) {
	t.Parallel()
	for _, generation := range []string{sandbox.GenerationAPO, sandbox.GenerationNewest} {
		t.Run(generation, func(t *testing.T) {
			t.Parallel()
			reconcileSandboxDay(t, generation, &sandbox.ReportFaults{Seed: 3,
				DropLines: sandbox.FaultCount{Count: 2}, ChangeAmounts: sandbox.FaultCount{Count: 1}, DuplicateLines: sandbox.FaultCount{Count: 1},
				UnknownTransactions: sandbox.FaultCount{Count: 1}, ChangeCurrency: sandbox.FaultCount{Count: 1}, BreakSummaryTotal: 1})
		})
	}
}

// reconcileSandboxDay makes the day, has the sandbox write it in generation
// with faults, and requires the run to find exactly one discrepancy of the
// right kind per injected fault.
func reconcileSandboxDay(t *testing.T, generation string, faults *sandbox.ReportFaults) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	env := sandboxtest.Start(t, sandboxtest.Options{ReportsDir: dir})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pay := payments.NewService(db, env.Client, nil, log, "http://127.0.0.1:1")
	for i, c := range []struct {
		card string
		ccy  string
	}{{"4111111111111111", "USD"}, {"5555555555554444", "JPY"}, {"378282246310005", "KWD"}, {"4111111111111111", "EUR"},
		{"5555555555554444", "USD"}, {"4111111111111111", "SGD"}, {"378282246310005", "USD"}, {"4111111111111111", "JPY"}} {
		p, err := pay.Create(ctx, payments.CreateRequest{ReferenceOrderID: "rc-" + c.ccy, Amount: money.Money{Minor: 5000 + int64(i)*7, Currency: c.ccy},
			BuyerReference: "b", TerminalType: "WEB", ClientIP: "198.51.100.2", RedirectURL: "https://shop.example/r",
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
	res, err := env.Sandbox.WriteReports(sandbox.ReportRequest{Date: time.Now().UTC().Format("20060102"), Generation: generation, Faults: faults})
	if err != nil {
		t.Fatalf("write reports: %v", err)
	}
	if res.Generation != generation {
		t.Fatalf("the sandbox wrote generation %q, asked for %q", res.Generation, generation)
	}
	rs := recon.NewService(db, recon.Config{ReportsDir: dir, ArchiveDir: t.TempDir(), ExportDir: t.TempDir()}, log)
	var ids []int64
	for _, f := range res.Files {
		fh, err := os.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		file, err := rs.Ingest(ctx, f.Name, fh)
		fh.Close()
		if err != nil {
			t.Fatalf("ingest %s: %v", f.Name, err)
		}
		ids = append(ids, file.ID)
	}
	run, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	page, err := rs.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: run.ID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]recon.Kind{sandbox.FaultDropLine: recon.MissingInReport, sandbox.FaultChangeAmount: recon.AmountMismatch, sandbox.FaultDuplicateLine: recon.DuplicateInReport,
		sandbox.FaultUnknownTransaction: recon.MissingInLedger, sandbox.FaultChangeCurrency: recon.CurrencyMismatch,
		sandbox.FaultBreakSummaryTotal: recon.BatchTotalMismatch}
	var wantKinds, gotKinds []string
	for _, f := range res.Faults {
		wantKinds = append(wantKinds, string(want[f.Kind]))
	}
	for _, d := range page.Items {
		gotKinds = append(gotKinds, string(d.Kind))
	}
	slices.Sort(wantKinds)
	slices.Sort(gotKinds)
	if !slices.Equal(wantKinds, gotKinds) {
		for _, f := range res.Faults {
			t.Logf("injected %s %s:%d %s %s %s", f.Kind, f.File, f.Line, f.TransactionType, f.TransactionID, f.TransactionRequestID)
		}
		for _, d := range page.Items {
			t.Logf("found %s %s:%d %s %s %s %s", d.Kind, d.FileName, d.Line, d.TransactionType, d.TransactionID, d.TransactionRequestID, d.Details)
		}
		t.Fatalf("injected %v, found %v", wantKinds, gotKinds)
	}
	for _, b := range run.Batches {
		if b.Residual != 0 && b.Convention != "" {
			t.Errorf("batch %+v read as %q leaves a residual", b, b.Convention)
		}
	}
}
