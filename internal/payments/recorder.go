package payments

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
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

// Record stores one call. A failure to record is not the call's failure, so
// it is swallowed here and visible as a gap in apo_calls only. For the same
// reason its commit does not wait for the WAL flush (synchronous_commit off
// for this statement's transaction alone): the record sits on pay's path,
// and a flush stall there was part of pay's tail; a crash can lose the last
// fraction of a second of records, never a payment fact.
func (r *CallRecorder) Record(ctx context.Context, c apo.CallRecord) {
	const q = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		INSERT INTO apo_calls (api, request_id, request, response, http_status, duration_ms, outcome, result_code, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM async`
	apoCalls.WithLabelValues(c.API, c.Outcome).Inc()
	apoCallSeconds.WithLabelValues(c.API).Observe(c.Duration.Seconds())
	req, resp := jsonOrNull(c.Request), jsonOrNull(c.Response)
	_, _ = r.db.ExecContext(ctx, q, c.API, c.RequestID, req, resp, c.HTTPStatus, c.Duration.Milliseconds(),
		c.Outcome, c.ResultCode, r.now().UTC())
}

func jsonOrNull(b []byte) []byte {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}
