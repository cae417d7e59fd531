package httpx

import (
	"context"
	"log/slog"
	"sync"
)

// annotations are the attributes handlers add to their request's
// access-log line. AccessLog puts an empty set in the request context; code
// deep inside (authentication, routing) fills it, and AccessLog reads it
// once the handler returned.
type annotations struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

const annotationsKey ctxKey = -1

// Annotate adds attrs to the access-log line of the request ctx belongs
// to: the id of the API key that made it, the route pattern it matched. It
// does nothing outside AccessLog. Never pass secrets: the line is logged as
// given.
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	a, _ := ctx.Value(annotationsKey).(*annotations)
	if a == nil {
		return
	}
	a.mu.Lock()
	a.attrs = append(a.attrs, attrs...)
	a.mu.Unlock()
}

func withAnnotations(ctx context.Context) (context.Context, *annotations) {
	a := &annotations{}
	return context.WithValue(ctx, annotationsKey, a), a
}

func (a *annotations) list() []slog.Attr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.attrs
}
