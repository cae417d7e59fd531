-- +goose NO TRANSACTION
-- The retention purge deletes keys by age in batches; without this index
-- every batch would scan the whole table. Built concurrently so that
-- requests keep claiming keys while it builds on a large table.

-- +goose Up
CREATE INDEX CONCURRENTLY idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY idempotency_keys_created_idx;
