package auth

import "errors"

// Errors callers may test for with errors.Is.
var (
	// ErrUnauthenticated is a missing, malformed, unknown or revoked key.
	// Callers answer 401 and must not tell the client which of these it was.
	ErrUnauthenticated = errors.New("invalid api key")
	// ErrNotFound is an API key id that does not exist.
	ErrNotFound = errors.New("api key not found")
)

// InvalidError reports a request that breaks a rule about API keys.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }
