package recon

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// class says how a settlement item's type moves the batch's payout.
type class int

const (
	classCapture class = iota
	classRefund
	classDispute
	classFee
	classReserve
	classNone  // no money moves (authorisations, cancels)
	classOther // reversals and types we do not know: taken as signed in the file
)

// classify returns a transaction type's class and the sign of its
// magnitude in the payout. Magnitudes are used because APO's sign convention
// is unconfirmed; the type says the direction.
func classify(txType string) (class, int64) {
	switch txType {
	case "CAPTURE", "PAYMENT":
		return classCapture, 1
	case "REFUND":
		return classRefund, -1
	case "DISPUTE", "RAPID_DISPUTE_RESOLUTION":
		return classDispute, -1
	case "DISPUTE_REVERSAL":
		return classDispute, 1
	case "SETTLEMENT_FEE":
		return classFee, -1
	case "RESERVE_WITHHOLDING", "COLLATERAL_WITHHOLDING":
		return classReserve, -1
	case "RESERVE_RELEASE", "COLLATERAL_RELEASE":
		return classReserve, 1
	case "AUTHORIZATION", "CANCEL", "VOID":
		return classNone, 0
	}
	return classOther, 0
}

// totalSummaryTypes name the summary line that carries a batch's payout.
var totalSummaryTypes = map[string]bool{"": true, "TOTAL": true, "NET": true, "SETTLEMENT": true}

// Amount conventions a deployment may fix (RECON_AMOUNT_CONVENTION). APO
// documents neither whether settlementAmountValue is before or after the
// line's fee nor how refunds and fees are signed (apo-reference.md §6.2,
// §9), so by default each batch is read the way its lines add up to its
// summary.
const (
	ConventionAuto  = "auto"  // each batch read the first way (gross, net; signs by type, as written) that adds up
	ConventionGross = "gross" // settlementAmountValue before fees; the fees are in feeAmountValue
	ConventionNet   = "net"   // settlementAmountValue after the line's fee; feeAmountValue says what was taken
)

// convention is one reading of a batch's amounts.
type convention struct {
	// net: settlementAmountValue is each line's net, its fee already
	// deducted; only a line with no settlement amount (a fee-only line)
	// takes its feeAmountValue off the payout. Otherwise every line's fee
	// is deducted from the gross settlement amounts.
	net bool
	// written: amounts count with the sign the file gives them. Otherwise
	// magnitudes count, in the direction the transaction type gives
	// (classify), which reads refunds and fees written either way.
	written bool
}

func (c convention) String() string {
	s := ConventionGross
	if c.net {
		s = ConventionNet
	}
	if c.written {
		s += ", signs as written"
	}
	return s
}

// conventions lists the readings a setting allows, in order of preference:
// signs by type come first, as they read both sign styles; signs as written
// explain what they cannot, a line whose sign goes against its type (a
// capture whose fee exceeds it, written net).
func conventions(setting string) []convention {
	switch setting {
	case ConventionGross:
		return []convention{{}, {written: true}}
	case ConventionNet:
		return []convention{{net: true}, {net: true, written: true}}
	}
	return []convention{{}, {net: true}, {written: true}, {net: true, written: true}}
}

type batchKey struct{ id, ccy string }

// typeAmount is what one transaction type's items move under c, signed by
// their effect on the payout, and the fees deducted with them (positive).
func typeAmount(s batchTypeSum, c convention) (cl class, amount, fees int64) {
	cl, dir := classify(s.TransactionType)
	switch {
	case cl == classNone:
	case c.written || cl == classOther:
		amount = s.Signed
	default:
		amount = dir * s.Magnitude
	}
	fees = s.Fees
	if c.net {
		fees = s.FeeOnly
	}
	return cl, amount, fees
}

// rollUp fills b's roll-forward from its items read under c.
func rollUp(b *Batch, types map[string]batchTypeSum, c convention) {
	b.Captures, b.Refunds, b.Disputes, b.Fees, b.Reserves, b.Other = 0, 0, 0, 0, 0, 0
	sat := &b.Saturated
	*sat = false
	for _, s := range types {
		*sat = *sat || s.Saturated
		cl, amount, fees := typeAmount(s, c)
		b.Fees = subSat(b.Fees, fees, sat)
		switch cl {
		case classCapture:
			b.Captures = addSat(b.Captures, amount, sat)
		case classRefund:
			b.Refunds = addSat(b.Refunds, amount, sat)
		case classDispute:
			b.Disputes = addSat(b.Disputes, amount, sat)
		case classFee:
			b.Fees = addSat(b.Fees, amount, sat)
		case classReserve:
			b.Reserves = addSat(b.Reserves, amount, sat)
		case classOther:
			b.Other = addSat(b.Other, amount, sat)
		}
	}
	b.Computed = 0
	for _, v := range []int64{b.Captures, b.Refunds, b.Disputes, b.Fees, b.Reserves, b.Other} {
		b.Computed = addSat(b.Computed, v, sat)
	}
	b.Convention = c.String()
}

// rollForward builds each batch's roll-forward from its items and checks it
// against the summary: captures − refunds − disputes − fees ± reserves
// (± other) must equal the summary's settlement amount, and the summary's
// count the number of items. The amounts are read under each convention
// the setting allows until one adds up; a batch no convention explains is
// one BATCH_TOTAL_MISMATCH naming what each gave. A batch without a total
// is read the way most batches of the run were. A per-type summary line
// (e.g. RESERVE_WITHHOLDING) must equal the magnitude, gross or net, and
// count of that type's items.
func rollForward(sums []batchTypeSum, summaries []summaryLine, setting string) ([]Batch, []Discrepancy) {
	bk := newBatchBook(conventions(setting), sums)
	perType := bk.readTotals(summaries)
	usual := bk.fitConventions()
	for k, b := range bk.batches {
		bk.checkTotal(k, b, usual)
	}
	for _, c := range perType {
		bk.checkTypeLine(c)
	}
	return bk.result()
}

// batchBook is rollForward's working state: the batches of the run, their
// items' sums by transaction type, their total summary lines, the
// conventions each batch's amounts fit, and the breaks found.
type batchBook struct {
	tried   []convention // the conventions the setting allows, the default first
	batches map[batchKey]*Batch
	byType  map[batchKey]map[string]batchTypeSum
	totals  map[batchKey]summaryLine
	fits    map[batchKey][]convention
	out     []Discrepancy
}

// typeCheck is a per-type summary line and the batch it is for.
type typeCheck struct {
	line summaryLine
	key  batchKey
}

func newBatchBook(tried []convention, sums []batchTypeSum) *batchBook {
	bk := &batchBook{tried: tried, batches: map[batchKey]*Batch{}, byType: map[batchKey]map[string]batchTypeSum{},
		totals: map[batchKey]summaryLine{}, fits: map[batchKey][]convention{}}
	for _, s := range sums {
		k := batchKey{s.BatchID, s.Currency}
		bk.get(k).Items += s.Lines
		bk.byType[k][s.TransactionType] = s
	}
	return bk
}

// get returns the batch k, added if the book has none yet.
func (bk *batchBook) get(k batchKey) *Batch {
	b, ok := bk.batches[k]
	if !ok {
		b = &Batch{BatchID: k.id, Currency: k.ccy}
		bk.batches[k] = b
		bk.byType[k] = map[string]batchTypeSum{}
	}
	return b
}

// readTotals takes each batch's total summary line and returns the
// per-type lines, to be checked once the batches' conventions are known.
func (bk *batchBook) readTotals(summaries []summaryLine) []typeCheck {
	var perType []typeCheck
	for _, l := range summaries {
		k := batchKey{l.BatchID, l.Currency}
		b := bk.get(k)
		if !totalSummaryTypes[l.SummaryType] {
			perType = append(perType, typeCheck{l, k})
			continue
		}
		if b.HasSummary {
			// Two totals for one batch cannot both be right: the
			// first is checked, each later one reported.
			rollUp(b, bk.byType[k], bk.tried[0])
			d := batchDiscrepancy(*b, l, "summary has more than one total line", nil)
			d.Fingerprint += "|extra-total|" + l.FileName + "|" + strconv.Itoa(l.LineNo)
			bk.out = append(bk.out, d)
			continue
		}
		b.HasSummary, b.Summary = true, l.Minor
		b.SummaryCount = -1
		if l.Count != nil {
			b.SummaryCount = *l.Count
		}
		bk.totals[k] = l
	}
	return perType
}

// fitConventions gives each batch with a total the first convention under
// which its items add up to it, and returns the run's usual convention:
// the one most batches fit (the default on a tie).
func (bk *batchBook) fitConventions() convention {
	used := map[convention]int{}
	for k, b := range bk.batches {
		if !b.HasSummary {
			continue
		}
		for _, c := range bk.tried {
			rollUp(b, bk.byType[k], c)
			if b.Computed == b.Summary {
				bk.fits[k] = []convention{c}
				used[c]++
				break
			}
		}
	}
	usual := bk.tried[0]
	for _, c := range bk.tried {
		if used[c] > used[usual] {
			usual = c
		}
	}
	return usual
}

// checkTotal leaves batch k rolled up under the convention it fits (the
// usual one for a batch without a total, or one no convention explains)
// and reports a total or count its items do not give.
func (bk *batchBook) checkTotal(k batchKey, b *Batch, usual convention) {
	if !b.HasSummary {
		rollUp(b, bk.byType[k], usual)
		bk.fits[k] = []convention{usual}
		return
	}
	var reasons []string
	extra := map[string]any{}
	if b.Saturated {
		// No reading can be checked when a sum left the int64 range.
		bk.fits[k] = bk.tried
		reasons = append(reasons, "items add up beyond the int64 range of minor units: the batch cannot be checked")
	} else if bk.fits[k] == nil {
		bk.fits[k] = bk.tried
		reasons = append(reasons, bk.noConventionFits(k, b, usual, extra))
	}
	b.Residual = subSat(b.Summary, b.Computed, &b.Saturated)
	if b.SummaryCount >= 0 && b.SummaryCount != b.Items {
		reasons = append(reasons, "summary count differs from the number of items")
	}
	if len(reasons) == 0 {
		return
	}
	var foreign int64
	for _, s := range bk.byType[k] {
		foreign += s.ForeignFees
	}
	if foreign > 0 {
		extra["fees_in_other_currencies"] = foreign
	}
	bk.out = append(bk.out, batchDiscrepancy(*b, bk.totals[k], strings.Join(reasons, "; "), extra))
}

// noConventionFits shows batch k under the run's usual reading, names in
// extra what each reading tried gave, and returns the reason.
func (bk *batchBook) noConventionFits(k batchKey, b *Batch, usual convention, extra map[string]any) string {
	gave := map[string]string{}
	var names []string
	for _, c := range bk.tried {
		rollUp(b, bk.byType[k], c)
		gave[c.String()] = money.FormatMajor(money.Money{Minor: b.Computed, Currency: b.Currency})
		names = append(names, c.String())
	}
	rollUp(b, bk.byType[k], usual)
	b.Convention = ""
	extra["conventions_tried"] = gave
	return "items add up to the summary under none of the conventions tried (" + strings.Join(names, "; ") + ")"
}

// checkTypeLine reports a per-type summary line whose amount (gross or net,
// under a convention its batch fits) or count its items do not give.
func (bk *batchBook) checkTypeLine(c typeCheck) {
	s := bk.byType[c.key][c.line.SummaryType]
	got := abs(c.line.Minor)
	if typeLineFits(s, got, bk.fits[c.key]) && (c.line.Count == nil || *c.line.Count == s.Lines) {
		return
	}
	b := *bk.batches[c.key]
	d := batchDiscrepancy(b, c.line, "summary line for "+c.line.SummaryType+" differs from its items",
		map[string]any{"summary_type": c.line.SummaryType, "items_of_type": s.Lines, "items_magnitude_minor": s.Magnitude,
			"summary_count": c.line.Count})
	d.Fingerprint += "|" + c.line.SummaryType
	d.TransactionType = c.line.SummaryType
	d.Ours = report.Amount{Money: money.Money{Minor: s.Magnitude, Currency: c.key.ccy}, Valid: true}
	bk.out = append(bk.out, d)
}

// result returns the batches in id and currency order and the breaks in
// fingerprint order.
func (bk *batchBook) result() ([]Batch, []Discrepancy) {
	list := make([]Batch, 0, len(bk.batches))
	for _, b := range bk.batches {
		list = append(list, *b)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].BatchID != list[j].BatchID {
			return list[i].BatchID < list[j].BatchID
		}
		return list[i].Currency < list[j].Currency
	})
	out := bk.out
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return list, out
}

// typeLineFits reports whether a per-type summary amount (a magnitude)
// is its items' amount, before or after their fees, under one of cs: a
// summary may give each type gross or net whatever its total does.
func typeLineFits(s batchTypeSum, got int64, cs []convention) bool {
	for _, c := range cs {
		_, amount, fees := typeAmount(s, c)
		if got == abs(amount) || got == abs(amount-fees) {
			return true
		}
	}
	return false
}

// batchDiscrepancy reports a batch whose summary does not match its items.
func batchDiscrepancy(b Batch, l summaryLine, reason string, extra map[string]any) Discrepancy {
	m := func(minor int64) string { return money.FormatMajor(money.Money{Minor: minor, Currency: b.Currency}) }
	details := map[string]any{"reason": reason, "items": b.Items, "captures": m(b.Captures), "refunds": m(b.Refunds),
		"disputes": m(b.Disputes), "fees": m(b.Fees), "reserves": m(b.Reserves), "other": m(b.Other),
		"computed": m(b.Computed), "summary": m(b.Summary), "residual": m(subSat(b.Summary, b.Computed, new(bool)))}
	if b.SummaryCount >= 0 {
		details["summary_count"] = b.SummaryCount
	}
	if b.Convention != "" {
		details["convention"] = b.Convention
	}
	for k, v := range extra {
		details[k] = v
	}
	dj, _ := json.Marshal(details)
	return Discrepancy{Kind: BatchTotalMismatch, ReportKind: report.SettlementSummary,
		Fingerprint:       string(BatchTotalMismatch) + "|" + b.BatchID + "|" + b.Currency,
		SettlementBatchID: b.BatchID, FileID: l.FileID, FileName: l.FileName, Line: l.LineNo,
		Ours:    report.Amount{Money: money.Money{Minor: b.Computed, Currency: b.Currency}, Valid: true},
		Report:  report.Amount{Money: money.Money{Minor: l.Minor, Currency: b.Currency}, Valid: true},
		Details: dj}
}

// addSat returns a + b, or the int64 bound the sum passed with *sat set:
// a sum of amounts must stop at the range, never wrap around it.
func addSat(a, b int64, sat *bool) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		*sat = true
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// subSat returns a − b like addSat.
func subSat(a, b int64, sat *bool) int64 {
	d := a - b
	if (d < a) != (b > 0) {
		*sat = true
		if b > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return d
}

// absSat returns |n|; the one int64 without a positive counterpart
// saturates.
func absSat(n int64, sat *bool) int64 {
	if n == math.MinInt64 {
		*sat = true
		return math.MaxInt64
	}
	return abs(n)
}
