-- +goose Up
-- The bank accounts APO pays out into (issue 18), configured by an admin. A
-- statement file is told to belong to an account by the IBAN or number it
-- carries, so each is unique among the accounts; remitters are the names and
-- identifiers that mark APO's credits for payout matching; csv_mapping reads
-- the account's CSV exports (internal/bank/statement.ParseMapping's JSON).
CREATE TABLE bank_accounts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL CHECK (name <> ''),
    iban                text NOT NULL DEFAULT '',
    account_number      text NOT NULL DEFAULT '',
    currency            char(3) NOT NULL,
    settlement_currency char(3) NOT NULL,
    remitters           text[] NOT NULL DEFAULT '{}',
    csv_mapping         jsonb,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (iban <> '' OR account_number <> '')
);
CREATE UNIQUE INDEX bank_accounts_iban_key ON bank_accounts (iban) WHERE iban <> '';
CREATE UNIQUE INDEX bank_accounts_number_key ON bank_accounts (account_number) WHERE account_number <> '';

-- One row per statement read from an accepted file (a camt.053 <Stmt>, an
-- MT940 message, a CSV file); a file refused for a bad line leaves no row.
-- The file's SHA-256 is on each of its statements: the same content arriving
-- again is recognised by it. A statement is the same statement when its
-- account, id, sequence and first day are: the first day keeps apart the
-- statements of German banks that write :20:STARTUMSE in every file and
-- restart their :28C: numbers each year.
CREATE TABLE bank_statements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES bank_accounts (id),
    format          text NOT NULL CHECK (format IN ('camt.053', 'MT940', 'CSV')),
    statement_id    text NOT NULL,
    sequence        text NOT NULL DEFAULT '',
    from_date       date NOT NULL,
    to_date         date NOT NULL CHECK (to_date >= from_date),
    currency        char(3) NOT NULL,
    -- Signed balances in minor units of currency; NULL when the statement
    -- carries none (a CSV export without them).
    opening_minor   bigint,
    opening_date    date,
    closing_minor   bigint,
    closing_date    date,
    bank_created_at timestamptz, -- camt CreDtTm; MT940 and CSV have none
    entry_count     integer NOT NULL,
    line            integer NOT NULL, -- where the statement starts in its file
    file_sha256     bytea NOT NULL CHECK (length(file_sha256) = 32),
    file_name       text NOT NULL,
    file_size       bigint NOT NULL,
    source          text NOT NULL CHECK (source IN ('upload', 'dir')),
    source_path     text NOT NULL DEFAULT '', -- a scanned file's path under the drop directory
    source_mtime    timestamptz,
    -- OK, FINDINGS (it has rows in bank_statement_findings) or UNCHECKED (no
    -- balances: its sum and chaining could not be checked); kept with the
    -- findings, which a later statement of the account may change.
    status          text NOT NULL CHECK (status IN ('OK', 'FINDINGS', 'UNCHECKED')),
    created_at      timestamptz NOT NULL,
    UNIQUE (account_id, statement_id, sequence, from_date)
);
CREATE INDEX bank_statements_sha256_idx ON bank_statements (file_sha256);
CREATE INDEX bank_statements_chain_idx ON bank_statements (account_id, from_date, to_date, id);
-- Hash indexes where a value is only ever looked up whole and may be longer
-- than a B-tree entry can hold (a deep path, a 4 KiB reference).
CREATE INDEX bank_statements_source_idx ON bank_statements USING hash (source_path) WHERE source_path <> '';

-- The bookings of a statement, written with COPY in the statement's
-- transaction. account_id repeats the statement's, so that payout matching
-- finds a credit by (account, amount, date) without a join. Amounts are
-- signed: a credit is positive. transactions holds a batched camt entry's
-- details (each with its own references and amount), NULL otherwise.
CREATE TABLE bank_entries (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    statement_id         bigint NOT NULL REFERENCES bank_statements (id),
    account_id           bigint NOT NULL,
    seq                  integer NOT NULL, -- position in the statement, from 1
    line                 integer NOT NULL,
    booking_date         date,
    value_date           date,
    amount_minor         bigint NOT NULL,
    currency             char(3) NOT NULL,
    reversal             boolean NOT NULL,
    status               text NOT NULL, -- BOOK, or camt's PDNG / INFO
    end_to_end_id        text NOT NULL,
    account_servicer_ref text NOT NULL,
    reference            text NOT NULL,
    remittance_info      text NOT NULL,
    creditor_ref         text NOT NULL,
    counterparty_name    text NOT NULL,
    counterparty_account text NOT NULL,
    bank_tx_code         text NOT NULL,
    info                 text NOT NULL,
    transactions         jsonb,
    UNIQUE (statement_id, seq)
);
-- Matching by reference: a batch id or payout reference in the end-to-end id,
-- the account owner's reference, or a structured creditor reference, each
-- looked up whole (hash indexes: a reference may be up to 4 KiB, beyond what
-- a B-tree entry holds). Text in the remittance information is searched among
-- an account's candidates by (account, amount, date), not through an index.
CREATE INDEX bank_entries_end_to_end_idx ON bank_entries USING hash (end_to_end_id) WHERE end_to_end_id <> '';
CREATE INDEX bank_entries_reference_idx ON bank_entries USING hash (reference) WHERE reference <> '';
CREATE INDEX bank_entries_creditor_ref_idx ON bank_entries USING hash (creditor_ref) WHERE creditor_ref <> '';
CREATE INDEX bank_entries_amount_idx ON bank_entries (account_id, amount_minor, booking_date);

-- What statement.Check found: entries that do not add up to the balances, a
-- balance that does not chain from the previous statement, days no statement
-- covers. A finding belongs to the later statement of a pair and is replaced
-- when a statement arriving later changes its neighbours.
CREATE TABLE bank_statement_findings (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    statement_id          bigint NOT NULL REFERENCES bank_statements (id),
    kind                  text NOT NULL CHECK (kind IN ('STATEMENT_SUM_MISMATCH', 'STATEMENT_BALANCE_BREAK', 'STATEMENT_DAY_MISSING')),
    line                  integer NOT NULL,
    previous_statement_id bigint REFERENCES bank_statements (id),
    -- Sum: closing − opening and the entries' sum; break: the previous
    -- closing and this opening. NULL when not amounts (a missing day, a sum
    -- that could not be added up).
    expected_minor        bigint,
    actual_minor          bigint,
    currency              char(3),
    missing_from          date,
    missing_to            date,
    detail                text NOT NULL,
    created_at            timestamptz NOT NULL
);
CREATE INDEX bank_statement_findings_statement_idx ON bank_statement_findings (statement_id);

-- +goose Down
DROP TABLE bank_statement_findings;
DROP TABLE bank_entries;
DROP TABLE bank_statements;
DROP TABLE bank_accounts;
