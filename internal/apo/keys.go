package apo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ParsePrivateKey reads an RSA private key given as PKCS#8 or PKCS#1 PEM, or
// as the bare base64 of PKCS#8 DER that Antom's dashboard hands out.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("parse private key: not an RSA key")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, errors.New("parse private key: neither PKCS#8 nor PKCS#1 RSA")
	}
	return k, nil
}

// ParsePublicKey reads an RSA public key given as PKIX or PKCS#1 PEM, or as
// the bare base64 of PKIX DER (Antom's dashboard format).
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("parse public key: not an RSA key")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, errors.New("parse public key: neither PKIX nor PKCS#1 RSA")
	}
	return k, nil
}

// keyDER returns the DER bytes of a PEM block or of bare base64 text.
func keyDER(data []byte) ([]byte, error) {
	if b, _ := pem.Decode(data); b != nil {
		return b.Bytes, nil
	}
	s := strings.Join(strings.Fields(string(data)), "")
	if s == "" {
		return nil, errors.New("empty key")
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("neither PEM nor base64")
	}
	return der, nil
}

// GenerateKeyPEM makes a fresh RSA-2048 pair for development: the private key
// as PKCS#8 PEM, the public key as PKIX PEM (the layout design.md §7 names).
func GenerateKeyPEM() (private, public []byte, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate rsa key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal private key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}

// LoadKeyFiles reads the merchant private key and APO's public key from
// files (APO_PRIVATE_KEY_FILE, APO_PUBLIC_KEY_FILE). Errors name the file,
// never its contents.
func LoadKeyFiles(privateFile, publicFile string) (*rsa.PrivateKey, *rsa.PublicKey, error) {
	pb, err := os.ReadFile(privateFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	priv, err := ParsePrivateKey(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", privateFile, err)
	}
	ub, err := os.ReadFile(publicFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := ParsePublicKey(ub)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", publicFile, err)
	}
	return priv, pub, nil
}
