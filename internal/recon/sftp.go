package recon

import (
	"context"
	"errors"
	"path"

	"github.com/payops/payops/internal/recon/report"
	"github.com/payops/payops/internal/sftppull"
)

// DefaultSFTPDir is the root of APO's <customerId>/<yyyyMMdd>/<file> layout
// on its SFTP server (apo-reference.md §6.1).
const DefaultSFTPDir = "/v1/settlements"

// PullSFTP connects to APO's SFTP server, walks cfg.RemoteDir (default
// DefaultSFTPDir) and ingests every report file not read before (same
// remote path, size and modification time), as ScanDir does for a local
// directory: each file is archived on arrival, since APO deletes its
// copies after 7 days. A file that cannot be fetched is reported in the
// joined error and the pull goes on.
func (s *Service) PullSFTP(ctx context.Context, cfg sftppull.Config) (ScanResult, error) {
	var res ScanResult
	if cfg.RemoteDir == "" {
		cfg.RemoteDir = DefaultSFTPDir
	}
	err := sftppull.Walk(ctx, cfg, func(ctx context.Context, f sftppull.File) error {
		if _, err := report.ParseName(path.Base(f.Path)); err != nil {
			res.Ignored = append(res.Ignored, f.Path)
			return nil
		}
		res.Seen++
		mtime := f.ModTime
		seen, err := NewStore(s.db).SeenSource(ctx, f.Source, f.Size, mtime)
		if err != nil || seen {
			if seen {
				res.Unchanged++
			}
			return err
		}
		rf, err := f.Open()
		if err != nil {
			return err
		}
		defer rf.Close()
		file, err := s.ingest(ctx, arrival{path: f.Rel, origin: OriginSFTP, source: f.Source, mtime: &mtime}, rf)
		var pe *ParseError
		switch {
		case err == nil && file.Duplicate:
			res.Duplicates++
		case err == nil || errors.As(err, &pe):
			res.Ingested = append(res.Ingested, file)
		default:
			return err
		}
		return nil
	})
	if errors.Is(err, sftppull.ErrIncomplete) {
		return res, &InvalidError{Field: "sftp", Reason: "address, user and known_hosts file are required"}
	}
	return res, err
}
