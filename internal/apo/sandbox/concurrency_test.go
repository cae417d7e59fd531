package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// parallel runs n calls of f at once and returns their answers in order,
// failing the test on any transport or signature error.
func parallel(t *testing.T, n int, f func(i int) (resp, error)) []resp {
	t.Helper()
	out := make([]resp, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate // release everyone together for maximum overlap
			out[i], errs[i] = f(i)
		})
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	return out
}

func concurrentEnv(t *testing.T) *testEnv {
	e := newEnv(t)
	e.http = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	t.Cleanup(e.http.CloseIdleConnections)
	return e
}

func TestThousandConcurrentPays(t *testing.T) {
	e := concurrentEnv(t)
	const n = 1000
	pans := []string{"4111111111111111", "5555555555554444", "4000000000000002", "4000000000003220", "4000000000000119"}
	// A few dumps of the whole state run alongside the writers, so the race
	// detector sees readers and writers overlap.
	var readers sync.WaitGroup
	readers.Go(func() {
		for range 10 {
			res, err := http.Get(e.ts.URL + "/sandbox/state")
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
	})
	answers := parallel(t, n, func(i int) (resp, error) {
		req := payReq("many-"+strconv.Itoa(i), pans[i%len(pans)])
		if i%10 != 0 {
			// Notifications are tested elsewhere; a few stay, so their
			// sending overlaps the load, without doubling its cost.
			set(req, "paymentNotifyUrl", nil)
		}
		if i%2 == 0 {
			set(req, "paymentFactor.captureMode", "AUTOMATIC")
		}
		return e.try("/ams/sandbox/api/v1/payments/pay", mustJSON(t, req))
	})
	readers.Wait()
	ids := map[string]bool{}
	for i, r := range answers {
		id := r.str("paymentId")
		if id == "" || ids[id] {
			t.Fatalf("answer %d: missing or duplicate paymentId %q", i, id)
		}
		ids[id] = true
		want := map[string]string{pans[0]: "S", pans[1]: "S", pans[2]: "F", pans[3]: "U", pans[4]: "U"}[pans[i%len(pans)]]
		if r.status() != want {
			t.Errorf("answer %d: status %s, want %s", i, r.status(), want)
		}
	}
	e.srv.mu.Lock()
	got := len(e.srv.st.payments)
	e.srv.mu.Unlock()
	if got != n {
		t.Errorf("state holds %d payments, want %d", got, n)
	}
}

func TestConcurrentReplaysOfOneRequestID(t *testing.T) {
	e := concurrentEnv(t)
	for _, pan := range []string{"4111111111111111", "4000000000003220", "4000000000009995"} {
		rid := "same-" + pan
		body := mustJSON(t, set(payReq(rid, pan), "paymentFactor.captureMode", "AUTOMATIC"))
		answers := parallel(t, 50, func(int) (resp, error) {
			return e.try("/ams/api/v1/payments/pay", body)
		})
		for i, r := range answers {
			if !bytes.Equal(r.raw, answers[0].raw) {
				t.Fatalf("%s: answer %d differs:\n%s\n%s", pan, i, r.raw, answers[0].raw)
			}
		}
		// Exactly one payment, and at most one automatic capture, exist.
		e.srv.mu.Lock()
		p := e.srv.st.byRequest[rid]
		captures := len(p.Captures)
		e.srv.mu.Unlock()
		if want := map[string]int{"4111111111111111": 1}[pan]; captures != want {
			t.Errorf("%s: %d captures, want %d", pan, captures, want)
		}
	}
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if len(e.srv.st.payments) != 3 {
		t.Errorf("%d payments, want 3", len(e.srv.st.payments))
	}
}

func TestConcurrentCapturesNeverExceedAuthorization(t *testing.T) {
	e := concurrentEnv(t)
	id := e.authorized("cc-1", "4111111111111111") // 10000
	answers := parallel(t, 20, func(i int) (resp, error) {
		body := obj{"captureRequestId": fmt.Sprintf("cc-1-%d", i), "paymentId": id, "captureAmount": amount("USD", "1000")}
		return e.try("/ams/sandbox/api/v1/payments/capture", mustJSON(t, body))
	})
	counts := map[string]int{}
	for _, r := range answers {
		counts[r.code()]++
	}
	if counts["SUCCESS"] != 10 || counts["CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT"] != 10 {
		t.Errorf("outcomes %v, want 10 successes and 10 refusals", counts)
	}
}

func TestConcurrentRefundsNeverOverRefund(t *testing.T) {
	e := concurrentEnv(t)
	id := e.authorized("cr-1", "4111111111111111")
	wantResult(t, "capture", e.captureReq("cr-1-cap", id, "USD", "10000"), "S", "SUCCESS")
	answers := parallel(t, 50, func(i int) (resp, error) {
		body := obj{"refundRequestId": fmt.Sprintf("cr-1-%d", i), "paymentId": id, "refundAmount": amount("USD", "300")}
		return e.try("/ams/sandbox/api/v1/payments/refund", mustJSON(t, body))
	})
	ok := 0
	for _, r := range answers {
		if r.code() == "SUCCESS" {
			ok++
		} else if r.code() != refundExceedCode {
			t.Errorf("unexpected %s", r.code())
		}
	}
	if ok != 33 { // 33 × 300 = 9900 ≤ 10000 < 34 × 300
		t.Errorf("%d refunds succeeded, want 33", ok)
	}
}
