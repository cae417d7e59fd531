package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/sandboxtest"
)

// TestInquiryBudgetAcrossWorkers (issue 6): with APO_INQUIRY_RPS=5 and 500
// payments stuck PROCESSING, two worker processes together never send the
// sandbox more than 5 inquiries a second (plus the one burst allowance),
// over one-second and ten-second windows, and every payment still reaches
// its final state. The sandbox's own call log is the witness.
func TestInquiryBudgetAcrossWorkers(t *testing.T) {
	t.Parallel()
	const rps, n = 5, 500
	// Time scale 0.1: the delayed card answers SUCCESS after 3 s, so every
	// payment needs at least one inquiry after that; notifications are off
	// (dropped) so only polling can finish them.
	s := startStack(t, 0.1, false, "")
	s.Call("POST", "/sandbox/faults", map[string]any{"notifications": map[string]any{"drop": 1.0}}, nil)
	budget := []string{fmt.Sprintf("APO_INQUIRY_RPS=%d", rps)}
	s.StartAs("worker", "worker", append(budget, fmt.Sprintf("PAYOPS_WORKER_METRICS_ADDR=127.0.0.1:%d", freePort(t))))
	s.StartAs("worker-2", "worker", append(budget, fmt.Sprintf("PAYOPS_WORKER_METRICS_ADDR=127.0.0.1:%d", freePort(t))))

	ids := make([]string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var p payment
				if code := s.Call("POST", "/v1/payments", payBody("4000000000000119", 100+int64(i), "USD", "MANUAL"), &p); code != 201 || p.Status != "PROCESSING" {
					t.Errorf("payment %d: %d %s", i, code, p.Status)
				}
				ids[i] = p.ID
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	start := time.Now()
	deadline := start.Add(4 * time.Minute)
	for {
		var page struct {
			Items []payment `json:"items"`
		}
		s.Call("GET", "/v1/payments?status=PROCESSING&limit=1", nil, &page)
		if len(page.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payments still PROCESSING after %v", time.Since(start))
		}
		time.Sleep(time.Second)
	}
	var log struct {
		Calls []struct {
			Time time.Time `json:"time"`
		} `json:"calls"`
	}
	s.Call("GET", "/sandbox/calls?api=inquiryPayment", nil, &log)
	calls := log.Calls
	if len(calls) < n {
		t.Fatalf("%d inquiries for %d payments", len(calls), n)
	}
	times := make([]time.Time, len(calls))
	for i, c := range calls {
		times[i] = c.Time
	}
	sandboxtest.CheckBudget(t, times, rps)
	for _, id := range ids {
		var p payment
		s.Call("GET", "/v1/payments/"+id, nil, &p)
		if p.Status != "AUTHORIZED" {
			t.Fatalf("payment %s ended %s", id, p.Status)
		}
	}
	t.Logf("%d payments resolved in %v by %d inquiries", n, time.Since(start).Round(time.Second), len(calls))
}
