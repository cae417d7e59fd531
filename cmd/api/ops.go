package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
)

// mountOps adds the operator endpoints that are not part of the JSON API:
// /metrics for Prometheus (any key that may read: the figures are business
// data), the asynq queue UI at /ops/queues and Go's profiler at
// /debug/pprof/ (both admin only: a profile shows request data in flight).
// They sit beside Huma on the same mux.
func mountOps(mux *http.ServeMux, svc *services, metrics prometheus.Gatherer) {
	mux.Handle("GET /metrics", withKey(svc, auth.NeedRead, promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})))
	if svc.queueUI != nil {
		mux.Handle("/ops/queues/", adminOnly(svc, svc.queueUI))
		mux.Handle("/ops/queues", http.RedirectHandler("/ops/queues/", http.StatusMovedPermanently))
	}
	mux.Handle("GET /debug/pprof/", adminOnly(svc, http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", adminOnly(svc, http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", adminOnly(svc, http.HandlerFunc(pprof.Trace)))
}

// adminOnly guards a plain handler with an admin API key.
func adminOnly(svc *services, next http.Handler) http.Handler {
	return withKey(svc, auth.NeedAdmin, next)
}

// withKey guards a plain handler with an API key whose role has need,
// taken from `Authorization: Bearer …` (Prometheus sends its scrape key
// so) or, so a browser can open the queue UI, from the password of HTTP
// Basic authentication. The key's id goes into the access log.
func withKey(svc *services, need auth.Need, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			raw = strings.TrimPrefix(h, "Bearer ")
		} else if _, pw, ok := r.BasicAuth(); ok {
			raw = pw
		}
		actor, err := svc.keys.Authenticate(r.Context(), raw)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated) || raw == "":
			w.Header().Set("WWW-Authenticate", `Basic realm="payops (password: an API key with permission `+string(need)+`)"`)
			httpx.WriteProblem(w, http.StatusUnauthorized, "an API key with permission "+string(need)+" is required")
			return
		case err != nil:
			svc.log.ErrorContext(r.Context(), "authenticate ops request", "err", err, "path", r.URL.Path)
			httpx.WriteProblem(w, http.StatusInternalServerError, "") // the one bare 500 (errors.go)
			return
		}
		httpx.Annotate(r.Context(), slog.String("api_key_id", actor.KeyID))
		if !auth.Allows(actor.Role, need) {
			httpx.WriteProblem(w, http.StatusForbidden, "role "+string(actor.Role)+" lacks permission "+string(need))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), actor)))
	})
}
