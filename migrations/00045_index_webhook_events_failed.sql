-- +goose NO TRANSACTION
-- The api's /metrics counts FAILED notifications at every scrape
-- (payops_webhook_events_failed); this partial index keeps that a lookup of
-- the few failed rows instead of a scan of every notification ever
-- received. Built concurrently so intake keeps writing while it builds.

-- +goose Up
CREATE INDEX CONCURRENTLY webhook_events_failed_idx ON webhook_events (received_at) WHERE state = 'FAILED';

-- +goose Down
DROP INDEX CONCURRENTLY webhook_events_failed_idx;
