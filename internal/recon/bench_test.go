package recon

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/benchtest"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// BenchmarkReconMillion measures the whole path on one transaction report:
// ingest (archive, parse, COPY), match (a run), and export (workbook and
// CSVs). RECON_BENCH_LINES sets the report's size (default 20,000 so that
// `go test -bench` stays quick; `make bench` sets 1,000,000). The ledger
// holds one authorization and one capture per payment; the report has a
// PAYMENT and a CAPTURE line per payment, with 1% of lines broken (dropped,
// amount changed, duplicated, unknown). It prints one line: wall times,
// lines/s, peak RSS (VmHWM) of the test process, and the floor measured in
// the same process — a plain encoding/csv pass over the file plus an
// in-memory hash join against the ledger — with the ratio to it. It also
// times the alternative design, a hash table of the ledger in Go fed from
// PostgreSQL (load the ledger into a map, stream the staged lines, probe),
// against the chosen one, where PostgreSQL builds the hash table and
// streams the joined lines (store_match.go).
func BenchmarkReconMillion(b *testing.B) {
	n := 20_000
	if v := os.Getenv("RECON_BENCH_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 200 {
			b.Fatalf("RECON_BENCH_LINES=%q: want a number ≥ 200", v)
		}
	}
	payments := n / 2
	ctx := context.Background()
	db := pgtest.NewDB(b)
	dir := b.TempDir()
	svc := NewService(db, Config{ReportsDir: filepath.Join(dir, "reports"), ArchiveDir: filepath.Join(dir, "archive"),
		ExportDir: filepath.Join(dir, "exports"), SettlementDays: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	setup := time.Now()
	benchSeed(b, db, payments)
	path := filepath.Join(dir, "transactionItems_20240311_000.csv")
	lines, want := benchReport(b, path, payments)
	b.Logf("setup: %d payments, %d ledger rows, %d report lines in %s", payments, 2*payments, lines, time.Since(setup).Round(time.Millisecond))

	var ingest, match, export time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := db.ExecContext(ctx, `TRUNCATE recon_exports, discrepancies, recon_runs, report_lines, report_files CASCADE`); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()

		t := time.Now()
		fh, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f, err := svc.Ingest(ctx, filepath.Base(path), fh)
		fh.Close()
		if err != nil || f.Status != FileIngested || f.Lines != lines {
			b.Fatalf("ingest: %+v %v", f, err)
		}
		ingest = time.Since(t)

		t = time.Now()
		r, err := svc.Run(ctx, RunRequest{Date: mon}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		match = time.Since(t)
		b.Logf("run phases: %+v", r.Timings)

		t = time.Now()
		if _, err := svc.Export(ctx, r.ID, svc.cfg.ExportDir); err != nil {
			b.Fatal(err)
		}
		export = time.Since(t)

		b.StopTimer()
		for k, w := range want {
			if got := r.Counts.Discrepancies[k]; got != w {
				b.Fatalf("%s: found %d, injected %d (%+v)", k, got, w, r.Counts.Discrepancies)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	peak := benchtest.PeakRSS(b)
	floor := benchFloor(b, path, payments)
	goJoin := benchGoJoin(b, db)
	total := ingest + match + export
	b.ReportMetric(float64(lines)/total.Seconds(), "lines/s")
	b.ReportMetric(float64(peak)/(1<<20), "peakRSS-MiB")
	b.ReportMetric(total.Seconds()/floor.Seconds(), "x-floor")
	fmt.Printf("recon-bench lines=%d ingest=%.2fs match=%.2fs export=%.2fs total=%.2fs lines/s=%.0f peakRSS=%dMiB floor=%.2fs ratio=%.1fx go-join-alternative(match only)=%.2fs\n",
		lines, ingest.Seconds(), match.Seconds(), export.Seconds(), total.Seconds(), float64(lines)/total.Seconds(),
		peak>>20, floor.Seconds(), total.Seconds()/floor.Seconds(), goJoin.Seconds())
	benchtest.Row(fmt.Sprintf("reconciliation of %d lines", lines),
		fmt.Sprintf("%.1fs %.0f lines/s, peak RSS %d MiB", total.Seconds(), float64(lines)/total.Seconds(), peak>>20),
		"< 20s, ≤ 8× floor, < 512 MiB",
		fmt.Sprintf("ingest %.1fs match %.1fs export %.1fs; floor %.2fs → %.1f×", ingest.Seconds(), match.Seconds(), export.Seconds(),
			floor.Seconds(), total.Seconds()/floor.Seconds()))
}

// BenchmarkExport100k writes the workbook of a run with 100,000
// discrepancies (make bench runs it in its own process, so the peak RSS is
// the export's).
func BenchmarkExport100k(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := context.Background()
	var runID int64
	if err := db.GetContext(ctx, &runID, `INSERT INTO recon_runs (period, request, input_file_ids, inputs, status, actor, created_at, finished_at, counts)
		VALUES (current_date, '{}', '{}', '[]', 'SUCCEEDED', 'bench', now(), now(), '{}') RETURNING id`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `
		INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, report_kind, transaction_type, transaction_id,
			settlement_batch_id, our_amount_minor, our_currency, report_amount_minor, report_currency, file_name, line_no, details, created_at)
		SELECT $1, (ARRAY['AMOUNT_MISMATCH','MISSING_IN_LEDGER','MISSING_IN_REPORT','DUPLICATE_IN_REPORT','CURRENCY_MISMATCH'])[1 + g % 5],
			'fp-' || g, 'h', 'TRANSACTION_ITEMS', 'CAPTURE', 'cap-' || g, 'batch-' || (g % 50), 1000 + g, 'USD', 1001 + g, 'USD',
			'transactionItems_20261123_000.csv', g + 1, '{"reason":"bench"}', now()
		FROM generate_series(1, 100000) AS g`, runID); err != nil {
		b.Fatal(err)
	}
	svc := NewService(db, Config{ExportDir: b.TempDir()}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	runtime.GC()
	benchtest.ResetPeakRSS(b)
	b.ResetTimer()
	start := time.Now()
	path, err := svc.Export(ctx, runID, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.StopTimer()
	st, _ := os.Stat(path)
	peak := benchtest.PeakRSS(b)
	b.ReportMetric(took.Seconds(), "s")
	benchtest.Row("Excel export of 100,000 discrepancy rows", fmt.Sprintf("%.2fs, peak RSS %d MiB", took.Seconds(), peak>>20),
		"< 3s, < 150 MiB", fmt.Sprintf("workbook %d KiB + 5 CSVs; RSS of the test process from the export's start", st.Size()>>10))
}

// benchIDs are the generated ids of payment i.
func benchIDs(i int) (payID, payReq, apoPay, txAuth, txCap, capReq, apoCap string) {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", i), fmt.Sprintf("payreq_%d", i), fmt.Sprintf("2024pay%d", i),
		fmt.Sprintf("00000000-0000-4000-9000-%012x", 2*i), fmt.Sprintf("00000000-0000-4000-9000-%012x", 2*i+1),
		fmt.Sprintf("capreq_%d", i), fmt.Sprintf("2024cap%d", i)
}

func benchAmount(i int) int64 { return 100 + int64(i%50_000) }

// benchSeed writes the ledger with COPY, streaming (nothing kept in memory,
// so the peak RSS measured later is the pipeline's).
func benchSeed(b *testing.B, db *sqlx.DB, payments int) {
	ctx := context.Background()
	at := mon.Add(10 * time.Hour)
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		ps, err := tx.PrepareContext(ctx, `COPY payments (id, payment_request_id, apo_payment_id, reference_order_id,
			amount_minor, currency, capture_mode, status, captured_minor, created_at, updated_at) FROM STDIN`)
		if err != nil {
			return err
		}
		for i := 0; i < payments; i++ {
			id, req, apo, _, _, _, _ := benchIDs(i)
			if _, err := ps.ExecContext(ctx, id, req, apo, req, benchAmount(i), "USD", "MANUAL", "CAPTURED",
				benchAmount(i), at, at); err != nil {
				return err
			}
		}
		if _, err := ps.ExecContext(ctx); err != nil {
			return err
		}
		_ = ps.Close()
		ts, err := tx.PrepareContext(ctx, `COPY payment_transactions (id, payment_id, type, request_id, apo_id,
			amount_minor, currency, status, created_at, updated_at, completed_at) FROM STDIN`)
		if err != nil {
			return err
		}
		for i := 0; i < payments; i++ {
			id, req, apo, txA, txC, capReq, apoCap := benchIDs(i)
			if _, err := ts.ExecContext(ctx, txA, id, "AUTHORIZATION", req, apo, benchAmount(i), "USD", "SUCCEEDED", at, at, at); err != nil {
				return err
			}
			if _, err := ts.ExecContext(ctx, txC, id, "CAPTURE", capReq, apoCap, benchAmount(i), "USD", "SUCCEEDED", at, at, at); err != nil {
				return err
			}
		}
		if _, err := ts.ExecContext(ctx); err != nil {
			return err
		}
		return ts.Close()
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE payments; ANALYZE payment_transactions`); err != nil {
		b.Fatal(err)
	}
}

// benchReport writes the transaction report: a PAYMENT and a CAPTURE line
// per payment; one payment in fifty gets a fault (1% of lines), cycling
// through a dropped capture, a changed amount, a duplicated line and an
// unknown transaction. It returns the line count and the discrepancies the
// faults must produce.
func benchReport(b *testing.B, path string, payments int) (int, map[Kind]int64) {
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	w.WriteString("customerId,acquirer,transactionType,transactionId,originalTransactionId,transactionRequestId," +
		"paymentTime,transactionAmountValue,transactionCurrency,status,cardBrand,paymentMethodType\n")
	want := map[Kind]int64{}
	lines := 0
	line := func(typ, id, orig, req string, amount int64) {
		lines++
		w.WriteString(testCustomer + ",ANTOM," + typ + "," + id + "," + orig + "," + req + ",2024-03-11T10:00:00Z," +
			money.FormatMajor(money.Money{Minor: amount, Currency: "USD"}) + ",USD,SUCCESS,VISA,CARD\n")
	}
	for i := 0; i < payments; i++ {
		_, req, apo, _, _, capReq, apoCap := benchIDs(i)
		amt := benchAmount(i)
		fault := -1
		if i%50 == 25 {
			fault = (i / 50) % 4
		}
		line("PAYMENT", apo, "", req, amt)
		switch fault {
		case 0: // the capture is dropped
			want[MissingInReport]++
			continue
		case 1:
			want[AmountMismatch]++
			line("CAPTURE", apoCap, apo, capReq, amt+1)
		case 2:
			want[DuplicateInReport]++
			line("CAPTURE", apoCap, apo, capReq, amt)
			line("CAPTURE", apoCap, apo, capReq, amt)
		case 3:
			want[MissingInLedger]++
			line("CAPTURE", apoCap, apo, capReq, amt)
			line("CAPTURE", "2024unknown"+strconv.Itoa(i), "2024unknownpay"+strconv.Itoa(i), "", amt)
		default:
			line("CAPTURE", apoCap, apo, capReq, amt)
		}
	}
	w.WriteString("<END>\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		b.Fatal(err)
	}
	return lines, want
}

// benchFloor is the least any implementation must do: read the file with
// encoding/csv, parse its amounts, and hash-join it with the ledger held in
// memory.
func benchFloor(b *testing.B, path string, payments int) time.Duration {
	start := time.Now()
	ledger := make(map[string]int64, 2*payments)
	for i := 0; i < payments; i++ {
		_, _, apo, _, _, _, apoCap := benchIDs(i)
		ledger[apo], ledger[apoCap] = benchAmount(i), benchAmount(i)
	}
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	r := csv.NewReader(bufio.NewReaderSize(fh, 1<<20))
	r.FieldsPerRecord, r.ReuseRecord = -1, true
	var matched, broken int
	if _, err := r.Read(); err != nil {
		b.Fatal(err)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if len(rec) == 1 {
			continue // <END>
		}
		m, err := money.ParseMajor(rec[7], rec[8], true)
		if err != nil {
			b.Fatal(err)
		}
		if ours, ok := ledger[rec[3]]; ok && ours == m.Minor {
			matched++
		} else {
			broken++
		}
	}
	if matched == 0 {
		b.Fatal("floor matched nothing")
	}
	return time.Since(start)
}

// benchGoJoin times the design not taken: the ledger's hash table in Go,
// fed from the database (the staged lines are still there from the last
// iteration). It only matches by id, so it is a lower bound for that design.
func benchGoJoin(b *testing.B, db *sqlx.DB) time.Duration {
	ctx := context.Background()
	start := time.Now()
	type tx struct {
		amount int64
		id     string
	}
	ledger := map[string]tx{}
	rows, err := db.QueryContext(ctx, `SELECT type || '|' || apo_id, amount_minor, id::text FROM payment_transactions WHERE apo_id <> ''`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var (
			k string
			t tx
		)
		if err := rows.Scan(&k, &t.amount, &t.id); err != nil {
			b.Fatal(err)
		}
		ledger[k] = t
	}
	rows.Close()
	lines, err := db.QueryContext(ctx, `SELECT transaction_type, transaction_id, transaction_amount_minor FROM report_lines`)
	if err != nil {
		b.Fatal(err)
	}
	var hits int
	for lines.Next() {
		var (
			typ, id string
			amt     int64
		)
		if err := lines.Scan(&typ, &id, &amt); err != nil {
			b.Fatal(err)
		}
		if typ == "PAYMENT" {
			typ = "AUTHORIZATION"
		}
		if t, ok := ledger[typ+"|"+id]; ok && t.amount == amt {
			hits++
		}
	}
	lines.Close()
	if hits == 0 {
		b.Fatal("go join matched nothing")
	}
	return time.Since(start)
}
