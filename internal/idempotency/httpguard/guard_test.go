package httpguard_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// harness is a Huma API with one guarded operation whose behaviour each
// test scripts through handle.
type harness struct {
	api    humatest.TestAPI
	db     *sqlx.DB
	store  *idempotency.Store
	calls  atomic.Int32
	handle func(n int32, in *echoInput) (*echoOutput, error)
}

type echoInput struct {
	ID   string `path:"id"`
	Body *struct {
		Note string `json:"note,omitempty"`
	}
}

type echoOutput struct {
	Body struct {
		Call int32  `json:"call"`
		ID   string `json:"id"`
		Note string `json:"note"`
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	_, api := humatest.New(t)
	db := pgtest.NewDB(t)
	h := &harness{api: api, db: db, store: idempotency.NewStore(db)}
	h.handle = func(n int32, in *echoInput) (*echoOutput, error) {
		out := &echoOutput{}
		out.Body.Call, out.Body.ID = n, in.ID
		if in.Body != nil {
			out.Body.Note = in.Body.Note
		}
		return out, nil
	}
	// The scope comes from a header here; cmd/api uses the API key.
	scope := func(ctx huma.Context) (string, bool) {
		c := ctx.Header("X-Caller")
		return c + " " + ctx.Operation().OperationID, c != ""
	}
	g := httpguard.New(api, h.store, slog.New(slog.DiscardHandler), scope)
	huma.Register(api, g.Wrap(huma.Operation{
		OperationID: "echo", Method: http.MethodPost, Path: "/things/{id}", DefaultStatus: http.StatusCreated,
	}), func(ctx context.Context, in *echoInput) (*echoOutput, error) {
		return h.handle(h.calls.Add(1), in)
	})
	huma.Register(api, g.Wrap(huma.Operation{
		OperationID: "upload", Method: http.MethodPost, Path: "/uploads", MaxBodyBytes: 1 << 20,
	}), func(ctx context.Context, in *struct{ RawBody multipart.Form }) (*echoOutput, error) {
		out := &echoOutput{}
		out.Body.Call = h.calls.Add(1)
		if v := in.RawBody.Value["note"]; len(v) == 1 {
			out.Body.Note = v[0]
		}
		if f := in.RawBody.File["doc"]; len(f) == 1 {
			out.Body.ID = f[0].Filename + ":" + strconv.FormatInt(f[0].Size, 10)
		}
		return out, nil
	})
	return h
}

func (h *harness) post(path, caller, key, body string) *http.Response {
	args := []any{"X-Caller: " + caller, "Content-Type: application/json"}
	if key != "" {
		args = append(args, httpguard.Header+": "+key)
	}
	if body != "" {
		args = append(args, strings.NewReader(body))
	}
	return h.api.Post(path, args...).Result()
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplayReturnsTheFirstAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.post("/things/a", "alice", "k1", `{"note":"x"}`)
	firstBody := readAll(t, first)
	if first.StatusCode != http.StatusCreated || first.Header.Get(httpguard.ReplayedHeader) != "" {
		t.Fatalf("first: %d %v %s", first.StatusCode, first.Header, firstBody)
	}
	for range 2 {
		again := h.post("/things/a", "alice", "k1", `{"note":"x"}`)
		if body := readAll(t, again); again.StatusCode != http.StatusCreated || body != firstBody {
			t.Fatalf("replay: got %d %q, want 201 %q", again.StatusCode, body, firstBody)
		}
		if again.Header.Get(httpguard.ReplayedHeader) != "true" || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
			t.Fatalf("replay headers %v", again.Header)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}

	// Without a key every request runs; another caller's identical key is
	// its own.
	h.post("/things/a", "alice", "", `{"note":"x"}`)
	h.post("/things/a", "alice", "", `{"note":"x"}`)
	if r := h.post("/things/a", "bob", "k1", `{"note":"x"}`); r.StatusCode != http.StatusCreated || r.Header.Get(httpguard.ReplayedHeader) != "" {
		t.Fatalf("other caller's key: %d %v", r.StatusCode, r.Header)
	}
	if n := h.calls.Load(); n != 4 {
		t.Fatalf("handler ran %d times, want 4", n)
	}
}

func TestKeyReusedForAnotherRequestIsAConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.post("/things/a", "alice", "k1", `{"note":"x"}`); r.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d", r.StatusCode)
	}
	for _, c := range []struct{ path, body string }{
		{"/things/a", `{"note":"y"}`}, // other body
		{"/things/b", `{"note":"x"}`}, // other target
		{"/things/a?x=1", `{"note":"x"}`},
	} {
		r := h.post(c.path, "alice", "k1", c.body)
		if body := readAll(t, r); r.StatusCode != http.StatusConflict || !strings.Contains(body, "different request") {
			t.Errorf("%s %s: got %d %s, want 409", c.path, c.body, r.StatusCode, body)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestBadKeyIsRefusedBeforeTheHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.post("/things/a", "alice", strings.Repeat("k", httpguard.MaxKeyLength+1), `{}`)
	if body := readAll(t, r); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "header.Idempotency-Key") {
		t.Fatalf("long key: %d %s", r.StatusCode, body)
	}
	for _, key := range []string{"caf\xe9-1", "key\x7f", "k\xff\xfe"} {
		r := h.post("/things/a", "alice", key, `{}`)
		if body := readAll(t, r); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "visible ASCII") {
			t.Fatalf("key %q: %d %s", key, r.StatusCode, body)
		}
	}
	if r := h.post("/things/a", "alice", strings.Repeat("k", httpguard.MaxKeyLength), `{}`); r.StatusCode != http.StatusCreated {
		t.Fatalf("key of the maximum length: %d", r.StatusCode)
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestRefusalsAreReplayedButServerErrorsReleaseTheKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var failed atomic.Bool
	h.handle = func(n int32, in *echoInput) (*echoOutput, error) {
		switch in.ID {
		case "conflict":
			return nil, huma.Error409Conflict("rule " + strconv.Itoa(int(n)))
		case "flaky":
			if !failed.Swap(true) {
				return nil, huma.Error503ServiceUnavailable("try again")
			}
		}
		return &echoOutput{}, nil
	}
	a := h.post("/things/conflict", "alice", "k1", `{}`)
	aBody := readAll(t, a)
	b := h.post("/things/conflict", "alice", "k1", `{}`)
	if bBody := readAll(t, b); a.StatusCode != http.StatusConflict || b.StatusCode != http.StatusConflict || aBody != bBody {
		t.Fatalf("4xx replay: %d %s then %d %s", a.StatusCode, aBody, b.StatusCode, bBody)
	}
	if r := h.post("/things/flaky", "alice", "k2", `{}`); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("flaky first: %d", r.StatusCode)
	}
	if _, err := h.store.Get(context.Background(), "alice echo", "k2"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("key kept after a 5xx: %v", err)
	}
	if r := h.post("/things/flaky", "alice", "k2", `{}`); r.StatusCode != http.StatusCreated || r.Header.Get(httpguard.ReplayedHeader) != "" {
		t.Fatalf("retry after 5xx: %d %v", r.StatusCode, r.Header)
	}
	if n := h.calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
}

func TestKeyInFlightIsAConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	release := make(chan struct{})
	h.handle = func(n int32, in *echoInput) (*echoOutput, error) {
		<-release
		return &echoOutput{}, nil
	}
	done := make(chan int, 1)
	go func() { done <- h.post("/things/a", "alice", "k1", `{}`).StatusCode }()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec, err := h.store.Get(context.Background(), "alice echo", "k1")
		if err == nil && rec.InProgress() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first request never claimed the key: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := h.post("/things/a", "alice", "k1", `{}`)
	if body := readAll(t, r); r.StatusCode != http.StatusConflict || !strings.Contains(body, "in progress") {
		t.Fatalf("second while first runs: %d %s", r.StatusCode, body)
	}
	close(release)
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("first: %d", code)
	}
	if r := h.post("/things/a", "alice", "k1", `{}`); r.StatusCode != http.StatusCreated || r.Header.Get(httpguard.ReplayedHeader) != "true" {
		t.Fatalf("after the first finished: %d %v", r.StatusCode, r.Header)
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestPanicReleasesTheKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.handle = func(n int32, in *echoInput) (*echoOutput, error) {
		if n == 1 {
			panic("boom")
		}
		return &echoOutput{}, nil
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic did not reach the caller")
			}
		}()
		h.post("/things/a", "alice", "k1", `{}`)
	}()
	if r := h.post("/things/a", "alice", "k1", `{}`); r.StatusCode != http.StatusCreated || r.Header.Get(httpguard.ReplayedHeader) != "" {
		t.Fatalf("retry after panic: %d %v", r.StatusCode, r.Header)
	}
}

func TestOversizedBodyIsLeftToHuma(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	big := `{"note":"` + strings.Repeat("x", 1<<20) + `"}`
	if r := h.post("/things/a", "alice", "k1", big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", r.StatusCode)
	}
	if _, err := h.store.Get(context.Background(), "alice echo", "k1"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("oversized request kept a key: %v", err)
	}
	if n := h.calls.Load(); n != 0 {
		t.Fatalf("handler ran %d times, want 0", n)
	}
}

// TestMultipartBodies: Huma reads multipart forms through the context, not
// the body reader; the guard hands it the buffered form.
func TestMultipartBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("note", "evidence")
	fw, _ := w.CreateFormFile("doc", "proof.pdf")
	_, _ = fw.Write(bytes.Repeat([]byte("%PDF"), 5000))
	_ = w.Close()
	var first string
	for i := range 2 {
		r := h.api.Post("/uploads", "X-Caller: alice", httpguard.Header+": up-1",
			"Content-Type: "+w.FormDataContentType(), bytes.NewReader(body.Bytes())).Result()
		got := readAll(t, r)
		if r.StatusCode != http.StatusOK || !strings.Contains(got, `"note":"evidence"`) || !strings.Contains(got, "proof.pdf:20000") {
			t.Fatalf("upload %d: %d %s", i, r.StatusCode, got)
		}
		if i == 0 {
			first = got
		} else if got != first || r.Header.Get(httpguard.ReplayedHeader) != "true" {
			t.Fatalf("replayed upload: %s, want %s", got, first)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}
