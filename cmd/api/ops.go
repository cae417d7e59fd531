package main

import (
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
)

// mountOps adds the operator endpoints that are not part of the JSON API:
// /metrics for Prometheus, the asynq queue UI at /ops/queues and Go's
// profiler at /debug/pprof/ (both admin only: a profile shows request data
// in flight). They sit beside Huma on the same mux.
func mountOps(mux *http.ServeMux, svc *services) {
	mux.Handle("GET /metrics", promhttp.Handler())
	if svc.queueUI != nil {
		mux.Handle("/ops/queues/", adminOnly(svc, svc.queueUI))
		mux.Handle("/ops/queues", http.RedirectHandler("/ops/queues/", http.StatusMovedPermanently))
	}
	mux.Handle("GET /debug/pprof/", adminOnly(svc, http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", adminOnly(svc, http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", adminOnly(svc, http.HandlerFunc(pprof.Trace)))
}

// adminOnly guards a plain handler with an admin API key, taken from
// `Authorization: Bearer …` or, so a browser can open the queue UI, from
// the password of HTTP Basic authentication.
func adminOnly(svc *services, next http.Handler) http.Handler {
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
			w.Header().Set("WWW-Authenticate", `Basic realm="payops admin (password: an admin API key)"`)
			httpx.WriteProblem(w, http.StatusUnauthorized, "an admin API key is required")
			return
		case err != nil:
			svc.log.ErrorContext(r.Context(), "authenticate ops request", "err", err, "path", r.URL.Path)
			httpx.WriteProblem(w, http.StatusInternalServerError, "internal error")
			return
		case !auth.Allows(actor.Role, auth.NeedAdmin):
			httpx.WriteProblem(w, http.StatusForbidden, "this page needs the admin role")
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), actor)))
	})
}
