package payout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

const accountNumber = "37040044/0532013000"

type testEnv struct {
	db    *sqlx.DB
	bank  *bank.Service
	recon *recon.Service
	svc   *Service
	acct  bank.Account

	seq     int
	balance int64
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &testEnv{db: db, bank: bank.NewService(db, bank.Config{ArchiveDir: filepath.Join(dir, "bank")}, log)}
	e.recon = recon.NewService(db, recon.Config{ReportsDir: filepath.Join(dir, "reports"),
		ArchiveDir: filepath.Join(dir, "archive"), ExportDir: filepath.Join(dir, "exports"), SettlementDays: 1}, log)
	e.svc = NewService(db, Config{Default: recon.Calendar{Days: 1}, Tolerance: map[string]int64{"EUR": 500}}, e.recon)
	e.svc.now = func() time.Time { return date2("2026-12-31") }
	a, err := e.bank.CreateAccount(context.Background(), bank.NewAccount{Name: "Main", Number: accountNumber,
		Currency: "EUR", SettlementCurrency: "EUR", Remitters: []string{"APO Payments Europe"}})
	if err != nil {
		t.Fatal(err)
	}
	e.acct = a
	return e
}

func date2(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// credit is one booking of a test statement.
type credit struct {
	minor      int64
	eref, remi string
	name       string // the payer
}

// statement ingests one MT940 statement of day d holding the credits.
func (e *testEnv) statement(t *testing.T, d string, cs ...credit) {
	t.Helper()
	e.seq++
	day := date2(d)
	var b strings.Builder
	fmt.Fprintf(&b, ":20:STMT%d\r\n:25:%s\r\n:28C:%05d/001\r\n", e.seq, accountNumber, e.seq)
	fmt.Fprintf(&b, ":60F:C%sEUR%s\r\n", day.AddDate(0, 0, -1).Format("060102"), comma(e.balance))
	for i, c := range cs {
		fmt.Fprintf(&b, ":61:%s%sC%sNTRFNONREF//BANK%d-%d\r\n", day.Format("060102"), day.Format("0102"), comma(c.minor), e.seq, i)
		fmt.Fprintf(&b, ":86:/EREF/%s/REMI/USTD//%s/NAME/%s\r\n", orNone(c.eref), c.remi, c.name)
		e.balance += c.minor
	}
	fmt.Fprintf(&b, ":62F:C%sEUR%s\r\n-\r\n", day.Format("060102"), comma(e.balance))
	if _, err := e.bank.Ingest(context.Background(), fmt.Sprintf("stmt-%d.sta", e.seq), strings.NewReader(b.String())); err != nil {
		t.Fatalf("ingest statement of %s: %v", d, err)
	}
}

func orNone(s string) string {
	if s == "" {
		return "NOTPROVIDED"
	}
	return s
}

func comma(minor int64) string { return fmt.Sprintf("%d,%02d", minor/100, minor%100) }

// check runs CheckPayouts for a run of period d over the batches (batch
// id → summary in EUR cents), committed, and returns its breaks as
// "KIND|batch" for payouts and "KIND|remittance" for credits, sorted.
func (e *testEnv) check(t *testing.T, d string, batches map[string]int64) ([]string, recon.PayoutCounts) {
	t.Helper()
	ctx := context.Background()
	run := recon.Run{Period: date2(d)}
	for id, minor := range batches {
		run.Batches = append(run.Batches, recon.Batch{BatchID: id, Currency: "EUR", Summary: minor, HasSummary: true})
	}
	tx := e.db.MustBeginTx(ctx, nil)
	defer tx.Rollback()
	// A run row for the payouts and links to name; recon's own runs are
	// exercised by TestPayoutsThroughReconRun.
	if err := tx.GetContext(ctx, &run.ID, `INSERT INTO recon_runs (period, request, input_file_ids, inputs, status, actor,
		created_at) VALUES ($1, '{}', '{}', '[]', 'RUNNING', 'test', now()) RETURNING id`, d); err != nil {
		t.Fatal(err)
	}
	found, counts, err := e.svc.CheckPayouts(ctx, tx, run, time.Now())
	if err != nil {
		t.Fatalf("check %s: %v", d, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range found {
		id := x.SettlementBatchID
		if x.Kind == recon.BankCreditUnexplained || x.Kind == recon.PayoutDuplicated || x.Kind == recon.PayoutLate {
			id = x.FileName + ":" + fmt.Sprint(x.Report.Minor)
		}
		out = append(out, string(x.Kind)+"|"+id)
	}
	sort.Strings(out)
	return out, counts
}

// statuses returns every payout's status and received amount by batch.
func (e *testEnv) statuses(t *testing.T) map[string]string {
	t.Helper()
	page, err := e.svc.List(context.Background(), Filter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range page.Items {
		out[p.BatchID] = fmt.Sprintf("%s %d fee %d", p.Status, p.Received, p.Fee)
	}
	return out
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
