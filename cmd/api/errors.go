package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
)

// httpError turns a domain error into an RFC 9457 problem. Anything it does
// not recognise is logged in full and answered with a bare 500: Huma would
// otherwise copy err.Error() into the response body, and internal detail
// must not reach clients.
func httpError(ctx context.Context, log *slog.Logger, err error) error {
	var (
		keyInvalid *auth.InvalidError
	)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return huma.Error404NotFound("api key not found")
	case errors.As(err, &keyInvalid):
		return huma.Error422UnprocessableEntity(keyInvalid.Error())
	case errors.Is(err, audit.ErrBadCursor):
		return huma.Error422UnprocessableEntity("cursor: not a next_cursor from a previous page")
	}
	log.ErrorContext(ctx, "request failed", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
	return huma.Error500InternalServerError("")
}
