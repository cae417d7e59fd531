package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/payops/payops/internal/benchtest"
)

// BenchmarkConsoleMillion measures the console of the shipped api binary
// over 1,000,000 payments: the Today page and the payment search (p99 of
// the answer as the browser waits for it, target < 100 ms), and the CSV
// export of every payment, streamed (the api's peak RSS during it, target
// < 150 MiB). Floors from the same run: /healthz under the same driver for
// the pages, and PostgreSQL streaming the same rows to this process for
// the export.
func BenchmarkConsoleMillion(b *testing.B) {
	s := startStack(b, 0.001, false, "")
	db := sqlx.MustOpen("postgres", s.DatabaseURL)
	defer db.Close()
	loaded := millionPayments(b, db)

	u := s.createConsoleUser(b, "bench@e2e.test", "viewer")
	cookie := consoleCookie(b, s, u)
	get := func(path string) func(int) (*http.Request, error) {
		return func(int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, s.API+path, nil)
			if err == nil {
				req.Header.Set("Cookie", cookie)
			}
			return req, err
		}
	}
	floor := load(2, 5*time.Second, 0, get("/healthz"))
	today := load(2, 10*time.Second, 0, get("/console/today"))
	// Searches a person makes: part of an order id, a buyer, last four with
	// a status, a currency and amount range; first pages.
	searches := []string{"/console/payments?q=order-12345", "/console/payments?buyer=buyer777%40example.com",
		"/console/payments?last4=4242&status=AUTHORIZED", "/console/payments?currency=USD&amount_min=10&amount_max=20",
		"/console/payments?status=FAILED&created_within=24h", "/console/payments"}
	search := load(2, 10*time.Second, 0, func(i int) (*http.Request, error) { return get(searches[i%len(searches)])(i) })
	for _, r := range []struct {
		what string
		l    loadResult
	}{{"console Today at 1,000,000 payments", today}, {"console payment search at 1,000,000", search}} {
		if r.l.failed > 0 || r.l.ok == 0 {
			b.Fatalf("%s: %d failed, %d ok", r.what, r.l.failed, r.l.ok)
		}
		benchtest.Row(r.what, fmt.Sprintf("%.0f/s p50 %v p99 %v", r.l.rate, r.l.p50.Round(time.Microsecond), r.l.p99.Round(time.Microsecond)),
			"p99 < 100ms", fmt.Sprintf("2 conns; floor /healthz p99 %v; rows loaded in %v", floor.p99.Round(time.Microsecond), loaded.Round(time.Second)))
	}

	// The export, with the api's resident memory sampled while it streams.
	pid := s.procs["api"].cmd.Process.Pid
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			if kb := statusKB(pid, "VmRSS:"); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	before := statusKB(pid, "VmRSS:")
	req, _ := get("/console/payments/export.csv")(0)
	t0 := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	lines, n := countLines(b, resp.Body)
	resp.Body.Close()
	took := time.Since(t0)
	close(done)
	if resp.StatusCode != http.StatusOK || lines != 1_000_001 {
		b.Fatalf("export: status %d, %d lines, want 200 and a header plus 1,000,000 rows", resp.StatusCode, lines)
	}
	rawFloor := streamRows(b, db)
	benchtest.Row("console CSV export of 1,000,000 payments", fmt.Sprintf("%v, %d MiB, api RSS peak %d MiB", took.Round(time.Millisecond), n>>20, peak.Load()>>10),
		"RSS < 150 MiB", fmt.Sprintf("streamed; RSS before %d MiB; floor: the rows read raw from PostgreSQL in %v", before>>10, rawFloor.Round(time.Millisecond)))
	b.ReportMetric(float64(peak.Load())/1024, "export-rss-MiB")
}

// consoleCookie signs u in over HTTP and returns its session cookie.
func consoleCookie(b *testing.B, s *Stack, u consoleUser) string {
	b.Helper()
	form := url.Values{"email": {u.email}, "password": {u.password}}
	req, _ := http.NewRequest(http.MethodPost, s.API+"/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.API)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "payops_session" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("login: %d, no session cookie", resp.StatusCode)
	return ""
}

// statusKB reads a "Vm…:" line of /proc/<pid>/status, in KiB.
func statusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// countLines reads r to its end and counts its lines and bytes.
func countLines(b *testing.B, r io.Reader) (lines int, n int64) {
	b.Helper()
	buf := make([]byte, 256<<10)
	for {
		k, err := r.Read(buf)
		n += int64(k)
		lines += strings.Count(string(buf[:k]), "\n")
		if err == io.EOF {
			return lines, n
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// streamRows is the export's floor: PostgreSQL sending the same rows, in
// the same order, to this process, which reads and drops them.
func streamRows(b *testing.B, db *sqlx.DB) time.Duration {
	b.Helper()
	t0 := time.Now()
	rows, err := db.QueryContext(context.Background(), `SELECT id, created_at, status, amount_minor, currency, reference_order_id,
		buyer_email, card_masked, acquirer_name FROM payments ORDER BY created_at DESC, id DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	cols := make([]any, 9)
	for i := range cols {
		cols[i] = new(any)
	}
	for rows.Next() {
		if err := rows.Scan(cols...); err != nil {
			b.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}
