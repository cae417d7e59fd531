-- +goose Up
-- A payout the bank paid is booked as a receipt journal (issue 18): Dr the
-- bank, Dr the bank fee kept, Cr the payout's clearing account. It is one
-- per payout, so one per (batch, currency) like the batch's settlement
-- journal: the type joins the key. Adjustments keep their journal's type.
ALTER TABLE journals ADD COLUMN journal_type text NOT NULL DEFAULT 'SETTLEMENT'
    CHECK (journal_type IN ('SETTLEMENT', 'RECEIPT'));
DROP INDEX journals_batch_key;
CREATE UNIQUE INDEX journals_batch_key ON journals (batch_id, currency, journal_type) WHERE adjusts_journal_id IS NULL;

-- +goose Down
DELETE FROM journals WHERE journal_type = 'RECEIPT' AND adjusts_journal_id IS NOT NULL;
DELETE FROM journals WHERE journal_type = 'RECEIPT';
DROP INDEX journals_batch_key;
CREATE UNIQUE INDEX journals_batch_key ON journals (batch_id, currency) WHERE adjusts_journal_id IS NULL;
ALTER TABLE journals DROP COLUMN journal_type;
