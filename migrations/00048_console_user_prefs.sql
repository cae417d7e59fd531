-- +goose Up
-- What each console user chose for themselves (internal/users owns it all).
-- The zone is an IANA name checked by Go's time.LoadLocation when set; the
-- database only bounds it. Existing users get UTC, the console's default.
ALTER TABLE console_users
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' CHECK (time_zone <> '' AND length(time_zone) <= 64);

-- A saved view is a named query string for one console page, kept as the
-- user typed it (the page parses it as it parses its own URL). The bounds
-- repeat the service's, so no other writer can exceed them either; the
-- 50-per-page limit needs a count and stays in the service.
CREATE TABLE console_saved_views (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    page       text NOT NULL CHECK (page <> '' AND length(page) <= 32),
    name       text NOT NULL CHECK (name <> '' AND char_length(name) <= 64),
    query      text NOT NULL CHECK (octet_length(query) <= 2048),
    created_at timestamptz NOT NULL,
    CONSTRAINT console_saved_views_name_key UNIQUE (user_id, page, name)
);

-- The session sweeper deletes by when a session ended: revoked, or past its
-- absolute limit, whichever came first (least() skips a NULL revoked_at).
-- Without it every bounded batch would scan the whole table.
CREATE INDEX console_sessions_ended_idx ON console_sessions ((least(expires_at, revoked_at)));

-- +goose Down
DROP INDEX console_sessions_ended_idx;
DROP TABLE console_saved_views;
ALTER TABLE console_users DROP COLUMN time_zone;
