package main

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payops/payops/internal/httpx"
)

// newHTTPDuration is the request histogram of one handler: its _count gives
// the rate, by route pattern (never the raw path, which holds ids), method
// and status.
func newHTTPDuration() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "payops_http_request_duration_seconds",
		Help:    "HTTP requests to the api by route pattern, method and status, and how long they took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms … 8 s
	}, []string{"route", "method", "status"})
}

// unmatchedRoute labels requests no route took (404, 405, refused before
// routing): their paths are whatever a caller typed.
const unmatchedRoute = "unmatched"

// instrument records each request in hist and names its route in the
// access log. It must wrap the ServeMux with the same *http.Request: the
// mux writes the matched pattern into it (r.Pattern). A handler that panics
// is counted as a 500, the answer httpx.Recover gives.
func instrument(hist *prometheus.HistogramVec, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		returned := false
		defer func() {
			status := rec.status
			switch {
			case !returned:
				status = http.StatusInternalServerError
			case status == 0:
				status = http.StatusOK
			}
			route := unmatchedRoute
			if r.Pattern != "" {
				// "GET /v1/payments/{id}" → "/v1/payments/{id}": the method is a label of its own.
				_, route, _ = strings.Cut(r.Pattern, " ")
				if route == "" {
					route = r.Pattern
				}
			}
			httpx.Annotate(r.Context(), slog.String("route", route))
			hist.WithLabelValues(route, r.Method, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
		returned = true
	})
}

// statusRecorder remembers the status of a response. Unwrap lets
// http.ResponseController reach the real writer (flush, deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// secureHeaders tells browsers not to guess content types on any answer,
// and not to keep /v1 answers (payments, disputes, keys' metadata) in any
// cache: they are payment data, fetched with a bearer key.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
