package users

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a password, a TOTP secret or its otpauth URL, or a session
// token. Its String, GoString, Format, LogValue and MarshalJSON all print
// "[REDACTED]", so a stray log line, error or audit input cannot leak it;
// Reveal returns the value for the one place that must use it.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the secret.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb prints the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer without revealing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
