-- +goose Up
CREATE TABLE payments (
    id                      uuid PRIMARY KEY,
    payment_request_id      text NOT NULL UNIQUE,
    apo_payment_id          text UNIQUE,
    reference_order_id      text NOT NULL,
    order_description       text NOT NULL DEFAULT '',
    buyer_reference         text NOT NULL DEFAULT '',
    buyer_email             text NOT NULL DEFAULT '',
    amount_minor            bigint NOT NULL CHECK (amount_minor > 0),
    currency                char(3) NOT NULL,
    capture_mode            text NOT NULL CHECK (capture_mode IN ('MANUAL', 'AUTOMATIC')),
    status                  text NOT NULL CHECK (status IN ('PROCESSING', 'REQUIRES_ACTION', 'AUTHORIZED', 'FAILED', 'CANCELLED', 'EXPIRED', 'CAPTURED')),
    captured_minor          bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    refunded_minor          bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    disputed_minor          bigint NOT NULL DEFAULT 0 CHECK (disputed_minor >= 0),
    result_code             text NOT NULL DEFAULT '',
    result_message          text NOT NULL DEFAULT '',
    auth_expiry_time        timestamptz,
    payment_expiry_time     timestamptz,
    normal_url              text NOT NULL DEFAULT '',
    redirect_url            text NOT NULL DEFAULT '',
    card_brand              text NOT NULL DEFAULT '',
    card_bin                text NOT NULL DEFAULT '',
    card_last4              text NOT NULL DEFAULT '',
    card_masked             text NOT NULL DEFAULT '',
    card_funding            text NOT NULL DEFAULT '',
    card_issuing_country    text NOT NULL DEFAULT '',
    card_expiry_month       text NOT NULL DEFAULT '',
    card_expiry_year        text NOT NULL DEFAULT '',
    card_token              text NOT NULL DEFAULT '',
    three_ds_result         jsonb,
    avs_result              text NOT NULL DEFAULT '',
    cvv_result              text NOT NULL DEFAULT '',
    acquirer_name           text NOT NULL DEFAULT '',
    acquirer_transaction_id text NOT NULL DEFAULT '',
    acquirer_info           jsonb,
    needs_review            boolean NOT NULL DEFAULT false,
    review_reason           text NOT NULL DEFAULT '',
    created_by              text NOT NULL DEFAULT '',
    poll_attempt            integer NOT NULL DEFAULT 0,
    next_poll_at            timestamptz,
    version                 integer NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CHECK (captured_minor <= amount_minor),
    CHECK (refunded_minor <= captured_minor)
);
-- Keyset pagination (created_at DESC, id DESC), alone and per filter.
CREATE INDEX payments_created_idx ON payments (created_at DESC, id DESC);
CREATE INDEX payments_status_created_idx ON payments (status, created_at DESC, id DESC);
CREATE INDEX payments_order_idx ON payments (reference_order_id);
CREATE INDEX payments_last4_idx ON payments (card_last4, created_at DESC, id DESC);
CREATE INDEX payments_acquirer_idx ON payments (acquirer_name, created_at DESC, id DESC);
CREATE INDEX payments_review_idx ON payments (created_at DESC, id DESC) WHERE needs_review;
CREATE INDEX payments_auth_expiry_idx ON payments (auth_expiry_time) WHERE status = 'AUTHORIZED';
CREATE INDEX payments_open_idx ON payments (created_at) WHERE status IN ('PROCESSING', 'REQUIRES_ACTION');
CREATE INDEX payments_poll_idx ON payments (next_poll_at) WHERE next_poll_at IS NOT NULL;

CREATE TABLE payment_transactions (
    id                      uuid PRIMARY KEY,
    payment_id              uuid NOT NULL REFERENCES payments (id),
    type                    text NOT NULL CHECK (type IN ('AUTHORIZATION', 'CAPTURE', 'CANCEL', 'REFUND')),
    request_id              text NOT NULL UNIQUE,
    apo_id                  text NOT NULL DEFAULT '',
    amount_minor            bigint NOT NULL CHECK (amount_minor >= 0),
    currency                char(3) NOT NULL,
    status                  text NOT NULL CHECK (status IN ('PROCESSING', 'SUCCEEDED', 'FAILED')),
    result_code             text NOT NULL DEFAULT '',
    result_message          text NOT NULL DEFAULT '',
    is_last                 boolean NOT NULL DEFAULT false,
    acquirer_name           text NOT NULL DEFAULT '',
    acquirer_transaction_id text NOT NULL DEFAULT '',
    acquirer_info           jsonb,
    actor                   text NOT NULL DEFAULT '',
    reason                  text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    completed_at            timestamptz
);
CREATE INDEX payment_transactions_payment_idx ON payment_transactions (payment_id, created_at);
CREATE UNIQUE INDEX payment_transactions_apo_idx ON payment_transactions (type, apo_id) WHERE apo_id <> '';
CREATE INDEX payment_transactions_open_idx ON payment_transactions (created_at) WHERE status = 'PROCESSING';

-- The timeline: everything we learned about a payment and from where. One row
-- per distinct fact (fact_key), so replays of a notification add nothing.
CREATE TABLE payment_events (
    id             bigserial PRIMARY KEY,
    payment_id     uuid NOT NULL REFERENCES payments (id),
    transaction_id uuid REFERENCES payment_transactions (id),
    source         text NOT NULL CHECK (source IN ('pay_response', 'inquiry', 'notification', 'admin', 'settlement', 'api')),
    kind           text NOT NULL,
    fact_key       text NOT NULL,
    status_before  text NOT NULL DEFAULT '',
    status_after   text NOT NULL DEFAULT '',
    applied        boolean NOT NULL,
    note           text NOT NULL DEFAULT '',
    payload        jsonb,
    created_at     timestamptz NOT NULL,
    UNIQUE (payment_id, fact_key)
);

CREATE TABLE apo_calls (
    id          bigserial PRIMARY KEY,
    api         text NOT NULL,
    request_id  text NOT NULL DEFAULT '',
    request     jsonb,
    response    jsonb,
    http_status integer NOT NULL DEFAULT 0,
    duration_ms integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('S', 'F', 'U', 'transport_error')),
    result_code text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);
CREATE INDEX apo_calls_request_idx ON apo_calls (request_id);
CREATE INDEX apo_calls_created_idx ON apo_calls (created_at DESC);

CREATE TABLE webhook_events (
    id           uuid PRIMARY KEY,
    notify_type  text NOT NULL DEFAULT '',
    dedupe_key   text NOT NULL UNIQUE,
    raw_body     bytea NOT NULL,
    headers      jsonb NOT NULL,
    request_uri  text NOT NULL,
    verdict      text NOT NULL CHECK (verdict IN ('valid', 'invalid')),
    state        text NOT NULL CHECK (state IN ('PENDING', 'PROCESSED', 'FAILED', 'IGNORED')),
    attempts     integer NOT NULL DEFAULT 0,
    deliveries   integer NOT NULL DEFAULT 1,
    last_error   text NOT NULL DEFAULT '',
    payment_id   uuid,
    received_at  timestamptz NOT NULL,
    processed_at timestamptz
);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC, id DESC);
CREATE INDEX webhook_events_pending_idx ON webhook_events (received_at) WHERE state = 'PENDING';

-- Admin API idempotency: a repeated key with the same body replays the answer.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status_code  integer NOT NULL DEFAULT 0,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE webhook_events;
DROP TABLE apo_calls;
DROP TABLE payment_events;
DROP TABLE payment_transactions;
DROP TABLE payments;
