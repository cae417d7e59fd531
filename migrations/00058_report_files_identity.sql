-- +goose Up
-- A report file is the same file when its content is, except that an empty
-- report (header and trailer only) is byte-identical from one quiet day to
-- the next: its name, which carries the day, tells the days apart. The
-- rule is recon's (Store.CreateFile); this only lets two names share bytes.
ALTER TABLE report_files DROP CONSTRAINT report_files_sha256_key;
ALTER TABLE report_files ADD CONSTRAINT report_files_sha256_name_key UNIQUE (sha256, name);

-- +goose Down
ALTER TABLE report_files DROP CONSTRAINT report_files_sha256_name_key;
ALTER TABLE report_files ADD CONSTRAINT report_files_sha256_key UNIQUE (sha256);
