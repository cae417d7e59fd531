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

// bulkEnv is a reconciled day: two AMOUNT_MISMATCH of 12.00 and 26.50 USD
// (the report's amounts) and a MISSING_IN_LEDGER of 99.00 USD, all OPEN.
type bulkEnv struct {
	*reconEnv
	stranger Discrepancy
}

// smallUSD selects the two amount mismatches.
var smallUSD = map[string]any{"kind": "AMOUNT_MISMATCH", "status": "OPEN", "currency": "USD", "max_amount": 3000}

func newBulkEnv(t *testing.T) *bulkEnv {
	t.Helper()
	e := &bulkEnv{reconEnv: newReconEnv(t, 0)}
	small := seedCaptured(t, e.db, "small", money.Money{Minor: 1000, Currency: "USD"})
	large := seedCaptured(t, e.db, "large", money.Money{Minor: 2550, Currency: "USD"})
	e.uploadOK(t, reportPart{"transactionItems_20240301_000.csv", tdReport(t, true,
		paymentLine(small), captureLine(small, "12.00"), paymentLine(large), captureLine(large, "26.50"),
		tdLine{"transactionType": "CAPTURE", "transactionId": "2024cap_stranger", "transactionRequestId": "capreq_stranger",
			"transactionAmountValue": "99.00", "transactionCurrency": "USD"})})
	if run := e.waitRun(t, e.startRun(t, map[string]any{"date": "2024-03-01"}).ID); run.Status != "SUCCEEDED" {
		t.Fatalf("run %+v", run)
	}
	all := e.current(t, "")
	for _, d := range all {
		if d.Kind == "MISSING_IN_LEDGER" {
			e.stranger = d
		}
	}
	if len(all) != 3 || e.stranger.ID == 0 {
		t.Fatalf("discrepancies %+v", all)
	}
	return e
}

func (e *bulkEnv) current(t *testing.T, query string) []Discrepancy {
	t.Helper()
	resp, b := e.get(t, "/v1/recon/discrepancies?"+query, e.viewer)
	return decodeBody[discrepancyListBody](t, resp, b, http.StatusOK).Items
}

func (e *bulkEnv) bulk(t *testing.T, key string, hdr http.Header, body any) (*http.Response, []byte) {
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

// TestReconBulkPreviewThenChange: finance previews a filtered selection
// (count and amounts per currency; nothing changes, nothing is audited),
// then ignores it with a note: the same figures with the ids, each row
// noted, one audit row listing them; an Idempotency-Key replays it.
func TestReconBulkPreviewThenChange(t *testing.T) {
	t.Parallel()
	e := newBulkEnv(t)
	resp, b := e.bulk(t, e.finance, nil, map[string]any{"filter": smallUSD, "dry_run": true})
	preview := decodeBody[bulkBody](t, resp, b, http.StatusOK)
	want := []ReconAmountTotal{{Currency: "USD", Count: 2, Amount: &Money{Value: 1200 + 2650, Currency: "USD"}}}
	if !preview.DryRun || preview.Count != 2 || !slices.EqualFunc(preview.Totals, want, equalTotal) || preview.IDs != nil {
		t.Fatalf("preview %+v", preview)
	}
	if got := e.current(t, "kind=AMOUNT_MISMATCH&currency=USD&max_amount=3000&status=OPEN"); len(got) != preview.Count {
		t.Fatalf("the list of the same filter: %+v", got)
	}
	if n := len(e.current(t, "status=OPEN")); n != 3 || len(e.audits(t, audit.ActionDiscrepancyBulk)) != 0 {
		t.Fatalf("after a preview: %d open, audit %+v", n, e.audits(t, audit.ActionDiscrepancyBulk))
	}

	body := map[string]any{"filter": smallUSD, "status": "IGNORED", "note": "under the write-off threshold"}
	idem := http.Header{httpguard.Header: {"bulk-1"}}
	resp, b = e.bulk(t, e.finance, idem, body)
	done := decodeBody[bulkBody](t, resp, b, http.StatusOK)
	if done.DryRun || done.Count != preview.Count || !slices.EqualFunc(done.Totals, preview.Totals, equalTotal) || len(done.IDs) != 2 {
		t.Fatalf("change %+v, want the preview %+v", done, preview)
	}
	resp, b = e.bulk(t, e.finance, idem, body)
	if again := decodeBody[bulkBody](t, resp, b, http.StatusOK); resp.Header.Get(httpguard.ReplayedHeader) != "true" ||
		!slices.Equal(again.IDs, done.IDs) {
		t.Fatalf("replay %+v %v", again, resp.Header)
	}
	e.mustBeIgnored(t, done.IDs, "under the write-off threshold")
	rows := e.audits(t, audit.ActionDiscrepancyBulk)
	if len(rows) != 1 || rows[0].Outcome != audit.OutcomeSucceeded || rows[0].Target != audit.DiscrepancyBulkTarget ||
		rows[0].Actor != "finance-1" ||
		!strings.Contains(string(rows[0].Input.(json.RawMessage)), `"changed": [`+strconv.FormatInt(done.IDs[0], 10)) {
		t.Fatalf("audit of the change %+v", rows)
	}
}

// TestReconBulkRefused: viewers cannot; nothing selected, no note, an
// amount without a currency or an unknown id is 422 at its place; one
// discrepancy that may not change makes a 409 and none changes. Refused
// changes are audited, previews are not.
func TestReconBulkRefused(t *testing.T) {
	t.Parallel()
	e := newBulkEnv(t)
	resp, b := e.bulk(t, e.viewer, nil, map[string]any{"filter": smallUSD, "dry_run": true})
	mustProblem(t, resp, b, http.StatusForbidden)
	for _, c := range []struct {
		body     map[string]any
		location string
	}{
		{map[string]any{"dry_run": true}, "body.filter"},
		{map[string]any{"filter": smallUSD, "status": "IGNORED"}, "body.note"},
		{map[string]any{"filter": smallUSD, "status": "IGNORED", "note": "   "}, "body.note"},
		{map[string]any{"filter": map[string]any{"min_amount": 5}, "dry_run": true}, "body.filter.min_amount"},
		{map[string]any{"ids": []int64{e.stranger.ID, 999999}, "status": "IGNORED", "note": "x"}, "body.ids"},
	} {
		resp, b := e.bulk(t, e.finance, nil, c.body)
		if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) == 0 || p.Errors[0].Location != c.location {
			t.Errorf("%v: %+v, want it at %s", c.body, p, c.location)
		}
	}

	amount := e.current(t, "kind=AMOUNT_MISMATCH")[0]
	resp, b = e.sendJSON(t, http.MethodPatch, "/v1/recon/discrepancies/"+strconv.FormatInt(amount.ID, 10), e.finance,
		map[string]string{"status": "IGNORED", "note": "one by one"})
	decodeBody[Discrepancy](t, resp, b, http.StatusOK)
	resp, b = e.bulk(t, e.finance, nil, map[string]any{"ids": []int64{e.stranger.ID, amount.ID}, "status": "IGNORED", "note": "x"})
	if p := mustProblem(t, resp, b, http.StatusConflict); !strings.Contains(p.Detail, "IGNORED already") {
		t.Fatalf("conflict %+v", p)
	}
	if d := e.current(t, "kind=MISSING_IN_LEDGER"); len(d) != 1 || d[0].Status != "OPEN" {
		t.Fatalf("changed despite the conflict: %+v", d)
	}
	var outcomes []string
	for _, a := range e.audits(t, audit.ActionDiscrepancyBulk) {
		outcomes = append(outcomes, a.Outcome)
	}
	if strings.Join(outcomes, ",") != "rejected,rejected,rejected,rejected" {
		t.Fatalf("audited outcomes %v, want the 3 refused changes and the conflict", outcomes)
	}
}

// TestReconCurrentAmountFilters: the current list takes the bulk filter's
// currency, amount and age filters; max_amount=0 is a bound, not its
// absence, and an amount without a currency is refused.
func TestReconCurrentAmountFilters(t *testing.T) {
	t.Parallel()
	e := newBulkEnv(t)
	for query, want := range map[string]int{
		"currency=USD&max_amount=0":    0,
		"currency=USD&min_amount=5000": 1,
		"currency=USD&max_amount=2650": 2,
		"currency=EUR":                 0,
		"older_than_days=1":            3,
	} {
		if got := e.current(t, query); len(got) != want {
			t.Errorf("%s: %d, want %d", query, len(got), want)
		}
	}
	resp, b := e.get(t, "/v1/recon/discrepancies?min_amount=5", e.viewer)
	if p := mustProblem(t, resp, b, http.StatusUnprocessableEntity); len(p.Errors) == 0 || p.Errors[0].Location != "query.min_amount" {
		t.Errorf("amount without a currency: %+v", p)
	}
}

// mustBeIgnored checks that exactly ids are IGNORED by finance-1 with note.
func (e *bulkEnv) mustBeIgnored(t *testing.T, ids []int64, note string) {
	t.Helper()
	ignored := e.current(t, "status=IGNORED")
	if len(ignored) != len(ids) {
		t.Fatalf("ignored %+v, want %v", ignored, ids)
	}
	for _, d := range ignored {
		if !slices.Contains(ids, d.ID) || d.Note != note || d.Actor != "finance-1" || d.ResolvedAt == nil {
			t.Errorf("ignored %+v", d)
		}
	}
}

func equalTotal(a, b ReconAmountTotal) bool {
	return a.Currency == b.Currency && a.Count == b.Count && a.Saturated == b.Saturated &&
		(a.Amount == nil) == (b.Amount == nil) && (a.Amount == nil || *a.Amount == *b.Amount)
}
