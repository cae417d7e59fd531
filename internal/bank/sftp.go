package bank

import (
	"context"
	"errors"

	"github.com/payops/payops/internal/sftppull"
)

// DefaultSFTPDir is the remote directory pulled when the configuration
// names none: the login's home.
const DefaultSFTPDir = "."

// PullSFTP fetches the statement files on the bank's SFTP server under
// cfg.RemoteDir and ingests those not read before (same remote path, size
// and modification time), as ScanDir does for the drop directory: each is
// archived on arrival, a refused file is listed and read again by the next
// pull, and a file that cannot be fetched is reported in the joined error
// while the pull goes on.
func (s *Service) PullSFTP(ctx context.Context, cfg sftppull.Config) (ScanResult, error) {
	var res ScanResult
	if cfg.RemoteDir == "" {
		cfg.RemoteDir = DefaultSFTPDir
	}
	err := sftppull.Walk(ctx, cfg, func(ctx context.Context, f sftppull.File) error {
		res.Seen++
		mtime := f.ModTime
		return s.take(ctx, arrival{name: f.Rel, source: SourceSFTP, path: f.Source, mtime: &mtime}, f.Size,
			f.Open, &res)
	})
	if errors.Is(err, sftppull.ErrIncomplete) {
		return res, &InvalidError{Field: "sftp", Reason: "address, user and known_hosts file are required"}
	}
	return res, err
}
