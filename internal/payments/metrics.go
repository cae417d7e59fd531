package payments

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of the payments package, on the default registry that /metrics
// serves in the api and the worker.
var (
	apoCalls = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "payops_apo_calls_total",
		Help: "Calls to APO by API and outcome (S, F, U, transport_error).",
	}, []string{"api", "outcome"})
	apoCallSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "payops_apo_call_seconds",
		Help:    "Latency of calls to APO by API.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"api"})
	inquiryBudget = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "payops_inquiry_budget_total",
		Help: "Inquiry polls by what the shared budget said: allowed, or deferred to later.",
	}, []string{"result"})
)

// StatusCollector reports payments by status and the needs_review count,
// read from the database at scrape time.
type StatusCollector struct {
	db      *sqlx.DB
	byState *prometheus.Desc
	review  *prometheus.Desc
}

// NewStatusCollector returns a collector over db; register it once.
func NewStatusCollector(db *sqlx.DB) *StatusCollector {
	return &StatusCollector{db: db,
		byState: prometheus.NewDesc("payops_payments", "Payments by status.", []string{"status"}, nil),
		review:  prometheus.NewDesc("payops_payments_needs_review", "Payments flagged needs_review.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.byState; ch <- c.review }

// Collect implements prometheus.Collector. A failed query reports nothing
// rather than zeros, so a dashboard shows a gap, not a false calm.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rows []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, c.db, &rows, `SELECT status, count(*) AS n FROM payments GROUP BY status`); err != nil {
		return
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(c.byState, prometheus.GaugeValue, float64(r.N), r.Status)
	}
	var n int64
	if err := sqlx.GetContext(ctx, c.db, &n, `SELECT count(*) FROM payments WHERE needs_review`); err == nil {
		ch <- prometheus.MustNewConstMetric(c.review, prometheus.GaugeValue, float64(n))
	}
}
