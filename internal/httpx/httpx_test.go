package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/payops/payops/internal/timing"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFromContext(r.Context())
		if RemoteAddrFromContext(r.Context()) != r.RemoteAddr {
			t.Errorf("remote addr %q, want %q", RemoteAddrFromContext(r.Context()), r.RemoteAddr)
		}
	}))
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123_x.y:z", true},
		{"", false},
		{"has space", false},
		{"line\nbreak", false},
		{strings.Repeat("a", maxRequestIDLen+1), false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if tc.in != "" {
			r.Header[HeaderRequestID] = []string{tc.in}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		out := w.Header().Get(HeaderRequestID)
		if out == "" || out != seen {
			t.Fatalf("in %q: header %q, context %q", tc.in, out, seen)
		}
		if (out == tc.in) != tc.keep {
			t.Errorf("in %q: out %q, keep=%v", tc.in, out, tc.keep)
		}
	}
}

func TestAccessLogRecoverChain(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("secret panic value") })
	h := RequestID(AccessLog(log, Recover(log, mux)))

	r := httptest.NewRequest(http.MethodPost, "/ok?token=abc", strings.NewReader("card=4111111111111111"))
	r.Header.Set("Authorization", "Bearer pk_secret")
	r.Header.Set(HeaderRequestID, "req-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.String() != "hello" {
		t.Fatalf("ok: %d %q", w.Code, w.Body)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"method": "POST", "path": "/ok", "status": 200.0, "bytes": 5.0, "request_id": "req-1"} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration_ms"]; !ok {
		t.Error("no duration_ms in access log")
	}
	for _, secret := range []string{"pk_secret", "4111111111111111", "token=abc"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("access log contains %q: %s", secret, logs.String())
		}
	}

	logs.Reset()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["status"] != 500.0 || p["title"] != "Internal Server Error" || p["detail"] != nil {
		t.Errorf("problem %v", p)
	}
	if strings.Contains(w.Body.String(), "secret panic value") {
		t.Error("panic value reached the client")
	}
	if !strings.Contains(logs.String(), "secret panic value") || !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("panic not logged with its value and a 500 access line: %s", logs.String())
	}
}

func TestRecoverAfterHeadersAborts(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	h := Recover(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestTextQuery(t *testing.T) {
	t.Parallel()
	reached := 0
	h := TextQuery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", http.StatusOK},
		{"status=AUTHORIZED&acquirer=ADYEN", http.StatusOK},
		{"reference_order_id=%E6%B3%A8%E6%96%87", http.StatusOK}, // 注文
		{"reference_order_id=%00", http.StatusBadRequest},
		{"acquirer=%FF%FE", http.StatusBadRequest},
		{"%C3=x", http.StatusBadRequest},
		{"actor=%zz", http.StatusBadRequest},
		{"a=1;b=2", http.StatusBadRequest},
	} {
		before := reached
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/payments?"+tc.query, nil))
		if rec.Code != tc.want {
			t.Errorf("%q: status %d, want %d", tc.query, rec.Code, tc.want)
		}
		if passed := reached > before; passed != (tc.want == http.StatusOK) {
			t.Errorf("%q: handler reached = %v", tc.query, passed)
		}
		if tc.want != http.StatusOK && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%q: content type %q, want a problem document", tc.query, rec.Header().Get("Content-Type"))
		}
	}
	// A parameter name is named in the answer only when it looks like ours.
	for query, echoed := range map[string]bool{"acquirer=%FF": true, "4111111111111111=%FF": false} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/payments?"+query, nil))
		name, _, _ := strings.Cut(query, "=")
		if got := strings.Contains(rec.Body.String(), name); got != echoed {
			t.Errorf("%q: name echoed = %v, want %v: %s", query, got, echoed, rec.Body.String())
		}
	}
}

// TestServerTiming: steps a handler times come back as Server-Timing, through
// the same chain the API uses (Recover inside AccessLog); an answer with no
// steps carries none.
func TestServerTiming(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	h := AccessLog(log, Recover(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/timed" {
			timing.Track(r.Context(), "store")()
		}
		w.WriteHeader(http.StatusCreated)
	})))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/timed", nil))
	if got := rr.Header().Get("Server-Timing"); rr.Code != http.StatusCreated || !strings.HasPrefix(got, "store;dur=") {
		t.Fatalf("%d Server-Timing %q", rr.Code, got)
	}
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/plain", nil))
	if got, ok := rr.Header()["Server-Timing"]; ok {
		t.Fatalf("untimed answer carries Server-Timing %q", got)
	}
}
