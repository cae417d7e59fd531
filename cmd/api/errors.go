package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/payments"
)

// httpError turns a domain error into an RFC 9457 problem. Anything it does
// not recognise is logged in full and answered with a bare 500: Huma would
// otherwise copy err.Error() into the response body, and internal detail
// must not reach clients.
func httpError(ctx context.Context, log *slog.Logger, err error) error {
	var (
		keyInvalid  *auth.InvalidError
		payInvalid  *payments.InvalidError
		payConflict *payments.ConflictError
		apoErr      *apo.Error
	)
	switch {
	case errors.Is(err, payments.ErrNotFound):
		return huma.Error404NotFound("payment not found")
	case errors.Is(err, payments.ErrDuplicate):
		return huma.Error409Conflict("a payment with this request id already exists")
	case errors.As(err, &payInvalid):
		return huma.Error422UnprocessableEntity(payInvalid.Error())
	case errors.As(err, &payConflict):
		return huma.Error409Conflict(payConflict.Rule)
	case errors.As(err, &apoErr):
		// Only Sync surfaces APO's errors: the provider could not tell us
		// where the payment stands. Nothing changed; the caller may retry.
		// The full error (no card data: apo.Error never holds any) is for
		// our logs.
		log.WarnContext(ctx, "apo call failed", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
		if apoErr.Outcome == apo.OutcomeFailed {
			return huma.Error502BadGateway("APO refused the inquiry (" + apoErr.Result.ResultCode + "), try again later")
		}
		return huma.Error503ServiceUnavailable("APO unavailable, try again")
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

// hideErrorValues is a response transformer that removes the submitted
// values Huma echoes in validation errors. A request body may hold a card
// number and CVV, and Huma's "required property missing" error echoes the
// whole object around the missing field: the location and the message are
// enough to fix a request, and a problem document must never carry card
// data (it may be logged by the client, or kept for Idempotency-Key
// replays).
func hideErrorValues(_ huma.Context, _ string, v any) (any, error) {
	if m, ok := v.(*huma.ErrorModel); ok {
		for _, d := range m.Errors {
			if d != nil {
				d.Value = nil
			}
		}
	}
	return v, nil
}
