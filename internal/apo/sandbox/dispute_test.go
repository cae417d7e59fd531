package sandbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// capturedPayment returns a payment with USD 100.00 captured.
func (e *testEnv) capturedPayment(rid string) string {
	e.t.Helper()
	id := e.authorized(rid, "5555555555554444")
	wantResult(e.t, "capture", e.captureReq(rid+"-cap", id, "USD", "10000"), "S", "SUCCESS")
	return id
}

func TestOpenDispute(t *testing.T) {
	e := newEnv(t)
	id := e.capturedPayment("od-1")
	did, err := e.srv.OpenDispute(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := e.srv.disputesOf(id)
	if len(ds) != 1 || ds[0].ID != did || ds[0].Amount.Value != 10000 || ds[0].Source != "Mastercard" || ds[0].ReasonCode != "4853" {
		t.Errorf("disputes %+v", ds)
	}
	if _, err := e.srv.OpenDispute(id, &Amount{Currency: "USD", Value: "2500"}); err != nil {
		t.Errorf("partial dispute: %v", err)
	}

	if _, err := e.srv.OpenDispute("nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown payment: got %v", err)
	}
	uncaptured := e.authorized("od-2", "4111111111111111")
	if _, err := e.srv.OpenDispute(uncaptured, nil); !errors.Is(err, ErrState) {
		t.Errorf("uncaptured payment: got %v", err)
	}
	for _, a := range []*Amount{{"USD", "10001"}, {"EUR", "100"}, {"USD", "1.5"}} {
		if _, err := e.srv.OpenDispute(id, a); err == nil {
			t.Errorf("amount %+v accepted", a)
		}
	}
}

func TestAcceptDispute(t *testing.T) {
	e := newEnv(t)
	did, err := e.srv.OpenDispute(e.capturedPayment("ad-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := e.call("acceptDispute", obj{"disputeId": did})
	wantResult(t, "accept", first, "S", "SUCCESS")
	if first.str("disputeId") != did || first.str("disputeResolutionTime") != "2026-11-23T10:00:00+00:00" {
		t.Errorf("accept answer %s", first.raw)
	}
	e.clock.Advance(time.Minute)
	if again := e.call("acceptDispute", obj{"disputeId": did}); !bytes.Equal(again.raw, first.raw) {
		t.Errorf("second accept differs")
	}
	wantResult(t, "defend after accepting",
		e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": base64.StdEncoding.EncodeToString([]byte("doc"))}),
		"F", "NOT_ALLOW_IN_CURRENT_STATUS")

	late, err := e.srv.OpenDispute(e.capturedPayment("ad-2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(defenseWindow + time.Second)
	wantResult(t, "accept after due time", e.call("acceptDispute", obj{"disputeId": late}), "F", "TIME_EXCEEDS_LIMIT")
	wantResult(t, "unknown", e.call("acceptDispute", obj{"disputeId": "nope"}), "F", disputeNotFoundCode)
	wantResult(t, "no id", e.call("acceptDispute", obj{}), "F", "PARAM_ILLEGAL")
}

func TestSupplyDefenseDocument(t *testing.T) {
	e := newEnv(t)
	pid := e.capturedPayment("sd-1")
	did, err := e.srv.OpenDispute(pid, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 proof of delivery"))
	first := e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": doc})
	wantResult(t, "defend", first, "S", "SUCCESS")
	if first.str("disputeResolutionTime") == "" {
		t.Errorf("no disputeResolutionTime: %s", first.raw)
	}
	if again := e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": doc}); !bytes.Equal(again.raw, first.raw) {
		t.Errorf("same document again differs")
	}
	other := base64.StdEncoding.EncodeToString([]byte("another document"))
	wantResult(t, "another document", e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": other}), "F", "REPEAT_REQUEST")
	wantResult(t, "accept after defending", e.call("acceptDispute", obj{"disputeId": did}), "F", "NOT_ALLOW_IN_CURRENT_STATUS")
	if d := e.srv.disputesOf(pid)[0]; d.EvidenceBytes != 26 || d.EvidenceSHA256 == "" {
		t.Errorf("evidence record %+v", d)
	}

	did2, err := e.srv.OpenDispute(e.capturedPayment("sd-2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]obj{
		"no evidence":  {"disputeId": did2},
		"not base64":   {"disputeId": did2, "disputeEvidence": "%%%"},
		"too large":    {"disputeId": did2, "disputeEvidence": strings.Repeat("A", maxEvidence+4)},
		"no dispute":   {"disputeEvidence": doc},
		"wrong type":   {"disputeId": did2, "disputeEvidence": 12},
		"null payload": {"disputeId": did2, "disputeEvidence": nil},
	} {
		r := e.call("supplyDefenseDocument", body)
		wantResult(t, name, r, "F", "PARAM_ILLEGAL")
	}
	e.clock.Advance(defenseWindow + time.Second)
	wantResult(t, "after due time", e.call("supplyDefenseDocument", obj{"disputeId": did2, "disputeEvidence": doc}), "F", "TIME_EXCEEDS_LIMIT")
	wantResult(t, "unknown", e.call("supplyDefenseDocument", obj{"disputeId": "nope", "disputeEvidence": doc}), "F", disputeNotFoundCode)
}

func TestDownloadDisputeEvidence(t *testing.T) {
	e := newEnv(t)
	did, err := e.srv.OpenDispute(e.capturedPayment("dl-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"DISPUTE_EVIDENCE_TEMPLATE", "DISPUTE_EVIDENCE_FILE"} {
		r := e.call("downloadDisputeEvidence", obj{"disputeId": did, "disputeEvidenceType": typ})
		wantResult(t, typ, r, "S", "SUCCESS")
		if r.str("disputeEvidenceFormat") != "PDF" {
			t.Errorf("%s: format %q", typ, r.str("disputeEvidenceFormat"))
		}
		pdf, err := base64.StdEncoding.DecodeString(r.str("disputeEvidence"))
		if err != nil {
			t.Fatalf("%s: evidence is not base64: %v", typ, err)
		}
		if !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) || !bytes.Contains(pdf, []byte(did)) {
			t.Errorf("%s: not the expected PDF: %q", typ, pdf)
		}
		if bytes.Contains(pdf, []byte("5555555555554444")) {
			t.Errorf("%s: PDF contains the card number", typ)
		}
		checkXref(t, pdf)
	}
	wantResult(t, "bad type", e.call("downloadDisputeEvidence", obj{"disputeId": did, "disputeEvidenceType": "PHOTO"}), "F", "PARAM_ILLEGAL")
	wantResult(t, "no type", e.call("downloadDisputeEvidence", obj{"disputeId": did}), "F", "PARAM_ILLEGAL")
	wantResult(t, "unknown", e.call("downloadDisputeEvidence", obj{"disputeId": "nope", "disputeEvidenceType": "DISPUTE_EVIDENCE_FILE"}), "F", disputeNotFoundCode)
}

// checkXref proves the PDF's cross-reference offsets point at its objects,
// which is what makes a reader open it without repair.
func checkXref(t *testing.T, pdf []byte) {
	t.Helper()
	start := bytes.LastIndex(pdf, []byte("startxref\n"))
	xref, err := strconv.Atoi(strings.Fields(string(pdf[start+len("startxref\n"):]))[0])
	if err != nil || !bytes.HasPrefix(pdf[xref:], []byte("xref\n")) {
		t.Fatalf("startxref does not point at xref (%d, %v)", xref, err)
	}
	lines := strings.Split(string(pdf[xref:]), "\n")
	for i, line := range lines[3:8] { // entries for objects 1..5
		off, err := strconv.Atoi(strings.Fields(line)[0])
		if err != nil {
			t.Fatalf("xref line %q: %v", line, err)
		}
		want := []byte(strconv.Itoa(i+1) + " 0 obj")
		if !bytes.HasPrefix(pdf[off:], want) {
			t.Errorf("object %d offset %d points at %q", i+1, off, pdf[off:off+8])
		}
	}
}
