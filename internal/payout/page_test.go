package payout

import (
	"context"
	"sort"
	"testing"
	"time"
)

// TestPayoutPageReads: what a payout's page shows beside the payout — the
// payment each settlement line names (by its capture's APO id or the
// payment's own), and the current discrepancies about the payout (its own
// break on the due date, its credit's on the booking date), not those of
// another payout of the same days.
func TestPayoutPageReads(t *testing.T) {
	e := newTestEnv(t)
	e.recon.SetPayoutChecker(e.svc)
	ctx := context.Background()
	const pay = "0b7f3c55-3d4e-4d1c-9a57-8a3c1f0e2b11"
	// The ledger is payments'; a test seeds it the way recon's tests do.
	e.db.MustExec(`INSERT INTO payments (id, payment_request_id, apo_payment_id, reference_order_id, amount_minor,
		currency, capture_mode, status, captured_minor, refunded_minor, created_at, updated_at)
		VALUES ($1, 'payreq_1', 'apo_pay_1', 'order-1', 2000, 'EUR', 'MANUAL', 'CAPTURED', 2000, 0, now(), now())`, pay)
	e.db.MustExec(`INSERT INTO payment_transactions (id, payment_id, type, request_id, apo_id, amount_minor, currency,
		status, created_at, updated_at, completed_at)
		VALUES (gen_random_uuid(), $1, 'CAPTURE', 'capreq', 'apo_cap_1', 1000, 'EUR', 'SUCCEEDED', now(), now(), now())`, pay)
	// One line by the capture's id (APO's generation), one by the payment's
	// (the newest), one of nobody's.
	e.settle(t, "BMON", "2026-12-07", 5000, "apo_cap_1,apo_pay_1", "apo_pay_1,", "apo_unknown,")
	e.settle(t, "BOTHER", "2026-12-07", 7000)
	e.settle(t, "BTUE", "2026-12-08", 2000) // a run needs its day's reports
	e.settle(t, "BWED", "2026-12-09", 3000)
	e.reconcile(t, "2026-12-07")
	e.statement(t, "2026-12-08")
	_, got := e.reconcile(t, "2026-12-08")
	same(t, "Tuesday", got, []string{"PAYOUT_NOT_RECEIVED|BMON", "PAYOUT_NOT_RECEIVED|BOTHER"})
	e.statement(t, "2026-12-09", credit{8000, "", "Payout BMON", "APO Payments Europe"})
	_, got = e.reconcile(t, "2026-12-09")
	same(t, "Wednesday", got, []string{"PAYOUT_LATE|BMON", "PAYOUT_NOT_RECEIVED|BTUE"})

	page, err := e.svc.List(ctx, Filter{BatchID: "BMON"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("BMON: %v %+v", err, page.Items)
	}
	d, err := e.svc.Get(ctx, page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	payments, err := e.svc.LinePayments(ctx, d.Lines)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "payments of the lines", payments, map[string]string{"apo_cap_1": pay, "apo_pay_1": pay})

	found, err := e.svc.Discrepancies(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, x := range found {
		kinds = append(kinds, x.Period.Format(time.DateOnly)+" "+string(x.Kind)+" "+x.SettlementBatchID)
	}
	sort.Strings(kinds)
	same(t, "BMON's discrepancies", kinds, []string{"2026-12-08 PAYOUT_NOT_RECEIVED BMON", "2026-12-09 PAYOUT_LATE BMON"})

	other, err := e.svc.List(ctx, Filter{BatchID: "BOTHER"})
	if err != nil || len(other.Items) != 1 {
		t.Fatalf("BOTHER: %v %+v", err, other.Items)
	}
	od, err := e.svc.Get(ctx, other.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	found, err = e.svc.Discrepancies(ctx, od)
	if err != nil || len(found) != 1 || found[0].SettlementBatchID != "BOTHER" {
		t.Fatalf("BOTHER's discrepancies: %v %+v", err, found)
	}
	if none, err := e.svc.LinePayments(ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("payments of no line: %v %v", none, err)
	}
}
