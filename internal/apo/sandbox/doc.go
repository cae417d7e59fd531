// Package sandbox is a simulated APO (Antom) gateway: the same paths, headers,
// RSA signatures in both directions, JSON fields, result codes and
// idempotency rules as apo-reference.md describes, with in-memory state so
// that authorizations, captures, cancels, refunds and disputes behave like the
// real thing. It owns nothing but that state.
//
// Its wire structs are its own reading of the reference, deliberately not
// shared with the client in package apo, so that a client mistake shows up as
// a failed exchange instead of being mirrored.
//
// Card data: the full card number and the CVV only live in the request being
// handled. State keeps masked facts (BIN, last four, brand, expiry) and a
// keyed, per-process fingerprint used to recognise the same card again.
package sandbox
