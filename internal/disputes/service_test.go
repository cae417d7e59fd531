package disputes_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestDefendThenJudged runs capture → DISPUTE_CREATED → defence upload →
// DISPUTE_JUDGED, once won and once lost, and checks what the payment may
// still refund afterwards.
func TestDefendThenJudged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		result   string
		judged   int64 // the judged amount APO sends
		want     disputes.Status
		lost     int64
		refundOK int64 // the largest refund still allowed
	}{
		{disputes.JudgedValidateSuccess, 1000, disputes.StatusWon, 0, 1000},
		{disputes.JudgedAcceptByCustomer, 1000, disputes.StatusWon, 0, 1000},
		{disputes.JudgedValidateFail, 600, disputes.StatusLost, 600, 400},
		{disputes.JudgedAcceptByMerchant, 1000, disputes.StatusLost, 1000, 0},
	} {
		t.Run(tc.result, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			ctx := context.Background()
			p := h.capturedPayment(t, 1000)
			did := h.openDispute(t, p)
			due := h.clock.after(10 * 24 * time.Hour)
			h.deliver(t, created(did, p, due))

			d := h.byAPOID(t, did)
			if d.Status != disputes.StatusOpen || d.PaymentID != p.ID || d.NeedsAttention ||
				d.Amount.Minor != 1000 || d.Amount.Currency != "USD" || d.ReasonCode != "10.4" ||
				d.Source != "Visa" || d.Type != disputes.TypeChargeback || d.DefenseDue == nil ||
				!d.DefenseDue.Equal(due) || d.Defendable == nil || !*d.Defendable {
				t.Fatalf("after DISPUTE_CREATED: %+v", d)
			}

			doc := pdf("proof of delivery for " + tc.result)
			d, err := h.svc.Defend(ctx, d.ID, doc, "application/pdf", "op-alice")
			if err != nil {
				t.Fatalf("defend: %v", err)
			}
			sum := sha256.Sum256(doc)
			if d.Status != disputes.StatusDefenseSupplied || d.DefenseActor != "op-alice" || d.DefenseAt == nil ||
				d.Evidence == nil || d.Evidence.SHA256 != hex.EncodeToString(sum[:]) || d.Evidence.Size != len(doc) ||
				d.Evidence.ContentType != disputes.ContentTypePDF {
				t.Fatalf("after defend: %+v %+v", d, d.Evidence)
			}
			var stored []byte
			if err := h.db.Get(&stored, `SELECT evidence FROM disputes WHERE id = $1`, d.ID); err != nil || string(stored) != string(doc) {
				t.Fatalf("stored evidence %q (%v), want the document", stored, err)
			}
			// Sending the same document again is a no-op; another one is refused.
			if again, err := h.svc.Defend(ctx, d.ID, doc, "", "op-bob"); err != nil || again.DefenseActor != "op-alice" {
				t.Fatalf("same document again: %v %+v", err, again)
			}
			var ce *disputes.ConflictError
			if _, err := h.svc.Defend(ctx, d.ID, pdf("another"), "", "op-bob"); !errors.As(err, &ce) {
				t.Fatalf("another document: %v, want a conflict", err)
			}
			h.deliver(t, notification(apo.DisputeDefenseSupplied, did, p, nil))
			h.deliver(t, judged(did, p, tc.result, tc.judged))

			d = h.byAPOID(t, did)
			if d.Status != tc.want || d.LostMinor != tc.lost || d.JudgedResult != tc.result || d.JudgedTime == nil {
				t.Fatalf("after DISPUTE_JUDGED: status %s lost %d judged %q %v, want %s %d",
					d.Status, d.LostMinor, d.JudgedResult, d.JudgedTime, tc.want, tc.lost)
			}
			if got := h.payment(t, p.ID).DisputeLostMinor; got != tc.lost {
				t.Fatalf("payment disputed_minor %d, want %d", got, tc.lost)
			}
			var conflict *payments.ConflictError
			if _, _, err := h.pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: tc.refundOK + 1, Reason: "customer asked", Actor: "op"}); !errors.As(err, &conflict) {
				t.Fatalf("refund of %d after the dispute: %v, want a conflict", tc.refundOK+1, err)
			}
			if tc.refundOK > 0 {
				if _, _, err := h.pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: tc.refundOK, Reason: "customer asked", Actor: "op"}); err != nil {
					t.Fatalf("refund of the rest (%d): %v", tc.refundOK, err)
				}
			}
			det, err := h.svc.Get(ctx, d.ID)
			if err != nil || det.Payment == nil || det.Payment.Payment.Card.Last4 != "1111" || len(det.Payment.Events) == 0 {
				t.Fatalf("get: %v %+v", err, det.Payment)
			}
			kinds := []string{}
			for _, e := range det.Events {
				kinds = append(kinds, e.Kind)
			}
			if len(det.Events) < 4 || det.Events[0].Kind != apo.DisputeCreated {
				t.Fatalf("history %v", kinds)
			}
			mustNotContain(t, "logs", h.logs.String(), "4111111111111111")
		})
	}
}

// TestAcceptThenJudged: accepting concedes the amount at once (refunds are
// held to captured − accepted), the later DISPUTE_ACCEPTED changes nothing,
// and the judgement makes it LOST for the judged amount.
func TestAcceptThenJudged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 2500)
	did := h.openDispute(t, p)
	h.deliver(t, created(did, p, h.clock.after(10*24*time.Hour)))
	d := h.byAPOID(t, did)

	var inv *disputes.InvalidError
	if _, err := h.svc.Accept(ctx, d.ID, "  ", "op"); !errors.As(err, &inv) {
		t.Fatalf("accept without a reason: %v", err)
	}
	d, err := h.svc.Accept(ctx, d.ID, "goods not shipped", "op-carol")
	if err != nil || d.Status != disputes.StatusAccepted || d.AcceptReason != "MERCHANT_ACCEPTED" || d.AcceptTime == nil || d.LostMinor != 2500 {
		t.Fatalf("accept: %v %+v", err, d)
	}
	if got := h.payment(t, p.ID).DisputeLostMinor; got != 2500 {
		t.Fatalf("disputed_minor after accept %d, want 2500", got)
	}
	if again, err := h.svc.Accept(ctx, d.ID, "again", "op-carol"); err != nil || again.Status != disputes.StatusAccepted {
		t.Fatalf("accept again: %v %+v", err, again)
	}
	var ce *disputes.ConflictError
	if _, err := h.svc.Defend(ctx, d.ID, pdf("late"), "", "op"); !errors.As(err, &ce) {
		t.Fatalf("defend an accepted dispute: %v", err)
	}
	h.deliver(t, notification(apo.DisputeAccepted, did, p, map[string]any{
		"disputeAcceptReason": "MERCHANT_ACCEPTED", "disputeAcceptTime": "2026-11-23T10:00:00+08:00"}))
	if d2 := h.byAPOID(t, did); d2.Status != disputes.StatusAccepted || d2.NeedsAttention {
		t.Fatalf("after DISPUTE_ACCEPTED: %+v", d2)
	}
	h.deliver(t, judged(did, p, disputes.JudgedAcceptByMerchant, 2000))
	d = h.byAPOID(t, did)
	if d.Status != disputes.StatusLost || d.LostMinor != 2000 {
		t.Fatalf("after judgement: %s lost %d", d.Status, d.LostMinor)
	}
	if got := h.payment(t, p.ID).DisputeLostMinor; got != 2000 {
		t.Fatalf("disputed_minor after judgement %d, want 2000", got)
	}
	var conflict *payments.ConflictError
	if _, _, err := h.pay.Refund(ctx, p.ID, payments.RefundRequest{Amount: 501, Reason: "x", Actor: "op"}); !errors.As(err, &conflict) {
		t.Fatalf("refund beyond captured − lost: %v", err)
	}
	var accepts int
	for _, e := range mustEvents(t, h, d.ID) {
		if e.Source == disputes.SourceAPI && e.Kind == "accept" {
			accepts++
			if e.Actor != "op-carol" || !e.Applied || !strings.Contains(e.Note, "goods not shipped") {
				t.Errorf("accept event %+v", e)
			}
		}
	}
	if accepts != 1 {
		t.Fatalf("%d accept calls recorded, want 1 (the second accept must not call APO)", accepts)
	}
}

func mustEvents(t *testing.T, h *harness, id string) []disputes.Event {
	t.Helper()
	det, err := h.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return det.Events
}

// TestTimeExceedsLimit: once APO's defence window has closed, a defence or
// an acceptance is refused with APO's code, and nothing changes.
func TestTimeExceedsLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 700)
	did := h.openDispute(t, p) // the sandbox gives 10 days
	h.deliver(t, created(did, p, h.clock.after(10*24*time.Hour)))
	h.clock.advance(11 * 24 * time.Hour)
	d := h.byAPOID(t, did)
	var rej *disputes.RejectedError
	if _, err := h.svc.Defend(ctx, d.ID, pdf("late"), "application/pdf", "op"); !errors.As(err, &rej) || rej.Code != "TIME_EXCEEDS_LIMIT" {
		t.Fatalf("late defence: %v, want TIME_EXCEEDS_LIMIT", err)
	}
	if _, err := h.svc.Accept(ctx, d.ID, "give up", "op"); !errors.As(err, &rej) || rej.Code != "TIME_EXCEEDS_LIMIT" {
		t.Fatalf("late accept: %v, want TIME_EXCEEDS_LIMIT", err)
	}
	if d = h.byAPOID(t, did); d.Status != disputes.StatusOpen || d.Evidence != nil {
		t.Fatalf("after refusals: status %s, evidence %+v; want OPEN and no document", d.Status, d.Evidence)
	}
	if n := h.count(t, `SELECT count(*) FROM disputes WHERE evidence IS NOT NULL`); n != 0 {
		t.Fatalf("the refused document is still stored")
	}
	refused := 0
	for _, e := range mustEvents(t, h, d.ID) {
		if e.Source == disputes.SourceAPI && !e.Applied && strings.Contains(e.Note, "TIME_EXCEEDS_LIMIT") {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d refused actions in the history, want 2", refused)
	}
}

// TestDefendChecksTheDocument: only PDF, JPEG and PNG up to 750,000 bytes,
// judged by content; nothing is sent or stored otherwise.
func TestDefendChecksTheDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 900)
	did := h.openDispute(t, p)
	h.deliver(t, created(did, p, h.clock.after(10*24*time.Hour)))
	d := h.byAPOID(t, did)
	big := append(pdf("big"), make([]byte, disputes.MaxEvidenceBytes)...)
	for name, tc := range map[string]struct {
		doc []byte
		ct  string
	}{
		"empty":           {nil, "application/pdf"},
		"gif":             {[]byte("GIF89a......"), "image/gif"},
		"text":            {[]byte("hello"), "text/plain"},
		"too large":       {big[:disputes.MaxEvidenceBytes+1], "application/pdf"},
		"declared wrong":  {pdf("x"), "image/png"},
		"png called jpeg": {[]byte("\x89PNG\r\n\x1a\nrest"), "image/jpeg"},
	} {
		var inv *disputes.InvalidError
		if _, err := h.svc.Defend(ctx, d.ID, tc.doc, tc.ct, "op"); !errors.As(err, &inv) || inv.Field != "file" {
			t.Errorf("%s: %v, want an invalid file", name, err)
		}
	}
	if n := h.count(t, `SELECT count(*) FROM disputes WHERE evidence IS NOT NULL`); n != 0 {
		t.Fatalf("%d documents stored after rejections", n)
	}
	// The largest allowed JPEG goes through (base64 of 750,000 bytes is
	// exactly APO's 1,000,000 characters).
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, disputes.MaxEvidenceBytes-4)...)
	if d, err := h.svc.Defend(ctx, d.ID, jpeg, "application/octet-stream", "op"); err != nil || d.Evidence.ContentType != disputes.ContentTypeJPEG {
		t.Fatalf("largest JPEG: %v", err)
	}
}

// TestNotificationsInAnyOrder delivers every order of a dispute's
// notifications, each twice, and expects one correct state and one event
// per notification.
func TestNotificationsInAnyOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 1200)
	due := h.clock.after(10 * 24 * time.Hour)
	perms := permutations([]string{apo.DisputeCreated, apo.DisputeDefenseSupplied, apo.DisputeJudged, apo.DisputeDefenseDueAlert})
	for i, order := range perms {
		did := fmt.Sprintf("2026DSP%04d", i)
		bodies := map[string][]byte{
			apo.DisputeCreated:         created(did, p, due),
			apo.DisputeDefenseSupplied: notification(apo.DisputeDefenseSupplied, did, p, nil),
			apo.DisputeJudged:          judged(did, p, disputes.JudgedValidateFail, 300),
			apo.DisputeDefenseDueAlert: notification(apo.DisputeDefenseDueAlert, did, p, map[string]any{"defenseDueTime": due.Add(time.Hour).Format(time.RFC3339)}),
		}
		for _, k := range order {
			h.handle(t, bodies[k])
			h.handle(t, bodies[k])
		}
		d := h.byAPOID(t, did)
		if d.Status != disputes.StatusLost || d.LostMinor != 300 || d.ReasonCode != "10.4" || d.Amount.Minor != 1200 ||
			d.Type != disputes.TypeChargeback || d.DefenseDue == nil || d.PaymentID != p.ID || d.NeedsAttention {
			t.Fatalf("order %v: %+v", order, d)
		}
		if n := h.count(t, `SELECT count(*) FROM dispute_events WHERE dispute_id = $1`, d.ID); n != 4 {
			t.Fatalf("order %v: %d events, want 4", order, n)
		}
	}
	if n := h.count(t, `SELECT count(*) FROM disputes`); n != len(perms) {
		t.Fatalf("%d disputes, want %d", n, len(perms))
	}
	// Every one of them lost 300: the payment's total is capped at captured.
	if got := h.payment(t, p.ID).DisputeLostMinor; got != 1200 {
		t.Fatalf("disputed_minor %d, want the captured 1200 (cap)", got)
	}
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// TestJudgedBeforeCreated: the judgement creates the dispute from its own
// fields; the late DISPUTE_CREATED fills in the rest without moving it
// back; a conflicting final answer is kept for review, not applied.
func TestJudgedBeforeCreated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 800)
	did := "2026JBC0001"
	h.deliver(t, judged(did, p, disputes.JudgedAcceptByMerchant, 800))
	d := h.byAPOID(t, did)
	if d.Status != disputes.StatusLost || d.LostMinor != 800 || d.PaymentID != p.ID || d.DefenseDue != nil || d.Amount.Currency != "" {
		t.Fatalf("from the judgement alone: %+v", d)
	}
	if got := h.payment(t, p.ID).DisputeLostMinor; got != 800 {
		t.Fatalf("disputed_minor %d, want 800", got)
	}
	h.deliver(t, created(did, p, h.clock.after(10*24*time.Hour)))
	d = h.byAPOID(t, did)
	if d.Status != disputes.StatusLost || d.DefenseDue == nil || d.Amount.Minor != 800 || d.ARN == "" || d.NeedsAttention {
		t.Fatalf("after the late DISPUTE_CREATED: %+v", d)
	}
	h.deliver(t, notification(apo.DisputeCancelled, did, p, nil))
	d = h.byAPOID(t, did)
	if d.Status != disputes.StatusLost || !d.NeedsAttention || !strings.Contains(d.AttentionReason, "DISPUTE_CANCELLED") {
		t.Fatalf("after a conflicting DISPUTE_CANCELLED: %+v", d)
	}
	evs := mustEvents(t, h, d.ID)
	last := evs[len(evs)-1]
	if last.Applied || last.Kind != apo.DisputeCancelled || last.StatusAfter != disputes.StatusLost {
		t.Fatalf("conflict event %+v", last)
	}
}

// TestUnknownPaymentIsKept: a dispute for a payment we do not know is
// stored and flagged, never dropped.
func TestUnknownPaymentIsKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ghost := payments.Payment{APOPaymentID: "2026GHOSTPAY", PaymentRequestID: "pay-ghost", CapturedMinor: 500,
		Amount: money.Money{Minor: 500, Currency: "USD"}}
	body := created("2026GHOST01", ghost, h.clock.after(5*24*time.Hour))
	body = []byte(strings.Replace(string(body), `"disputeType":"CHARGEBACK"`, `"disputeType":"PRE_ARBITRATION","cardNo":"4111111111111111"`, 1))
	// APO documents scalars as strings: the legacy string form still reads.
	body = []byte(strings.Replace(string(body), `"defendable":true`, `"defendable":"false"`, 1))
	h.deliver(t, body)
	d := h.byAPOID(t, "2026GHOST01")
	if d.PaymentID != "" || !d.NeedsAttention || !strings.Contains(d.AttentionReason, "payment not found") ||
		!strings.Contains(d.AttentionReason, "PRE_ARBITRATION") || d.Status != disputes.StatusOpen ||
		d.Defendable == nil || *d.Defendable {
		t.Fatalf("dispute of an unknown payment: %+v", d)
	}
	var payload string
	if err := h.db.Get(&payload, `SELECT payload::text FROM dispute_events WHERE dispute_id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	mustNotContain(t, "stored payload", payload, "4111111111111111")
	page, err := h.svc.List(context.Background(), disputes.Filter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(page.Items))
	}
}

// TestConcurrentFirstNotifications: the same new dispute notified by many
// deliveries at once ends up as one dispute with one event.
func TestConcurrentFirstNotifications(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 400)
	body := created("2026RACE001", p, h.clock.after(9*24*time.Hour))
	n, err := apo.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.svc.HandleDisputeNotification(context.Background(), n.Dispute, body)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.count(t, `SELECT count(*) FROM disputes`); got != 1 {
		t.Fatalf("%d disputes, want 1", got)
	}
	if got := h.count(t, `SELECT count(*) FROM dispute_events`); got != 1 {
		t.Fatalf("%d events, want 1", got)
	}
}

// TestListFilters pages and filters the list.
func TestListFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 1000)
	q := h.capturedPayment(t, 1000)
	for i := range 5 {
		pp := p
		if i%2 == 1 {
			pp = q
		}
		h.clock.advance(time.Second)
		h.handle(t, created(fmt.Sprintf("2026LIST%02d", i), pp, h.clock.after(time.Duration(i+1)*24*time.Hour)))
	}
	h.clock.advance(time.Second)
	h.handle(t, notification(apo.DisputeCreated, "2026LIST99", p, map[string]any{
		"disputeReasonCode": "4853", "disputeSource": "Mastercard", "defenseDueTime": h.clock.after(30 * 24 * time.Hour).Format(time.RFC3339)}))
	h.handle(t, judged("2026LIST00", p, disputes.JudgedValidateSuccess, 1000))

	all := []string{}
	cursor := ""
	for {
		page, err := h.svc.List(ctx, disputes.Filter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Items {
			all = append(all, d.APODisputeID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if strings.Join(all, ",") != "2026LIST99,2026LIST04,2026LIST03,2026LIST02,2026LIST01,2026LIST00" {
		t.Fatalf("paged list %v", all)
	}
	for name, tc := range map[string]struct {
		f    disputes.Filter
		want int
	}{
		"status won":      {disputes.Filter{Status: disputes.StatusWon}, 1},
		"due within 2.5d": {disputes.Filter{DueBefore: h.clock.after(60 * time.Hour)}, 1}, // LIST00 is WON, LIST01 due in 2d
		"due within 3.5d": {disputes.Filter{DueBefore: h.clock.after(84 * time.Hour)}, 2},
		"reason":          {disputes.Filter{ReasonCode: "4853"}, 1},
		"scheme":          {disputes.Filter{Source: "visa"}, 5},
		"payment":         {disputes.Filter{PaymentID: q.ID}, 2},
	} {
		page, err := h.svc.List(ctx, tc.f)
		if err != nil || len(page.Items) != tc.want {
			t.Errorf("%s: %v, %d items, want %d", name, err, len(page.Items), tc.want)
		}
	}
	var inv *disputes.InvalidError
	for _, f := range []disputes.Filter{{Cursor: "nope"}, {Status: "WHATEVER"}, {PaymentID: "x"}} {
		if _, err := h.svc.List(ctx, f); !errors.As(err, &inv) {
			t.Errorf("filter %+v: %v, want invalid", f, err)
		}
	}
	if _, err := h.svc.Get(ctx, "not-a-uuid"); !errors.Is(err, disputes.ErrNotFound) {
		t.Errorf("get of a bad id: %v", err)
	}
}

// TestEvidenceTemplate downloads APO's template.
func TestEvidenceTemplate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 300)
	did := h.openDispute(t, p)
	h.handle(t, created(did, p, h.clock.after(10*24*time.Hour)))
	doc, err := h.svc.EvidenceTemplate(context.Background(), h.byAPOID(t, did).ID)
	if err != nil || doc.Format != disputes.FormatPDF || doc.ContentType != "application/pdf" ||
		!strings.HasPrefix(string(doc.Data), "%PDF-") || !strings.Contains(string(doc.Data), did) {
		t.Fatalf("template: %v %s %s %.40q", err, doc.Format, doc.ContentType, doc.Data)
	}
	h.handle(t, created("2026NOTATAPO", p, h.clock.after(10*24*time.Hour)))
	var rej *disputes.RejectedError
	if _, err := h.svc.EvidenceTemplate(context.Background(), h.byAPOID(t, "2026NOTATAPO").ID); !errors.As(err, &rej) {
		t.Fatalf("template of a dispute APO does not know: %v", err)
	}
}

// TestConcurrentLossesAddUp: several disputes of one payment lost at the
// same moment leave the payment with the full sum, not a stale part of it.
func TestConcurrentLossesAddUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	p := h.capturedPayment(t, 1000)
	const n = 5
	for i := range n {
		h.handle(t, created(fmt.Sprintf("2026SUM%02d", i), p, h.clock.after(9*24*time.Hour)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := judged(fmt.Sprintf("2026SUM%02d", i), p, disputes.JudgedValidateFail, 100)
			nt, err := apo.DecodeNotification(body)
			if err == nil {
				err = h.svc.HandleDisputeNotification(context.Background(), nt.Dispute, body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.payment(t, p.ID).DisputeLostMinor; got != n*100 {
		t.Fatalf("disputed_minor %d, want %d", got, n*100)
	}
}

// TestUnknownOutcome: when APO cannot be reached the answer is
// ErrOutcomeUnknown, nothing moves, the document stays stored (APO may
// have it), and the same request retried once APO answers goes through.
func TestUnknownOutcome(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.capturedPayment(t, 650)
	did := h.openDispute(t, p)
	h.handle(t, created(did, p, h.clock.after(10*24*time.Hour)))
	id := h.byAPOID(t, did).ID
	dead, err := apo.New(apo.Config{BaseURL: "http://127.0.0.1:1", ClientID: sandboxtest.ClientID,
		PrivateKey: h.env.MerchantKey, APOPublicKey: &h.env.APOKey.PublicKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cut := disputes.NewService(h.db, dead, h.pay, nil, slog.New(slog.DiscardHandler))
	if _, err := cut.Accept(ctx, id, "give up", "op"); !errors.Is(err, disputes.ErrOutcomeUnknown) {
		t.Fatalf("accept with APO unreachable: %v", err)
	}
	doc := pdf("retry me")
	if _, err := cut.Defend(ctx, id, doc, "", "op"); !errors.Is(err, disputes.ErrOutcomeUnknown) {
		t.Fatalf("defend with APO unreachable: %v", err)
	}
	d := h.byAPOID(t, did)
	if d.Status != disputes.StatusOpen || d.Evidence == nil {
		t.Fatalf("after unknown outcomes: %s, evidence %+v", d.Status, d.Evidence)
	}
	if d, err = h.svc.Defend(ctx, id, doc, "", "op"); err != nil || d.Status != disputes.StatusDefenseSupplied {
		t.Fatalf("retry: %v %s", err, d.Status)
	}
	unknown := 0
	for _, e := range mustEvents(t, h, id) {
		if strings.Contains(e.Note, "outcome unknown") && !e.Applied {
			unknown++
		}
	}
	if unknown != 2 {
		t.Fatalf("%d unknown outcomes in the history, want 2", unknown)
	}
}
