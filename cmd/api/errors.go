package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// This file is the api's one mapping from errors to RFC 9457 problems.
// Handlers return httpError(ctx, log, err) (or httpErrorAt, when the
// error's field or resource needs naming) for every error they did not
// build as a problem themselves; nothing else turns a domain error into a
// status code. An error no mapping recognises is logged in full and
// answered with the one bare 500 (internalError): Huma would otherwise
// copy err.Error() into the response, and internal detail must not reach
// clients.

// at says where in a request the subject of an error was given, for the
// domains whose errors do not say it themselves: in is the part of the
// request a rule's field came in ("body", "query" or "path"; recon and
// disputes), what the resource a recon 404 is about ("run", "discrepancy",
// "file").
type at struct{ in, what string }

// httpError turns err into a problem, for an operation whose rule
// violations are about its body.
func httpError(ctx context.Context, log *slog.Logger, err error) error {
	return httpErrorAt(ctx, log, err, at{in: "body"})
}

// httpErrorAt turns err into a problem: err itself when a handler already
// made it one, else the answer of the first of problemMappings that
// recognises it, else a logged, bare 500.
func httpErrorAt(ctx context.Context, log *slog.Logger, err error, where at) error {
	var status huma.StatusError
	if errors.As(err, &status) {
		return err
	}
	for _, mapping := range problemMappings {
		if p := mapping(ctx, log, err, where); p != nil {
			return p
		}
	}
	log.ErrorContext(ctx, "request failed", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
	return internalError()
}

// internalError is the one answer to an error the client cannot act on: a
// 500 problem with its title and nothing else. What went wrong goes to the
// log, never to the client.
func internalError() huma.StatusError { return huma.Error500InternalServerError("") }

// writeInternalError writes internalError's problem, for code that answers
// outside a handler's return (middleware, streamed downloads).
func writeInternalError(api huma.API, ctx huma.Context) {
	_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "")
}

// problemMappings turn the errors of one package each into problems; nil
// means "not mine". Disputes and recon come before payments: their
// errors may wrap a payment's, and the outer one says what the request was
// about.
var problemMappings = []func(ctx context.Context, log *slog.Logger, err error, where at) error{
	disputeProblem,
	reconProblem,
	bankProblem,
	journalProblem,
	payoutProblem,
	paymentProblem,
	apoProblem,
	apiKeyProblem,
	auditProblem,
	uploadProblem,
}

// paymentProblem answers the payments package's errors. The rules of a
// list's filter are about query parameters (their Field is the parameter's
// name); any other rule is about a body field.
func paymentProblem(_ context.Context, _ *slog.Logger, err error, where at) error {
	var (
		invalid  *payments.InvalidError
		conflict *payments.ConflictError
	)
	switch {
	case errors.Is(err, payments.ErrNotFound):
		return huma.Error404NotFound("payment not found")
	case errors.Is(err, payments.ErrDuplicate):
		return huma.Error409Conflict("a payment with this request id already exists")
	case errors.As(err, &invalid) && where.in == "query":
		return huma.Error422UnprocessableEntity("invalid query parameters", invalidDetails("query.", err)...)
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity("validation failed", invalidDetails("", err)...)
	case errors.As(err, &conflict):
		return huma.Error409Conflict(conflict.Rule)
	}
	return nil
}

// apoProblem answers APO's errors. Only Sync surfaces them: the provider
// could not tell us where the payment stands. Nothing changed; the caller
// may retry. The full error (no card data: apo.Error never holds any) is
// for our logs.
func apoProblem(ctx context.Context, log *slog.Logger, err error, _ at) error {
	var apoErr *apo.Error
	if !errors.As(err, &apoErr) {
		return nil
	}
	log.WarnContext(ctx, "apo call failed", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
	if apoErr.Outcome == apo.OutcomeFailed {
		return huma.Error502BadGateway("APO refused the inquiry (" + apoErr.Result.ResultCode + "), try again later")
	}
	return huma.Error503ServiceUnavailable("APO unavailable, try again")
}

func apiKeyProblem(_ context.Context, _ *slog.Logger, err error, _ at) error {
	var invalid *auth.InvalidError
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return huma.Error404NotFound("api key not found")
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error())
	}
	return nil
}

func auditProblem(_ context.Context, _ *slog.Logger, err error, _ at) error {
	if errors.Is(err, audit.ErrBadCursor) {
		return huma.Error422UnprocessableEntity("cursor: not a next_cursor from a previous page")
	}
	return nil
}

// disputeProblem answers the disputes package's errors. A rule about a
// query parameter is named as such; any other rule is about a body field.
func disputeProblem(ctx context.Context, log *slog.Logger, err error, where at) error {
	var (
		invalid  *disputes.InvalidError
		conflict *disputes.ConflictError
		rejected *disputes.RejectedError
	)
	switch {
	case errors.Is(err, disputes.ErrNotFound):
		return huma.Error404NotFound("dispute not found")
	case errors.As(err, &invalid) && where.in == "query":
		return queryError(invalid.Field, invalid.Reason)
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: "body." + invalid.Field,
			Message: invalid.Reason})
	case errors.As(err, &conflict):
		return huma.Error409Conflict(conflict.Error())
	case errors.As(err, &rejected):
		// APO's code is the useful part: TIME_EXCEEDS_LIMIT,
		// NOT_ALLOW_IN_CURRENT_STATUS, REPEAT_REQUEST, …
		return huma.Error409Conflict(rejected.Error(), &huma.ErrorDetail{Location: "apo.resultCode",
			Message: rejected.Code, Value: rejected.Code})
	case errors.Is(err, disputes.ErrOutcomeUnknown):
		log.WarnContext(ctx, "dispute action outcome unknown", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
		return huma.Error503ServiceUnavailable("APO's answer is unknown; retry the same request (it is safe)")
	}
	return nil
}

// reconProblem answers the recon package's errors: a 404 names
// where.what, a rule's field is located in where.in.
func reconProblem(_ context.Context, _ *slog.Logger, err error, where at) error {
	var (
		invalid  *recon.InvalidError
		conflict *recon.ConflictError
	)
	switch {
	case errors.Is(err, recon.ErrNotFound):
		return huma.Error404NotFound(where.what + " not found")
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: where.in + "." + invalid.Field,
			Message: invalid.Reason})
	case errors.As(err, &conflict):
		return huma.Error409Conflict(conflict.Rule)
	}
	return nil
}

// bankProblem answers the bank package's errors: a 404 names where.what,
// a rule's field is located in where.in, and a refused statement file
// lists each of its problems as "<file>:<line>" (or the file, for one
// about it all).
func bankProblem(_ context.Context, _ *slog.Logger, err error, where at) error {
	var (
		invalid  *bank.InvalidError
		conflict *bank.ConflictError
		refused  *bank.RefusedError
	)
	switch {
	case errors.Is(err, bank.ErrNotFound):
		return huma.Error404NotFound(where.what + " not found")
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: where.in + "." + invalid.Field,
			Message: invalid.Reason})
	case errors.As(err, &conflict):
		return huma.Error409Conflict(conflict.Rule)
	case errors.As(err, &refused):
		return huma.Error422UnprocessableEntity(refused.Error(), refusalDetails(refused)...)
	}
	return nil
}

// refusalDetails lists a refused file's problems.
func refusalDetails(r *bank.RefusedError) []error {
	var out []error
	for _, p := range r.Problems() {
		out = append(out, &huma.ErrorDetail{Location: p.Where, Message: p.Message})
	}
	return out
}

// uploadProblem answers an upload httpx.Spool refused. An
// *httpx.SpoolError (a temporary file we could not write) is ours: it is
// left to the logged 500.
func uploadProblem(_ context.Context, _ *slog.Logger, err error, _ at) error {
	var (
		refused  *httpx.UploadError
		tooLarge *httpx.TooLargeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return huma.Error413RequestEntityTooLarge(tooLarge.Error())
	case errors.As(err, &refused):
		return huma.Error422UnprocessableEntity(refused.Detail, &huma.ErrorDetail{Location: refused.Location,
			Message: refused.Message})
	}
	return nil
}

// queryError is the problem of a query parameter whose value breaks a
// rule the schema cannot state.
func queryError(param, msg string) error {
	return huma.Error422UnprocessableEntity("invalid query parameter "+param,
		&huma.ErrorDetail{Location: "query." + param, Message: msg})
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
