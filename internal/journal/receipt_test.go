package journal

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// Compile-time check that payout matching is what receipts are read from.
var _ ReceiptSource = (*payout.Service)(nil)

// receiptChart is testChart with the bank accounts receipts book to.
const receiptChart = testChart + "BANK,EUR,1010,Bank EUR,Tax Exempt,,\r\n" + "BANK_FEE,,6120,Bank charges,Tax Exempt,,\r\n"

// receiptDay wires journals, payouts and the bank as internal/app does,
// ingests a statement crediting the test day's EUR payout (72.00, due
// 2026-12-02) 71.50 on its due date, within the 5.00 tolerance, then runs
// the test day, whose after-run hook builds its journals. before runs
// first (nil: nothing).
func receiptDay(t *testing.T, before func(*Service)) (*Service, recon.Run) {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bs := bank.NewService(db, bank.Config{ArchiveDir: filepath.Join(dir, "bank")}, log)
	if _, err := bs.CreateAccount(ctx, bank.NewAccount{Name: "Main", Number: "37040044/0532013000", Currency: "EUR",
		SettlementCurrency: "EUR", Remitters: []string{"APO Payments Europe"}}); err != nil {
		t.Fatal(err)
	}
	rs := recon.NewService(db, recon.Config{ReportsDir: filepath.Join(dir, "reports"), ArchiveDir: filepath.Join(dir, "archive"),
		ExportDir: filepath.Join(dir, "exports"), SettlementDays: 1}, log)
	ps := payout.NewService(db, payout.Config{Default: recon.Calendar{Days: 1}, Tolerance: map[string]int64{"EUR": 500}}, rs)
	svc := NewService(db, recon.NewStore(db))
	svc.SetReceipts(ps)
	rs.SetPayoutChecker(ps)
	rs.SetJournalChecker(svc)
	rs.SetRunHook(func(ctx context.Context, run recon.Run) error {
		_, err := svc.BuildRun(ctx, run.ID)
		return err
	})
	const mt940 = ":20:STMT1\r\n:25:37040044/0532013000\r\n:28C:00001/001\r\n:60F:C261201EUR0,00\r\n" +
		":61:2612021202C71,50NTRFNONREF//BANK1-0\r\n:86:/EREF/NOTPROVIDED/REMI/USTD//B-EUR-1/NAME/APO Payments Europe\r\n" +
		":62F:C261202EUR71,50\r\n-\r\n"
	if _, err := bs.Ingest(ctx, "stmt-1.sta", strings.NewReader(mt940)); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(svc)
	}
	var ids []int64
	for _, f := range dayFiles("20261201") {
		file, err := rs.Ingest(ctx, f.path, strings.NewReader(f.content))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, file.ID)
	}
	run, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("run: %+v %v", run, err)
	}
	return svc, run
}

// TestReceiptAfterRun: the run's build books the EUR payout's receipt,
// dated the credit's booking date, beside the settlement journal; a replay
// changes nothing and the export carries it.
func TestReceiptAfterRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, run := receiptDay(t, nil)
	db := svc.db
	var receipt, settlement Journal
	err := NewStore(db).EachJournal(ctx, Selection{From: date("2026-12-01"), To: date("2026-12-31"), Currency: "EUR"},
		func(j *Journal) error {
			c := *j
			c.Lines = append([]Line(nil), j.Lines...)
			switch j.Type {
			case Receipt:
				receipt = c
			case Settlement:
				settlement = c
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if settlement.ID == 0 || settlement.Period.Format("2006-01-02") != "2026-12-01" {
		t.Errorf("the settlement journal: %+v", settlement)
	}
	if receipt.ID == 0 || receipt.BatchID != "B-EUR-1" || receipt.Period.Format("2006-01-02") != "2026-12-02" ||
		receipt.RunID != run.ID || receipt.Payout != 7_200 || receipt.Items != 1 {
		t.Fatalf("the receipt: %+v", receipt)
	}
	want := map[Kind]int64{Bank: -7_150, BankFee: -50, PayoutClearing: 7_200}
	if d := diffLines(want, sides(receipt)); d != "" {
		t.Errorf("receipt (-want +got):\n%s", d)
	}

	again, err := svc.BuildRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, r := range again {
		if r.Type == Receipt {
			n++
			if r.Outcome != Unchanged || r.JournalID != receipt.ID {
				t.Errorf("replayed receipt: %+v", r)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d receipts on replay: %+v", n, again)
	}

	if _, err := svc.LoadAccounts(ctx, strings.NewReader(receiptChart)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := svc.Export(ctx, &buf, ExportRequest{Format: FormatNetSuite, From: date("2026-12-02"),
		To: date("2026-12-02")}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "apo-B-EUR-1-EUR-rcpt,12/02/2026,EUR,") || !strings.Contains(out, ",1010,71.50,,") ||
		!strings.Contains(out, ",6120,0.50,,") || !strings.Contains(out, ",1251,,72.00,") || strings.Count(out, "\r\n") != 4 {
		t.Errorf("the receipt's export:\n%s", out)
	}
}

// A receipt whose month was closed before it was first built is booked as
// an adjustment in the first open month, linked to an empty journal in the
// closed one, like a settlement journal.
func TestReceiptClosedMonth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, run := receiptDay(t, func(svc *Service) {
		if _, err := svc.ClosePeriod(ctx, date("2026-12-01"), "finance@test"); err != nil {
			t.Fatal(err)
		}
	})
	res, err := svc.BuildRun(ctx, run.ID) // the hook's build again: nothing more
	if err != nil {
		t.Fatal(err)
	}
	var receipts []Result
	for _, r := range res {
		if r.Type == Receipt {
			receipts = append(receipts, r)
		}
	}
	if len(receipts) != 1 || receipts[0].Outcome != Unchanged {
		t.Fatalf("receipts built again: %+v", receipts)
	}
	var adj Journal
	err = NewStore(svc.db).EachJournal(ctx, Selection{From: date("2027-01-01"), To: date("2027-01-31"), Currency: "EUR"},
		func(j *Journal) error {
			if j.Type == Receipt {
				adj = *j
				adj.Lines = append([]Line(nil), j.Lines...)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if adj.AdjustsID == 0 || !adj.Period.Equal(date("2027-01-01")) || adj.Payout != 7_200 {
		t.Fatalf("the receipt's adjustment: %+v", adj)
	}
	anchor, err := svc.Get(ctx, adj.AdjustsID)
	if err != nil || anchor.Type != Receipt || !anchor.Period.Equal(date("2026-12-02")) || len(anchor.Lines) != 0 {
		t.Errorf("the journal it adjusts: %+v %v", anchor, err)
	}
	want := map[Kind]int64{Bank: -7_150, BankFee: -50, PayoutClearing: 7_200}
	if d := diffLines(want, sides(adj)); d != "" {
		t.Errorf("adjustment (-want +got):\n%s", d)
	}
}
