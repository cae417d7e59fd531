package e2e

// Benchmarks of the shipped binaries, run by `make bench`
// (go test -run '^$' -bench . -benchtime 1x ./e2e). Each one is a load run,
// not a b.N loop: it prints its figures as rows of one table and also
// reports them as benchmark metrics. Targets are issue #9's; the floors are
// measured in the same run on the same machine.

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/benchtest"
)

// load sends requests from conns goroutines for d (or until next says
// io.EOF) and returns the rate achieved and the latency quantiles of
// successes. With rate > 0 the load is open: request i is due at
// start + i/rate whoever sends it, and its latency counts from that moment,
// so a server that falls behind shows it in the tail instead of slowing the
// driver down (no coordinated omission). rate 0 sends as fast as answers
// come back.
type loadResult struct {
	ok, failed int
	rate       float64
	p50, p99   time.Duration
	timed      []timedRequest // the answers that carried Server-Timing
}

// timedRequest is one answer's latency and the server's steps in it.
type timedRequest struct {
	at      time.Duration // when it was due, from the start of the run
	latency time.Duration
	steps   string // Server-Timing
}

func load(conns int, d time.Duration, rate float64, next func(i int) (*http.Request, error)) loadResult {
	var (
		mu      sync.Mutex
		lat     []time.Duration
		timed   []timedRequest
		ok, bad atomic.Int64
		seq     atomic.Int64
		wg      sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 10 * time.Second}
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			var localTimed []timedRequest
			for {
				i := int(seq.Add(1) - 1)
				t0 := time.Now()
				if rate > 0 {
					t0 = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					time.Sleep(time.Until(t0))
				}
				if t0.After(deadline) {
					break
				}
				req, err := next(i)
				if err != nil {
					break
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode >= 300 {
					bad.Add(1)
					continue
				}
				took := time.Since(t0)
				local = append(local, took)
				if st := resp.Header.Get("Server-Timing"); st != "" {
					localTimed = append(localTimed, timedRequest{t0.Sub(start), took, st})
				}
				ok.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			timed = append(timed, localTimed...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return loadResult{ok: int(ok.Load()), failed: int(bad.Load()), rate: float64(ok.Load()) / el.Seconds(), p50: q(0.5), p99: q(0.99), timed: timed}
}

// bareHandlerRate is the floor: a do-nothing net/http handler under the
// same load driver on the same machine.
func bareHandlerRate(conns int) float64 {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(apo.NotificationAck))
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/"
	body := bytes.Repeat([]byte("x"), 600)
	r := load(conns, 3*time.Second, 0, func(int) (*http.Request, error) {
		return http.NewRequest("POST", url, bytes.NewReader(body))
	})
	return r.rate
}

// rsaVerifyRate measures RSA-2048 PKCS#1 v1.5 verification on every core.
func rsaVerifyRate() float64 {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	sum := sha256.Sum256([]byte("payops"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(time.Second)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				_ = rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, sum[:], sig)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load())
}

// commitRate measures single-row INSERT commits/s at 16 connections.
func commitRate(b *testing.B, url string) float64 {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(16)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, body bytea)`); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(2 * time.Second)
	body := bytes.Repeat([]byte("x"), 600)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if _, err := db.Exec(`INSERT INTO bench_commits (body) VALUES ($1)`, body); err == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	_, _ = db.Exec(`DROP TABLE bench_commits`)
	return float64(n.Load()) / 2
}

// profileAPI takes a CPU profile of the api for the next seconds when
// BENCH_PROFILE_DIR is set (go tool pprof <dir>/<name>-api.pprof); the
// returned channel closes when it is written.
func profileAPI(b *testing.B, s *Stack, name string, seconds int) <-chan struct{} {
	done := make(chan struct{})
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.API, seconds), nil)
		req.Header.Set("Authorization", "Bearer "+s.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Logf("profile: %v", err)
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(filepath.Join(dir, name+"-api.pprof"), raw, 0o644); err != nil {
			b.Logf("profile: %v", err)
		}
	}()
	return done
}

// benchRequestTime is the request-time the benchmark's notifications are
// signed with: now, since payops refuses request-times over 48 h old.
var benchRequestTime = time.Now().UTC().Format(time.RFC3339)

// signedNotifications makes n distinct PAYMENT_RESULT notifications signed
// with the sandbox's APO key, as APO would send them. Signing is done up
// front (≈1 ms each) so the load run measures payops, not the signer.
func signedNotifications(b *testing.B, s *Stack, n int) [][2]string {
	pem, err := os.ReadFile(filepath.Join(s.dir, "keys", "apo_private.pem"))
	if err != nil {
		b.Fatal(err)
	}
	key, err := apo.ParsePrivateKey(pem)
	if err != nil {
		b.Fatal(err)
	}
	out := make([][2]string, n)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				body := fmt.Sprintf(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},`+
					`"paymentRequestId":"bench-%d","paymentId":"2026bench%09d","paymentAmount":{"currency":"USD","value":"1000"}}`, i, i)
				sig, err := apo.Sign(key, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", benchRequestTime, []byte(body))
				if err != nil {
					panic(err)
				}
				out[i] = [2]string{body, sig}
			}
		}()
	}
	wg.Wait()
	return out
}

func BenchmarkWebhookIntake(b *testing.B) {
	s := startStack(b, 0.001, false, "") // no worker: measure intake, not processing
	const (
		conns   = 32
		seconds = 4
		window  = seconds * time.Second
		paced   = 4000                // notifications/s offered in the paced run
		pacedN  = paced*seconds + 100 // what the paced run sends, with slack
		maxN    = 12000 * seconds     // the max run can show at most 12,000/s
	)
	notes := signedNotifications(b, s, pacedN+maxN)
	// Each run has its own notifications: a repeated one is a re-delivery,
	// a different (cheaper) path than a new fact.
	sender := func(notes [][2]string) func(i int) (*http.Request, error) {
		return func(i int) (*http.Request, error) {
			if i >= len(notes) {
				return nil, io.EOF
			}
			req, err := http.NewRequest("POST", s.API+"/webhooks/apo", bytes.NewReader([]byte(notes[i][0])))
			if err != nil {
				return nil, err
			}
			req.Header["signature"] = []string{notes[i][1]}
			req.Header["client-id"] = []string{"SANDBOX_PAYOPS"}
			req.Header["request-time"] = []string{benchRequestTime}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		}
	}
	profiled := profileAPI(b, s, "intake", 3)
	max := load(conns, window, 0, sender(notes[pacedN:]))
	<-profiled
	var stored int
	db := sqlx.MustOpen("postgres", s.DatabaseURL)
	_ = db.Get(&stored, `SELECT count(*) FROM webhook_events WHERE verdict = 'valid'`)
	// The burst leaves PostgreSQL with background work (autovacuum of the
	// table it filled, dirty buffers); the paced run measures a settled
	// service, as production between bursts is.
	_, _ = db.Exec(`VACUUM ANALYZE webhook_events`)
	db.Close()
	time.Sleep(2 * time.Second)
	at4k := load(conns, window, paced, sender(notes[:pacedN]))
	if sent := at4k.ok + at4k.failed; sent < paced*seconds {
		b.Fatalf("the paced run sent %d notifications, want %d: its figures would not be %d/s", sent, paced*seconds, paced)
	}
	bare := bareHandlerRate(conns)
	verify := rsaVerifyRate()
	commits := commitRate(b, s.DatabaseURL)
	ratio := max.rate / bare
	b.ReportMetric(max.rate, "notifications/s")
	b.ReportMetric(ratio, "ratio-to-bare")
	maxNote := fmt.Sprintf("%d acknowledged, %d stored, %d failed", max.ok, stored, max.failed)
	if max.ok+max.failed == maxN {
		maxNote += fmt.Sprintf("; all %d sent in under %v: a lower bound", maxN, window)
	}
	benchtest.Row("webhook intake, max (32 conns)", fmt.Sprintf("%.0f/s p50 %v p99 %v", max.rate, max.p50.Round(time.Microsecond), max.p99.Round(time.Microsecond)), "≥ 5000/s", maxNote)
	benchtest.Row("webhook intake at 4000/s offered", fmt.Sprintf("%.0f/s p50 %v p99 %v", at4k.rate, at4k.p50.Round(time.Microsecond), at4k.p99.Round(time.Microsecond)), "p99 < 50ms", fmt.Sprintf("%d failed", at4k.failed))
	benchtest.Row("  floor: bare net/http handler", fmt.Sprintf("%.0f/s", bare), "", fmt.Sprintf("intake/bare = %.2f (goal ≥ 0.35)", ratio))
	benchtest.Row("  floor: RSA-2048 verify, 2 cores", fmt.Sprintf("%.0f/s", verify), "", "")
	benchtest.Row("  floor: PostgreSQL 1-row commits, 16 conns", fmt.Sprintf("%.0f/s", commits), "", "")
	if stored < max.ok {
		b.Fatalf("%d notifications acknowledged but only %d stored", max.ok, stored)
	}
}

func BenchmarkPayRoundTrip(b *testing.B) {
	s := startStack(b, 0.001, true, "")
	body, _ := jsonBody(payBody("4111111111111111", 1000, "USD", "MANUAL"))
	r := load(8, 10*time.Second, 50, func(int) (*http.Request, error) {
		req, err := http.NewRequest("POST", s.API+"/v1/payments", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.AdminKey)
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	benchtest.Row("pay round trip, api + sandbox at 50/s", fmt.Sprintf("p50 %v p99 %v", r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond)), "p99 < 30ms, ≤ 3×p50",
		fmt.Sprintf("%d ok, %d failed", r.ok, r.failed))
	if len(r.timed) < r.ok {
		b.Fatalf("%d of %d answers carried Server-Timing", len(r.timed), r.ok)
	}
	for _, s := range payStepRows(r.timed) {
		benchtest.Row("  pay step "+s.name, fmt.Sprintf("p50 %v p99 %v", s.p50, s.p99), "", s.note)
	}
	slices.SortFunc(r.timed, func(x, y timedRequest) int { return cmp.Compare(y.latency, x.latency) })
	for _, t := range r.timed[:min(3, len(r.timed))] {
		benchtest.Row("  a slowest pay", fmt.Sprintf("%v at +%v", t.latency.Round(time.Microsecond), t.at.Round(time.Millisecond)), "", t.steps)
	}
}

type stepRow struct {
	name     string
	p50, p99 time.Duration
	note     string
}

// payStepRows splits pay's latency into the server's steps (Server-Timing:
// auth, store, apo with its sign/http/verify/record, apply, poll, audit),
// plus "outside" (the client, the network and the HTTP server around the
// handler). Each step's note is its mean share of the slowest 1% of
// requests, which says where the tail goes.
func payStepRows(timed []timedRequest) []stepRow {
	per := map[string][]time.Duration{}
	var order []string
	parsed := make([]map[string]time.Duration, len(timed))
	for i, t := range timed {
		m := map[string]time.Duration{}
		var inHandler time.Duration
		for _, part := range strings.Split(t.steps, ",") {
			name, dur, ok := strings.Cut(strings.TrimSpace(part), ";dur=")
			ms, err := strconv.ParseFloat(dur, 64)
			if !ok || err != nil {
				continue
			}
			d := time.Duration(ms * float64(time.Millisecond))
			m[name] += d
			if !strings.HasPrefix(name, "apo_") { // apo_* are parts of apo
				inHandler += d
			}
		}
		m["outside"] = max(0, t.latency-inHandler)
		for name, d := range m {
			if _, seen := per[name]; !seen {
				order = append(order, name)
			}
			per[name] = append(per[name], d)
		}
		parsed[i] = m
	}
	slices.Sort(order)
	idx := make([]int, len(timed))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(timed[b].latency, timed[a].latency) })
	tail := idx[:max(1, len(idx)/100)]
	var out []stepRow
	for _, name := range order {
		ds := per[name]
		slices.Sort(ds)
		var tailSum, tailTotal time.Duration
		for _, i := range tail {
			tailSum += parsed[i][name]
			tailTotal += timed[i].latency
		}
		out = append(out, stepRow{name: name, p50: ds[len(ds)/2].Round(time.Microsecond),
			p99: ds[min(len(ds)-1, len(ds)*99/100)].Round(time.Microsecond),
			note: fmt.Sprintf("slowest 1%%: mean %v (%.0f%% of their latency)", (tailSum / time.Duration(len(tail))).Round(time.Microsecond),
				100*float64(tailSum)/float64(max(1, tailTotal)))})
	}
	return out
}

func BenchmarkListMillion(b *testing.B) {
	s := startStack(b, 0.001, false, "")
	db := sqlx.MustOpen("postgres", s.DatabaseURL)
	defer db.Close()
	loaded := millionPayments(b, db)
	// Walk 20 pages first so the load mixes first pages and later ones.
	var cursors []string
	for next := ""; len(cursors) < 20; {
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		s.Call("GET", "/v1/payments?status=AUTHORIZED&limit=50&cursor="+next, nil, &page)
		if page.NextCursor == "" {
			break
		}
		cursors = append(cursors, page.NextCursor)
		next = page.NextCursor
	}
	r := load(4, 10*time.Second, 0, func(i int) (*http.Request, error) {
		url := s.API + "/v1/payments?status=AUTHORIZED&limit=50"
		switch i % 3 {
		case 1:
			url += "&cursor=" + cursors[i%len(cursors)]
		case 2:
			url = s.API + "/v1/payments?acquirer=ADYEN&limit=50"
		}
		req, err := http.NewRequest("GET", url, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.AdminKey)
		}
		return req, err
	})
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	benchtest.Row("GET /v1/payments at 1,000,000 rows", fmt.Sprintf("%.0f/s p50 %v p99 %v", r.rate, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond)), "p99 < 20ms",
		fmt.Sprintf("4 conns; rows loaded in %v", loaded.Round(time.Second)))
}

// millionPayments fills the stack's database with 1,000,000 payments made
// in PostgreSQL: created every 30 s back over about a year (about 2,900 in
// the last day), a status and acquirer mix, card and buyer fields as
// checkout leaves them. It returns how long that took.
func millionPayments(b *testing.B, db *sqlx.DB) time.Duration {
	b.Helper()
	t0 := time.Now()
	if _, err := db.ExecContext(context.Background(), `
		INSERT INTO payments (id, payment_request_id, reference_order_id, amount_minor, currency, capture_mode, status,
			card_last4, card_brand, card_bin, card_masked, buyer_email, buyer_reference, acquirer_name, created_at, updated_at)
		SELECT md5('bench' || g)::uuid, 'bench-' || g, 'order-' || g, 100 + g % 10000, 'USD', 'MANUAL',
			(ARRAY['AUTHORIZED','CAPTURED','FAILED','CANCELLED','AUTHORIZED'])[1 + g % 5], lpad((g % 10000)::text, 4, '0'),
			'VISA', '424242', '424242******' || lpad((g % 10000)::text, 4, '0'), 'buyer' || g % 50000 || '@example.com',
			'cust-' || g % 50000, (ARRAY['ADYEN','CHECKOUT','ALIPAY'])[1 + g % 3], now() - (g || ' seconds')::interval * 30, now()
		FROM generate_series(1, 1000000) AS g`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE payments`); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}
