-- +goose Up
-- People who use the console (internal/users owns both tables). Secrets are
-- never stored in a form that lets them be replayed: the password only as an
-- argon2id PHC string (its parameters travel with it, so they can be raised
-- and old hashes upgraded at the next login), the session token only as its
-- SHA-256. The TOTP secret has to be stored as is: the server must compute
-- the same codes as the authenticator app.
CREATE TABLE console_users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL CHECK (email <> '' AND length(email) <= 254),
    role              text NOT NULL CHECK (role IN ('viewer', 'finance', 'operator', 'checkout', 'admin')),
    password_hash     text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- NULL: no second factor. Set and totp_confirmed_at NULL: enrolment
    -- pending until the first valid code.
    totp_secret       text,
    totp_confirmed_at timestamptz,
    -- The last accepted TOTP time step (unix time / 30): a code at or before
    -- it is refused, so a code seen over a shoulder cannot be replayed.
    totp_last_step    bigint,
    disabled_at       timestamptz,
    created_by        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_login_at     timestamptz,
    failed_logins     integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until      timestamptz,
    CHECK (totp_confirmed_at IS NULL OR totp_secret IS NOT NULL)
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX console_users_email_key ON console_users (lower(email));
CREATE INDEX console_users_created_idx ON console_users (created_at DESC, id DESC);

-- Server-side sessions. id is a handle for lists and revocation, not a
-- credential; the credential is the token, stored only as token_hash.
CREATE TABLE console_sessions (
    id           uuid PRIMARY KEY,
    token_hash   bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    user_id      uuid NOT NULL REFERENCES console_users (id),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    remote_addr  text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX console_sessions_token_hash_key ON console_sessions (token_hash);
CREATE INDEX console_sessions_user_idx ON console_sessions (user_id, created_at DESC);

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE console_users;
