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

type batchKey struct{ id, ccy string }

// rollForward builds each batch's roll-forward from its items and checks it
// against the summary: gross captures − refunds − disputes − fees ±
// reserves (± other) must equal the summary's settlement amount, and the
// summary's count the number of items. A per-type summary line (e.g.
// RESERVE_WITHHOLDING) must equal the magnitude and count of that type's
// items. Every difference is a BATCH_TOTAL_MISMATCH with the numbers.
func rollForward(sums []batchTypeSum, summaries []summaryLine) ([]Batch, []Discrepancy) {
	batches := map[batchKey]*Batch{}
	byType := map[batchKey]map[string]batchTypeSum{}
	get := func(k batchKey) *Batch {
		b, ok := batches[k]
		if !ok {
			b = &Batch{BatchID: k.id, Currency: k.ccy}
			batches[k] = b
			byType[k] = map[string]batchTypeSum{}
		}
		return b
	}
	for _, s := range sums {
		k := batchKey{s.BatchID, s.Currency}
		b := get(k)
		byType[k][s.TransactionType] = s
		b.Items += s.Lines
		sat := &b.Saturated
		*sat = *sat || s.Saturated
		b.Fees = subSat(b.Fees, s.Fees, sat)
		cl, sign := classify(s.TransactionType)
		switch cl {
		case classCapture:
			b.Captures = addSat(b.Captures, sign*s.Magnitude, sat)
		case classRefund:
			b.Refunds = addSat(b.Refunds, sign*s.Magnitude, sat)
		case classDispute:
			b.Disputes = addSat(b.Disputes, sign*s.Magnitude, sat)
		case classFee:
			b.Fees = addSat(b.Fees, sign*s.Magnitude, sat)
		case classReserve:
			b.Reserves = addSat(b.Reserves, sign*s.Magnitude, sat)
		case classOther:
			b.Other = addSat(b.Other, s.Signed, sat)
		}
	}
	var out []Discrepancy
	type typeCheck struct {
		line summaryLine
		key  batchKey
	}
	var perType []typeCheck
	totals := map[batchKey]summaryLine{}
	for _, l := range summaries {
		k := batchKey{l.BatchID, l.Currency}
		b := get(k)
		if totalSummaryTypes[l.SummaryType] {
			if b.HasSummary {
				// Two totals for one batch cannot both be right: the
				// first is checked, each later one reported.
				d := batchDiscrepancy(*b, l, "summary has more than one total line", nil)
				d.Fingerprint += "|extra-total|" + l.FileName + "|" + strconv.Itoa(l.LineNo)
				out = append(out, d)
				continue
			}
			b.HasSummary, b.Summary = true, l.Minor
			b.SummaryCount = -1
			if l.Count != nil {
				b.SummaryCount = *l.Count
			}
			totals[k] = l
			continue
		}
		perType = append(perType, typeCheck{l, k})
	}
	for k, b := range batches {
		b.Computed = 0
		for _, v := range []int64{b.Captures, b.Refunds, b.Disputes, b.Fees, b.Reserves, b.Other} {
			b.Computed = addSat(b.Computed, v, &b.Saturated)
		}
		if !b.HasSummary {
			continue
		}
		b.Residual = subSat(b.Summary, b.Computed, &b.Saturated)
		var foreign int64
		for _, s := range byType[k] {
			foreign += s.ForeignFees
		}
		reasons := []string{}
		switch {
		case b.Saturated:
			reasons = append(reasons, "items add up beyond the int64 range of minor units: the batch cannot be checked")
		case b.Residual != 0:
			reasons = append(reasons, "items do not add up to the summary")
		}
		if b.SummaryCount >= 0 && b.SummaryCount != b.Items {
			reasons = append(reasons, "summary count differs from the number of items")
		}
		if len(reasons) > 0 {
			extra := map[string]any{}
			if foreign > 0 {
				extra["fees_in_other_currencies"] = foreign
			}
			out = append(out, batchDiscrepancy(*b, totals[k], strings.Join(reasons, "; "), extra))
		}
	}
	for _, c := range perType {
		s := byType[c.key][c.line.SummaryType]
		got := c.line.Minor
		if got < 0 {
			got = -got
		}
		if got == s.Magnitude && (c.line.Count == nil || *c.line.Count == s.Lines) {
			continue
		}
		b := *batches[c.key]
		d := batchDiscrepancy(b, c.line, "summary line for "+c.line.SummaryType+" differs from its items",
			map[string]any{"summary_type": c.line.SummaryType, "items_of_type": s.Lines, "items_magnitude_minor": s.Magnitude,
				"summary_count": c.line.Count})
		d.Fingerprint += "|" + c.line.SummaryType
		d.TransactionType = c.line.SummaryType
		d.Ours = report.Amount{Money: money.Money{Minor: s.Magnitude, Currency: c.key.ccy}, Valid: true}
		out = append(out, d)
	}
	list := make([]Batch, 0, len(batches))
	for _, b := range batches {
		list = append(list, *b)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].BatchID != list[j].BatchID {
			return list[i].BatchID < list[j].BatchID
		}
		return list[i].Currency < list[j].Currency
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return list, out
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
