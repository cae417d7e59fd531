package statement

import (
	"fmt"
	"sort"
	"time"

	"github.com/payops/payops/internal/money"
)

// Kind is a kind of finding about statements.
type Kind string

// The kinds Check reports.
const (
	// SumMismatch: the booked entries do not add up to closing − opening
	// (or cannot be added up: another currency, beyond int64).
	SumMismatch Kind = "STATEMENT_SUM_MISMATCH"
	// BalanceBreak: a statement's opening balance is not the closing
	// balance of the account's statement before it.
	BalanceBreak Kind = "STATEMENT_BALANCE_BREAK"
	// DayMissing: calendar days between two consecutive statements of an
	// account that neither covers. Weekends and bank holidays are
	// reported too: whether a day should have had a statement is the
	// caller's to decide, with its own calendar.
	DayMissing Kind = "STATEMENT_DAY_MISSING"
	// BalancesAbsent is a note, not a break: the statement carries no
	// opening or closing balance (a CSV export without them), so its sum
	// and its chaining were not checked.
	BalancesAbsent Kind = "STATEMENT_BALANCES_ABSENT"
)

// Finding is one result of Check, placed at the statement (or entry) it
// concerns.
type Finding struct {
	Kind        Kind
	Account     string // Account.String() of the statement
	StatementID string
	File        string
	Line        int // the statement's first line, or the entry's for a sum that could not be added up

	// Expected and Actual are, for SumMismatch, closing − opening and the
	// sum of the booked entries; for BalanceBreak, the previous closing
	// balance and this opening balance. Zero otherwise.
	Expected, Actual money.Money
	// Previous names the statement before this one, for BalanceBreak and
	// DayMissing: "id (file:line)".
	Previous string
	// From and To are the first and last missing day, for DayMissing.
	From, To time.Time
	Detail   string // a sentence for people
}

// Check checks statements on their own terms. Each statement's booked
// entries must add up to its closing − opening balance. Then the
// statements of each account and currency, put in date order, must chain:
// each opening equals the previous closing, and no calendar day lies
// between one statement's last day and the next one's first. Statements
// without an account are not chained (their parse already reported it).
//
// Findings come per statement in the order given, then per account in
// date order. Each statement should be passed once: the same statement
// from two files (an MT940 and a camt.053 of one day) breaks the chain.
func Check(stmts []Statement) []Finding {
	var out []Finding
	for _, s := range stmts {
		if f, ok := checkSum(s); !ok {
			out = append(out, f)
		}
	}
	var keys []string
	byAccount := map[string][]Statement{}
	for _, s := range stmts {
		if s.Account.String() == "" {
			continue
		}
		k := s.Account.String() + " " + s.Currency
		if _, seen := byAccount[k]; !seen {
			keys = append(keys, k)
		}
		byAccount[k] = append(byAccount[k], s)
	}
	for _, k := range keys {
		out = append(out, checkChain(byAccount[k])...)
	}
	return out
}

func finding(k Kind, s Statement) Finding {
	return Finding{Kind: k, Account: s.Account.String(), StatementID: s.ID, File: s.File, Line: s.Line}
}

// checkSum adds up a statement's booked entries with overflow-checked
// arithmetic and compares them with closing − opening.
func checkSum(s Statement) (Finding, bool) {
	o, c := s.OpeningBalance, s.ClosingBalance
	if !o.Valid || !c.Valid {
		f := finding(BalancesAbsent, s)
		f.Detail = "the statement has no opening or closing balance: its entries' sum and its chaining were not checked"
		return f, false
	}
	f := finding(SumMismatch, s)
	want, err := c.Money.Sub(o.Money)
	if err != nil {
		f.Detail = fmt.Sprintf("closing − opening cannot be computed: %v", err)
		return f, false
	}
	got := money.Money{Currency: want.Currency}
	for _, e := range s.Entries {
		if e.Status != Booked {
			continue
		}
		if got, err = got.Add(e.Amount); err != nil {
			f.Line = e.Line
			f.Detail = fmt.Sprintf("the entries cannot be added up at this entry: %v", err)
			return f, false
		}
	}
	if got == want {
		return Finding{}, true
	}
	f.Expected, f.Actual = want, got
	f.Detail = fmt.Sprintf("the booked entries add up to %s, but closing − opening is %s", got, want)
	return f, false
}

// checkChain checks the statements of one account and currency.
func checkChain(stmts []Statement) []Finding {
	sort.SliceStable(stmts, func(i, j int) bool {
		a, b := stmts[i], stmts[j]
		if !a.FromDate.Equal(b.FromDate) {
			return a.FromDate.Before(b.FromDate)
		}
		return a.ToDate.Before(b.ToDate)
	})
	var out []Finding
	for i := 1; i < len(stmts); i++ {
		prev, cur := stmts[i-1], stmts[i]
		name := fmt.Sprintf("%s (%s:%d)", prev.ID, prev.File, prev.Line)
		if pc, co := prev.ClosingBalance, cur.OpeningBalance; pc.Valid && co.Valid && pc.Money != co.Money {
			f := finding(BalanceBreak, cur)
			f.Expected, f.Actual, f.Previous = pc.Money, co.Money, name
			f.Detail = fmt.Sprintf("opening balance %s, but the previous statement closed at %s", co.Money, pc.Money)
			out = append(out, f)
		}
		if prev.ToDate.IsZero() || cur.FromDate.IsZero() {
			continue
		}
		if first := prev.ToDate.AddDate(0, 0, 1); cur.FromDate.After(first) {
			f := finding(DayMissing, cur)
			f.From, f.To, f.Previous = first, cur.FromDate.AddDate(0, 0, -1), name
			f.Detail = fmt.Sprintf("no statement covers %s to %s", f.From.Format(time.DateOnly), f.To.Format(time.DateOnly))
			out = append(out, f)
		}
	}
	return out
}
