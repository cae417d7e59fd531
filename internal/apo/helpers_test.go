package apo_test

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"

	"github.com/payops/payops/internal/apo"
)

// Card data used by every PCI test: neither may ever show up in output.
const (
	testPAN = "4242424242424242"
	testCVV = "9172"
)

type testKeys struct {
	merchant    *rsa.PrivateKey
	merchantPub *rsa.PublicKey
	apo         *rsa.PrivateKey
	apoPub      *rsa.PublicKey
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

func loadKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	var err error
	if k.merchant, err = apo.ParsePrivateKey(mustRead(t, "merchant_private.pem")); err != nil {
		t.Fatal(err)
	}
	if k.merchantPub, err = apo.ParsePublicKey(mustRead(t, "merchant_public.pem")); err != nil {
		t.Fatal(err)
	}
	if k.apo, err = apo.ParsePrivateKey(mustRead(t, "apo_private.pem")); err != nil {
		t.Fatal(err)
	}
	if k.apoPub, err = apo.ParsePublicKey(mustRead(t, "apo_public.pem")); err != nil {
		t.Fatal(err)
	}
	return k
}

// cardPayRequest is a full card authorisation request carrying testPAN/testCVV.
func cardPayRequest() apo.PayRequest {
	orderAmount := apo.NewAmount(1999, "USD")
	return apo.PayRequest{
		ProductCode:      apo.ProductCashierPayment,
		PaymentRequestID: "req-1",
		Order: &apo.Order{
			ReferenceOrderID: "order-1",
			OrderDescription: "Shoes",
			OrderAmount:      &orderAmount,
			Buyer:            &apo.Buyer{ReferenceBuyerID: "buyer-1"},
		},
		PaymentAmount: apo.NewAmount(1999, "USD"),
		PaymentMethod: apo.PaymentMethod{
			PaymentMethodType: "CARD",
			PaymentMethodMetaData: &apo.CardMetaData{
				CardNo:              testPAN,
				CVV:                 testCVV,
				ExpiryYear:          "27",
				ExpiryMonth:         "03",
				CardholderName:      &apo.Name{FirstName: "Ada", LastName: "Lovelace", FullName: "Ada Lovelace"},
				BillingAddress:      &apo.Address{Region: "US", ZipCode: "94105"},
				Is3DSAuthentication: true,
			},
		},
		PaymentFactor:      &apo.PaymentFactor{IsAuthorization: true, CaptureMode: apo.CaptureManual},
		PaymentNotifyURL:   "https://m.example/webhooks/apo",
		PaymentRedirectURL: "https://m.example/return",
		Env:                &apo.Env{TerminalType: "WEB", ClientIP: "203.0.113.7"},
	}
}
