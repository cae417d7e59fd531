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

// PaymentBatches returns the settlement batches whose item lines name the
// payment, by its APO id or one of its transactions' (a capture, refund,
// dispute), as transactionId or originalTransactionId (both report
// generations), in batch order. Cross-domain read, justified: it reads
// payments and payment_transactions (internal/payments) to trace a payment
// to its payout in one statement. report_lines has no index on these
// columns, so it scans them: this is a page lookup, not a bulk path.
func (s *Service) PaymentBatches(ctx context.Context, paymentID string) ([]string, error) {
	const q = `WITH ids AS (
			SELECT apo_id AS id FROM payment_transactions WHERE payment_id = $1::uuid AND apo_id <> ''
			UNION SELECT apo_payment_id FROM payments WHERE id = $1::uuid AND apo_payment_id <> '')
		SELECT DISTINCT l.settlement_batch_id
		FROM report_lines l JOIN report_files f ON f.id = l.file_id AND f.kind = 'SETTLEMENT_ITEMS'
		WHERE l.settlement_batch_id <> ''
		  AND (l.transaction_id IN (SELECT id FROM ids) OR l.original_transaction_id IN (SELECT id FROM ids))
		ORDER BY 1`
	var out []string
	if err := s.db.SelectContext(ctx, &out, q, paymentID); err != nil {
		return nil, fmt.Errorf("settlement batches of payment %s: %w", paymentID, err)
	}
	return out, nil
}
