// Package sandboxtest starts the APO sandbox on a loopback port for a test
// and gives back an APO client wired to it with matching keys, so domain
// tests talk to the simulated provider over real HTTP.
package sandboxtest

import (
	"crypto/rsa"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/sandbox"
)

// ClientID is the client id the harness uses on both sides.
const ClientID = "SANDBOX_PAYOPS"

// Env is a running sandbox and a client for it.
type Env struct {
	URL         string
	Sandbox     *sandbox.Server
	Client      *apo.Client
	MerchantKey *rsa.PrivateKey // signs our requests
	APOKey      *rsa.PrivateKey // signs the sandbox's replies and notifications
}

// Options tune the harness; the zero value is fine.
type Options struct {
	TimeScale float64          // sandbox delays multiplier; default 0.001
	Recorder  apo.Recorder     // optional apo_calls recorder
	Now       func() time.Time // optional sandbox clock
	Timeout   time.Duration    // client timeout; default 1 min
	// DisputeNotifyURL is where the sandbox sends dispute notifications.
	DisputeNotifyURL string
	// ReportsDir is where the sandbox writes settlement reports.
	ReportsDir string
}

var (
	keysOnce sync.Once
	merchant *rsa.PrivateKey
	apoKey   *rsa.PrivateKey
	keysErr  error
)

// keys makes the two RSA pairs once per test binary: generating 2048-bit
// keys costs tens of milliseconds each.
func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		for _, k := range []**rsa.PrivateKey{&merchant, &apoKey} {
			priv, _, err := apo.GenerateKeyPEM()
			if err != nil {
				keysErr = err
				return
			}
			if *k, err = apo.ParsePrivateKey(priv); err != nil {
				keysErr = err
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatalf("sandboxtest: keys: %v", keysErr)
	}
	return merchant, apoKey
}

// Start runs a sandbox for the test's duration.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	m, a := keys(t)
	if o.TimeScale == 0 {
		o.TimeScale = 0.001
	}
	if o.Timeout == 0 {
		// Generous: a loaded machine can hold a local call for seconds,
		// and a timeout would turn the sandbox's answer into an unknown.
		o.Timeout = time.Minute
	}
	sb, err := sandbox.New(sandbox.Config{ClientID: ClientID, APOPrivateKey: a, MerchantPublicKey: &m.PublicKey,
		TimeScale: o.TimeScale, Seed: 1, Now: o.Now, DisputeNotifyURL: o.DisputeNotifyURL, ReportsDir: o.ReportsDir})
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	srv := httptest.NewServer(sb)
	// Cleanups run last-in first-out: the HTTP server closes, then the
	// sandbox stops its notification workers and schedulers.
	t.Cleanup(func() { _ = sb.Close() })
	t.Cleanup(srv.Close)
	c, err := apo.New(apo.Config{BaseURL: srv.URL, ClientID: ClientID, PrivateKey: m, APOPublicKey: &a.PublicKey,
		Timeout: o.Timeout, InquiryTimeout: o.Timeout, Recorder: o.Recorder})
	if err != nil {
		t.Fatalf("sandboxtest: client: %v", err)
	}
	return &Env{URL: srv.URL, Sandbox: sb, Client: c, MerchantKey: m, APOKey: a}
}

// ArrivalJitter is how much later than the budget's grant a call may reach
// the sandbox on a loaded machine (scheduling, connecting, signing). A
// shared 2-core machine can hold a goroutine back for most of a second.
const ArrivalJitter = time.Second

// CheckBudget fails the test if the sandbox's arrival times hold more calls
// than a budget of rps a second (plus one burst) could have let go, over
// windows of one and ten seconds. A window of arrivals of length w holds
// what was granted in up to w + ArrivalJitter, since a call held up lands
// closer to the next ones: at most rps × (w + ArrivalJitter) + 1. Twice the
// budget (two workers each spending all of it) is well above that.
func CheckBudget(t testing.TB, arrivals []time.Time, rps int) {
	t.Helper()
	times := slices.Clone(arrivals)
	slices.SortFunc(times, time.Time.Compare)
	for _, w := range []time.Duration{time.Second, 10 * time.Second} {
		most, from := 0, time.Time{}
		for i, start := range times {
			in := 0
			for _, u := range times[i:] {
				if u.Sub(start) >= w {
					break
				}
				in++
			}
			if in > most {
				most, from = in, start
			}
		}
		if allowed := int(float64(rps)*(w+ArrivalJitter).Seconds()) + 1; most > allowed {
			t.Fatalf("%d calls in %v from %s; a budget of %d/s (+1 burst) allows %d with %v of arrival jitter",
				most, w, from.Format(time.StampMilli), rps, allowed, ArrivalJitter)
		}
	}
}
