package inbox

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of the intake, on the default registry that /metrics serves.
var (
	webhookIntake = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "payops_webhook_intake_total",
		Help: "APO notifications received, by verdict: stored, duplicate (a re-delivery), invalid (bad signature).",
	}, []string{"verdict"})
	webhookIntakeSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "payops_webhook_intake_seconds",
		Help:    "Time to verify and durably store a notification, before the acknowledgement.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
)

// Collector reports the failed-notification gauge, read from the database
// at scrape time.
type Collector struct {
	store  *Store
	failed *prometheus.Desc
}

// NewCollector returns a collector over db; register it once per registry.
func NewCollector(db sqlx.ExtContext) *Collector {
	return &Collector{store: NewStore(db),
		failed: prometheus.NewDesc("payops_webhook_events_failed",
			"Stored APO notifications whose processing failed (state FAILED): each needs a look and a replay.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.failed }

// Collect implements prometheus.Collector; a failed query reports nothing.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := c.store.CountFailed(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(n))
	}
}
