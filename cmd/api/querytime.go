package main

import (
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// QueryTime is a time given in a query string: an RFC 3339 date-time, or a
// plain date meaning 00:00 UTC of that day, the way a person types a date
// range (created_from=2026-12-03).
type QueryTime struct{ time.Time }

// errQueryTime is the whole message a client sees for a bad value, with an
// example instead of Go's layout string.
var errQueryTime = errors.New("want an RFC 3339 date-time, e.g. 2026-12-03T00:00:00Z, or a date, e.g. 2026-12-03 (00:00 UTC)")

// UnmarshalText parses a date-time or a date; Huma calls it for query
// parameters.
func (q *QueryTime) UnmarshalText(b []byte) error {
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		q.Time = t
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		q.Time = t // no zone given: UTC
		return nil
	}
	return errQueryTime
}

// Schema describes the two accepted forms in the spec.
func (QueryTime) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, AnyOf: []*huma.Schema{
		{Type: huma.TypeString, Format: "date-time"},
		{Type: huma.TypeString, Format: "date"},
	}, Examples: []any{"2026-12-03T00:00:00Z", "2026-12-03"}}
}
