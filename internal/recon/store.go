package recon

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon/report"
)

// Store holds the SQL for the recon tables (this file: files, lines, runs,
// discrepancies, exports; store_match.go: a run's matching). Its handle is a
// *sqlx.DB or a *sqlx.Tx.
type Store struct{ db sqlx.ExtContext }

// NewStore returns a store over db.
func NewStore(db sqlx.ExtContext) *Store { return &Store{db: db} }

// ---- report files ----

const fileColumns = `id, name, kind, format, customer_id, report_date, batch_id, settlement_currency, seq, sha256,
	size_bytes, archive_path, origin, source_path, status, error, line_count, bad_line_count, received_at`

type fileRow struct {
	ID                 int64      `db:"id"`
	Name               string     `db:"name"`
	Kind               string     `db:"kind"`
	Format             string     `db:"format"`
	CustomerID         string     `db:"customer_id"`
	ReportDate         *time.Time `db:"report_date"`
	BatchID            string     `db:"batch_id"`
	SettlementCurrency string     `db:"settlement_currency"`
	Seq                int        `db:"seq"`
	SHA256             []byte     `db:"sha256"`
	Size               int64      `db:"size_bytes"`
	ArchivePath        string     `db:"archive_path"`
	Origin             string     `db:"origin"`
	SourcePath         string     `db:"source_path"`
	SourceMtime        *time.Time `db:"source_mtime"`
	Status             string     `db:"status"`
	Error              string     `db:"error"`
	Lines              int        `db:"line_count"`
	BadLines           int        `db:"bad_line_count"`
	ReceivedAt         time.Time  `db:"received_at"`
}

func (r fileRow) file() File {
	f := File{ID: r.ID, Name: r.Name, Kind: report.Kind(r.Kind), Format: report.Format(r.Format),
		CustomerID: r.CustomerID, BatchID: r.BatchID, SettlementCurrency: r.SettlementCurrency, Seq: r.Seq,
		SHA256: hex.EncodeToString(r.SHA256), Size: r.Size, ArchivePath: r.ArchivePath, Origin: Origin(r.Origin),
		SourcePath: r.SourcePath, Status: FileStatus(r.Status), Error: r.Error, Lines: r.Lines,
		BadLines: r.BadLines, ReceivedAt: r.ReceivedAt.UTC()}
	if r.ReportDate != nil {
		f.ReportDate = day(*r.ReportDate)
	}
	return f
}

// CreateFile records an arrived file. It returns false, and no id, when a
// file with the same SHA-256 exists already (a concurrent arrival of the
// same content), so the caller reads that one instead.
func (s *Store) CreateFile(ctx context.Context, f File, mtime *time.Time) (int64, bool, error) {
	const q = `
		INSERT INTO report_files (name, kind, format, customer_id, report_date, batch_id, settlement_currency, seq,
			sha256, size_bytes, archive_path, origin, source_path, source_mtime, status, error, line_count,
			bad_line_count, received_at)
		VALUES (:name, :kind, :format, :customer_id, :report_date, :batch_id, :settlement_currency, :seq,
			:sha256, :size_bytes, :archive_path, :origin, :source_path, :source_mtime, :status, :error, :line_count,
			:bad_line_count, :received_at)
		ON CONFLICT (sha256, name) DO NOTHING
		RETURNING id`
	sum, err := hex.DecodeString(f.SHA256)
	if err != nil {
		return 0, false, fmt.Errorf("file %s: sha256 %q: %w", f.Name, f.SHA256, err)
	}
	r := fileRow{Name: f.Name, Kind: string(f.Kind), Format: string(f.Format), CustomerID: f.CustomerID,
		BatchID: f.BatchID, SettlementCurrency: f.SettlementCurrency, Seq: f.Seq, SHA256: sum, Size: f.Size,
		ArchivePath: f.ArchivePath, Origin: string(f.Origin), SourcePath: f.SourcePath, SourceMtime: mtime,
		Status: string(f.Status), Error: f.Error, Lines: f.Lines, BadLines: f.BadLines, ReceivedAt: f.ReceivedAt}
	if !f.ReportDate.IsZero() {
		d := f.ReportDate
		r.ReportDate = &d
	}
	// Arrivals of one content take turns, so that the rule of
	// FileByContent holds between two names arriving at once.
	if _, err := s.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('payops.report.' || $1))`, f.SHA256); err != nil {
		return 0, false, fmt.Errorf("lock report content: %w", err)
	}
	if _, err := s.FileByContent(ctx, sum, f.Name); err == nil {
		return 0, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, false, err
	}
	rows, err := sqlx.NamedQueryContext(ctx, s.db, q, r)
	if err != nil {
		return 0, false, fmt.Errorf("insert report file %s: %w", f.Name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	var id int64
	if err := rows.Scan(&id); err != nil {
		return 0, false, fmt.Errorf("insert report file %s: %w", f.Name, err)
	}
	return id, true, rows.Close()
}

// FinishFile writes the outcome of reading a file.
func (s *Store) FinishFile(ctx context.Context, f File, parse time.Duration) error {
	const q = `UPDATE report_files SET status = $2, error = $3, line_count = $4, bad_line_count = $5,
		report_date = $6, parse_ms = $7 WHERE id = $1`
	var d *time.Time
	if !f.ReportDate.IsZero() {
		d = &f.ReportDate
	}
	if _, err := s.db.ExecContext(ctx, q, f.ID, string(f.Status), f.Error, f.Lines, f.BadLines, d,
		parse.Milliseconds()); err != nil {
		return fmt.Errorf("finish report file %d: %w", f.ID, err)
	}
	return nil
}

// FileByContent returns the earlier file that content sum arriving as name
// repeats: the same bytes under the same name, or under any name when they
// hold lines (a report sent again, renamed). Only a report without lines —
// header and trailer, byte-identical from one quiet day to the next — is
// told apart by its name, which carries its day: were it kept once, the
// other days would have no report and their transactions no check.
func (s *Store) FileByContent(ctx context.Context, sum []byte, name string) (File, error) {
	return s.fileBy(ctx, "sha256 = $1 AND (name = $2 OR line_count > 0 OR bad_line_count > 0) ORDER BY id LIMIT 1", sum, name)
}

func (s *Store) fileBy(ctx context.Context, where string, args ...any) (File, error) {
	var r fileRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+fileColumns+` FROM report_files WHERE `+where, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return File{}, ErrNotFound
		}
		return File{}, fmt.Errorf("get report file: %w", err)
	}
	return r.file(), nil
}

// AnalyzeLines refreshes the planner's statistics of report_lines. A
// million fresh rows without statistics make the planner pick per-line
// index lookups over the hash joins a run needs; ANALYZE samples a fixed
// number of rows, so it costs the same however large the table grows.
func (s *Store) AnalyzeLines(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `ANALYZE report_lines`); err != nil {
		return fmt.Errorf("analyze report lines: %w", err)
	}
	return nil
}

// SeenSource reports whether a file at this path under the reports
// directory, with this size and modification time, was read before; the
// directory scan then skips it without hashing it again.
func (s *Store) SeenSource(ctx context.Context, path string, size int64, mtime time.Time) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM report_files WHERE source_path = $1 AND size_bytes = $2 AND source_mtime = $3)`
	var ok bool
	if err := sqlx.GetContext(ctx, s.db, &ok, q, path, size, mtime); err != nil {
		return false, fmt.Errorf("check source %s: %w", path, err)
	}
	return ok, nil
}

// copyLines is the COPY statement lib/pq recognises (the form its deprecated
// pq.CopyIn helper builds); spelling it here keeps lib/pq's import inside
// internal/postgres.
const copyLines = `COPY report_lines (file_id, line_no, settlement_batch_id, customer_id, acquirer, transaction_type,
	transaction_id, original_transaction_id, transaction_request_id, original_transaction_request_id, payment_time,
	settlement_time, transaction_amount_minor, transaction_currency, settlement_amount_minor, settlement_currency,
	fee_amount_minor, fee_currency, quote_currency_pair, quote_price, summary_type, count, status, card_brand, extra)
	FROM STDIN`

// CopyLines stages a file's lines with COPY. conn must be the connection of
// the store's transaction. produce is called once and calls add per line.
func (s *Store) CopyLines(ctx context.Context, conn postgres.RawConn, fileID int64, produce func(add func(report.Line) error) error) error {
	err := postgres.CopyIn(ctx, conn, copyLines, func(add func([]byte) error) error {
		var buf []byte
		return produce(func(l report.Line) error {
			buf = appendCopyRow(buf[:0], fileID, l)
			return add(buf)
		})
	})
	if err != nil {
		return fmt.Errorf("copy report lines: %w", err)
	}
	return nil
}

// appendCopyRow encodes one line as a row of COPY's text format.
func appendCopyRow(b []byte, fileID int64, l report.Line) []byte {
	b = strconv.AppendInt(b, fileID, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(l.No), 10)
	for _, v := range []string{l.SettlementBatchID, l.CustomerID, l.Acquirer, l.TransactionType, l.TransactionID,
		l.OriginalTransactionID, l.TransactionRequestID, l.OriginalTransactionRequestID} {
		b = postgres.AppendCopyText(append(b, '\t'), v)
	}
	b = postgres.AppendCopyTime(append(b, '\t'), l.PaymentTime)
	b = postgres.AppendCopyTime(append(b, '\t'), l.SettlementTime)
	for _, a := range []report.Amount{l.TransactionAmount, l.SettlementAmount, l.FeeAmount} {
		b = append(b, '\t')
		if a.Valid {
			b = strconv.AppendInt(b, a.Minor, 10)
		} else {
			b = append(b, postgres.CopyNull...)
		}
		b = postgres.AppendCopyText(append(b, '\t'), a.Currency)
	}
	b = postgres.AppendCopyText(append(b, '\t'), l.QuoteCurrencyPair)
	b = append(b, '\t')
	if l.QuotePrice == "" {
		b = append(b, postgres.CopyNull...)
	} else {
		b = append(b, l.QuotePrice...) // digits and a point, validated by the parser
	}
	b = postgres.AppendCopyText(append(b, '\t'), l.SummaryType)
	b = append(b, '\t')
	if l.HasCount {
		b = strconv.AppendInt(b, l.Count, 10)
	} else {
		b = append(b, postgres.CopyNull...)
	}
	b = postgres.AppendCopyText(append(b, '\t'), l.Status)
	b = postgres.AppendCopyText(append(b, '\t'), l.CardBrand)
	b = append(b, '\t')
	if len(l.Extra) == 0 {
		return append(b, postgres.CopyNull...)
	}
	var js []byte
	js = append(js, '{')
	for i, f := range l.Extra {
		if i > 0 {
			js = append(js, ',')
		}
		js = appendJSONString(js, f.Name)
		js = append(js, ':')
		js = appendJSONString(js, f.Value)
	}
	js = append(js, '}')
	return postgres.AppendCopyText(b, string(js))
}

// appendJSONString writes s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c) // the parser passes valid UTF-8 only
		}
	}
	return append(b, '"')
}

// ---- runs ----

const runColumns = `id, period, request, inputs, status, phase, progress, counts,
	totals, batches, diff, timings, actor, error, created_at, started_at, finished_at`

type runRow struct {
	ID         int64      `db:"id"`
	Period     time.Time  `db:"period"`
	Request    []byte     `db:"request"`
	Inputs     []byte     `db:"inputs"`
	Status     string     `db:"status"`
	Phase      string     `db:"phase"`
	Progress   int        `db:"progress"`
	Counts     []byte     `db:"counts"`
	Totals     []byte     `db:"totals"`
	Batches    []byte     `db:"batches"`
	Diff       []byte     `db:"diff"`
	Timings    []byte     `db:"timings"`
	Actor      string     `db:"actor"`
	Error      string     `db:"error"`
	CreatedAt  time.Time  `db:"created_at"`
	StartedAt  *time.Time `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

// JSON shapes of the run's jsonb columns. The domain types carry no tags;
// these mirror them for storage.
type (
	requestJSON struct {
		Date    string  `json:"date,omitempty"`
		FileIDs []int64 `json:"file_ids,omitempty"`
	}
	inputJSON struct {
		FileID     int64  `json:"file_id"`
		Name       string `json:"name"`
		Kind       string `json:"kind"`
		SHA256     string `json:"sha256"`
		Lines      int    `json:"lines"`
		ReportDate string `json:"report_date,omitempty"`
	}
	countsJSON struct {
		Lines           map[string]int64 `json:"lines"`
		LinesByType     map[string]int64 `json:"lines_by_type"`
		Matched         int64            `json:"matched"`
		RollForwardOnly int64            `json:"roll_forward_only"`
		LedgerChecked   int64            `json:"ledger_checked"`
		Expected        int64            `json:"expected"`
		Discrepancies   map[string]int64 `json:"discrepancies"`
		Payouts         *payoutsJSON     `json:"payouts,omitempty"` // absent in runs without a payout check
	}
	payoutsJSON struct {
		Expected          int64 `json:"expected"`
		Matched           int64 `json:"matched"`
		AwaitingStatement int64 `json:"awaiting_statement"`
		Judged            int64 `json:"judged"`
	}
	totalJSON struct {
		Kind        string `json:"kind"`
		Currency    string `json:"currency"`
		Count       int64  `json:"count"`
		ReportMinor int64  `json:"report_minor"`
		OurMinor    int64  `json:"our_minor"`
		Saturated   bool   `json:"saturated,omitempty"`
	}
	batchJSON struct {
		BatchID      string `json:"batch_id"`
		Currency     string `json:"currency"`
		Items        int64  `json:"items"`
		Captures     int64  `json:"captures"`
		Refunds      int64  `json:"refunds"`
		Disputes     int64  `json:"disputes"`
		Fees         int64  `json:"fees"`
		Reserves     int64  `json:"reserves"`
		Other        int64  `json:"other"`
		Computed     int64  `json:"computed"`
		Summary      int64  `json:"summary"`
		HasSummary   bool   `json:"has_summary"`
		SummaryCount int64  `json:"summary_count"`
		Residual     int64  `json:"residual"`
		Convention   string `json:"convention,omitempty"`
		Saturated    bool   `json:"saturated,omitempty"`
	}
	diffJSON struct {
		PreviousRunID int64 `json:"previous_run_id,omitempty"`
		New           int64 `json:"new"`
		Changed       int64 `json:"changed"`
		Same          int64 `json:"same"`
		Healed        int64 `json:"healed"`
	}
	timingsJSON struct {
		StageMS   int64 `json:"stage_ms"`
		MatchMS   int64 `json:"match_ms"`
		LedgerMS  int64 `json:"ledger_ms"`
		BatchesMS int64 `json:"batches_ms"`
		DiffMS    int64 `json:"diff_ms"`
		TotalMS   int64 `json:"total_ms"`
	}
)

func (r runRow) run() (Run, error) {
	run := Run{ID: r.ID, Period: day(r.Period), Status: RunStatus(r.Status), Phase: r.Phase, Progress: r.Progress,
		Actor: r.Actor, Error: r.Error, CreatedAt: r.CreatedAt.UTC(), StartedAt: postgres.UTC(r.StartedAt),
		FinishedAt: postgres.UTC(r.FinishedAt)}
	var req requestJSON
	if err := json.Unmarshal(r.Request, &req); err != nil {
		return Run{}, fmt.Errorf("run %d request: %w", r.ID, err)
	}
	run.Request.FileIDs = req.FileIDs
	if req.Date != "" {
		run.Request.Date, _ = time.Parse(time.DateOnly, req.Date)
	}
	var inputs []inputJSON
	if err := json.Unmarshal(r.Inputs, &inputs); err != nil {
		return Run{}, fmt.Errorf("run %d inputs: %w", r.ID, err)
	}
	for _, in := range inputs {
		i := Input{FileID: in.FileID, Name: in.Name, Kind: report.Kind(in.Kind), SHA256: in.SHA256, Lines: in.Lines}
		if in.ReportDate != "" {
			i.ReportDate, _ = time.Parse(time.DateOnly, in.ReportDate)
		}
		run.Inputs = append(run.Inputs, i)
	}
	if len(r.Counts) > 0 {
		var c countsJSON
		if err := json.Unmarshal(r.Counts, &c); err != nil {
			return Run{}, fmt.Errorf("run %d counts: %w", r.ID, err)
		}
		run.Counts = Counts{Lines: map[report.Kind]int64{}, LinesByType: c.LinesByType, Matched: c.Matched,
			RollForwardOnly: c.RollForwardOnly, LedgerChecked: c.LedgerChecked, Expected: c.Expected,
			Discrepancies: map[Kind]int64{}}
		if p := c.Payouts; p != nil {
			run.Counts.Payouts = PayoutCounts(*p)
		}
		for k, v := range c.Lines {
			run.Counts.Lines[report.Kind(k)] = v
		}
		for k, v := range c.Discrepancies {
			run.Counts.Discrepancies[Kind(k)] = v
		}
	}
	if len(r.Totals) > 0 {
		var ts []totalJSON
		if err := json.Unmarshal(r.Totals, &ts); err != nil {
			return Run{}, fmt.Errorf("run %d totals: %w", r.ID, err)
		}
		for _, t := range ts {
			run.Totals = append(run.Totals, Total{Kind: Kind(t.Kind), Currency: t.Currency, Count: t.Count,
				ReportMinor: t.ReportMinor, OurMinor: t.OurMinor, Saturated: t.Saturated})
		}
	}
	if len(r.Batches) > 0 {
		var bs []batchJSON
		if err := json.Unmarshal(r.Batches, &bs); err != nil {
			return Run{}, fmt.Errorf("run %d batches: %w", r.ID, err)
		}
		for _, b := range bs {
			run.Batches = append(run.Batches, Batch(b))
		}
	}
	if len(r.Diff) > 0 {
		var d diffJSON
		if err := json.Unmarshal(r.Diff, &d); err != nil {
			return Run{}, fmt.Errorf("run %d diff: %w", r.ID, err)
		}
		run.Diff = Diff(d)
	}
	if len(r.Timings) > 0 {
		var t timingsJSON
		if err := json.Unmarshal(r.Timings, &t); err != nil {
			return Run{}, fmt.Errorf("run %d timings: %w", r.ID, err)
		}
		ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
		run.Timings = Timings{Stage: ms(t.StageMS), Match: ms(t.MatchMS), Ledger: ms(t.LedgerMS),
			Batches: ms(t.BatchesMS), Diff: ms(t.DiffMS), Total: ms(t.TotalMS)}
	}
	return run, nil
}

// CreateRun records a run (QUEUED) with its inputs.
func (s *Store) CreateRun(ctx context.Context, r Run) (int64, error) {
	req := requestJSON{FileIDs: r.Request.FileIDs}
	if !r.Request.Date.IsZero() {
		req.Date = r.Request.Date.Format(time.DateOnly)
	}
	reqJSON, _ := json.Marshal(req)
	ins := make([]inputJSON, len(r.Inputs))
	ids := make([]int64, len(r.Inputs))
	for i, in := range r.Inputs {
		ins[i] = inputJSON{FileID: in.FileID, Name: in.Name, Kind: string(in.Kind), SHA256: in.SHA256, Lines: in.Lines}
		if !in.ReportDate.IsZero() {
			ins[i].ReportDate = in.ReportDate.Format(time.DateOnly)
		}
		ids[i] = in.FileID
	}
	insJSON, _ := json.Marshal(ins)
	const q = `
		INSERT INTO recon_runs (period, request, input_file_ids, inputs, status, actor, created_at)
		VALUES ($1, $2, $3::bigint[], $4, $5, $6, $7)
		RETURNING id`
	var id int64
	if err := sqlx.GetContext(ctx, s.db, &id, q, r.Period, string(reqJSON), int64Array(ids), string(insJSON), string(r.Status),
		r.Actor, r.CreatedAt); err != nil {
		return 0, fmt.Errorf("insert run: %w", err)
	}
	return id, nil
}

// Run returns a run by id.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	var r runRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+runColumns+` FROM recon_runs WHERE id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Run{}, ErrNotFound
		}
		return Run{}, fmt.Errorf("get run %d: %w", id, err)
	}
	return r.run()
}

// ListRuns returns runs newest first, keyset-paginated by id.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) (Page[Run], error) {
	var (
		where []string
		args  []any
	)
	if !f.Period.IsZero() {
		args = append(args, day(f.Period))
		where = append(where, fmt.Sprintf("period = $%d", len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.Cursor != "" {
		id, err := postgres.DecodeIDCursor(f.Cursor)
		if err != nil {
			return Page[Run]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		args = append(args, id)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q := `SELECT ` + runColumns + ` FROM recon_runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit+1)
	var rows []runRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, args...); err != nil {
		return Page[Run]{}, fmt.Errorf("list runs: %w", err)
	}
	var page Page[Run]
	for i, r := range rows {
		if i == limit {
			page.Next = postgres.EncodeIDCursor(page.Items[limit-1].ID)
			break
		}
		run, err := r.run()
		if err != nil {
			return Page[Run]{}, err
		}
		page.Items = append(page.Items, run)
	}
	return page, nil
}

// SetPhase records a run's progress. It runs outside the run's transaction
// so that watchers see it while the run works.
func (s *Store) SetPhase(ctx context.Context, id int64, status RunStatus, phase string, progress int, at *time.Time) error {
	const q = `UPDATE recon_runs SET status = $2, phase = $3, progress = $4, started_at = COALESCE($5, started_at),
		error = '' WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, id, string(status), phase, progress, at); err != nil {
		return fmt.Errorf("set run %d phase: %w", id, err)
	}
	return nil
}

// FinishRun stores a run's outcome.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	c := countsJSON{Lines: map[string]int64{}, LinesByType: r.Counts.LinesByType, Matched: r.Counts.Matched,
		RollForwardOnly: r.Counts.RollForwardOnly, LedgerChecked: r.Counts.LedgerChecked,
		Expected: r.Counts.Expected, Discrepancies: map[string]int64{}}
	if p := payoutsJSON(r.Counts.Payouts); p != (payoutsJSON{}) {
		c.Payouts = &p
	}
	for k, v := range r.Counts.Lines {
		c.Lines[string(k)] = v
	}
	for k, v := range r.Counts.Discrepancies {
		c.Discrepancies[string(k)] = v
	}
	totals := make([]totalJSON, len(r.Totals))
	for i, t := range r.Totals {
		totals[i] = totalJSON{Kind: string(t.Kind), Currency: t.Currency, Count: t.Count, ReportMinor: t.ReportMinor,
			OurMinor: t.OurMinor, Saturated: t.Saturated}
	}
	batches := make([]batchJSON, len(r.Batches))
	for i, b := range r.Batches {
		batches[i] = batchJSON(b)
	}
	t := r.Timings
	timings := timingsJSON{StageMS: t.Stage.Milliseconds(), MatchMS: t.Match.Milliseconds(),
		LedgerMS: t.Ledger.Milliseconds(), BatchesMS: t.Batches.Milliseconds(),
		DiffMS: t.Diff.Milliseconds(), TotalMS: t.Total.Milliseconds()}
	cj, _ := json.Marshal(c)
	tj, _ := json.Marshal(totals)
	bj, _ := json.Marshal(batches)
	dj, _ := json.Marshal(diffJSON(r.Diff))
	mj, _ := json.Marshal(timings)
	var prev *int64
	if r.Diff.PreviousRunID != 0 {
		prev = &r.Diff.PreviousRunID
	}
	const q = `
		UPDATE recon_runs SET status = $2, phase = $3, progress = $4, counts = $5, totals = $6, batches = $7,
			diff = $8, timings = $9, previous_run_id = $10, error = $11, started_at = COALESCE(started_at, $12),
			finished_at = $13
		WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, r.ID, string(r.Status), r.Phase, r.Progress, string(cj), string(tj), string(bj), string(dj), string(mj), prev,
		r.Error, r.StartedAt, r.FinishedAt); err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

// FailRun marks a run FAILED with its error.
func (s *Store) FailRun(ctx context.Context, id int64, msg string, at time.Time) error {
	const q = `UPDATE recon_runs SET status = 'FAILED', error = $2, finished_at = $3 WHERE id = $1 AND status <> 'SUCCEEDED'`
	if _, err := s.db.ExecContext(ctx, q, id, msg, at); err != nil {
		return fmt.Errorf("fail run %d: %w", id, err)
	}
	return nil
}

// ---- discrepancies ----

// discrepancyColumns are read from discrepancyFrom: each row with its
// run's period.
const (
	discrepancyColumns = `d.id, d.run_id, r.period, d.kind, d.fingerprint, d.change,
	COALESCE(d.healed_by_run_id, 0) AS healed_by_run_id, d.status, d.note, d.actor, d.resolved_at, d.report_kind,
	d.transaction_type, d.transaction_id, d.transaction_request_id, d.original_transaction_id, d.settlement_batch_id,
	COALESCE(d.payment_id::text, '') AS payment_id, COALESCE(d.ledger_transaction_id::text, '') AS ledger_transaction_id,
	d.our_amount_minor, d.our_currency, d.report_amount_minor, d.report_currency, COALESCE(d.file_id, 0) AS file_id,
	d.file_name, COALESCE(d.line_no, 0) AS line_no, d.details, d.created_at`
	discrepancyFrom = `discrepancies d JOIN recon_runs r ON r.id = d.run_id`
)

type discrepancyRow struct {
	ID                    int64      `db:"id"`
	RunID                 int64      `db:"run_id"`
	Period                time.Time  `db:"period"`
	Kind                  string     `db:"kind"`
	Fingerprint           string     `db:"fingerprint"`
	Change                string     `db:"change"`
	HealedByRunID         int64      `db:"healed_by_run_id"`
	Status                string     `db:"status"`
	Note                  string     `db:"note"`
	Actor                 string     `db:"actor"`
	ResolvedAt            *time.Time `db:"resolved_at"`
	ReportKind            string     `db:"report_kind"`
	TransactionType       string     `db:"transaction_type"`
	TransactionID         string     `db:"transaction_id"`
	TransactionRequestID  string     `db:"transaction_request_id"`
	OriginalTransactionID string     `db:"original_transaction_id"`
	SettlementBatchID     string     `db:"settlement_batch_id"`
	PaymentID             string     `db:"payment_id"`
	LedgerTransactionID   string     `db:"ledger_transaction_id"`
	OurMinor              *int64     `db:"our_amount_minor"`
	OurCurrency           string     `db:"our_currency"`
	ReportMinor           *int64     `db:"report_amount_minor"`
	ReportCurrency        string     `db:"report_currency"`
	FileID                int64      `db:"file_id"`
	FileName              string     `db:"file_name"`
	Line                  int        `db:"line_no"`
	Details               []byte     `db:"details"`
	CreatedAt             time.Time  `db:"created_at"`
}

func (r discrepancyRow) discrepancy() Discrepancy {
	return Discrepancy{ID: r.ID, RunID: r.RunID, Period: day(r.Period), Kind: Kind(r.Kind), Fingerprint: r.Fingerprint,
		Change: Change(r.Change), HealedByRunID: r.HealedByRunID, Status: Status(r.Status), Note: r.Note,
		Actor: r.Actor, ResolvedAt: postgres.UTC(r.ResolvedAt), ReportKind: report.Kind(r.ReportKind),
		TransactionType: r.TransactionType, TransactionID: r.TransactionID,
		TransactionRequestID: r.TransactionRequestID, OriginalTransactionID: r.OriginalTransactionID,
		SettlementBatchID: r.SettlementBatchID, PaymentID: r.PaymentID, LedgerTransactionID: r.LedgerTransactionID,
		Ours: amountOf(r.OurMinor, r.OurCurrency), Report: amountOf(r.ReportMinor, r.ReportCurrency),
		FileID: r.FileID, FileName: r.FileName, Line: r.Line, Details: r.Details, CreatedAt: r.CreatedAt.UTC()}
}

// Discrepancy returns one discrepancy by id.
func (s *Store) Discrepancy(ctx context.Context, id int64) (Discrepancy, error) {
	var r discrepancyRow
	if err := sqlx.GetContext(ctx, s.db, &r, `SELECT `+discrepancyColumns+` FROM `+discrepancyFrom+` WHERE d.id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Discrepancy{}, ErrNotFound
		}
		return Discrepancy{}, fmt.Errorf("get discrepancy %d: %w", id, err)
	}
	return r.discrepancy(), nil
}

// DiscrepancyIn returns the id of the discrepancy with this fingerprint in
// a run, or 0 when the run did not find it.
func (s *Store) DiscrepancyIn(ctx context.Context, runID int64, fingerprint string) (int64, error) {
	var id int64
	const q = `SELECT COALESCE(max(id), 0) FROM discrepancies WHERE run_id = $1 AND fingerprint = $2`
	if err := sqlx.GetContext(ctx, s.db, &id, q, runID, fingerprint); err != nil {
		return 0, fmt.Errorf("find discrepancy in run %d: %w", runID, err)
	}
	return id, nil
}

// ListDiscrepancies returns a run's discrepancies in id order, keyset-paginated.
func (s *Store) ListDiscrepancies(ctx context.Context, f DiscrepancyFilter) (Page[Discrepancy], error) {
	q := discrepancyQuery{}
	q.add("d.run_id = %s", f.RunID)
	if f.Change != "" {
		q.add("d.change = %s", string(f.Change))
	}
	return q.page(ctx, s.db, byID, f.Kind, f.Status, f.Cursor, f.Limit)
}

// CurrentDiscrepancies returns the discrepancies of the latest succeeded
// run of each period in f's order (oldest first by default: id order),
// keyset-paginated.
//
// Each run stores the whole set it finds for its period, and the next run
// of the period supersedes it: a discrepancy found again is a new row in
// the new run (carrying status, note and actor when unchanged, reopened
// when changed), one no longer found stays only in the older run, marked
// healed. So the latest run's rows are the period's current state, each
// discrepancy once. Deduplicating all rows by content hash instead would
// list a changed discrepancy twice (old and new content) and keep healed
// ones; by fingerprint, it would still keep the healed ones, whose last row
// is in a superseded run.
//
// In id order, a run that finishes while a client pages adds its rows after
// the cursor, where the client will still see them.
func (s *Store) CurrentDiscrepancies(ctx context.Context, f CurrentFilter) (Page[Discrepancy], error) {
	o, err := f.order()
	if err != nil {
		return Page[Discrepancy]{}, err
	}
	q := discrepancyQuery{}
	q.current(f)
	return q.page(ctx, s.db, o, "", "", f.Cursor, f.Limit)
}

// The orders of CurrentDiscrepancies (CurrentFilter.Sort).
const (
	SortAge    = "age"    // how long ago a run found it; oldest first (id order) by default
	SortAmount = "amount" // Discrepancy.Amount with its sign, whatever the currency; largest first by default
	SortKind   = "kind"   // A to Z by default
)

// Sorts are the orders CurrentFilter.Sort may name, the default first.
var Sorts = []string{SortAge, SortAmount, SortKind}

// discrepancyOrder is a list's order and the sort key of a listed item.
type discrepancyOrder struct {
	postgres.Order
	key func(Discrepancy) any
}

// byID is the order of the lists read by id alone: the order runs found
// the discrepancies in.
var byID = discrepancyOrder{postgres.Order{ID: "d.id", IntID: true}, func(Discrepancy) any { return nil }}

// noAmount is the amount order's key of a discrepancy without an amount:
// below every amount, so those come last when the largest come first.
const noAmount = math.MinInt64

// discrepancySorts are Sorts' orders ascending, with their default
// direction. Age is id order reversed: the oldest has the smallest id.
var discrepancySorts = map[string]struct {
	discrepancyOrder
	desc bool
}{
	SortAge: {discrepancyOrder{postgres.Order{ID: "d.id", IntID: true, Desc: true}, byID.key}, true},
	SortAmount: {discrepancyOrder{postgres.Order{Key: "COALESCE(" + amountSQL + ", '" + strconv.FormatInt(noAmount, 10) + "'::bigint)",
		Type: postgres.KeyInt, ID: "d.id", IntID: true}, func(d Discrepancy) any {
		if a := d.Amount(); a.Valid {
			return a.Minor
		}
		return int64(noAmount)
	}}, true},
	SortKind: {discrepancyOrder{postgres.Order{Key: "d.kind", Type: postgres.KeyText, ID: "d.id", IntID: true},
		func(d Discrepancy) any { return string(d.Kind) }}, false},
}

// DefaultDir is the direction, "asc" or "desc", of sort when
// CurrentFilter.Dir is empty: oldest and largest first; kinds A to Z.
func DefaultDir(sort string) string {
	if sort == "" || discrepancySorts[sort].desc {
		return "desc"
	}
	return "asc"
}

// order is the order f names; an unknown one is an *InvalidError.
func (f CurrentFilter) order() (discrepancyOrder, error) {
	sort := cmp.Or(f.Sort, SortAge)
	s, ok := discrepancySorts[sort]
	if !ok {
		return discrepancyOrder{}, &InvalidError{Field: "sort", Reason: "one of " + strings.Join(Sorts, ", ")}
	}
	o := s.discrepancyOrder
	switch cmp.Or(f.Dir, DefaultDir(sort)) {
	case "asc":
	case "desc":
		o.Desc = !o.Desc
	default:
		return discrepancyOrder{}, &InvalidError{Field: "dir", Reason: "asc or desc"}
	}
	return o, nil
}

// amountSQL and amountCurrencySQL are Discrepancy.Amount of the row d
// (NULL, and an empty currency, when it has none), as amountOf reads each
// side.
const (
	reportValidSQL    = `d.report_amount_minor IS NOT NULL AND d.report_currency <> ''`
	ourValidSQL       = `d.our_amount_minor IS NOT NULL AND d.our_currency <> ''`
	amountSQL         = `CASE WHEN ` + reportValidSQL + ` THEN d.report_amount_minor WHEN ` + ourValidSQL + ` THEN d.our_amount_minor END`
	amountCurrencySQL = `CASE WHEN ` + reportValidSQL + ` THEN d.report_currency WHEN ` + ourValidSQL + ` THEN d.our_currency ELSE '' END`
)

// current restricts q to the discrepancies f selects among those of the
// latest succeeded run of each period; f's Cursor and Limit are the
// caller's.
func (q *discrepancyQuery) current(f CurrentFilter) {
	latest := `d.run_id IN (SELECT DISTINCT ON (period) id FROM recon_runs WHERE status = 'SUCCEEDED'`
	if !f.PeriodFrom.IsZero() {
		latest += q.arg(" AND period >= %s", day(f.PeriodFrom))
	}
	if !f.PeriodTo.IsZero() {
		latest += q.arg(" AND period <= %s", day(f.PeriodTo))
	}
	q.where = append(q.where, latest+` ORDER BY period, id DESC)`)
	if f.RunID != 0 {
		q.add("d.run_id = %s", f.RunID)
	}
	if f.Kind != "" {
		q.add("d.kind = %s", string(f.Kind))
	}
	if f.Status != "" {
		q.add("d.status = %s", string(f.Status))
	}
	if f.Currency != "" {
		q.add(amountCurrencySQL+" = %s", f.Currency)
	}
	// numeric: the size of the smallest bigint does not fit a bigint.
	if f.MinMinor != nil {
		q.add("abs(("+amountSQL+")::numeric) >= %s", *f.MinMinor)
	}
	if f.MaxMinor != nil {
		q.add("abs(("+amountSQL+")::numeric) <= %s", *f.MaxMinor)
	}
}

// discrepancyQuery builds a discrepancy list's WHERE clause.
type discrepancyQuery struct {
	where []string
	args  []any
}

// arg formats cond with v's placeholder.
func (q *discrepancyQuery) arg(cond string, v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf(cond, "$"+strconv.Itoa(len(q.args)))
}

func (q *discrepancyQuery) add(cond string, v any) { q.where = append(q.where, q.arg(cond, v)) }

// page adds the filters every list has and reads one page in order o.
func (q *discrepancyQuery) page(ctx context.Context, db sqlx.ExtContext, o discrepancyOrder, kind Kind, status Status,
	cursor string, limit int) (Page[Discrepancy], error) {
	if kind != "" {
		q.add("d.kind = %s", string(kind))
	}
	if status != "" {
		q.add("d.status = %s", string(status))
	}
	if cursor != "" {
		after, err := o.After(cursor, func(v any) string { return q.arg("%s", v) })
		if err != nil {
			return Page[Discrepancy]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		q.where = append(q.where, after)
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	items, err := q.allBy(ctx, db, o.By(), limit+1)
	if err != nil {
		return Page[Discrepancy]{}, err
	}
	var page Page[Discrepancy]
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		page.Next = o.Cursor(o.key(last), last.ID)
	}
	page.Items = items
	return page, nil
}

// all reads at most limit of the discrepancies q selects, in id order.
func (q *discrepancyQuery) all(ctx context.Context, db sqlx.ExtContext, limit int) ([]Discrepancy, error) {
	return q.allBy(ctx, db, byID.By(), limit)
}

// allBy reads at most limit of the discrepancies q selects, ordered by by.
func (q *discrepancyQuery) allBy(ctx context.Context, db sqlx.ExtContext, by string, limit int) ([]Discrepancy, error) {
	sqlText := `SELECT ` + discrepancyColumns + ` FROM ` + discrepancyFrom + ` WHERE ` + strings.Join(q.where, " AND ") +
		fmt.Sprintf(` ORDER BY %s LIMIT %d`, by, limit)
	var rows []discrepancyRow
	if err := sqlx.SelectContext(ctx, db, &rows, sqlText, q.args...); err != nil {
		return nil, fmt.Errorf("list discrepancies: %w", err)
	}
	var out []Discrepancy
	for _, r := range rows {
		out = append(out, r.discrepancy())
	}
	return out, nil
}

// EachDiscrepancy streams a run's discrepancies of one kind in id order
// (for exports: one row in memory at a time).
func (s *Store) EachDiscrepancy(ctx context.Context, runID int64, kind Kind, fn func(Discrepancy) error) error {
	rows, err := s.db.QueryxContext(ctx, `SELECT `+discrepancyColumns+` FROM `+discrepancyFrom+`
		WHERE d.run_id = $1 AND d.kind = $2 ORDER BY d.id`, runID, string(kind))
	if err != nil {
		return fmt.Errorf("read discrepancies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r discrepancyRow
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("read discrepancies: %w", err)
		}
		if err := fn(r.discrepancy()); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetDiscrepancyStatus moves a discrepancy from one status to another with
// its note and actor; resolvedAt is nil when it is reopened. It returns
// false when the discrepancy is no longer in status from.
func (s *Store) SetDiscrepancyStatus(ctx context.Context, id int64, from, to Status, note, actor string, resolvedAt *time.Time) (bool, error) {
	const q = `UPDATE discrepancies SET status = $3, note = $4, actor = $5, resolved_at = $6
		WHERE id = $1 AND status = $2`
	res, err := s.db.ExecContext(ctx, q, id, string(from), string(to), note, actor, resolvedAt)
	if err != nil {
		return false, fmt.Errorf("update discrepancy %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// TryLockPeriodShared takes the period's run lock (LockPeriod's key) in
// shared mode until the transaction ends, unless a run of the period holds
// it; a run waits for the shared holders to finish.
func (s *Store) TryLockPeriodShared(ctx context.Context, period time.Time) (bool, error) {
	var ok bool
	const q = `SELECT pg_try_advisory_xact_lock_shared(hashtextextended('recon-period:' || $1::text, 0))`
	if err := sqlx.GetContext(ctx, s.db, &ok, q, period.Format(time.DateOnly)); err != nil {
		return false, fmt.Errorf("try period lock: %w", err)
	}
	return ok, nil
}

// ---- exports ----

// Export is a file written for a run.
type Export struct {
	ID        int64
	RunID     int64
	Format    string // xlsx or csv
	Kind      Kind   // the discrepancy kind of a CSV
	Path      string
	SHA256    string
	Size      int64
	CreatedAt time.Time
}

// CreateExport records an export.
func (s *Store) CreateExport(ctx context.Context, e Export) (int64, error) {
	sum, err := hex.DecodeString(e.SHA256)
	if err != nil {
		return 0, fmt.Errorf("export sha256: %w", err)
	}
	const q = `INSERT INTO recon_exports (run_id, format, kind, path, sha256, size_bytes, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
	var id int64
	if err := sqlx.GetContext(ctx, s.db, &id, q, e.RunID, e.Format, string(e.Kind), e.Path, sum, e.Size, e.CreatedAt); err != nil {
		return 0, fmt.Errorf("insert export: %w", err)
	}
	return id, nil
}

// Exports lists a run's exports, oldest first.
func (s *Store) Exports(ctx context.Context, runID int64) ([]Export, error) {
	type row struct {
		ID        int64     `db:"id"`
		RunID     int64     `db:"run_id"`
		Format    string    `db:"format"`
		Kind      string    `db:"kind"`
		Path      string    `db:"path"`
		SHA256    []byte    `db:"sha256"`
		Size      int64     `db:"size_bytes"`
		CreatedAt time.Time `db:"created_at"`
	}
	var rows []row
	const q = `SELECT id, run_id, format, kind, path, sha256, size_bytes, created_at FROM recon_exports
		WHERE run_id = $1 ORDER BY id`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, runID); err != nil {
		return nil, fmt.Errorf("list exports: %w", err)
	}
	out := make([]Export, len(rows))
	for i, r := range rows {
		out[i] = Export{ID: r.ID, RunID: r.RunID, Format: r.Format, Kind: Kind(r.Kind), Path: r.Path,
			SHA256: hex.EncodeToString(r.SHA256), Size: r.Size, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// UnexportedRuns returns the succeeded runs of an actor that have no
// export yet, oldest first.
func (s *Store) UnexportedRuns(ctx context.Context, actor string) ([]int64, error) {
	const q = `SELECT id FROM recon_runs r WHERE status = 'SUCCEEDED' AND actor = $1
		AND NOT EXISTS (SELECT 1 FROM recon_exports e WHERE e.run_id = r.id) ORDER BY id`
	var ids []int64
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, actor); err != nil {
		return nil, fmt.Errorf("unexported runs: %w", err)
	}
	return ids, nil
}

// ---- helpers ----

// int64Array writes ids as a PostgreSQL array literal (digits only, so no
// quoting is needed), for a $n::bigint[] parameter.
func int64Array(ids []int64) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// dateArray writes dates as a PostgreSQL array literal for $n::date[].
func dateArray(ds []time.Time) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Format(time.DateOnly))
	}
	b.WriteByte('}')
	return b.String()
}
