package sandbox

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"

	"github.com/xuri/excelize/v2"
)

// sheetWriter writes the rows of one report file, streaming.
type sheetWriter interface {
	write(rec []string) error
	close() error
}

func newSheetWriter(format, path string) (sheetWriter, error) {
	if format == "xlsx" {
		return newXLSXWriter(path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	return &csvWriter{f: f, bw: bw, w: csv.NewWriter(bw)}, nil
}

// csvWriter writes UTF-8 CSV with LF line ends, quoting only where needed.
type csvWriter struct {
	f  *os.File
	bw *bufio.Writer
	w  *csv.Writer
}

func (c *csvWriter) write(rec []string) error { return c.w.Write(rec) }

func (c *csvWriter) close() error {
	c.w.Flush()
	err := c.w.Error()
	if ferr := c.bw.Flush(); err == nil {
		err = ferr
	}
	if serr := c.f.Sync(); err == nil {
		err = serr
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// xlsxWriter writes the first sheet of a workbook with excelize's
// StreamWriter, which keeps rows on disk rather than in memory. Every
// cell is text, amounts included, so "42.00" stays exactly as written.
type xlsxWriter struct {
	path string
	f    *excelize.File
	sw   *excelize.StreamWriter
	row  int
	vals []any
}

func newXLSXWriter(path string) (*xlsxWriter, error) {
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &xlsxWriter{path: path, f: f, sw: sw}, nil
}

func (x *xlsxWriter) write(rec []string) error {
	x.row++
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	x.vals = x.vals[:0]
	for _, v := range rec {
		x.vals = append(x.vals, excelize.Cell{Value: v})
	}
	return x.sw.SetRow(cell, x.vals)
}

func (x *xlsxWriter) close() error {
	err := x.sw.Flush()
	if err == nil {
		err = x.f.SaveAs(x.path)
	}
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", x.path, err)
	}
	return nil
}
