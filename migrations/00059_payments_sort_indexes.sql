-- +goose NO TRANSACTION
-- Indexes for the sortable payments list (payments.Filter.Sort): a page
-- sorted by amount or by status, ties broken by id, is read straight off
-- one of these at any depth, the cursor's (key, id) the start of the scan.
-- payments_amount_idx (currency, amount_minor, …) serves an amount order
-- only within one currency, and payments_status_created_idx a status
-- order only within a status. Built concurrently so payments keep being
-- written while they build.

-- +goose Up
CREATE INDEX CONCURRENTLY payments_amount_id_idx ON payments (amount_minor, id);
CREATE INDEX CONCURRENTLY payments_status_id_idx ON payments (status, id);

-- +goose Down
DROP INDEX CONCURRENTLY payments_status_id_idx;
DROP INDEX CONCURRENTLY payments_amount_id_idx;
