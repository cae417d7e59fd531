package recon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/recon/report"
)

// Run reconciles synchronously: StartRun then ExecuteRun. The same inputs
// against the same ledger give the same discrepancy set (fingerprints), and
// the run's diff says what changed since the previous run of the period.
func (s *Service) Run(ctx context.Context, req RunRequest, actor string) (Run, error) {
	r, err := s.StartRun(ctx, req, actor)
	if err != nil {
		return Run{}, err
	}
	return s.ExecuteRun(ctx, r.ID)
}

// StartRun resolves a request's inputs and records a QUEUED run, for a
// caller that executes it later (the recon:run task). With a date, the
// inputs are every ingested file of that date (see Store.FilesForDate);
// with file ids, exactly those files, which must be INGESTED, and the period
// is the latest of their report dates.
func (s *Service) StartRun(ctx context.Context, req RunRequest, actor string) (Run, error) {
	if actor == "" {
		return Run{}, &InvalidError{Field: "actor", Reason: "required"}
	}
	st := NewStore(s.db)
	var (
		files  []File
		period time.Time
		err    error
	)
	switch {
	case len(req.FileIDs) > 0:
		req.Date = time.Time{}
		if files, err = st.FilesByID(ctx, req.FileIDs); err != nil {
			return Run{}, err
		}
		if len(files) != len(uniq(req.FileIDs)) {
			return Run{}, &InvalidError{Field: "file_ids", Reason: "unknown file id"}
		}
		for _, f := range files {
			if f.Status != FileIngested {
				return Run{}, &InvalidError{Field: "file_ids", Reason: fmt.Sprintf("file %d (%s) is %s", f.ID, f.Name, f.Status)}
			}
			if f.ReportDate.After(period) {
				period = f.ReportDate
			}
		}
		if period.IsZero() {
			return Run{}, &InvalidError{Field: "file_ids", Reason: "none of the files has a report date; upload them under <customerId>/<yyyyMMdd>/"}
		}
	case !req.Date.IsZero():
		period = day(req.Date)
		req.Date = period
		if files, err = st.FilesForDate(ctx, period); err != nil {
			return Run{}, err
		}
		if len(files) == 0 {
			return Run{}, &InvalidError{Field: "date", Reason: "no ingested report files for " + period.Format(time.DateOnly)}
		}
	default:
		return Run{}, &InvalidError{Field: "date", Reason: "a date or file ids are required"}
	}
	r := Run{Period: period, Request: req, Status: RunQueued, Actor: actor, CreatedAt: s.now().UTC()}
	for _, f := range files {
		r.Inputs = append(r.Inputs, Input{FileID: f.ID, Name: f.Name, Kind: f.Kind, SHA256: f.SHA256, Lines: f.Lines,
			ReportDate: f.ReportDate})
	}
	if r.ID, err = st.CreateRun(ctx, r); err != nil {
		return Run{}, err
	}
	return r, nil
}

// errAlreadyDone stops a transaction whose run another worker finished.
var errAlreadyDone = errors.New("run already succeeded")

// ExecuteRun performs a recorded run and returns it. A run that already
// succeeded is returned as it is, so a task delivered twice does the work
// once; a QUEUED, interrupted (RUNNING) or FAILED run is done from scratch.
// All of a run's writes happen in one transaction, so an interrupted attempt
// leaves nothing behind; runs of one period are serialised.
func (s *Service) ExecuteRun(ctx context.Context, id int64) (Run, error) {
	st := NewStore(s.db)
	run, err := st.Run(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if run.Status == RunSucceeded {
		return run, nil
	}
	start := s.now().UTC()
	if err := st.SetPhase(ctx, id, RunRunning, "waiting", 0, &start); err != nil {
		return Run{}, err
	}
	run.StartedAt = &start
	err = inConnTx(ctx, s.db, func(conn *sqlx.Conn, tx *sqlx.Tx) error { return s.reconcile(ctx, conn, tx, &run) })
	switch {
	case errors.Is(err, errAlreadyDone):
	case err != nil:
		// The run's own context may be what failed; the verdict must still land.
		if ferr := st.FailRun(context.WithoutCancel(ctx), id, err.Error(), s.now().UTC()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return Run{}, fmt.Errorf("run %d: %w", id, err)
	}
	return st.Run(ctx, id)
}

// reconcile is the run's transaction.
func (s *Service) reconcile(ctx context.Context, conn RawConn, tx *sqlx.Tx, run *Run) error {
	st := NewStore(tx)
	total := time.Now()
	if err := st.LockPeriod(ctx, run.Period); err != nil {
		return err
	}
	// Read committed: after the lock, this sees any run of the period that
	// finished while we waited.
	if cur, err := st.Run(ctx, run.ID); err != nil {
		return err
	} else if cur.Status == RunSucceeded {
		return errAlreadyDone
	}
	if err := st.Prepare(ctx); err != nil {
		return err
	}
	phase := func(name string, pct int) {
		// Progress is written outside the transaction so that it is visible
		// while the run works; losing an update only delays the display.
		if err := NewStore(s.db).SetPhase(ctx, run.ID, RunRunning, name, pct, nil); err != nil {
			s.log.WarnContext(ctx, "recon progress not recorded", "run_id", run.ID, "err", err)
		}
	}
	now := s.now().UTC()

	var (
		items, summaries  []int64
		tdDates, sdDates  []time.Time
		windowFrom, maxSD time.Time
	)
	for _, in := range run.Inputs {
		switch in.Kind {
		case report.SettlementSummary:
			summaries = append(summaries, in.FileID)
			continue
		case report.TransactionItems:
			tdDates = addDate(tdDates, in.ReportDate)
		case report.SettlementItems:
			sdDates = addDate(sdDates, in.ReportDate)
		}
		items = append(items, in.FileID)
	}
	for _, d := range sdDates {
		for _, list := range [][]time.Time{s.cal.DueOn(d), s.cal.NotYetDue(d)} {
			if len(list) > 0 && (windowFrom.IsZero() || list[0].Before(windowFrom)) {
				windowFrom = list[0]
			}
		}
		if d.After(maxSD) {
			maxSD = d
		}
	}
	var window []int64
	if len(sdDates) > 0 {
		ids, err := st.SettlementFilesBetween(ctx, windowFrom, maxSD)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !contains(items, id) {
				window = append(window, id)
			}
		}
	}

	t := time.Now()
	phase("matching", 10)
	files, err := st.FilesByID(ctx, append(append([]int64{}, items...), window...))
	if err != nil {
		return err
	}
	inRun := map[int64]bool{}
	for _, id := range items {
		inRun[id] = true
	}
	m := newMatcher(files, inRun)
	if len(items) > 0 {
		if err := st.streamItems(ctx, append(append([]int64{}, items...), window...), func(r *itemRow) error {
			m.add(r)
			return nil
		}); err != nil {
			return err
		}
	}
	run.Timings.Stage = time.Since(t)
	t = time.Now()
	if err := m.fallbacks(ctx, st); err != nil {
		return err
	}
	dups := m.duplicates()
	var dupRows []itemRow
	if len(dups) > 0 {
		positions := make([]int64, 0, len(dups))
		for p := range dups {
			positions = append(positions, p)
		}
		if dupRows, err = st.itemsAt(ctx, items, positions); err != nil {
			return err
		}
	}
	found := m.discrepancies(dups, dupRows)
	run.Timings.Match = time.Since(t)

	t = time.Now()
	phase("ledger", 50)
	missing, err := s.ledgerChecks(ctx, st, m, tdDates, sdDates, &run.Counts)
	if err != nil {
		return err
	}
	found = append(found, missing...)
	run.Timings.Ledger = time.Since(t)

	t = time.Now()
	phase("batches", 75)
	var lines []summaryLine
	if len(summaries) > 0 {
		if lines, err = st.summaryLines(ctx, summaries); err != nil {
			return err
		}
	}
	var breaks []Discrepancy
	run.Batches, breaks = rollForward(m.batchSums(), lines, s.cfg.AmountConvention)
	found = append(found, breaks...)
	if err := st.InsertDiscrepancies(ctx, run.ID, found, now); err != nil {
		return err
	}
	var settled []settledLine
	for _, l := range m.settled {
		if _, dup := dups[l.Pos]; !dup {
			settled = append(settled, l)
		}
	}
	if _, err := st.addSettlementEvents(ctx, conn, items, settled, now); err != nil {
		return err
	}
	run.Timings.Batches = time.Since(t)
	run.Counts.Lines, run.Counts.LinesByType = m.counts.Lines, m.counts.LinesByType
	run.Counts.RollForwardOnly = m.counts.RollForwardOnly
	run.Counts.Matched = m.counts.Matched - m.matchedDuplicates()

	t = time.Now()
	phase("diff", 90)
	prev, err := st.PreviousRun(ctx, run.Period, run.ID)
	if err != nil {
		return err
	}
	if run.Diff, err = st.ApplyDiff(ctx, run.ID, prev); err != nil {
		return err
	}
	run.Timings.Diff = time.Since(t)

	for _, in := range run.Inputs {
		if in.Kind == report.SettlementSummary {
			run.Counts.Lines[report.SettlementSummary] += int64(in.Lines)
		}
	}
	if run.Totals, err = st.Totals(ctx, run.ID); err != nil {
		return err
	}
	run.Counts.Discrepancies = map[Kind]int64{}
	for _, tot := range run.Totals {
		run.Counts.Discrepancies[tot.Kind] += tot.Count
	}
	finished := s.now().UTC()
	run.Timings.Total = time.Since(total)
	run.Status, run.Phase, run.Progress, run.FinishedAt = RunSucceeded, "done", 100, &finished
	return st.FinishRun(ctx, *run)
}

// ledgerChecks finds our SUCCEEDED transactions that the run's reports
// should hold and do not: for transaction items, every authorization,
// capture, refund and cancel completed on the items' day; for settlement
// items, the captures and refunds due on the settlement date by
// the calendar (settled in any settlement file from their completion up to
// that date). Those not yet due and not yet settled are counted as
// expected.
func (s *Service) ledgerChecks(ctx context.Context, st *Store, m *matcher, tdDates, sdDates []time.Time, counts *Counts) ([]Discrepancy, error) {
	type miss struct {
		kind report.Kind
		due  time.Time
	}
	var (
		ids    []uuid16
		misses = map[uuid16][]miss{}
	)
	check := func(kind report.Kind, completed []time.Time, due time.Time) error {
		sd, types := kind == report.SettlementItems, transactionTypes
		if sd {
			types = settledTypes
		}
		return st.streamCompleted(ctx, types, completed, func(id uuid16) error {
			counts.LedgerChecked++
			if !m.present(sd, id) {
				if len(misses[id]) == 0 {
					ids = append(ids, id)
				}
				misses[id] = append(misses[id], miss{kind, due})
			}
			return nil
		})
	}
	for _, d := range tdDates {
		if err := check(report.TransactionItems, []time.Time{d}, d); err != nil {
			return nil, err
		}
	}
	for _, d := range sdDates {
		if err := check(report.SettlementItems, s.cal.DueOn(d), d); err != nil {
			return nil, err
		}
		if err := st.streamCompleted(ctx, settledTypes, s.cal.NotYetDue(d), func(id uuid16) error {
			if !m.present(true, id) {
				counts.Expected++
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	txs, err := st.ledgerTxsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []Discrepancy
	for _, tx := range txs {
		for _, x := range misses[tx.Ref.ID] {
			out = append(out, missingDiscrepancy(x.kind, tx, x.due))
		}
	}
	return out, nil
}

func addDate(ds []time.Time, d time.Time) []time.Time {
	if d.IsZero() {
		return ds
	}
	for _, x := range ds {
		if x.Equal(d) {
			return ds
		}
	}
	ds = append(ds, d)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Before(ds[j]) })
	return ds
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func uniq(ids []int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
