package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// bankDaysBack is how many days before the nightly's day a bank day is
// reconciled (again) when its latest run has not seen its facts: long
// enough for a late statement file (a bank's outage, a weekend, a
// holiday), short enough that the nightly does not walk all of history.
// Past it, the payout's page still says AWAITING_STATEMENT and the
// statement's own gap is a STATEMENT_DAY_MISSING finding; a run by hand
// (POST /v1/recon/runs {date}) judges it.
const bankDaysBack = 10

// unseenBankDays returns the days from..to with payouts due or bank credits
// booked that no succeeded run has judged as they now stand: a day without
// a run (APO sent no report of it, or one identical to an earlier day's), a
// day a payout became due after its run (a late batch), or one whose
// statement arrived after its run. Nightly runs them after the bank intake,
// so every payout is judged on its due date and every credit on its booking
// date, whether or not APO reported that day.
func (s *Service) unseenBankDays(ctx context.Context, from, to time.Time) ([]time.Time, error) {
	if s.payouts == nil {
		return nil, nil
	}
	days, err := s.payouts.BankDays(ctx, s.db, from, to)
	if err != nil || len(days) == 0 {
		return nil, err
	}
	latest, err := NewStore(s.db).latestRuns(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, d := range days {
		r, ok := latest[d.Day]
		// A run registers payouts (its own period's, under T+0) before it
		// finishes, and reads statements from its start.
		if !ok || d.Registered.After(r.finished) || d.Stated.After(r.started) {
			out = append(out, d.Day)
		}
	}
	return out, nil
}

// isBankDay says whether d has payouts due or bank credits booked.
func (s *Service) isBankDay(ctx context.Context, d time.Time) (bool, error) {
	if s.payouts == nil {
		return false, nil
	}
	days, err := s.payouts.BankDays(ctx, s.db, d, d)
	return len(days) > 0, err
}

type runTimes struct{ started, finished time.Time }

// latestRuns returns by period the start and end of each period's latest
// succeeded run from..to.
func (s *Store) latestRuns(ctx context.Context, from, to time.Time) (map[time.Time]runTimes, error) {
	const q = `SELECT DISTINCT ON (period) period, started_at, finished_at FROM recon_runs
		WHERE status = 'SUCCEEDED' AND period BETWEEN $1::date AND $2::date ORDER BY period, id DESC`
	var rows []struct {
		Period   time.Time `db:"period"`
		Started  time.Time `db:"started_at"`
		Finished time.Time `db:"finished_at"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, from.Format(time.DateOnly), to.Format(time.DateOnly)); err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	out := make(map[time.Time]runTimes, len(rows))
	for _, r := range rows {
		out[day(r.Period)] = runTimes{r.Started, r.Finished}
	}
	return out, nil
}
