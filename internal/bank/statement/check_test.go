package statement

import (
	"math"
	"strings"
	"testing"

	"github.com/payops/payops/internal/money"
)

// dayStmt builds a one-day statement of account A with the given balances and
// entry amounts (EUR cents).
func dayStmt(id, d string, open, close int64, amounts ...int64) Statement {
	s := Statement{
		Format: Camt053, File: id + ".xml", Line: 3, ID: id, Account: Account{IBAN: "DE89370400440532013000"}, Currency: "EUR",
		FromDate: date(d), ToDate: date(d),
		OpeningBalance: Balance{Money: eur(open), Valid: true},
		ClosingBalance: Balance{Money: eur(close), Valid: true},
	}
	for i, a := range amounts {
		s.Entries = append(s.Entries, Entry{Line: 10 + i, Amount: eur(a), Status: Booked, BookingDate: date(d)})
	}
	return s
}

func TestCheckClean(t *testing.T) {
	// Out of order on purpose: Check puts each account's days in order.
	stmts := []Statement{
		dayStmt("d3", "2026-12-03", 150, 100, -50),
		dayStmt("d1", "2026-12-01", 0, 100, 30, 70),
		dayStmt("d2", "2026-12-02", 100, 150, 50),
	}
	if f := Check(stmts); len(f) != 0 {
		t.Fatalf("Check: %+v", f)
	}
	if stmts[0].ID != "d3" {
		t.Errorf("Check reordered the caller's slice")
	}
}

func TestCheckSum(t *testing.T) {
	s := dayStmt("d1", "2026-12-01", 100, 200, 60, 30)
	s.Entries = append(s.Entries, Entry{Line: 20, Amount: eur(999), Status: "PDNG"}) // not booked: not counted
	f := Check([]Statement{s})
	if len(f) != 1 {
		t.Fatalf("Check: %+v", f)
	}
	want := Finding{Kind: SumMismatch, Account: "DE89370400440532013000", StatementID: "d1", File: "d1.xml", Line: 3,
		Expected: eur(100), Actual: eur(90), Detail: "the booked entries add up to EUR 0.90, but closing − opening is EUR 1.00"}
	if f[0] != want {
		t.Errorf("got %+v\nwant %+v", f[0], want)
	}
}

func TestCheckUnsummable(t *testing.T) {
	overflow := dayStmt("o", "2026-12-01", 0, 0, math.MaxInt64, 1)
	other := dayStmt("c", "2026-12-02", 0, 5, 5)
	other.Entries[0].Amount.Currency = "USD"
	closing := dayStmt("b", "2026-12-03", math.MinInt64, 1)
	for _, c := range []struct {
		s            Statement
		line         int
		detailPrefix string
	}{
		{overflow, 11, "the entries cannot be added up at this entry"},
		{other, 10, "the entries cannot be added up at this entry"},
		{closing, 3, "closing − opening cannot be computed"},
	} {
		f := Check([]Statement{c.s})
		if len(f) != 1 || f[0].Kind != SumMismatch || f[0].Line != c.line || !strings.HasPrefix(f[0].Detail, c.detailPrefix) {
			t.Errorf("%s: %+v", c.s.ID, f)
		}
	}
}

func TestCheckChain(t *testing.T) {
	stmts := []Statement{
		dayStmt("d1", "2026-12-01", 0, 100, 100),
		dayStmt("d2", "2026-12-02", 90, 90),      // opens at 90, the day before closed at 100
		dayStmt("d5", "2026-12-05", 90, 100, 10), // 3 and 4 December missing
		dayStmt("x1", "2026-12-01", 7, 7),        // another account: its own chain
		dayStmt("d5b", "2026-12-05", 100, 100),   // a second statement of the same day chains on
		dayStmt("u1", "2026-12-09", 100, 100),    // no account: not chained
	}
	stmts[3].Account = Account{Number: "other"}
	stmts[5].Account = Account{}
	f := Check(stmts)
	if len(f) != 2 {
		t.Fatalf("Check: %+v", f)
	}
	br, gap := f[0], f[1]
	if br.Kind != BalanceBreak || br.StatementID != "d2" || br.Expected != eur(100) || br.Actual != eur(90) ||
		br.Previous != "d1 (d1.xml:3)" || br.Detail != "opening balance EUR 0.90, but the previous statement closed at EUR 1.00" {
		t.Errorf("break: %+v", br)
	}
	if gap.Kind != DayMissing || gap.StatementID != "d5" || !gap.From.Equal(date("2026-12-03")) || !gap.To.Equal(date("2026-12-04")) ||
		gap.Previous != "d2 (d2.xml:3)" || gap.Detail != "no statement covers 2026-12-03 to 2026-12-04" {
		t.Errorf("gap: %+v", gap)
	}
}

func TestCheckBalancesAbsent(t *testing.T) {
	a := dayStmt("a", "2026-12-01", 0, 100, 100)
	b := dayStmt("b", "2026-12-02", 0, 0)
	b.OpeningBalance, b.ClosingBalance = Balance{}, Balance{}
	c := dayStmt("c", "2026-12-03", 5, 5)
	f := Check([]Statement{a, b, c})
	// b is noted; c's opening is compared with b's closing only, which is
	// absent, so nothing breaks around b.
	if len(f) != 1 || f[0].Kind != BalancesAbsent || f[0].StatementID != "b" {
		t.Fatalf("Check: %+v", f)
	}
	if f[0].Expected != (money.Money{}) || f[0].Detail == "" {
		t.Errorf("note: %+v", f[0])
	}
}
