package apo

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrSignature reports a missing or wrong signature. Callers test for it
// with errors.Is; the message never carries key material.
var ErrSignature = errors.New("apo: signature invalid")

// signedContent is the string APO signs (reference §2.2):
// "<METHOD> <uri>\n<client-id>.<time>.<body>".
func signedContent(method, uri, clientID, timestamp string, body []byte) []byte {
	var b strings.Builder
	b.Grow(len(method) + len(uri) + len(clientID) + len(timestamp) + len(body) + 4)
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(clientID)
	b.WriteByte('.')
	b.WriteString(timestamp)
	b.WriteByte('.')
	b.Write(body)
	return []byte(b.String())
}

// Sign returns the value of the `signature` header for a message:
// "algorithm=RSA256,keyVersion=1,signature=<urlencoded base64>".
func Sign(key *rsa.PrivateKey, method, uri, clientID, timestamp string, body []byte) (string, error) {
	sum := sha256.Sum256(signedContent(method, uri, clientID, timestamp, body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("apo: sign: %w", err)
	}
	return "algorithm=RSA256,keyVersion=1,signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// Verify checks a `signature` header value against a message. It tolerates
// spaces after the commas and any order of the header's parts.
func Verify(key *rsa.PublicKey, method, uri, clientID, timestamp string, body []byte, header string) error {
	raw, err := signatureValue(header)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrSignature)
	}
	sum := sha256.Sum256(signedContent(method, uri, clientID, timestamp, body))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return ErrSignature
	}
	return nil
}

// signatureValue extracts and URL-decodes the signature= part of the header.
func signatureValue(header string) (string, error) {
	if strings.TrimSpace(header) == "" {
		return "", fmt.Errorf("%w: missing", ErrSignature)
	}
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(k, "signature") {
			continue
		}
		// PathUnescape, not QueryUnescape: a sender that forgot to encode keeps its "+".
		dec, err := url.PathUnescape(v)
		if err != nil {
			return "", fmt.Errorf("%w: bad url encoding", ErrSignature)
		}
		return dec, nil
	}
	return "", fmt.Errorf("%w: no signature= part", ErrSignature)
}

// SandboxPath rewrites /ams/api to /ams/sandbox/api for SANDBOX_ client ids,
// as the official SDKs do before signing.
func SandboxPath(clientID, path string) string {
	if strings.HasPrefix(clientID, "SANDBOX_") && !strings.Contains(path, "/ams/sandbox/api") {
		return strings.Replace(path, "/ams/api", "/ams/sandbox/api", 1)
	}
	return path
}
