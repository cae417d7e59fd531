-- +goose Up
-- A batch that cannot be journaled (its journal does not balance, or does
-- not tie to the batch's roll-forward) is a discrepancy of the run that
-- found it, like any other break (issue 18).
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check CHECK (kind IN ('MISSING_IN_LEDGER',
    'MISSING_IN_REPORT', 'AMOUNT_MISMATCH', 'CURRENCY_MISMATCH', 'STATUS_MISMATCH', 'DUPLICATE_IN_REPORT',
    'BATCH_TOTAL_MISMATCH', 'FX_MISMATCH', 'PAYOUT_NOT_RECEIVED', 'PAYOUT_AMOUNT_MISMATCH', 'PAYOUT_LATE',
    'BANK_CREDIT_UNEXPLAINED', 'PAYOUT_DUPLICATED', 'JOURNAL_UNBALANCED', 'JOURNAL_ROLLFORWARD_MISMATCH'));

-- +goose Down
-- The journal breaks go: the old constraint would refuse them.
DELETE FROM discrepancies WHERE kind IN ('JOURNAL_UNBALANCED', 'JOURNAL_ROLLFORWARD_MISMATCH');
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check CHECK (kind IN ('MISSING_IN_LEDGER',
    'MISSING_IN_REPORT', 'AMOUNT_MISMATCH', 'CURRENCY_MISMATCH', 'STATUS_MISMATCH', 'DUPLICATE_IN_REPORT',
    'BATCH_TOTAL_MISMATCH', 'FX_MISMATCH', 'PAYOUT_NOT_RECEIVED', 'PAYOUT_AMOUNT_MISMATCH', 'PAYOUT_LATE',
    'BANK_CREDIT_UNEXPLAINED', 'PAYOUT_DUPLICATED'));
