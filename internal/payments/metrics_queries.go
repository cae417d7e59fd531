package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
)

// CountFailedWebhooks returns how many stored notifications are in state
// FAILED: processing gave up on them and they wait for a replay.
func (s *Store) CountFailedWebhooks(ctx context.Context) (int64, error) {
	const q = `SELECT count(*) FROM webhook_events WHERE state = 'FAILED'`
	var n int64
	if err := sqlx.GetContext(ctx, s.db, &n, q); err != nil {
		return 0, fmt.Errorf("count failed webhooks: %w", err)
	}
	return n, nil
}

// WebhookCollector reports the failed-notification gauge, read from the
// database at scrape time.
type WebhookCollector struct {
	store  *Store
	failed *prometheus.Desc
}

// NewWebhookCollector returns a collector over db; register it once per
// registry.
func NewWebhookCollector(db sqlx.ExtContext) *WebhookCollector {
	return &WebhookCollector{store: NewStore(db),
		failed: prometheus.NewDesc("payops_webhook_events_failed",
			"Stored APO notifications whose processing failed (state FAILED): each needs a look and a replay.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *WebhookCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.failed }

// Collect implements prometheus.Collector; a failed query reports nothing.
func (c *WebhookCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := c.store.CountFailedWebhooks(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(n))
	}
}
