-- +goose Up
-- Expected payouts (issue 18): one per settlement batch and currency with a
-- positive settlementSummary, registered by the first run that rolls the
-- batch forward. settlement_date is that run's period, due_date the payout
-- calendar's T+N business days; account_id is the bank account whose
-- settlement currency is the batch's, NULL when none is configured (then the
-- payout is not matched to the bank).
CREATE TABLE payouts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        text NOT NULL CHECK (batch_id <> ''),
    currency        char(3) NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    settlement_date date NOT NULL,
    due_date        date NOT NULL CHECK (due_date >= settlement_date),
    account_id      bigint REFERENCES bank_accounts (id),
    run_id          bigint NOT NULL REFERENCES recon_runs (id),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (batch_id, currency)
);
CREATE INDEX payouts_due_idx ON payouts (due_date, id);
CREATE INDEX payouts_account_idx ON payouts (account_id, due_date) WHERE account_id IS NOT NULL;

-- The bank credits that paid a payout. A credit may pay several payouts
-- (1:N) and a payout may be paid by several credits (N:1); a credit naming
-- a payout that other credits had already paid in full is kept as a
-- duplicate. fee_minor is what an intermediary bank kept, within the
-- currency's tolerance, booked as a fee rather than a break. Links are
-- sticky: later runs keep them.
CREATE TABLE payout_credits (
    payout_id       bigint NOT NULL REFERENCES payouts (id),
    entry_id        bigint NOT NULL REFERENCES bank_entries (id),
    amount_minor    bigint NOT NULL,
    method          text NOT NULL CHECK (method IN ('REFERENCE', 'AMOUNT', 'AMOUNT_GROUP')),
    duplicate       boolean NOT NULL DEFAULT false,
    fee_minor       bigint NOT NULL DEFAULT 0 CHECK (fee_minor >= 0),
    run_id          bigint NOT NULL REFERENCES recon_runs (id),
    created_at      timestamptz NOT NULL,
    -- The credit's booking date, so that a run reads back only the credits
    -- of its window that no payout has claimed yet.
    booked_on       date NOT NULL,
    PRIMARY KEY (payout_id, entry_id)
);
CREATE INDEX payout_credits_entry_idx ON payout_credits (entry_id);
CREATE INDEX payout_credits_booked_idx ON payout_credits (booked_on);

ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check CHECK (kind IN ('MISSING_IN_LEDGER',
    'MISSING_IN_REPORT', 'AMOUNT_MISMATCH', 'CURRENCY_MISMATCH', 'STATUS_MISMATCH', 'DUPLICATE_IN_REPORT',
    'BATCH_TOTAL_MISMATCH', 'FX_MISMATCH', 'PAYOUT_NOT_RECEIVED', 'PAYOUT_AMOUNT_MISMATCH', 'PAYOUT_LATE',
    'BANK_CREDIT_UNEXPLAINED', 'PAYOUT_DUPLICATED'));

-- +goose Down
-- The payout breaks go with the tables that found them; the old constraint
-- would refuse them.
DELETE FROM discrepancies WHERE kind IN ('PAYOUT_NOT_RECEIVED', 'PAYOUT_AMOUNT_MISMATCH', 'PAYOUT_LATE',
    'BANK_CREDIT_UNEXPLAINED', 'PAYOUT_DUPLICATED');
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_kind_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_kind_check CHECK (kind IN ('MISSING_IN_LEDGER',
    'MISSING_IN_REPORT', 'AMOUNT_MISMATCH', 'CURRENCY_MISMATCH', 'STATUS_MISMATCH', 'DUPLICATE_IN_REPORT',
    'BATCH_TOTAL_MISMATCH', 'FX_MISMATCH'));
DROP TABLE payout_credits;
DROP TABLE payouts;
