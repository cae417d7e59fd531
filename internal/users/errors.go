package users

import (
	"errors"
	"fmt"
	"time"
)

// Errors callers may test for with errors.Is.
var (
	// ErrUnauthenticated is a failed login (unknown email, wrong password,
	// wrong, missing or replayed code, disabled user: callers must not tell
	// which) or a missing, unknown, expired or revoked session.
	ErrUnauthenticated = errors.New("invalid credentials")
	// ErrNotFound is a user or session id that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate is an email another user already has.
	ErrDuplicate = errors.New("a user with this email already exists")
	// ErrThrottled is a login refused because its address failed too often;
	// it is refused before the password is even looked at.
	ErrThrottled = errors.New("too many failed logins from this address")
)

// LockedError is a login refused because its account failed LockAfter times
// in a row. errors.Is(err, ErrLocked) matches it.
type LockedError struct {
	RetryAfter time.Duration // how long until the lock ends
}

// ErrLocked matches every *LockedError with errors.Is.
var ErrLocked = errors.New("account locked after failed logins")

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: retry in %s", ErrLocked, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// InvalidError reports a request that breaks a rule about users. Reason
// never quotes a secret.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError reports a change the current state of the users forbids,
// such as disabling the last enabled admin (HTTP 409). Rule says why, for
// the person who asked.
type ConflictError struct{ Rule string }

func (e *ConflictError) Error() string { return e.Rule }
