package bank

import (
	"bytes"
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
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
)

// Ingest archives one statement file arriving as r (an upload) under its
// SHA-256 and stores its statements and their entries. name is the file's
// name as it arrived.
//
// The same content arriving again is a no-op: the answer is the file's
// statements as first stored, with Duplicate set. The layout is read from
// the content: XML is camt.053, SWIFT blocks or a :20: field MT940, anything
// else CSV, read with the mapping of the configured account it turns out to
// be of. Each statement must be of a configured account (by its IBAN, else
// its number), in the account's currency, and not stored before from
// another file. A file that breaks any of this, or has a single bad line,
// is refused whole with a *RefusedError naming the lines: nothing of it is
// stored, and it is not archived. Once stored, statement.Check runs over
// the new statements and their stored neighbours, and its findings are
// stored with them, in the same transaction.
func (s *Service) Ingest(ctx context.Context, name string, r io.Reader) (File, error) {
	return s.ingest(ctx, arrival{name: name, source: SourceUpload}, r)
}

// arrival is where a file came from.
type arrival struct {
	name   string
	source Source
	path   string     // a scanned file's path under its directory
	mtime  *time.Time // and its modification time there
}

// parsed is a statement read from a file, with the account it is of.
type parsed struct {
	statement.Statement
	account Account
}

func (s *Service) ingest(ctx context.Context, a arrival, r io.Reader) (File, error) {
	start := time.Now()
	base := path.Base(filepath.ToSlash(a.name))
	if base == "." || base == ".." || base == "/" || len(base) > 255 || !text(base) {
		return File{}, &InvalidError{Field: "name", Reason: "want a file name of 1 to 255 bytes of text"}
	}
	k, err := s.archive(r, base)
	if err != nil {
		return File{}, err
	}
	defer os.Remove(k.tmp) // a no-op once renamed into place
	f := File{Name: base, SHA256: hex.EncodeToString(k.sum), Size: k.size, Source: a.source}
	if f.Statements, err = s.fileStatements(ctx, k.sum); err != nil {
		return File{}, err
	}
	if len(f.Statements) > 0 {
		f.Duplicate, f.Format = true, f.Statements[0].Format
		return f, nil
	}
	var stmts []parsed
	if f.Format, stmts, err = s.read(ctx, base, k.tmp); err != nil {
		return File{}, err
	}
	lost, err := s.store(ctx, a, f, k, stmts)
	if err != nil {
		return File{}, err
	}
	// lost: the same content arriving at the same time committed first.
	f.Duplicate = lost
	if f.Statements, err = s.fileStatements(ctx, k.sum); err != nil {
		return File{}, err
	}
	if !lost {
		s.ingested(ctx, f, time.Since(start))
	}
	return f, nil
}

// ingested logs a stored file and gives memory back after a large one.
func (s *Service) ingested(ctx context.Context, f File, took time.Duration) {
	var entries, findings int
	for _, st := range f.Statements {
		entries += st.Entries
		findings += len(st.Findings)
	}
	s.log.InfoContext(ctx, "bank statement file ingested", "file", f.Name, "sha256", f.SHA256, "format", f.Format,
		"source", f.Source, "statements", len(f.Statements), "entries", entries, "findings", findings,
		"bytes", f.Size, "duration_ms", took.Milliseconds())
	if f.Size > freeAfter {
		// A large file's parse grew the heap; hand the memory back to the
		// system now rather than hold it until the runtime does.
		debug.FreeOSMemory()
	}
}

// freeAfter is the file size past which ingest returns freed memory to the
// system at once.
const freeAfter = 16 << 20

// fileStatements returns the statements stored from the file of this
// SHA-256, with their findings; none when it was not ingested.
func (s *Service) fileStatements(ctx context.Context, sum []byte) ([]Statement, error) {
	st := NewStore(s.db)
	stmts, err := st.StatementsOfFile(ctx, sum)
	if err != nil || len(stmts) == 0 {
		return nil, err
	}
	ids := make([]int64, len(stmts))
	for i, x := range stmts {
		ids[i] = x.ID
	}
	fs, err := st.Findings(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range stmts {
		stmts[i].Findings = fs[stmts[i].ID]
	}
	return stmts, nil
}

// kept is a file copied into the archive directory under a temporary name.
type kept struct {
	tmp  string
	sum  []byte
	size int64
}

// archive copies r into a temporary file of the archive directory, hashing
// it on the way, and refuses it as soon as it holds more than
// Limits.MaxBytes.
func (s *Service) archive(r io.Reader, name string) (kept, error) {
	if err := os.MkdirAll(s.cfg.ArchiveDir, 0o750); err != nil {
		return kept{}, fmt.Errorf("archive dir: %w", err)
	}
	tmp, err := os.CreateTemp(s.cfg.ArchiveDir, ".arriving-*")
	if err != nil {
		return kept{}, fmt.Errorf("archive: %w", err)
	}
	h := sha256.New()
	max := s.cfg.Limits.MaxBytes
	size, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("archive %s: %w", name, err)
	case size > max:
		err = &RefusedError{File: name, Reason: fmt.Sprintf("larger than %d bytes", max), Err: statement.ErrTooLarge}
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return kept{}, err
	}
	return kept{tmp: tmp.Name(), sum: h.Sum(nil), size: size}, nil
}

// archivePath is where a file of this content is kept: by its SHA-256,
// with its name for people, under a directory of the hash's first byte.
func (s *Service) archivePath(sum []byte, name string) string {
	h := hex.EncodeToString(sum)
	return filepath.Join(s.cfg.ArchiveDir, h[:2], h+"_"+name)
}

// read tells a file's layout from its first bytes and reads its
// statements with their accounts.
func (s *Service) read(ctx context.Context, name, file string) (statement.Format, []parsed, error) {
	fh, err := os.Open(file)
	if err != nil {
		return "", nil, fmt.Errorf("open archived file: %w", err)
	}
	defer fh.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(fh, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", nil, fmt.Errorf("read archived file: %w", err)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return "", nil, fmt.Errorf("read archived file: %w", err)
	}
	var stmts []statement.Statement
	switch format := sniff(head[:n]); format {
	case statement.Camt053:
		stmts, err = statement.ParseCamt053(name, fh, s.cfg.Limits)
	case statement.MT940:
		stmts, err = statement.ParseMT940(name, fh, s.cfg.Limits)
	default:
		out, err := s.readCSV(ctx, name, file)
		return statement.CSV, out, err
	}
	if err := refusal(name, err); err != nil {
		return "", nil, err
	}
	out, err := s.resolve(ctx, name, stmts)
	if err != nil {
		return "", nil, err
	}
	return out[0].Format, out, nil
}

// sniff tells the layout from the start of a file: XML is camt.053; SWIFT
// blocks, or a :20: field at a line start, MT940; anything else CSV.
func sniff(head []byte) statement.Format {
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte("<")):
		return statement.Camt053
	case bytes.HasPrefix(t, []byte("{1:")), bytes.HasPrefix(t, []byte(":20:")), bytes.Contains(t, []byte("\n:20:")):
		return statement.MT940
	}
	return statement.CSV
}

// refusal turns a parser's answer into a *RefusedError: bad lines, or the
// file not being readable at all. Other errors (the reader's) pass.
func refusal(name string, err error) error {
	var (
		lines *statement.LineErrors
		fatal *statement.LineError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lines):
		n := len(lines.Errs) + lines.Omitted
		return &RefusedError{File: name, Reason: fmt.Sprintf("%d bad line(s): nothing of the file was stored", n),
			Lines: lines.Errs, Omitted: lines.Omitted}
	case errors.As(err, &fatal) && fatal.Err != nil:
		return &RefusedError{File: name, Reason: fatal.Err.Error(), Lines: []*statement.LineError{fatal}, Err: fatal.Err}
	}
	return err
}

// readCSV reads a file that is neither camt.053 nor MT940 with the CSV
// mapping of each account that has one, until one reads it as a file of
// its own account. A bank's export rarely names its layout, and an
// account's mapping (which must name the account or its column) is what
// says the file is that account's.
func (s *Service) readCSV(ctx context.Context, name, file string) ([]parsed, error) {
	accounts, err := s.mappedAccounts(ctx)
	if err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, &RefusedError{File: name, Err: statement.ErrFormat,
			Reason: "neither camt.053 nor MT940, and no bank account has a CSV mapping to read it with"}
	}
	var (
		tried   []string
		foreign bool
	)
	for _, a := range accounts {
		stmts, err := parseCSV(name, file, a.CSVMapping, s.cfg.Limits)
		var lines *statement.LineErrors
		switch {
		case errors.Is(err, statement.ErrTooLarge):
			return nil, refusal(name, err)
		case err != nil && !errors.As(err, &lines):
			tried = append(tried, fmt.Sprintf("bank account %d's mapping: %v", a.ID, err))
			continue
		case !a.holds(stmts[0].Account):
			foreign = true
			tried = append(tried, fmt.Sprintf("bank account %d's mapping reads it as account %q", a.ID, stmts[0].Account.String()))
			continue
		}
		if err := refusal(name, err); err != nil {
			return nil, err
		}
		return s.resolve(ctx, name, stmts)
	}
	refused := &RefusedError{File: name, Err: statement.ErrFormat,
		Reason: "no bank account's CSV mapping reads it as that account's statement (" + strings.Join(tried, "; ") + ")"}
	if foreign {
		refused.Err = ErrUnknownAccount
	}
	return nil, refused
}

// mappedAccounts returns every account with a CSV mapping.
func (s *Service) mappedAccounts(ctx context.Context) ([]Account, error) {
	st := NewStore(s.db)
	var out []Account
	for cursor := ""; ; {
		page, err := st.Accounts(ctx, cursor, 200, true)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if cursor = page.Next; cursor == "" {
			return out, nil
		}
	}
}

// parseCSV reads an archived file with a stored mapping.
func parseCSV(name, file string, mapping []byte, lim statement.Limits) ([]statement.Statement, error) {
	m, err := statement.ParseMapping(bytes.NewReader(mapping))
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open archived file: %w", err)
	}
	defer fh.Close()
	return statement.ParseCSV(name, fh, m, lim)
}

// resolve finds each statement's account and checks that the statement
// can be stored as that account's.
func (s *Service) resolve(ctx context.Context, name string, stmts []statement.Statement) ([]parsed, error) {
	if len(stmts) == 0 {
		return nil, &RefusedError{File: name, Reason: "the file holds no statement", Err: statement.ErrFormat}
	}
	st := NewStore(s.db)
	accounts := map[statement.Account]Account{}
	seen := map[string]statement.Statement{}
	out := make([]parsed, len(stmts))
	for i, x := range stmts {
		a, ok := accounts[x.Account]
		if !ok {
			var err error
			if a, err = st.AccountFor(ctx, x.Account); errors.Is(err, ErrNotFound) {
				return nil, refuse(name, x, ErrUnknownAccount, fmt.Sprintf("no bank account is configured for %s (statement %q)",
					describe(x.Account), x.ID))
			} else if err != nil {
				return nil, err
			}
			accounts[x.Account] = a
		}
		if err := checkStatement(name, &x, a); err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%d\x00%s\x00%s\x00%s", a.ID, x.ID, x.Sequence, x.FromDate.Format(time.DateOnly))
		if first, dup := seen[key]; dup {
			return nil, refuse(name, x, ErrDuplicateStatement,
				fmt.Sprintf("statement %s is in the file twice (first at line %d)", describeStatement(x), first.Line))
		}
		seen[key] = x
		out[i] = parsed{Statement: x, account: a}
	}
	return out, nil
}

// maxStatementID bounds a statement's id and sequence, which identify it
// in a unique index: camt.053 allows 35 characters, MT940 16, and a CSV
// statement's id is its file name.
const maxStatementID = 255

// checkStatement checks that a statement can be stored as a's: in its
// currency (a statement without amounts takes it), with a period, an id
// that fits, and all text. A CSV mapping in UTF-8 passes a file's bytes on
// as they are.
func checkStatement(name string, x *statement.Statement, a Account) error {
	if x.Currency == "" {
		x.Currency = a.Currency
	}
	switch {
	case len(x.ID) > maxStatementID || len(x.Sequence) > maxStatementID:
		return refuse(name, *x, nil, fmt.Sprintf("the statement's id or sequence is longer than %d bytes", maxStatementID))
	case x.Currency != a.Currency:
		return refuse(name, *x, nil, fmt.Sprintf("statement %s is in %s, but bank account %d (%s) is in %s",
			describeStatement(*x), x.Currency, a.ID, describe(x.Account), a.Currency))
	case x.FromDate.IsZero():
		return refuse(name, *x, nil, fmt.Sprintf("statement %s has no date: no period, balance or booking date",
			describeStatement(*x)))
	case x.ToDate.Before(x.FromDate):
		return refuse(name, *x, nil, fmt.Sprintf("statement %s ends before it starts (%s)", describeStatement(*x),
			x.ToDate.Format(time.DateOnly)))
	}
	if line, reason := badValue(*x); line > 0 {
		le := &statement.LineError{File: name, Line: line, Reason: reason}
		return &RefusedError{File: name, Reason: "1 bad line(s): nothing of the file was stored", Lines: []*statement.LineError{le}}
	}
	return nil
}

// badValue returns the line of the first value of x that cannot be stored
// as it is, and why, or 0: text that is not text, or an entry in another
// currency than its statement (a camt.053 account that names no currency
// leaves that unchecked).
func badValue(x statement.Statement) (int, string) {
	const notText = "a value is not text (not UTF-8, or a NUL byte)"
	if !text(x.ID) || !text(x.Sequence) {
		return x.Line, notText
	}
	for _, e := range x.Entries {
		if e.Amount.Currency != x.Currency {
			return e.Line, fmt.Sprintf("entry in %s on a %s statement", e.Amount.Currency, x.Currency)
		}
		if !text(e.Status) || !refsText(e.Refs) {
			return e.Line, notText
		}
		for _, t := range e.Transactions {
			if !refsText(t.Refs) {
				return t.Line, notText
			}
		}
	}
	return 0, ""
}

func refsText(r statement.Refs) bool {
	for _, v := range []string{r.EndToEndID, r.AccountServicerRef, r.Reference, r.RemittanceInfo, r.CreditorRef,
		r.CounterpartyName, r.CounterpartyAccount, r.BankTxCode, r.Info} {
		if !text(v) {
			return false
		}
	}
	return true
}

// refuse is the refusal of a file because of one of its statements,
// placed at the statement's first line.
func refuse(name string, x statement.Statement, sentinel error, reason string) *RefusedError {
	return &RefusedError{File: name, Reason: reason, Err: sentinel,
		Lines: []*statement.LineError{{File: name, Line: x.Line, Reason: reason}}}
}

// describe names an account identification for people.
func describe(id statement.Account) string {
	if id.IBAN != "" {
		return "IBAN " + id.IBAN
	}
	return fmt.Sprintf("account %q", id.Number)
}

func describeStatement(x statement.Statement) string {
	s := fmt.Sprintf("%q", x.ID)
	if x.Sequence != "" {
		s += fmt.Sprintf(" (sequence %s)", x.Sequence)
	}
	return s + " of " + x.FromDate.Format(time.DateOnly)
}

// store writes the statements, their entries and findings in one
// transaction, and moves the archived file into place before it commits:
// a commit that fails after leaves a file in the archive that a second
// arrival of it puts there again, never a stored statement without its
// file. lost means the same content committed first; nothing was written.
func (s *Service) store(ctx context.Context, a arrival, f File, k kept, stmts []parsed) (lost bool, err error) {
	ids := make([]int64, 0, len(stmts))
	for _, p := range stmts {
		if !slices.Contains(ids, p.account.ID) {
			ids = append(ids, p.account.ID)
		}
	}
	slices.Sort(ids)
	err = inConnTx(ctx, s.db, func(conn *sqlx.Conn, tx *sqlx.Tx) error {
		st := NewStore(tx)
		if err := st.LockAccounts(ctx, ids); err != nil {
			return err
		}
		// Under the locks, so a statement stored meanwhile is seen: the
		// same content may have arrived again while this one was parsed.
		if earlier, err := st.StatementsOfFile(ctx, k.sum); err != nil || len(earlier) > 0 {
			lost = err == nil
			return err
		}
		now := s.now().UTC()
		rows := make([]stored, len(stmts))
		for i, p := range stmts {
			if err := storedBefore(ctx, st, f.Name, p); err != nil {
				return err
			}
			x := Statement{AccountID: p.account.ID, Format: p.Format, StatementID: p.ID, Sequence: p.Sequence,
				FromDate: p.FromDate, ToDate: p.ToDate, Currency: p.Currency, Opening: p.OpeningBalance,
				Closing: p.ClosingBalance, BankCreatedAt: p.CreatedAt, Entries: len(p.Entries), Line: p.Line,
				File: FileRef{Name: f.Name, Size: f.Size, Source: a.source, SourcePath: a.path}, Status: StatusOK,
				CreatedAt: now}
			id, err := st.CreateStatement(ctx, x, k.sum, a.mtime)
			if err != nil {
				return err
			}
			rows[i] = stored{id: id, accountID: p.account.ID, entries: p.Entries}
		}
		if err := st.CopyEntries(ctx, conn, rows); err != nil {
			return err
		}
		if err := s.check(ctx, st, stmts, rows, now); err != nil {
			return err
		}
		final := s.archivePath(k.sum, f.Name)
		if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
			return fmt.Errorf("archive %s: %w", f.Name, err)
		}
		if err := os.Rename(k.tmp, final); err != nil {
			return fmt.Errorf("archive %s: %w", f.Name, err)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return lost, nil
}

// storedBefore refuses a statement stored before from another file.
func storedBefore(ctx context.Context, st *Store, name string, p parsed) error {
	prev, err := st.StatementByKey(ctx, p.account.ID, p.ID, p.Sequence, p.FromDate)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return refuse(name, p.Statement, ErrDuplicateStatement, fmt.Sprintf(
		"statement %s of %s was ingested before from %s (bank statement %d): a statement is ingested once",
		describeStatement(p.Statement), describe(p.Account), prev.File.Name, prev.ID))
}

// inConnTx runs fn in a transaction on a connection of its own, so that
// COPY can reach the driver connection of the transaction; it commits when
// fn returns nil and rolls back otherwise.
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
	Seen       int             // regular, visible files found
	Ingested   []File          // new content, stored
	Duplicates int             // content that had arrived before (under any name)
	Unchanged  int             // same path, size and modification time as a file stored before: not read again
	Refused    []*RefusedError // files refused whole; read again by the next scan until fixed or removed
}

// ScanDir ingests the statement files under dir, as a bank's file
// transfer or a mount drops them. Hidden files and directories (a leading
// '.': partial transfers) and the archive are skipped, and so is a file
// whose path, size and modification time match one stored before. A
// refused file is listed in the result and the scan goes on; a file that
// cannot be read is reported in the joined error.
func (s *Service) ScanDir(ctx context.Context, dir string) (ScanResult, error) {
	var (
		res  ScanResult
		errs []error
	)
	archive, _ := filepath.Abs(s.cfg.ArchiveDir)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			errs = append(errs, err)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case p != dir && strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir():
			if abs, _ := filepath.Abs(p); abs == archive {
				return filepath.SkipDir
			}
			return nil
		case !d.Type().IsRegular():
			return nil
		}
		res.Seen++
		if err := s.scanFile(ctx, dir, p, d, &res); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return res, errors.Join(errs...)
}

// scanFile ingests one file a scan found, unless it was stored before as
// it is.
func (s *Service) scanFile(ctx context.Context, dir, p string, d fs.DirEntry, res *ScanResult) error {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	info, err := d.Info()
	if err != nil {
		return err
	}
	mtime := info.ModTime().UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	return s.take(ctx, arrival{name: rel, source: SourceDir, path: rel, mtime: &mtime}, info.Size(),
		func() (io.ReadCloser, error) { return os.Open(p) }, res)
}

// take ingests a file found by a scan or a pull, unless one with the same
// source path, size and modification time was stored before, and counts
// it in res: a refused file is listed there, not returned as an error.
func (s *Service) take(ctx context.Context, a arrival, size int64, open func() (io.ReadCloser, error), res *ScanResult) error {
	if seen, err := NewStore(s.db).SeenSource(ctx, a.path, size, *a.mtime); err != nil || seen {
		if seen {
			res.Unchanged++
		}
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := s.ingest(ctx, a, rc)
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		res.Refused = append(res.Refused, refused)
	case err != nil:
		return err
	case f.Duplicate:
		res.Duplicates++
	default:
		res.Ingested = append(res.Ingested, f)
	}
	return nil
}
