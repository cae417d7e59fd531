package recon

import (
	"testing"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// TestBatchLineReadsAsRollUp: the lines journals read add up, bucket by
// bucket and under every convention, to the totals rollUp makes of the
// same lines' per-type sums, so the two readings cannot drift apart.
func TestBatchLineReadsAsRollUp(t *testing.T) {
	amt := func(minor int64, ccy string) report.Amount {
		return report.Amount{Money: money.Money{Minor: minor, Currency: ccy}, Valid: true}
	}
	none := report.Amount{}
	rows := []itemRow{
		{TransactionType: "CAPTURE", Settle: amt(10_000, "USD"), Fee: amt(-290, "USD")},
		{TransactionType: "CAPTURE", Settle: amt(5_000, "USD"), Fee: amt(145, "USD")},
		{TransactionType: "PAYMENT", Settle: amt(700, "USD"), Fee: none},
		{TransactionType: "REFUND", Settle: amt(-2_000, "USD"), Fee: amt(0, "USD")},
		{TransactionType: "REFUND", Settle: amt(300, "USD"), Fee: none}, // written without a sign
		{TransactionType: "DISPUTE", Settle: amt(-1_500, "USD"), Fee: amt(-1_500, "USD")},
		{TransactionType: "DISPUTE_REVERSAL", Settle: amt(1_500, "USD"), Fee: none},
		{TransactionType: "SETTLEMENT_FEE", Settle: amt(0, "USD"), Fee: amt(-100, "USD")},
		{TransactionType: "RESERVE_WITHHOLDING", Settle: amt(-800, "USD"), Fee: none},
		{TransactionType: "RESERVE_RELEASE", Settle: amt(200, "USD"), Fee: none},
		{TransactionType: "COLLATERAL_WITHHOLDING", Settle: amt(-50, "USD"), Fee: none},
		{TransactionType: "PAYMENT_REVERSAL", Settle: amt(-400, "USD"), Fee: none},
		{TransactionType: "SOMETHING_NEW", Settle: amt(-60, "USD"), Fee: amt(-6, "USD")},
		{TransactionType: "AUTHORIZATION", Settle: amt(9_999, "USD"), Fee: none},
		{TransactionType: "CAPTURE", Settle: amt(1_000, "USD"), Fee: amt(-30, "EUR")}, // fee in another currency
		{TransactionType: "CAPTURE", Settle: amt(-40, "USD"), Fee: amt(-50, "USD")},   // net of a fee larger than it
	}
	for _, c := range conventions(ConventionAuto) {
		m := &matcher{batches: map[[3]string]*batchTypeSum{}}
		var got Batch
		var feeDeducted int64
		for i := range rows {
			r := rows[i]
			r.SettlementBatchID = "B1"
			m.sumBatch(&r)
			l := BatchLine{BatchID: "B1", Currency: "USD", TransactionType: r.TransactionType, Settlement: r.Settle, Fee: r.Fee}
			l.read(c)
			feeDeducted += l.FeeDeducted
			switch l.Bucket {
			case BucketCaptures:
				got.Captures += l.Amount
			case BucketRefunds:
				got.Refunds += l.Amount
			case BucketDisputes:
				got.Disputes += l.Amount
			case BucketFees:
				got.Fees += l.Amount
			case BucketReserves:
				got.Reserves += l.Amount
			case BucketOther:
				got.Other += l.Amount
			case BucketNone:
				if l.Amount != 0 {
					t.Errorf("%s: %s moves %d", c, l.TransactionType, l.Amount)
				}
			}
		}
		got.Fees -= feeDeducted
		types := map[string]batchTypeSum{}
		for _, s := range m.batchSums() {
			types[s.TransactionType] = s
		}
		var want Batch
		rollUp(&want, types, c)
		g := [6]int64{got.Captures, got.Refunds, got.Disputes, got.Fees, got.Reserves, got.Other}
		w := [6]int64{want.Captures, want.Refunds, want.Disputes, want.Fees, want.Reserves, want.Other}
		if g != w {
			t.Errorf("%s: lines give captures, refunds, disputes, fees, reserves, other = %v, rollUp %v", c, g, w)
		}
	}
}

// TestConventionNamed: every convention a batch can be read under is found
// again by the name Batch.Convention stores.
func TestConventionNamed(t *testing.T) {
	for _, c := range conventions(ConventionAuto) {
		if got, ok := conventionNamed(c.String()); !ok || got != c {
			t.Errorf("conventionNamed(%q) = %v, %v", c.String(), got, ok)
		}
	}
	if _, ok := conventionNamed(""); ok {
		t.Error("the empty name (no convention fits) names a convention")
	}
}
