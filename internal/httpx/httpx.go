// Package httpx holds the plain net/http pieces every payops HTTP server
// shares: the middleware it wraps around its mux (request ids, access logs,
// panic recovery; outside any router so that every path, /healthz
// included, is covered), and the generic parts of handlers that no domain
// owns: bounded multipart upload spooling (upload.go) and streamed file
// downloads (download.go). It knows no router and no domain.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/payops/payops/internal/timing"
)

// HeaderRequestID is the header that carries a request's id in and out.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an id a client may choose; longer ones are replaced.
const maxRequestIDLen = 128

type ctxKey int

const (
	requestIDKey ctxKey = iota
	remoteAddrKey
)

// RequestIDFromContext returns the id RequestID gave the request, or "".
func RequestIDFromContext(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// RemoteAddrFromContext returns the peer address (host:port) of the request,
// as RequestID recorded it, or "". It is the TCP peer: payops trusts no
// forwarding headers.
func RemoteAddrFromContext(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey).(string)
	return s
}

// RequestID gives every request an id: the client's X-Request-Id when it
// is a sane token (so a caller can correlate its own logs), otherwise a new
// UUID. The id goes into the context, the response header and, through
// AccessLog, the log line. It also records the peer address in the context
// for audit rows written deep inside handlers.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(HeaderRequestID, id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = context.WithValue(ctx, remoteAddrKey, r.RemoteAddr)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// validRequestID accepts short ids made of characters that cannot forge log
// lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// AccessLog writes one line per request: method, path, status, bytes,
// duration and request id, plus what handlers added with Annotate (the API
// key id, the route). It never logs the query string, headers (the
// Authorization header carries API keys) or bodies (which may carry card
// data).
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, notes := withAnnotations(r.Context())
		ctx, steps := timing.With(ctx)
		rec := &recorder{ResponseWriter: w, steps: steps}
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", RequestIDFromContext(r.Context())),
			slog.String("remote_addr", r.RemoteAddr),
			slog.GroupAttrs("", notes.list()...),
		)
	})
}

// TextQuery refuses, with a 400 problem, a query string that is malformed
// or carries a value that is not text: invalid UTF-8 or a NUL byte would
// reach PostgreSQL, which rejects both, and the client would see a 500 for
// its own bad input. The offending value is not echoed back.
func TextQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			WriteProblem(w, http.StatusBadRequest, "malformed query string")
			return
		}
		for name, values := range q {
			if !isText(name) {
				WriteProblem(w, http.StatusBadRequest, "a query parameter name is not UTF-8 text")
				return
			}
			for _, v := range values {
				if !isText(v) {
					// Only a name shaped like ours is echoed: anything else
					// the client sent stays out of the answer.
					what := "a query parameter"
					if len(name) <= 64 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz_") == "" {
						what = "query parameter " + strconv.Quote(name)
					}
					WriteProblem(w, http.StatusBadRequest, what+" is not UTF-8 text")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Recover turns a panicking handler into a logged error with its stack and
// a bare 500 problem document, so one bad request cannot take the process
// down and no panic value reaches the client. http.ErrAbortHandler is
// re-raised: it is net/http's own way to abort a response.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.ErrorContext(r.Context(), "handler panic",
				slog.Any("panic", p),
				slog.String("stack", string(debug.Stack())),
				slog.String("request_id", RequestIDFromContext(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
			)
			if rec.status != 0 {
				// Headers are gone already; all we can do is cut the response.
				panic(http.ErrAbortHandler)
			}
			WriteProblem(w, http.StatusInternalServerError, "")
		}()
		next.ServeHTTP(rec, r)
	})
}

// WriteProblem writes a minimal RFC 9457 problem document with the standard
// title of status and, when not empty, detail. It is for code outside Huma
// (which writes its own problems).
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(problem{Title: http.StatusText(status), Status: status, Detail: detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// problem is the subset of RFC 9457 that WriteProblem writes.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// recorder remembers the status and size of a response. Unwrap lets
// http.ResponseController reach the real writer (flush, deadlines).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	steps  *timing.Steps // sent as Server-Timing with the headers
}

// started notes the status and, before the headers go out, adds the steps
// timed so far as Server-Timing.
func (r *recorder) started(code int) {
	if r.status != 0 {
		return
	}
	r.status = code
	if h := r.steps.Header(); h != "" {
		r.ResponseWriter.Header().Set("Server-Timing", h)
	}
}

func (r *recorder) WriteHeader(code int) {
	r.started(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.started(http.StatusOK)
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	r.started(http.StatusOK)
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
