package statement

import (
	"fmt"
	"io"
)

// Limits bound what reading one statement file may cost. A zero field takes
// its value from DefaultLimits. Beyond MaxBytes, MaxLine, MaxStatements or
// MaxEntries the file is refused whole with an error wrapping ErrTooLarge;
// a field beyond MaxField is a line error of its entry.
type Limits struct {
	// MaxBytes bounds the input as read (before any decoding).
	MaxBytes int64
	// MaxLine bounds one MT940 line, one CSV record, and one XML token
	// (a tag with its attributes, or a run of text) in bytes.
	MaxLine int
	// MaxField bounds one value kept in the model in bytes: a reference,
	// a name, the joined remittance text of an entry.
	MaxField int
	// MaxStatements bounds the statements of one file.
	MaxStatements int
	// MaxEntries bounds the entries of one file, all its statements
	// together (and so of each statement), the transaction details of
	// batched camt entries counted with them; for CSV, its rows. Bounding
	// the file rather than each statement keeps what a file can make this
	// package hold near MaxEntries entries, however it splits them.
	MaxEntries int
	// MaxErrors bounds the line errors listed in a LineErrors; further
	// ones are only counted.
	MaxErrors int
}

// DefaultLimits are the documented bounds (docs/bank-statements.md). A
// daily statement of a busy account is a few MB; a month of them in one
// camt file fits in MaxBytes.
var DefaultLimits = Limits{
	MaxBytes:      64 << 20,
	MaxLine:       64 << 10,
	MaxField:      4 << 10,
	MaxStatements: 10_000,
	MaxEntries:    100_000,
	MaxErrors:     100,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxLine <= 0 {
		l.MaxLine = d.MaxLine
	}
	if l.MaxField <= 0 {
		l.MaxField = d.MaxField
	}
	if l.MaxStatements <= 0 {
		l.MaxStatements = d.MaxStatements
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxErrors <= 0 {
		l.MaxErrors = d.MaxErrors
	}
	return l
}

// size shows a byte count for a message.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// sizeLimit passes at most max bytes on and fails, wrapping ErrTooLarge, as
// soon as the input holds one more; io.LimitedReader would end it with a
// silent EOF instead, and a truncated statement could look whole.
type sizeLimit struct {
	r    io.Reader
	left int64
	max  int64
}

func newSizeLimit(r io.Reader, max int64) *sizeLimit {
	return &sizeLimit{r: r, left: max, max: max}
}

func (s *sizeLimit) Read(p []byte) (int, error) {
	if int64(len(p)) > s.left+1 {
		p = p[:s.left+1]
	}
	n, err := s.r.Read(p)
	if int64(n) > s.left {
		n, s.left = int(s.left), 0
		return n, fmt.Errorf("input larger than %s: %w", size(s.max), ErrTooLarge)
	}
	s.left -= int64(n)
	return n, err
}
