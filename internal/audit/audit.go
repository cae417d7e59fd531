// Package audit owns the audit_log table: one row for every mutation made
// through the admin API or the command line — who, with which role, did
// what to which target, with which (redacted) input, and how it ended.
package audit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Outcomes of an audited action. Callers may use others, but these keep the
// log filterable.
const (
	// OutcomeSucceeded: the action took effect.
	OutcomeSucceeded = "succeeded"
	// OutcomeFailed: the action was attempted and failed (e.g. the provider
	// declined it).
	OutcomeFailed = "failed"
	// OutcomeRejected: the action was refused before anything changed
	// (e.g. a state-machine rule).
	OutcomeRejected = "rejected"
)

// Entry is one audit row.
type Entry struct {
	ID         int64  // assigned by the store
	Actor      string // who: an API key's name, or "cli"
	KeyID      string // the API key's id; "" when no key was involved
	Role       string // the actor's role at the time
	Action     string // what, as "<resource>.<verb>": "api-key.create", "payment.refund"
	Target     string // on what, as "<resource>:<id>": "api-key:0190…", "payment:0190…"
	Input      any    // Record: any JSON-encodable value, stored redacted; List: json.RawMessage
	Outcome    string // OutcomeSucceeded, OutcomeFailed, OutcomeRejected
	RemoteAddr string
	RequestID  string
	CreatedAt  time.Time // assigned by the store (transaction time)
}

// Filter selects audit rows for List. Empty fields match everything.
type Filter struct {
	Actor  string
	Action string
	Target string
	Before Cursor // only rows after this position (older); zero: from the newest
	Limit  int    // 1..MaxLimit; 0 means DefaultLimit
}

// Page sizes for List.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ErrBadCursor is a cursor string ParseCursor cannot read.
var ErrBadCursor = errors.New("invalid audit log cursor")

// Cursor is a position in the log's order (newest first): the created_at
// and id of the last row of a page. The zero Cursor is the start.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}

// IsZero reports whether c is the start of the log.
func (c Cursor) IsZero() bool { return c.ID == 0 && c.CreatedAt.IsZero() }

// String encodes c as an opaque token for clients; the zero Cursor is "".
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes a token made by Cursor.String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return Cursor{}, ErrBadCursor
	}
	// Cursors we make hold real row times; one outside years 1-9999 is
	// forged, and PostgreSQL would refuse it as out of range.
	at := time.UnixMicro(micros).UTC()
	if at.Year() < 1 || at.Year() > 9999 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{CreatedAt: at, ID: n}, nil
}

// InvalidError reports an Entry that cannot be recorded.
type InvalidError struct{ Field, Reason string }

func (e *InvalidError) Error() string { return fmt.Sprintf("audit entry %s: %s", e.Field, e.Reason) }
