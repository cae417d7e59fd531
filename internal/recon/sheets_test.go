package recon

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
)

// TestExportExtraSheet: a sheet another package adds follows the
// discrepancy sheets, with its header, typed cells (amounts as numbers in
// their currency's decimals, dates, integers) and formula-safe text; a row
// of the wrong width or a value of an unknown type fails the export naming
// the sheet.
func TestExportExtraSheet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, dir := newTestService(t)
	in := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,x1,1.00,USD\n<END>\n"
	if _, err := svc.Ingest(ctx, "transactionItems_20240313_000.csv", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Run(ctx, RunRequest{Date: tue.AddDate(0, 0, 1)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var bad any
	svc.AddSheet(Sheet{Name: "Payouts", Columns: []SheetColumn{{"Batch", "B1"}, {"Amount", "1,000.000"}, {"Due", "2024-03-13"}, {"Items", "10"}},
		Rows: func(_ context.Context, r Run, emit func([]any) error) error {
			if r.ID != run.ID {
				return errors.New("another run")
			}
			if err := emit([]any{"=cmd", money.Money{Minor: 123456, Currency: "KWD"}, time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC), int64(7)}); err != nil {
				return err
			}
			if bad != nil {
				return emit([]any{"x", bad, nil, 1})
			}
			return emit([]any{"B2", nil, nil, 1})
		}})
	path, err := svc.Export(ctx, run.ID, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if sheets[len(sheets)-1] != "Payouts" || sheets[len(sheets)-2] != string(Kinds[len(Kinds)-1]) {
		t.Fatalf("sheets %v", sheets)
	}
	rows, err := f.GetRows("Payouts")
	if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != "Batch,Amount,Due,Items" {
		t.Fatalf("rows %v %v", rows, err)
	}
	if rows[1][0] != "'=cmd" || rows[1][1] != "123.456" || rows[1][2] != "2024-03-13" || rows[1][3] != "7" || rows[2][0] != "B2" {
		t.Errorf("row %v, %v", rows[1], rows[2])
	}
	if typ, _ := f.GetCellType("Payouts", "B2"); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("amount is text")
	}

	bad = 1.5 // no floats in a sheet: money is money.Money
	if _, err := svc.Export(ctx, run.ID, filepath.Join(dir, "out2")); err == nil || !strings.Contains(err.Error(), "sheet Payouts") {
		t.Errorf("export with a float cell: %v", err)
	}
}
