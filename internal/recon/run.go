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

	t := time.Now()
	phase("matching", 10)
	inRun := map[int64]bool{}
	for _, id := range items {
		inRun[id] = true
	}
	files, err := st.FilesByID(ctx, items)
	if err != nil {
		return err
	}
	m := newMatcher(files, inRun)
	// The run's own lines first; the earliest time on its settlement lines
	// says how far back the window must reach to see an earlier payout of
	// the same transaction.
	var earliest time.Time
	if len(items) > 0 {
		if err := st.streamItems(ctx, items, func(r *itemRow) error {
			settled := m.files[r.FileID].kind == report.SettlementItems && ledgerType(r.TransactionType) != ""
			if settled && !r.PaymentTime.IsZero() && (earliest.IsZero() || r.PaymentTime.Before(earliest)) {
				earliest = r.PaymentTime
			}
			m.add(r)
			return nil
		}); err != nil {
			return err
		}
	}
	// The window: settlement files of earlier dates (not in the run) from
	// the completion of the oldest transaction due in the run, or settled
	// in it, up to the run's settlement date. They show what was settled
	// before it was due, and what the run's lines pay out a second time.
	var window []int64
	if len(sdDates) > 0 {
		if e := day(earliest); !earliest.IsZero() && e.Before(windowFrom) {
			windowFrom = maxDate(e, windowFrom.AddDate(0, 0, -repeatLookbackDays))
		}
		ids, err := st.SettlementFilesBetween(ctx, windowFrom, maxSD)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !inRun[id] {
				window = append(window, id)
			}
		}
	}
	if len(window) > 0 {
		wf, err := st.FilesByID(ctx, window)
		if err != nil {
			return err
		}
		m.addFiles(wf, inRun)
		if err := st.streamItems(ctx, window, func(r *itemRow) error {
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
	missing, late, err := s.ledgerChecks(ctx, st, m, inRun, window, tdDates, sdDates, &run.Counts)
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
	run.Counts.Matched = m.counts.Matched - m.matchedDuplicates(dups)

	t = time.Now()
	phase("diff", 90)
	prev, err := st.PreviousRun(ctx, run.Period, run.ID)
	if err != nil {
		return err
	}
	if run.Diff, err = st.ApplyDiff(ctx, run.ID, prev); err != nil {
		return err
	}
	if err := st.RecordHealing(ctx, run.ID, prev, late.notes); err != nil {
		return err
	}
	if err := st.SetContextFiles(ctx, run.ID, append(window, late.files...)); err != nil {
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

// Bounds of the lines a run looks at beyond its own files.
const (
	// repeatLookbackDays bounds how far before the calendar's window the
	// window reaches for an earlier payout of a transaction the run's
	// settlement lines hold (their times say how far back to look).
	repeatLookbackDays = 31
	// lateDays is how late a line may arrive and still heal a
	// MISSING_IN_REPORT: transaction details of up to lateDays after the
	// transaction date (or the day before: APO's day may start before
	// ours), settlement details of up to lateDays after the due date. A
	// line later than that stays a break.
	lateDays = 7
)

// ledgerChecks finds our SUCCEEDED transactions that the run's reports
// should hold and do not: for transaction items, every authorization,
// capture, refund and cancel completed on the items' day; for settlement
// items, the captures and refunds due on the settlement date by
// the calendar (settled in any settlement file from their completion up to
// that date). Those not yet due and not yet settled are counted as
// expected. A transaction a later file holds (see lateLines) is a timing
// difference, not a break.
func (s *Service) ledgerChecks(ctx context.Context, st *Store, m *matcher, inRun map[int64]bool, window []int64,
	tdDates, sdDates []time.Time, counts *Counts) ([]Discrepancy, lateResult, error) {
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
			return nil, lateResult{}, err
		}
	}
	for _, d := range sdDates {
		if err := check(report.SettlementItems, s.cal.DueOn(d), d); err != nil {
			return nil, lateResult{}, err
		}
		if err := st.streamCompleted(ctx, settledTypes, s.cal.NotYetDue(d), func(id uuid16) error {
			if !m.present(true, id) {
				counts.Expected++
			}
			return nil
		}); err != nil {
			return nil, lateResult{}, err
		}
	}
	if len(ids) == 0 {
		return nil, lateResult{}, nil
	}
	txs, err := st.ledgerTxsByID(ctx, ids)
	if err != nil {
		return nil, lateResult{}, err
	}
	sort.Slice(txs, func(i, j int) bool { return txs[i].RequestID < txs[j].RequestID })
	late, err := lateLines(ctx, st, inRun, window, txs, misses)
	if err != nil {
		return nil, lateResult{}, err
	}
	var out []Discrepancy
	for _, tx := range txs {
		for _, x := range misses[tx.Ref.ID] {
			d := missingDiscrepancy(x.kind, tx, x.due)
			if h, ok := late.found[lateKey{x.kind, tx.Ref.ID}]; ok {
				h.Fingerprint = d.Fingerprint
				late.notes = append(late.notes, h)
				continue
			}
			out = append(out, d)
		}
	}
	return out, late, nil
}

// miss is a transaction a report of kind should hold by due and does not.
type miss struct {
	kind report.Kind
	due  time.Time
}

type lateKey struct {
	kind report.Kind
	tx   uuid16
}

// lateResult is what lateLines found: the line holding each missing
// transaction it found, the notes for the discrepancies those heal, and
// the files it read (recorded on the run, so that the nightly pass knows
// which newer files could heal the run's breaks).
type lateResult struct {
	found map[lateKey]healNote
	notes []healNote
	files []int64
}

// healNote is the line that healed a MISSING_IN_REPORT, kept in the healed
// discrepancy's details.
type healNote struct {
	Fingerprint string `json:"fingerprint"`
	FileID      int64  `json:"file_id"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	ReportDate  string `json:"report_date"`
}

// lateLines looks for the missing transactions in report files outside the
// run that arrived late: transaction details dated from the day before the
// transaction date to lateDays after it, settlement details dated up to
// lateDays after the due date. Only lines naming a missing transaction's
// ids are read. A line holds a transaction when it is of its type and
// carries its APO id or our request id, or else names its payment (APO
// paymentId or our paymentRequestId) with the same amount and currency;
// each line holds one transaction at most.
func lateLines(ctx context.Context, st *Store, inRun map[int64]bool, window []int64, txs []ledgerTx,
	misses map[uuid16][]miss) (lateResult, error) {
	res := lateResult{found: map[lateKey]healNote{}}
	scope := func(x miss) (from, to time.Time) {
		if x.kind == report.SettlementItems {
			return x.due.AddDate(0, 0, 1), x.due.AddDate(0, 0, lateDays)
		}
		return x.due.AddDate(0, 0, -1), x.due.AddDate(0, 0, lateDays)
	}
	var (
		ids, reqs []string
		files     []File
	)
	ranges := map[report.Kind][2]time.Time{}
	for _, tx := range txs {
		ids = append(ids, tx.APOID, tx.APOPaymentID)
		reqs = append(reqs, tx.RequestID, tx.PaymentRequestID)
		for _, x := range misses[tx.Ref.ID] {
			from, to := scope(x)
			r, ok := ranges[x.kind]
			if !ok || from.Before(r[0]) {
				r[0] = from
			}
			if !ok || to.After(r[1]) {
				r[1] = to
			}
			ranges[x.kind] = r
		}
	}
	for _, kind := range []report.Kind{report.TransactionItems, report.SettlementItems} {
		r, ok := ranges[kind]
		if !ok {
			continue
		}
		fs, err := st.ItemFilesBetween(ctx, kind, r[0], r[1])
		if err != nil {
			return res, err
		}
		for _, f := range fs {
			if !inRun[f.ID] && !contains(window, f.ID) {
				files = append(files, f)
				res.files = append(res.files, f.ID)
			}
		}
	}
	if len(files) == 0 {
		return res, nil
	}
	byID := map[int64]File{}
	for _, f := range files {
		byID[f.ID] = f
	}
	lines, err := st.linesNaming(ctx, res.files, uniqStrings(ids), uniqStrings(reqs))
	if err != nil {
		return res, err
	}
	sort.Slice(lines, func(i, j int) bool {
		a, b := byID[lines[i].FileID].ReportDate, byID[lines[j].FileID].ReportDate
		if !a.Equal(b) {
			return a.Before(b)
		}
		return lines[i].pos() < lines[j].pos()
	})
	used := map[int64]bool{}
	names := func(l *itemRow, tx ledgerTx) bool {
		return (tx.APOID != "" && l.TransactionID == tx.APOID) || (tx.RequestID != "" && l.TransactionRequestID == tx.RequestID)
	}
	samePayment := func(l *itemRow, tx ledgerTx) bool {
		a, ok := comparable(l)
		if !ok || a.Currency != tx.Ref.Amount.Currency || abs(a.Minor) != tx.Ref.Amount.Minor {
			return false
		}
		if tx.APOPaymentID != "" && paymentOf(l) == tx.APOPaymentID {
			return true
		}
		return l.OriginalTransactionRequestID == tx.PaymentRequestID || l.TransactionRequestID == tx.PaymentRequestID
	}
	for _, rule := range []func(*itemRow, ledgerTx) bool{names, samePayment} {
		for _, tx := range txs {
			for _, x := range misses[tx.Ref.ID] {
				k := lateKey{x.kind, tx.Ref.ID}
				if _, done := res.found[k]; done {
					continue
				}
				from, to := scope(x)
				for i := range lines {
					l := &lines[i]
					f := byID[l.FileID]
					if used[l.pos()] || f.Kind != x.kind || f.ReportDate.Before(from) || f.ReportDate.After(to) ||
						ledgerType(l.TransactionType) != tx.Type || !rule(l, tx) {
						continue
					}
					used[l.pos()] = true
					res.found[k] = healNote{FileID: f.ID, File: f.Name, Line: l.LineNo,
						ReportDate: f.ReportDate.Format(time.DateOnly)}
					break
				}
			}
		}
	}
	return res, nil
}

func maxDate(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
