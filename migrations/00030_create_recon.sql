-- +goose Up
-- Every report file that arrived, archived whole (archive_path) with its
-- SHA-256; one row per distinct content, so a second arrival of the same bytes
-- is recognised and not ingested again.
CREATE TABLE report_files (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('TRANSACTION_ITEMS', 'SETTLEMENT_ITEMS', 'SETTLEMENT_SUMMARY')),
    format              text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    customer_id         text NOT NULL DEFAULT '',
    -- Transaction date (transaction items) or settlement date (settlement
    -- files); NULL when neither the path nor the content says.
    report_date         date,
    batch_id            text NOT NULL DEFAULT '',
    settlement_currency text NOT NULL DEFAULT '',
    seq                 integer NOT NULL DEFAULT 0,
    sha256              bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    size_bytes          bigint NOT NULL,
    archive_path        text NOT NULL,
    origin              text NOT NULL CHECK (origin IN ('upload', 'dir', 'sftp')),
    source_path         text NOT NULL DEFAULT '', -- where a scanned or pulled file was found: path under RECON_REPORTS_DIR, or sftp://host/path
    source_mtime        timestamptz,
    status              text NOT NULL CHECK (status IN ('INGESTED', 'INCOMPLETE', 'FAILED')),
    error               text NOT NULL DEFAULT '',
    line_count          integer NOT NULL DEFAULT 0,
    bad_line_count      integer NOT NULL DEFAULT 0,
    received_at         timestamptz NOT NULL,
    parse_ms            integer NOT NULL DEFAULT 0
);
CREATE INDEX report_files_date_idx ON report_files (report_date, kind) WHERE status = 'INGESTED';
CREATE INDEX report_files_batch_idx ON report_files (batch_id) WHERE batch_id <> '';
CREATE INDEX report_files_source_idx ON report_files (source_path) WHERE source_path <> '';
CREATE INDEX report_files_received_idx ON report_files (received_at DESC, id DESC);

-- One row per record of an ingested file, typed, written with COPY. Lines
-- are only ever written by the transaction that creates their file, with line
-- numbers that only grow, so (file_id, line_no) is unique by construction and
-- needs neither a primary key nor a foreign key: both cost a large share of
-- the COPY time of a million-line file (measured: a btree on (file_id,
-- line_no) alone +25%). Runs select lines by file; files are appended in id
-- order, which is what a BRIN index serves at almost no cost.
CREATE TABLE report_lines (
    file_id                         bigint NOT NULL,
    line_no                         integer NOT NULL,
    settlement_batch_id             text NOT NULL,
    customer_id                     text NOT NULL,
    acquirer                        text NOT NULL,
    transaction_type                text NOT NULL,
    transaction_id                  text NOT NULL,
    original_transaction_id         text NOT NULL,
    transaction_request_id          text NOT NULL,
    original_transaction_request_id text NOT NULL,
    payment_time                    timestamptz,
    settlement_time                 timestamptz,
    transaction_amount_minor        bigint,
    transaction_currency            text NOT NULL,
    settlement_amount_minor         bigint,
    settlement_currency             text NOT NULL,
    fee_amount_minor                bigint,
    fee_currency                    text NOT NULL,
    quote_currency_pair             text NOT NULL,
    quote_price                     numeric,
    summary_type                    text NOT NULL,
    count                           bigint,
    status                          text NOT NULL,
    card_brand                      text NOT NULL,
    extra                           jsonb -- columns not typed above (card data masked), NULL when none
);
CREATE INDEX report_lines_file_idx ON report_lines USING brin (file_id) WITH (pages_per_range = 32);

CREATE TABLE recon_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period          date NOT NULL,
    request         jsonb NOT NULL,
    input_file_ids  bigint[] NOT NULL,
    inputs          jsonb NOT NULL,      -- [{file_id, name, kind, sha256, lines}]
    status          text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    phase           text NOT NULL DEFAULT '',
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    counts          jsonb,
    totals          jsonb,
    batches         jsonb,               -- the roll-forward table, one entry per settlement batch
    diff            jsonb,
    timings         jsonb,
    previous_run_id bigint REFERENCES recon_runs (id),
    actor           text NOT NULL,
    error           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX recon_runs_period_idx ON recon_runs (period, id DESC);
CREATE INDEX recon_runs_created_idx ON recon_runs (id DESC);
CREATE INDEX recon_runs_inputs_idx ON recon_runs USING gin (input_file_ids) WHERE status = 'SUCCEEDED';

-- Each run stores the full set it found; fingerprint names a discrepancy
-- by business identity, so the same inputs give the same set and the next
-- run of the period can tell new, changed, unchanged and healed ones apart.
CREATE TABLE discrepancies (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id                  bigint NOT NULL REFERENCES recon_runs (id),
    kind                    text NOT NULL CHECK (kind IN ('MISSING_IN_LEDGER', 'MISSING_IN_REPORT', 'AMOUNT_MISMATCH',
                                'CURRENCY_MISMATCH', 'STATUS_MISMATCH', 'DUPLICATE_IN_REPORT', 'BATCH_TOTAL_MISMATCH', 'FX_MISMATCH')),
    fingerprint             text NOT NULL,
    content_hash            text NOT NULL,
    change                  text NOT NULL DEFAULT 'NEW' CHECK (change IN ('NEW', 'CHANGED', 'SAME')),
    healed_by_run_id        bigint REFERENCES recon_runs (id),
    status                  text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'RESOLVED', 'IGNORED')),
    note                    text NOT NULL DEFAULT '',
    actor                   text NOT NULL DEFAULT '',
    resolved_at             timestamptz,
    report_kind             text NOT NULL DEFAULT '',
    transaction_type        text NOT NULL DEFAULT '',
    transaction_id          text NOT NULL DEFAULT '',
    transaction_request_id  text NOT NULL DEFAULT '',
    original_transaction_id text NOT NULL DEFAULT '',
    settlement_batch_id     text NOT NULL DEFAULT '',
    payment_id              uuid,
    ledger_transaction_id   uuid,
    our_amount_minor        bigint,
    our_currency            text NOT NULL DEFAULT '',
    report_amount_minor     bigint,
    report_currency         text NOT NULL DEFAULT '',
    file_id                 bigint REFERENCES report_files (id),
    file_name               text NOT NULL DEFAULT '',
    line_no                 integer,
    details                 jsonb,
    created_at              timestamptz NOT NULL,
    UNIQUE (run_id, fingerprint)
);
CREATE INDEX discrepancies_run_kind_idx ON discrepancies (run_id, kind, id);
CREATE INDEX discrepancies_run_status_idx ON discrepancies (run_id, status, id);
CREATE INDEX discrepancies_healed_idx ON discrepancies (healed_by_run_id) WHERE healed_by_run_id IS NOT NULL;

CREATE TABLE recon_exports (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     bigint NOT NULL REFERENCES recon_runs (id),
    format     text NOT NULL CHECK (format IN ('xlsx', 'csv')),
    kind       text NOT NULL DEFAULT '', -- discrepancy kind of a CSV export
    path       text NOT NULL,
    sha256     bytea NOT NULL,
    size_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX recon_exports_run_idx ON recon_exports (run_id, id);

-- +goose Down
DROP TABLE recon_exports;
DROP TABLE discrepancies;
DROP TABLE recon_runs;
DROP TABLE report_lines;
DROP TABLE report_files;
