package journal

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/benchtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// BenchmarkJournalMillion builds the journal of one settlement batch of
// JOURNAL_BENCH_LINES lines (default 1,000,000): captures with APO's fee
// columns, one in ten cross-currency at a quote, refunds, chargebacks with
// handling fees, reserve withholdings and the batch fee. The lines are
// ingested through recon (parse and COPY into report_lines) and the run
// that rolled them forward is recorded directly, as a million captures
// unknown to the ledger would make a million discrepancies. What is timed
// is BuildRun: streaming the lines out of PostgreSQL, building, saving.
// It prints the time, lines/s, the peak Go heap (sampled) and the peak
// RSS of the process during the build (target from issue 18: < 10 s and
// RSS < 256 MiB), beside a floor measured in the same run: streaming the
// batch's lines out of PostgreSQL once. No test asserts on them.
func BenchmarkJournalMillion(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("JOURNAL_BENCH_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			b.Fatalf("JOURNAL_BENCH_LINES=%q: want a number ≥ 100", v)
		}
	}
	ctx := context.Background()
	db := pgtest.NewDB(b)
	setup := time.Now()
	runID := benchRun(b, db, n)
	b.Logf("setup: %d settlement lines ingested and rolled forward in %s", n, time.Since(setup).Round(time.Millisecond))
	svc := NewService(db, recon.NewStore(db))

	var build time.Duration
	var heap, rss uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := db.ExecContext(ctx, `DELETE FROM journals`); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		benchtest.ResetPeakRSS(b)
		stop := sampleHeap()
		b.StartTimer()

		t := time.Now()
		res, err := svc.BuildRun(ctx, runID)
		build = time.Since(t)

		b.StopTimer()
		heap, rss = max(heap, stop()), max(rss, uint64(benchtest.PeakRSS(b)))
		if err != nil || len(res) != 1 || res[0].Outcome != Built || res[0].Finding != nil {
			b.Fatalf("build: %+v %v", res, err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	floor := readFloor(b, db, n)
	b.ReportMetric(float64(n)/build.Seconds(), "lines/s")
	b.ReportMetric(float64(heap)/(1<<20), "peakHeap-MiB")
	b.ReportMetric(float64(rss)/(1<<20), "peakRSS-MiB")
	b.ReportMetric(build.Seconds()/floor.Seconds(), "x-floor")
	benchtest.Row(fmt.Sprintf("journal of a %d-line settlement batch", n),
		fmt.Sprintf("%.1fs %.0f lines/s, peak RSS %d MiB", build.Seconds(), float64(n)/build.Seconds(), rss>>20),
		"< 10s, RSS < 256 MiB", fmt.Sprintf("peak Go heap %d MiB; floor %.2fs → %.1f×", heap>>20, floor.Seconds(),
			build.Seconds()/floor.Seconds()))
}

// readFloor is the least a journal build can take: streaming the batch's
// lines out of PostgreSQL once, three typed columns each, discarded.
func readFloor(b *testing.B, db *sqlx.DB, n int) time.Duration {
	b.Helper()
	start := time.Now()
	rows, err := db.QueryContext(context.Background(), `SELECT l.transaction_type, l.settlement_amount_minor, l.fee_amount_minor
		FROM report_lines l JOIN report_files f ON f.id = l.file_id WHERE f.kind = 'SETTLEMENT_ITEMS'`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var (
		typ         string
		settle, fee sql.NullInt64
		read        int
	)
	for rows.Next() {
		if err := rows.Scan(&typ, &settle, &fee); err != nil {
			b.Fatal(err)
		}
		read++
	}
	if err := rows.Err(); err != nil || read != n {
		b.Fatalf("floor read %d of %d lines: %v", read, n, err)
	}
	return time.Since(start)
}

// benchRun ingests a batch of n lines and its summary, records the run
// that rolled it forward, and returns the run's id.
func benchRun(b *testing.B, db *sqlx.DB, n int) int64 {
	b.Helper()
	ctx := context.Background()
	rs := recon.NewService(db, recon.Config{ReportsDir: b.TempDir(), ArchiveDir: b.TempDir(), ExportDir: b.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	batch := recon.Batch{BatchID: "BENCH", Currency: "USD", HasSummary: true, SummaryCount: int64(n),
		Convention: recon.ConventionGross}
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := writeBenchItems(pw, n, &batch)
		pw.CloseWithError(err)
		written <- err
	}()
	items, err := rs.Ingest(ctx, "C1/20261201/settlementItems_USD_BENCH_000.csv", pr)
	pr.Close() // unblocks the writer if ingest stopped early
	if werr := <-written; err != nil || werr != nil || items.Status != recon.FileIngested || items.Lines != n {
		b.Fatalf("ingest: %+v %v %v", items, err, werr)
	}
	payout := money.FormatMajor(money.Money{Minor: batch.Summary, Currency: "USD"})
	sum, err := rs.Ingest(ctx, "C1/20261201/settlementSummary_USD_BENCH_000.csv", strings.NewReader(
		"settlementBatchId,summaryType,count,settlementAmountValue,settlementCurrency\nBENCH,TOTAL,"+strconv.Itoa(n)+","+payout+",USD\n<END>\n"))
	if err != nil || sum.Status != recon.FileIngested {
		b.Fatalf("ingest summary: %+v %v", sum, err)
	}
	st := recon.NewStore(db)
	now := time.Now().UTC()
	run := recon.Run{Period: date("2026-12-01"), Request: recon.RunRequest{FileIDs: []int64{items.ID, sum.ID}},
		Status: recon.RunQueued, Actor: "bench", CreatedAt: now}
	for _, f := range []recon.File{items, sum} {
		run.Inputs = append(run.Inputs, recon.Input{FileID: f.ID, Name: f.Name, Kind: f.Kind, SHA256: f.SHA256, Lines: f.Lines,
			ReportDate: f.ReportDate})
	}
	if run.ID, err = st.CreateRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	run.Status, run.Batches, run.StartedAt, run.FinishedAt = recon.RunSucceeded, []recon.Batch{batch}, &now, &now
	if err := st.FinishRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	return run.ID
}

// benchColumns are the bench batch's columns: generation A with the fee
// columns.
var benchColumns = []string{"settlementBatchId", "transactionType", "transactionId", "settlementTime",
	"transactionAmountValue", "transactionCurrency", "settlementAmountValue", "settlementCurrency", "quoteCurrencyPair",
	"quotePrice", "feeAmountValue", "feeCurrency", "interchangeFeeAmountValue", "interchangeFeeCurrency",
	"schemeFeeAmountValue", "schemeFeeCurrency", "acquirerMarkupAmountValue", "acquirerMarkupCurrency",
	"disputeHandlingFee", "disputeHandlingFeeCurrency"}

// writeBenchItems writes the bench batch's n settlement lines to w and
// rolls them forward into bt (gross, signs by type), as recon would.
func writeBenchItems(w io.Writer, n int, bt *recon.Batch) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(benchColumns); err != nil {
		return err
	}
	m := func(minor int64) string { return money.FormatMajor(money.Money{Minor: minor, Currency: "USD"}) }
	rec := make([]string, len(benchColumns))
	for i := range n {
		for j := range rec {
			rec[j] = ""
		}
		rec[0], rec[2], rec[3], rec[7] = "BENCH", "T"+strconv.Itoa(i), "2026-12-01T23:59:59Z", "USD"
		a := 1000 + int64(i%50_000)
		var settle, fee int64
		switch {
		case i == n-1:
			rec[1], fee = "SETTLEMENT_FEE", 100
		case i%20 == 8 || i%20 == 18:
			rec[1], settle = "REFUND", -a/2
			bt.Refunds -= a / 2
		case i%20 == 9:
			rec[1], settle, fee = "DISPUTE", -a, 1500
			rec[18], rec[19] = "-15.00", "USD"
			bt.Disputes -= a
		case i%20 == 19:
			rec[1], settle = "RESERVE_WITHHOLDING", -100
			bt.Reserves -= 100
		case i%10 == 7: // 1.0845 USD a EUR, rounded half up
			settle = (a*10_845 + 5_000) / 10_000
			rec[1], rec[4], rec[5], rec[8], rec[9], fee = "CAPTURE", money.FormatMajor(money.Money{Minor: a, Currency: "EUR"}),
				"EUR", "EUR/USD", "1.0845", settle*29/1000
			bt.Captures += settle
		default:
			rec[1], settle, fee = "CAPTURE", a, a*29/1000
			if i%2 == 0 { // itemised: interchange, scheme and markup make up the fee
				rec[12], rec[13], rec[14], rec[15], rec[16], rec[17] = m(-fee/2), "USD", m(-fee/4), "USD", m(-(fee - fee/2 - fee/4)), "USD"
			}
			bt.Captures += settle
		}
		rec[6] = m(settle)
		if fee != 0 {
			rec[10], rec[11] = m(-fee), "USD"
			bt.Fees -= fee
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	bt.Items = int64(n)
	bt.Computed = bt.Captures + bt.Refunds + bt.Disputes + bt.Fees + bt.Reserves
	bt.Summary = bt.Computed
	_, err := io.WriteString(w, "<END>\n")
	return err
}

// sampleHeap samples the live Go heap until the returned function is
// called, which returns the largest value seen.
func sampleHeap() func() uint64 {
	done, out := make(chan struct{}), make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-out
	}
}
