package bank

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/payops/payops/internal/bank/statement"
)

// check stores what statement.Check finds about newly stored statements:
// each one's sum, from its entries, and the chaining of each account's
// statements around them, from the stored balances and periods. A new
// statement can mend or break the chaining of the stored statement after
// it (a missing day filled in, a balance that now has a predecessor), so
// the chain findings of every statement whose predecessor may have changed
// are found again, and the statuses of all of them set.
func (s *Service) check(ctx context.Context, st *Store, stmts []parsed, rows []stored, now time.Time) error {
	var (
		found   []Finding
		touched []int64
		spans   = map[int64][2]time.Time{} // per account: the first and last first day of its new statements
	)
	for i, p := range stmts {
		touched = append(touched, rows[i].id)
		// One statement at a time: its own sum, placed on its row.
		for _, f := range statement.Check([]statement.Statement{p.Statement}) {
			if f.Kind == statement.SumMismatch {
				found = append(found, findingOf(f, rows[i].id, 0, now))
			}
		}
		span, ok := spans[p.account.ID]
		if !ok || p.FromDate.Before(span[0]) {
			span[0] = p.FromDate
		}
		if !ok || p.FromDate.After(span[1]) {
			span[1] = p.FromDate
		}
		spans[p.account.ID] = span
	}
	accounts := make([]int64, 0, len(spans))
	for id := range spans {
		accounts = append(accounts, id)
	}
	slices.Sort(accounts)
	for _, id := range accounts {
		chain, err := st.Neighbourhood(ctx, id, spans[id][0], spans[id][1])
		if err != nil {
			return err
		}
		if len(chain) < 2 {
			continue
		}
		// The first is the statement before the new ones (or the first
		// of all): its own predecessor is not in the chain, and its
		// findings about it stand.
		renew := make([]int64, len(chain)-1)
		for i, c := range chain[1:] {
			renew[i] = c.ID
		}
		if err := st.DeleteChainFindings(ctx, renew); err != nil {
			return err
		}
		touched = append(touched, renew...)
		found = append(found, chainFindings(chain, now)...)
	}
	if err := st.AddFindings(ctx, found); err != nil {
		return err
	}
	return st.SetStatuses(ctx, touched)
}

// chainFindings checks the chaining of stored statements of one account,
// given in chain order. Each statement's File is its index in chain, which
// is how a finding finds its row and the row before it: Check keeps the
// order of statements whose periods tie.
func chainFindings(chain []chainRow, now time.Time) []Finding {
	stmts := make([]statement.Statement, len(chain))
	for i, c := range chain {
		stmts[i] = statement.Statement{ID: c.StatementID, File: strconv.Itoa(i), Line: c.Line,
			Account: statement.Account{Number: "this"}, Currency: c.Currency, FromDate: dateOf(c.FromDate),
			ToDate: dateOf(c.ToDate), OpeningBalance: balanceOf(c.OpeningMinor, c.OpeningDate, c.Currency),
			ClosingBalance: balanceOf(c.ClosingMinor, c.ClosingDate, c.Currency)}
	}
	var out []Finding
	for _, f := range statement.Check(stmts) {
		switch {
		case f.Kind != statement.BalanceBreak && f.Kind != statement.DayMissing:
			continue // sums need the entries, and were found when each statement arrived
		case f.Kind == statement.DayMissing && weekend(f.From, f.To):
			continue
		}
		i, _ := strconv.Atoi(f.File) // ≥ 1: the first statement has no predecessor to break with
		out = append(out, findingOf(f, chain[i].ID, chain[i-1].ID, now))
	}
	return out
}

// weekend reports whether every day from from to to is a Saturday or a
// Sunday: banks issue no statement for a weekend, and the balances
// chaining across it show that nothing was booked then.
func weekend(from, to time.Time) bool {
	if to.Sub(from) > 24*time.Hour {
		return false
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return false
		}
	}
	return true
}

func findingOf(f statement.Finding, id, previous int64, now time.Time) Finding {
	return Finding{StatementID: id, Kind: f.Kind, Line: f.Line, PreviousStatementID: previous, Expected: f.Expected,
		Actual: f.Actual, MissingFrom: f.From, MissingTo: f.To, Detail: f.Detail, CreatedAt: now}
}
