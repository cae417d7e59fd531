package journal

import (
	"context"
	"fmt"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payout"
)

// ReceiptSource is what receipts are booked from: the payouts a run's bank
// credits paid. *payout.Service satisfies it.
type ReceiptSource interface {
	Receipts(ctx context.Context, runID int64) ([]payout.Receipt, error)
}

// SetReceipts makes BuildRun also book a receipt journal for every payout
// the run's credits paid. Call it while wiring, before the service runs.
func (s *Service) SetReceipts(src ReceiptSource) { s.receipts = src }

// receiptJournal books a paid payout: Dr BANK what the bank credited, Dr
// BANK_FEE what intermediaries kept within tolerance (a credit when the
// bank paid over, within tolerance), Cr PAYOUT_CLEARING the payout the
// batch's settlement journal debited. It is dated the booking date of the
// credit that completed the payout.
func receiptJournal(r payout.Receipt) (Journal, error) {
	if r.Amount <= 0 || r.Received <= 0 || r.BookingDate.IsZero() {
		return Journal{}, fmt.Errorf("receipt of payout %d (batch %s %s): amount %d, received %d, booked %s",
			r.PayoutID, r.BatchID, r.Currency, r.Amount, r.Received, r.BookingDate)
	}
	fee, ok := add(r.Amount, -r.Received)
	if !ok {
		return Journal{}, fmt.Errorf("receipt of payout %d: fee overflows", r.PayoutID)
	}
	amt := func(minor int64) string { return money.FormatMajor(money.Money{Minor: minor, Currency: r.Currency}) }
	j := Journal{Type: Receipt, BatchID: r.BatchID, Currency: r.Currency, Period: r.BookingDate, RunID: r.RunID,
		Payout: r.Amount, Items: r.Credits}
	j.Lines = append(j.Lines, Line{Kind: Bank, Debit: r.Received, Items: r.Credits,
		Description: fmt.Sprintf("BANK: %s %s credited for APO payout %s (%s)", amt(r.Received), r.Currency, r.BatchID, r.Status)})
	switch {
	case fee > 0:
		j.Lines = append(j.Lines, Line{Kind: BankFee, Debit: fee,
			Description: fmt.Sprintf("BANK_FEE: %s %s kept by intermediary banks", amt(fee), r.Currency)})
	case fee < 0:
		j.Lines = append(j.Lines, Line{Kind: BankFee, Credit: -fee,
			Description: fmt.Sprintf("BANK_FEE: %s %s credited beyond the payout, within tolerance", amt(-fee), r.Currency)})
	}
	j.Lines = append(j.Lines, Line{Kind: PayoutClearing, Credit: r.Amount, Items: r.Credits,
		Description: fmt.Sprintf("PAYOUT_CLEARING: APO payout %s %s cleared", r.BatchID, r.Currency)})
	return j, nil
}
