package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/payops/payops/internal/apo"
)

// pingTimeout bounds one dependency check.
const pingTimeout = 3 * time.Second

// dependencyUp is 1 while a dependency answers and 0 during an outage.
var dependencyUp = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "payops_worker_dependency_up",
	Help: "Whether the worker's last check of a dependency (postgres, redis) succeeded.",
}, []string{"dependency"})

// probe watches one dependency. It logs an outage once, "<name>
// unreachable", when the dependency stops answering, and "<name> recovered"
// when it answers again, instead of one line per failed check. The
// connection pools reconnect by themselves; recovered, when set, is told
// when the dependency is back, for work the outage left undone.
type probe struct {
	name      string
	ping      func(context.Context) error
	log       *slog.Logger
	now       func() time.Time
	recovered func(ctx context.Context, at time.Time)

	up        atomic.Bool // read by /healthz
	downSince time.Time   // only touched by the goroutine running check
}

// newProbe returns a probe that starts as up: the dependency answered when
// the worker started.
func newProbe(name string, ping func(context.Context) error, log *slog.Logger) *probe {
	p := &probe{name: name, ping: ping, log: log, now: time.Now}
	p.up.Store(true)
	dependencyUp.WithLabelValues(name).Set(1)
	return p
}

// watch checks every interval until ctx is done.
func (p *probe) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.check(ctx)
		}
	}
}

// check pings once and logs a change of state.
func (p *probe) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err := p.ping(pctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: a cancelled ping says nothing about the dependency
	}
	switch {
	case err != nil && p.downSince.IsZero():
		p.downSince = p.now()
		p.up.Store(false)
		dependencyUp.WithLabelValues(p.name).Set(0)
		p.log.Error(p.name+" unreachable", "dependency", p.name, "err", err)
	case err == nil && !p.downSince.IsZero():
		at := p.now()
		p.log.Info(p.name+" recovered", "dependency", p.name,
			"down_ms", at.Sub(p.downSince).Milliseconds())
		p.downSince = time.Time{}
		p.up.Store(true)
		dependencyUp.WithLabelValues(p.name).Set(1)
		if p.recovered != nil {
			p.recovered(ctx, at)
		}
	}
}

// apoVerifier is the part of the APO client /readyz reads; *apo.Client
// satisfies it.
type apoVerifier interface{ Verification() apo.Verification }

// opsHandler serves /metrics (the default Prometheus registry plus the
// process's own collectors in extra), /healthz and /readyz.
// /healthz is a liveness probe: it answers 200 while the process runs and
// names each dependency's state in the body. A dependency outage is no
// reason to restart the worker; it recovers by itself when the dependency
// is back.
// /readyz says whether the worker can do its work: 503 with status
// "unavailable" while a dependency is down; 200 with status "degraded"
// when APO's replies cannot be verified (a wrong key pair or client id:
// every poll and capture stays unknown until it is fixed), its "apo" check
// naming the likely cause; else 200 "ok". Until started is set (the pool
// warmed, the task server running) it answers 503 "starting", so that
// nothing routes work to a worker that would take it cold. apoV may be nil
// (no APO check).
func opsHandler(started *atomic.Bool, probes []*probe, apoV apoVerifier, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	for _, c := range extra {
		reg.MustRegister(c)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, reg}, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		body := map[string]string{"status": "ok"}
		for _, p := range probes {
			body[p.name] = "up"
			if !p.up.Load() {
				body[p.name] = "down"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		status, code := "ok", http.StatusOK
		checks := map[string]string{}
		if !started.Load() {
			status, code = "starting", http.StatusServiceUnavailable
		}
		for _, p := range probes {
			checks[p.name] = "ok"
			if !p.up.Load() {
				checks[p.name] = "unreachable"
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		if apoV != nil {
			checks["apo"] = "ok"
			if problem := apoV.Verification().Problem(); problem != "" {
				checks["apo"] = "degraded: " + problem
				if status == "ok" {
					status = "degraded"
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": checks})
	})
	return mux
}
