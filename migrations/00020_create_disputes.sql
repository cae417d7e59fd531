-- +goose Up
-- One row per APO dispute (chargeback, retrieval or compliance request).
-- A dispute whose payment we cannot find is still stored, with payment_id
-- NULL and needs_attention set: a notification is never dropped.
-- Fields APO may leave out of the first notification we see (notifications
-- can arrive out of order) are nullable or default to '' / 0.
CREATE TABLE disputes (
    id                     uuid PRIMARY KEY,
    apo_dispute_id         text NOT NULL UNIQUE CHECK (apo_dispute_id <> ''),
    payment_id             uuid REFERENCES payments (id),
    apo_payment_id         text NOT NULL DEFAULT '',
    payment_request_id     text NOT NULL DEFAULT '',
    capture_id             text NOT NULL DEFAULT '',
    -- APO's enums are stored as sent (CHARGEBACK, RETRIEVAL_REQUEST,
    -- COMPLIANCE_REQUEST); an unknown value is kept and flagged, not refused.
    type                   text NOT NULL DEFAULT '',
    reason_code            text NOT NULL DEFAULT '',
    reason_message         text NOT NULL DEFAULT '',
    source                 text NOT NULL DEFAULT '',
    arn                    text NOT NULL DEFAULT '',
    amount_minor           bigint NOT NULL DEFAULT 0 CHECK (amount_minor >= 0),
    currency               text NOT NULL DEFAULT '' CHECK (currency = '' OR currency ~ '^[A-Z]{3}$'),
    status                 text NOT NULL CHECK (status IN ('OPEN', 'DEFENSE_SUPPLIED', 'ACCEPTED', 'WON', 'LOST',
                               'CANCELLED', 'EXPIRED_UNDEFENDED')),
    dispute_time           timestamptz,
    defense_due_time       timestamptz,
    defendable             boolean,
    auto_defend_reason     text NOT NULL DEFAULT '',
    judged_result          text NOT NULL DEFAULT '',
    judged_amount_minor    bigint CHECK (judged_amount_minor >= 0),
    judged_currency        text NOT NULL DEFAULT '',
    judged_time            timestamptz,
    accept_reason          text NOT NULL DEFAULT '',
    accept_time            timestamptz,
    -- What this dispute cost us once conceded or lost; the sum over a
    -- payment's disputes is what payments holds refunds to.
    lost_minor             bigint NOT NULL DEFAULT 0 CHECK (lost_minor >= 0),
    defense_supplied_at    timestamptz,
    defense_actor          text NOT NULL DEFAULT '',
    -- The defence document as sent to APO (≤ 750,000 bytes, PDF/JPEG/PNG).
    evidence               bytea,
    evidence_sha256        text NOT NULL DEFAULT '',
    evidence_content_type  text NOT NULL DEFAULT '',
    evidence_size          integer NOT NULL DEFAULT 0,
    needs_attention        boolean NOT NULL DEFAULT false,
    attention_reason       text NOT NULL DEFAULT '',
    last_notification_type text NOT NULL DEFAULT '',
    acquirer_info          jsonb,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CHECK (evidence IS NULL OR octet_length(evidence) <= 750000)
);
-- Keyset pagination (created_at DESC, id DESC), alone and per filter.
CREATE INDEX disputes_created_idx ON disputes (created_at DESC, id DESC);
CREATE INDEX disputes_status_created_idx ON disputes (status, created_at DESC, id DESC);
CREATE INDEX disputes_payment_idx ON disputes (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX disputes_apo_payment_idx ON disputes (apo_payment_id) WHERE apo_payment_id <> '';
-- The deadline watchdog's scan: open disputes by due time.
CREATE INDEX disputes_due_idx ON disputes (defense_due_time) WHERE status = 'OPEN';

-- Everything that happened to a dispute: each notification as received
-- (redacted) and each action, whether it changed the dispute (applied) and
-- why not. fact_key makes a replayed notification add nothing.
CREATE TABLE dispute_events (
    id             bigserial PRIMARY KEY,
    dispute_id     uuid NOT NULL REFERENCES disputes (id),
    source         text NOT NULL CHECK (source IN ('notification', 'api', 'watchdog')),
    kind           text NOT NULL,
    fact_key       text NOT NULL,
    status_before  text NOT NULL DEFAULT '',
    status_after   text NOT NULL DEFAULT '',
    applied        boolean NOT NULL,
    note           text NOT NULL DEFAULT '',
    actor          text NOT NULL DEFAULT '',
    payload        jsonb,
    created_at     timestamptz NOT NULL,
    UNIQUE (dispute_id, fact_key)
);

-- Deadline alerts sent, one row per dispute and threshold. The primary key
-- is what stops two watchdog runs (replicas, retries) from alerting twice.
CREATE TABLE dispute_alerts (
    dispute_id       uuid NOT NULL REFERENCES disputes (id),
    threshold        text NOT NULL CHECK (threshold IN ('7d', '48h', '24h', 'expired')),
    defense_due_time timestamptz NOT NULL,
    sent_at          timestamptz NOT NULL,
    PRIMARY KEY (dispute_id, threshold)
);

-- +goose Down
DROP TABLE dispute_alerts;
DROP TABLE dispute_events;
DROP TABLE disputes;
