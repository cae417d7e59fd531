package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// awaitDays is how many days before the nightly's day a period whose
// payouts were awaiting a bank statement is run again: long enough for a
// late statement file (a bank's outage, a weekend, a holiday), short enough
// that a missing one does not re-run a period for ever. Past it, the
// payout's page still says AWAITING_STATEMENT and the statement's own gap
// is a STATEMENT_DAY_MISSING finding.
const awaitDays = 10

// PeriodsAwaitingStatements returns the periods from since on whose latest
// succeeded run left payouts due that day unjudged because no bank
// statement reached the day yet: Nightly runs them again after the bank
// intake, so that a statement arriving after its day's run still has the
// payout judged (received, short, or not received).
func (s *Store) PeriodsAwaitingStatements(ctx context.Context, since time.Time) ([]time.Time, error) {
	const q = `SELECT period FROM (
			SELECT DISTINCT ON (period) period, counts
			FROM recon_runs WHERE status = 'SUCCEEDED' AND period >= $1::date ORDER BY period, id DESC) latest
		WHERE (counts->'payouts'->>'awaiting_statement')::bigint > 0 ORDER BY period`
	var ds []time.Time
	if err := sqlx.SelectContext(ctx, s.db, &ds, q, since.Format(time.DateOnly)); err != nil {
		return nil, fmt.Errorf("periods awaiting statements: %w", err)
	}
	for i := range ds {
		ds[i] = day(ds[i])
	}
	return ds, nil
}
