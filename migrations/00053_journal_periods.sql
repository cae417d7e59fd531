-- +goose Up
-- Accounting periods are calendar months (month is its first day). A month
-- without a row is open. Saving a journal takes its month's row FOR SHARE
-- (creating it open if need be), and closing updates it, so a run and a
-- close racing on a month cannot both win.
CREATE TABLE journal_periods (
    month         date PRIMARY KEY CHECK (month = date_trunc('month', month)::date),
    status        text NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    closed_at     timestamptz,
    closed_by     text NOT NULL DEFAULT '',
    reopened_at   timestamptz,
    reopened_by   text NOT NULL DEFAULT '',
    reopen_reason text NOT NULL DEFAULT '',
    CHECK (reopened_at IS NULL OR reopen_reason <> '')
);

-- A change to a journal of a closed month is booked as an adjustment: a
-- journal of the difference, dated in the first open month, linked to the
-- journal it adjusts. A batch keeps one journal of its own; its
-- adjustments share its batch and currency.
ALTER TABLE journals ADD COLUMN adjusts_journal_id bigint REFERENCES journals (id);
ALTER TABLE journals DROP CONSTRAINT journals_batch_id_currency_key;
CREATE UNIQUE INDEX journals_batch_key ON journals (batch_id, currency) WHERE adjusts_journal_id IS NULL;
CREATE INDEX journals_adjusts_idx ON journals (adjusts_journal_id) WHERE adjusts_journal_id IS NOT NULL;

-- +goose Down
DROP INDEX journals_adjusts_idx;
DROP INDEX journals_batch_key;
DELETE FROM journals WHERE adjusts_journal_id IS NOT NULL;
ALTER TABLE journals DROP COLUMN adjusts_journal_id;
ALTER TABLE journals ADD CONSTRAINT journals_batch_id_currency_key UNIQUE (batch_id, currency);
DROP TABLE journal_periods;
