package inbox_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/inbox"
)

// TestListAttention lists what needs a person, newest first and page by
// page: a FAILED event, an IGNORED one (bad signature) and one PENDING for
// longer than StuckAfter; not a PROCESSED one nor one PENDING for a moment.
func TestListAttention(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)

	// Received an hour ago: one stuck PENDING, one about an unknown
	// capture, FAILED once its patience is over.
	h.in.SetClock(func() time.Time { return past })
	stuck, err := h.notify(t, captureResult("", "2026APO-STUCK", "C-S", `,"captureAmount":{"currency":"USD","value":"100"}`))
	if err != nil {
		t.Fatal(err)
	}
	failed, err := h.notify(t, captureResult("", "2026APO-NOBODY", "C-X", `,"captureAmount":{"currency":"USD","value":"100"}`))
	if err != nil {
		t.Fatal(err)
	}
	h.in.SetClock(time.Now)
	if err := h.in.Process(ctx, failed.ID); err == nil {
		t.Fatal("an unknown capture past its patience processed")
	}

	p := h.create(t, createReq("4000000000000002", 700, "USD"))
	processed, err := h.notify(t, paymentResult(p, "S", "SUCCESS"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.in.Process(ctx, processed.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.notify(t, paymentResult(p, "F", "DO_NOT_HONOR")); err != nil { // fresh PENDING
		t.Fatal(err)
	}
	ts := time.Now().UTC().Format(time.RFC3339)
	body := captureResult("", "2026APO-FORGED", "C-F", "")
	sig, _ := apo.Sign(h.env.MerchantKey, "POST", "/webhooks/apo", "SANDBOX_PAYOPS", ts, []byte(body)) // not APO's key
	forged, _, err := h.in.Intake(ctx, "POST", "/webhooks/apo",
		http.Header{"Signature": {sig}, "Client-Id": {"SANDBOX_PAYOPS"}, "Request-Time": {ts}}, []byte(body))
	if err == nil {
		t.Fatal("a forged notification was accepted")
	}

	var got []string
	var states []inbox.State
	cursor := ""
	for {
		page, err := h.in.ListAttention(ctx, inbox.Filter{Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Items {
			got = append(got, ev.ID)
			states = append(states, ev.State)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if want := []string{forged.ID, failed.ID, stuck.ID}; !slices.Equal(got, want) {
		t.Fatalf("attention list %v (%v), want %v: the forged, the failed, the stuck, newest first", got, states, want)
	}
	page, err := h.in.ListAttention(ctx, inbox.Filter{Verdict: "invalid"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != forged.ID {
		t.Fatalf("verdict filter: %v %+v", err, page.Items)
	}
	if _, err := h.in.ListAttention(ctx, inbox.Filter{Cursor: "forged"}); err == nil {
		t.Fatal("a forged cursor was taken")
	}
}
