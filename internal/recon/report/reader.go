package report

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// ErrIncomplete means a file ended without the <END> trailer (or is empty):
// APO may still be writing it, so it must not be reconciled.
var ErrIncomplete = errors.New("no <END> trailer: file is incomplete")

// ErrHeader means the header row is missing, has a duplicate name, or lacks a
// column the file's kind needs. Nothing in such a file can be read.
var ErrHeader = errors.New("bad header")

// LineError is one record that could not be read. The reader goes on after
// it, so a caller can collect every bad line of a file.
type LineError struct {
	File   string
	Line   int
	Column string // the offending column, or "" for the whole record
	Reason string
}

func (e *LineError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Column, e.Reason)
}

// endMarker is APO's trailer record.
const endMarker = "<END>"

// source yields raw records: the next non-blank record with the line (or
// row) it starts on, or io.EOF.
type source interface {
	next() ([]string, int, error)
	close() error
}

// Reader reads one report file record by record. It is not safe for
// concurrent use.
type Reader struct {
	file   string
	name   Name
	src    source
	xlsx   bool
	header []string
	idx    [numFields]int // column of each typed field, -1 when absent
	extra  []int          // columns not typed, in header order
	ended  bool           // the <END> trailer was read
}

// NewCSV reads a CSV report. file names it in errors (use the file's name
// as received); n says its kind; lim bounds its cost (zero fields take
// DefaultLimits). The header is read at once: a missing or unusable header
// is an error wrapping ErrHeader, an empty input one wrapping ErrIncomplete.
// A record beyond lim.MaxRecord, or more records than lim.MaxRecords, ends
// reading with an error wrapping ErrTooLarge.
func NewCSV(file string, n Name, r io.Reader, lim Limits) (*Reader, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 256<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3) // UTF-8 byte order mark
	}
	cl := &csvLimit{r: br, file: file, max: lim.MaxRecord}
	cr := csv.NewReader(cl)
	cr.FieldsPerRecord = -1 // checked against the header here, with a better message
	cr.ReuseRecord = true
	return newReader(file, n, &csvSource{file: file, r: cr, limit: cl, max: lim.MaxRecords}, false)
}

// NewXLSX reads the first sheet of the .xlsx report at path. Before excelize
// opens it, the zip is checked against lim (see checkWorkbook), so a
// workbook beyond the limits is refused, wrapping ErrTooLarge, without
// being unpacked; excelize reads the file from disk, keeps small entries in
// memory and spills large worksheets into lim.TmpDir.
func NewXLSX(file string, n Name, path string, lim Limits) (*Reader, error) {
	lim = lim.withDefaults()
	if err := checkWorkbook(file, path, lim); err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: lim.MaxUnpacked,
		UnzipXMLSizeLimit: spillThreshold, TmpDir: lim.TmpDir})
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, fmt.Errorf("%s: open workbook: %w", file, err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, fmt.Errorf("%s: workbook has no sheet: %w", file, ErrHeader)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: read sheet %q: %w", file, sheets[0], err)
	}
	return newReader(file, n, &xlsxSource{file: file, f: f, rows: rows, max: lim.MaxRecords}, true)
}

func newReader(file string, n Name, src source, xlsx bool) (*Reader, error) {
	rd := &Reader{file: file, name: n, src: src, xlsx: xlsx}
	if err := rd.readHeader(); err != nil {
		_ = src.close()
		return nil, err
	}
	return rd, nil
}

// Close releases the reader's resources (temporary files of a workbook).
func (r *Reader) Close() error { return r.src.close() }

func (r *Reader) readHeader() error {
	rec, _, err := r.src.next()
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: empty file: %w", r.file, ErrIncomplete)
	case err != nil:
		return fmt.Errorf("%s: header: %w", r.file, err)
	case isEnd(rec):
		return fmt.Errorf("%s: <END> before any header: %w", r.file, ErrHeader)
	}
	r.header = make([]string, len(rec))
	for f := range r.idx {
		r.idx[f] = -1
	}
	byName := make(map[string]field, numFields)
	for f, name := range Columns {
		byName[strings.ToLower(name)] = field(f)
	}
	seen := make(map[string]bool, len(rec))
	var aliased [numFields]int
	for f := range aliased {
		aliased[f] = -1
	}
	for i, h := range rec {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		r.header[i] = h
		key := strings.ToLower(h)
		if key == "" {
			continue // an unnamed column (e.g. after a trailing comma) carries nothing we can name
		}
		if seen[key] {
			return fmt.Errorf("%s: column %q appears twice: %w", r.file, h, ErrHeader)
		}
		seen[key] = true
		if f, ok := byName[key]; ok {
			r.idx[f] = i
			continue
		}
		if f, ok := aliases[key]; ok {
			aliased[f] = i
		}
	}
	for f, i := range aliased {
		if i >= 0 && r.idx[f] < 0 {
			r.idx[f] = i
		}
	}
	typed := make(map[int]bool, numFields)
	for _, i := range r.idx {
		if i >= 0 {
			typed[i] = true
		}
	}
	for i, h := range r.header {
		if h != "" && !typed[i] {
			r.extra = append(r.extra, i)
		}
	}
	var missing []string
	for _, f := range required[r.name.Kind] {
		if r.idx[f] < 0 {
			missing = append(missing, Columns[f])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s report lacks column(s) %s: %w", r.file, r.name.Kind, strings.Join(missing, ", "), ErrHeader)
	}
	return nil
}

// Next returns the next record. At the end it returns io.EOF when the
// <END> trailer was seen, and an error wrapping ErrIncomplete otherwise. A
// record that cannot be read is a *LineError; reading may continue after it.
// Any other error (I/O) ends the file.
func (r *Reader) Next() (Line, error) {
	for {
		rec, no, err := r.src.next()
		switch {
		case errors.Is(err, io.EOF):
			if !r.ended {
				return Line{}, fmt.Errorf("%s: %w", r.file, ErrIncomplete)
			}
			return Line{}, io.EOF
		case err != nil:
			return Line{}, err
		case isEnd(rec):
			if r.ended {
				return Line{}, &LineError{File: r.file, Line: no, Reason: "second <END> trailer"}
			}
			r.ended = true
			continue
		case r.ended:
			return Line{}, &LineError{File: r.file, Line: no, Reason: "record after the <END> trailer"}
		}
		return r.parse(rec, no)
	}
}

// isEnd reports the trailer: <END> in the first cell, nothing else.
func isEnd(rec []string) bool {
	if len(rec) == 0 || strings.TrimSpace(rec[0]) != endMarker {
		return false
	}
	for _, v := range rec[1:] {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// blank reports a record with no data in any cell.
func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// csvSource reads records with encoding/csv, which handles quoting, CRLF
// and multi-line quoted fields and says where each record starts.
type csvSource struct {
	file   string
	r      *csv.Reader
	limit  *csvLimit
	max, n int // records allowed, and read
	last   int // line of the last record read
}

func (s *csvSource) next() ([]string, int, error) {
	for {
		if s.n++; s.n > s.max {
			return nil, 0, fmt.Errorf("%s: more than %d records (after line %d): %w", s.file, s.max, s.last, ErrTooLarge)
		}
		rec, err := s.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &LineError{File: s.file, Line: pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()}
			}
			if errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			if errors.Is(err, ErrTooLarge) {
				return nil, 0, err // it names the file
			}
			return nil, 0, fmt.Errorf("%s: read: %w", s.file, err)
		}
		if blank(rec) {
			continue
		}
		line, _ := s.r.FieldPos(0)
		s.last = line
		return rec, line, nil
	}
}

func (s *csvSource) close() error { return nil }

// xlsxSource reads rows of the first sheet with raw cell values (numbers as
// stored, not as displayed).
type xlsxSource struct {
	file string
	f    *excelize.File
	rows *excelize.Rows
	row  int
	max  int // rows allowed
}

func (s *xlsxSource) next() ([]string, int, error) {
	for s.rows.Next() {
		s.row++ // Next also yields the gaps between stored rows, so this is the row number
		if s.row > s.max {
			return nil, 0, fmt.Errorf("%s: row %d: more than %d rows: %w", s.file, s.row, s.max, ErrTooLarge)
		}
		rec, err := s.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, 0, &LineError{File: s.file, Line: s.row, Reason: "unreadable row: " + err.Error()}
		}
		if blank(rec) {
			continue
		}
		return rec, s.row, nil
	}
	if err := s.rows.Error(); err != nil {
		return nil, 0, fmt.Errorf("%s: read sheet: %w", s.file, err)
	}
	return nil, 0, io.EOF
}

func (s *xlsxSource) close() error {
	err := s.rows.Close()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
