-- +goose Up
-- API keys are stored as a SHA-256 hash only; key_prefix is the short,
-- non-secret start of the key shown in lists so people can tell keys apart.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    role         text NOT NULL CHECK (role IN ('viewer', 'finance', 'operator', 'checkout', 'admin')),
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    key_prefix   text NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- One row per mutation. actor is the human-readable name (key name, "cli");
-- actor_key_id identifies the API key, since key names need not be unique.
-- There is deliberately no foreign key: audit rows outlive anything they name.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    actor        text NOT NULL,
    actor_key_id uuid,
    role         text NOT NULL,
    action       text NOT NULL,
    target       text NOT NULL DEFAULT '',
    input        jsonb NOT NULL DEFAULT '{}'::jsonb,
    outcome      text NOT NULL,
    remote_addr  text NOT NULL DEFAULT '',
    request_id   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, created_at DESC, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, created_at DESC, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target, created_at DESC, id DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE api_keys;
