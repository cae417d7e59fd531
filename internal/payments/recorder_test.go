package payments_test

import (
	"context"
	"strings"
	"testing"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/payments"
)

// auditCreate is the Audit of a create, as cmd/api builds it.
func auditCreate(p payments.Payment) audit.Entry {
	outcome := audit.OutcomeSucceeded
	if p.Status == payments.StatusFailed {
		outcome = audit.OutcomeFailed
	}
	return audit.Entry{Actor: "checkout", Action: audit.ActionPaymentCreate, Target: audit.PaymentTarget(p.ID), Outcome: outcome}
}

// payCommit is what one pay left behind: the transaction ids (xmin) that
// last wrote the payment, its pay call's apo_calls rows and its audit rows.
type payCommit struct {
	payment string
	calls   []string
	audits  []string
	status  string
}

func (h *harness) payCommit(t *testing.T, id string) payCommit {
	t.Helper()
	var c payCommit
	if err := h.db.QueryRow(`SELECT xmin::text, status FROM payments WHERE id = $1`, id).Scan(&c.payment, &c.status); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Select(&c.calls, `SELECT xmin::text FROM apo_calls WHERE api = 'pay' AND request_id = $1`, "pay-"+id); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Select(&c.audits, `SELECT xmin::text FROM audit_log WHERE target = $1`, audit.PaymentTarget(id)); err != nil {
		t.Fatal(err)
	}
	return c
}

// onlyPayment finds the one payment a failed create left.
func (h *harness) onlyPayment(t *testing.T) string {
	t.Helper()
	var id string
	if err := h.db.Get(&id, `SELECT id FROM payments`); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPayCommitsItsRecordAndAuditWithTheAnswer: after the pay call, the
// answer's application, the call's apo_calls record and the create's audit
// row are one transaction, whatever APO answered (authorized, declined,
// still in process), and the record is the call's, redacted.
func TestPayCommitsItsRecordAndAuditWithTheAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		card   string
		status payments.Status
	}{
		{"4111111111111111", payments.StatusAuthorized},
		{"4000000000000002", payments.StatusFailed},
		{"4000000000000119", payments.StatusProcessing},
	} {
		req := createReq(c.card, 1000, "USD")
		req.Audit = auditCreate
		p := h.create(t, req)
		got := h.payCommit(t, p.ID)
		if p.Status != c.status || len(got.calls) != 1 || len(got.audits) != 1 ||
			got.calls[0] != got.payment || got.audits[0] != got.payment {
			t.Errorf("%s: status %s, commits %+v: want %s and one transaction for payment, call and audit row",
				c.card, p.Status, got, c.status)
		}
	}
	var sent string
	if err := h.db.Get(&sent, `SELECT string_agg(request::text, ' ') FROM apo_calls WHERE api = 'pay'`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sent, "4111111111111111") || !strings.Contains(sent, "paymentRequestId") {
		t.Fatalf("recorded pay requests: %s", sent)
	}

	// Without an audit row to write, the record still commits with the answer.
	p := h.create(t, createReq("4111111111111111", 500, "EUR"))
	if got := h.payCommit(t, p.ID); len(got.calls) != 1 || got.calls[0] != got.payment || len(got.audits) != 0 {
		t.Fatalf("without Audit: %+v", got)
	}
}

// TestPayRecordSurvivesAFailedApply: when the answer cannot be applied,
// nothing of the application is kept, no audit row claims it (the caller
// audits the failure), and the call's record is written on its own; the
// payment stays PROCESSING for inquiries to resolve.
func TestPayRecordSurvivesAFailedApply(t *testing.T) {
	t.Parallel()
	t.Run("payment update refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.db.MustExec(`CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS
			$$BEGIN RAISE EXCEPTION 'update refused by the test'; END$$`)
		h.db.MustExec(`CREATE TRIGGER refuse BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION refuse_update()`)
		req := createReq("4111111111111111", 1000, "USD")
		req.Audit = auditCreate
		if _, err := h.svc.Create(context.Background(), req); err == nil || !strings.Contains(err.Error(), "update refused") {
			t.Fatalf("create: %v, want the refused update", err)
		}
		mustKeepOnlyTheRecord(t, h)
	})
	t.Run("audit row refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		req := createReq("4111111111111111", 1000, "USD")
		req.Audit = func(payments.Payment) audit.Entry { return audit.Entry{} } // no actor: Record refuses it
		if _, err := h.svc.Create(context.Background(), req); err == nil {
			t.Fatal("create with an unwritable audit row succeeded")
		}
		mustKeepOnlyTheRecord(t, h)
	})
}

func mustKeepOnlyTheRecord(t *testing.T, h *harness) {
	t.Helper()
	id := h.onlyPayment(t)
	got := h.payCommit(t, id)
	var applied int
	if err := h.db.Get(&applied, `SELECT count(*) FROM payment_events WHERE payment_id = $1 AND source = 'pay_response'`, id); err != nil {
		t.Fatal(err)
	}
	if got.status != string(payments.StatusProcessing) || len(got.calls) != 1 || len(got.audits) != 0 || applied != 0 {
		t.Fatalf("after a failed apply: %+v, %d pay answers applied; want PROCESSING, the call recorded, no audit row, nothing applied",
			got, applied)
	}
}
