package recon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/sftppull"
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
	SFTP *sftppull.Config
	// AmountConvention is how settlement files write amounts
	// (RECON_AMOUNT_CONVENTION): ConventionGross, ConventionNet, or
	// ConventionAuto to read each batch the way its items add up to its
	// summary. Default auto.
	AmountConvention string
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

	hook    RunHook        // after a run succeeds (SetRunHook)
	payouts PayoutChecker  // nil: no payout check
	journal JournalChecker // nil: no journal check

	tmpDir  string   // private temporary directory (UseTempDir), "" for the system's
	tmpLock *os.File // held open: its flock marks tmpDir as in use

	intake []func(context.Context) error // AddIntake's steps
	sheets []Sheet                       // AddSheet's
}

// PayoutChecker judges the payouts of a run (internal/payout); nil skips it.
// It runs in the run's transaction, after the batches are rolled forward,
// and returns the breaks the run records with its own.
type PayoutChecker interface {
	CheckPayouts(ctx context.Context, tx *sqlx.Tx, run Run, now time.Time) ([]Discrepancy, PayoutCounts, error)
	// BankDays returns the days from..to on which a payout falls due or a
	// bank credit is booked: days a run judges even when APO sent no report
	// of them. Each says when its facts last changed.
	BankDays(ctx context.Context, q sqlx.ExtContext, from, to time.Time) ([]BankDay, error)
}

// BankDay is a day with payouts due or bank credits booked on it.
type BankDay struct {
	Day time.Time
	// Registered is the last time a payout due that day was registered or
	// changed (by a run; zero when none is due), Stated the last time a
	// statement covering the day arrived (zero when none has).
	Registered, Stated time.Time
}

// SetPayoutChecker makes every later run check its payouts with p. Call it
// while wiring, before the service runs.
func (s *Service) SetPayoutChecker(p PayoutChecker) { s.payouts = p }

// JournalChecker checks that each batch of a run can be journaled
// (internal/journal): that its journal balances per currency and ties to
// the batch's roll-forward. It runs in the run's transaction, after the
// payouts, and returns a break per batch that fails; it writes nothing
// (journals are built after the run, by the RunHook).
type JournalChecker interface {
	CheckJournals(ctx context.Context, tx *sqlx.Tx, run Run) ([]Discrepancy, error)
}

// SetJournalChecker makes every later run check its batches' journals with
// j. Call it while wiring, before the service runs.
func (s *Service) SetJournalChecker(j JournalChecker) { s.journal = j }

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
	if cfg.AmountConvention == "" {
		cfg.AmountConvention = ConventionAuto
	}
	cal := Calendar{Days: cfg.SettlementDays, Holidays: map[time.Time]bool{}}
	for _, h := range cfg.Holidays {
		cal.Holidays[day(h)] = true
	}
	return &Service{db: db, cfg: cfg, cal: cal, log: log, now: time.Now}
}

// GetRun returns a run with the files exported for it. A finance user
// handed a workbook from the export directory can tell from the run which
// files it produced and check them against the SHA-256 recorded when they
// were written, as its Inputs say which report files went in.
func (s *Service) GetRun(ctx context.Context, id int64) (Run, error) {
	st := NewStore(s.db)
	run, err := st.Run(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if run.Exports, err = st.Exports(ctx, id); err != nil {
		return Run{}, err
	}
	return run, nil
}

// ListRuns returns runs, newest first.
func (s *Service) ListRuns(ctx context.Context, f RunFilter) (Page[Run], error) {
	return NewStore(s.db).ListRuns(ctx, f)
}

// ListDiscrepancies returns a run's discrepancies in id order. The run must
// exist (ErrNotFound otherwise), so an unknown run is not an empty list.
func (s *Service) ListDiscrepancies(ctx context.Context, f DiscrepancyFilter) (Page[Discrepancy], error) {
	if err := checkKindStatus(f.Kind, f.Status); err != nil {
		return Page[Discrepancy]{}, err
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

// CurrentDiscrepancies lists the discrepancies as they stand now, across
// runs: those of the latest succeeded run of each period, so a
// discrepancy carried from run to run is listed once, in its latest state
// (see Store.CurrentDiscrepancies). A RunID must name such a latest run.
func (s *Service) CurrentDiscrepancies(ctx context.Context, f CurrentFilter) (Page[Discrepancy], error) {
	st := NewStore(s.db)
	f, err := s.checkCurrent(ctx, st, f)
	if err != nil {
		return Page[Discrepancy]{}, err
	}
	return st.CurrentDiscrepancies(ctx, f)
}

// checkCurrent checks a CurrentFilter and returns it with OlderThanDays
// folded into PeriodTo, as of today.
func (s *Service) checkCurrent(ctx context.Context, st *Store, f CurrentFilter) (CurrentFilter, error) {
	if err := checkKindStatus(f.Kind, f.Status); err != nil {
		return f, err
	}
	if err := checkAmounts(f); err != nil {
		return f, err
	}
	if !f.PeriodFrom.IsZero() && !f.PeriodTo.IsZero() && f.PeriodTo.Before(f.PeriodFrom) {
		return f, &InvalidError{Field: "period_to", Reason: "before period_from"}
	}
	if f.OlderThanDays < 0 {
		return f, &InvalidError{Field: "older_than_days", Reason: "must not be negative"}
	}
	if f.OlderThanDays > 0 {
		to := day(s.now()).AddDate(0, 0, -f.OlderThanDays-1)
		if f.PeriodTo.IsZero() || to.Before(f.PeriodTo) {
			f.PeriodTo = to
		}
	}
	if f.RunID == 0 {
		return f, nil
	}
	run, err := st.Run(ctx, f.RunID)
	if errors.Is(err, ErrNotFound) {
		return f, &InvalidError{Field: "run_id", Reason: fmt.Sprintf("no run %d", f.RunID)}
	}
	if err != nil {
		return f, err
	}
	if run.Status != RunSucceeded {
		return f, &InvalidError{Field: "run_id",
			Reason: fmt.Sprintf("run %d is %s; only a succeeded run has discrepancies", run.ID, run.Status)}
	}
	latest, err := st.PreviousRun(ctx, run.Period, math.MaxInt64)
	if err != nil {
		return f, err
	}
	if latest != run.ID {
		return f, &InvalidError{Field: "run_id", Reason: fmt.Sprintf(
			"run %d was superseded by run %d of the same period (%s); list run %d's own discrepancies to see what it found",
			run.ID, latest, run.Period.Format(time.DateOnly), run.ID)}
	}
	return f, nil
}

// checkAmounts checks the currency and amount bounds of a filter. Bounds
// are in minor units, whose size differs between currencies (a cent, a
// yen), so they need the currency.
func checkAmounts(f CurrentFilter) error {
	if f.Currency != "" && !isCurrency(f.Currency) {
		return &InvalidError{Field: "currency", Reason: "want an ISO 4217 code such as EUR"}
	}
	for _, b := range []struct {
		field string
		v     *int64
	}{{"min_amount", f.MinMinor}, {"max_amount", f.MaxMinor}} {
		switch {
		case b.v == nil:
		case *b.v < 0:
			return &InvalidError{Field: b.field, Reason: "must not be negative: it bounds the amount's size"}
		case f.Currency == "":
			return &InvalidError{Field: b.field, Reason: "needs a currency: minor units differ between currencies"}
		}
	}
	if f.MinMinor != nil && f.MaxMinor != nil && *f.MaxMinor < *f.MinMinor {
		return &InvalidError{Field: "max_amount", Reason: "below min_amount"}
	}
	return nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func checkKindStatus(k Kind, st Status) error {
	if k != "" && !k.Valid() {
		return &InvalidError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q", k)}
	}
	switch st {
	case "", StatusOpen, StatusResolved, StatusIgnored:
		return nil
	}
	return &InvalidError{Field: "status", Reason: fmt.Sprintf("unknown status %q", st)}
}

// checkTransition applies the owner workflow: an OPEN discrepancy is closed
// as RESOLVED or IGNORED, and a closed one is reopened (OPEN); a closed one
// is not closed again without being reopened, so each decision has its own
// note.
func checkTransition(id int64, from, to Status) error {
	closed := func(s Status) bool { return s == StatusResolved || s == StatusIgnored }
	switch {
	case from == StatusOpen && closed(to), closed(from) && to == StatusOpen:
		return nil
	case from == to:
		return &ConflictError{Rule: fmt.Sprintf("discrepancy %d is %s already", id, from)}
	}
	return &ConflictError{Rule: fmt.Sprintf("discrepancy %d is %s: reopen it (OPEN) before closing it as %s", id, from, to)}
}

// UpdateDiscrepancy moves a discrepancy through its owner workflow
// (checkTransition): closes an OPEN one as RESOLVED or IGNORED, or reopens
// a closed one. The note is mandatory and, with the actor, is kept on the
// row (and carried to later runs that find the same, unchanged
// discrepancy); the API's audit log keeps every change.
//
// Only the current row of a discrepancy can change: the one in the latest
// succeeded run of its period, whose status the next run carries forward.
// A row of a superseded run is history (409, naming the current row). The
// period's run lock is taken for the change, so a run of the period cannot
// carry statuses forward while one changes (changes share it among
// themselves); while a run holds it, the answer is 409 at once rather than
// a wait as long as the run.
func (s *Service) UpdateDiscrepancy(ctx context.Context, id int64, status Status, note, actor string) (Discrepancy, error) {
	note, err := checkUpdate(status, note, actor)
	if err != nil {
		return Discrepancy{}, err
	}
	var d Discrepancy
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		cur, err := st.Discrepancy(ctx, id)
		if err != nil {
			return err
		}
		if err := checkTransition(id, cur.Status, status); err != nil {
			return err
		}
		if ok, err := st.TryLockPeriodShared(ctx, cur.Period); err != nil {
			return err
		} else if !ok {
			return &ConflictError{Rule: fmt.Sprintf("a run of period %s is in progress; change discrepancy %d once it has finished",
				cur.Period.Format(time.DateOnly), id)}
		}
		latest, err := st.PreviousRun(ctx, cur.Period, math.MaxInt64)
		if err != nil {
			return err
		}
		if latest != cur.RunID {
			return superseded(ctx, st, cur, latest)
		}
		var resolvedAt *time.Time
		if status != StatusOpen {
			at := s.now().UTC()
			resolvedAt = &at
		}
		ok, err := st.SetDiscrepancyStatus(ctx, id, cur.Status, status, note, actor, resolvedAt)
		if err != nil {
			return err
		}
		if !ok {
			return &ConflictError{Rule: fmt.Sprintf("discrepancy %d was changed by another request meanwhile", id)}
		}
		d, err = st.Discrepancy(ctx, id)
		return err
	})
	return d, err
}

// checkUpdate checks a status change's request and returns its note,
// trimmed.
func checkUpdate(status Status, note, actor string) (string, error) {
	switch status {
	case StatusOpen, StatusResolved, StatusIgnored:
	default:
		return "", &InvalidError{Field: "status", Reason: "must be OPEN, RESOLVED or IGNORED"}
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return "", &InvalidError{Field: "note", Reason: "a note is required"}
	}
	if len(note) > 2000 {
		return "", &InvalidError{Field: "note", Reason: "at most 2000 bytes"}
	}
	if strings.TrimSpace(actor) == "" {
		return "", &InvalidError{Field: "actor", Reason: "required"}
	}
	return note, nil
}

// superseded is the conflict of a change to d, a row of a run that the
// period's latest run superseded: the change belongs on the latest run's
// row of the same discrepancy, if that run still finds it.
func superseded(ctx context.Context, st *Store, d Discrepancy, latest int64) error {
	period := d.Period.Format(time.DateOnly)
	now, err := st.DiscrepancyIn(ctx, latest, d.Fingerprint)
	if err != nil {
		return err
	}
	if now == 0 {
		return &ConflictError{Rule: fmt.Sprintf("discrepancy %d is from run %d, superseded by run %d of period %s, which no longer finds it", d.ID, d.RunID, latest, period)}
	}
	return &ConflictError{Rule: fmt.Sprintf("discrepancy %d is from run %d, superseded by run %d of period %s: change discrepancy %d instead", d.ID, d.RunID, latest, period, now)}
}

// exportPath names a run's export file in dir.
func exportPath(dir string, r Run, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("recon_%s_run%d%s", r.Period.Format("20060102"), r.ID, suffix))
}
