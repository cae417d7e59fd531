package journal

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// novemberFiles is a EUR batch settled on 30 November; extra adds a
// capture of 10.00 that a late report brings.
func novemberFiles(extra bool) []testFile {
	rows := []testRow{
		{"transactionType": "CAPTURE", "settlementAmountValue": "80.00", "feeAmountValue": "-2.00", "feeCurrency": "EUR"},
		{"transactionType": "REFUND", "settlementAmountValue": "-5.00"},
	}
	payout, n := "73.00", 2
	if extra {
		rows = append(rows, testRow{"transactionType": "CAPTURE", "settlementAmountValue": "10.00", "feeAmountValue": "-0.50",
			"feeCurrency": "EUR"})
		payout, n = "82.50", 3
	}
	return []testFile{
		{"C1/20261130/settlementItems_EUR_B-NOV_000.csv", items("B-NOV", "EUR", "2026-11-30", rows...)},
		{"C1/20261130/settlementSummary_EUR_B-NOV_000.csv", summary("B-NOV", "EUR", n, payout)},
	}
}

// TestPeriodClose closes November, then a late run of one of its days
// changes a journal: the change is an adjustment dated 1 December that
// links back, November's journal stays as closed, and building again is a
// no-op. Reopening needs a reason.
func TestPeriodClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	first := reconcile(t, db, novemberFiles(false))
	res, err := svc.BuildRun(ctx, first.ID)
	if err != nil || len(res) != 1 || res[0].Outcome != Built {
		t.Fatalf("%+v %v", res, err)
	}
	nov := date("2026-11-01")
	if _, err := svc.ClosePeriod(ctx, nov, "fin"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClosePeriod(ctx, nov, "fin"); !errors.Is(err, ErrPeriodState) {
		t.Errorf("closing twice: %v", err)
	}
	closedNov := journalsOf(t, db, Selection{From: nov, To: date("2026-11-30")})["B-NOV"]

	same := reconcile(t, db, novemberFiles(false))
	if res, err := svc.BuildRun(ctx, same.ID); err != nil || res[0].Outcome != Unchanged {
		t.Errorf("a closed period built again with no change: %+v %v", res, err)
	}
	late := reconcile(t, db, novemberFiles(true))
	res, err = svc.BuildRun(ctx, late.ID)
	if err != nil || len(res) != 1 || res[0].Outcome != Adjusted {
		t.Fatalf("late run: %+v %v", res, err)
	}
	if again, err := svc.BuildRun(ctx, late.ID); err != nil || again[0].Outcome != Unchanged {
		t.Errorf("the late run again: %+v %v", again, err)
	}
	if got := journalsOf(t, db, Selection{From: nov, To: date("2026-11-30")})["B-NOV"]; got.RunID != closedNov.RunID ||
		diffLines(sides(closedNov), sides(got)) != "" {
		t.Errorf("the closed journal changed: %+v", got)
	}
	adj := journalsOf(t, db, Selection{From: date("2026-12-01"), To: date("2026-12-31")})["B-NOV"]
	if adj.AdjustsID != closedNov.ID || !adj.Period.Equal(date("2026-12-01")) || adj.ID != res[0].JournalID ||
		adj.Payout != 950 {
		t.Fatalf("adjustment: %+v (closed journal %d)", adj, closedNov.ID)
	}
	want := map[Kind]int64{CaptureGross: 1_000, FeeProcessing: -50, PayoutClearing: -950}
	if d := diffLines(want, sides(adj)); d != "" {
		t.Errorf("adjustment lines (-want +got):\n%s", d)
	}
	// A late run whose batch cannot be journaled leaves the closed journal
	// and its adjustment as they are.
	broken := novemberFiles(true)
	broken[1].content = summary("B-NOV", "EUR", 3, "99.00")
	if res, err := svc.BuildRun(ctx, reconcile(t, db, broken).ID); err != nil || res[0].Outcome != Locked ||
		res[0].Finding == nil || res[0].JournalID != closedNov.ID {
		t.Errorf("a finding in a closed month: %+v %v", res, err)
	}
	if n := len(journalsOf(t, db, Selection{From: nov, To: date("2026-12-31")})); n != 1 {
		t.Errorf("%d journals by batch after the finding", n)
	}

	// December's export holds the adjustment, under an External ID of its own.
	if _, err := svc.LoadAccounts(ctx, strings.NewReader(testChart)); err != nil {
		t.Fatal(err)
	}
	recs := export(t, svc, ExportRequest{Format: FormatNetSuite, From: date("2026-12-01"), To: date("2026-12-31")})
	row(t, recs, map[int]string{0: "apo-B-NOV-EUR-adj-" + strconv.FormatInt(adj.ID, 10), 1: "12/01/2026"})

	if _, err := svc.ReopenPeriod(ctx, nov, "admin", ""); !isInvalid(err) {
		t.Errorf("reopen without a reason: %v", err)
	}
	p, err := svc.ReopenPeriod(ctx, nov, "admin", "late chargeback")
	if err != nil || p.Status != PeriodOpen || p.ReopenReason != "late chargeback" {
		t.Errorf("reopen: %+v %v", p, err)
	}
	// Adjusted once, the journal stays adjusted: the late run built again
	// after the reopen books nothing twice.
	if again, err := svc.BuildRun(ctx, late.ID); err != nil || again[0].Outcome != Unchanged {
		t.Errorf("after reopening: %+v %v", again, err)
	}
}

// waitForLockWait returns once a session of db's database waits on a lock.
// It bounds nothing by time: the test's own timeout does.
func waitForLockWait(t *testing.T, db *sqlx.DB) {
	t.Helper()
	for {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A close and a build racing on a month are serialised by the period
// row: a close waits for a build holding the month, and a build waits for
// a close in progress, then books into the next open month.
func TestPeriodCloseRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	nov := reconcile(t, db, novemberFiles(false))
	dec := reconcile(t, db, dayFiles("20261201"))

	// A build of November holds its month; the close waits for it.
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if closed, err := NewStore(tx).LockMonth(ctx, date("2026-11-01")); err != nil || closed {
		t.Fatalf("lock: %v %v", closed, err)
	}
	closeDone := make(chan error, 1)
	go func() {
		_, err := svc.ClosePeriod(ctx, date("2026-11-01"), "fin")
		closeDone <- err
	}()
	waitForLockWait(t, db)
	select {
	case err := <-closeDone:
		t.Fatalf("the close did not wait for the build: %v", err)
	default:
	}
	if _, _, err := save(ctx, NewStore(tx), Journal{BatchID: "B-RACE", Currency: "EUR", Period: date("2026-11-30"),
		RunID: nov.ID, BuiltAt: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-closeDone; err != nil {
		t.Fatal(err)
	}

	// A close of December in progress; the build waits, then finds the
	// month closed and books into January.
	closing, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closing.Rollback() }()
	if _, err := NewStore(closing).SetPeriod(ctx, date("2026-12-01"), PeriodClosed, "fin", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	type built struct {
		res []Result
		err error
	}
	buildDone := make(chan built, 1)
	go func() {
		res, err := svc.BuildRun(ctx, dec.ID)
		buildDone <- built{res, err}
	}()
	waitForLockWait(t, db)
	if err := closing.Commit(); err != nil {
		t.Fatal(err)
	}
	b := <-buildDone
	if b.err != nil || len(b.res) != 2 {
		t.Fatalf("build: %+v %v", b.res, b.err)
	}
	for _, r := range b.res {
		if r.Outcome != Adjusted {
			t.Errorf("a batch first seen after its month closed: %+v", r)
		}
	}
	jan := journalsOf(t, db, Selection{From: date("2027-01-01"), To: date("2027-01-31")})
	if len(jan) != 2 || jan["B-USD-1"].AdjustsID == 0 {
		t.Errorf("January: %+v", jan)
	}
	if got := journals(t, db); len(got) != 0 {
		t.Errorf("December's closed month got lines: %+v", got)
	}
}
