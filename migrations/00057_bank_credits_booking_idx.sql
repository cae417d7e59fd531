-- +goose Up
-- Payout matching reads an account's booked credits by booking date, a
-- window at a time (bank.CreditsForMatching); without this index every
-- reconciliation run scanned all of bank_entries.
CREATE INDEX bank_entries_credits_idx ON bank_entries (account_id, booking_date)
    WHERE amount_minor > 0 AND NOT reversal AND status = 'BOOK';

-- +goose Down
DROP INDEX bank_entries_credits_idx;
