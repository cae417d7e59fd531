package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Key format: "pk_" followed by 32 random bytes in unpadded base64url, so a
// key carries 256 bits of entropy and is safe in headers and shells.
const (
	keyScheme    = "pk_"
	keyBytes     = 32
	keyLen       = len(keyScheme) + 43 // base64.RawURLEncoding.EncodedLen(32) == 43
	prefixLen    = len(keyScheme) + 6  // what lists show: 36 of the 256 bits
	maxNameBytes = 100
)

// Key is an API key as stored: everything except the secret, which only
// exists as a SHA-256 hash. A zero RevokedAt or LastUsedAt means never.
type Key struct {
	ID         string
	Name       string
	Role       Role
	Prefix     string // first characters of the key, for telling keys apart
	CreatedBy  string
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// Revoked reports whether the key has been revoked and no longer signs in.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Secret is a raw API key. It exists only between Store.Create and the one
// place that shows it to its owner; its String, GoString, Format, LogValue
// and MarshalJSON all print a redacted form so that a stray log line or
// audit input cannot leak it. Reveal returns the key itself.
type Secret string

const redactedSecret = keyScheme + "[REDACTED]"

// Reveal returns the raw key, for the single response or CLI line that
// hands it to its owner.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the key.
func (s Secret) String() string { return redactedSecret }

// GoString implements fmt.GoStringer without revealing the key.
func (s Secret) GoString() string { return redactedSecret }

// Format implements fmt.Formatter so that every verb, %d and %x included,
// prints the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedSecret) }

// LogValue implements slog.LogValuer without revealing the key.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalJSON writes the redacted form: JSON dumps (audit inputs, logs)
// never carry the key. Responses that must return it use Reveal.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedSecret + `"`), nil }

// newSecret draws a fresh key from crypto/rand.
func newSecret() (Secret, error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate api key: %w", err)
	}
	return Secret(keyScheme + base64.RawURLEncoding.EncodeToString(b)), nil
}

// hashKey returns the SHA-256 of a well-formed raw key, and false for
// anything that is not one (so garbage never reaches the database).
// A plain hash is enough: unlike passwords, keys have 256 bits of entropy,
// so there is nothing to brute-force and no need for a slow KDF.
func hashKey(raw string) ([]byte, bool) {
	if len(raw) != keyLen || !strings.HasPrefix(raw, keyScheme) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw[len(keyScheme):])
	if err != nil || len(b) != keyBytes {
		return nil, false
	}
	h := sha256.Sum256([]byte(raw))
	return h[:], true
}

// keyPrefix is the non-secret part of a key shown in lists.
func keyPrefix(raw Secret) string { return string(raw)[:prefixLen] }
