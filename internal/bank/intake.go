package bank

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Intake is the nightly pass over the statement drop directory: it creates
// dir when missing (a first night before any bank file arrived), ingests
// what arrived (ScanDir) and logs one summary line. Reconciliation runs
// after it, so that a run's payouts are judged against every statement
// that has arrived. A refused file is logged and left for the next pass;
// only a directory or file that cannot be read is an error.
func (s *Service) Intake(ctx context.Context, dir string) (ScanResult, error) {
	start := time.Now()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return ScanResult{}, fmt.Errorf("bank statements dir: %w", err)
	}
	res, err := s.ScanDir(ctx, dir)
	statements := 0
	for _, f := range res.Ingested {
		statements += len(f.Statements)
	}
	for _, r := range res.Refused {
		s.log.WarnContext(ctx, "bank statement refused", "error", r.Error())
	}
	s.log.InfoContext(ctx, "bank intake", "dir", dir, "files_seen", res.Seen, "files_new", len(res.Ingested),
		"statements", statements, "duplicates", res.Duplicates, "unchanged", res.Unchanged,
		"refused", len(res.Refused), "duration_ms", time.Since(start).Milliseconds(), "error", err != nil)
	return res, err
}
