package journal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

// The tests here build journals from constructed batches: lines made the
// way recon.Store.BatchLines reads them (signs by type), and the batch
// their roll-forward gives. store_test.go builds them from real runs.

func usd(minor int64) report.Amount { return amt(minor, "USD") }

func amt(minor int64, ccy string) report.Amount {
	return report.Amount{Money: money.Money{Minor: minor, Currency: ccy}, Valid: true}
}

// testBuckets and testDirs are recon's classes, for making lines.
var (
	testBuckets = map[string]recon.Bucket{"CAPTURE": recon.BucketCaptures, "PAYMENT": recon.BucketCaptures,
		"REFUND": recon.BucketRefunds, "DISPUTE": recon.BucketDisputes, "DISPUTE_REVERSAL": recon.BucketDisputes,
		"SETTLEMENT_FEE": recon.BucketFees, "RESERVE_WITHHOLDING": recon.BucketReserves,
		"RESERVE_RELEASE": recon.BucketReserves, "COLLATERAL_WITHHOLDING": recon.BucketReserves,
		"COLLATERAL_RELEASE": recon.BucketReserves, "AUTHORIZATION": recon.BucketNone}
	testDirs = map[string]int64{"CAPTURE": 1, "PAYMENT": 1, "REFUND": -1, "DISPUTE": -1, "DISPUTE_REVERSAL": 1,
		"SETTLEMENT_FEE": -1, "RESERVE_WITHHOLDING": -1, "RESERVE_RELEASE": 1, "COLLATERAL_WITHHOLDING": -1,
		"COLLATERAL_RELEASE": 1}
)

// line makes a settlement line of batch B1 read as recon reads it: gross
// (every fee deducted) or net (only a fee-only line's).
func line(no int, typ string, settle, fee report.Amount, net bool) *recon.BatchLine {
	l := &recon.BatchLine{BatchID: "B1", Currency: "USD", FileName: "settlementItems_USD_B1_000.csv", LineNo: no,
		TransactionType: typ, Settlement: settle, Fee: fee}
	b, known := testBuckets[typ]
	if !known {
		b = recon.BucketOther
	}
	l.Bucket = b
	switch {
	case b == recon.BucketNone:
	case b == recon.BucketOther:
		l.Amount = settle.Minor
	default:
		l.Amount = testDirs[typ] * abs(settle.Minor)
	}
	if fee.Valid && fee.Currency == "USD" && (!net || settle.Minor == 0) {
		l.FeeDeducted = abs(fee.Minor)
	}
	return l
}

// batchOf is the roll-forward of lines against a summary of payout.
func batchOf(lines []*recon.BatchLine, payout int64, convention string) recon.Batch {
	b := recon.Batch{BatchID: "B1", Currency: "USD", Summary: payout, HasSummary: true, SummaryCount: -1,
		Convention: convention, Items: int64(len(lines))}
	for _, l := range lines {
		switch l.Bucket {
		case recon.BucketCaptures:
			b.Captures += l.Amount
		case recon.BucketRefunds:
			b.Refunds += l.Amount
		case recon.BucketDisputes:
			b.Disputes += l.Amount
		case recon.BucketFees:
			b.Fees += l.Amount
		case recon.BucketReserves:
			b.Reserves += l.Amount
		case recon.BucketOther:
			b.Other += l.Amount
		}
		b.Fees -= l.FeeDeducted
	}
	b.Computed = b.Captures + b.Refunds + b.Disputes + b.Fees + b.Reserves + b.Other
	b.Residual = b.Summary - b.Computed
	return b
}

func build(b recon.Batch, lines []*recon.BatchLine) (Journal, *Finding) {
	bd := newBuilder(b)
	for _, l := range lines {
		bd.add(l)
	}
	return bd.journal()
}

// sides is a journal's lines as kind → signed amount (credits positive),
// for comparing.
func sides(j Journal) map[Kind]int64 {
	m := map[Kind]int64{}
	for _, l := range j.Lines {
		m[l.Kind] = l.Credit - l.Debit
	}
	return m
}

// diffLines lists the kinds whose amounts differ, "" when none do.
func diffLines(want, got map[Kind]int64) string {
	var b strings.Builder
	for _, k := range Kinds {
		w, inW := want[k]
		g, inG := got[k]
		if inW != inG || w != g {
			fmt.Fprintf(&b, "%s: want %d (%v), got %d (%v)\n", k, w, inW, g, inG)
		}
	}
	return b.String()
}

func mustBalance(t *testing.T, j Journal, f *Finding) {
	t.Helper()
	if f != nil {
		t.Fatalf("finding %+v", *f)
	}
	d, c, ok := j.Totals()
	if !ok || d != c {
		t.Fatalf("debits %d, credits %d", d, c)
	}
	for _, l := range j.Lines {
		if (l.Debit == 0) == (l.Credit == 0) || l.Debit < 0 || l.Credit < 0 {
			t.Errorf("line %+v is not on exactly one side", l)
		}
	}
}

// day is a batch with every kind of line the sandbox writes and more, and
// the journal it must give, in both readings of its amounts.
func TestBuildBatch(t *testing.T) {
	want := map[Kind]int64{CaptureGross: 15_700, Refund: -2_000, Chargeback: -1_500, ChargebackReversal: 1_500,
		FeeProcessing: -435, FeeDispute: -1_500, FeeSettlement: -100, ReserveWithheld: -800, ReserveReleased: 200,
		CollateralWithheld: -50, PayoutClearing: -11_015}
	for _, net := range []bool{false, true} {
		// Net, a capture's settlement amount is after its fee.
		c1, c2 := usd(10_000), usd(5_000)
		if net {
			c1, c2 = usd(9_710), usd(4_855)
		}
		lines := []*recon.BatchLine{
			line(2, "CAPTURE", c1, usd(-290), net),
			line(3, "CAPTURE", c2, usd(-145), net),
			line(4, "PAYMENT", usd(700), report.Amount{}, net),
			line(5, "REFUND", usd(-2_000), usd(0), net),
			line(6, "DISPUTE", usd(-1_500), report.Amount{}, net),
			line(7, "DISPUTE", usd(0), usd(-1_500), net), // a dispute's handling fee on a line of its own
			line(8, "DISPUTE_REVERSAL", usd(1_500), report.Amount{}, net),
			line(9, "SETTLEMENT_FEE", usd(0), usd(-100), net),
			line(10, "RESERVE_WITHHOLDING", usd(-800), report.Amount{}, net),
			line(11, "RESERVE_RELEASE", usd(200), report.Amount{}, net),
			line(12, "COLLATERAL_WITHHOLDING", usd(-50), report.Amount{}, net),
			line(13, "AUTHORIZATION", usd(9_999), report.Amount{}, net),
		}
		conv := "gross"
		if net {
			conv = "net"
		}
		j, f := build(batchOf(lines, 11_015, conv), lines)
		mustBalance(t, j, f)
		if d := diffLines(want, sides(j)); d != "" {
			t.Errorf("net=%v: lines (-want +got):\n%s", net, d)
		}
		if j.Payout != 11_015 || j.Items != int64(len(lines)) {
			t.Errorf("net=%v: payout %d items %d", net, j.Payout, j.Items)
		}
		if l := j.Lines[len(j.Lines)-1]; l.Kind != PayoutClearing || l.Debit != 11_015 {
			t.Errorf("the last line is %+v, want the payout's debit to clearing", l)
		}
	}
}

// The per-type fee columns itemise feeAmountValue, what they leave being
// the processing fee; without feeAmountValue (the newest generation) the
// settlement amount is net of them.
func TestBuildFeeColumns(t *testing.T) {
	col := func(name string) int {
		for i, c := range recon.FeeColumns {
			if c.Amount == name {
				return i
			}
		}
		t.Fatalf("no fee column %s", name)
		return -1
	}
	a := line(2, "CAPTURE", usd(10_000), usd(-300), false)
	a.FeeParts[col("interchangeFeeAmountValue")] = usd(-150)
	a.FeeParts[col("schemeFeeAmountValue")] = usd(-50)
	a.FeeParts[col("acquirerMarkupAmountValue")] = usd(-60)
	a.FeeParts[col("taxFeeAmountValue")] = usd(-10)
	b := line(3, "CAPTURE", usd(9_700), report.Amount{}, false)
	b.FeeParts[col("interchangeFeeAmountValue")] = usd(-200)
	b.FeeParts[col("processingFeeAmountValue")] = usd(-100)
	c := line(4, "DISPUTE", usd(-500), usd(-25), false)
	c.FeeParts[col("disputeHandlingFee")] = usd(-20)
	lines := []*recon.BatchLine{a, b, c}
	j, f := build(batchOf(lines, 9_700+9_700-525, "gross"), lines)
	mustBalance(t, j, f)
	want := map[Kind]int64{CaptureGross: 20_000, Chargeback: -500, FeeInterchange: -350, FeeScheme: -50,
		FeeAcquirerMarkup: -60, FeeTax: -10, FeeProcessing: -130, FeeDispute: -25, PayoutClearing: -18_875}
	if d := diffLines(want, sides(j)); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
}

// What cannot be booked in the settlement currency, or would have to be
// invented, stops the journal with a finding naming the line.
func TestBuildUnbalanced(t *testing.T) {
	over := line(7, "CAPTURE", usd(1_000), usd(-30), false)
	over.FeeParts[1] = usd(-40)
	foreignPart := line(8, "CAPTURE", usd(1_000), usd(-30), false)
	foreignPart.FeeParts[0] = amt(-30, "EUR")
	authFee := line(9, "AUTHORIZATION", usd(1_000), usd(-30), true)
	for _, c := range []struct {
		name string
		l    *recon.BatchLine
		conv string
		want string
	}{
		{"fee columns beyond the fee", over, "gross", "line 7: the fee columns add up to 0.40, more than feeAmountValue 0.30"},
		{"fee in another currency", line(5, "CAPTURE", usd(1_000), amt(-30, "EUR"), false), "gross", "line 5: its fee is in EUR"},
		{"fee column in another currency", foreignPart, "gross", "line 8: processingFeeAmountValue is in EUR"},
		{"a fee the payout does not lose", authFee, "net", "line 9: AUTHORIZATION carries a fee"},
	} {
		lines := []*recon.BatchLine{line(2, "CAPTURE", usd(5_000), usd(-100), c.conv == "net"), c.l}
		b := batchOf(lines, 0, c.conv)
		b.Summary, b.Residual = b.Computed, 0
		_, f := build(b, lines)
		if f == nil || f.Kind != Unbalanced || !strings.Contains(f.Reason, c.want) || f.BatchID != "B1" {
			t.Errorf("%s: finding %+v, want %s naming %q", c.name, f, Unbalanced, c.want)
		}
	}
}

// A journal that would not tie to its batch's roll-forward is not booked.
func TestBuildRollForwardMismatch(t *testing.T) {
	lines := []*recon.BatchLine{line(2, "CAPTURE", usd(10_000), usd(-290), false), line(3, "REFUND", usd(-1_000), report.Amount{}, false)}
	ok := batchOf(lines, 8_710, "gross")
	for _, c := range []struct {
		name  string
		batch func() recon.Batch
		lines []*recon.BatchLine
		want  string
	}{
		{"residual", func() recon.Batch { b := batchOf(lines, 8_700, "gross"); b.Convention = ""; return b }, lines,
			"items add up to 87.10, its summary says 87.00 (residual -0.10)"},
		{"no summary", func() recon.Batch { b := ok; b.HasSummary, b.Summary, b.Residual = false, 0, 0; return b }, lines,
			"no settlement summary"},
		{"a line fewer than the run read", func() recon.Batch { return ok }, lines[:1], "1 settlement lines read, the run rolled forward 2"},
		{"a line changed since", func() recon.Batch { return ok },
			[]*recon.BatchLine{lines[0], line(3, "REFUND", usd(-900), report.Amount{}, false)}, "refunds -9.00, the run's roll-forward -10.00"},
		{"saturated", func() recon.Batch { b := ok; b.Saturated = true; return b }, lines, "int64 range"},
	} {
		_, f := build(c.batch(), c.lines)
		if f == nil || f.Kind != RollForwardMismatch || !strings.Contains(f.Reason, c.want) {
			t.Errorf("%s: finding %+v, want %s saying %q", c.name, f, RollForwardMismatch, c.want)
		}
	}
}

// A cross-currency line books its principal at its own quote and the rest
// to FX_DIFFERENCE.
func TestBuildFX(t *testing.T) {
	fx := func(no int, typ string, txn, settle report.Amount, pair, price string) *recon.BatchLine {
		l := line(no, typ, settle, report.Amount{}, false)
		l.Transaction, l.QuotePair, l.QuotePrice = txn, pair, price
		return l
	}
	lines := []*recon.BatchLine{
		// 100.00 EUR at 1.0845 is 108.45 USD; 108.46 settled.
		fx(2, "CAPTURE", amt(10_000, "EUR"), usd(10_846), "EUR/USD", "1.0845"),
		// A refund of 50.00 EUR is 54.225 → 54.23 USD; 54.20 settled.
		fx(3, "REFUND", amt(-5_000, "EUR"), usd(-5_420), "EUR-USD", "1.0845"),
		// 10,000 JPY at USD/JPY 149.25 is 67.0016… → 67.00: no difference.
		fx(4, "CAPTURE", amt(10_000, "JPY"), usd(6_700), "USDJPY", "149.25"),
		// A pair that does not name the currencies: booked as settled.
		fx(5, "CAPTURE", amt(1_000, "GBP"), usd(1_270), "EUR/USD", "1.0845"),
	}
	j, f := build(batchOf(lines, 10_846-5_420+6_700+1_270, "gross"), lines)
	mustBalance(t, j, f)
	want := map[Kind]int64{CaptureGross: 10_845 + 6_700 + 1_270, Refund: -5_423, FXDifference: 1 + 3,
		PayoutClearing: -(10_846 - 5_420 + 6_700 + 1_270)}
	if d := diffLines(want, sides(j)); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
}

func TestConvert(t *testing.T) {
	var c converter
	for _, x := range []struct {
		txn       report.Amount
		settleCcy string
		pair      string
		price     string
		principal int64
		want      int64
		ok        bool
	}{
		{amt(10_000, "EUR"), "USD", "EUR/USD", "1.0845", 1, 10_845, true},
		{amt(10_000, "EUR"), "USD", "", "1.0845", 1, 10_845, true},                  // no pair: transaction → settlement
		{amt(1, "EUR"), "USD", "EUR/USD", "1.5", -1, -2, true},                      // 1.5 cents rounds away from zero
		{amt(3, "USD"), "JPY", "USD/JPY", "149.25", 1, 4, true},                     // 4.4775 → 4
		{amt(1_000, "JPY"), "KWD", "KWD/JPY", "490.5", 1, 2_039, true},              // 1000/490.5 = 2.0387 KWD → 2.039
		{amt(100, "KWD"), "USD", "kwd usd", "3.25", 1, 33, true},                    // 0.100 KWD × 3.25 = 0.325 → 0.33
		{amt(10_000, "EUR"), "USD", "GBP/USD", "1.27", 1, 0, false},                 // another pair
		{amt(10_000, "USD"), "USD", "USD/USD", "1", 1, 0, false},                    // not cross-currency
		{report.Amount{}, "USD", "EUR/USD", "1.0845", 1, 0, false},                  // no transaction amount
		{amt(10_000, "EUR"), "USD", "EUR/USD", "", 1, 0, false},                     // no quote
		{amt(9_000_000_000_000_000, "EUR"), "USD", "EUR/USD", "10000", 1, 0, false}, // beyond int64
	} {
		l := &recon.BatchLine{Currency: x.settleCcy, Transaction: x.txn, QuotePair: x.pair, QuotePrice: x.price}
		got, ok := c.convert(l, x.principal)
		if got != x.want || ok != x.ok {
			t.Errorf("%v %s→%s at %s %s: got %d, %v; want %d, %v", x.txn.Minor, x.txn.Currency, x.settleCcy, x.pair,
				x.price, got, ok, x.want, x.ok)
		}
	}
}

// Types recon does not class are booked to UNCLASSIFIED, as signed, and
// the line names them; a batch that owes money credits clearing.
func TestBuildUnclassifiedAndNegativePayout(t *testing.T) {
	lines := []*recon.BatchLine{line(2, "CAPTURE", usd(100), report.Amount{}, false),
		line(3, "SOMETHING_NEW", usd(-700), report.Amount{}, false), line(4, "PAYMENT_REVERSAL", usd(-50), report.Amount{}, false)}
	j, f := build(batchOf(lines, -650, "gross"), lines)
	mustBalance(t, j, f)
	want := map[Kind]int64{CaptureGross: 100, Unclassified: -700, PaymentReversal: -50, PayoutClearing: 650}
	if d := diffLines(want, sides(j)); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	for _, l := range j.Lines {
		if l.Kind == Unclassified && !strings.Contains(l.Description, "of type SOMETHING_NEW") {
			t.Errorf("the unclassified line says %q", l.Description)
		}
	}
}

// Every fee column recon reads has a kind, and every kind a label.
func TestKindsComplete(t *testing.T) {
	for _, c := range recon.FeeColumns {
		if !feePartKinds[c.Amount].Valid() {
			t.Errorf("fee column %s books to no kind", c.Amount)
		}
	}
	for _, k := range Kinds {
		if labels[k] == "" {
			t.Errorf("%s has no label", k)
		}
	}
}
