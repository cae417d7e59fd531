package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/money"
)

type bulkBody struct {
	DryRun bool               `json:"dry_run"`
	Count  int                `json:"count"`
	Totals []ReconAmountTotal `json:"totals"`
	IDs    []int64            `json:"ids"`
}

// TestReconBulkDiscrepancies: finance previews a filtered selection
// (count and amounts per currency, nothing changes, nothing audited), then
// ignores it with a note (the same figures, audited once with the ids, an
// Idempotency-Key replays it); the note is mandatory; one discrepancy that
// may not change means none changes; the list takes the same filters.
func TestReconBulkDiscrepancies(t *testing.T) {
	t.Parallel()
	e := newReconEnv(t, 0)
	small := seedCaptured(t, e.db, "small", money.Money{Minor: 1000, Currency: "USD"})
	large := seedCaptured(t, e.db, "large", money.Money{Minor: 2550, Currency: "USD"})
	e.uploadOK(t, reportPart{"transactionItems_20240301_000.csv", tdReport(t, true,
		paymentLine(small), captureLine(small, "12.00"), paymentLine(large), captureLine(large, "26.50"),
		tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_stranger", "transactionRequestId": "capreq_stranger",
			"transactionAmountValue": "99.00", "transactionCurrency": "USD"})})
	if run := e.waitRun(t, e.startRun(t, map[string]any{"date": "2024-03-01"}).ID); run.Status != "SUCCEEDED" {
		t.Fatalf("run %+v", run)
	}
	list := func(query string) []Discrepancy {
		t.Helper()
		resp, b := e.get(t, "/v1/recon/discrepancies?"+query, e.viewer)
		return decodeBody[discrepancyListBody](t, resp, b, http.StatusOK).Items
	}
	all := list("")
	var stranger Discrepancy
	for _, d := range all {
		if d.Kind == "MISSING_IN_LEDGER" {
			stranger = d
		}
	}
	if len(all) != 3 || stranger.ID == 0 {
		t.Fatalf("discrepancies %+v", all)
	}
	bulk := func(key string, hdr http.Header, body any) (*http.Response, []byte) {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range hdr {
			h[k] = v
		}
		return e.call(t, http.MethodPost, "/v1/recon/discrepancies/bulk", key, h, bytes.NewReader(b))
	}
	filter := map[string]any{"kind": "AMOUNT_MISMATCH", "status": "OPEN", "currency": "USD", "max_amount": 3000}
	want := []ReconAmountTotal{{Currency: "USD", Count: 2, Amount: &Money{Value: 1200 + 2650, Currency: "USD"}}}

	// The preview: what would change, and nothing changes.
	resp, b := bulk(e.viewer, nil, map[string]any{"filter": filter, "dry_run": true})
	mustProblem(t, resp, b, http.StatusForbidden)
	resp, b = bulk(e.finance, nil, map[string]any{"filter": filter, "dry_run": true})
	preview := decodeBody[bulkBody](t, resp, b, http.StatusOK)
	if !preview.DryRun || preview.Count != 2 || !slices.EqualFunc(preview.Totals, want, equalTotal) || preview.IDs != nil {
		t.Fatalf("preview %+v", preview)
	}
	if got := list("kind=AMOUNT_MISMATCH&currency=USD&max_amount=3000&status=OPEN"); len(got) != preview.Count {
		t.Fatalf("the list of the same filter: %+v", got)
	}

	// Refused: nothing selected, no note, amounts without a currency.
	for _, c := range []struct {
		body     map[string]any
		location string
	}{
		{map[string]any{"dry_run": true}, "body.filter"},
		{map[string]any{"filter": filter, "status": "IGNORED"}, "body.note"},
		{map[string]any{"filter": filter, "status": "IGNORED", "note": "   "}, "body.note"},
		{map[string]any{"filter": map[string]any{"min_amount": 5}, "dry_run": true}, "body.filter.min_amount"},
		{map[string]any{"ids": []int64{stranger.ID, 999999}, "status": "IGNORED", "note": "x"}, "body.ids"},
	} {
		resp, b := bulk(e.finance, nil, c.body)
		if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) == 0 || p.Errors[0].Location != c.location {
			t.Errorf("%v: %+v, want it at %s", c.body, p, c.location)
		}
	}
	if n := len(list("status=OPEN")); n != 3 {
		t.Fatalf("%d open after refused requests, want 3", n)
	}
	if a := e.audits(t, actionDiscrepancyBulk); len(a) != 3 || a[0].Outcome != audit.OutcomeRejected {
		t.Fatalf("audit of refused changes (not of previews) %+v", a)
	}

	// The change: the preview's figures, the ids, each row noted; an
	// Idempotency-Key replays the answer.
	body := map[string]any{"filter": filter, "status": "IGNORED", "note": "under the write-off threshold"}
	idem := http.Header{httpguard.Header: {"bulk-1"}}
	resp, b = bulk(e.finance, idem, body)
	done := decodeBody[bulkBody](t, resp, b, http.StatusOK)
	if done.DryRun || done.Count != preview.Count || !slices.EqualFunc(done.Totals, preview.Totals, equalTotal) || len(done.IDs) != 2 {
		t.Fatalf("change %+v, want the preview %+v", done, preview)
	}
	resp, b = bulk(e.finance, idem, body)
	if again := decodeBody[bulkBody](t, resp, b, http.StatusOK); resp.Header.Get(httpguard.ReplayedHeader) != "true" ||
		!slices.Equal(again.IDs, done.IDs) {
		t.Fatalf("replay %+v %v", again, resp.Header)
	}
	ignored := list("status=IGNORED")
	if len(ignored) != 2 {
		t.Fatalf("ignored %+v", ignored)
	}
	for _, d := range ignored {
		if !slices.Contains(done.IDs, d.ID) || d.Note != "under the write-off threshold" || d.Actor != "finance-1" || d.ResolvedAt == nil {
			t.Errorf("ignored %+v", d)
		}
	}
	var succeeded []audit.Entry
	for _, a := range e.audits(t, actionDiscrepancyBulk) {
		if a.Outcome == audit.OutcomeSucceeded {
			succeeded = append(succeeded, a)
		}
	}
	if len(succeeded) != 1 || succeeded[0].Target != discrepancyBulkTarget || succeeded[0].Actor != "finance-1" ||
		!strings.Contains(string(succeeded[0].Input.(json.RawMessage)), `"changed": [`+strconv.FormatInt(done.IDs[0], 10)) {
		t.Fatalf("audit of the change %+v", succeeded)
	}

	// All or nothing: one of them is ignored already.
	resp, b = bulk(e.finance, nil, map[string]any{"ids": []int64{stranger.ID, done.IDs[0]}, "status": "IGNORED", "note": "x"})
	if p := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(p.Detail, "IGNORED already") {
		t.Fatalf("conflict %+v", p)
	}
	if d := list("kind=MISSING_IN_LEDGER"); len(d) != 1 || d[0].Status != "OPEN" {
		t.Fatalf("changed despite the conflict: %+v", d)
	}

	// The list's new filters: max_amount=0 is a bound, not its absence.
	if got := list("currency=USD&max_amount=0"); len(got) != 0 {
		t.Errorf("amounts of size 0: %+v", got)
	}
	if got := list("currency=USD&min_amount=5000"); len(got) != 1 || got[0].ID != stranger.ID {
		t.Errorf("amounts from 50.00: %+v", got)
	}
	if got := list("older_than_days=1"); len(got) != 3 {
		t.Errorf("older than a day: %d", len(got))
	}
	resp, b = e.get(t, "/v1/recon/discrepancies?min_amount=5", e.viewer)
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) == 0 || p.Errors[0].Location != "query.min_amount" {
		t.Errorf("amount without a currency: %+v", p)
	}
}

func equalTotal(a, b ReconAmountTotal) bool {
	return a.Currency == b.Currency && a.Count == b.Count && a.Saturated == b.Saturated &&
		(a.Amount == nil) == (b.Amount == nil) && (a.Amount == nil || *a.Amount == *b.Amount)
}
