package recon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon/report"
)

// Ingest archives one report file arriving as r (an upload) and stages its
// lines. name is APO's file name, optionally under APO's
// <customerId>/<yyyyMMdd>/ directories, which then give the customer and the
// report date.
//
// The whole content is archived with its SHA-256 before anything else. The
// same content arriving again is a no-op: the earlier record is returned
// with Duplicate set (a report without lines only under its own name:
// Store.FileByContent). A file without the <END> trailer is recorded
// INCOMPLETE and not reconciled; a file with a bad header or bad lines is
// recorded FAILED, nothing of it is staged, and the error is a *ParseError
// naming every bad line's file and line number (the first twenty, and the
// count). A name that is not an APO report name is an *InvalidError.
func (s *Service) Ingest(ctx context.Context, name string, r io.Reader) (File, error) {
	return s.ingest(ctx, arrival{path: name, origin: OriginUpload}, r)
}

// arrival is where a file came from.
type arrival struct {
	path   string // relative, as received
	origin Origin
	source string     // where a pulled or scanned file was found, for SeenSource
	mtime  *time.Time // its modification time there
}

// ingest archives a file under its content hash, records it, stages its
// lines in one transaction, and reports the outcome. The same content a
// second time is the first file, marked Duplicate.
func (s *Service) ingest(ctx context.Context, a arrival, r io.Reader) (File, error) {
	clean := path.Clean(filepath.ToSlash(a.path))
	base := path.Base(clean)
	n, err := report.ParseName(base)
	if err != nil {
		return File{}, &InvalidError{Field: "name", Reason: err.Error()}
	}
	kept, dup, err := s.keep(ctx, r, base)
	if err != nil {
		return File{}, err
	}
	if dup != nil {
		return *dup, nil
	}
	f := s.newFile(a, clean, n, kept)
	res, lost, parsed, err := s.stageFile(ctx, &f, n, a.mtime)
	if err != nil {
		return File{}, fmt.Errorf("ingest %s: %w", base, err)
	}
	if lost {
		// Another arrival of the same content committed first.
		f, err := NewStore(s.db).FileByContent(ctx, kept.sum, base)
		if err != nil {
			return File{}, err
		}
		f.Duplicate = true
		return f, nil
	}
	s.ingested(ctx, f, res, parsed)
	if f.Status == FileFailed {
		return f, res.parseError(f)
	}
	return f, nil
}

// kept is a file archived under its content hash.
type kept struct {
	path string
	sum  []byte
	size int64
}

// keep copies r into the archive under its SHA-256, unless the file
// repeats one ingested before (Store.FileByContent): that file comes back,
// as a duplicate.
func (s *Service) keep(ctx context.Context, r io.Reader, base string) (kept, *File, error) {
	archived, sum, size, err := s.archive(r)
	if err != nil {
		return kept{}, nil, err
	}
	defer os.Remove(archived) // a no-op once renamed into place
	if f, err := NewStore(s.db).FileByContent(ctx, sum, base); err == nil {
		f.Duplicate = true
		return kept{}, &f, nil
	} else if !errors.Is(err, ErrNotFound) {
		return kept{}, nil, err
	}
	hexSum := hex.EncodeToString(sum)
	final := filepath.Join(s.cfg.ArchiveDir, hexSum[:2], hexSum+"_"+base)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return kept{}, nil, fmt.Errorf("archive %s: %w", base, err)
	}
	if err := os.Rename(archived, final); err != nil {
		return kept{}, nil, fmt.Errorf("archive %s: %w", base, err)
	}
	return kept{path: final, sum: sum, size: size}, nil, nil
}

// newFile is the record of a kept file, from its name and where it came
// from. The report date is the name's for transaction details, else the
// directory's when the path has one.
func (s *Service) newFile(a arrival, clean string, n report.Name, k kept) File {
	customer, dirDate := layoutOf(clean)
	f := File{Name: path.Base(clean), Kind: n.Kind, Format: n.Format, CustomerID: customer, BatchID: n.BatchID,
		SettlementCurrency: n.Currency, Seq: n.Seq, SHA256: hex.EncodeToString(k.sum), Size: k.size,
		ArchivePath: k.path, Origin: a.origin, ReceivedAt: s.now().UTC()}
	f.SourcePath = a.source
	switch {
	case n.Kind == report.TransactionItems:
		f.ReportDate = n.Date
	case !dirDate.IsZero():
		f.ReportDate = dirDate
	}
	return f
}

// stageFile records f and stages its lines in one transaction, and sets
// f's outcome. lost means another arrival of the same content committed
// first, and nothing was written.
func (s *Service) stageFile(ctx context.Context, f *File, n report.Name, mtime *time.Time) (res staged, lost bool,
	parsed time.Duration, err error) {
	// A dedicated connection: COPY rows go to its driver connection
	// directly (Store.CopyLines), inside this transaction.
	err = inConnTx(ctx, s.db, func(conn *sqlx.Conn, tx *sqlx.Tx) error {
		st := NewStore(tx)
		// The row comes first so that lines can carry its id; its outcome
		// is written at the end of the same transaction.
		f.Status = FileIngested // provisional, never visible: FinishFile sets the outcome before commit
		id, created, err := st.CreateFile(ctx, *f, mtime)
		if err != nil {
			return err
		}
		if !created {
			lost = true
			return nil
		}
		f.ID = id
		if _, err := tx.ExecContext(ctx, `SAVEPOINT lines`); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		start := time.Now()
		if res, err = stage(ctx, st, conn, id, n, *f, report.Limits{TmpDir: s.tmpDir}); err != nil {
			return err
		}
		parsed = time.Since(start)
		if res.status != FileIngested {
			// No partial file: an incomplete or failed file stages nothing.
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT lines`); err != nil {
				return fmt.Errorf("rollback lines: %w", err)
			}
		}
		f.Status, f.Lines, f.BadLines = res.status, res.lines, res.bad
		if f.ReportDate.IsZero() && n.Kind == report.SettlementItems && !res.lastSettled.IsZero() {
			f.ReportDate = day(res.lastSettled) // settlement date from the content when the path has none
		}
		if res.status == FileFailed {
			f.Error = res.parseError(*f).Error()
		} else if res.cause != nil {
			f.Error = res.cause.Error()
		}
		return st.FinishFile(ctx, *f, parsed)
	})
	return res, lost, parsed, err
}

// ingested refreshes the planner's statistics after lines went in, logs
// the file, and gives memory back after a large one.
func (s *Service) ingested(ctx context.Context, f File, res staged, parsed time.Duration) {
	if f.Status == FileIngested {
		if err := NewStore(s.db).AnalyzeLines(ctx); err != nil {
			// Only the planner's estimates suffer; the file is in.
			s.log.WarnContext(ctx, "report lines not analyzed", "file_id", f.ID, "err", err)
		}
	}
	s.log.InfoContext(ctx, "report file ingested", "file_id", f.ID, "file", f.Name, "status", f.Status,
		"lines", f.Lines, "bad_lines", f.BadLines, "bytes", f.Size, "parse_ms", parsed.Milliseconds())
	if f.Size > freeAfter || errors.Is(res.cause, report.ErrTooLarge) {
		// A large file's parse grew the heap; hand the memory back to the
		// system now rather than hold it until the runtime does.
		debug.FreeOSMemory()
	}
}

// freeAfter is the file size past which ingest returns freed memory to the
// system at once.
const freeAfter = 16 << 20

// archive copies r into a temporary file of the archive directory,
// hashing it on the way.
func (s *Service) archive(r io.Reader) (string, []byte, int64, error) {
	if err := os.MkdirAll(s.cfg.ArchiveDir, 0o750); err != nil {
		return "", nil, 0, fmt.Errorf("archive dir: %w", err)
	}
	tmp, err := os.CreateTemp(s.cfg.ArchiveDir, ".arriving-*")
	if err != nil {
		return "", nil, 0, fmt.Errorf("archive: %w", err)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", nil, 0, fmt.Errorf("archive: %w", err)
	}
	return tmp.Name(), h.Sum(nil), size, nil
}

// layoutOf reads APO's <customerId>/<yyyyMMdd>/<file> layout from a path;
// either part may be absent.
func layoutOf(p string) (customer string, date time.Time) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return "", time.Time{}
	}
	d, err := time.Parse("20060102", parts[len(parts)-2])
	if err != nil || len(parts[len(parts)-2]) != 8 {
		return "", time.Time{}
	}
	if len(parts) >= 3 {
		customer = parts[len(parts)-3]
	}
	return customer, d
}

// staged is the outcome of reading a file into report_lines.
type staged struct {
	status      FileStatus
	lines, bad  int
	errs        []*report.LineError
	cause       error // header problem, or the missing trailer
	lastSettled time.Time
}

func (s staged) parseError(f File) *ParseError {
	return &ParseError{File: f, Lines: s.errs, Total: s.bad, Cause: s.cause}
}

// stage reads the archived file and COPYs its lines. Once a bad line is
// seen nothing more is sent (the lines will be rolled back), but reading
// goes on so that every bad line is counted. A file beyond lim
// (report.ErrTooLarge) is refused whole as soon as that is seen.
func stage(ctx context.Context, st *Store, conn postgres.RawConn, id int64, n report.Name, f File, lim report.Limits) (staged, error) {
	var (
		rd  *report.Reader
		err error
	)
	if n.Format == report.XLSX {
		rd, err = report.NewXLSX(f.Name, n, f.ArchivePath, lim)
	} else {
		fh, oerr := os.Open(f.ArchivePath)
		if oerr != nil {
			return staged{}, fmt.Errorf("open archived file: %w", oerr)
		}
		defer fh.Close()
		rd, err = report.NewCSV(f.Name, n, fh, lim)
	}
	if err != nil {
		if errors.Is(err, report.ErrIncomplete) {
			return staged{status: FileIncomplete, cause: err}, nil
		}
		// A bad header, or a workbook that does not open: the file is bad.
		return staged{status: FileFailed, cause: err}, nil
	}
	defer rd.Close()
	var (
		res        staged
		incomplete error
		tooLarge   error
	)
	err = st.CopyLines(ctx, conn, id, func(add func(report.Line) error) error {
		for {
			l, err := rd.Next()
			if err == nil {
				res.lines++
				if l.SettlementTime.After(res.lastSettled) {
					res.lastSettled = l.SettlementTime
				}
				if res.bad == 0 {
					if err := add(l); err != nil {
						return err
					}
				}
				continue
			}
			var le *report.LineError
			switch {
			case errors.As(err, &le):
				res.bad++
				if len(res.errs) < maxLineErrors {
					res.errs = append(res.errs, le)
				}
				continue
			case errors.Is(err, report.ErrIncomplete):
				incomplete = err
			case errors.Is(err, report.ErrTooLarge):
				tooLarge = err
			case !errors.Is(err, io.EOF):
				return fmt.Errorf("read %s: %w", f.Name, err)
			}
			return nil
		}
	})
	if err != nil {
		return staged{}, err
	}
	switch {
	case tooLarge != nil:
		res.status, res.cause = FileFailed, tooLarge
	case res.bad > 0:
		res.status = FileFailed
	case incomplete != nil:
		res.status, res.cause = FileIncomplete, incomplete
	default:
		res.status = FileIngested
	}
	return res, nil
}

// inConnTx runs fn in a transaction on a connection of its own, committing
// when fn returns nil and rolling back otherwise.
func inConnTx(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Conn, *sqlx.Tx) error) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(conn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ScanResult says what a directory scan did.
type ScanResult struct {
	Seen       int      // APO report files found
	Ingested   []File   // new content, whatever its status
	Duplicates int      // content that had arrived before (under any name)
	Unchanged  int      // same path, size and modification time as a file read before: not read again
	Ignored    []string // files whose names are not APO report names
}

// ScanDir ingests the report files under dir (laid out
// <customerId>/<yyyyMMdd>/<file>, or flat). Hidden files and directories
// (a leading '.': partial uploads, the archive) are skipped, and so is a
// file whose path, size and modification time match one read before.
// A file that cannot be read is reported in the joined error and the scan
// goes on.
func (s *Service) ScanDir(ctx context.Context, dir string) (ScanResult, error) {
	var (
		res  ScanResult
		errs []error
	)
	archive, _ := filepath.Abs(s.cfg.ArchiveDir)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if abs, _ := filepath.Abs(p); abs == archive {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, err := report.ParseName(d.Name()); err != nil {
			res.Ignored = append(res.Ignored, p)
			return nil
		}
		res.Seen++
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		mtime := info.ModTime().UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
		seen, err := NewStore(s.db).SeenSource(ctx, rel, info.Size(), mtime)
		if err != nil {
			return err
		}
		if seen {
			res.Unchanged++
			return nil
		}
		fh, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		f, err := s.ingest(ctx, arrival{path: rel, origin: OriginDir, source: rel, mtime: &mtime}, fh)
		_ = fh.Close()
		var pe *ParseError
		switch {
		case err == nil && f.Duplicate:
			res.Duplicates++
		case err == nil || errors.As(err, &pe):
			res.Ingested = append(res.Ingested, f)
		default:
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return res, errors.Join(errs...)
}
