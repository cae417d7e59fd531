package recon

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// The SQL of the dashboard figures (summary.go) and of bulk changes to
// discrepancies (bulk.go).

// CurrentMatching returns at most limit of the current discrepancies f
// selects (as CurrentDiscrepancies lists them, f's Cursor and Limit
// aside), in id order.
func (s *Store) CurrentMatching(ctx context.Context, f CurrentFilter, limit int) ([]Discrepancy, error) {
	q := discrepancyQuery{}
	q.current(f)
	return q.all(ctx, s.db, limit)
}

// DiscrepanciesByID returns those of the discrepancies ids names that
// exist, in id order.
func (s *Store) DiscrepanciesByID(ctx context.Context, ids []int64) ([]Discrepancy, error) {
	q := discrepancyQuery{}
	q.add("d.id = ANY(%s::bigint[])", int64Array(ids))
	return q.all(ctx, s.db, len(ids))
}

// OpenSummary counts and sums the OPEN discrepancies of the latest
// succeeded run of each period, per kind and currency.
func (s *Store) OpenSummary(ctx context.Context) ([]KindSummary, error) {
	q := discrepancyQuery{}
	q.current(CurrentFilter{Status: StatusOpen})
	return q.sums(ctx, s.db, true)
}

// AmountTotals counts and sums the discrepancies ids names, per currency.
func (s *Store) AmountTotals(ctx context.Context, ids []int64) ([]CurrencyTotal, error) {
	q := discrepancyQuery{}
	q.add("d.id = ANY(%s::bigint[])", int64Array(ids))
	ks, err := q.sums(ctx, s.db, false)
	if err != nil {
		return nil, err
	}
	out := make([]CurrencyTotal, len(ks))
	for i, k := range ks {
		out[i] = k.CurrencyTotal
	}
	return out, nil
}

// sums counts the rows q selects and adds up their Discrepancy.Amount per
// currency, and per kind too when byKind, ordered by kind and currency (in
// Go: the database's collation may not sort by bytes). The sums are
// numeric, so they cannot overflow; one beyond the int64 range is returned
// at the range's bound and marked Saturated.
func (q *discrepancyQuery) sums(ctx context.Context, db sqlx.ExtContext, byKind bool) ([]KindSummary, error) {
	kind := `''`
	if byKind {
		kind = `d.kind`
	}
	sqlText := `SELECT ` + kind + ` AS kind, ` + amountCurrencySQL + ` AS currency, count(*) AS count,
		COALESCE(sum(` + amountSQL + `), 0)::text AS minor
		FROM discrepancies d WHERE ` + strings.Join(q.where, " AND ") + ` GROUP BY 1, 2`
	var rows []struct {
		Kind     string `db:"kind"`
		Currency string `db:"currency"`
		Count    int64  `db:"count"`
		Minor    string `db:"minor"`
	}
	if err := sqlx.SelectContext(ctx, db, &rows, sqlText, q.args...); err != nil {
		return nil, fmt.Errorf("sum discrepancies: %w", err)
	}
	out := make([]KindSummary, len(rows))
	for i, r := range rows {
		out[i] = KindSummary{Kind: Kind(r.Kind), CurrencyTotal: CurrencyTotal{Currency: r.Currency, Count: r.Count}}
		var err error
		if out[i].AmountMinor, out[i].Saturated, err = saturatedInt(r.Minor); err != nil {
			return nil, fmt.Errorf("sum discrepancies: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b KindSummary) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Currency, b.Currency))
	})
	return out, nil
}

// LastRunBy returns the latest run an actor started.
func (s *Store) LastRunBy(ctx context.Context, actor string) (Run, error) {
	var r runRow
	const q = `SELECT ` + runColumns + ` FROM recon_runs WHERE actor = $1 ORDER BY id DESC LIMIT 1`
	if err := sqlx.GetContext(ctx, s.db, &r, q, actor); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Run{}, ErrNotFound
		}
		return Run{}, fmt.Errorf("last run of %s: %w", actor, err)
	}
	return r.run()
}

// TryLockPeriodsShared is TryLockPeriodShared for each period; it returns
// those a run holds, whose locks it could not take.
func (s *Store) TryLockPeriodsShared(ctx context.Context, periods []time.Time) ([]time.Time, error) {
	const q = `SELECT p FROM unnest($1::text[]) AS p
		WHERE NOT pg_try_advisory_xact_lock_shared(hashtextextended('recon-period:' || p, 0))`
	var busy []string
	if err := sqlx.SelectContext(ctx, s.db, &busy, q, dateArray(periods)); err != nil {
		return nil, fmt.Errorf("try period locks: %w", err)
	}
	out := make([]time.Time, len(busy))
	for i, p := range busy {
		out[i], _ = time.Parse(time.DateOnly, p) // written by dateArray
	}
	return out, nil
}

// LatestRuns returns the latest succeeded run of each period that has one,
// by period as yyyy-mm-dd.
func (s *Store) LatestRuns(ctx context.Context, periods []time.Time) (map[string]int64, error) {
	const q = `SELECT period, max(id) AS id FROM recon_runs WHERE status = 'SUCCEEDED' AND period = ANY($1::date[])
		GROUP BY period`
	var rows []struct {
		Period time.Time `db:"period"`
		ID     int64     `db:"id"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, dateArray(periods)); err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[day(r.Period).Format(time.DateOnly)] = r.ID
	}
	return out, nil
}

// SetDiscrepanciesStatus is SetDiscrepancyStatus for many discrepancies at
// once, each in one of the statuses from; it returns how many it changed.
// The rows are locked in id order, so two bulk changes over the same rows
// wait for each other instead of deadlocking.
func (s *Store) SetDiscrepanciesStatus(ctx context.Context, ids []int64, from []Status, to Status, note, actor string,
	resolvedAt *time.Time) (int, error) {
	const q = `
		UPDATE discrepancies d SET status = $3, note = $4, actor = $5, resolved_at = $6
		FROM (SELECT id FROM discrepancies WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[])
			ORDER BY id FOR UPDATE) x
		WHERE d.id = x.id`
	froms := make([]string, len(from))
	for i, f := range from {
		froms[i] = string(f)
	}
	res, err := s.db.ExecContext(ctx, q, int64Array(ids), "{"+strings.Join(froms, ",")+"}", string(to), note, actor, resolvedAt)
	if err != nil {
		return 0, fmt.Errorf("update %d discrepancies: %w", len(ids), err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
