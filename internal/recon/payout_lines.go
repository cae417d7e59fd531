package recon

import (
	"context"
	"fmt"
)

// The reads the payout page makes (internal/payout): the lines of one
// batch, and the batches that settled a payment.

// LinesOfBatch returns the settlement item lines of one batch of run, as
// BatchLines reads them.
func (s *Service) LinesOfBatch(ctx context.Context, runID int64, batchID, currency string) ([]BatchLine, error) {
	run, err := NewStore(s.db).Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	var out []BatchLine
	err = NewStore(s.db).BatchLines(ctx, run, func(l *BatchLine) error {
		if l.BatchID == batchID && l.Currency == currency {
			out = append(out, *l)
		}
		return nil
	})
	return out, err
}

// PaymentBatches returns the settlement batches whose item lines carry one
// of the payment's transactions (its capture, refunds, disputes), in batch
// order. Cross-domain read, justified: it joins payment_transactions
// (internal/payments) to report_lines to trace a payment to its payout
// in one statement.
func (s *Service) PaymentBatches(ctx context.Context, paymentID string) ([]string, error) {
	const q = `SELECT DISTINCT l.settlement_batch_id
		FROM payment_transactions t
		JOIN report_lines l ON l.transaction_id = t.apo_id AND l.settlement_batch_id <> ''
		JOIN report_files f ON f.id = l.file_id AND f.kind = 'SETTLEMENT_ITEMS'
		WHERE t.payment_id = $1::uuid AND t.apo_id <> ''
		ORDER BY 1`
	var out []string
	if err := s.db.SelectContext(ctx, &out, q, paymentID); err != nil {
		return nil, fmt.Errorf("settlement batches of payment %s: %w", paymentID, err)
	}
	return out, nil
}
