package bank_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/benchtest"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// BenchmarkStatementsYear ingests a year of daily MT940 statements of 20
// accounts (BANK_BENCH_ACCOUNTS × BANK_BENCH_DAYS, default 20 × 365 = 7,300
// files, one statement each, as banks deliver them), each through Ingest
// as an upload: parse, archive, duplicate checks, COPY of the entries, the
// balance checks against the previous day. Each day holds an APO payout
// naming its batch, customer credits and debits (ten entries). It prints
// statements/s, entries/s and peak RSS beside a floor measured in the same
// run: parsing every file in memory, plus writing each to a file synced to
// disk and one single-row commit per file — the least that custody (the
// file durable before its rows commit, each file its own transaction)
// costs.
// No test asserts on the figures.
func BenchmarkStatementsYear(b *testing.B) {
	accounts, days := benchEnv(b, "BANK_BENCH_ACCOUNTS", 20), benchEnv(b, "BANK_BENCH_DAYS", 365)
	ctx := context.Background()
	db := pgtest.NewDB(b)
	svc := bank.NewService(db, bank.Config{ArchiveDir: b.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if accounts > len(benchCurrencies) {
		b.Fatalf("BANK_BENCH_ACCOUNTS=%d: at most %d (one settlement currency each)", accounts, len(benchCurrencies))
	}
	first := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	files := make([][]byte, 0, accounts*days)
	names := make([]string, 0, accounts*days)
	for a := range accounts {
		iban, ccy := benchIBAN(a), benchCurrencies[a]
		if _, err := svc.CreateAccount(ctx, bank.NewAccount{Name: "Bench " + strconv.Itoa(a), IBAN: iban, Currency: ccy,
			SettlementCurrency: ccy, Remitters: []string{"APO PAYMENTS EUROPE B.V."}}); err != nil {
			b.Fatal(err)
		}
		balance := int64(100_000_00)
		for d := range days {
			var f []byte
			f, balance = benchMT940(iban, ccy, first.AddDate(0, 0, d), d+1, balance)
			files = append(files, f)
			names = append(names, fmt.Sprintf("%s/%04d.sta", iban, d))
		}
	}
	entries := 0
	parse := time.Now()
	for i, f := range files {
		sts, err := statement.ParseMT940(names[i], bytes.NewReader(f), statement.DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		entries += len(sts[0].Entries)
	}
	floor := time.Since(parse) + custodyFloor(b, db, b.TempDir(), files)

	runs := benchRuns(b, db, first, days, accounts)
	matcher := payout.NewService(db, payout.Config{Default: recon.Calendar{}}, nil)

	var took, match time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, q := range []string{`DELETE FROM payout_credits`, `DELETE FROM payouts`, `DELETE FROM bank_statement_findings`,
			`DELETE FROM bank_entries`, `DELETE FROM bank_statements`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		for j, f := range files {
			file, err := svc.Ingest(ctx, names[j], bytes.NewReader(f))
			if err != nil || len(file.Statements) != 1 || file.Statements[0].Status != bank.StatusOK {
				b.Fatalf("ingest %s: %+v %v", names[j], file, err)
			}
		}
		took = time.Since(start)
		start = time.Now()
		for _, run := range runs {
			err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
				found, _, err := matcher.CheckPayouts(ctx, tx, run, run.CreatedAt)
				if err == nil && len(found) > 0 {
					err = fmt.Errorf("%d breaks, first %s %s", len(found), found[0].Kind, found[0].SettlementBatchID)
				}
				return err
			})
			if err != nil {
				b.Fatalf("match %s: %v", run.Period.Format(time.DateOnly), err)
			}
		}
		match = time.Since(start)
	}
	b.StopTimer()
	rss := benchtest.PeakRSS(b)
	var linked int
	if err := db.GetContext(ctx, &linked, `SELECT count(*) FROM payout_credits WHERE method = 'REFERENCE'`); err != nil || linked != accounts*days {
		b.Fatalf("%d payouts linked by reference, want %d (%v)", linked, accounts*days, err)
	}
	matchFloor := referenceJoin(b, db, accounts*days) + commits(b, db, len(runs))
	b.ReportMetric(float64(len(files))/took.Seconds(), "statements/s")
	b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(match.Seconds()/matchFloor.Seconds(), "match-x-floor")
	benchtest.Row(fmt.Sprintf("ingest %d daily statements (%d accounts)", len(files), accounts),
		fmt.Sprintf("%.1fs %.0f stmts/s, peak RSS %d MiB", took.Seconds(), float64(len(files))/took.Seconds(), rss>>20),
		"", fmt.Sprintf("%d entries; floor %.2fs → %.1f×", entries, floor.Seconds(), took.Seconds()/floor.Seconds()))
	benchtest.Row(fmt.Sprintf("  match their %d payouts, a run a day", accounts*days),
		fmt.Sprintf("%.1fs (%d runs)", match.Seconds(), len(runs)), "",
		fmt.Sprintf("floor: a commit a run + one reference join %.2fs → %.1f×", matchFloor.Seconds(), match.Seconds()/matchFloor.Seconds()))
}

// benchRuns records a succeeded reconciliation run per day whose batches
// are the day's payouts, one per account, as the statements pay them: the
// runs the payout check is given.
func benchRuns(b *testing.B, db *sqlx.DB, first time.Time, days, accounts int) []recon.Run {
	b.Helper()
	ctx := context.Background()
	st := recon.NewStore(db)
	runs := make([]recon.Run, 0, days)
	for d := range days {
		day := first.AddDate(0, 0, d)
		now := day.Add(26 * time.Hour)
		run := recon.Run{Period: day, Request: recon.RunRequest{Date: day}, Status: recon.RunQueued, Actor: "bench", CreatedAt: now}
		var err error
		if run.ID, err = st.CreateRun(ctx, run); err != nil {
			b.Fatal(err)
		}
		for a := range accounts {
			run.Batches = append(run.Batches, recon.Batch{BatchID: benchBatch(day, benchIBAN(a)), Currency: benchCurrencies[a],
				HasSummary: true, Summary: benchPayout(d + 1)})
		}
		run.Status, run.StartedAt, run.FinishedAt = recon.RunSucceeded, &now, &now
		if err := st.FinishRun(ctx, run); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, run)
	}
	return runs
}

// referenceJoin and commits make the matching floor: each run must commit
// its links, and one set-based join of every payout to the credit whose
// end-to-end id names it is the least reading that finds them all.
func referenceJoin(b *testing.B, db *sqlx.DB, want int) time.Duration {
	b.Helper()
	start := time.Now()
	var n int
	if err := db.GetContext(context.Background(), &n, `SELECT count(*) FROM payouts p
		JOIN bank_entries e ON e.end_to_end_id = 'APO-' || p.batch_id AND e.account_id = p.account_id`); err != nil || n != want {
		b.Fatalf("reference join: %d of %d (%v)", n, want, err)
	}
	return time.Since(start)
}

func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// benchCurrencies are the accounts' currencies, each the settlement
// currency of one account (payout matching takes one account per
// settlement currency), all with two decimals.
var benchCurrencies = []string{"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "AUD", "CAD", "NZD",
	"SGD", "HKD", "MXN", "ZAR", "ILS", "BRL", "RON", "BGN"}

// benchBatch is the id of the batch of day paid into account iban, and
// benchPayout its payout on the seq-th day.
func benchBatch(day time.Time, iban string) string {
	return "B" + day.Format("20060102") + iban[len(iban)-4:]
}
func benchPayout(seq int) int64 { return int64(250_000 + seq*137) }

// benchIBAN is a valid German IBAN for account n.
func benchIBAN(n int) string {
	bban := fmt.Sprintf("37040044%010d", 532013000+n)
	num := ""
	for _, r := range bban + "DE00" {
		if r >= 'A' && r <= 'Z' {
			num += strconv.Itoa(int(r-'A') + 10)
		} else {
			num += string(r)
		}
	}
	mod := 0
	for _, r := range num {
		mod = (mod*10 + int(r-'0')) % 97
	}
	return fmt.Sprintf("DE%02d%s", 98-mod, bban)
}

// benchMT940 is account iban's statement of day: an APO payout naming its
// batch, five customer credits and four debits; it returns the closing
// balance.
func benchMT940(iban, ccy string, day time.Time, seq int, opening int64) ([]byte, int64) {
	var w strings.Builder
	yymmdd := day.Format("060102")
	mmdd := day.Format("0102")
	amount := func(minor int64) string { return fmt.Sprintf("%d,%02d", minor/100, minor%100) }
	fmt.Fprintf(&w, "{1:F01COBADEFFAXXX0000000000}{2:O940}{4:\r\n:20:%s-%d\r\n:25:%s\r\n:28C:%05d/001\r\n", yymmdd, seq, iban, seq)
	fmt.Fprintf(&w, ":60F:C%s%s%s\r\n", yymmdd, ccy, amount(opening))
	balance := opening
	payout := benchPayout(seq)
	batch := benchBatch(day, iban)
	fmt.Fprintf(&w, ":61:%s%sC%sNTRFNONREF//%s-1\r\n:86:166?00SEPA-GUTSCHRIFT?20EREF+APO-%s?21SVWZ+APO SETTLEMENT BATCH %s?32APO PAYMENTS EUROPE B.V.\r\n",
		yymmdd, mmdd, amount(payout), yymmdd, batch, batch)
	balance += payout
	for k := range 5 {
		v := int64(1_000 + 97*k + seq)
		fmt.Fprintf(&w, ":61:%s%sC%sNTRFORDER-%d-%d//%s-%d\r\n:86:166?00SEPA-GUTSCHRIFT?20Bestellung %d-%d?32Kunde %d\r\n",
			yymmdd, mmdd, amount(v), seq, k, yymmdd, k+2, seq, k, k)
		balance += v
	}
	for k := range 4 {
		v := int64(5_000 + 31*k)
		fmt.Fprintf(&w, ":61:%s%sD%sNDDTNONREF//%s-%d\r\n:86:105?00SEPA-LASTSCHRIFT?20Miete und Nebenkosten %d\r\n",
			yymmdd, mmdd, amount(v), yymmdd, k+7, k)
		balance -= v
	}
	fmt.Fprintf(&w, ":62F:C%s%s%s\r\n-}\r\n", yymmdd, ccy, amount(balance))
	return []byte(w.String()), balance
}

// custodyFloor is the least that keeping each file durably and recording
// it in its own transaction costs: per file, its bytes written to a new
// file in dir and synced to disk, then a single-row commit.
// commits is how long n single-row commits take.
func commits(b *testing.B, db *sqlx.DB, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_commits (n integer NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		if _, err := db.ExecContext(ctx, `INSERT INTO bench_commits VALUES ($1)`, i); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func custodyFloor(b *testing.B, db *sqlx.DB, dir string, files [][]byte) time.Duration {
	b.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_floor (n integer NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i, f := range files {
		tmp, err := os.CreateTemp(dir, "floor-*")
		if err != nil {
			b.Fatal(err)
		}
		_, err = tmp.Write(f)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err != nil || cerr != nil {
			b.Fatal(err, cerr)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO bench_floor VALUES ($1)`, i); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
