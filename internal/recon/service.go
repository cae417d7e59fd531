package recon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Config configures the service. Zero fields take the defaults named.
type Config struct {
	// ReportsDir is where APO report files arrive (RECON_REPORTS_DIR, by
	// SFTP sync or a mount), laid out <customerId>/<yyyyMMdd>/<file> or flat.
	// Default ".run/reports".
	ReportsDir string
	// ArchiveDir keeps every arrived file whole, named by its SHA-256 (APO
	// deletes its copies after 7 days). Default ".run/archive".
	ArchiveDir string
	// ExportDir is where workbooks and CSVs are written (RECON_EXPORT_DIR).
	// Default ".run/exports".
	ExportDir string
	// SettlementDays is N in "a capture completed on T is due in the
	// settlement report of T+N working days". Default 2.
	SettlementDays int
	// Holidays are non-working days (besides weekends) of the settlement
	// calendar, as UTC dates.
	Holidays []time.Time
	// SFTP, when set, is pulled by Nightly before the directory scan.
	SFTP *SFTPConfig
	// TmpDir is the root of the processes' private temporary directories
	// (RECON_TMP_DIR; see UseTempDir). Default ".run/tmp".
	TmpDir string
}

// Defaults of Config.
const (
	DefaultReportsDir     = ".run/reports"
	DefaultArchiveDir     = ".run/archive"
	DefaultExportDir      = ".run/exports"
	DefaultSettlementDays = 2
	DefaultTmpDir         = ".run/tmp"
)

// Service ingests APO report files, reconciles them against the payments
// ledger, and exports the results.
type Service struct {
	db  *sqlx.DB
	cfg Config
	cal Calendar
	log *slog.Logger
	now func() time.Time

	tmpDir  string   // private temporary directory (UseTempDir), "" for the system's
	tmpLock *os.File // held open: its flock marks tmpDir as in use
}

// NewService returns a service over db.
func NewService(db *sqlx.DB, cfg Config, log *slog.Logger) *Service {
	if cfg.ReportsDir == "" {
		cfg.ReportsDir = DefaultReportsDir
	}
	if cfg.ArchiveDir == "" {
		cfg.ArchiveDir = DefaultArchiveDir
	}
	if cfg.ExportDir == "" {
		cfg.ExportDir = DefaultExportDir
	}
	if cfg.TmpDir == "" {
		cfg.TmpDir = DefaultTmpDir
	}
	if cfg.SettlementDays <= 0 {
		cfg.SettlementDays = DefaultSettlementDays
	}
	cal := Calendar{Days: cfg.SettlementDays, Holidays: map[time.Time]bool{}}
	for _, h := range cfg.Holidays {
		cal.Holidays[day(h)] = true
	}
	return &Service{db: db, cfg: cfg, cal: cal, log: log, now: time.Now}
}

// Calendar returns the settlement calendar the service applies.
func (s *Service) Calendar() Calendar { return s.cal }

// GetRun returns a run.
func (s *Service) GetRun(ctx context.Context, id int64) (Run, error) {
	return NewStore(s.db).Run(ctx, id)
}

// ListRuns returns runs, newest first.
func (s *Service) ListRuns(ctx context.Context, f RunFilter) (Page[Run], error) {
	return NewStore(s.db).ListRuns(ctx, f)
}

// ListDiscrepancies returns a run's discrepancies in id order. The run must
// exist (ErrNotFound otherwise), so an unknown run is not an empty list.
func (s *Service) ListDiscrepancies(ctx context.Context, f DiscrepancyFilter) (Page[Discrepancy], error) {
	if f.Kind != "" && !f.Kind.Valid() {
		return Page[Discrepancy]{}, &InvalidError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q", f.Kind)}
	}
	switch f.Status {
	case "", StatusOpen, StatusResolved, StatusIgnored:
	default:
		return Page[Discrepancy]{}, &InvalidError{Field: "status", Reason: fmt.Sprintf("unknown status %q", f.Status)}
	}
	switch f.Change {
	case "", ChangeNew, ChangeChanged, ChangeSame:
	default:
		return Page[Discrepancy]{}, &InvalidError{Field: "change", Reason: fmt.Sprintf("unknown change %q", f.Change)}
	}
	st := NewStore(s.db)
	if _, err := st.Run(ctx, f.RunID); err != nil {
		return Page[Discrepancy]{}, err
	}
	return st.ListDiscrepancies(ctx, f)
}

// UpdateDiscrepancy closes an OPEN discrepancy as RESOLVED or IGNORED. The
// note is mandatory and, with the actor, is kept on the row (and carried
// to later runs that find the same, unchanged discrepancy).
func (s *Service) UpdateDiscrepancy(ctx context.Context, id int64, status Status, note, actor string) (Discrepancy, error) {
	if status != StatusResolved && status != StatusIgnored {
		return Discrepancy{}, &InvalidError{Field: "status", Reason: "must be RESOLVED or IGNORED"}
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return Discrepancy{}, &InvalidError{Field: "note", Reason: "a note is required"}
	}
	if len(note) > 2000 {
		return Discrepancy{}, &InvalidError{Field: "note", Reason: "at most 2000 bytes"}
	}
	if strings.TrimSpace(actor) == "" {
		return Discrepancy{}, &InvalidError{Field: "actor", Reason: "required"}
	}
	st := NewStore(s.db)
	ok, err := st.SetDiscrepancyStatus(ctx, id, status, note, actor, s.now().UTC())
	if err != nil {
		return Discrepancy{}, err
	}
	d, err := st.Discrepancy(ctx, id)
	if err != nil {
		return Discrepancy{}, err
	}
	if !ok {
		return Discrepancy{}, &ConflictError{Rule: fmt.Sprintf("discrepancy %d is %s, only OPEN ones can be closed", id, d.Status)}
	}
	return d, nil
}

// exportPath names a run's export file in dir.
func exportPath(dir string, r Run, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("recon_%s_run%d%s", r.Period.Format("20060102"), r.ID, suffix))
}
