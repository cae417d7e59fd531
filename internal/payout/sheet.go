package payout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
)

// Sheet is the reconciliation workbook's Payouts sheet: the payouts of
// the run's settlement date (its batches, on their way to the bank) and
// those due on it (judged by this run), each with its status as of today,
// what the bank paid, the fee kept on the way, and the credits that paid
// it, so a batch can be followed to the bank line in the workbook alone.
func (s *Service) Sheet() recon.Sheet {
	return recon.Sheet{
		Name: "Payouts",
		Columns: []recon.SheetColumn{{Name: "Batch", Sample: "20240311000000000001"}, {Name: "Currency", Sample: "USD"},
			{Name: "Payout", Sample: "1,234,567.89"}, {Name: "Settled", Sample: "2024-03-11"}, {Name: "Due", Sample: "2024-03-13"},
			{Name: "Status", Sample: string(StatusAwaitingStatement)}, {Name: "Received", Sample: "1,234,567.89"},
			{Name: "Bank fee", Sample: "1,234.56"}, {Name: "Difference", Sample: "-1,234.56"},
			{Name: "Bank credits", Sample: "2024-03-13 1,234,567.89 REFERENCE DE89370400440532013000/20240313.xml"}},
		Rows: func(ctx context.Context, run recon.Run, emit func([]any) error) error {
			ps, err := NewStore(s.db).ofDay(ctx, run.Period)
			if err != nil {
				return fmt.Errorf("payouts sheet: %w", err)
			}
			credits, err := s.deriveCredits(ctx, ps)
			if err != nil {
				return fmt.Errorf("payouts sheet: %w", err)
			}
			for _, p := range ps {
				m := func(minor int64) money.Money { return money.Money{Minor: minor, Currency: p.Currency} }
				var paid []string
				for _, l := range p.Links {
					c := credits[l.EntryID]
					what := string(l.Method)
					if l.Duplicate {
						what = "DUPLICATE"
					}
					paid = append(paid, fmt.Sprintf("%s %s %s %s", c.BookingDate.Format(time.DateOnly),
						money.FormatMajor(m(l.Amount)), what, c.FileName))
				}
				var received, fee, diff any
				if len(p.Links) > 0 {
					received, diff = m(p.Received), m(p.Received-p.Amount)
				}
				if p.Fee != 0 {
					fee = m(p.Fee)
				}
				if err := emit([]any{p.BatchID, p.Currency, m(p.Amount), p.SettlementDate, p.DueDate, string(p.Status),
					received, fee, diff, strings.Join(paid, "; ")}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
