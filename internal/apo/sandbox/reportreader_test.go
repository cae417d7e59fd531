package sandbox

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// This file is a test-only reader of the report files, written from the
// format description rather than from the writer: it finds columns by
// header name, requires the <END> trailer to be last, and turns amounts
// back into minor units exactly.

// sheet is one parsed report file.
type sheet struct {
	name    string
	header  []string
	rows    []sheetRow
	trailer bool
}

// sheetRow is one data row with its physical line (row) number.
type sheetRow struct {
	line int
	raw  []string
	cols map[string]string
}

func (r sheetRow) get(col string) string { return r.cols[col] }

// readSheet parses a .csv or .xlsx report file.
func readSheet(t *testing.T, path string) sheet {
	t.Helper()
	var recs [][]string
	var lines []int
	if strings.HasSuffix(path, ".xlsx") {
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetName(0), excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatalf("rows of %s: %v", path, err)
		}
		for i, r := range rows {
			recs, lines = append(recs, r), append(lines, i+1)
		}
	} else {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		defer fh.Close()
		cr := csv.NewReader(fh)
		cr.FieldsPerRecord = -1
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			l, _ := cr.FieldPos(0)
			recs, lines = append(recs, rec), append(lines, l)
		}
	}
	if len(recs) == 0 {
		t.Fatalf("%s is empty", path)
	}
	s := sheet{name: filepath.Base(path), header: recs[0]}
	for i, rec := range recs[1:] {
		if s.trailer {
			t.Fatalf("%s: line %d after <END>", path, lines[i+1])
		}
		if len(rec) == 1 && rec[0] == "<END>" {
			s.trailer = true
			continue
		}
		if len(rec) != len(s.header) {
			t.Fatalf("%s: line %d has %d fields, header %d", path, lines[i+1], len(rec), len(s.header))
		}
		row := sheetRow{line: lines[i+1], raw: rec, cols: map[string]string{}}
		for j, h := range s.header {
			row.cols[h] = rec[j]
		}
		s.rows = append(s.rows, row)
	}
	return s
}

// minorOf reads a major-unit amount of ccy back into minor units,
// insisting on exactly the currency's number of decimals.
func minorOf(t *testing.T, v, ccy string) int64 {
	t.Helper()
	exp, ok := map[string]int{"JPY": 0, "KRW": 0, "USD": 2, "EUR": 2, "SGD": 2, "GBP": 2, "KWD": 3, "BHD": 3}[ccy]
	if !ok {
		t.Fatalf("test reader does not know %s", ccy)
	}
	neg := strings.HasPrefix(v, "-")
	digits := strings.TrimPrefix(v, "-")
	whole, frac, point := strings.Cut(digits, ".")
	if (exp == 0 && point) || (exp > 0 && len(frac) != exp) || whole == "" {
		t.Fatalf("amount %q is not written with the %d decimals of %s", v, exp, ccy)
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", v, err)
	}
	if neg {
		n = -n
	}
	return n
}

// key identifies an item line: its type and transaction id.
func (r sheetRow) key() string { return r.get("transactionType") + "/" + r.get("transactionId") }
