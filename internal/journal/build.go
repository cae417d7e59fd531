package journal

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
)

// How a settlement line is booked. Each line's effect on the payout (what
// its batch's roll-forward counted: its amount less the fee deducted) is
// split into its fees, booked as debits by fee type, and its principal,
// the effect plus those fees, booked under its transaction type's kind:
//
//   - The fees are feeAmountValue and APO's per-type fee columns
//     (recon.FeeColumns). With both, the columns itemise feeAmountValue and
//     what they leave is booked as the line's unitemised fee (processing; a
//     dispute's to FEE_DISPUTE; a SETTLEMENT_FEE line's to FEE_SETTLEMENT);
//     columns adding up to more than feeAmountValue are a finding. With the
//     columns alone (the newest report generation has no feeAmountValue),
//     the settlement amount is net of them. Fees count as magnitudes, as the
//     roll-forward counts feeAmountValue.
//   - A cross-currency principal is booked at its transaction amount
//     converted at the line's own quote (rounded half away from zero), and
//     the rest of it to FX_DIFFERENCE: what APO settled beyond the quote.
//   - The journal's PAYOUT_CLEARING line is the batch's summary amount,
//     never the sum of the other lines: the journal balances only if the
//     lines add up to the payout, and is refused when they do not.

// feePartKinds books each of recon.FeeColumns, by its amount column.
var feePartKinds = map[string]Kind{
	"processingFeeAmountValue":  FeeProcessing,
	"interchangeFeeAmountValue": FeeInterchange,
	"schemeFeeAmountValue":      FeeScheme,
	"acquirerMarkupAmountValue": FeeAcquirerMarkup,
	"taxFeeAmountValue":         FeeTax,
	"disputeHandlingFee":        FeeDispute,
	"disputeReverseFee":         FeeDispute,
}

// principalKind is the kind of a transaction type's principal; ok is false
// for types that move no money (authorisations, cancels, voids).
func principalKind(txType string) (k Kind, ok bool) {
	switch txType {
	case "CAPTURE", "PAYMENT":
		return CaptureGross, true
	case "REFUND":
		return Refund, true
	case "REFUND_REVERSAL":
		return RefundReversal, true
	case "PAYMENT_REVERSAL":
		return PaymentReversal, true
	case "DISPUTE", "RAPID_DISPUTE_RESOLUTION", "CDRN":
		return Chargeback, true
	case "DISPUTE_REVERSAL":
		return ChargebackReversal, true
	case "SETTLEMENT_FEE":
		return FeeSettlement, true
	case "ADJUSTMENT_FEE":
		return FeeAdjustment, true
	case "RESERVE_WITHHOLDING":
		return ReserveWithheld, true
	case "RESERVE_RELEASE":
		return ReserveReleased, true
	case "COLLATERAL_WITHHOLDING":
		return CollateralWithheld, true
	case "COLLATERAL_RELEASE":
		return CollateralReleased, true
	case "AUTHORIZATION", "CANCEL", "VOID":
		return "", false
	}
	return Unclassified, true
}

// unitemisedFee is the kind of the part of a line's fee no fee column
// names.
func unitemisedFee(principal Kind) Kind {
	switch principal {
	case Chargeback, ChargebackReversal:
		return FeeDispute
	case FeeSettlement, FeeAdjustment:
		return principal
	}
	return FeeProcessing
}

// tally is one kind's running total in a journal.
type tally struct {
	effect int64 // signed by its effect on the payout
	items  int64
}

// maxNamedTypes bounds the unknown transaction types a journal names.
const maxNamedTypes = 5

// builder makes one batch's journal from its settlement lines in one pass,
// in memory bounded by the number of kinds whatever the batch's size.
type builder struct {
	batch       recon.Batch
	items       int64
	buckets     map[recon.Bucket]int64
	feeDeducted int64
	kinds       map[Kind]*tally
	unknown     []string // unknown transaction types seen, up to maxNamedTypes
	finding     *Finding // the first problem; the journal is not built past it
	fx          converter
}

func newBuilder(b recon.Batch) *builder {
	return &builder{batch: b, buckets: map[recon.Bucket]int64{}, kinds: map[Kind]*tally{}}
}

// fail records the batch's first problem.
func (bd *builder) fail(kind FindingKind, format string, args ...any) {
	if bd.finding == nil {
		bd.finding = &Finding{Kind: kind, BatchID: bd.batch.BatchID, Currency: bd.batch.Currency,
			Reason: fmt.Sprintf(format, args...)}
	}
}

// sum adds v to *dst, or records the overflow.
func (bd *builder) sum(dst *int64, v int64) {
	s, ok := add(*dst, v)
	if !ok {
		bd.fail(Unbalanced, "amounts add up beyond the int64 range of minor units")
		return
	}
	*dst = s
}

// book adds an effect on the payout to kind k.
func (bd *builder) book(k Kind, effect int64) {
	t := bd.kinds[k]
	if t == nil {
		t = &tally{}
		bd.kinds[k] = t
	}
	bd.sum(&t.effect, effect)
	t.items++
}

// add books one settlement line.
func (bd *builder) add(l *recon.BatchLine) {
	bd.items++
	b := bd.buckets[l.Bucket]
	bd.sum(&b, l.Amount)
	bd.buckets[l.Bucket] = b
	bd.sum(&bd.feeDeducted, l.FeeDeducted)
	if bd.finding != nil {
		return // counted for the tie check, not booked
	}
	kind, moves := principalKind(l.TransactionType)
	fees, ok := bd.bookFees(l, kind)
	if !ok {
		return
	}
	effect, ok1 := add(l.Amount, -l.FeeDeducted)
	principal, ok2 := add(effect, fees)
	if !ok1 || !ok2 {
		bd.fail(Unbalanced, "%s line %d: amounts beyond the int64 range of minor units", l.FileName, l.LineNo)
		return
	}
	if principal == 0 {
		return
	}
	if !moves {
		bd.fail(Unbalanced, "%s line %d: %s carries a fee the roll-forward does not take off the payout",
			l.FileName, l.LineNo, l.TransactionType)
		return
	}
	if kind == Unclassified && len(bd.unknown) < maxNamedTypes && !slices.Contains(bd.unknown, l.TransactionType) {
		bd.unknown = append(bd.unknown, l.TransactionType)
	}
	if at, ok := bd.fx.convert(l, principal); ok && at != principal {
		bd.book(kind, at)
		bd.book(FXDifference, principal-at)
		return
	}
	bd.book(kind, principal)
}

// bookFees books a line's fees (see the top of this file) and returns
// their total; ok is false when they cannot be booked in the batch's
// currency.
func (bd *builder) bookFees(l *recon.BatchLine, principal Kind) (total int64, ok bool) {
	var parts int64
	for i, p := range l.FeeParts {
		if !p.Valid || p.Minor == 0 {
			continue
		}
		col := recon.FeeColumns[i].Amount
		if p.Currency != l.Currency {
			bd.fail(Unbalanced, "%s line %d: %s is in %s, the batch settles in %s", l.FileName, l.LineNo, col,
				p.Currency, l.Currency)
			return 0, false
		}
		bd.book(feePartKinds[col], -abs(p.Minor))
		bd.sum(&parts, abs(p.Minor))
	}
	fee := l.Fee
	switch {
	case !fee.Valid || fee.Minor == 0:
		return parts, true
	case fee.Currency != l.Currency:
		bd.fail(Unbalanced, "%s line %d: its fee is in %s, the batch settles in %s", l.FileName, l.LineNo,
			fee.Currency, l.Currency)
		return 0, false
	case parts > abs(fee.Minor):
		bd.fail(Unbalanced, "%s line %d: the fee columns add up to %s, more than feeAmountValue %s", l.FileName,
			l.LineNo, money.FormatMajor(money.Money{Minor: parts, Currency: l.Currency}),
			money.FormatMajor(money.Money{Minor: abs(fee.Minor), Currency: l.Currency}))
		return 0, false
	case parts < abs(fee.Minor):
		bd.book(unitemisedFee(principal), parts-abs(fee.Minor))
	}
	return abs(fee.Minor), true
}

// journal returns the batch's journal, or the finding that stops it.
func (bd *builder) journal() (Journal, *Finding) {
	b := bd.batch
	j := Journal{BatchID: b.BatchID, Currency: b.Currency, Payout: b.Summary, Items: bd.items}
	if bd.finding != nil {
		return j, bd.finding
	}
	if reason := bd.untied(); reason != "" {
		return j, &Finding{Kind: RollForwardMismatch, BatchID: b.BatchID, Currency: b.Currency, Reason: reason}
	}
	for _, k := range Kinds {
		t := bd.kinds[k]
		if t == nil || t.effect == 0 {
			continue
		}
		l := Line{Kind: k, Items: t.items, Description: bd.describe(k, t.items)}
		switch {
		case t.effect > 0:
			l.Credit = t.effect
		case t.effect == math.MinInt64: // has no positive counterpart
			return j, &Finding{Kind: Unbalanced, BatchID: b.BatchID, Currency: b.Currency,
				Reason: "amounts add up beyond the int64 range of minor units"}
		default:
			l.Debit = -t.effect
		}
		j.Lines = append(j.Lines, l)
	}
	switch clearing := (Line{Kind: PayoutClearing, Items: bd.items, Description: bd.describe(PayoutClearing, bd.items)}); {
	case b.Summary > 0:
		clearing.Debit = b.Summary
		j.Lines = append(j.Lines, clearing)
	case b.Summary < 0:
		clearing.Credit = -b.Summary
		j.Lines = append(j.Lines, clearing)
	}
	debits, credits, ok := j.Totals()
	if !ok || debits != credits {
		m := func(n int64) string { return money.FormatMajor(money.Money{Minor: n, Currency: b.Currency}) }
		return j, &Finding{Kind: Unbalanced, BatchID: b.BatchID, Currency: b.Currency,
			Reason: fmt.Sprintf("debits %s and credits %s differ", m(debits), m(credits))}
	}
	return j, nil
}

// untied says why the journal would not tie to the batch's roll-forward,
// or "" when it ties: the batch must have a payout its items explain, and
// the lines read must be the ones the run rolled forward, total by total.
func (bd *builder) untied() string {
	b := bd.batch
	m := func(n int64) string { return money.FormatMajor(money.Money{Minor: n, Currency: b.Currency}) }
	switch {
	case !b.HasSummary:
		return "the batch has no settlement summary: its payout is unknown"
	case b.Saturated:
		return "the batch's sums left the int64 range: its roll-forward cannot be checked"
	case b.Convention == "" || b.Residual != 0:
		return fmt.Sprintf("the batch's items add up to %s, its summary says %s (residual %s)", m(b.Computed),
			m(b.Summary), m(b.Residual))
	case bd.items != b.Items:
		return fmt.Sprintf("%d settlement lines read, the run rolled forward %d", bd.items, b.Items)
	}
	fees, ok := add(bd.buckets[recon.BucketFees], -bd.feeDeducted)
	got := []int64{bd.buckets[recon.BucketCaptures], bd.buckets[recon.BucketRefunds], bd.buckets[recon.BucketDisputes],
		fees, bd.buckets[recon.BucketReserves], bd.buckets[recon.BucketOther]}
	want := []int64{b.Captures, b.Refunds, b.Disputes, b.Fees, b.Reserves, b.Other}
	names := []string{"captures", "refunds", "disputes", "fees", "reserves", "other"}
	for i := range got {
		if !ok || got[i] != want[i] {
			return fmt.Sprintf("the lines read give %s %s, the run's roll-forward %s", names[i], m(got[i]), m(want[i]))
		}
	}
	return ""
}

// labels name the kinds in line descriptions.
var labels = map[Kind]string{
	CaptureGross: "Gross captures", Refund: "Refunds", RefundReversal: "Refund reversals",
	PaymentReversal: "Payment reversals", Chargeback: "Chargebacks", ChargebackReversal: "Chargeback reversals",
	FeeProcessing: "Processing fees", FeeInterchange: "Interchange fees", FeeScheme: "Scheme fees",
	FeeAcquirerMarkup: "Acquirer markup", FeeTax: "Tax on fees", FeeDispute: "Dispute fees",
	FeeSettlement: "Settlement fees", FeeAdjustment: "Fee adjustments", ReserveWithheld: "Reserve withheld",
	ReserveReleased: "Reserve released", CollateralWithheld: "Collateral withheld",
	CollateralReleased: "Collateral released", FXDifference: "FX difference to the quoted rate",
	Unclassified: "Unclassified transactions", PayoutClearing: "Payout to bank clearing", BankFee: "Bank fees",
	Bank: "Bank account credited",
}

// describe is a line's description: what it books, from how many
// settlement lines, in which APO batch.
func (bd *builder) describe(k Kind, items int64) string {
	s := fmt.Sprintf("%s, APO batch %s, %d settlement line(s)", labels[k], bd.batch.BatchID, items)
	if k == Unclassified {
		s += " of type " + strings.Join(bd.unknown, ", ")
	}
	return s
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
