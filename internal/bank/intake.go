package bank

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// IntakeResult is what one intake pass did.
type IntakeResult struct {
	Pulled  ScanResult // from the bank's SFTP server, when configured
	Scanned ScanResult // from the drop directory
}

// Intake is the nightly pass over the statement sources: it pulls from the
// bank's SFTP server when Config.SFTP is set, then ingests what arrived in
// the drop directory dir (created when missing: a first night before any
// file arrived), and logs one summary line. Reconciliation runs after it,
// so that a run's payouts are judged against every statement that has
// arrived. A refused file is logged and read again by the next pass; a
// source or file that cannot be read is an error, and the other source is
// still taken.
func (s *Service) Intake(ctx context.Context, dir string) (IntakeResult, error) {
	start := time.Now()
	var (
		res  IntakeResult
		errs []error
	)
	if s.cfg.SFTP != nil {
		var err error
		if res.Pulled, err = s.PullSFTP(ctx, *s.cfg.SFTP); err != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", s.cfg.SFTP, err))
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		errs = append(errs, fmt.Errorf("bank statements dir: %w", err))
	} else if res.Scanned, err = s.ScanDir(ctx, dir); err != nil {
		errs = append(errs, fmt.Errorf("scan %s: %w", dir, err))
	}
	statements, files := 0, 0
	for _, r := range []ScanResult{res.Pulled, res.Scanned} {
		files += len(r.Ingested)
		for _, f := range r.Ingested {
			statements += len(f.Statements)
		}
		for _, rf := range r.Refused {
			s.log.WarnContext(ctx, "bank statement refused", "error", rf.Error())
		}
	}
	err := errors.Join(errs...)
	s.log.InfoContext(ctx, "bank intake", "dir", dir, "sftp", s.cfg.SFTP != nil,
		"files_seen", res.Pulled.Seen+res.Scanned.Seen, "files_new", files, "files_pulled", len(res.Pulled.Ingested),
		"statements", statements, "duplicates", res.Pulled.Duplicates+res.Scanned.Duplicates,
		"unchanged", res.Pulled.Unchanged+res.Scanned.Unchanged, "refused", len(res.Pulled.Refused)+len(res.Scanned.Refused),
		"duration_ms", time.Since(start).Milliseconds(), "error", err != nil)
	return res, err
}
