package main

// This file holds what every resource's handlers share, so that no
// resource file borrows from another: the edge (the one Idempotency-Key
// guard and the audit log), how an action is audited, the response pieces
// several resources show, and how a file upload reaches its handler and
// its audit row. Wrapping an operation is the same everywhere (routes.go):
// needs(permission, …) for authentication, idem.Wrap for Idempotency-Key on
// changes, recordAudit with auditOutcome in the handler, httpError
// (errors.go) for every error.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/timing"
)

// edge is what every operation shares: the log, the audit log every
// change is recorded in, and the one Idempotency-Key guard every change
// but create-api-key is wrapped in. addRoutes builds it once.
type edge struct {
	log    *slog.Logger
	audits *audit.Store
	idem   *httpguard.Guard
}

func newEdge(api huma.API, log *slog.Logger, audits *audit.Store, keys *idempotency.Store) edge {
	return edge{log: log, audits: audits, idem: httpguard.New(api, keys, log, idempotencyScope)}
}

// idempotencyScope scopes Idempotency-Key to the API key and the
// operation: one caller's keys never replay another's answers.
func idempotencyScope(ctx huma.Context) (string, bool) {
	a, ok := auth.ActorFromContext(ctx.Context())
	if !ok || a.KeyID == "" {
		return "", false
	}
	return a.KeyID + " " + ctx.Operation().OperationID, true
}

// ---- audit ----

// auditEntry is the audit row of a change made by the current request:
// the actor and role come from authentication, the peer address and
// request id from the httpx middleware. Handlers whose change commits in
// one transaction with its row hand it to the domain (auth.Keys, and
// payments.CreateRequest.Audit for a pay answer's application); the
// others call recordAudit.
func auditEntry(ctx context.Context, action, target string, input any, outcome string) audit.Entry {
	a, _ := auth.ActorFromContext(ctx)
	return audit.Entry{
		Actor:      a.Name,
		KeyID:      a.KeyID,
		Role:       string(a.Role),
		Action:     action,
		Target:     target,
		Input:      input,
		Outcome:    outcome,
		RemoteAddr: httpx.RemoteAddrFromContext(ctx),
		RequestID:  httpx.RequestIDFromContext(ctx),
	}
}

// recordAudit writes the audit row of an action. The domain services
// commit their changes in their own transactions, so the row is written
// after the action, detached from the request so a client hanging up
// cannot lose it. A failure to write it does not undo the action (money
// may have moved): it is logged as an error with everything the row held.
func recordAudit(ctx context.Context, log *slog.Logger, store *audit.Store, action, target string, input any, outcome string) {
	e := auditEntry(ctx, action, target, input, outcome)
	defer timing.Track(ctx, "audit")()
	if err := store.Record(context.WithoutCancel(ctx), e); err != nil {
		log.ErrorContext(ctx, "audit row not written", "err", err, "action", action, "target", target,
			"outcome", outcome, "actor", e.Actor, "request_id", httpx.RequestIDFromContext(ctx))
	}
}

// auditOutcome classifies an action's error: refused before anything
// changed, or attempted and failed.
func auditOutcome(err error) string {
	switch {
	case err == nil:
		return audit.OutcomeSucceeded
	case refused(err):
		return audit.OutcomeRejected
	}
	return audit.OutcomeFailed
}

// refused reports whether err refused an action before anything changed:
// a domain's "not found", invalid request or broken rule, an upload
// httpx.Spool refused, or a 4xx problem a handler made itself. Anything
// else (APO refusing or not answering, a database error) failed.
func refused(err error) bool {
	var (
		payInvalid      *payments.InvalidError
		payConflict     *payments.ConflictError
		disputeInvalid  *disputes.InvalidError
		disputeConflict *disputes.ConflictError
		reconInvalid    *recon.InvalidError
		reconConflict   *recon.ConflictError
		bankInvalid     *bank.InvalidError
		bankConflict    *bank.ConflictError
		bankRefused     *bank.RefusedError
		payoutInvalid   *payout.InvalidError
		upload          *httpx.UploadError
		tooLarge        *httpx.TooLargeError
		status          huma.StatusError
	)
	switch {
	case errors.Is(err, payments.ErrNotFound), errors.As(err, &payInvalid), errors.As(err, &payConflict):
	case errors.Is(err, disputes.ErrNotFound), errors.As(err, &disputeInvalid), errors.As(err, &disputeConflict):
	case errors.Is(err, recon.ErrNotFound), errors.As(err, &reconInvalid), errors.As(err, &reconConflict):
	case errors.Is(err, bank.ErrNotFound), errors.As(err, &bankInvalid), errors.As(err, &bankConflict),
		errors.As(err, &bankRefused):
	case errors.Is(err, payout.ErrNotFound), errors.As(err, &payoutInvalid):
	case errors.As(err, &upload), errors.As(err, &tooLarge):
	case errors.As(err, &status):
		return status.GetStatus() < 500
	default:
		return false
	}
	return true
}

func actorName(ctx context.Context) string {
	a, _ := auth.ActorFromContext(ctx)
	return a.Name
}

// ---- response pieces several resources show ----

// Money is an amount in minor units of its currency.
type Money struct {
	Value    int64  `json:"value" example:"1000" doc:"Minor units of the currency"`
	Currency string `json:"currency" example:"USD"`
}

func moneyBody(m money.Money) Money { return Money{Value: m.Minor, Currency: m.Currency} }

// optionalMoney is an amount that may be unknown: nil without a currency.
func optionalMoney(minor int64, ccy string) *Money {
	if ccy == "" {
		return nil
	}
	return &Money{Value: minor, Currency: ccy}
}

// redactedJSON passes a stored document through the log redactor before it
// leaves: APO's answers carry masked card data only, but a stored document
// is never trusted to.
func redactedJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return carddata.RedactJSON(b)
}

// binaryFile is the schema of a file in a request or response body.
var binaryFile = &huma.Schema{Type: "string", Format: "binary"}

// dateString shows a calendar date, or "" for none.
func dateString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// ---- uploads ----

type uploadBodyKey struct{}

// uploadBody is the request body as the handler reads it.
type uploadBody struct {
	contentType string
	body        io.Reader
	limit       int64
}

// keepUploadBody puts the request body (the guard's copy, when an
// Idempotency-Key was given), its Content-Type and the operation's size
// limit where the handler can read them, and bounds the time to read it.
func keepUploadBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
	}
	next(huma.WithValue(ctx, uploadBodyKey{}, uploadBody{contentType: ctx.Header("Content-Type"),
		body: ctx.BodyReader(), limit: op.MaxBodyBytes}))
}

// uploadAudit is what the audit log keeps of an upload: names, sizes and
// outcomes, never content.
type uploadAudit struct {
	Files []uploadAuditFile `json:"files"`
}

type uploadAuditFile struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	ID        int64  `json:"id,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Status    string `json:"status,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}
