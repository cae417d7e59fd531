package sandboxtest

import (
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/sandbox"
)

// NewClient is an APO client with the harness's keys for baseURL; opts
// adjust its Config.
func NewClient(t testing.TB, baseURL string, opts ...func(*apo.Config)) *apo.Client {
	t.Helper()
	m, a := keys(t)
	cfg := apo.Config{BaseURL: baseURL, ClientID: ClientID, PrivateKey: m, APOPublicKey: &a.PublicKey}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := apo.New(cfg)
	if err != nil {
		t.Fatalf("sandboxtest: client: %v", err)
	}
	return c
}

// Gateway is a sandbox that has another public key on record for our client
// id, as after uploading the wrong key to Antom's dashboard, and answers its
// SIGNATURE_INVALID rejections unsigned (Faults.UnsignedRejections), until
// Fix swaps in a sandbox that knows the harness's merchant key.
type Gateway struct {
	*httptest.Server
	// Wrong is the sandbox with the wrong key on record.
	Wrong   *sandbox.Server
	fixed   *sandbox.Server
	current atomic.Pointer[sandbox.Server]
}

// MisregisteredGateway starts a Gateway for the test's duration.
func MisregisteredGateway(t testing.TB) *Gateway {
	t.Helper()
	m, a := keys(t)
	start := func(registered *rsa.PublicKey) *sandbox.Server {
		s, err := sandbox.New(sandbox.Config{ClientID: ClientID, APOPrivateKey: a, MerchantPublicKey: registered, Seed: 1})
		if err != nil {
			t.Fatalf("sandboxtest: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	g := &Gateway{Wrong: start(&a.PublicKey), fixed: start(&m.PublicKey)}
	if err := g.Wrong.SetFaults(sandbox.Faults{UnsignedRejections: true}); err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	g.current.Store(g.Wrong)
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.current.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// Fix puts the right key on record: from now on requests verify.
func (g *Gateway) Fix() { g.current.Store(g.fixed) }

// CardPay is a frictionless card authorization with request id id, which
// the sandbox answers S at once.
func CardPay(id string) apo.PayRequest {
	amt := apo.NewAmount(1000, "USD")
	return apo.PayRequest{
		ProductCode: apo.ProductCashierPayment, PaymentRequestID: id, PaymentAmount: amt,
		Order: &apo.Order{ReferenceOrderID: "o-" + id, OrderAmount: &amt, Buyer: &apo.Buyer{ReferenceBuyerID: "b"}},
		PaymentMethod: apo.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &apo.CardMetaData{
			CardNo: "4111111111111111", CVV: "123", ExpiryMonth: "12", ExpiryYear: "35", CardholderName: &apo.Name{FullName: "Ada L"}}},
		PaymentFactor: &apo.PaymentFactor{IsAuthorization: true, CaptureMode: apo.CaptureManual},
		Env:           &apo.Env{ClientIP: "203.0.113.9"},
	}
}
