package apo_test

import (
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
)

func TestParsePrivateKeyFormats(t *testing.T) {
	k := loadKeys(t)
	b64 := string(mustRead(t, "merchant_private.b64"))
	// Antom's dashboard text may arrive wrapped; whitespace must not matter.
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(i+64, len(b64))])
		wrapped.WriteString("\r\n")
	}
	for name, data := range map[string][]byte{
		"pkcs8 pem":      mustRead(t, "merchant_private.pem"),
		"pkcs1 pem":      mustRead(t, "merchant_private_pkcs1.pem"),
		"bare base64":    []byte(b64),
		"wrapped base64": []byte(wrapped.String()),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := apo.ParsePrivateKey(data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(k.merchant) {
				t.Fatal("parsed key differs from the PKCS#8 original")
			}
		})
	}
}

func TestParsePublicKeyFormats(t *testing.T) {
	k := loadKeys(t)
	for name, data := range map[string][]byte{
		"pkix pem":    mustRead(t, "merchant_public.pem"),
		"pkcs1 pem":   mustRead(t, "merchant_public_pkcs1.pem"),
		"bare base64": mustRead(t, "merchant_public.b64"),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := apo.ParsePublicKey(data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(k.merchantPub) {
				t.Fatal("parsed key differs from the PKIX original")
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	priv := mustRead(t, "merchant_private.pem")
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("not a key at all!"),
		"public":  mustRead(t, "merchant_public.pem"),
		"bad der": []byte("aGVsbG8gd29ybGQ="),
	} {
		t.Run("private "+name, func(t *testing.T) {
			_, err := apo.ParsePrivateKey(data)
			if err == nil {
				t.Fatal("got nil error")
			}
			if len(data) > 20 && strings.Contains(err.Error(), string(data[10:20])) {
				t.Fatalf("error %q echoes key material", err)
			}
		})
	}
	if _, err := apo.ParsePublicKey(priv); err == nil {
		t.Fatal("ParsePublicKey accepted a private key")
	}
}

func TestGenerateKeyPEM(t *testing.T) {
	privPEM, pubPEM, err := apo.GenerateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := apo.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := apo.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) {
		t.Fatal("generated public key does not match the private key")
	}
	sig, err := apo.Sign(priv, "POST", "/p", "c", "1", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := apo.Verify(pub, "POST", "/p", "c", "1", []byte("{}"), sig); err != nil {
		t.Fatal(err)
	}
}
