package report

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// ErrTooLarge means a file goes beyond one of its Limits. Such a file is
// refused whole, and reading it stops at once: whatever it claims to be, no
// file costs more memory or time than the limits allow.
var ErrTooLarge = errors.New("file too large")

// Limits bound what reading one file may cost. A zero field takes its
// value from DefaultLimits.
type Limits struct {
	// MaxRecord bounds one CSV record in bytes (encoding/csv holds a whole
	// record in memory), and in a workbook's XML the bytes between two
	// markup starts, which bounds one cell's text.
	MaxRecord int
	// MaxRecords bounds the records (CSV) or rows (.xlsx, the gaps between
	// stored rows included) of a file, blank ones included.
	MaxRecords int
	// MaxUnpacked bounds a workbook's zip entries unpacked, all together,
	// both as the zip declares them and as they really inflate.
	MaxUnpacked int64
	// MaxInMemory bounds, together, the entries excelize keeps in memory:
	// every one but the worksheets and the shared strings above
	// spillThreshold, which it reads from temporary files.
	MaxInMemory int64
	// MaxRatio bounds unpacked ÷ packed size of an entry larger than
	// ratioFloor unpacked: a report's XML packs 5–20×, a zip bomb 1000×.
	MaxRatio int64
	// MaxSharedStrings bounds the strings of a workbook's shared string
	// table (excelize indexes each one in memory).
	MaxSharedStrings int
	// TmpDir is where excelize spills large entries ("" is os.TempDir).
	TmpDir string
}

// DefaultLimits are the documented bounds (README, "Report files"). At
// these values a legitimate report of the design's size (a million lines a
// day) fits as CSV, and as .xlsx up to about 250,000 lines; larger reports
// come as CSV, which APO offers too.
var DefaultLimits = Limits{
	MaxRecord:        1 << 20,
	MaxRecords:       2 << 20,
	MaxUnpacked:      256 << 20,
	MaxInMemory:      16 << 20,
	MaxRatio:         100,
	MaxSharedStrings: 1 << 20,
}

const (
	// spillThreshold is excelize's UnzipXMLSizeLimit: worksheets and shared
	// strings larger than this are read from temporary files, not memory.
	spillThreshold = 1 << 20
	// ratioFloor: smaller entries may pack as well as they like (an empty
	// sheet of a few bytes can have any ratio).
	ratioFloor = 1 << 20
	// maxDirectory bounds the bytes archive/zip reads to list a workbook's
	// entries (it keeps about 200 bytes per entry); a report's workbook has
	// a dozen entries in a few KiB.
	maxDirectory = 1 << 20
)

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxRecord <= 0 {
		l.MaxRecord = d.MaxRecord
	}
	if l.MaxRecords <= 0 {
		l.MaxRecords = d.MaxRecords
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = d.MaxUnpacked
	}
	if l.MaxInMemory <= 0 {
		l.MaxInMemory = d.MaxInMemory
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxSharedStrings <= 0 {
		l.MaxSharedStrings = d.MaxSharedStrings
	}
	return l
}

// mib shows a byte count for a message.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// csvLimit passes a CSV stream on and fails, with ErrTooLarge, once one
// record is longer than max bytes. It follows quoting as encoding/csv does
// (a quote opens a field only at its start; "" inside one is a quote), so
// that a newline inside a quoted field does not end the record.
type csvLimit struct {
	r     io.Reader
	file  string
	max   int
	n     int // bytes of the current record
	state int
	line  int // physical line the current record starts on, 1-based
	lines int // newlines seen
}

const (
	csvFieldStart = iota
	csvUnquoted
	csvQuoted
	csvQuoteInQuoted
)

func (l *csvLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if l.n == 0 {
			l.line = l.lines + 1
		}
		l.n++
		end := false
		switch l.state {
		case csvFieldStart, csvUnquoted, csvQuoteInQuoted:
			switch {
			case c == '"' && l.state == csvFieldStart:
				l.state = csvQuoted
			case c == '"' && l.state == csvQuoteInQuoted:
				l.state = csvQuoted // an escaped quote
			case c == ',':
				l.state = csvFieldStart
			case c == '\n':
				end = true
			default:
				l.state = csvUnquoted
			}
		case csvQuoted:
			if c == '"' {
				l.state = csvQuoteInQuoted
			}
		}
		if c == '\n' {
			l.lines++
		}
		if end {
			l.n, l.state = 0, csvFieldStart
			continue
		}
		if l.n > l.max {
			return i, fmt.Errorf("%s: line %d: a record longer than %s: %w", l.file, l.line, mib(int64(l.max)), ErrTooLarge)
		}
	}
	return n, err
}

// checkWorkbook looks at a workbook's zip before excelize opens it, so that
// nothing beyond the limits is ever unpacked: the directory's size, each
// entry's declared size and packing ratio, and then every entry inflated
// for real (a zip's declared sizes can lie) with the bytes between markup
// starts and the shared strings counted.
func checkWorkbook(file, path string, lim Limits) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: open: %w", file, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("%s: open: %w", file, err)
	}
	cr := &cappedReaderAt{r: fh, left: maxDirectory + 64<<10} // + the end record's search window
	zr, err := zip.NewReader(cr, fi.Size())
	switch {
	case cr.left < 0:
		return fmt.Errorf("%s: the zip directory is larger than %s: %w", file, mib(maxDirectory), ErrTooLarge)
	case err != nil:
		return fmt.Errorf("%s: not an .xlsx workbook (zip): %w", file, err)
	}
	cr.left = math.MaxInt64 // the directory is read; entries are bounded below
	var total, inMemory int64
	for _, e := range zr.File {
		size := int64(e.UncompressedSize64)
		if e.UncompressedSize64 > uint64(lim.MaxUnpacked) || total+size > lim.MaxUnpacked {
			return fmt.Errorf("%s: entries unpack to more than %s: %w", file, mib(lim.MaxUnpacked), ErrTooLarge)
		}
		total += size
		if size > ratioFloor && size/max(int64(e.CompressedSize64), 1) > lim.MaxRatio {
			return fmt.Errorf("%s: entry %s packs %d:1, more than %d:1: %w", file, show(e.Name), size/max(int64(e.CompressedSize64), 1), lim.MaxRatio, ErrTooLarge)
		}
		if spilled(e.Name) && size > spillThreshold {
			continue
		}
		if inMemory += size; inMemory > lim.MaxInMemory {
			return fmt.Errorf("%s: entries read into memory unpack to more than %s: %w", file, mib(lim.MaxInMemory), ErrTooLarge)
		}
	}
	for _, e := range zr.File {
		if err := scanEntry(file, e, lim); err != nil {
			return err
		}
	}
	return nil
}

// spilled reports the entries excelize reads from a temporary file when
// they are large (its ReadZipReader): worksheets and the shared strings.
func spilled(name string) bool {
	name = strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	return name == "xl/sharedstrings.xml" || strings.HasPrefix(name, "xl/worksheets/sheet")
}

// scanEntry inflates one entry, failing with ErrTooLarge when it yields
// more than it declared (archive/zip also refuses that), when the bytes
// between two '<' exceed MaxRecord, or when the shared strings outnumber
// MaxSharedStrings.
func scanEntry(file string, e *zip.File, lim Limits) error {
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("%s: entry %s: %w", file, show(e.Name), err)
	}
	defer rc.Close()
	s := &xmlScan{max: lim.MaxRecord, sst: strings.EqualFold(strings.ReplaceAll(e.Name, `\`, "/"), "xl/sharedStrings.xml")}
	_, err = io.Copy(s, io.LimitReader(rc, int64(e.UncompressedSize64)+1))
	switch {
	case errors.Is(err, zip.ErrFormat) && s.total >= int64(e.UncompressedSize64):
		// archive/zip stops an entry at its declared size.
		return fmt.Errorf("%s: entry %s unpacks to more than it declares: %w", file, show(e.Name), ErrTooLarge)
	case s.tooLong:
		return fmt.Errorf("%s: entry %s has more than %s without markup: %w", file, show(e.Name), mib(int64(lim.MaxRecord)), ErrTooLarge)
	case err != nil:
		return fmt.Errorf("%s: entry %s: %w", file, show(e.Name), err)
	case s.total > int64(e.UncompressedSize64):
		return fmt.Errorf("%s: entry %s unpacks to more than it declares: %w", file, show(e.Name), ErrTooLarge)
	case s.strings > lim.MaxSharedStrings:
		return fmt.Errorf("%s: more than %d shared strings: %w", file, lim.MaxSharedStrings, ErrTooLarge)
	}
	return nil
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// xmlScan counts an entry's bytes, the longest run without a '<', and in
// the shared strings the <si> elements.
type xmlScan struct {
	max     int
	sst     bool
	total   int64
	run     int
	tooLong bool
	strings int
	prev    [3]byte // the last bytes, to find "<si" across writes
}

func (s *xmlScan) Write(p []byte) (int, error) {
	s.total += int64(len(p))
	for _, c := range p {
		if c == '<' {
			s.run = 0
		} else if s.run++; s.run > s.max {
			s.tooLong = true
			return 0, errStop
		}
		if s.sst {
			// "<si" followed by '>', '/' or a space starts a string item.
			if s.prev == [3]byte{'<', 's', 'i'} && (c == '>' || c == ' ' || c == '/') {
				s.strings++
			}
			s.prev = [3]byte{s.prev[1], s.prev[2], c}
		}
	}
	return len(p), nil
}

// cappedReaderAt passes reads on while left lasts; past it, reads fail and
// left goes negative, so the caller can tell why.
type cappedReaderAt struct {
	r    io.ReaderAt
	left int64
}

func (c *cappedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.left -= int64(len(p))
	if c.left < 0 {
		return 0, ErrTooLarge
	}
	return c.r.ReadAt(p, off)
}
