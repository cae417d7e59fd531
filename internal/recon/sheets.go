package recon

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
)

// Sheet is a workbook sheet that another package writes for a run, after
// the discrepancy sheets: the run's payouts and the bank credits that paid
// them, its journals. recon lays it out like its own sheets (header row,
// print setup, filter buttons, amounts in their currency's decimals) and
// streams its rows. Register one with AddSheet.
type Sheet struct {
	Name    string // the sheet's tab; at most 31 characters
	Columns []SheetColumn
	// Rows calls emit with each row of the run's sheet, in order. A row
	// holds one value per column: a string (made formula-safe), a
	// money.Money (a number in its currency's decimals), a time.Time (a
	// date at UTC midnight, else a date-time in UTC), an int or int64, or
	// nil for an empty cell.
	Rows func(ctx context.Context, run Run, emit func(row []any) error) error
}

// SheetColumn is a column of a Sheet: its header and a typical value,
// which set its width with the header's.
type SheetColumn struct{ Name, Sample string }

// AddSheet adds a sheet to every workbook the service writes. Call it
// while wiring, before the service is used.
func (s *Service) AddSheet(sh Sheet) {
	s.sheets = append(s.sheets, sh)
}

func writeExtraSheet(ctx context.Context, f *excelize.File, st styles, run Run, sh Sheet) error {
	if _, err := f.NewSheet(sh.Name); err != nil {
		return err
	}
	if err := printSetup(f, sh.Name, run); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sh.Name)
	if err != nil {
		return err
	}
	header := make([]any, len(sh.Columns))
	for i, c := range sh.Columns {
		w := max(headerWidth(utf8.RuneCountInString(c.Name)), textWidth(utf8.RuneCountInString(c.Sample)))
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
		header[i] = excelize.Cell{StyleID: st.header, Value: c.Name}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	row := 1
	err = sh.Rows(ctx, run, func(vals []any) error {
		if len(vals) != len(sh.Columns) {
			return fmt.Errorf("row of %d values for %d columns", len(vals), len(sh.Columns))
		}
		cells := make([]any, len(vals))
		for i, v := range vals {
			c, err := st.extraCell(v)
			if err != nil {
				return fmt.Errorf("column %q: %w", sh.Columns[i].Name, err)
			}
			cells[i] = c
		}
		row++
		cell, _ := excelize.CoordinatesToCellName(1, row)
		return sw.SetRow(cell, cells)
	})
	if err != nil {
		return err
	}
	last, _ := excelize.CoordinatesToCellName(len(sh.Columns), max(row, 2))
	if err := sw.AddTable(&excelize.Table{Range: "A1:" + last, Name: "t_" + tableName(sh.Name),
		StyleName: "TableStyleLight9"}); err != nil {
		return err
	}
	return sw.Flush()
}

// extraCell is the cell of one value of an extra sheet's row.
func (st styles) extraCell(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return text(v), nil
	case money.Money:
		return st.amountCell(v), nil
	case time.Time:
		if v.IsZero() {
			return nil, nil
		}
		if u := v.UTC(); u.Equal(day(u)) {
			return excelize.Cell{StyleID: st.date, Value: u}, nil
		}
		return st.timeCell(&v, st.datetime), nil
	case int:
		return excelize.Cell{StyleID: st.integer, Value: v}, nil
	case int64:
		return excelize.Cell{StyleID: st.integer, Value: v}, nil
	}
	return nil, fmt.Errorf("value of type %T", v)
}

// tableName is a sheet's name as an Excel table name: letters, digits and
// underscores.
func tableName(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b = append(b, r)
		case r >= 'A' && r <= 'Z':
			b = append(b, r-'A'+'a')
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}
