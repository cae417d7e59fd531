-- +goose NO TRANSACTION
-- Indexes for the console's payment investigation (payments.Filter):
-- - part of an order id, case-insensitive (ILIKE '%…%'): a B-tree cannot
--   serve a leading wildcard, a trigram GIN index can. pg_trgm is a trusted
--   extension (PostgreSQL 13+), so the database owner may create it.
-- - buyer email, case-insensitive, and buyer reference: equality plus the
--   list's newest-first order, so a page is read straight off the index.
-- - currency and amount (an exact amount or a range): equality on both
--   reads an amount's newest payments off the index; a range is a bitmap
--   scan of the few matching rows.
-- Built concurrently so payments keep being written while they build.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX CONCURRENTLY payments_order_trgm_idx ON payments USING gin (reference_order_id gin_trgm_ops);
CREATE INDEX CONCURRENTLY payments_buyer_email_idx ON payments (lower(buyer_email), created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY payments_buyer_reference_idx ON payments (buyer_reference, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY payments_amount_idx ON payments (currency, amount_minor, created_at DESC, id DESC);

-- +goose Down
-- pg_trgm stays: it may have been there before this migration, and other
-- databases objects may use it.
DROP INDEX CONCURRENTLY payments_amount_idx;
DROP INDEX CONCURRENTLY payments_buyer_reference_idx;
DROP INDEX CONCURRENTLY payments_buyer_email_idx;
DROP INDEX CONCURRENTLY payments_order_trgm_idx;
