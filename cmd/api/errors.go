package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

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
		return huma.Error422UnprocessableEntity("validation failed", invalidDetails("", err)...)
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

// invalidDetails lists every *payments.InvalidError in err (one, or several
// joined by errors.Join) as a problem detail located at prefix+field.
func invalidDetails(prefix string, err error) []error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		var inv *payments.InvalidError
		switch e := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		default:
			if errors.As(err, &inv) {
				out = append(out, &huma.ErrorDetail{Location: prefix + inv.Field, Message: inv.Reason})
			}
		}
	}
	walk(err)
	return out
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

// groupErrors is a response transformer that gives a problem one entry per
// location. Huma's schema errors and the business rules (Resolve) may both
// speak of one field: their messages are joined into that entry, and a rule
// about a field the schema already reported missing ("expected required
// property X to be present" at its parent) is dropped. An unknown query
// parameter's entry lists the parameters the operation takes.
func groupErrors(ctx huma.Context, _ string, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok || len(m.Errors) < 1 {
		return v, nil
	}
	missing := map[string]bool{}
	for _, d := range m.Errors {
		var prop string
		if d != nil && d.Location != "" {
			if _, err := fmt.Sscanf(d.Message, "expected required property %s to be present", &prop); err == nil {
				missing[d.Location+"."+prop] = true
			}
		}
	}
	byLoc := map[string]*huma.ErrorDetail{}
	kept := m.Errors[:0]
	for _, d := range m.Errors {
		switch {
		case d == nil:
			continue
		case d.Location == "":
		case missing[d.Location]:
			continue
		case byLoc[d.Location] != nil:
			if first := byLoc[d.Location]; !strings.Contains(first.Message, d.Message) {
				first.Message += "; " + d.Message
			}
			continue
		default:
			byLoc[d.Location] = d
		}
		if d.Message == "unknown query parameter" {
			d.Message += knownQuery(ctx)
		}
		kept = append(kept, d)
	}
	m.Errors = kept
	return m, nil
}

// knownQuery names the query parameters of ctx's operation, for the message
// about one it does not know.
func knownQuery(ctx huma.Context) string {
	var names []string
	if op := ctx.Operation(); op != nil {
		for _, p := range op.Parameters {
			if p.In == "query" {
				names = append(names, p.Name)
			}
		}
	}
	if len(names) == 0 {
		return ": this operation takes none"
	}
	return ": this operation takes " + strings.Join(names, ", ")
}
