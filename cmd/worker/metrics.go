package main

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reports asynq queue depth by queue and task state at scrape
// time, read through asynq's own Inspector.
type queueCollector struct {
	ins  *asynq.Inspector
	desc *prometheus.Desc
}

func newQueueCollector(ins *asynq.Inspector) *queueCollector {
	return &queueCollector{ins: ins, desc: prometheus.NewDesc("payops_queue_tasks",
		"Tasks in each asynq queue by state.", []string{"queue", "state"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector; an unreachable Redis yields no
// samples rather than zeros.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.ins.Queues()
	if err != nil {
		return
	}
	for _, q := range queues {
		info, err := c.ins.GetQueueInfo(q)
		if err != nil {
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active,
			"scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), q, state)
		}
	}
}
