// Package httpguard is the Huma middleware that honours Idempotency-Key on
// the admin API, over the key store of package idempotency. It is apart from
// the store so that the worker, which purges keys, does not link Huma.
package httpguard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/idempotency"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader is set on a response that replays a stored answer, so a
// client (or whoever reads its logs) can tell a replay from a first run.
const ReplayedHeader = "Idempotent-Replayed"

// MaxKeyLength bounds a key; longer ones are refused with 422.
const MaxKeyLength = 255

// MetadataKey marks, in huma.Operation.Metadata, an operation wrapped by a
// Guard; tests use it to check that every POST is covered.
const MetadataKey = "payops.idempotent"

// ScopeFunc names the scope of a request's key, e.g. "<api key id>
// <operation id>"; ok=false leaves the request unguarded (it is then run as
// if it had no key).
type ScopeFunc func(ctx huma.Context) (scope string, ok bool)

// Guard is a Huma middleware that honours Idempotency-Key on the
// operations it wraps. Its rules:
//   - no key: the request runs as usual;
//   - a new key: the request runs and its status and body are kept, unless
//     it failed with a 5xx (then the key is released so a retry runs again);
//   - the same key and the same request (method, URI, body): the kept
//     answer is replayed, with header Idempotent-Replayed: true;
//   - the same key with a different request: 409;
//   - the same key while its first request still runs: 409.
//
// Replays include 4xx answers: retrying a refused request with the same key
// gets the same refusal, as with Stripe's API. Only the status, the
// Content-Type and the body are replayed; handlers must not put anything
// else a client needs in response headers.
type Guard struct {
	api        huma.API
	store      *idempotency.Store
	log        *slog.Logger
	scope      ScopeFunc
	now        func() time.Time
	staleAfter time.Duration
}

// NewGuard returns a Guard writing problems through api and keys to store.
// store may be nil where handlers never run (printing the spec).
func New(api huma.API, store *idempotency.Store, log *slog.Logger, scope ScopeFunc) *Guard {
	return &Guard{api: api, store: store, log: log, scope: scope, now: time.Now, staleAfter: idempotency.DefaultStaleAfter}
}

// Wrap returns op guarded by g: the middleware runs after the API-wide
// middleware (so the caller is authenticated), the header is documented,
// and 409 joins the documented errors.
func (g *Guard) Wrap(op huma.Operation) huma.Operation {
	maxLen := MaxKeyLength
	op.Parameters = append(op.Parameters, &huma.Param{
		Name: Header, In: "header",
		Description: "Optional. Repeat a request with the same key to retry it safely: the first answer is " +
			"replayed (with `" + ReplayedHeader + ": true`) and the operation does not run twice. " +
			"The same key with a different request, or while the first is still running, gets 409.",
		Schema:  &huma.Schema{Type: "string", MinLength: ptr(1), MaxLength: &maxLen},
		Example: "3f9c2a7e-retry-1",
	})
	op.Errors = append(op.Errors, http.StatusConflict)
	op.Middlewares = append(op.Middlewares, g.middleware)
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[MetadataKey] = true
	return op
}

// visibleASCII: keys are stored as text and echoed in logs; bytes outside
// printable ASCII (a header may carry any) are refused, not stored.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

func (g *Guard) middleware(ctx huma.Context, next func(huma.Context)) {
	key := strings.TrimSpace(ctx.Header(Header))
	if key == "" {
		next(ctx)
		return
	}
	if len(key) > MaxKeyLength {
		_ = huma.WriteErr(g.api, ctx, http.StatusUnprocessableEntity, "invalid "+Header, &huma.ErrorDetail{
			Location: "header." + Header, Message: "at most " + strconv.Itoa(MaxKeyLength) + " characters"})
		return
	}
	if !visibleASCII(key) {
		_ = huma.WriteErr(g.api, ctx, http.StatusUnprocessableEntity, "invalid "+Header, &huma.ErrorDetail{
			Location: "header." + Header, Message: "visible ASCII characters only (a UUID is a good key)"})
		return
	}
	scope, ok := g.scope(ctx)
	if !ok {
		next(ctx)
		return
	}
	op := ctx.Operation()
	body, rest, err := readBody(ctx, op)
	if err != nil {
		_ = huma.WriteErr(g.api, ctx, http.StatusBadRequest, "cannot read request body")
		return
	}
	if rest != nil {
		// Over the operation's size limit: Huma answers 413 and nothing
		// runs, so there is nothing to remember.
		next(&recorder{humaContext: ctx, body: io.MultiReader(bytes.NewReader(body), rest)})
		return
	}
	hash := requestHash(ctx, body)
	rctx := ctx.Context()
	now := g.now()
	rec, started, err := g.store.Begin(rctx, scope, key, hash, now, now.Add(-g.staleAfter))
	if err != nil {
		g.log.ErrorContext(rctx, "idempotency key claim failed", "err", err, "operation", op.OperationID)
		_ = huma.WriteErr(g.api, ctx, http.StatusInternalServerError, "")
		return
	}
	if !started {
		g.answerExisting(ctx, rec, hash)
		return
	}

	// The bookkeeping after the handler must happen even if the client has
	// gone away, or the key would stay held until it goes stale.
	bg := context.WithoutCancel(rctx)
	rc := &recorder{humaContext: ctx, body: bytes.NewReader(body)}
	defer rc.removeForm()
	finished := false
	defer func() {
		if finished {
			return
		}
		// The handler panicked: release the key so a retry can run, and let
		// the panic go on to the recovery middleware.
		if err := g.store.Abandon(bg, rec); err != nil {
			g.log.ErrorContext(bg, "idempotency key release failed", "err", err, "operation", op.OperationID)
		}
	}()
	next(rc)
	finished = true
	status := rc.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	if status >= 500 {
		if err := g.store.Abandon(bg, rec); err != nil {
			g.log.ErrorContext(bg, "idempotency key release failed", "err", err, "operation", op.OperationID)
		}
		return
	}
	if err := g.store.Complete(bg, rec, status, idempotency.Response{ContentType: rc.contentType, Body: rc.buf.Bytes()}); err != nil {
		// The client has its answer; a retry with this key will find the
		// row in progress until it goes stale. Loud, because that is rare.
		g.log.ErrorContext(bg, "idempotency key completion failed", "err", err, "operation", op.OperationID)
	}
}

// answerExisting replays a finished request or refuses the key.
func (g *Guard) answerExisting(ctx huma.Context, rec idempotency.Record, hash []byte) {
	switch {
	case !bytes.Equal(rec.RequestHash, hash):
		_ = huma.WriteErr(g.api, ctx, http.StatusConflict,
			Header+" was already used with a different request; use a new key for a new request")
	case rec.InProgress():
		_ = huma.WriteErr(g.api, ctx, http.StatusConflict,
			"a request with this "+Header+" is still in progress; retry later with the same key")
	default:
		if rec.Response.ContentType != "" {
			ctx.SetHeader("Content-Type", rec.Response.ContentType)
		}
		ctx.SetHeader(ReplayedHeader, "true")
		ctx.SetStatus(rec.StatusCode)
		if len(rec.Response.Body) > 0 {
			_, _ = ctx.BodyWriter().Write(rec.Response.Body)
		}
	}
}

// readBody reads the request body within the operation's limits. When the
// body is larger than the limit it returns what it read and the unread
// rest, for Huma to refuse.
func readBody(ctx huma.Context, op *huma.Operation) (body []byte, rest io.Reader, err error) {
	r := ctx.BodyReader()
	if r == nil {
		return nil, nil, nil
	}
	if op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
	}
	if op.MaxBodyBytes <= 0 {
		body, err = io.ReadAll(r)
		return body, nil, err
	}
	body, err = io.ReadAll(io.LimitReader(r, op.MaxBodyBytes))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) == op.MaxBodyBytes {
		return body, r, nil
	}
	return body, nil, nil
}

// requestHash identifies a request: method, path with query, and body.
// The path matters because one key must not be reused across targets
// (a capture of payment A, then of payment B).
func requestHash(ctx huma.Context, body []byte) []byte {
	u := ctx.URL()
	h := sha256.New()
	h.Write([]byte(ctx.Method()))
	h.Write([]byte{'\n'})
	h.Write([]byte(u.RequestURI()))
	h.Write([]byte{'\n'})
	h.Write(body)
	return h.Sum(nil)
}

// humaContext lets recorder embed huma.Context: a field named Context
// would hide the interface's Context method.
type humaContext = huma.Context

// recorder feeds the buffered body to the handler and keeps a copy of
// what it writes.
type recorder struct {
	humaContext
	body        io.Reader
	form        *multipart.Form
	status      int
	contentType string
	buf         bytes.Buffer
}

func (r *recorder) BodyReader() io.Reader { return r.body }

// multipartMaxMemory is how much of a multipart form is held in memory;
// the rest goes to temporary files (as net/http's default does).
const multipartMaxMemory = 8 << 10

// GetMultipartForm parses the buffered body: Huma reads multipart forms
// through this method, not BodyReader, and the request's own body has
// already been read by the guard.
func (r *recorder) GetMultipartForm() (*multipart.Form, error) {
	if r.form != nil {
		return r.form, nil
	}
	_, params, err := mime.ParseMediaType(r.Header("Content-Type"))
	if err != nil {
		return nil, http.ErrNotMultipart
	}
	if params["boundary"] == "" {
		return nil, http.ErrMissingBoundary
	}
	form, err := multipart.NewReader(r.body, params["boundary"]).ReadForm(multipartMaxMemory)
	if err != nil {
		return nil, err
	}
	r.form = form
	return form, nil
}

// removeForm deletes the temporary files of a parsed form, as net/http
// does for forms it parsed itself.
func (r *recorder) removeForm() {
	if r.form != nil {
		_ = r.form.RemoveAll()
	}
}

func (r *recorder) SetStatus(code int) {
	r.status = code
	r.humaContext.SetStatus(code)
}

func (r *recorder) SetHeader(name, value string) {
	if strings.EqualFold(name, "Content-Type") {
		r.contentType = value
	}
	r.humaContext.SetHeader(name, value)
}

func (r *recorder) AppendHeader(name, value string) {
	if strings.EqualFold(name, "Content-Type") && r.contentType == "" {
		r.contentType = value
	}
	r.humaContext.AppendHeader(name, value)
}

func (r *recorder) BodyWriter() io.Writer { return io.MultiWriter(r.humaContext.BodyWriter(), &r.buf) }
