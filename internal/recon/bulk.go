package recon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// MaxBulk bounds one bulk change: a selection of more discrepancies is
// refused, so that one request cannot hold thousands of row locks for long
// or close a whole period's breaks by a slip of the filter.
const MaxBulk = 10000

// Selection names the discrepancies of a bulk change: IDs, or else every
// current discrepancy Filter selects.
type Selection struct {
	IDs []int64
	// Filter selects as CurrentDiscrepancies does. Its Cursor and Limit
	// must be unset (a selection is every match, not a page), and a filter
	// with nothing set is refused rather than taken as "everything".
	Filter CurrentFilter
}

// BulkPreview is what a selection holds: how many discrepancies, and their
// amounts per currency.
type BulkPreview struct {
	Count  int
	Totals []CurrencyTotal // ordered by currency
}

// BulkResult is what a bulk change changed: the figures PreviewBulk gives
// for the same selection, and the discrepancies.
type BulkResult struct {
	BulkPreview
	IDs []int64 // in id order
}

// PreviewBulk shows what UpdateDiscrepancies would change for sel, so that
// a person sees the count and the amounts before confirming. It resolves
// the selection as the change does, with the same refusals (unknown ids,
// more than MaxBulk); the status rules need the target status and are the
// change's to check.
func (s *Service) PreviewBulk(ctx context.Context, sel Selection) (BulkPreview, error) {
	st := NewStore(s.db)
	ds, err := s.selection(ctx, st, sel)
	if err != nil {
		return BulkPreview{}, err
	}
	return preview(ctx, st, ds)
}

// UpdateDiscrepancies moves every discrepancy of sel to status, with one
// note and actor, all or nothing in one transaction. Each change follows
// UpdateDiscrepancy's rules (the workflow, only a period's latest run, not
// while a run of the period is in progress) and is recorded as it records
// one: status, note, actor and resolution time on the row. When any
// discrepancy breaks a rule, nothing changes and the ConflictError names
// the first few and how many.
func (s *Service) UpdateDiscrepancies(ctx context.Context, sel Selection, status Status, note, actor string) (BulkResult, error) {
	note, err := checkUpdate(status, note, actor)
	if err != nil {
		return BulkResult{}, err
	}
	var res BulkResult
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		ds, err := s.selection(ctx, st, sel)
		if err != nil {
			return err
		}
		if err := checkBulk(ctx, st, ds, status); err != nil {
			return err
		}
		var resolvedAt *time.Time
		if status != StatusOpen {
			at := s.now().UTC()
			resolvedAt = &at
		}
		ids := idsOf(ds)
		n, err := st.SetDiscrepanciesStatus(ctx, ids, fromStatuses(status), status, note, actor, resolvedAt)
		if err != nil {
			return err
		}
		if n != len(ids) {
			return &ConflictError{Rule: fmt.Sprintf("%d of %d discrepancies were changed by another request meanwhile; nothing was changed",
				len(ids)-n, len(ids))}
		}
		res.IDs = ids
		res.BulkPreview, err = preview(ctx, st, ds)
		return err
	})
	if err != nil {
		return BulkResult{}, err
	}
	return res, nil
}

// selection resolves sel to its discrepancies, in id order.
func (s *Service) selection(ctx context.Context, st *Store, sel Selection) ([]Discrepancy, error) {
	switch {
	case len(sel.IDs) > 0 && sel.Filter != (CurrentFilter{}):
		return nil, &InvalidError{Field: "ids", Reason: "give ids or a filter, not both"}
	case len(sel.IDs) > MaxBulk:
		return nil, &InvalidError{Field: "ids", Reason: fmt.Sprintf("at most %d in one change", MaxBulk)}
	case len(sel.IDs) > 0:
		return byIDs(ctx, st, sel.IDs)
	case sel.Filter == (CurrentFilter{}):
		return nil, &InvalidError{Field: "filter", Reason: "give ids or at least one filter; an empty filter would select every current discrepancy"}
	case sel.Filter.Cursor != "" || sel.Filter.Limit != 0:
		return nil, &InvalidError{Field: "filter", Reason: "cursor and limit page a list; a selection is every match"}
	}
	f, err := s.checkCurrent(ctx, st, sel.Filter)
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		return nil, &InvalidError{Field: "filter." + invalid.Field, Reason: invalid.Reason}
	}
	if err != nil {
		return nil, err
	}
	ds, err := st.CurrentMatching(ctx, f, MaxBulk+1)
	if err != nil {
		return nil, err
	}
	if len(ds) > MaxBulk {
		return nil, &InvalidError{Field: "filter", Reason: fmt.Sprintf("selects more than %d discrepancies; narrow it", MaxBulk)}
	}
	return ds, nil
}

// byIDs reads the discrepancies ids names (each once); an unknown id
// refuses the selection.
func byIDs(ctx context.Context, st *Store, ids []int64) ([]Discrepancy, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ds, err := st.DiscrepanciesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(ds) == len(ids) {
		return ds, nil
	}
	found := make(map[int64]bool, len(ds))
	for _, d := range ds {
		found[d.ID] = true
	}
	var unknown []string
	for _, id := range ids {
		if !found[id] {
			unknown = append(unknown, strconv.FormatInt(id, 10))
		}
	}
	return nil, &InvalidError{Field: "ids", Reason: "no discrepancy " + listSome(unknown, len(unknown), ", ")}
}

// checkBulk applies UpdateDiscrepancy's rules to each discrepancy of a bulk
// change to status, taking the period locks as it does.
func checkBulk(ctx context.Context, st *Store, ds []Discrepancy, status Status) error {
	var (
		broken []string // the first few rules broken
		n      int      // discrepancies that break one
	)
	for _, d := range ds {
		if err := checkTransition(d.ID, d.Status, status); err != nil {
			if n++; len(broken) < maxNamed {
				broken = append(broken, err.Error())
			}
		}
	}
	var periods []time.Time
	for _, d := range ds {
		if !slices.ContainsFunc(periods, d.Period.Equal) {
			periods = append(periods, d.Period)
		}
	}
	busy, err := st.TryLockPeriodsShared(ctx, periods)
	if err != nil {
		return err
	}
	if len(busy) > 0 {
		dates := make([]string, len(busy))
		for i, p := range busy {
			dates[i] = p.Format(time.DateOnly)
		}
		return &ConflictError{Rule: fmt.Sprintf("a run of period %s is in progress; change these discrepancies once it has finished",
			listSome(dates, len(dates), ", "))}
	}
	latest, err := st.LatestRuns(ctx, periods)
	if err != nil {
		return err
	}
	for _, d := range ds {
		run := latest[d.Period.Format(time.DateOnly)]
		if run == d.RunID {
			continue
		}
		if n++; len(broken) >= maxNamed {
			continue
		}
		var conflict *ConflictError
		if err := superseded(ctx, st, d, run); !errors.As(err, &conflict) {
			return err
		}
		broken = append(broken, conflict.Rule)
	}
	if n == 0 {
		return nil
	}
	return &ConflictError{Rule: fmt.Sprintf("%d of %d discrepancies cannot change, so none did: %s",
		n, len(ds), listSome(broken, n, "; "))}
}

// maxNamed is how many discrepancies or rules an error names before "… and
// N more".
const maxNamed = 5

// listSome joins the first maxNamed of items (the first of n), adding how
// many it left out.
func listSome(items []string, n int, sep string) string {
	if len(items) > maxNamed {
		items = items[:maxNamed]
	}
	s := strings.Join(items, sep)
	if n > len(items) {
		s += fmt.Sprintf("%s… and %d more", sep, n-len(items))
	}
	return s
}

// fromStatuses are the statuses checkTransition lets move to to.
func fromStatuses(to Status) []Status {
	var out []Status
	for _, st := range []Status{StatusOpen, StatusResolved, StatusIgnored} {
		if checkTransition(0, st, to) == nil {
			out = append(out, st)
		}
	}
	return out
}

func preview(ctx context.Context, st *Store, ds []Discrepancy) (BulkPreview, error) {
	totals, err := st.AmountTotals(ctx, idsOf(ds))
	if err != nil {
		return BulkPreview{}, err
	}
	return BulkPreview{Count: len(ds), Totals: totals}, nil
}

func idsOf(ds []Discrepancy) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}
