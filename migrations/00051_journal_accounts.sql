-- +goose Up
-- The merchant's chart of accounts for journals: the GL account each line
-- kind is booked to, in every currency ('') or in one (which wins). An
-- export whose journals hold a kind without a row here stops and names it:
-- nothing is ever booked to a default account.
CREATE TABLE journal_accounts (
    kind            text NOT NULL,
    currency        text NOT NULL DEFAULT '' CHECK (currency = '' OR currency ~ '^[A-Z]{3}$'),
    account_code    text NOT NULL CHECK (account_code <> ''),
    account_name    text NOT NULL DEFAULT '',
    tax_code        text NOT NULL DEFAULT '',
    tracking_name   text NOT NULL DEFAULT '',
    tracking_option text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (kind, currency)
);

-- One journal per settlement batch and currency, whichever run built it.
-- The key makes a replay of the same run a no-op, lets a later run of the
-- same period rebuild the journal in place (same id: exports keep its
-- number), and keeps a batch repeated in a later period's reports from
-- being booked twice. A batch that cannot be journaled keeps its finding
-- (status, reason) and no lines.
CREATE TABLE journals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id     text NOT NULL,
    currency     char(3) NOT NULL,
    period       date NOT NULL, -- the settlement date of the run that built it: the journal's date
    run_id       bigint NOT NULL REFERENCES recon_runs (id),
    status       text NOT NULL CHECK (status IN ('BALANCED', 'JOURNAL_UNBALANCED', 'JOURNAL_ROLLFORWARD_MISMATCH')),
    reason       text NOT NULL DEFAULT '',
    payout_minor bigint NOT NULL,
    debit_minor  bigint NOT NULL,
    credit_minor bigint NOT NULL,
    items        bigint NOT NULL, -- settlement lines behind it
    built_at     timestamptz NOT NULL,
    UNIQUE (batch_id, currency),
    CHECK (status <> 'BALANCED' OR debit_minor = credit_minor)
);
CREATE INDEX journals_period_idx ON journals (period, batch_id, currency);

CREATE TABLE journal_lines (
    journal_id   bigint NOT NULL REFERENCES journals (id) ON DELETE CASCADE,
    line_no      integer NOT NULL,
    kind         text NOT NULL,
    debit_minor  bigint NOT NULL CHECK (debit_minor >= 0),
    credit_minor bigint NOT NULL CHECK (credit_minor >= 0),
    items        bigint NOT NULL,
    description  text NOT NULL,
    PRIMARY KEY (journal_id, line_no),
    CHECK ((debit_minor = 0) <> (credit_minor = 0))
);

-- +goose Down
DROP TABLE journal_lines;
DROP TABLE journals;
DROP TABLE journal_accounts;
