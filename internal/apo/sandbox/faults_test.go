package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// client is the real APO client pointed at the env.
func (e *testEnv) client(timeout time.Duration) *apo.Client {
	e.t.Helper()
	c, err := apo.New(apo.Config{
		BaseURL: e.ts.URL, ClientID: e.clientID, PrivateKey: e.merchant, APOPublicKey: e.apoPub,
		Timeout: timeout, InquiryTimeout: timeout,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func clientPay(rid, pan string) apo.PayRequest {
	return apo.PayRequest{
		ProductCode:      apo.ProductCashierPayment,
		PaymentRequestID: rid,
		PaymentAmount:    apo.NewAmount(1000, "USD"),
		Order: &apo.Order{ReferenceOrderID: "o-" + rid, OrderAmount: &[]apo.Amount{apo.NewAmount(1000, "USD")}[0],
			Buyer: &apo.Buyer{ReferenceBuyerID: "b"}},
		PaymentMethod: apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &apo.CardMetaData{
			CardNo: pan, CVV: "123", ExpiryMonth: "12", ExpiryYear: "30", CardholderName: &apo.Name{FullName: "Ada L"}}},
		PaymentFactor: &apo.PaymentFactor{IsAuthorization: true, CaptureMode: apo.CaptureManual},
		Env:           &apo.Env{ClientIP: "203.0.113.9"},
	}
}

// TestFaultsNeverInventFailures drives the real client through 20 % 5xx
// and 10 % hangs (past a 300 ms client timeout), each applied or not half
// the time, and compares every outcome with the sandbox's call log: the
// client says S or F only for real answers, and unknown otherwise — never
// a made-up failure. Whether the operation happened is then checked by
// inquiry, with the faults lifted.
func TestFaultsNeverInventFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A hang outlasts the client's timeout whatever the load; a clean call
	// that a loaded machine holds past it is a true unknown (checked below).
	c := e.client(2 * time.Second)
	if err := e.srv.SetFaults(Faults{APIs: map[string]APIFaults{
		"pay": {Error5xx: 0.2, Status: http.StatusBadGateway, Hang: 0.1, HangMs: 600_000, Applied: 0.5},
	}}); err != nil {
		t.Fatal(err)
	}
	pans := []string{"4111111111111111", "4000000000000002", "4000000000003220", "4000000000009995"}
	const n = 60
	type outcome struct {
		rid string
		out apo.Outcome
		err error
	}
	outs := make([]outcome, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rid := "flt-" + itoa(i)
			_, err := c.Pay(context.Background(), clientPay(rid, pans[i%len(pans)]))
			outs[i] = outcome{rid, apo.OutcomeOf(err), err}
		})
	}
	wg.Wait()

	calls := map[string]Call{}
	for _, cl := range e.srv.Calls() {
		if cl.API == "pay" {
			if _, dup := calls[cl.RequestID]; dup {
				t.Fatalf("two calls logged for %s", cl.RequestID)
			}
			calls[cl.RequestID] = cl
		}
	}
	kinds := map[string]int{}
	for _, o := range outs {
		cl, ok := calls[o.rid]
		if !ok {
			t.Fatalf("no call logged for %s", o.rid)
		}
		kinds[cl.Fault]++
		switch o.out {
		case apo.OutcomeSuccess, apo.OutcomeFailed:
			if cl.Fault != "" || cl.ResultStatus != o.out.String() {
				t.Errorf("%s: client saw %s, the sandbox did %q with fault %q", o.rid, o.out, cl.ResultStatus, cl.Fault)
			}
		case apo.OutcomeUnknown:
			if cl.Fault == "" && cl.ResultStatus != "U" && !errors.Is(o.err, context.DeadlineExceeded) {
				t.Errorf("%s: client saw unknown (%v), the sandbox answered %s without a fault", o.rid, o.err, cl.ResultStatus)
			}
			if cl.Fault == faultHang && !errors.Is(o.err, context.DeadlineExceeded) {
				t.Errorf("%s: hang seen as %v", o.rid, o.err)
			}
			if cl.Fault == faultStatus && (cl.HTTPStatus != http.StatusBadGateway || !strings.Contains(o.err.Error(), "502")) {
				t.Errorf("%s: 5xx seen as %v (logged %d)", o.rid, o.err, cl.HTTPStatus)
			}
		}
	}
	if kinds[faultStatus] == 0 || kinds[faultHang] == 0 || kinds[""] == 0 {
		t.Errorf("fault mix %v: the seed gave no 5xx, hang or clean call", kinds)
	}

	// The truth of each faulted call: applied means the payment exists.
	e.srv.ClearFaults()
	c = e.client(patience)
	applied := 0
	for _, o := range outs {
		cl := calls[o.rid]
		if cl.Fault == "" {
			continue
		}
		inq, err := c.InquiryPayment(context.Background(), apo.InquiryPaymentRequest{PaymentRequestID: o.rid})
		switch {
		case cl.Applied && (err != nil || inq.PaymentID == ""):
			t.Errorf("%s: applied before the fault, yet inquiry says %v", o.rid, err)
		case !cl.Applied && (!apo.IsFinalFailure(err) || apo.OutcomeOf(err) != apo.OutcomeFailed):
			t.Errorf("%s: not applied, yet inquiry found it (%v)", o.rid, err)
		}
		if cl.Applied {
			applied++
			if cl.ResultStatus == "" {
				t.Errorf("%s: applied call logged without its result", o.rid)
			}
		} else if cl.ResultStatus != "" {
			t.Errorf("%s: call that did not run logged result %s", o.rid, cl.ResultStatus)
		}
	}
	if applied == 0 || applied == kinds[faultStatus]+kinds[faultHang] {
		t.Errorf("%d of %d faults applied: want both kinds", applied, kinds[faultStatus]+kinds[faultHang])
	}
}

// TestResetAndUnknownFaults: a reset leaves the client with a transport
// error, an unknown fault with a signed U UNKNOWN_EXCEPTION; both are
// unknown outcomes, and a retry with the same request id after an applied
// fault returns the original outcome.
func TestResetAndUnknownFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(patience)
	set := func(f APIFaults) {
		t.Helper()
		if err := e.srv.SetFaults(Faults{APIs: map[string]APIFaults{"*": f}}); err != nil {
			t.Fatal(err)
		}
	}
	set(APIFaults{Reset: 1, Applied: 1})
	_, err := c.Pay(context.Background(), clientPay("rst-1", "4111111111111111"))
	var ae *apo.Error
	if !apo.IsUnknown(err) || !errors.As(err, &ae) || ae.HTTPStatus != 0 || ae.Result.ResultCode != "" {
		t.Errorf("reset: %v", err)
	}
	set(APIFaults{Unknown: 1})
	_, err = c.Pay(context.Background(), clientPay("unk-1", "4111111111111111"))
	if !apo.IsUnknown(err) || !errors.As(err, &ae) || ae.Result.ResultCode != "UNKNOWN_EXCEPTION" || ae.Result.ResultStatus != "U" {
		t.Errorf("unknown: %v", err)
	}
	e.srv.ClearFaults()
	// The reset pay ran before the reset: the retry finds it authorized.
	if resp, err := c.Pay(context.Background(), clientPay("rst-1", "4111111111111111")); err != nil || resp.PaymentID == "" {
		t.Errorf("retry after an applied reset: %v", err)
	}
	// The unknown pay did not run: the retry authorizes it now, once.
	if _, err := c.Pay(context.Background(), clientPay("unk-1", "4111111111111111")); err != nil {
		t.Errorf("retry after an unapplied unknown: %v", err)
	}
	calls := e.srv.Calls()
	if len(calls) != 4 || calls[0].Fault != faultReset || !calls[0].Applied || calls[0].ResultStatus != "S" ||
		calls[1].Fault != faultUnknown || calls[1].Applied || calls[2].Replay != true || calls[3].Replay {
		t.Errorf("call log %+v", calls)
	}
}

// TestLatencyAndHangEndOnClose: latency is added before handling; a hang
// ends when the sandbox closes.
func TestLatencyAndHangEndOnClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(10 * time.Minute)
	if err := e.srv.SetFaults(Faults{APIs: map[string]APIFaults{"inquiryPayment": {LatencyMs: 80}}}); err != nil {
		t.Fatal(err)
	}
	id := e.authorized("lat-1", "4111111111111111")
	began := time.Now()
	if _, err := c.InquiryPayment(context.Background(), apo.InquiryPaymentRequest{PaymentID: id}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 80*time.Millisecond {
		t.Errorf("inquiry took %v with 80 ms latency", d)
	}
	if calls := e.srv.Calls(); calls[len(calls)-1].LatencyMs != 80 {
		t.Errorf("latency not logged: %+v", calls[len(calls)-1])
	}

	// The hang and the client's timeout (10 min) both outlast the wait
	// below: only Close can end the call within it.
	if err := e.srv.SetFaults(Faults{APIs: map[string]APIFaults{"capture": {Hang: 1, HangMs: 600_000}}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Capture(context.Background(), apo.CaptureRequest{CaptureRequestID: "hang-1", PaymentID: id, CaptureAmount: apo.NewAmount(100, "USD")})
		done <- err
	}()
	eventually(t, patience, "the hanging call to be logged", func() bool {
		calls := e.srv.Calls()
		return calls[len(calls)-1].Fault == faultHang
	})
	_ = e.srv.Close()
	select {
	case err := <-done:
		if !apo.IsUnknown(err) {
			t.Errorf("hang ended with %v", err)
		}
	case <-time.After(patience):
		t.Fatal("hang did not end on Close")
	}
}

// TestFaultDrawsAreDeterministic: the same seed gives the same faults to
// the same sequence of calls.
func TestFaultDrawsAreDeterministic(t *testing.T) {
	draw := func(seed int64) []string {
		e := newEnv(t)
		if err := e.srv.SetFaults(Faults{Seed: seed, APIs: map[string]APIFaults{"*": {Error5xx: 0.3, Unknown: 0.3, Applied: 0.5}}}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 40 {
			d := e.srv.faults.draw("inquiryRefund")
			got = append(got, d.kind+"/"+map[bool]string{true: "applied", false: "before"}[d.applied])
		}
		return got
	}
	a, b, other := draw(5), draw(5), draw(6)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 5 twice:\n%v\n%v", a, b)
	}
	if reflect.DeepEqual(a, other) {
		t.Error("seeds 5 and 6 drew the same faults")
	}
}

// TestFaultsEndpoint sets, shows and clears faults over HTTP.
func TestFaultsEndpoint(t *testing.T) {
	e := newEnv(t)
	body := obj{"seed": 3, "apis": obj{"pay": obj{"latencyMs": 5, "error5xx": 0.25, "status": 503, "hang": 0.1, "hangMs": 900,
		"reset": 0.05, "unknown": 0.1, "applied": 0.5}}, "notifications": obj{"drop": 0.1, "duplicate": 0.1, "reorder": 0.1, "delay": 0.1, "delayMs": 20}}
	status, m := postJSON(t, e.ts.URL+"/sandbox/faults", body)
	if status != 200 {
		t.Fatalf("POST: %d %v", status, m)
	}
	want := Faults{Seed: 3, APIs: map[string]APIFaults{"pay": {LatencyMs: 5, Error5xx: 0.25, Status: 503, Hang: 0.1, HangMs: 900,
		Reset: 0.05, Unknown: 0.1, Applied: 0.5}}, Notifications: NotificationFaults{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1, Delay: 0.1, DelayMs: 20}}
	if got := e.srv.CurrentFaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("set %+v, want %+v", got, want)
	}
	res, err := http.Get(e.ts.URL + "/sandbox/faults")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET: %d", res.StatusCode)
	}
	for _, bad := range []obj{
		{"apis": obj{"pay": obj{"error5xx": 0.7, "hang": 0.5}}},
		{"apis": obj{"payy": obj{"hang": 0.1}}},
		{"apis": obj{"pay": obj{"status": 404, "error5xx": 0.1}}},
		{"apis": obj{"pay": obj{"applied": 1.5}}},
		{"notifications": obj{"drop": 0.6, "delay": 0.6}},
		{"notifications": obj{"delayMs": -1}},
	} {
		if status, _ := postJSON(t, e.ts.URL+"/sandbox/faults", bad); status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d", bad, status)
		}
	}
	if status, _ := postJSON(t, e.ts.URL+"/sandbox/faults", obj{"apis": obj{"pay": obj{"sometimes": true}}}); status != http.StatusBadRequest {
		t.Errorf("unknown field: %d", status)
	}
	if !reflect.DeepEqual(e.srv.CurrentFaults(), want) {
		t.Error("a refused configuration changed the faults")
	}
	req, _ := http.NewRequest(http.MethodDelete, e.ts.URL+"/sandbox/faults", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := e.srv.CurrentFaults(); len(got.APIs) != 0 || got.Notifications != (NotificationFaults{}) {
		t.Errorf("after DELETE: %+v", got)
	}
}

// TestUnsignedRejections: with the fault set through POST /sandbox/faults,
// the gateway's own rejections go out without the signature pair, while
// every answer of an API that ran is still signed. Without it, all are.
func TestUnsignedRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := "/ams/sandbox/api/v1/payments/pay"
	badSig := func() *http.Response {
		_, apoKey := keys(t) // not the merchant key the sandbox knows
		res, err := e.http.Do(e.signedRequest(path, mustJSON(t, payReq("uns-1", "4111111111111111")), apoKey))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"SIGNATURE_INVALID"`) {
			t.Fatalf("wrongly signed pay: %d %s", res.StatusCode, raw)
		}
		return res
	}
	if res := badSig(); res.Header.Get("signature") == "" || res.Header.Get("response-time") == "" {
		t.Fatal("by default a rejection is signed")
	}

	status, m := postJSON(t, e.ts.URL+"/sandbox/faults", obj{"unsignedRejections": true})
	if status != http.StatusOK || m["unsignedRejections"] != true {
		t.Fatalf("set the fault: %d %v", status, m)
	}
	res := badSig()
	if res.Header.Get("signature") != "" || res.Header.Get("response-time") != "" || res.Header.Get("client-id") != e.clientID {
		t.Fatalf("rejection headers under the fault: %v", res.Header)
	}
	e.clientID = "SANDBOX_SOMEONE_ELSE"
	req := e.signedRequest(path, mustJSON(t, payReq("uns-2", "4111111111111111")), e.merchant)
	if _, err := e.send(req, path); err == nil || !strings.Contains(err.Error(), "response signature") {
		t.Fatalf("CLIENT_INVALID under the fault: %v, want an unsigned answer", err)
	}
	e.clientID = "SANDBOX_PAYOPS"
	// An API that ran is signed as ever (e.call verifies the answer).
	wantResult(t, "pay", e.call("pay", payReq("uns-3", "4111111111111111")), "S", "SUCCESS")
	var unsigned int
	for _, cl := range e.srv.Calls() {
		if cl.Fault == faultUnsigned {
			unsigned++
		}
	}
	if unsigned != 2 {
		t.Errorf("%d calls logged as unsigned, want 2: %+v", unsigned, e.srv.Calls())
	}
}
