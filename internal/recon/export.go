package recon

import (
	"archive/zip"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
	"github.com/payops/payops/internal/sheet"
)

// Export writes a succeeded run's workbook and one CSV per discrepancy kind
// into dir, records each file (path, SHA-256) in recon_exports, and returns
// the workbook's path. One read of the discrepancies feeds the workbook and
// the CSVs. Files are written under a temporary name and renamed, so a
// reader never sees half a workbook.
func (s *Service) Export(ctx context.Context, runID int64, dir string) (string, error) {
	run, err := s.exportable(ctx, runID)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("export dir: %w", err)
	}
	xlsx, err := createExportFile(exportPath(dir, run, ".xlsx"), "xlsx", "")
	if err != nil {
		return "", err
	}
	files := []*exportFile{xlsx}
	defer func() {
		for _, f := range files {
			f.discard()
		}
	}()
	csvs := make(map[Kind]*csv.Writer, len(Kinds))
	for _, k := range Kinds {
		f, err := createExportFile(exportPath(dir, run, "_"+strings.ToLower(string(k))+".csv"), "csv", k)
		if err != nil {
			return "", err
		}
		files = append(files, f)
		csvs[k] = csv.NewWriter(f)
		if err := csvs[k].Write(csvHeader()); err != nil {
			return "", f.fail(err)
		}
	}
	also := func(k Kind, d Discrepancy) error { return csvs[k].Write(csvRecord(d)) }
	if err := s.writeWorkbook(ctx, run, xlsx, also); err != nil {
		return "", xlsx.fail(err)
	}
	for _, k := range Kinds {
		if csvs[k].Flush(); csvs[k].Error() != nil {
			return "", files[0].fail(csvs[k].Error())
		}
	}
	st := NewStore(s.db)
	for _, f := range files {
		sum, size, err := f.commit()
		if err != nil {
			return "", err
		}
		if _, err := st.CreateExport(ctx, Export{RunID: run.ID, Format: f.format, Kind: f.kind, Path: f.path, SHA256: sum,
			Size: size, CreatedAt: s.now().UTC()}); err != nil {
			return "", err
		}
	}
	return xlsx.path, nil
}

// WriteXLSX writes a succeeded run's workbook to w (an HTTP download).
func (s *Service) WriteXLSX(ctx context.Context, runID int64, w io.Writer) error {
	run, err := s.exportable(ctx, runID)
	if err != nil {
		return err
	}
	return s.writeWorkbook(ctx, run, w, nil)
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

// exportFile is an export being written to a temporary file in its
// directory, hashed on the way; commit renames it into place.
type exportFile struct {
	path, format string
	kind         Kind
	tmp          *os.File
	hash         hash.Hash
	w            io.Writer
	n            int64
}

func createExportFile(path, format string, kind Kind) (*exportFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	f := &exportFile{path: path, format: format, kind: kind, tmp: tmp, hash: sha256.New()}
	f.w = io.MultiWriter(tmp, f.hash)
	return f, nil
}

func (f *exportFile) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.n += int64(n)
	return n, err
}

// fail names the file in err.
func (f *exportFile) fail(err error) error {
	return fmt.Errorf("export %s: %w", filepath.Base(f.path), err)
}

// commit closes the file and renames it into place (no fsync: an export is
// derived data, written again on demand).
func (f *exportFile) commit() (string, int64, error) {
	err := f.tmp.Close()
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		return "", 0, f.fail(err)
	}
	return hex.EncodeToString(f.hash.Sum(nil)), f.n, nil
}

// discard removes the temporary file; after commit it is a no-op.
func (f *exportFile) discard() {
	_ = f.tmp.Close()
	_ = os.Remove(f.tmp.Name())
}

// column is a column of the discrepancy sheets and CSVs.
type column struct {
	name   string
	sample string // a typical value: with the header, it sets the width
	width  float64
}

// sheetColumns are the discrepancy sheets' and CSVs' columns. Times are
// UTC, and say so in the header.
var sheetColumns = sized([]column{
	{name: "ID", sample: "10000000"},
	{name: "Status", sample: "RESOLVED"},
	{name: "Change", sample: "CHANGED"},
	{name: "Report", sample: "SETTLEMENT_SUMMARY"},
	{name: "Transaction type", sample: "AUTHORIZATION"},
	{name: "Transaction ID", sample: "202403111940101201000000012345"}, // APO: time, kind, sequence
	{name: "Request ID", sample: "capture-3f1c2d4e-9b7a-4c1d-8e2f-0a1b2c3d4e5f"},
	{name: "Original ID", sample: "202403111940101101000000012345"},
	{name: "Batch", sample: "20240311000000000001"},
	{name: "Payment ID", sample: "3f1c2d4e-9b7a-4c1d-8e2f-0a1b2c3d4e5f"},
	{name: "Ledger transaction", sample: "3f1c2d4e-9b7a-4c1d-8e2f-0a1b2c3d4e5f"},
	{name: "Our amount", sample: "-1,234,567.89"},
	{name: "Our currency", sample: "USD"},
	{name: "Report amount", sample: "-1,234,567.89"},
	{name: "Report currency", sample: "USD"},
	{name: "Difference", sample: "-1,234,567.89"},
	{name: "File", sample: "settlementItems_USD_20240311000000000001_000.csv"},
	{name: "Line", sample: "1000000"},
	{name: "Details", sample: strings.Repeat("x", 50)}, // free text, wrapped (styles.wrapped)
	{name: "Note", sample: strings.Repeat("x", 36)},
	{name: "Actor", sample: "finance-key-01"},
	{name: "Resolved at (UTC)", sample: "2024-03-11 10:00:00"},
	{name: "Found at (UTC)", sample: "2024-03-11 10:00:00"},
})

// sized sets each column's width from its header and its sample.
func sized(cols []column) []column {
	for i := range cols {
		cols[i].width = max(headerWidth(utf8.RuneCountInString(cols[i].name)), textWidth(utf8.RuneCountInString(cols[i].sample)))
	}
	return cols
}

// Column widths are in characters of the default font's digits. Letters
// run wider than digits and the header is bold, with the table's filter
// button over its right end, so text gets a tenth more, a header a sixth
// more and room for the button.
func textWidth(runes int) float64   { return math.Ceil(float64(runes)*1.1) + 1 }
func headerWidth(runes int) float64 { return math.Ceil(float64(runes)*7/6) + 3 }

// text is a sheet cell of s made safe, or no cell at all when s is empty:
// an empty inline string costs about 40 bytes of XML and shows nothing.
func text(s string) any {
	if s == "" {
		return nil
	}
	return sheet.Safe(s)
}

// directZip is a zip writer for excelize that writes the archive straight
// to dst at deflate BestSpeed. excelize hands it an in-memory buffer (to
// patch zip64 headers of parts over 4 GiB, which a sheet capped at 1,048,576
// rows never reaches); writing to dst instead saves a copy of the whole
// workbook in memory, and BestSpeed halves the export's compression CPU for
// a workbook about 5% larger. The buffer excelize passes stays empty.
func directZip(dst io.Writer) func(io.Writer) excelize.ZipWriter {
	return func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(dst)
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.BestSpeed)
		})
		return zw
	}
}

// styles are the workbook's cell styles.
type styles struct {
	header, section, date, datetime, integer, wrap int
	amount                                         map[int]int // by currency exponent
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
	st.wrap = mk(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true}})
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

// wrapped is a free-text cell, wrapped at its column's width.
func (st styles) wrapped(s string) any {
	if s == "" {
		return nil
	}
	return excelize.Cell{StyleID: st.wrap, Value: sheet.Safe(s)}
}

func (st styles) timeCell(t *time.Time, style int) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return excelize.Cell{StyleID: style, Value: t.UTC()}
}

// workbookMu lets one workbook be built at a time per process: each
// excelize stream keeps its buffer (16-32 MiB once a sheet spills to its
// temporary file) until the workbook is written, so concurrent builds would
// add up.
var workbookMu sync.Mutex

// Memory of a workbook build, beyond what the process used when it began:
// gcBudget is let grow before the limit forces a collection, and gcHeadroom
// is the garbage allowed above the build's live heap once that outgrows the
// budget. Measured on 100,000 rows: 2.3-2.5 s and 140 MiB peak RSS, where a
// GC percent of 5 took 2.7-3.5 s and 146-149 MiB.
const (
	gcBudget   = 96 << 20
	gcHeadroom = 12 << 20
)

// tightGC takes workbookMu and bounds the process's memory while a workbook
// is built, with a memory limit that follows the live heap. The build's
// heap is mostly excelize's sheet buffers (about 16 MiB each), and the rows
// make garbage far faster: the default GC target (twice the live heap)
// would double the peak RSS, and a low GC percent costs a collection every
// few MiB once the buffers are large. An additive headroom costs a few
// collections and keeps the peak at live + headroom. A lower limit set by
// the operator (GOMEMLIMIT) stays. The returned func restores the limit and
// hands the buffers back to the OS.
func tightGC() func() {
	workbookMu.Lock()
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := int64(sample[0].Value.Uint64() - sample[1].Value.Uint64())
	live0 := int64(sample[2].Value.Uint64())
	old := debug.SetMemoryLimit(-1)
	limit := func() int64 {
		metrics.Read(sample[2:])
		grown := int64(sample[2].Value.Uint64()) - live0
		return min(old, base+max(gcBudget, grown+gcHeadroom))
	}
	debug.SetMemoryLimit(limit())
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				debug.SetMemoryLimit(limit())
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		debug.SetMemoryLimit(old)
		debug.FreeOSMemory()
		workbookMu.Unlock()
	}
}

// writeWorkbook streams the workbook: a Summary sheet, then one sheet per
// discrepancy kind read row by row from the database, then the sheets
// other packages add (AddSheet). also, when not nil,
// is given every row as well (the CSVs, from the same read).
func (s *Service) writeWorkbook(ctx context.Context, run Run, w io.Writer, also func(Kind, Discrepancy) error) error {
	release := tightGC()
	defer release()
	f := excelize.NewFile()
	defer f.Close()
	f.SetZipWriter(directZip(w))
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
		if err := writeKindSheet(ctx, f, st, store, run, k, also); err != nil {
			return fmt.Errorf("sheet %s: %w", k, err)
		}
	}
	for _, sh := range s.sheets {
		if err := writeExtraSheet(ctx, f, st, run, sh); err != nil {
			return fmt.Errorf("sheet %s: %w", sh.Name, err)
		}
	}
	// No SetActiveSheet: it parses every sheet back into memory, and the
	// first sheet (Summary) is the active one already.
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

func writeKindSheet(ctx context.Context, f *excelize.File, st styles, store *Store, run Run, k Kind, also func(Kind, Discrepancy) error) error {
	sheet := string(k)
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	if err := printSetup(f, sheet, run); err != nil {
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
		vals[1], vals[2], vals[3] = text(string(d.Status)), text(string(d.Change)), text(string(d.ReportKind))
		vals[4], vals[5], vals[6], vals[7] = text(d.TransactionType), text(d.TransactionID), text(d.TransactionRequestID), text(d.OriginalTransactionID)
		vals[8], vals[9], vals[10] = text(d.SettlementBatchID), text(d.PaymentID), text(d.LedgerTransactionID)
		if d.Ours.Valid {
			vals[11], vals[12] = st.amountCell(d.Ours.Money), text(d.Ours.Currency)
		}
		if d.Report.Valid {
			vals[13], vals[14] = st.amountCell(d.Report.Money), text(d.Report.Currency)
		}
		if diff, ok := difference(d); ok {
			vals[15] = st.amountCell(diff)
		}
		vals[16] = text(d.FileName)
		if d.Line > 0 {
			vals[17] = d.Line
		}
		vals[18], vals[19], vals[20] = st.wrapped(detailsText(d.Details)), st.wrapped(d.Note), text(d.Actor)
		vals[21], vals[22] = st.timeCell(d.ResolvedAt, st.datetime), st.timeCell(&d.CreatedAt, st.datetime)
		cell, _ := excelize.CoordinatesToCellName(1, row)
		if err := sw.SetRow(cell, vals); err != nil {
			return err
		}
		if also != nil {
			return also(k, d)
		}
		return nil
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

// Page setup of every sheet: landscape, margins in inches.
const (
	pageSideMargin   = 0.4
	pageTopMargin    = 0.75 // room for the header and footer lines
	pageHeaderMargin = 0.3
)

// printSetup makes a sheet print legibly: landscape, fitted to one page
// wide and as many tall as it takes, the first row repeated at the top of
// every page, narrow margins, and the run and page numbers in the header
// and footer. It must run before the sheet's NewStreamWriter: the stream
// writer copies the fit-to-page flag (sheetPr) into the sheet when it
// starts, and the page setup, margins and header/footer when it flushes.
func printSetup(f *excelize.File, sheet string, run Run) error {
	fit, landscape, oneWide, anyTall := true, "landscape", 1, 0
	side, top, edge := pageSideMargin, pageTopMargin, pageHeaderMargin
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &oneWide,
		FitToHeight: &anyTall}); err != nil {
		return err
	}
	if err := f.SetPageMargins(sheet, &excelize.PageLayoutMarginsOptions{Left: &side, Right: &side, Top: &top,
		Bottom: &top, Header: &edge, Footer: &edge}); err != nil {
		return err
	}
	// &A is the sheet's name, &P and &N the page and the page count.
	if err := f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{
		OddHeader: fmt.Sprintf("&LReconciliation run %d, period %s&R&A", run.ID, run.Period.Format(time.DateOnly)),
		OddFooter: fmt.Sprintf("&LRun %d; times are UTC&RPage &P of &N", run.ID),
	}); err != nil {
		return err
	}
	return f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: "'" + sheet + "'!$1:$1",
		Scope: sheet})
}

// detailLabels name the keys of a discrepancy's details for people, in the
// order they are shown; other keys follow in name order.
var detailLabels = []struct{ key, label string }{
	{"reason", "Reason"},
	{"report_status", "Report status"},
	{"our_status", "Our status"},
	{"occurrence", "Occurrence in the report"},
	{"due_on", "Due on"},
	{"completed_at", "Completed (UTC)"},
	{"transaction_amount", "Transaction amount"},
	{"transaction_currency", "Transaction currency"},
	{"quote_currency_pair", "Quote pair"},
	{"quote_price", "Quote price"},
	{"exact_settlement_minor", "Exact settlement (minor units)"},
	{"summary_type", "Summary type"},
	{"items", "Items"},
	{"items_of_type", "Items of the type"},
	{"items_magnitude_minor", "Items total (minor units)"},
	{"summary_count", "Summary count"},
	{"captures", "Captures"},
	{"refunds", "Refunds"},
	{"disputes", "Disputes"},
	{"fees", "Fees"},
	{"fees_in_other_currencies", "Fees in other currencies (minor units)"},
	{"reserves", "Reserves"},
	{"other", "Other"},
	{"computed", "Computed net"},
	{"summary", "Summary"},
	{"residual", "Residual"},
}

// detailOrder is each labelled key's place in detailLabels.
var detailOrder = func() map[string]int {
	m := make(map[string]int, len(detailLabels))
	for i, l := range detailLabels {
		m[l.key] = i
	}
	return m
}()

// detailsText shows a discrepancy's details as "Label: value; Label:
// value" for a spreadsheet reader: known keys by their label in
// detailLabels' order, others after them by name, times in UTC, empty
// values left out. Details are a flat JSON object; anything else is shown
// as it is.
func detailsText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	fields, ok := flatObject(raw)
	if !ok {
		return string(raw)
	}
	rank := func(k string) int {
		if i, ok := detailOrder[k]; ok {
			return i
		}
		return len(detailLabels)
	}
	less := func(a, b [2]string) bool {
		ra, rb := rank(a[0]), rank(b[0])
		return ra < rb || ra == rb && a[0] < b[0]
	}
	for i := 1; i < len(fields); i++ { // a handful of fields: insertion sort
		for j := i; j > 0 && less(fields[j], fields[j-1]); j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
	var b strings.Builder
	b.Grow(len(raw) + 16*len(fields))
	for _, f := range fields {
		k, v := f[0], f[1]
		if v == "" {
			continue
		}
		if len(v) >= len(time.RFC3339) && v[10] == 'T' {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				v = t.UTC().Format(time.DateTime)
			}
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		if i, ok := detailOrder[k]; ok {
			b.WriteString(detailLabels[i].label)
		} else { // snake_case → "Snake case"
			r, size := utf8.DecodeRuneInString(k)
			b.WriteRune(unicode.ToUpper(r))
			b.WriteString(strings.ReplaceAll(k[size:], "_", " "))
		}
		b.WriteString(": ")
		b.WriteString(v)
	}
	return b.String()
}

// flatObject reads a JSON object whose values are strings, numbers,
// booleans or null into key/value pairs (null as ""), without reflection:
// an export reads one per row, and encoding/json's maps cost ten times as
// much. ok is false for anything else.
func flatObject(raw []byte) (fields [][2]string, ok bool) {
	s := strings.TrimSpace(string(raw))
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	fields = make([][2]string, 0, 8)
	for s != "" {
		k, rest, ok := jsonString(s)
		if !ok {
			return nil, false
		}
		rest = strings.TrimSpace(rest)
		if rest == "" || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := flatValue(strings.TrimSpace(rest[1:]))
		if !ok {
			return nil, false
		}
		fields = append(fields, [2]string{k, v})
		// A comma must be followed by another member.
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if rest[0] != ',' {
				return nil, false
			}
			rest = strings.TrimSpace(rest[1:])
			if rest == "" {
				return nil, false
			}
		}
		s = rest
	}
	return fields, true
}

// flatValue reads the member value at the start of s: a string, or a
// number, boolean or null (as "") up to the next comma.
func flatValue(s string) (v, rest string, ok bool) {
	if s != "" && s[0] == '"' {
		return jsonString(s)
	}
	end := strings.IndexByte(s, ',')
	if end < 0 {
		end = len(s)
	}
	v, rest = strings.TrimSpace(s[:end]), s[end:]
	if v == "" || strings.ContainsAny(v, `{}[]"`) {
		return "", "", false
	}
	if v == "null" {
		v = ""
	}
	return v, rest, true
}

// jsonString reads the JSON string at the start of s; the rest follows it.
func jsonString(s string) (v, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], '"') + 1
	if end == 0 {
		return "", "", false
	}
	if !strings.Contains(s[:end], `\`) {
		return s[1:end], s[end+1:], true
	}
	// Escapes: the string ends at the first quote with an even run of
	// backslashes before it; encoding/json decodes it.
	for end < len(s) {
		n := 0
		for n < end && s[end-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			break
		}
		next := strings.IndexByte(s[end+1:], '"')
		if next < 0 {
			return "", "", false
		}
		end += next + 1
	}
	if err := json.Unmarshal([]byte(s[:end+1]), &v); err != nil {
		return "", "", false
	}
	return v, s[end+1:], true
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
// the batch roll-forward, as labelled sections one under the other. The
// sheet is small, so its rows are built first and the columns sized to
// what they hold.
func writeSummary(f *excelize.File, st styles, run Run) error {
	var rows [][]any
	put := func(vals ...any) { rows = append(rows, vals) }
	head := func(names ...string) {
		vals := make([]any, len(names))
		for i, n := range names {
			vals[i] = excelize.Cell{StyleID: st.header, Value: n}
		}
		put(vals...)
	}
	section := func(title string) {
		put() // a blank line before each section
		put(excelize.Cell{StyleID: st.section, Value: title})
	}
	var duration any
	if run.StartedAt != nil && run.FinishedAt != nil {
		duration = run.FinishedAt.Sub(*run.StartedAt).Seconds()
	}
	head("Reconciliation run", strconv.FormatInt(run.ID, 10))
	put("Period", excelize.Cell{StyleID: st.date, Value: run.Period})
	put("Status", string(run.Status))
	put("Actor", sheet.Safe(run.Actor))
	put("Started (UTC)", st.timeCell(run.StartedAt, st.datetime))
	put("Finished (UTC)", st.timeCell(run.FinishedAt, st.datetime))
	put("Duration (s)", duration)
	put("Previous run", nilIfZero(run.Diff.PreviousRunID))
	put("Since previous run", fmt.Sprintf("%d new, %d changed, %d unchanged, %d healed",
		run.Diff.New, run.Diff.Changed, run.Diff.Same, run.Diff.Healed))

	// The hash is last: it may run on over the empty cells to its right
	// instead of widening a column every other section shares.
	section("Inputs")
	head("File", "Kind", "Lines", "Report date", "SHA-256")
	for _, in := range run.Inputs {
		var d any
		if !in.ReportDate.IsZero() {
			d = excelize.Cell{StyleID: st.date, Value: in.ReportDate}
		}
		put(sheet.Safe(in.Name), string(in.Kind), excelize.Cell{StyleID: st.integer, Value: in.Lines}, d, in.SHA256)
	}

	section("Discrepancies by kind")
	head("Kind", "Count", "Currency", "Report total", "Our total")
	byKind := map[Kind][]Total{}
	for _, t := range run.Totals {
		byKind[t.Kind] = append(byKind[t.Kind], t)
	}
	for _, k := range Kinds {
		if len(byKind[k]) == 0 {
			put(string(k), excelize.Cell{StyleID: st.integer, Value: 0})
			continue
		}
		for _, t := range byKind[k] {
			put(string(k), excelize.Cell{StyleID: st.integer, Value: t.Count}, sheet.Safe(t.Currency),
				st.amountCell(money.Money{Minor: t.ReportMinor, Currency: t.Currency}),
				st.amountCell(money.Money{Minor: t.OurMinor, Currency: t.Currency}))
		}
	}

	section("Lines")
	head("Report / type", "Lines")
	keys := make([]string, 0, len(run.Counts.LinesByType))
	for k := range run.Counts.LinesByType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		put(sheet.Safe(k), excelize.Cell{StyleID: st.integer, Value: run.Counts.LinesByType[k]})
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
		put(c.label, excelize.Cell{StyleID: st.integer, Value: c.n})
	}

	section("Batch roll-forward")
	head("Batch", "Currency", "Items", "Captures", "Refunds", "Disputes", "Fees", "Reserves", "Other",
		"Computed net", "Summary", "Residual")
	for _, b := range run.Batches {
		amt := func(n int64) any { return st.amountCell(money.Money{Minor: n, Currency: b.Currency}) }
		var summary, residual any
		if b.HasSummary {
			summary, residual = amt(b.Summary), amt(b.Residual)
		} else {
			summary = "no summary"
		}
		put(sheet.Safe(b.BatchID), sheet.Safe(b.Currency), excelize.Cell{StyleID: st.integer, Value: b.Items},
			amt(b.Captures), amt(b.Refunds), amt(b.Disputes), amt(b.Fees), amt(b.Reserves), amt(b.Other),
			amt(b.Computed), summary, residual)
	}

	if err := printSetup(f, "Summary", run); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter("Summary")
	if err != nil {
		return err
	}
	for col, w := range summaryWidths(rows, st) {
		if err := sw.SetColWidth(col+1, col+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	for i, vals := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(cell, vals); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// summaryWidths sizes each column to the widest value it shows. Text that
// ends its row runs on over the empty cells to its right, so it does not
// count; numbers never run on.
func summaryWidths(rows [][]any, st styles) []float64 {
	var widths []float64
	for _, vals := range rows {
		last := len(vals) - 1
		for last >= 0 && vals[last] == nil {
			last--
		}
		for col, v := range vals {
			style := 0
			if c, ok := v.(excelize.Cell); ok {
				style, v = c.StyleID, c.Value
			}
			n, isText := shownRunes(v, style == st.date)
			if isText && col == last {
				continue
			}
			w := textWidth(n)
			if style == st.header || style == st.section {
				w = math.Ceil(float64(n)*7/6) + 1 // bold, no filter button
			}
			for len(widths) <= col {
				widths = append(widths, 10)
			}
			widths[col] = max(widths[col], w)
		}
	}
	return widths
}

// shownRunes is about how many characters a summary value shows, and
// whether it is text.
func shownRunes(v any, date bool) (int, bool) {
	grouped := func(digits string) int { // with thousands separators
		n := len(strings.TrimPrefix(digits, "-"))
		return len(digits) + (n-1)/3
	}
	switch v := v.(type) {
	case string:
		return utf8.RuneCountInString(v), true
	case int:
		return grouped(strconv.Itoa(v)), false
	case int64:
		return grouped(strconv.FormatInt(v, 10)), false
	case float64:
		whole, frac, _ := strings.Cut(strconv.FormatFloat(v, 'f', -1, 64), ".")
		return grouped(whole) + 1 + max(len(frac), 2), false // amounts show at least 2 decimals
	case time.Time:
		if date {
			return len(time.DateOnly), false
		}
		return len(time.DateTime), false
	}
	return 0, false
}

func nilIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// writeCSV writes one kind's discrepancies with the sheet's columns.
func (s *Service) writeCSV(ctx context.Context, run Run, k Kind, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader()); err != nil {
		return err
	}
	err := NewStore(s.db).EachDiscrepancy(ctx, run.ID, k, func(d Discrepancy) error { return cw.Write(csvRecord(d)) })
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func csvHeader() []string {
	header := make([]string, len(sheetColumns))
	for i, c := range sheetColumns {
		header[i] = c.name
	}
	return header
}

// csvRecord is a discrepancy as a CSV record: amounts are exact major-unit
// decimals, times RFC 3339, details the JSON object (the sheet shows them as
// labelled text; a CSV is read by programs too).
func csvRecord(d Discrepancy) []string {
	amount := func(a report.Amount) (string, string) {
		if !a.Valid {
			return "", ""
		}
		return money.FormatMajor(a.Money), sheet.Safe(a.Currency)
	}
	rec := make([]string, len(sheetColumns))
	rec[0], rec[1], rec[2], rec[3] = strconv.FormatInt(d.ID, 10), string(d.Status), string(d.Change), string(d.ReportKind)
	rec[4], rec[5], rec[6], rec[7] = sheet.Safe(d.TransactionType), sheet.Safe(d.TransactionID), sheet.Safe(d.TransactionRequestID), sheet.Safe(d.OriginalTransactionID)
	rec[8], rec[9], rec[10] = sheet.Safe(d.SettlementBatchID), d.PaymentID, d.LedgerTransactionID
	rec[11], rec[12] = amount(d.Ours)
	rec[13], rec[14] = amount(d.Report)
	if diff, ok := difference(d); ok {
		rec[15] = money.FormatMajor(diff)
	}
	rec[16] = sheet.Safe(d.FileName)
	if d.Line > 0 {
		rec[17] = strconv.Itoa(d.Line)
	}
	rec[18], rec[19], rec[20] = sheet.Safe(string(d.Details)), sheet.Safe(d.Note), sheet.Safe(d.Actor)
	if d.ResolvedAt != nil {
		rec[21] = d.ResolvedAt.UTC().Format(time.RFC3339)
	}
	rec[22] = d.CreatedAt.UTC().Format(time.RFC3339)
	return rec
}
