package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// PeriodStatus is whether an accounting period takes changes.
type PeriodStatus string

// Period statuses. A month never closed is open.
const (
	PeriodOpen   PeriodStatus = "OPEN"
	PeriodClosed PeriodStatus = "CLOSED"
)

// Period is an accounting period: a calendar month.
type Period struct {
	Month        time.Time // its first day, UTC
	Status       PeriodStatus
	ClosedAt     *time.Time
	ClosedBy     string
	ReopenedAt   *time.Time
	ReopenedBy   string
	ReopenReason string
	// Journals is how many journals are dated in the month, adjustments
	// included: what a close locks (Periods sets it).
	Journals int64
}

// ErrPeriodState reports a close of a closed period or a reopen of an open
// one.
var ErrPeriodState = errors.New("period already in that state")

// MonthOf returns the first day of t's month, UTC.
func MonthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ParseMonth reads a period as written in the API, "2026-11".
func ParseMonth(s string) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, &InvalidError{Field: "month", Reason: fmt.Sprintf("%q is not a month (want YYYY-MM)", s)}
	}
	return m, nil
}

// ClosePeriod locks month: from then on, nothing changes the journals
// dated in it; a later run's change is booked as an adjustment in the
// first open month (see save). Closing a closed month is ErrPeriodState.
func (s *Service) ClosePeriod(ctx context.Context, month time.Time, actor string) (Period, error) {
	return s.setPeriod(ctx, MonthOf(month), PeriodClosed, actor, "")
}

// ReopenPeriod opens a closed month again; reason is mandatory. Journals
// that were adjusted while it was closed keep being adjusted, so nothing
// is booked twice.
func (s *Service) ReopenPeriod(ctx context.Context, month time.Time, actor, reason string) (Period, error) {
	if reason == "" {
		return Period{}, &InvalidError{Field: "reason", Reason: "required to reopen a period"}
	}
	return s.setPeriod(ctx, MonthOf(month), PeriodOpen, actor, reason)
}

func (s *Service) setPeriod(ctx context.Context, month time.Time, to PeriodStatus, actor, reason string) (Period, error) {
	if actor == "" {
		return Period{}, &InvalidError{Field: "actor", Reason: "required"}
	}
	var p Period
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		p, err = NewStore(tx).SetPeriod(ctx, month, to, actor, reason, s.now().UTC())
		return err
	})
	return p, err
}

// Periods returns every month that was ever closed, or that journals were
// saved in, newest first.
func (s *Service) Periods(ctx context.Context) ([]Period, error) {
	return NewStore(s.db).Periods(ctx)
}

// maxOpenSearch bounds the search for an open month after a closed one.
const maxOpenSearch = 1200

// save stores a batch's journal under the period lock of its month. While
// the month is open and the journal was never adjusted, it is Store.Save.
// Otherwise the journal as booked (its own lines and its adjustments') is
// kept, and a change is written as an adjustment journal of the
// difference, line by line, dated the first day of the first open month
// after the journal's; no change is a no-op. The month rows taken FOR
// SHARE make a concurrent close wait for this transaction, and this one
// wait for a close.
func save(ctx context.Context, st *Store, j Journal, f *Finding) (int64, Outcome, error) {
	month := MonthOf(j.Period)
	closed, err := st.LockMonth(ctx, month)
	if err != nil {
		return 0, "", err
	}
	b, found, err := st.Booked(ctx, j.BatchID, j.Currency, j.typ())
	if err != nil {
		return 0, "", err
	}
	switch {
	case found && b.Period.Format(time.DateOnly) != j.Period.Format(time.DateOnly):
		return b.ID, BookedElsewhere, nil
	case !closed && !b.Adjusted:
		return st.Save(ctx, j, f)
	case found && j.RunID < b.LastRun:
		return b.ID, Superseded, nil
	case found && j.RunID == b.LastRun:
		return b.ID, Unchanged, nil
	case f != nil:
		return b.ID, Locked, nil
	}
	if !found { // first seen after its month closed: an empty journal there, all of it adjusted in
		anchor := Journal{Type: j.Type, BatchID: j.BatchID, Currency: j.Currency, Period: j.Period, RunID: j.RunID, BuiltAt: j.BuiltAt}
		if b.ID, _, err = st.Save(ctx, anchor, nil); err != nil {
			return 0, "", err
		}
	}
	adj, changed, err := adjustment(j, b)
	if err != nil || !changed {
		return b.ID, Unchanged, err
	}
	for i, m := 0, month.AddDate(0, 1, 0); ; i, m = i+1, m.AddDate(0, 1, 0) {
		if i == maxOpenSearch {
			return 0, "", fmt.Errorf("no open month after %s", month.Format("2006-01"))
		}
		if closed, err = st.LockMonth(ctx, m); err != nil {
			return 0, "", err
		}
		if !closed {
			adj.Period = m
			break
		}
	}
	id, err := st.SaveAdjustment(ctx, adj)
	return id, Adjusted, err
}

// adjustment is what j changes in the journal as booked: per kind, the
// difference of the net amounts, on the side it moves.
func adjustment(j Journal, b Booked) (Journal, bool, error) {
	net := map[Kind]int64{}
	items := map[Kind]int64{}
	for _, l := range j.Lines {
		v, ok := add(net[l.Kind], l.Credit)
		if !ok {
			return Journal{}, false, fmt.Errorf("adjust journal %d: %s overflows", b.ID, l.Kind)
		}
		if net[l.Kind], ok = add(v, -l.Debit); !ok {
			return Journal{}, false, fmt.Errorf("adjust journal %d: %s overflows", b.ID, l.Kind)
		}
		items[l.Kind] += l.Items
	}
	adj := Journal{Type: j.Type, BatchID: j.BatchID, Currency: j.Currency, RunID: j.RunID, BuiltAt: j.BuiltAt, AdjustsID: b.ID,
		Items: j.Items}
	var ok bool
	if adj.Payout, ok = add(j.Payout, -b.Payout); !ok {
		return Journal{}, false, fmt.Errorf("adjust journal %d: payout overflows", b.ID)
	}
	for _, k := range Kinds {
		d, ok := add(net[k], -b.Net[k])
		if !ok {
			return Journal{}, false, fmt.Errorf("adjust journal %d: %s overflows", b.ID, k)
		}
		l := Line{Kind: k, Items: items[k], Description: fmt.Sprintf("%s: adjustment of journal %d by run %d", k, b.ID, j.RunID)}
		switch {
		case d > 0:
			l.Credit = d
		case d < 0:
			l.Debit = -d
		default:
			continue
		}
		adj.Lines = append(adj.Lines, l)
	}
	return adj, len(adj.Lines) > 0, nil
}
