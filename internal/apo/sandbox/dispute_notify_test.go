package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// disputeEnv is a sandbox on the fake clock whose dispute notifications
// go to a real receiver.
func disputeEnv(t *testing.T, opts ...func(*Config)) (*testEnv, *receiver) {
	t.Helper()
	var rc *receiver
	_, apoKey := keys(t)
	rc = newReceiver(t, &apoKey.PublicKey, nil)
	e := newEnv(t, append([]func(*Config){realNotify, func(c *Config) { c.DisputeNotifyURL = rc.url("/disputes") }}, opts...)...)
	return e, rc
}

func TestDisputeLifecycleNotifications(t *testing.T) {
	t.Parallel()
	e, rc := disputeEnv(t)

	// The dispute card opens one at its first capture.
	id := e.authorized("dn-card", "4000000000000259")
	capID := e.captureReq("dn-card-cap", id, "USD", "6000").str("captureId")
	g := rc.waitType(apo.DisputeCreated, id, patience)
	d := g.n.Dispute
	if g.verify != nil || g.uri != "/disputes" {
		t.Fatalf("dispute notification uri %q signature %v", g.uri, g.verify)
	}
	if d.DisputeID == "" || d.PaymentID != id || d.PaymentRequestID != "dn-card" || d.CaptureID != capID ||
		d.DisputeAmount == nil || d.DisputeAmount.Value != "6000" || d.DisputeReasonCode != "10.4" || d.DisputeSource != "Visa" ||
		d.DisputeType != "CHARGEBACK" || !bool(d.Defendable) || d.ARN == "" || d.DisputeTime != "2026-11-23T10:00:00+00:00" ||
		d.DefenseDueTime != "2026-12-03T10:00:00+00:00" || d.NotifyType != "" || d.Result != nil {
		t.Errorf("DISPUTE_CREATED %s", g.body)
	}
	// defendable is a JSON boolean, as the SDKs model it: a string would
	// fail an SDK receiver's decode even though apo.FlexBool takes both.
	var raw map[string]any
	if err := json.Unmarshal(g.body, &raw); err != nil || raw["defendable"] != true {
		t.Errorf("defendable is %#v, want the JSON boolean true (%v)", raw["defendable"], err)
	}
	wantResult(t, "accept", e.call("acceptDispute", obj{"disputeId": d.DisputeID}), "S", "SUCCESS")
	g = rc.waitType(apo.DisputeAccepted, d.DisputeID, patience)
	if g.n.Dispute.DisputeAcceptReason != "MERCHANT_ACCEPTED" || g.n.Dispute.DisputeAcceptTime == "" || g.n.Dispute.DefenseDueTime != "" {
		t.Errorf("DISPUTE_ACCEPTED %s", g.body)
	}

	// POST /sandbox/disputes on a Mastercard payment, then defend and judge.
	mc := e.capturedPayment("dn-mc")
	status, m := postJSON(t, e.ts.URL+"/sandbox/disputes", obj{"paymentId": mc, "amount": amount("USD", "2500"), "reasonCode": "4837"})
	if status != http.StatusCreated || m["disputeId"] == nil || m["status"] != "CREATED" {
		t.Fatalf("open: %d %v", status, m)
	}
	did := m["disputeId"].(string)
	g = rc.waitType(apo.DisputeCreated, did, patience)
	if g.n.Dispute.DisputeReasonCode != "4837" || g.n.Dispute.DisputeSource != "Mastercard" || g.n.Dispute.DisputeAmount.Value != "2500" {
		t.Errorf("DISPUTE_CREATED via the endpoint %s", g.body)
	}
	doc := base64.StdEncoding.EncodeToString([]byte("proof of delivery"))
	wantResult(t, "defend", e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": doc}), "S", "SUCCESS")
	rc.waitType(apo.DisputeDefenseSupplied, did, patience)
	e.clock.Advance(time.Hour)
	status, m = postJSON(t, e.ts.URL+"/sandbox/disputes/"+did+"/judge", obj{"result": "ACCEPT_BY_CUSTOMER", "amount": amount("USD", "2000")})
	if status != 200 || m["status"] != "JUDGED" {
		t.Fatalf("judge: %d %v", status, m)
	}
	g = rc.waitType(apo.DisputeJudged, did, patience)
	j := g.n.Dispute
	if j.DisputeJudgedResult != "ACCEPT_BY_CUSTOMER" || j.DisputeJudgedAmount == nil || j.DisputeJudgedAmount.Value != "2000" ||
		j.DisputeJudgedTime != "2026-11-23T11:00:00+00:00" || j.DisputeReasonCode != "4837" || j.DisputeSource != "Mastercard" {
		t.Errorf("DISPUTE_JUDGED %s", g.body)
	}
	if status, _ = postJSON(t, e.ts.URL+"/sandbox/disputes/"+did+"/judge", obj{"result": "ACCEPT_BY_MERCHANT"}); status != http.StatusConflict {
		t.Errorf("judging twice: %d", status)
	}

	// Cancel by the cardholder.
	other := e.capturedPayment("dn-cancel")
	cid, err := e.srv.OpenDisputeWith(other, DisputeOptions{Type: "RETRIEVAL_REQUEST"})
	if err != nil {
		t.Fatal(err)
	}
	if status, m = postJSON(t, e.ts.URL+"/sandbox/disputes/"+cid+"/cancel", nil); status != 200 || m["status"] != "CANCELLED" {
		t.Errorf("cancel: %d %v", status, m)
	}
	g = rc.waitType(apo.DisputeCancelled, cid, patience)
	if g.n.Dispute.DisputeType != "RETRIEVAL_REQUEST" {
		t.Errorf("DISPUTE_CANCELLED %s", g.body)
	}

	// Refusals.
	for _, c := range []struct {
		path string
		body obj
		want int
	}{
		{"/sandbox/disputes", obj{"paymentId": "nope"}, http.StatusNotFound},
		{"/sandbox/disputes", obj{}, http.StatusBadRequest},
		{"/sandbox/disputes", obj{"paymentId": mc, "type": "FRIENDLY_FRAUD"}, http.StatusUnprocessableEntity},
		{"/sandbox/disputes", obj{"paymentId": mc, "amount": amount("USD", "99999999")}, http.StatusUnprocessableEntity},
		{"/sandbox/disputes", obj{"paymentId": mc, "color": "red"}, http.StatusBadRequest},
		{"/sandbox/disputes/" + cid + "/judge", obj{"result": "VALIDATE_SUCCESS"}, http.StatusConflict},
		{"/sandbox/disputes/" + cid + "/cancel", nil, http.StatusConflict},
		{"/sandbox/disputes/nope/judge", obj{"result": "VALIDATE_SUCCESS"}, http.StatusNotFound},
		{"/sandbox/disputes/" + d.DisputeID + "/judge", obj{"result": "WIN"}, http.StatusUnprocessableEntity},
	} {
		if status, m := postJSON(t, e.ts.URL+c.path, c.body); status != c.want || m["error"] == nil {
			t.Errorf("POST %s %v: %d %v, want %d", c.path, c.body, status, m, c.want)
		}
	}
}

// TestDefenseDueAlert: DEFENSE_DUE_ALERT comes 24 h (× scale) before the
// due time of an undefended dispute, once; after the due time defending
// answers TIME_EXCEEDS_LIMIT. The window is configurable.
func TestDefenseDueAlert(t *testing.T) {
	t.Parallel()
	e, rc := disputeEnv(t, func(c *Config) { c.DefenseWindow = 3 * 24 * time.Hour })
	did, err := e.srv.OpenDispute(e.capturedPayment("due-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defended, err := e.srv.OpenDispute(e.capturedPayment("due-2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := rc.waitType(apo.DisputeCreated, did, patience)
	if g.n.Dispute.DefenseDueTime != "2026-11-26T10:00:00+00:00" {
		t.Errorf("defenseDueTime %s with a 3-day window", g.n.Dispute.DefenseDueTime)
	}
	doc := base64.StdEncoding.EncodeToString([]byte("doc"))
	wantResult(t, "defend", e.call("supplyDefenseDocument", obj{"disputeId": defended, "disputeEvidence": doc}), "S", "SUCCESS")

	e.clock.Advance(2*24*time.Hour - time.Second)
	time.Sleep(2 * maxSchedulerNap) // the scheduler looks at the clock at least this often
	for _, n := range e.srv.Notifications() {
		if n.Type == apo.DisputeDefenseDueAlert {
			t.Fatal("alert before 24 h ahead of the due time")
		}
	}
	e.clock.Advance(time.Second)
	g = rc.waitType(apo.DisputeDefenseDueAlert, did, patience)
	if g.n.Dispute.DefenseDueTime != "2026-11-26T10:00:00+00:00" {
		t.Errorf("DEFENSE_DUE_ALERT %s", g.body)
	}
	e.clock.Advance(24*time.Hour + time.Second)
	wantResult(t, "defend after due", e.call("supplyDefenseDocument", obj{"disputeId": did, "disputeEvidence": doc}), "F", "TIME_EXCEEDS_LIMIT")
	alerts := 0
	for _, n := range e.srv.Notifications() {
		if n.Type == apo.DisputeDefenseDueAlert {
			alerts++
			if n.ObjectID == defended {
				t.Error("a defended dispute got the due alert")
			}
		}
	}
	if alerts != 1 {
		t.Errorf("%d due alerts, want 1", alerts)
	}
}

// TestDefenseWindowScales: the window follows TimeScale, so tests reach it.
func TestDefenseWindowScales(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TimeScale = 0.001 })
	did, err := e.srv.OpenDispute(e.capturedPayment("scale-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := e.srv.disputeView(did)
	if got := d.DefenseDue.Sub(d.Time); got != 864*time.Second {
		t.Errorf("window %v, want 10 days × 0.001", got)
	}
}
