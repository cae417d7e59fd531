package payments

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/postgres"
)

// CallRecorder persists every APO call in apo_calls; *apo.Client calls it.
// The client has already redacted the request and reply.
type CallRecorder struct {
	db  sqlx.ExecerContext
	now func() time.Time
}

// NewCallRecorder returns a recorder writing to db.
func NewCallRecorder(db sqlx.ExecerContext) *CallRecorder {
	return &CallRecorder{db: db, now: time.Now}
}

// Record stores one call, or hands it to the heldCall of ctx (holdCall)
// for the caller to write in its own transaction. A failure to record is
// not the call's failure, so it is swallowed here and visible as a gap in
// apo_calls only. For the same reason its commit does not wait for the WAL
// flush (synchronous_commit off for this statement's transaction alone): a
// crash can lose the last fraction of a second of records, never a payment
// fact.
func (r *CallRecorder) Record(ctx context.Context, c apo.CallRecord) {
	apoCalls.WithLabelValues(c.API, c.Outcome).Inc()
	apoCallSeconds.WithLabelValues(c.API).Observe(c.Duration.Seconds())
	at := r.now().UTC()
	if h, ok := ctx.Value(heldCallKey{}).(*heldCall); ok && !h.held {
		h.rec, h.at, h.held = c, at, true
		return
	}
	writeCall(ctx, r.db, c, at)
}

// writeCall stores a call's record in its own transaction, not waiting for
// the flush, and swallows a failure (Record says why).
func writeCall(ctx context.Context, db sqlx.ExecerContext, c apo.CallRecord, at time.Time) {
	const q = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		INSERT INTO apo_calls (api, request_id, request, response, http_status, duration_ms, outcome, result_code, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM async`
	_, _ = db.ExecContext(ctx, q, callArgs(c, at)...)
}

// heldCall is the record of one call, held back from the recorder so that
// pay's record commits with the application of its answer: one commit on
// pay's path instead of two.
type heldCall struct {
	rec  apo.CallRecord
	at   time.Time
	held bool
}

type heldCallKey struct{}

// holdCall returns a context under which a CallRecorder hands the next call's
// record to the returned heldCall instead of writing it. The recorder runs
// on the calling goroutine before the call returns, so the record is there
// when the call is.
func holdCall(ctx context.Context) (context.Context, *heldCall) {
	h := &heldCall{}
	return context.WithValue(ctx, heldCallKey{}, h), h
}

// insert writes the held record, if any, with db (the caller's
// transaction), failing the transaction if it cannot.
func (h *heldCall) insert(ctx context.Context, db sqlx.ExecerContext) error {
	if !h.held {
		return nil
	}
	const q = `
		INSERT INTO apo_calls (api, request_id, request, response, http_status, duration_ms, outcome, result_code, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err := db.ExecContext(ctx, q, callArgs(h.rec, h.at)...)
	return err
}

// release writes the held record, if any, on its own, as every other
// call's record is written: for when the transaction that was to carry it
// did not commit.
func (h *heldCall) release(ctx context.Context, db sqlx.ExecerContext) {
	if h.held {
		writeCall(ctx, db, h.rec, h.at)
	}
}

func callArgs(c apo.CallRecord, at time.Time) []any {
	return []any{c.API, c.RequestID, jsonOrNull(c.Request), jsonOrNull(c.Response), c.HTTPStatus,
		c.Duration.Milliseconds(), c.Outcome, c.ResultCode, at}
}

func jsonOrNull(b []byte) postgres.JSONB {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}
