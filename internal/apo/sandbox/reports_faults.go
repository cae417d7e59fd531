package sandbox

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"slices"
	"strconv"
)

// ReportFaults damages generated report files in known ways, for
// reconciliation tests. Every fault actually injected is reported back in
// ReportResult.Faults with its file, line and what changed; a fault with
// no line to hit (an empty day) is not injected. Summaries are computed
// from the true lines, so item faults also make the items disagree with
// their summary. Draws are seeded with Seed (default Config.Seed) and the
// date, so the same request on the same state damages the same lines.
type ReportFaults struct {
	Seed int64 `json:"seed,omitempty"`
	// DropLines leaves item lines out.
	DropLines FaultCount `json:"dropLines,omitzero"`
	// ChangeAmounts adds or takes 1-99 minor units: transactionAmountValue
	// in transaction details, settlementAmountValue in settlement details.
	ChangeAmounts FaultCount `json:"changeAmounts,omitzero"`
	// DuplicateLines writes item lines twice, one after the other.
	DuplicateLines FaultCount `json:"duplicateLines,omitzero"`
	// UnknownTransactions inserts CAPTURE lines with ids the sandbox never
	// issued.
	UnknownTransactions FaultCount `json:"unknownTransactions,omitzero"`
	// ChangeCurrency replaces transactionCurrency with another currency of
	// the same exponent (USD↔EUR, JPY↔KRW, KWD↔BHD).
	ChangeCurrency FaultCount `json:"changeCurrency,omitzero"`
	// BreakSummaryTotal changes settlementAmountValue of this many summary
	// rows by 1-99 minor units.
	BreakSummaryTotal int `json:"breakSummaryTotal,omitempty"`
	// OmitTrailer leaves <END> out of the file of each kind named
	// (transactionItems, settlementItems, settlementSummary); for the
	// settlement kinds, out of the first batch's file.
	OmitTrailer []string `json:"omitTrailer,omitempty"`
}

// FaultCount is how many lines of which report a fault hits. In JSON it
// is {"count": 2, "report": "settlementItems"} or just a number, which
// means that many lines of transactionItems.
type FaultCount struct {
	Count int `json:"count"`
	// Report is transactionItems (default) or settlementItems.
	Report string `json:"report,omitempty"`
}

// UnmarshalJSON accepts a bare count as well as the object.
func (c *FaultCount) UnmarshalJSON(data []byte) error {
	var n int
	if err := json.Unmarshal(data, &n); err == nil {
		*c = FaultCount{Count: n}
		return nil
	}
	type plain FaultCount
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*c = FaultCount(p)
	return nil
}

func (c FaultCount) report() string {
	if c.Report == "" {
		return KindTransactionItems
	}
	return c.Report
}

// Kinds of InjectedFault.
const (
	FaultDropLine           = "dropLine"
	FaultChangeAmount       = "changeAmount"
	FaultDuplicateLine      = "duplicateLine"
	FaultUnknownTransaction = "unknownTransaction"
	FaultChangeCurrency     = "changeCurrency"
	FaultBreakSummaryTotal  = "breakSummaryTotal"
	FaultOmitTrailer        = "omitTrailer"
)

// InjectedFault is one damage done to a report file.
type InjectedFault struct {
	Kind string `json:"kind"`
	File string `json:"file"`
	// Line is the physical line (the row in .xlsx) the fault is on, the
	// header being line 1. For dropLine it is where the line would have
	// been; for duplicateLine the second copy; 0 for omitTrailer.
	Line int `json:"line,omitempty"`
	// TransactionID and TransactionRequestID are the line's, as the file
	// writes them (in the newest generation a capture's transactionId is
	// its payment's id and its request id tells it apart).
	TransactionID        string `json:"transactionId,omitempty"`
	TransactionRequestID string `json:"transactionRequestId,omitempty"`
	TransactionType      string `json:"transactionType,omitempty"` // for breakSummaryTotal, the summaryType
	Column               string `json:"column,omitempty"`
	Old                  string `json:"old,omitempty"`
	New                  string `json:"new,omitempty"`
	Detail               string `json:"detail,omitempty"`
}

func (f ReportFaults) validate() error {
	counts := []struct {
		name string
		c    FaultCount
	}{{"dropLines", f.DropLines}, {"changeAmounts", f.ChangeAmounts}, {"duplicateLines", f.DuplicateLines},
		{"unknownTransactions", f.UnknownTransactions}, {"changeCurrency", f.ChangeCurrency}}
	for _, c := range counts {
		if c.c.Count < 0 {
			return fmt.Errorf("%s: count must not be negative", c.name)
		}
		if r := c.c.report(); r != KindTransactionItems && r != KindSettlementItems {
			return fmt.Errorf("%s: report must be %s or %s", c.name, KindTransactionItems, KindSettlementItems)
		}
	}
	if f.BreakSummaryTotal < 0 {
		return fmt.Errorf("breakSummaryTotal must not be negative")
	}
	for _, k := range f.OmitTrailer {
		if k != KindTransactionItems && k != KindSettlementItems && k != KindSettlementSummary {
			return fmt.Errorf("omitTrailer: unknown report %q", k)
		}
	}
	return nil
}

// faultPlan decides, before any line is written, which item lines the
// faults hit: lines are streamed, so each report's lines are numbered as
// they come and looked up here.
type faultPlan struct {
	rng       *mrand.Rand
	at        map[string]map[int]string // report kind → line index → fault kind
	next      map[string]int            // index of the next line per report kind
	breakRows int
	omit      map[string]bool
}

func newFaultPlan(f ReportFaults, seed uint64, day string, tdLines, sdLines int) *faultPlan {
	if f.Seed != 0 {
		seed = uint64(f.Seed)
	}
	h := fnv.New64a()
	h.Write([]byte(day))
	p := &faultPlan{
		rng:       mrand.New(mrand.NewPCG(seed, h.Sum64())),
		at:        map[string]map[int]string{KindTransactionItems: {}, KindSettlementItems: {}},
		next:      map[string]int{},
		breakRows: f.BreakSummaryTotal,
		omit:      map[string]bool{},
	}
	for _, k := range f.OmitTrailer {
		p.omit[k] = true
	}
	want := map[string][]string{}
	for _, c := range []struct {
		kind string
		c    FaultCount
	}{{FaultDropLine, f.DropLines}, {FaultChangeAmount, f.ChangeAmounts}, {FaultDuplicateLine, f.DuplicateLines},
		{FaultUnknownTransaction, f.UnknownTransactions}, {FaultChangeCurrency, f.ChangeCurrency}} {
		for range c.c.Count {
			want[c.c.report()] = append(want[c.c.report()], c.kind)
		}
	}
	// A fixed order: the draws must not depend on map iteration.
	for _, t := range []struct {
		report string
		n      int
	}{{KindTransactionItems, tdLines}, {KindSettlementItems, sdLines}} {
		report, n := t.report, t.n
		kinds := want[report]
		if len(kinds) > n {
			kinds = kinds[:n] // not enough lines: the rest cannot be injected
		}
		for i, idx := range p.distinct(len(kinds), n) {
			p.at[report][idx] = kinds[i]
		}
	}
	return p
}

// distinct draws k distinct indices below n.
func (p *faultPlan) distinct(k, n int) []int { return distinctIndices(p.rng, k, n) }

// distinctIndices draws k distinct indices below n.
func distinctIndices(rng *mrand.Rand, k, n int) []int {
	if k == 0 {
		return nil
	}
	if 2*k > n {
		return rng.Perm(n)[:k]
	}
	seen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		i := rng.IntN(n)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

func (p *faultPlan) omitsTrailer(kind string) bool { return p.omit[kind] }

// delta is a nonzero change of 1 to 99 minor units either way.
func (p *faultPlan) delta() int64 {
	d := int64(1 + p.rng.IntN(99))
	if p.rng.IntN(2) == 0 {
		return -d
	}
	return d
}

// apply writes line l (the next line of report kind) to out, damaged if
// the plan says so, and records the damage.
func (p *faultPlan) apply(run *reportRun, out *fileOut, kind string, l *line) error {
	i := p.next[kind]
	p.next[kind]++
	rec := l.record(run)
	items := run.layout.items
	fk := p.at[kind][i]
	f := InjectedFault{Kind: fk, File: out.name, TransactionID: l.fileTxID(run.generation),
		TransactionRequestID: l.txReqID, TransactionType: l.txType}
	switch fk {
	case "":
		return out.write(rec)
	case FaultDropLine:
		f.Line = out.lines + 1
		f.Detail = "line left out"
	case FaultChangeAmount:
		c, amt := col(items, "transactionAmountValue"), l.amount
		if kind == KindSettlementItems {
			c, amt = col(items, "settlementAmountValue"), l.settle
		}
		f.Column, f.Old = items[c], rec[c]
		rec[c] = formatMajor(amt.Value+p.delta(), amt.Currency)
		f.New = rec[c]
		if err := out.write(rec); err != nil {
			return err
		}
		f.Line = out.lines
	case FaultDuplicateLine:
		if err := out.write(rec); err != nil {
			return err
		}
		if err := out.write(rec); err != nil {
			return err
		}
		f.Line = out.lines
		f.Detail = "same as line " + strconv.Itoa(out.lines-1)
	case FaultUnknownTransaction:
		fake := p.unknownRecord(run, rec, l, kind)
		if err := out.write(fake); err != nil {
			return err
		}
		f.Line, f.TransactionType = out.lines, fake[col(items, "transactionType")]
		f.TransactionID, f.TransactionRequestID = fake[col(items, "transactionId")], fake[col(items, "transactionRequestId")]
		f.Detail = "a transaction the sandbox never made, inserted before " + l.fileTxID(run.generation) + " " + l.txReqID
		if err := out.write(rec); err != nil {
			return err
		}
	case FaultChangeCurrency:
		c := col(items, "transactionCurrency")
		f.Column, f.Old = items[c], rec[c]
		rec[c] = siblingCurrency(rec[c])
		f.New = rec[c]
		if err := out.write(rec); err != nil {
			return err
		}
		f.Line = out.lines
	}
	run.res.Faults = append(run.res.Faults, f)
	return nil
}

// unknownRecord makes a CAPTURE line like rec with ids nobody issued and
// an amount of its own, in the currency the line settles in.
func (p *faultPlan) unknownRecord(run *reportRun, rec []string, l *line, kind string) []string {
	fake := slices.Clone(rec)
	set := func(name, v string) {
		if i := col(run.layout.items, name); i >= 0 {
			fake[i] = v
		}
	}
	digits := randString(p.rng, "0123456789", 12)
	ccy := l.amount.Currency
	if kind == KindSettlementItems {
		ccy = l.settle.Currency
	}
	amt := int64(100 + p.rng.IntN(99900))
	set("transactionType", "CAPTURE")
	if run.generation == GenerationNewest {
		set("transactionId", "2099010111019"+digits) // a payment's id, as this generation names captures
	} else {
		set("transactionId", "2099010112019"+digits)
		set("originalTransactionId", "2099010111019"+digits)
	}
	set("transactionRequestId", "unknown-"+digits)
	set("originalTransactionRequestId", "unknown-pay-"+digits)
	set("acquirerReferenceNo", "UNKNOWN"+digits)
	set("ARN", "UNKNOWN"+digits)
	set("transactionAmountValue", formatMajor(amt, ccy))
	set("transactionCurrency", ccy)
	// No quote: the line is in its settlement currency.
	set("quoteCurrencyPair", "")
	set("quotePrice", "")
	set("convertedTransactionAmountValue", "")
	set("convertedCurrency", "")
	if kind == KindSettlementItems || l.settled {
		set("settlementAmountValue", formatMajor(amt, ccy))
		set("settlementCurrency", ccy)
		set("feeAmountValue", formatMajor(0, ccy))
		set("feeCurrency", ccy)
	}
	set("status", statusSuccess)
	return fake
}

// siblingCurrency is another currency with the same number of decimals,
// so the damaged amount still parses.
func siblingCurrency(ccy string) string {
	exp, _ := currencyExponent(ccy)
	pairs := map[int][2]string{0: {"JPY", "KRW"}, 2: {"USD", "EUR"}, 3: {"KWD", "BHD"}}
	pair := pairs[exp]
	if ccy == pair[0] {
		return pair[1]
	}
	return pair[0]
}

// breakSummaries changes settlementAmountValue in breakRows summary rows,
// chosen among all batches' rows, and records each change.
func (p *faultPlan) breakSummaries(run *reportRun, sums []*summaryOut) {
	total := 0
	for _, s := range sums {
		total += len(s.rows)
	}
	k := min(p.breakRows, total)
	for _, idx := range p.distinct(k, total) {
		for _, s := range sums {
			if idx >= len(s.rows) {
				idx -= len(s.rows)
				continue
			}
			row := s.rows[idx]
			b := s.batch
			settle, typ := col(run.layout.summary, "settlementAmountValue"), col(run.layout.summary, "summaryType")
			old := row[settle]
			row[settle] = formatMajor(s.settle[idx]+p.delta(), b.currency)
			run.res.Faults = append(run.res.Faults, InjectedFault{
				Kind: FaultBreakSummaryTotal, File: fmt.Sprintf("settlementSummary_%s_%s_000.%s", b.currency, b.id, run.format),
				Line: idx + 2, TransactionType: row[typ], Column: run.layout.summary[settle], Old: old, New: row[settle],
			})
			break
		}
	}
}
