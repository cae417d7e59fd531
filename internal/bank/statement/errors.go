package statement

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers may test for with errors.Is. A file that fails with one of
// them is refused whole: reading stopped where the problem was seen, and no
// statement is returned.
var (
	// ErrTooLarge means the input goes beyond one of its Limits.
	ErrTooLarge = errors.New("beyond the limits")
	// ErrFormat means the input is not a readable file of the format asked
	// for (XML syntax, not a camt.053 document, no MT940 statement, a CSV
	// without its header).
	ErrFormat = errors.New("not a readable statement file")
	// ErrMapping means a CSV mapping is unusable; no line was read.
	ErrMapping = errors.New("bad CSV mapping")
)

// LineError is one problem at one place of a file: a line (MT940, CSV) or an
// element starting on a line (camt.053, with its path in Field).
type LineError struct {
	File   string
	Line   int    // 1-based; 0 when the problem concerns the whole file
	Field  string // MT940 tag (":61:"), CSV column, camt element path; "" for the whole line
	Reason string
	Err    error // the sentinel a fatal error wraps (ErrTooLarge, ErrFormat), else nil
}

func (e *LineError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Reason)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *LineError) Unwrap() error { return e.Err }

// LineErrors lists the entries (or statement fields) that could not be read
// while the rest of the file could. The parsers return it together with
// the statements: a bad entry is left out of its statement, never dropped
// silently, so a caller that ingests must refuse the file when it gets one.
type LineErrors struct {
	File    string
	Errs    []*LineError // in file order, at most Limits.MaxErrors
	Omitted int          // further problems not listed
}

func (e *LineErrors) Error() string {
	n := len(e.Errs) + e.Omitted
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem", e.File, n)
	if n != 1 {
		b.WriteString("s")
	}
	for i, le := range e.Errs {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", n-3)
			break
		}
		b.WriteString("; " + strings.TrimPrefix(le.Error(), e.File+":"))
	}
	return b.String()
}

// Unwrap lets errors.As find the first *LineError.
func (e *LineErrors) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, le := range e.Errs {
		out[i] = le
	}
	return out
}

// collector gathers a file's line errors up to a bound.
type collector struct {
	file string
	max  int
	list LineErrors
}

func newCollector(file string, max int) *collector {
	return &collector{file: file, max: max, list: LineErrors{File: file}}
}

func (c *collector) add(line int, field, reason string) {
	if len(c.list.Errs) >= c.max {
		c.list.Omitted++
		return
	}
	c.list.Errs = append(c.list.Errs, &LineError{File: c.file, Line: line, Field: field, Reason: reason})
}

// err returns the collected errors, or nil when there were none.
func (c *collector) err() error {
	if len(c.list.Errs) == 0 {
		return nil
	}
	return &c.list
}

// fatal builds the error that ends reading a file.
func fatal(file string, line int, field, reason string, sentinel error) *LineError {
	return &LineError{File: file, Line: line, Field: field, Reason: reason, Err: sentinel}
}
