package logging

import "github.com/payops/payops/internal/carddata"

// Redact is carddata.Redact: card data removed from free text. It stays
// here for the callers that redact what they store next to what they log
// (cmd/api, disputes, audit, payments); new code calls carddata.
func Redact(s string) string { return carddata.Redact(s) }

// RedactJSON is carddata.RedactJSON: card data removed from a JSON
// document. It stays here for the same callers as Redact.
func RedactJSON(b []byte) []byte { return carddata.RedactJSON(b) }
