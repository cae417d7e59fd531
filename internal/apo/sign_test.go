package apo_test

import (
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
)

// goldenBody/goldenSig: computed with openssl from testdata/merchant_private.pem
// over "POST /ams/sandbox/api/v1/payments/pay\nSANDBOX_PAYOPS.1700000000000.<goldenBody>".
const (
	goldenBody = `{"paymentRequestId":"golden-1","paymentAmount":{"currency":"USD","value":"1000"}}`
	goldenSig  = "algorithm=RSA256,keyVersion=1,signature=YA36FY13JkUB161UVgHGDhCBtKiG9In5GRaYJ%2FWiTjlgGbIGkCEhmKNWC1LUeoSQLVhzgleDqEewqn3sBVg%2Fg1b0vEdgQmIhZ%2BGCzxA6RlKleu77zK62815H4hpQgGwvbnM%2FZGPfn3auoHEp9EsnLC2G2NyBEvvPNlelx%2F9gVaS49f5z232cXQN6RnNvq%2FqxrSoQCOoCEBWeNmtsNeMR8nRh0L2%2F4y9azPy1RRRAUk7cifCz6Zhh1DsAN9b%2FSn25A5OoHqzUE96X3O29ex29%2FykLGm7%2FWdBD3i9QIs7Luw%2BvuScGMeLIOQJ%2F1DFzHbCswr0fjwotySjObrdYGkK98Q%3D%3D"
)

func TestSignGolden(t *testing.T) {
	k := loadKeys(t)
	got, err := apo.Sign(k.merchant, "POST", "/ams/sandbox/api/v1/payments/pay", "SANDBOX_PAYOPS", "1700000000000", []byte(goldenBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != goldenSig {
		t.Fatalf("signature header\ngot  %s\nwant %s", got, goldenSig)
	}
	if err := apo.Verify(k.merchantPub, "POST", "/ams/sandbox/api/v1/payments/pay", "SANDBOX_PAYOPS", "1700000000000", []byte(goldenBody), goldenSig); err != nil {
		t.Fatalf("verify golden: %v", err)
	}
}

func TestVerifyTamper(t *testing.T) {
	k := loadKeys(t)
	const (
		path = "/ams/sandbox/api/v1/payments/pay"
		id   = "SANDBOX_PAYOPS"
		ts   = "1700000000000"
	)
	body := []byte(goldenBody)
	tests := []struct {
		name         string
		key          *rsa.PublicKey
		path, id, ts string
		body         []byte
		header       string
	}{
		{"body", k.merchantPub, path, id, ts, []byte(strings.Replace(goldenBody, "1000", "1001", 1)), goldenSig},
		{"path", k.merchantPub, "/ams/api/v1/payments/pay", id, ts, body, goldenSig},
		{"client id", k.merchantPub, path, "SANDBOX_OTHER", ts, body, goldenSig},
		{"time", k.merchantPub, path, id, "1700000000001", body, goldenSig},
		{"key", k.apoPub, path, id, ts, body, goldenSig},
		{"missing header", k.merchantPub, path, id, ts, body, ""},
		{"no signature part", k.merchantPub, path, id, ts, body, "algorithm=RSA256,keyVersion=1"},
		{"not base64", k.merchantPub, path, id, ts, body, "algorithm=RSA256,keyVersion=1,signature=%%%"},
		{"truncated", k.merchantPub, path, id, ts, body, goldenSig[:len(goldenSig)-12]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apo.Verify(tt.key, "POST", tt.path, tt.id, tt.ts, tt.body, tt.header)
			if !errors.Is(err, apo.ErrSignature) {
				t.Fatalf("got %v, want ErrSignature", err)
			}
		})
	}
}

func TestVerifyTolerantHeader(t *testing.T) {
	k := loadKeys(t)
	_, value, _ := strings.Cut(goldenSig, "signature=")
	unencoded := strings.NewReplacer("%2F", "/", "%2B", "+", "%3D", "=").Replace(value)
	for name, header := range map[string]string{
		"spaces after commas": "algorithm=RSA256, keyVersion=1, signature=" + value,
		"reordered":           "signature=" + value + ",keyVersion=1,algorithm=RSA256",
		"not url-encoded":     "algorithm=RSA256,keyVersion=1,signature=" + unencoded,
	} {
		t.Run(name, func(t *testing.T) {
			if err := apo.Verify(k.merchantPub, "POST", "/ams/sandbox/api/v1/payments/pay", "SANDBOX_PAYOPS", "1700000000000", []byte(goldenBody), header); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		})
	}
}

func TestSandboxPath(t *testing.T) {
	tests := []struct{ id, path, want string }{
		{"SANDBOX_PAYOPS", "/ams/api/v1/payments/pay", "/ams/sandbox/api/v1/payments/pay"},
		{"SANDBOX_PAYOPS", "/ams/sandbox/api/v1/payments/pay", "/ams/sandbox/api/v1/payments/pay"},
		{"PAYOPS", "/ams/api/v1/payments/pay", "/ams/api/v1/payments/pay"},
		{"sandbox_lower", "/ams/api/v1/payments/pay", "/ams/api/v1/payments/pay"},
	}
	for _, tt := range tests {
		if got := apo.SandboxPath(tt.id, tt.path); got != tt.want {
			t.Errorf("SandboxPath(%q, %q) = %q, want %q", tt.id, tt.path, got, tt.want)
		}
	}
}
