package journal

import (
	"context"
	"fmt"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
)

// Sheet is the reconciliation workbook's Journal sheet: every line of the
// journals of the run's settlement date, then a row per batch of that date
// that could not be journaled, naming why (its finding), so the workbook
// shows what will be booked and what stops the period's export.
func (s *Service) Sheet() recon.Sheet {
	return recon.Sheet{
		Name: "Journal",
		Columns: []recon.SheetColumn{{Name: "Date", Sample: "2024-03-11"}, {Name: "Journal", Sample: "1000000"},
			{Name: "Batch", Sample: "20240311000000000001"}, {Name: "Currency", Sample: "USD"},
			{Name: "Line kind", Sample: string(RollForwardMismatch)}, {Name: "Debit", Sample: "1,234,567.89"},
			{Name: "Credit", Sample: "1,234,567.89"}, {Name: "Items", Sample: "1000000"},
			{Name: "Description", Sample: "Refunds of batch 20240311000000000001"}},
		Rows: func(ctx context.Context, run recon.Run, emit func([]any) error) error {
			sel := Selection{From: run.Period, To: run.Period}
			st := NewStore(s.db)
			err := st.EachJournal(ctx, sel, func(j *Journal) error {
				for _, l := range j.Lines {
					var debit, credit any
					if l.Debit != 0 {
						debit = money.Money{Minor: l.Debit, Currency: j.Currency}
					}
					if l.Credit != 0 {
						credit = money.Money{Minor: l.Credit, Currency: j.Currency}
					}
					if err := emit([]any{j.Period, j.ID, j.BatchID, j.Currency, string(l.Kind), debit, credit, l.Items, l.Description}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			c, err := st.Contents(ctx, sel)
			if err != nil {
				return fmt.Errorf("journal sheet: %w", err)
			}
			for _, f := range c.Findings {
				if err := emit([]any{run.Period, nil, f.BatchID, f.Currency, string(f.Kind), nil, nil, nil, f.Reason}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
