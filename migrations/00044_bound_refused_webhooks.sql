-- +goose Up
-- A notification refused at intake (bad signature, another merchant's
-- client-id, a request-time outside the window) is kept for forensics, but
-- bounded: the first 4 KiB of its body, with the size and the SHA-256 of the
-- whole body. Anyone can send one, so the bound is the database's too.
ALTER TABLE webhook_events
    ADD COLUMN body_size   integer,
    ADD COLUMN body_sha256 text NOT NULL DEFAULT '';
-- Refused events stored whole before this migration are cut down the same way.
UPDATE webhook_events
SET body_size = octet_length(raw_body), body_sha256 = encode(sha256(raw_body), 'hex'),
    raw_body = substring(raw_body FROM 1 FOR 4096)
WHERE verdict = 'invalid' AND octet_length(raw_body) > 4096;
ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_refused_body_bounded CHECK (verdict = 'valid' OR octet_length(raw_body) <= 4096);

-- +goose Down
ALTER TABLE webhook_events
    DROP CONSTRAINT webhook_events_refused_body_bounded,
    DROP COLUMN body_sha256,
    DROP COLUMN body_size;
