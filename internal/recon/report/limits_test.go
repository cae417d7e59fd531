package report

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/benchtest"
)

// The upload shapes of issue 14 item 2, each generated on the fly. Every one
// must be refused quickly with a clear error, and reading it must not grow
// the process's peak resident memory by more than memoryBound: the bound
// README states ("Report files"), which holds under the race detector too.
// The figure measured is logged.
const memoryBound = 64 << 20

// measure runs fn and returns how far the process's peak RSS rose above
// its RSS before fn (Linux: VmHWM, reset through clear_refs), so a test
// sees its own step's peak, not the setup's.
func measure(t *testing.T, fn func()) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	benchtest.ResetPeakRSS(t)
	before := benchtest.RSS(t)
	fn()
	return benchtest.PeakRSS(t) - before
}

// refused opens and reads a file to its end and returns the error that
// ended it (a header-time error or one from Next), failing the test if
// the file was read whole.
func refused(t *testing.T, open func() (*Reader, error)) error {
	t.Helper()
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		_, err := r.Next()
		var le *LineError
		switch {
		case err == nil, errors.As(err, &le):
			continue
		case errors.Is(err, io.EOF):
			t.Fatal("the file was read whole")
		}
		return err
	}
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.xlsx")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// workbook writes a minimal .xlsx: the parts excelize needs, the sheet
// XML from sheet, and any extra entries (raw: already deflated, with the
// header as given, so it may lie about sizes).
func workbook(t testing.TB, sheet func(w io.Writer), extra ...func(zw *zip.Writer)) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "w.xlsx")
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(fh)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, body)
	}
	put("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`+
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`+
		`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`)
	put("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	put("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" `+
		`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>`+
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	sheet(w)
	_, _ = io.WriteString(w, `</sheetData></worksheet>`)
	for _, e := range extra {
		e(zw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// headerRow is a valid transactionItems header, as inline strings.
func headerRow(w io.Writer) {
	row(w, "transactionType", "transactionId", "transactionAmountValue", "transactionCurrency")
}

func row(w io.Writer, cells ...string) {
	_, _ = io.WriteString(w, "<row>")
	for _, c := range cells {
		fmt.Fprintf(w, `<c t="inlineStr"><is><t>%s</t></is></c>`, c)
	}
	_, _ = io.WriteString(w, "</row>")
}

// sharedStrings returns an extra entry: n bytes of shared strings, packed
// as deflate, under a header declaring declared bytes (n when 0).
func sharedStrings(t testing.TB, n, declared int64, pattern string) func(*zip.Writer) {
	return func(zw *zip.Writer) {
		var packed bytes.Buffer
		fw, _ := flate.NewWriter(&packed, flate.BestSpeed)
		crc := crc32.NewIEEE()
		w := io.MultiWriter(fw, crc)
		head := `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>`
		_, _ = io.WriteString(w, head)
		chunk := bytes.Repeat([]byte(pattern), (1<<20)/len(pattern))
		for left := n - int64(len(head)); left > 0; left -= int64(len(chunk)) {
			_, _ = w.Write(chunk[:min(int64(len(chunk)), left)])
		}
		_ = fw.Close()
		if declared == 0 {
			declared = n
		}
		hw, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/sharedStrings.xml", Method: zip.Deflate, CRC32: crc.Sum32(),
			CompressedSize64: uint64(packed.Len()), UncompressedSize64: uint64(declared)})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = hw.Write(packed.Bytes())
	}
}

var xlsxName = Name{Kind: TransactionItems, Format: XLSX}

// noise is n bytes of hex that do not pack well, as real ids do not.
func noise(n int) string {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = "0123456789abcdef"[x&15]
	}
	return string(b)
}

func TestZipBombsAreRefusedBeforeExcelizeUnpacks(t *testing.T) {
	tmp := t.TempDir()
	cases := []struct {
		name string
		path string
		want string
	}{
		// 1 GiB of shared strings, as the upload: refused on the
		// sizes the zip declares, nothing unpacked.
		{"declared 1 GiB", workbook(t, headerRow, sharedStrings(t, 1<<20, 1<<30, "A")), "unpack to more than 256 MiB"},
		// 32 MiB that packs 800:1.
		{"ratio", workbook(t, headerRow, sharedStrings(t, 32<<20, 0, "A")), "packs"},
		// Declares 2 MiB (a plausible ratio) but inflates to 32 MiB: caught
		// while inflating, before excelize, which would trust the header.
		{"lying header", workbook(t, headerRow, sharedStrings(t, 32<<20, 2<<20, "</t></si><si><t>A")), "unpacks to more than it declares"},
		// One cell of 2 MiB of text.
		{"huge cell", workbook(t, func(w io.Writer) { headerRow(w); row(w, noise(2<<20)) }), "without markup"},
	}
	for _, c := range cases {
		var err error
		start := time.Now()
		grew := measure(t, func() {
			err = refused(t, func() (*Reader, error) { return NewXLSX("bomb.xlsx", xlsxName, c.path, Limits{TmpDir: tmp}) })
		})
		t.Logf("%s: refused in %v, peak RSS +%.1f MiB: %v", c.name, time.Since(start).Round(time.Millisecond), float64(grew)/(1<<20), err)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "bomb.xlsx: ") {
			t.Errorf("%s: err = %v, want one naming the file and saying %q", c.name, err, c.want)
		}
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", c.name, err)
		}
		if grew > memoryBound {
			t.Errorf("%s: peak RSS grew %d MiB, bound %d MiB", c.name, grew>>20, memoryBound>>20)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("excelize left %d temporary files", len(left))
	}
}

// hugeField is a CSV whose second record is one quoted field of n bytes,
// generated as it is read.
type hugeField struct{ n, off int64 }

func (h *hugeField) Read(p []byte) (int, error) {
	const head = "transactionType,transactionId,transactionAmountValue,transactionCurrency\n\""
	if h.off >= h.n {
		return 0, io.EOF
	}
	i := 0
	for ; i < len(p) && h.off < h.n; i, h.off = i+1, h.off+1 {
		if h.off < int64(len(head)) {
			p[i] = head[h.off]
		} else {
			p[i] = 'x'
		}
	}
	return i, nil
}

func TestHugeCSVFieldIsRefusedWithBoundedMemory(t *testing.T) {
	const size = 200 << 20
	src := &hugeField{n: size}
	var err error
	start := time.Now()
	grew := measure(t, func() {
		err = refused(t, func() (*Reader, error) { return NewCSV("huge.csv", xlsxName, src, Limits{}) })
	})
	t.Logf("200 MB field: refused in %v after reading %d MiB, peak RSS +%.1f MiB: %v", time.Since(start).Round(time.Millisecond),
		src.off>>20, float64(grew)/(1<<20), err)
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "huge.csv: line 2: a record longer than 1 MiB") {
		t.Errorf("err = %v", err)
	}
	if src.off > 4<<20 {
		t.Errorf("read %d MiB before refusing", src.off>>20)
	}
	if grew > memoryBound {
		t.Errorf("peak RSS grew %d MiB, bound %d MiB", grew>>20, memoryBound>>20)
	}
}

// TestRecordBudget: a workbook with a valid header and endless rows (and a
// CSV with endless lines) stops at MaxRecords, so its cost in time is
// bounded too. The budget is lowered here to keep the input small; the
// default is 2,097,152.
func TestRecordBudget(t *testing.T) {
	const budget = 5_000
	tmp := t.TempDir()
	path := workbook(t, func(w io.Writer) {
		headerRow(w)
		for i := range 2 * budget {
			row(w, "CAPTURE", fmt.Sprintf("cap_%09d", i*7919), strconv.Itoa(i%997)+".00", "USD")
		}
	})
	var err error
	start := time.Now()
	grew := measure(t, func() {
		err = refused(t, func() (*Reader, error) {
			return NewXLSX("rows.xlsx", xlsxName, path, Limits{MaxRecords: budget, TmpDir: tmp})
		})
	})
	t.Logf("xlsx, %d rows: refused in %v, peak RSS +%.1f MiB: %v", 2*budget, time.Since(start).Round(time.Millisecond), float64(grew)/(1<<20), err)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("rows.xlsx: row %d: more than %d rows", budget+1, budget)) {
		t.Errorf("err = %v", err)
	}
	if grew > memoryBound {
		t.Errorf("peak RSS grew %d MiB, bound %d MiB", grew>>20, memoryBound>>20)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("excelize left %d temporary files", len(left))
	}

	var csv strings.Builder
	csv.WriteString("transactionType,transactionId,transactionAmountValue,transactionCurrency\n")
	for i := range 2 * budget {
		fmt.Fprintf(&csv, "CAPTURE,c%d,1.00,USD\n", i)
	}
	err = refused(t, func() (*Reader, error) {
		return NewCSV("rows.csv", xlsxName, strings.NewReader(csv.String()), Limits{MaxRecords: budget})
	})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("rows.csv: more than %d records (after line %d)", budget, budget)) {
		t.Errorf("csv: err = %v", err)
	}
}

func TestNotAZipIsRefusedQuickly(t *testing.T) {
	path := writeTemp(t, append([]byte("transactionType,transactionId,transactionAmountValue,transactionCurrency\n"),
		bytes.Repeat([]byte("CAPTURE,c1,1.00,USD\n"), 16<<20/20)...))
	var err error
	start := time.Now()
	grew := measure(t, func() {
		err = refused(t, func() (*Reader, error) { return NewXLSX("fake.xlsx", xlsxName, path, Limits{}) })
	})
	t.Logf("16 MiB CSV named .xlsx: refused in %v, peak RSS +%.1f MiB: %v", time.Since(start).Round(time.Millisecond), float64(grew)/(1<<20), err)
	if err == nil || !strings.Contains(err.Error(), "fake.xlsx: not an .xlsx workbook (zip)") {
		t.Errorf("err = %v", err)
	}
	if grew > memoryBound {
		t.Errorf("peak RSS grew %d MiB, bound %d MiB", grew>>20, memoryBound>>20)
	}
}
