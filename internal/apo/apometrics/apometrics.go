// Package apometrics exports an APO client's Verification to Prometheus:
// how many replies could not be verified, by cause, and how many in a row.
// It is apart from package apo, which imports nothing outside the
// standard library.
package apometrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payops/payops/internal/apo"
)

// Source is what the collector reads; *apo.Client satisfies it.
type Source interface {
	Verification() apo.Verification
}

// Collector reports, at scrape time:
//
//	payops_apo_unverifiable_replies_total{cause}  counter, every cause always present
//	payops_apo_unverifiable_consecutive           gauge, 0 after a verified reply
//
// Alert on the gauge reaching apo.DegradedAfter: the key pair or the client
// id is wrong, and /readyz names which is likely.
type Collector struct {
	src         Source
	total       *prometheus.Desc
	consecutive *prometheus.Desc
}

// NewCollector returns a collector over src; register it once per process.
func NewCollector(src Source) *Collector {
	return &Collector{src: src,
		total: prometheus.NewDesc("payops_apo_unverifiable_replies_total",
			"APO replies that could not be verified (missing or bad reply signature) or that rejected our request "+
				"at the gateway (SIGNATURE_INVALID, CLIENT_INVALID), by cause.", []string{"cause"}, nil),
		consecutive: prometheus.NewDesc("payops_apo_unverifiable_consecutive",
			"APO replies in a row that could not be verified; a verified reply sets it to 0.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.total; ch <- c.consecutive }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	v := c.src.Verification()
	for _, cause := range apo.Causes() {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(v.Total[cause]), cause)
	}
	ch <- prometheus.MustNewConstMetric(c.consecutive, prometheus.GaugeValue, float64(v.Consecutive))
}
