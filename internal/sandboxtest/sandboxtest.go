// Package sandboxtest starts the APO sandbox on a loopback port for a test
// and gives back an APO client wired to it with matching keys, so domain
// tests talk to the simulated provider over real HTTP.
package sandboxtest

import (
	"crypto/rsa"
	"net/http/httptest"
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
	Timeout   time.Duration    // client timeout; default 5s
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
		o.Timeout = 5 * time.Second
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
