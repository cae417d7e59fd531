-- +goose Up
-- Bank statement files may also be pulled from the bank's SFTP server
-- (bank.Service.PullSFTP); their source_path is "sftp://<host:port><path>".
ALTER TABLE bank_statements DROP CONSTRAINT bank_statements_source_check;
ALTER TABLE bank_statements ADD CONSTRAINT bank_statements_source_check CHECK (source IN ('upload', 'dir', 'sftp'));

-- +goose Down
-- Refused while pulled statements exist: going down must not lose them.
ALTER TABLE bank_statements DROP CONSTRAINT bank_statements_source_check;
ALTER TABLE bank_statements ADD CONSTRAINT bank_statements_source_check CHECK (source IN ('upload', 'dir'));
