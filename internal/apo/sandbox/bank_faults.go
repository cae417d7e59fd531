package sandbox

import (
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"time"
)

// BankFaults changes what the bank pays, in known ways, for payout
// matching tests. Faults hit only payouts due within the request's range
// (a late one only when its late day is in the range too) and are drawn
// among positive payouts, no batch hit twice; one that finds nothing to
// hit is not injected. Each fault injected is listed in
// BankStatementResult.Faults. Draws are seeded with Seed (default
// Config.Seed) and the range, not the format, so a camt.053 and an MT940
// request of the same range and state carry the same faults.
type BankFaults struct {
	Seed int64 `json:"seed,omitempty"`
	// WithholdPayout: the payout is never credited.
	WithholdPayout int `json:"withholdPayout,omitempty"`
	// ShortPayout: the payout arrives less ShortFeeMinor, an intermediary
	// bank's charge (minor units, default 1500).
	ShortPayout   int   `json:"shortPayout,omitempty"`
	ShortFeeMinor int64 `json:"shortFeeMinor,omitempty"`
	// LatePayout: the payout arrives LateDays business days after it is
	// due (default 3).
	LatePayout int `json:"latePayout,omitempty"`
	LateDays   int `json:"lateDays,omitempty"`
	// CombinePayouts: this many pairs of batches of one account, due the
	// same day, are paid in one credit whose references name both.
	CombinePayouts int `json:"combinePayouts,omitempty"`
	// UnrelatedCredit: a credit from the remitter, on a business day of
	// the range, that names no batch.
	UnrelatedCredit int `json:"unrelatedCredit,omitempty"`
	// BreakChain: a statement (not an account's first of the range) opens
	// at other than the previous closing balance; its own entries still
	// add up, and the statements after it chain from it.
	BreakChain int `json:"breakChain,omitempty"`
}

// Kinds of InjectedBankFault.
const (
	FaultWithholdPayout  = "withholdPayout"
	FaultShortPayout     = "shortPayout"
	FaultLatePayout      = "latePayout"
	FaultCombinePayouts  = "combinePayouts"
	FaultUnrelatedCredit = "unrelatedCredit"
	FaultBreakChain      = "breakChain"
)

// InjectedBankFault is one fault in the statements written.
type InjectedBankFault struct {
	Kind string `json:"kind"`
	// BatchID is the batch the fault hits; for combinePayouts the first
	// of the two, PairedBatchID the second. Empty for unrelatedCredit and
	// breakChain.
	BatchID       string `json:"batchId,omitempty"`
	PairedBatchID string `json:"pairedBatchId,omitempty"`
	Currency      string `json:"currency"`
	// Date is the day of the statement that shows the fault: the due day
	// of a withheld payout, the day a payout or credit is booked, the day
	// whose opening breaks the chain.
	Date string `json:"date"`
	File string `json:"file"` // the statement's Name
	// Expected and Actual, in minor units: the payout and what was paid
	// (withhold: 0; combine: the two payouts' sum and the credit; late:
	// both the payout); for unrelatedCredit 0 and the credit; for
	// breakChain the previous closing and this opening balance.
	Expected int64  `json:"expected"`
	Actual   int64  `json:"actual"`
	Detail   string `json:"detail"`
}

// maxBankFaults bounds each count; more than there are payouts is pointless.
const maxBankFaults = 10000

func (f BankFaults) validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"withholdPayout", f.WithholdPayout}, {"shortPayout", f.ShortPayout}, {"latePayout", f.LatePayout},
		{"combinePayouts", f.CombinePayouts}, {"unrelatedCredit", f.UnrelatedCredit}, {"breakChain", f.BreakChain}} {
		if c.n < 0 || c.n > maxBankFaults {
			return fmt.Errorf("%s must be 0-%d", c.name, maxBankFaults)
		}
	}
	if f.ShortFeeMinor < 0 || f.ShortFeeMinor > 1e12 {
		return errors.New("shortFeeMinor must be 0-1,000,000,000,000")
	}
	if f.LateDays < 0 || f.LateDays > 30 {
		return errors.New("lateDays must be 0-30")
	}
	return nil
}

func (f BankFaults) withDefaults() BankFaults {
	if f.ShortFeeMinor == 0 {
		f.ShortFeeMinor = 1500
	}
	if f.LateDays == 0 {
		f.LateDays = 3
	}
	return f
}

// bankPlan draws the faults of one request.
type bankPlan struct {
	f   BankFaults
	rng *mrand.Rand
}

func newBankPlan(f BankFaults, seed uint64, salt string) *bankPlan {
	if f.Seed != 0 {
		seed = uint64(f.Seed)
	}
	h := fnv.New64a()
	h.Write([]byte("bank" + salt))
	return &bankPlan{f: f, rng: mrand.New(mrand.NewPCG(seed, h.Sum64()))}
}

// bankCredit is a booking on the account of currency on day.
type bankCredit struct {
	currency string
	day      time.Time
	entry    bankEntry
}

// combinedInto marks the second batch of a combined credit.
const combinedInto = "combinedInto"

// pay books every payout due, as the faults say.
func (p *bankPlan) pay(s *Server, payouts []payoutDue, to time.Time, res *BankStatementResult) ([]bankCredit, error) {
	kind := make([]string, len(payouts))
	partner := map[int]int{}
	perm := p.rng.Perm(len(payouts))
	free := func(j int) bool { return kind[j] == "" && payouts[j].amount > 0 }
	// Pairs first: they need two batches of one account due the same day.
	for range p.f.CombinePayouts {
		found := false
		for _, j := range perm {
			if !free(j) {
				continue
			}
			k := slices.IndexFunc(perm, func(k int) bool {
				return k != j && free(k) && payouts[k].currency == payouts[j].currency && payouts[k].due.Equal(payouts[j].due)
			})
			if k >= 0 {
				kind[j], kind[perm[k]], partner[j] = FaultCombinePayouts, combinedInto, perm[k]
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	take := func(fk string, n int, ok func(payoutDue) bool) {
		for range n {
			i := slices.IndexFunc(perm, func(j int) bool { return free(j) && ok(payouts[j]) })
			if i < 0 {
				return
			}
			kind[perm[i]] = fk
		}
	}
	take(FaultLatePayout, p.f.LatePayout, func(pd payoutDue) bool { return !addBusinessDays(pd.due, p.f.LateDays).After(to) })
	take(FaultShortPayout, p.f.ShortPayout, func(pd payoutDue) bool { return pd.amount > p.f.ShortFeeMinor })
	take(FaultWithholdPayout, p.f.WithholdPayout, func(payoutDue) bool { return true })

	var out []bankCredit
	book := func(ps []payoutDue, paid []int64, amount int64, day time.Time) {
		out = append(out, bankCredit{currency: ps[0].currency, day: day, entry: s.payoutEntry(ps, paid, amount, day)})
	}
	for j, pd := range payouts {
		f := InjectedBankFault{Kind: kind[j], BatchID: pd.batchID, Currency: pd.currency, Date: pd.due.Format(dayLayout),
			Expected: pd.amount, Actual: pd.amount}
		amt := formatMajor(pd.amount, pd.currency)
		switch kind[j] {
		case "":
			if pd.amount != 0 {
				book([]payoutDue{pd}, []int64{pd.amount}, pd.amount, pd.due)
			}
			continue
		case combinedInto:
			continue
		case FaultWithholdPayout:
			f.Actual = 0
			f.Detail = fmt.Sprintf("the payout of %s %s due on %s was never credited", amt, pd.currency, f.Date)
		case FaultShortPayout:
			f.Actual = pd.amount - p.f.ShortFeeMinor
			book([]payoutDue{pd}, []int64{f.Actual}, f.Actual, pd.due)
			f.Detail = fmt.Sprintf("the payout of %s %s was credited %s, less an intermediary bank's charge of %s",
				amt, pd.currency, formatMajor(f.Actual, pd.currency), formatMajor(p.f.ShortFeeMinor, pd.currency))
		case FaultLatePayout:
			day := addBusinessDays(pd.due, p.f.LateDays)
			f.Date = day.Format(dayLayout)
			book([]payoutDue{pd}, []int64{pd.amount}, pd.amount, day)
			f.Detail = fmt.Sprintf("the payout due on %s was credited on %s, %d business days late", pd.due.Format(dayLayout), f.Date, p.f.LateDays)
		case FaultCombinePayouts:
			q := payouts[partner[j]]
			sum, ok := addMinor(pd.amount, q.amount)
			if !ok {
				return nil, fmt.Errorf("payouts %s and %s overflow when combined", pd.batchID, q.batchID)
			}
			f.PairedBatchID, f.Expected, f.Actual = q.batchID, sum, sum
			book([]payoutDue{pd, q}, []int64{pd.amount, q.amount}, sum, pd.due)
			f.Detail = fmt.Sprintf("batches %s (%s) and %s (%s) were paid in one credit of %s", pd.batchID, amt,
				q.batchID, formatMajor(q.amount, q.currency), formatMajor(sum, pd.currency))
		}
		res.Faults = append(res.Faults, f)
	}
	return out, nil
}

// unrelated books the credits from the remitter that name no batch.
func (p *bankPlan) unrelated(s *Server, currencies []string, from, to time.Time, res *BankStatementResult) []bankCredit {
	var days []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if businessDay(d) {
			days = append(days, d)
		}
	}
	if len(days) == 0 || len(currencies) == 0 {
		return nil
	}
	var out []bankCredit
	for range p.f.UnrelatedCredit {
		ccy := currencies[p.rng.IntN(len(currencies))]
		day := days[p.rng.IntN(len(days))]
		exp, _ := currencyExponent(ccy)
		unit := pow10(exp)
		amount := int64(100+p.rng.IntN(9900))*unit + p.rng.Int64N(unit)
		ref := fmt.Sprintf("%08d", p.rng.IntN(100_000_000))
		e := bankEntry{amount: amount, e2e: "ANTOM-ADJ-" + ref, remit: "SETTLEMENT ADJUSTMENT " + ref,
			counterparty: s.bank.remitter, code: [3]string{"PMNT", "RCDT", "ESCT"}}
		out = append(out, bankCredit{currency: ccy, day: day, entry: e})
		res.Faults = append(res.Faults, InjectedBankFault{Kind: FaultUnrelatedCredit, Currency: ccy, Date: day.Format(dayLayout),
			Actual: amount, Detail: fmt.Sprintf("a credit of %s %s from %s that names no batch (%q)", formatMajor(amount, ccy), ccy, s.bank.remitter, e.remit)})
	}
	return out
}

// breakChains moves the balances of BreakChain statements, and of every
// later statement of their account, by 1 to 99,999 minor units either way.
func (p *bankPlan) breakChains(byAccount [][]*bankStmt, res *BankStatementResult) error {
	type at struct{ acct, day int }
	var cands []at
	for a, sts := range byAccount {
		for d := 1; d < len(sts); d++ {
			cands = append(cands, at{a, d})
		}
	}
	picked := distinctIndices(p.rng, min(p.f.BreakChain, len(cands)), len(cands))
	sort.Ints(picked)
	for _, i := range picked {
		c := cands[i]
		sts := byAccount[c.acct]
		delta := int64(1 + p.rng.IntN(99999))
		if p.rng.IntN(2) == 0 {
			delta = -delta
		}
		for _, st := range sts[c.day:] {
			var ok1, ok2 bool
			st.opening, ok1 = addMinor(st.opening, delta)
			st.closing, ok2 = addMinor(st.closing, delta)
			if !ok1 || !ok2 {
				return fmt.Errorf("balance of %s overflows", st.iban)
			}
		}
		st, prev := sts[c.day], sts[c.day-1]
		res.Faults = append(res.Faults, InjectedBankFault{Kind: FaultBreakChain, Currency: st.currency, Date: st.day.Format(dayLayout),
			Expected: prev.closing, Actual: st.opening,
			Detail: fmt.Sprintf("opening balance %s, but the statement of %s closed at %s", formatMajor(st.opening, st.currency),
				prev.day.Format(dayLayout), formatMajor(prev.closing, st.currency))})
	}
	return nil
}

// name fills in each fault's File: the statement of its currency and day.
func (p *bankPlan) name(faults []InjectedBankFault, stmts []*bankStmt) {
	names := map[string]string{}
	for _, st := range stmts {
		names[st.currency+st.day.Format(dayLayout)] = st.name
	}
	for i := range faults {
		faults[i].File = names[faults[i].Currency+faults[i].Date]
	}
}
