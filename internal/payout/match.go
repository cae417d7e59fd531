package payout

import (
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/payops/payops/internal/bank"
)

// matcher links unmatched credits to unmatched payouts in memory; the
// links it adds are written by the caller. Links already stored are kept
// (sticky): a later statement never moves an earlier match.
type matcher struct {
	cfg Config
	// period is the run's: the amount passes leave credits booked after it
	// to the run of their booking date, when every batch they could pay
	// is registered (a batch is paid after it settles). Taken earlier, the
	// credit of a batch not yet registered would fit another by amount,
	// and links are sticky.
	period    time.Time
	payouts   []*Payout // due date, id order
	byAccount map[int64][]*Payout
	credits   []bank.Credit   // booking date, id order
	linked    map[int64]bool  // entry ids with a link
	ambiguous map[int64]bool  // entry ids that fit several payouts by amount: not matched by a group either
	paid      map[int64]int64 // payout id → non-duplicate allocations
	added     []Link
}

func newMatcher(cfg Config, period time.Time, payouts []*Payout, credits []bank.Credit) *matcher {
	m := &matcher{cfg: cfg, period: period, payouts: payouts, byAccount: map[int64][]*Payout{}, credits: credits,
		linked: map[int64]bool{}, ambiguous: map[int64]bool{}, paid: map[int64]int64{}}
	for _, p := range payouts {
		if p.AccountID != 0 {
			m.byAccount[p.AccountID] = append(m.byAccount[p.AccountID], p)
		}
		for _, l := range p.Links {
			m.linked[l.EntryID] = true
			if !l.Duplicate {
				m.paid[p.ID] = addCapped(m.paid[p.ID], l.Amount)
			}
		}
	}
	return m
}

func (m *matcher) tolerance(ccy string) int64 { return m.cfg.Tolerance[ccy] }

// fullyPaid: nothing more is owed beyond what an intermediary may keep.
func (m *matcher) fullyPaid(p *Payout) bool { return m.paid[p.ID] >= p.Amount-m.tolerance(p.Currency) }

func (m *matcher) link(p *Payout, c bank.Credit, amount int64, method Method, dup bool) {
	l := Link{PayoutID: p.ID, EntryID: c.ID, Amount: amount, Method: method, Duplicate: dup, BookedOn: c.BookingDate}
	if !dup {
		m.paid[p.ID] = addCapped(m.paid[p.ID], amount)
		if short := p.Amount - m.paid[p.ID]; short > 0 && short <= m.tolerance(p.Currency) {
			l.Fee = short
		}
	}
	m.linked[c.ID] = true
	p.Links = append(p.Links, l)
	m.added = append(m.added, l)
}

// match runs the reference pass, then the amount passes.
func (m *matcher) match() {
	m.byReference()
	m.byAmount()
	m.byAmountGroup()
}

// byReference links each credit to the payouts of its account whose batch
// id it names: one payout (several credits may name it: N:1), or several
// (1:N, the credit allocated to them in due order, the last taking what is
// left). A credit naming only payouts already paid in full is a duplicate.
func (m *matcher) byReference() {
	for _, c := range m.credits {
		if m.linked[c.ID] {
			continue
		}
		text := strings.ToUpper(refText(c))
		var named, unpaid []*Payout
		for _, p := range m.byAccount[c.AccountID] {
			if containsToken(text, strings.ToUpper(p.BatchID)) {
				named = append(named, p)
				if !m.fullyPaid(p) {
					unpaid = append(unpaid, p)
				}
			}
		}
		switch {
		case len(named) == 0:
		case len(unpaid) == 0:
			m.link(named[0], c, c.Amount.Minor, MethodReference, true)
		default:
			rest := c.Amount.Minor
			for i, p := range unpaid {
				alloc := rest
				if owed := p.Amount - m.paid[p.ID]; i < len(unpaid)-1 && owed < alloc {
					alloc = owed
				}
				rest -= alloc
				m.link(p, c, alloc, MethodReference, false)
			}
		}
	}
}

// fits reports whether a credit of amount booked on booked can pay an
// amount due on due in account's currency: equal or short within the
// tolerance, inside the date window.
func (m *matcher) fits(amount int64, ccy string, due time.Time, c bank.Credit) bool {
	if c.Amount.Currency != ccy || c.Amount.Minor > amount || c.Amount.Minor < amount-m.tolerance(ccy) {
		return false
	}
	days := int(c.BookingDate.Sub(due).Hours() / 24)
	return days <= m.window() && days >= -m.window()
}

func (m *matcher) window() int {
	if m.cfg.WindowDays > 0 {
		return m.cfg.WindowDays
	}
	return DefaultWindowDays
}

// byAmount links a credit and a payout without links when each is the
// other's only candidate.
func (m *matcher) byAmount() {
	perCredit, perPayout := map[int64][]*Payout{}, map[int64][]int{}
	for i, c := range m.credits {
		if m.linked[c.ID] || c.BookingDate.After(m.period) {
			continue
		}
		for _, p := range m.byAccount[c.AccountID] {
			if len(p.Links) == 0 && m.fits(p.Amount, p.Currency, p.DueDate, c) {
				perCredit[c.ID] = append(perCredit[c.ID], p)
				perPayout[p.ID] = append(perPayout[p.ID], i)
			}
		}
	}
	for _, c := range m.credits {
		switch ps := perCredit[c.ID]; {
		case len(ps) == 1 && len(perPayout[ps[0].ID]) == 1:
			m.link(ps[0], c, c.Amount.Minor, MethodAmount, false)
		case len(ps) > 0:
			m.ambiguous[c.ID] = true
		}
	}
}

// group is the payouts without links of one account and currency due on
// one day.
type group struct {
	key     string
	payouts []*Payout
	sum     int64
}

// byAmountGroup links a credit to all the payouts of its account due on
// one day (two or more) when it pays their sum and each is the other's
// only candidate: APO paying several batches in one transfer.
func (m *matcher) byAmountGroup() {
	groups := map[string]*group{}
	var keys []string
	for _, p := range m.payouts {
		if p.AccountID == 0 || len(p.Links) > 0 {
			continue
		}
		k := strings.Join([]string{itoa(p.AccountID), p.Currency, p.DueDate.Format(time.DateOnly)}, "|")
		g := groups[k]
		if g == nil {
			g = &group{key: k}
			groups[k], keys = g, append(keys, k)
		}
		g.payouts = append(g.payouts, p)
		g.sum = addCapped(g.sum, p.Amount)
	}
	sort.Strings(keys)
	perCredit, perGroup := map[int64][]*group{}, map[string]int{}
	for _, c := range m.credits {
		if m.linked[c.ID] || m.ambiguous[c.ID] || c.BookingDate.After(m.period) {
			continue
		}
		for _, k := range keys {
			g := groups[k]
			p := g.payouts[0]
			if len(g.payouts) > 1 && p.AccountID == c.AccountID && m.fits(g.sum, p.Currency, p.DueDate, c) {
				perCredit[c.ID] = append(perCredit[c.ID], g)
				perGroup[k]++
			}
		}
	}
	for _, c := range m.credits {
		gs := perCredit[c.ID]
		if len(gs) != 1 || perGroup[gs[0].key] != 1 {
			continue
		}
		short := gs[0].sum - c.Amount.Minor
		for i, p := range gs[0].payouts {
			alloc := p.Amount
			if i == len(gs[0].payouts)-1 {
				alloc -= short
			}
			m.link(p, c, alloc, MethodAmountGroup, false)
		}
	}
}

// refText is every reference and text of a credit where APO may have put a
// batch id, a batched entry's transaction details included.
func refText(c bank.Credit) string {
	parts := []string{c.EndToEndID, c.Reference, c.CreditorRef, c.RemittanceInfo, c.AccountServicerRef}
	for _, t := range c.Transactions {
		parts = append(parts, t.EndToEndID, t.Reference, t.CreditorRef, t.RemittanceInfo, t.AccountServicerRef)
	}
	return strings.Join(parts, "\n")
}

// containsToken reports whether tok occurs in s with no letter or digit
// right before or after it: batch "B12" is not named by "B123".
func containsToken(s, tok string) bool {
	if tok == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(s[from:], tok)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(tok)
		if (i == 0 || !alnumBefore(s[:i])) && (end == len(s) || !alnumAfter(s[end:])) {
			return true
		}
		from = i + 1
	}
}

func alnumBefore(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isAlnum(r)
}

func alnumAfter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isAlnum(r)
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// fromRemitter reports whether a credit names one of the account's
// remitters (APO) as its payer or in its remittance text.
func fromRemitter(c bank.Credit, remitters []string) bool {
	name, remi := strings.ToUpper(c.CounterpartyName), strings.ToUpper(c.RemittanceInfo)
	for _, r := range remitters {
		if r = strings.ToUpper(strings.TrimSpace(r)); r != "" && (strings.Contains(name, r) || strings.Contains(remi, r)) {
			return true
		}
	}
	return false
}
