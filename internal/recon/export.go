package recon

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// Export writes a succeeded run's workbook and one CSV per discrepancy kind
// into dir, records each file (path, SHA-256) in recon_exports, and returns
// the workbook's path. Files are written under a temporary name and renamed,
// so a reader never sees half a workbook.
func (s *Service) Export(ctx context.Context, runID int64, dir string) (string, error) {
	run, err := s.exportable(ctx, runID)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("export dir: %w", err)
	}
	st := NewStore(s.db)
	write := func(path, format string, kind Kind, fn func(io.Writer) error) error {
		sum, size, err := writeFile(path, fn)
		if err != nil {
			return err
		}
		_, err = st.CreateExport(ctx, Export{RunID: run.ID, Format: format, Kind: kind, Path: path, SHA256: sum,
			Size: size, CreatedAt: s.now().UTC()})
		return err
	}
	xlsx := exportPath(dir, run, ".xlsx")
	if err := write(xlsx, "xlsx", "", func(w io.Writer) error { return s.writeWorkbook(ctx, run, w) }); err != nil {
		return "", err
	}
	for _, k := range Kinds {
		path := exportPath(dir, run, "_"+strings.ToLower(string(k))+".csv")
		if err := write(path, "csv", k, func(w io.Writer) error { return s.writeCSV(ctx, run, k, w) }); err != nil {
			return "", err
		}
	}
	return xlsx, nil
}

// Exports lists the files exported for a run.
func (s *Service) Exports(ctx context.Context, runID int64) ([]Export, error) {
	return NewStore(s.db).Exports(ctx, runID)
}

// WriteXLSX writes a succeeded run's workbook to w (an HTTP download).
func (s *Service) WriteXLSX(ctx context.Context, runID int64, w io.Writer) error {
	run, err := s.exportable(ctx, runID)
	if err != nil {
		return err
	}
	return s.writeWorkbook(ctx, run, w)
}

// WriteCSV writes a succeeded run's discrepancies of one kind as CSV.
func (s *Service) WriteCSV(ctx context.Context, runID int64, kind Kind, w io.Writer) error {
	if !kind.Valid() {
		return &InvalidError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q", kind)}
	}
	run, err := s.exportable(ctx, runID)
	if err != nil {
		return err
	}
	return s.writeCSV(ctx, run, kind, w)
}

func (s *Service) exportable(ctx context.Context, runID int64) (Run, error) {
	run, err := NewStore(s.db).Run(ctx, runID)
	if err != nil {
		return Run{}, err
	}
	if run.Status != RunSucceeded {
		return Run{}, &ConflictError{Rule: fmt.Sprintf("run %d is %s; only a succeeded run can be exported", runID, run.Status)}
	}
	return run, nil
}

// writeFile writes through a temporary file in the same directory, hashing
// on the way, and renames it into place.
func writeFile(path string, fn func(io.Writer) error) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return "", 0, fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	err = fn(cw) // no fsync: an export is derived data, written again on demand
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", 0, fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// columns of a discrepancy sheet and CSV, with their widths.
var sheetColumns = []struct {
	name  string
	width float64
}{
	{"ID", 10}, {"Status", 11}, {"Change", 10}, {"Report", 22}, {"Transaction type", 18}, {"Transaction ID", 30},
	{"Request ID", 30}, {"Original ID", 30}, {"Batch", 20}, {"Payment ID", 38}, {"Ledger transaction", 38},
	{"Our amount", 14}, {"Our currency", 8}, {"Report amount", 14}, {"Report currency", 8}, {"Difference", 14},
	{"File", 44}, {"Line", 8}, {"Details", 60}, {"Note", 40}, {"Actor", 16}, {"Resolved at", 20}, {"Found at", 20},
}

// safe neutralises spreadsheet formula injection: a text cell starting
// with = + - @ (or a tab or carriage return) is prefixed with a quote, as
// OWASP recommends, so no spreadsheet evaluates text that came from a
// report file.
func safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// styles are the workbook's cell styles.
type styles struct {
	header, section, date, datetime, integer int
	amount                                   map[int]int // by currency exponent
}

func newStyles(f *excelize.File) (styles, error) {
	var (
		st  = styles{amount: map[int]int{}}
		err error
	)
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	st.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	st.section = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	date, datetime, integer := "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "#,##0"
	st.date = mk(&excelize.Style{CustomNumFmt: &date})
	st.datetime = mk(&excelize.Style{CustomNumFmt: &datetime})
	st.integer = mk(&excelize.Style{CustomNumFmt: &integer})
	for exp := 0; exp <= 4; exp++ {
		format := "#,##0"
		if exp > 0 {
			format += "." + strings.Repeat("0", exp)
		}
		st.amount[exp] = mk(&excelize.Style{CustomNumFmt: &format})
	}
	return st, err
}

// amountCell is an amount as a number in major units, shown with its
// currency's decimals. Excel stores numbers as binary doubles, so the
// number passed is the double nearest the exact decimal; excelize writes
// its shortest decimal form, which is the exact amount again for up to 15
// significant digits. Larger amounts would be rounded by any spreadsheet,
// so they are written as exact text instead.
func (st styles) amountCell(m money.Money) any {
	const exact = 1_000_000_000_000_000 // 10^15 minor units
	text := money.FormatMajor(m)
	exp, err := money.Exponent(m.Currency)
	if err != nil || m.Minor >= exact || m.Minor <= -exact {
		return text
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return text
	}
	return excelize.Cell{StyleID: st.amount[exp], Value: v}
}

func (st styles) timeCell(t *time.Time, style int) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return excelize.Cell{StyleID: style, Value: t.UTC()}
}

// writeWorkbook streams the workbook: a Summary sheet, then one sheet per
// discrepancy kind read row by row from the database.
func (s *Service) writeWorkbook(ctx context.Context, run Run, w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return fmt.Errorf("workbook styles: %w", err)
	}
	if err := f.SetSheetName(f.GetSheetName(0), "Summary"); err != nil {
		return err
	}
	if err := writeSummary(f, st, run); err != nil {
		return fmt.Errorf("summary sheet: %w", err)
	}
	store := NewStore(s.db)
	for _, k := range Kinds {
		if err := writeKindSheet(ctx, f, st, store, run, k); err != nil {
			return fmt.Errorf("sheet %s: %w", k, err)
		}
	}
	// No SetActiveSheet: it parses every sheet back into memory, and the
	// first sheet (Summary) is the active one already.
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

func writeKindSheet(ctx context.Context, f *excelize.File, st styles, store *Store, run Run, k Kind) error {
	sheet := string(k)
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	for i, c := range sheetColumns {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	header := make([]any, len(sheetColumns))
	for i, c := range sheetColumns {
		header[i] = excelize.Cell{StyleID: st.header, Value: c.name}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	row := 1
	err = store.EachDiscrepancy(ctx, run.ID, k, func(d Discrepancy) error {
		row++
		vals := make([]any, len(sheetColumns))
		vals[0] = d.ID
		vals[1], vals[2], vals[3] = string(d.Status), string(d.Change), string(d.ReportKind)
		vals[4], vals[5], vals[6], vals[7] = safe(d.TransactionType), safe(d.TransactionID), safe(d.TransactionRequestID), safe(d.OriginalTransactionID)
		vals[8], vals[9], vals[10] = safe(d.SettlementBatchID), d.PaymentID, d.LedgerTransactionID
		if d.Ours.Valid {
			vals[11], vals[12] = st.amountCell(d.Ours.Money), d.Ours.Currency
		}
		if d.Report.Valid {
			vals[13], vals[14] = st.amountCell(d.Report.Money), safe(d.Report.Currency)
		}
		if diff, ok := difference(d); ok {
			vals[15] = st.amountCell(diff)
		}
		vals[16] = safe(d.FileName)
		if d.Line > 0 {
			vals[17] = d.Line
		}
		vals[18], vals[19], vals[20] = safe(string(d.Details)), safe(d.Note), safe(d.Actor)
		vals[21], vals[22] = st.timeCell(d.ResolvedAt, st.datetime), st.timeCell(&d.CreatedAt, st.datetime)
		cell, _ := excelize.CoordinatesToCellName(1, row)
		return sw.SetRow(cell, vals)
	})
	if err != nil {
		return err
	}
	last, _ := excelize.CoordinatesToCellName(len(sheetColumns), max(row, 2))
	// A table gives the header its filter buttons (the stream writer has no
	// plain auto-filter).
	if err := sw.AddTable(&excelize.Table{Range: "A1:" + last, Name: "t_" + strings.ToLower(string(k)),
		StyleName: "TableStyleLight9"}); err != nil {
		return err
	}
	return sw.Flush()
}

// difference is the report's magnitude minus ours, when comparable.
func difference(d Discrepancy) (money.Money, bool) {
	if !d.Ours.Valid || !d.Report.Valid || d.Ours.Currency != d.Report.Currency {
		return money.Money{}, false
	}
	abs := func(n int64) int64 {
		if n < 0 {
			return -n
		}
		return n
	}
	if d.Kind == BatchTotalMismatch {
		return money.Money{Minor: d.Report.Minor - d.Ours.Minor, Currency: d.Ours.Currency}, true
	}
	return money.Money{Minor: abs(d.Report.Minor) - abs(d.Ours.Minor), Currency: d.Ours.Currency}, true
}

// writeSummary writes the run, its inputs, counts and totals per kind, and
// the batch roll-forward, as labelled sections one under the other.
func writeSummary(f *excelize.File, st styles, run Run) error {
	sw, err := f.NewStreamWriter("Summary")
	if err != nil {
		return err
	}
	for col, w := range []float64{24, 22, 66, 16, 16, 14, 14, 14, 14, 16, 16, 14} {
		if err := sw.SetColWidth(col+1, col+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	row := 0
	put := func(vals ...any) error {
		row++
		cell, _ := excelize.CoordinatesToCellName(1, row)
		return sw.SetRow(cell, vals)
	}
	head := func(names ...string) error {
		vals := make([]any, len(names))
		for i, n := range names {
			vals[i] = excelize.Cell{StyleID: st.header, Value: n}
		}
		return put(vals...)
	}
	section := func(title string) error {
		row++ // a blank line before each section
		return put(excelize.Cell{StyleID: st.section, Value: title})
	}
	var duration any
	if run.StartedAt != nil && run.FinishedAt != nil {
		duration = run.FinishedAt.Sub(*run.StartedAt).Seconds()
	}
	steps := []func() error{
		func() error { return head("Reconciliation run", strconv.FormatInt(run.ID, 10)) },
		func() error { return put("Period", excelize.Cell{StyleID: st.date, Value: run.Period}) },
		func() error { return put("Status", string(run.Status)) },
		func() error { return put("Actor", safe(run.Actor)) },
		func() error { return put("Started", st.timeCell(run.StartedAt, st.datetime)) },
		func() error { return put("Finished", st.timeCell(run.FinishedAt, st.datetime)) },
		func() error { return put("Duration (s)", duration) },
		func() error { return put("Previous run", nilIfZero(run.Diff.PreviousRunID)) },
		func() error {
			return put("Since previous run", fmt.Sprintf("%d new, %d changed, %d unchanged, %d healed",
				run.Diff.New, run.Diff.Changed, run.Diff.Same, run.Diff.Healed))
		},
		func() error { return section("Inputs") },
		func() error { return head("File", "Kind", "SHA-256", "Lines", "Report date") },
	}
	for _, in := range run.Inputs {
		in := in
		steps = append(steps, func() error {
			var d any
			if !in.ReportDate.IsZero() {
				d = excelize.Cell{StyleID: st.date, Value: in.ReportDate}
			}
			return put(safe(in.Name), string(in.Kind), in.SHA256, excelize.Cell{StyleID: st.integer, Value: in.Lines}, d)
		})
	}
	steps = append(steps,
		func() error { return section("Discrepancies by kind") },
		func() error { return head("Kind", "Count", "Currency", "Report total", "Our total") },
	)
	byKind := map[Kind][]Total{}
	for _, t := range run.Totals {
		byKind[t.Kind] = append(byKind[t.Kind], t)
	}
	for _, k := range Kinds {
		k := k
		if len(byKind[k]) == 0 {
			steps = append(steps, func() error { return put(string(k), excelize.Cell{StyleID: st.integer, Value: 0}) })
			continue
		}
		for _, t := range byKind[k] {
			t := t
			steps = append(steps, func() error {
				return put(string(k), excelize.Cell{StyleID: st.integer, Value: t.Count}, safe(t.Currency),
					st.amountCell(money.Money{Minor: t.ReportMinor, Currency: t.Currency}),
					st.amountCell(money.Money{Minor: t.OurMinor, Currency: t.Currency}))
			})
		}
	}
	steps = append(steps,
		func() error { return section("Lines") },
		func() error { return head("Report / type", "Lines") },
	)
	keys := make([]string, 0, len(run.Counts.LinesByType))
	for k := range run.Counts.LinesByType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		k := k
		steps = append(steps, func() error {
			return put(safe(k), excelize.Cell{StyleID: st.integer, Value: run.Counts.LinesByType[k]})
		})
	}
	for _, c := range []struct {
		label string
		n     int64
	}{
		{string(report.SettlementSummary) + " lines", run.Counts.Lines[report.SettlementSummary]},
		{"Matched to the ledger", run.Counts.Matched},
		{"Checked by batch totals only", run.Counts.RollForwardOnly},
		{"Ledger transactions checked", run.Counts.LedgerChecked},
		{"Expected (not yet due)", run.Counts.Expected},
	} {
		c := c
		steps = append(steps, func() error { return put(c.label, excelize.Cell{StyleID: st.integer, Value: c.n}) })
	}
	steps = append(steps,
		func() error { return section("Batch roll-forward") },
		func() error {
			return head("Batch", "Currency", "Items", "Captures", "Refunds", "Disputes", "Fees", "Reserves", "Other",
				"Computed net", "Summary", "Residual")
		},
	)
	for _, b := range run.Batches {
		b := b
		steps = append(steps, func() error {
			amt := func(n int64) any { return st.amountCell(money.Money{Minor: n, Currency: b.Currency}) }
			var summary, residual any
			if b.HasSummary {
				summary, residual = amt(b.Summary), amt(b.Residual)
			} else {
				summary = "no summary"
			}
			return put(safe(b.BatchID), safe(b.Currency), excelize.Cell{StyleID: st.integer, Value: b.Items},
				amt(b.Captures), amt(b.Refunds), amt(b.Disputes), amt(b.Fees), amt(b.Reserves), amt(b.Other),
				amt(b.Computed), summary, residual)
		})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return sw.Flush()
}

func nilIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// writeCSV writes one kind's discrepancies with the sheet's columns;
// amounts are exact major-unit decimals, times RFC 3339.
func (s *Service) writeCSV(ctx context.Context, run Run, k Kind, w io.Writer) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(sheetColumns))
	for i, c := range sheetColumns {
		header[i] = c.name
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	amount := func(a report.Amount) (string, string) {
		if !a.Valid {
			return "", ""
		}
		return money.FormatMajor(a.Money), safe(a.Currency)
	}
	err := NewStore(s.db).EachDiscrepancy(ctx, run.ID, k, func(d Discrepancy) error {
		rec := make([]string, len(sheetColumns))
		rec[0], rec[1], rec[2], rec[3] = strconv.FormatInt(d.ID, 10), string(d.Status), string(d.Change), string(d.ReportKind)
		rec[4], rec[5], rec[6], rec[7] = safe(d.TransactionType), safe(d.TransactionID), safe(d.TransactionRequestID), safe(d.OriginalTransactionID)
		rec[8], rec[9], rec[10] = safe(d.SettlementBatchID), d.PaymentID, d.LedgerTransactionID
		rec[11], rec[12] = amount(d.Ours)
		rec[13], rec[14] = amount(d.Report)
		if diff, ok := difference(d); ok {
			rec[15] = money.FormatMajor(diff)
		}
		rec[16] = safe(d.FileName)
		if d.Line > 0 {
			rec[17] = strconv.Itoa(d.Line)
		}
		rec[18], rec[19], rec[20] = safe(string(d.Details)), safe(d.Note), safe(d.Actor)
		if d.ResolvedAt != nil {
			rec[21] = d.ResolvedAt.UTC().Format(time.RFC3339)
		}
		rec[22] = d.CreatedAt.UTC().Format(time.RFC3339)
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
