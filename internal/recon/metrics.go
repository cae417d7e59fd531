package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
)

// Health is what monitoring needs of reconciliation: when it last
// succeeded, for which period, and what is still open.
type Health struct {
	LastSuccessAt     *time.Time // when the latest successful run finished; nil before the first
	LastPeriod        *time.Time // the latest period (settlement day, 00:00 UTC) a run reconciled successfully
	OpenDiscrepancies map[Kind]int64
}

// Health reads the figures of Health. Open discrepancies are counted in
// the latest successful run of each period: a run stores its period's
// whole set, so older runs of the period are superseded by it.
func (s *Store) Health(ctx context.Context) (Health, error) {
	const last = `
		SELECT max(finished_at) AS finished_at, max(period)::timestamp AT TIME ZONE 'UTC' AS period
		FROM recon_runs WHERE status = 'SUCCEEDED'`
	var r struct {
		FinishedAt *time.Time `db:"finished_at"`
		Period     *time.Time `db:"period"`
	}
	if err := sqlx.GetContext(ctx, s.db, &r, last); err != nil {
		return Health{}, fmt.Errorf("recon health: last success: %w", err)
	}
	const open = `
		SELECT d.kind, count(*) AS n
		FROM discrepancies d
		JOIN (SELECT DISTINCT ON (period) id FROM recon_runs WHERE status = 'SUCCEEDED' ORDER BY period, id DESC) latest
		  ON latest.id = d.run_id
		WHERE d.status = 'OPEN'
		GROUP BY d.kind`
	var rows []struct {
		Kind string `db:"kind"`
		N    int64  `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, open); err != nil {
		return Health{}, fmt.Errorf("recon health: open discrepancies: %w", err)
	}
	h := Health{LastSuccessAt: r.FinishedAt, LastPeriod: r.Period, OpenDiscrepancies: map[Kind]int64{}}
	for _, k := range Kinds {
		h.OpenDiscrepancies[k] = 0
	}
	for _, row := range rows {
		h.OpenDiscrepancies[Kind(row.Kind)] = row.N
	}
	return h, nil
}

// Collector reports Health to Prometheus, read from the database at
// scrape time.
type Collector struct {
	store                *Store
	lastSuccess, lastDay *prometheus.Desc
	open                 *prometheus.Desc
}

// NewCollector returns a collector over db; register it once per registry.
func NewCollector(db sqlx.ExtContext) *Collector {
	return &Collector{store: NewStore(db),
		lastSuccess: prometheus.NewDesc("payops_recon_last_success_timestamp_seconds",
			"When the latest successful reconciliation run finished (Unix time).", nil, nil),
		lastDay: prometheus.NewDesc("payops_recon_last_success_period_timestamp_seconds",
			"The latest period (settlement day, 00:00 UTC, Unix time) a run reconciled successfully.", nil, nil),
		open: prometheus.NewDesc("payops_recon_open_discrepancies",
			"Open discrepancies by kind, in the latest successful run of each period.", []string{"kind"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastSuccess
	ch <- c.lastDay
	ch <- c.open
}

// Collect implements prometheus.Collector. A failed query reports nothing,
// so a dashboard shows a gap rather than a false calm; before the first
// successful run there is no timestamp to report.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := c.store.Health(ctx)
	if err != nil {
		return
	}
	if h.LastSuccessAt != nil {
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(h.LastSuccessAt.Unix()))
	}
	if h.LastPeriod != nil {
		ch <- prometheus.MustNewConstMetric(c.lastDay, prometheus.GaugeValue, float64(h.LastPeriod.Unix()))
	}
	for k, n := range h.OpenDiscrepancies {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n), string(k))
	}
}
