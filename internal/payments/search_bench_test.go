package payments

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// BenchmarkSearchMillion times the console's reads on a large payments
// table: the default page, the searches of Filter, the Today summary and
// the CSV export. PAYMENTS_BENCH_ROWS sets the table's size (default
// 20,000, so that `go test -bench .` stays quick; the indexes were chosen
// at 1,000,000). The rows are generated in PostgreSQL (generate_series)
// over 100 days, then vacuumed and analysed as autovacuum would. Each
// query's plan is logged once (EXPLAIN ANALYZE of the very statement the
// store runs), so a plan that stops using its index shows in the log.
//
//	PAYMENTS_BENCH_ROWS=1000000 go test -run '^$' -bench SearchMillion -benchtime 5x -timeout 30m -v ./internal/payments
func BenchmarkSearchMillion(b *testing.B) {
	n := 20_000
	if v := os.Getenv("PAYMENTS_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("PAYMENTS_BENCH_ROWS=%q: want a number ≥ 1000", v)
		}
	}
	ctx := context.Background()
	db := pgtest.NewDB(b)
	now := time.Now().UTC()
	setup := time.Now()
	benchPayments(b, db, n, now)
	b.Logf("setup: %d payments in %s", n, time.Since(setup).Round(time.Millisecond))

	svc := NewService(db, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	first, err := svc.List(ctx, Filter{})
	if err != nil || len(first.Items) == 0 {
		b.Fatalf("first page: %v", err)
	}
	// Order id parts: one matching one payment, one matching a few, one
	// whose trigram "000" is in about one order id in ten (the trigram
	// index's weak spot: every one of those is rechecked), and one matching
	// them all (the newest-first index wins then).
	one := first.Items[7].ReferenceOrderID[len("ORD-00000000-"):]
	amount := first.Items[3].Amount
	// The sorted lists: a first page, the next, and one from the middle of
	// the amounts (where an index that does not lead with the key would
	// scan half the table to reach the cursor).
	byAmount, err := svc.List(ctx, Filter{Sort: SortAmount})
	if err != nil || byAmount.Next == "" {
		b.Fatalf("by amount: %v", err)
	}
	byStatus, err := svc.List(ctx, Filter{Sort: SortStatus, Dir: "desc"})
	if err != nil || byStatus.Next == "" {
		b.Fatalf("by status: %v", err)
	}
	midAmount := postgres.Order{Key: "amount_minor", Type: postgres.KeyInt}.Cursor(int64(50_000), first.Items[0].ID)
	filters := []struct {
		name string
		f    Filter
	}{
		{"default-page", Filter{}},
		{"second-page", Filter{Cursor: first.Next}},
		{"order-part-one", Filter{OrderIDContains: strings.ToUpper(one)}},
		{"order-part-few", Filter{OrderIDContains: "0004242"}},
		{"order-part-common", Filter{OrderIDContains: "00000"}},
		{"order-part-all", Filter{OrderIDContains: "ord-"}},
		{"order-part-status", Filter{OrderIDContains: "0004242", Status: StatusCaptured}},
		{"buyer-email", Filter{BuyerEmail: "BUYER4242@example.com"}},
		{"buyer-reference", Filter{BuyerReference: "cust-4242"}},
		{"exact-amount", Filter{Currency: amount.Currency, AmountMin: amount.Minor, AmountMax: amount.Minor}},
		{"amount-range", Filter{Currency: "GBP", AmountMin: 10000, AmountMax: 10100}},
		{"currency", Filter{Currency: "JPY"}},
		{"sort-amount", Filter{Sort: SortAmount}},
		{"sort-amount-next", Filter{Sort: SortAmount, Cursor: byAmount.Next}},
		{"sort-amount-middle", Filter{Sort: SortAmount, Dir: "asc", Cursor: midAmount}},
		{"sort-amount-currency", Filter{Sort: SortAmount, Dir: "asc", Currency: "JPY", Cursor: midAmount}},
		{"sort-status", Filter{Sort: SortStatus}},
		{"sort-status-next", Filter{Sort: SortStatus, Dir: "desc", Cursor: byStatus.Next}},
		{"sort-status-filtered", Filter{Sort: SortStatus, Acquirer: "acquirer-3"}},
	}
	explain := NewStore(explainer{DB: db, b: b})
	for _, c := range filters {
		b.Logf("plan of %s:", c.name)
		if _, err := explain.List(ctx, c.f); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("plan of summary:")
	if _, err := explain.counts(ctx, now.Add(-summaryDay), now, now.Add(expiryWarning)); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	for _, c := range filters {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.List(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Summary(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("export", func(b *testing.B) {
		var peak uint64
		var ms runtime.MemStats
		rows := 0
		for b.Loop() {
			err := svc.Export(ctx, Filter{}, func(p Payment) error {
				if rows++; rows%10_000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	})
	b.Run("write-csv", func(b *testing.B) {
		var w countingWriter
		for b.Loop() {
			if err := svc.WriteCSV(ctx, Filter{}, &w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(w)/float64(b.N)/(1<<20), "csv-MiB")
	})
}

// countingWriter counts the bytes written to it and keeps none.
type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

// benchPayments fills payments with n rows created over the 100 days
// before now, newest first by number: order ids ORD-<8 digits>-<6 hex>,
// 200,000 buyers, four currencies, 1 in 10 AUTHORIZED (lapsing 7 days
// after creation), 1 in 5,000 needing review.
func benchPayments(b *testing.B, db *sqlx.DB, n int, now time.Time) {
	b.Helper()
	const q = `
		INSERT INTO payments (id, payment_request_id, reference_order_id, buyer_reference, buyer_email,
			amount_minor, currency, capture_mode, status, captured_minor, auth_expiry_time, card_brand,
			card_last4, card_masked, acquirer_name, needs_review, version, created_at, updated_at)
		SELECT id, 'pay-' || id, 'ORD-' || lpad(i::text, 8, '0') || '-' || substr(md5(i::text), 1, 6),
			'cust-' || i % 200000, 'buyer' || i % 200000 || '@Example.com',
			100 + i::bigint * 7919 % 100000, (ARRAY['USD', 'USD', 'EUR', 'GBP', 'JPY'])[i % 5 + 1], 'MANUAL',
			CASE WHEN i % 10 = 0 THEN 'AUTHORIZED' WHEN i % 10 = 1 THEN 'FAILED' ELSE 'CAPTURED' END,
			CASE WHEN i % 10 > 1 THEN 100 + i::bigint * 7919 % 100000 ELSE 0 END,
			CASE WHEN i % 10 = 0 THEN created + interval '7 days' END,
			'VISA', lpad((i % 10000)::text, 4, '0'), '411111******' || lpad((i % 10000)::text, 4, '0'),
			'acquirer-' || i % 7, i % 5000 = 0, 1, created, created
		FROM generate_series(1, $1::int) AS i,
			LATERAL (SELECT gen_random_uuid() AS id, $2::timestamptz - i * (interval '100 days' / $1::int) AS created) AS g`
	if _, err := db.Exec(q, n, now); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE payments`); err != nil {
		b.Fatal(err)
	}
}

// explainer is a database handle that logs the plan of every query run
// through it (EXPLAIN ANALYZE), then runs it.
type explainer struct {
	*sqlx.DB
	b *testing.B
}

func (e explainer) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	var plan []string
	if err := sqlx.SelectContext(ctx, e.DB, &plan, `EXPLAIN (ANALYZE, BUFFERS) `+query, args...); err != nil {
		e.b.Fatalf("explain: %v", err)
	}
	e.b.Logf("%s", strings.Join(plan, "\n"))
	return e.DB.QueryxContext(ctx, query, args...)
}
