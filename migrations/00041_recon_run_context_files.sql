-- +goose Up
-- The report files a run read beyond its inputs, looking for lines that
-- arrived late (transaction or settlement details of later dates): a file
-- that arrives afterwards and is not among them may heal the run's
-- MISSING_IN_REPORT breaks, so the nightly pass re-runs the run's period.
ALTER TABLE recon_runs ADD COLUMN context_file_ids bigint[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE recon_runs DROP COLUMN context_file_ids;
