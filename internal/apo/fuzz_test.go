package apo_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/payops/payops/internal/apo"
)

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *rsa.PrivateKey
)

func fuzzSigner(t *testing.T) *rsa.PrivateKey {
	fuzzKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 1024) // speed: the fuzzer signs nothing, it only verifies
		if err != nil {
			panic(err)
		}
		fuzzKey = k
	})
	return fuzzKey
}

// FuzzVerifyNotification: any header and body either verifies (only when
// the signature was really made for that exact content) or fails with
// ErrSignature — never a panic, never another error.
func FuzzVerifyNotification(f *testing.F) {
	f.Add("algorithm=RSA256,keyVersion=1,signature=abc%2B%3D", "SANDBOX_X", "2026-11-23T10:00:00Z", []byte(`{"notifyType":"PAYMENT_RESULT"}`))
	f.Add("algorithm=RSA256, keyVersion=1, signature=", "", "1700000000000", []byte{})
	f.Add("signature=%zz", "c", "t", []byte("\x00\xff"))
	f.Add(",,,=,signature==,", "c", "t", []byte("{}"))
	f.Fuzz(func(t *testing.T, sig, clientID, reqTime string, body []byte) {
		key := fuzzSigner(t)
		h := http.Header{}
		h["signature"] = []string{sig}
		h["client-id"] = []string{clientID}
		h["request-time"] = []string{reqTime}
		err := apo.VerifyNotification(&key.PublicKey, "POST", "/webhooks/apo", h, body)
		if err == nil {
			t.Fatalf("a made-up signature %q verified", sig)
		}
		if !errors.Is(err, apo.ErrSignature) {
			t.Fatalf("got %v, want ErrSignature", err)
		}
		// A real signature over the same content must verify, whatever the content.
		if clientID == "" || reqTime == "" || strings.ContainsAny(clientID+reqTime, "\r\n") {
			return
		}
		good, err := apo.Sign(key, "POST", "/webhooks/apo", clientID, reqTime, body)
		if err != nil {
			t.Fatal(err)
		}
		h["signature"] = []string{good}
		if err := apo.VerifyNotification(&key.PublicKey, "POST", "/webhooks/apo", h, body); err != nil {
			t.Fatalf("real signature rejected: %v", err)
		}
	})
}

// FuzzDecodeNotification: decoding never panics, and what it accepts has
// exactly the body its Kind names.
func FuzzDecodeNotification(f *testing.F) {
	f.Add([]byte(`{"notifyType":"PAYMENT_RESULT","result":{"resultStatus":"S"},"paymentId":"1","paymentAmount":{"currency":"USD","value":"100"}}`))
	f.Add([]byte(`{"notifyType":"CAPTURE_RESULT","captureId":"c","captureAmount":{"currency":"JPY","value":"1"}}`))
	f.Add([]byte(`{"notifyType":"REFUND_RESULT","refundStatus":"SUCCESS"}`))
	f.Add([]byte(`{"disputeId":"d","disputeNotificationType":"DISPUTE_CREATED"}`))
	f.Add([]byte(`{"notifyType":"PAYMENT_RESULT","paymentResultInfo":{"cardNo":"4111111111111111"}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"notifyType":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := apo.DecodeNotification(raw)
		if err != nil {
			return
		}
		set := 0
		for _, ok := range []bool{n.Payment != nil, n.Capture != nil, n.Refund != nil, n.Dispute != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("kind %s with %d bodies", n.Kind, set)
		}
		if n.Payment != nil && n.Payment.PaymentResultInfo != nil && strings.Contains(n.Payment.PaymentResultInfo.CardNo, "4111111111111111") {
			t.Fatal("a clear card number survived decoding")
		}
	})
}
