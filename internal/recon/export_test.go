package recon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func TestExportWorkbookAndCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, true)
	run := sc.runs["2024-03-11"] // currency, duplicate and FX breaks; two batches
	dir := filepath.Join(sc.dir, "exports")
	path, err := sc.svc.Export(ctx, run.ID, dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "recon_20240311_run"+strconv.FormatInt(run.ID, 10)+".xlsx" {
		t.Errorf("path = %s", path)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	wantSheets := []string{"Summary"}
	for _, k := range Kinds {
		wantSheets = append(wantSheets, string(k))
	}
	if got := f.GetSheetList(); strings.Join(got, ",") != strings.Join(wantSheets, ",") {
		t.Fatalf("sheets = %v, want %v", got, wantSheets)
	}

	// A discrepancy sheet: header, frozen, filterable, typed cells.
	rows, err := f.GetRows("FX_MISMATCH")
	if err != nil || len(rows) != 2 {
		t.Fatalf("FX rows = %v %v", rows, err)
	}
	for i, c := range sheetColumns {
		if rows[0][i] != c.name {
			t.Errorf("header %d = %q, want %q", i, rows[0][i], c.name)
		}
	}
	col := func(name string) string {
		for i, c := range sheetColumns {
			if c.name == name {
				n, _ := excelize.ColumnNumberToName(i + 1)
				return n
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	checkNumber := func(sheet, cell, raw, shown, format string) {
		t.Helper()
		v, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
		if err != nil || v != raw {
			t.Errorf("%s!%s raw = %q %v, want %q", sheet, cell, v, err, raw)
		}
		typ, _ := f.GetCellType(sheet, cell)
		if typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString || typ == excelize.CellTypeFormula {
			t.Errorf("%s!%s is text (%v), want a number", sheet, cell, typ)
		}
		if got, _ := f.GetCellValue(sheet, cell); got != shown {
			t.Errorf("%s!%s shows %q, want %q", sheet, cell, got, shown)
		}
		if format == "" {
			return
		}
		id, _ := f.GetCellStyle(sheet, cell)
		st, err := f.GetStyle(id)
		if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != format {
			t.Errorf("%s!%s format = %+v %v, want %q", sheet, cell, st, err, format)
		}
	}
	checkNumber("FX_MISMATCH", col("Our amount")+"2", "23.23", "23.23", "#,##0.00")
	checkNumber("FX_MISMATCH", col("Report amount")+"2", "23.29", "23.29", "#,##0.00")
	checkNumber("FX_MISMATCH", col("Difference")+"2", "0.06", "0.06", "#,##0.00")
	checkNumber("FX_MISMATCH", col("Line")+"2", rows[1][17], rows[1][17], "")
	found, _ := f.GetCellValue("FX_MISMATCH", col("Found at (UTC)")+"2", excelize.Options{RawCellValue: true})
	if _, err := strconv.ParseFloat(found, 64); err != nil {
		t.Errorf("Found at = %q, want a date serial", found)
	}
	if shown, _ := f.GetCellValue("FX_MISMATCH", col("Found at (UTC)")+"2"); len(shown) != len("2006-01-02 15:04:05") {
		t.Errorf("Found at shows %q", shown)
	}
	for _, sheet := range wantSheets {
		panes, err := f.GetPanes(sheet)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s panes = %+v %v", sheet, panes, err)
		}
		if sheet == "Summary" {
			continue
		}
		if tables, err := f.GetTables(sheet); err != nil || len(tables) != 1 {
			t.Errorf("%s: no filterable table: %v %v", sheet, tables, err)
		}
		if w, _ := f.GetColWidth(sheet, col("Transaction ID")); w != sheetColumns[5].width {
			t.Errorf("%s column width = %v", sheet, w)
		}
	}

	// The summary: the run, its inputs with hashes, counts per kind and the
	// roll-forward.
	summary, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	text := func() string {
		var b strings.Builder
		for _, r := range summary {
			b.WriteString(strings.Join(r, "\t") + "\n")
		}
		return b.String()
	}()
	if summary[0][0] != "Reconciliation run" || summary[0][1] != strconv.FormatInt(run.ID, 10) {
		t.Errorf("summary head = %v", summary[0])
	}
	if summary[1][0] != "Period" || summary[1][1] != "2024-03-11" {
		t.Errorf("period row = %v", summary[1])
	}
	if raw, _ := f.GetCellValue("Summary", "B2", excelize.Options{RawCellValue: true}); raw != "45362" {
		t.Errorf("period raw = %q, want the Excel serial of 2024-03-11", raw)
	}
	for _, in := range run.Inputs {
		if !strings.Contains(text, in.Name+"\t"+string(in.Kind)+"\t") || !strings.Contains(text, "\t"+in.SHA256+"\n") {
			t.Errorf("summary lacks input %s", in.Name)
		}
	}
	kinds := 0
	var sectionKinds bool
	for _, r := range summary {
		if len(r) > 0 && r[0] == "Discrepancies by kind" {
			sectionKinds = true
			continue
		}
		if sectionKinds && len(r) > 1 && Kind(r[0]).Valid() {
			n, _ := strconv.Atoi(r[1])
			kinds += n
		}
		if sectionKinds && len(r) > 0 && r[0] == "Lines" {
			break
		}
	}
	if int64(kinds) != run.Diff.New+run.Diff.Same+run.Diff.Changed || kinds != 3 {
		t.Errorf("summary counts %d discrepancies, run has %d", kinds, run.Diff.New+run.Diff.Same+run.Diff.Changed)
	}
	for _, b := range run.Batches {
		if !strings.Contains(text, b.BatchID+"\t"+b.Currency+"\t"+strconv.FormatInt(b.Items, 10)) {
			t.Errorf("summary lacks batch %s:\n%s", b.BatchID, text)
		}
	}

	// CSVs per kind, and every file recorded with its hash; the run lists
	// them.
	withExports, err := sc.svc.GetRun(ctx, run.ID)
	if err != nil || len(withExports.Exports) != 1+len(Kinds) {
		t.Fatalf("exports = %+v %v", withExports.Exports, err)
	}
	for _, e := range withExports.Exports {
		b, err := os.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != e.SHA256 || int64(len(b)) != e.Size {
			t.Errorf("%s: recorded hash/size do not match the file", e.Path)
		}
		if e.Format == "csv" {
			// The file (written in the workbook's pass) and the download
			// (a pass of its own) agree byte for byte.
			var dl bytes.Buffer
			if err := sc.svc.WriteCSV(ctx, run.ID, e.Kind, &dl); err != nil || !bytes.Equal(dl.Bytes(), b) {
				t.Errorf("%s: download differs from the exported file (%v)", e.Kind, err)
			}
		}
		if e.Kind != FXMismatch {
			continue
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(recs) != 2 || recs[1][11] != "23.23" || recs[1][13] != "23.29" || recs[1][15] != "0.06" {
			t.Errorf("FX csv = %v %v", recs, err)
		}
	}

	// The download path writes the same workbook.
	var buf bytes.Buffer
	if err := sc.svc.WriteXLSX(ctx, run.ID, &buf); err != nil {
		t.Fatal(err)
	}
	if g, err := excelize.OpenReader(&buf); err != nil || len(g.GetSheetList()) != len(wantSheets) {
		t.Errorf("downloaded workbook: %v", err)
	}

	// Only a succeeded run exports.
	queued, err := sc.svc.StartRun(ctx, RunRequest{Date: run.Period}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var conflict *ConflictError
	if _, err := sc.svc.Export(ctx, queued.ID, dir); !errors.As(err, &conflict) {
		t.Errorf("export of a queued run: %v", err)
	}
}

// TestExportPrintsLegibly: every sheet prints landscape, one page wide,
// with its header row on every page and the run and page numbers in the
// header and footer; no header or typical value is cut; times say UTC; and
// details read as labelled text, not JSON.
func TestExportPrintsLegibly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc := runScenario(t, fileOpts{}, true)
	run := sc.runs["2024-03-11"] // FX breaks, whose details hold a quote and a reason
	var buf bytes.Buffer
	if err := sc.svc.WriteXLSX(ctx, run.ID, &buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	titles := map[string]string{}
	for _, n := range f.GetDefinedName() {
		if n.Name == "_xlnm.Print_Titles" {
			titles[n.Scope] = n.RefersTo
		}
	}
	for _, sheet := range f.GetSheetList() {
		layout, err := f.GetPageLayout(sheet)
		if err != nil || *layout.Orientation != "landscape" || layout.FitToWidth == nil || *layout.FitToWidth != 1 ||
			layout.FitToHeight == nil || *layout.FitToHeight != 0 {
			t.Errorf("%s page layout = %+v %v, want landscape, 1 page wide, any pages tall", sheet, layout, err)
		}
		if props, err := f.GetSheetProps(sheet); err != nil || props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: fit to page is off (%v)", sheet, err)
		}
		if m, err := f.GetPageMargins(sheet); err != nil || *m.Left != pageSideMargin || *m.Top != pageTopMargin {
			t.Errorf("%s margins = %+v %v", sheet, m, err)
		}
		hf, err := f.GetHeaderFooter(sheet)
		if err != nil || hf == nil || !strings.Contains(hf.OddHeader, "Reconciliation run "+strconv.FormatInt(run.ID, 10)) ||
			!strings.Contains(hf.OddFooter, "Page &P of &N") {
			t.Errorf("%s header/footer = %+v %v", sheet, hf, err)
		}
		if got, want := titles[sheet], "'"+sheet+"'!$1:$1"; got != want {
			t.Errorf("%s print titles = %q, want %q", sheet, got, want)
		}
	}

	// Discrepancy sheets: no header is cut, nor the file names.
	fx, err := f.GetRows(string(FXMismatch))
	if err != nil || len(fx) != 2 {
		t.Fatalf("FX rows = %v %v", fx, err)
	}
	for i, c := range sheetColumns {
		name, _ := excelize.ColumnNumberToName(i + 1)
		w, err := f.GetColWidth(string(FXMismatch), name)
		if err != nil || w < float64(len(c.name))+2 {
			t.Errorf("column %q is %v wide (%v), narrower than its header and filter button", c.name, w, err)
		}
		if c.name == "File" && w < float64(len(fx[1][i])) {
			t.Errorf("file column is %v wide for %q", w, fx[1][i])
		}
		if strings.Contains(c.name, " at") && !strings.HasSuffix(c.name, "(UTC)") {
			t.Errorf("time column %q does not say UTC", c.name)
		}
	}
	details := fx[1][18]
	if sheetColumns[18].name != "Details" || json.Valid([]byte(details)) || strings.ContainsAny(details, "{}\"") ||
		!strings.Contains(details, "Reason: ") || !strings.Contains(details, "Quote pair: ") {
		t.Errorf("details shown as %q, want labelled text", details)
	}
	if id, _ := f.GetCellStyle(string(FXMismatch), "S2"); id == 0 {
		t.Error("details cell does not wrap")
	} else if st, err := f.GetStyle(id); err != nil || st.Alignment == nil || !st.Alignment.WrapText {
		t.Errorf("details style = %+v %v, want wrapped", st, err)
	}

	// The summary: times say UTC, file names and labels are not cut.
	summary, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, r := range summary {
		if len(r) > 0 {
			labels[r[0]] = true
		}
	}
	if !labels["Started (UTC)"] || !labels["Finished (UTC)"] {
		t.Errorf("summary labels %v lack the UTC times", labels)
	}
	wA, _ := f.GetColWidth("Summary", "A")
	for _, in := range run.Inputs {
		if wA < float64(len(in.Name)) {
			t.Errorf("summary column A is %v wide for %q", wA, in.Name)
		}
	}
}

func TestDetailsText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{``, ``},
		{`{"due_on":"2024-03-11","completed_at":"2024-03-07T10:15:30.123456Z"}`,
			`Due on: 2024-03-11; Completed (UTC): 2024-03-07 10:15:30`},
		{`{"summary":"10.00","reason":"items do not add up","items":3,"summary_count":null}`,
			`Reason: items do not add up; Items: 3; Summary: 10.00`},
		{`{"zeta_value": "z", "our_status": "FAILED", "alpha": true}`, `Our status: FAILED; Alpha: true; Zeta value: z`},
		{`{"reason":"a \"quoted\" \\ word","our_status":"x"}`, `Reason: a "quoted" \ word; Our status: x`},
		{`{"reason":""}`, ``},
		{`{"nested":{"a":1}}`, `{"nested":{"a":1}}`},
		{`{"a":1,}`, `{"a":1,}`},
		{`{"a" 1}`, `{"a" 1}`},
		{`["not","an","object"]`, `["not","an","object"]`},
	} {
		if got := detailsText(json.RawMessage(c.in)); got != c.want {
			t.Errorf("detailsText(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestExportNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, dir := newTestService(t)
	in := "transactionType,transactionId,transactionRequestId,transactionAmountValue,transactionCurrency\n" +
		"CAPTURE,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",+cmd,1.00,USD\n" +
		"CAPTURE,@SUM(A1),-2,2.00,USD\n<END>\n"
	if _, err := svc.Ingest(ctx, "transactionItems_20240313_000.csv", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Run(ctx, RunRequest{Date: tue.AddDate(0, 0, 1)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	path, err := svc.Export(ctx, run.ID, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(string(MissingInLedger))
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows = %v %v", rows, err)
	}
	for _, r := range rows[1:] {
		for _, cell := range []string{r[5], r[6]} {
			if !strings.HasPrefix(cell, "'") {
				t.Errorf("cell %q is not neutralised", cell)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "recon_20240313_run"+strconv.FormatInt(run.ID, 10)+"_missing_in_ledger.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(bytes.NewReader(b)).ReadAll()
	for _, r := range recs[1:] {
		if !strings.HasPrefix(r[5], "'") || !strings.HasPrefix(r[6], "'") {
			t.Errorf("csv record %v is not neutralised", r)
		}
	}
}

// TestTightGCFollowsLiveHeap: while a workbook is built the memory limit
// stays above the live heap by the headroom however large the sheets grow
// (no collection storm), a lower limit set by the operator is kept, and the
// limit is the operator's again afterwards. Not parallel: the limit is the
// whole process's.
func TestTightGCFollowsLiveHeap(t *testing.T) {
	const operator = int64(1) << 40
	prev := debug.SetMemoryLimit(operator)
	defer debug.SetMemoryLimit(prev)

	release := tightGC()
	if got := debug.SetMemoryLimit(-1); got >= operator || got < gcBudget {
		t.Errorf("limit at the start of a build = %d, want at least the budget %d", got, gcBudget)
	}
	// Sheet buffers far beyond the budget: the limit must follow them.
	var sheets [][]byte
	for range 8 {
		sheets = append(sheets, make([]byte, 16<<20))
	}
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		metrics.Read(live)
		if debug.SetMemoryLimit(-1) >= int64(live[0].Value.Uint64())+gcHeadroom {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit %d never rose above the live heap %d + headroom", debug.SetMemoryLimit(-1), live[0].Value.Uint64())
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	runtime.KeepAlive(sheets)
	if got := debug.SetMemoryLimit(-1); got != operator {
		t.Errorf("limit after the build = %d, want the operator's %d", got, operator)
	}

	// An operator's limit below the build's budget is not raised.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	low := int64(m.Sys) + 16<<20
	debug.SetMemoryLimit(low)
	release = tightGC()
	got := debug.SetMemoryLimit(-1)
	release()
	if got != low {
		t.Errorf("limit during a build = %d, want the operator's lower %d", got, low)
	}
	if got := debug.SetMemoryLimit(-1); got != low {
		t.Errorf("limit after the build = %d, want %d", got, low)
	}
}
