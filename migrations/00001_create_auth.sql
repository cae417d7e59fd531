-- +goose Up
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'finance', 'operator', 'checkout', 'admin')),
    key_hash     bytea NOT NULL UNIQUE,
    key_prefix   text NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    input       jsonb NOT NULL DEFAULT '{}'::jsonb,
    outcome     text NOT NULL,
    remote_addr text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE api_keys;
