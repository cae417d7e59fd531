package recon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
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
			// A day APO did not report can still be a bank day: its
			// payouts and credits are judged by a run of no files.
			bank, err := s.isBankDay(ctx, period)
			if err != nil {
				return Run{}, err
			}
			if !bank {
				return Run{}, &InvalidError{Field: "date", Reason: "no ingested report files, payout due or bank credit booked on " +
					period.Format(time.DateOnly)}
			}
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
		s.afterRun(ctx, run)
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
	if run, err = st.Run(ctx, id); err == nil {
		s.afterRun(ctx, run)
	}
	return run, err
}

// reconcile is the run's transaction. After it has the period to itself, it
// works in phases, each timed and shown as the run's progress:
//
//	stage    stream the run's lines, and the window of earlier settlement
//	         files, into the matcher;
//	match    fallback matches and duplicates, and the breaks they make;
//	ledger   our transactions the reports should hold and do not;
//	batches  roll each batch forward against its summary; write the breaks
//	         and the settlement events;
//	diff     compare with the period's previous run and record what healed;
//
// then it totals the breaks and marks the run succeeded.
func (s *Service) reconcile(ctx context.Context, conn postgres.RawConn, tx *sqlx.Tx, run *Run) error {
	total := time.Now()
	st := NewStore(tx)
	if err := claimPeriod(ctx, st, run); err != nil {
		return err
	}
	r := &reconciliation{s: s, st: st, tx: tx, conn: conn, run: run, now: s.now().UTC(), in: s.planInputs(run.Inputs)}
	phases := []struct {
		progress string // the phase shown while it works; "" keeps the last
		percent  int
		took     *time.Duration
		do       func(context.Context) error
	}{
		{"matching", 10, &run.Timings.Stage, r.stage},
		{"", 0, &run.Timings.Match, r.match},
		{"ledger", 50, &run.Timings.Ledger, r.ledger},
		{"batches", 75, &run.Timings.Batches, r.batches},
		{"diff", 90, &run.Timings.Diff, r.diff},
	}
	for _, p := range phases {
		t := time.Now()
		if p.progress != "" {
			r.progress(ctx, p.progress, p.percent)
		}
		if err := p.do(ctx); err != nil {
			return err
		}
		*p.took = time.Since(t)
	}
	if err := r.totals(ctx); err != nil {
		return err
	}
	finished := s.now().UTC()
	run.Timings.Total = time.Since(total)
	run.Status, run.Phase, run.Progress, run.FinishedAt = RunSucceeded, "done", 100, &finished
	return st.FinishRun(ctx, *run)
}

// claimPeriod takes the period's lock for the transaction and prepares the
// session's scratch tables. A run that another attempt finished while this
// one waited for the lock is errAlreadyDone.
func claimPeriod(ctx context.Context, st *Store, run *Run) error {
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
	return st.Prepare(ctx)
}

// runInputs sorts a run's files by what they feed: item files (transaction
// and settlement details) are matched, summaries are rolled forward against.
// The settlement dates decide the window of earlier files to read.
type runInputs struct {
	items, summaries []int64
	tdDates, sdDates []time.Time // report dates of transaction and settlement items
	windowFrom       time.Time   // earliest date the calendar says is due or pending on a settlement date
	maxSD            time.Time   // latest settlement date
}

func (s *Service) planInputs(inputs []Input) runInputs {
	var in runInputs
	for _, f := range inputs {
		switch f.Kind {
		case report.SettlementSummary:
			in.summaries = append(in.summaries, f.FileID)
			continue
		case report.TransactionItems:
			in.tdDates = addDate(in.tdDates, f.ReportDate)
		case report.SettlementItems:
			in.sdDates = addDate(in.sdDates, f.ReportDate)
		}
		in.items = append(in.items, f.FileID)
	}
	for _, d := range in.sdDates {
		for _, list := range [][]time.Time{s.cal.DueOn(d), s.cal.NotYetDue(d)} {
			if len(list) > 0 && (in.windowFrom.IsZero() || list[0].Before(in.windowFrom)) {
				in.windowFrom = list[0]
			}
		}
		if d.After(in.maxSD) {
			in.maxSD = d
		}
	}
	return in
}

// reconciliation is one run's work in progress, handed from phase to phase.
type reconciliation struct {
	s    *Service
	st   *Store // in the run's transaction
	tx   *sqlx.Tx
	conn postgres.RawConn
	run  *Run
	now  time.Time // stamped on everything the run writes
	in   runInputs

	inRun  map[int64]bool // the run's own item files
	window []int64        // earlier settlement files read for context
	m      *matcher
	dups   map[int64]duplicate
	found  []Discrepancy // the breaks, as the phases find them
	late   lateResult
}

// progress records the phase outside the transaction so that it is visible
// while the run works; losing an update only delays the display.
func (r *reconciliation) progress(ctx context.Context, name string, pct int) {
	if err := NewStore(r.s.db).SetPhase(ctx, r.run.ID, RunRunning, name, pct, nil); err != nil {
		r.s.log.WarnContext(ctx, "recon progress not recorded", "run_id", r.run.ID, "err", err)
	}
}

// stage streams the run's own lines into a new matcher, then the window's.
func (r *reconciliation) stage(ctx context.Context) error {
	r.inRun = map[int64]bool{}
	for _, id := range r.in.items {
		r.inRun[id] = true
	}
	files, err := r.st.FilesByID(ctx, r.in.items)
	if err != nil {
		return err
	}
	r.m = newMatcher(files, r.inRun)
	earliest, err := r.stageOwnLines(ctx)
	if err != nil {
		return err
	}
	if r.window, err = r.windowFiles(ctx, earliest); err != nil || len(r.window) == 0 {
		return err
	}
	wf, err := r.st.FilesByID(ctx, r.window)
	if err != nil {
		return err
	}
	r.m.addFiles(wf, r.inRun)
	return r.st.streamItems(ctx, r.window, func(row *itemRow) error {
		r.m.add(row)
		return nil
	})
}

// stageOwnLines adds the run's own lines to the matcher and returns the
// earliest time on its settlement lines, which says how far back the window
// must reach to see an earlier payout of the same transaction.
func (r *reconciliation) stageOwnLines(ctx context.Context) (time.Time, error) {
	var earliest time.Time
	if len(r.in.items) == 0 {
		return earliest, nil
	}
	err := r.st.streamItems(ctx, r.in.items, func(row *itemRow) error {
		settled := r.m.files[row.FileID].kind == report.SettlementItems && ledgerType(row.TransactionType) != ""
		if settled && !row.PaymentTime.IsZero() && (earliest.IsZero() || row.PaymentTime.Before(earliest)) {
			earliest = row.PaymentTime
		}
		r.m.add(row)
		return nil
	})
	return earliest, err
}

// windowFiles returns the settlement files of earlier dates (not in the run)
// from the completion of the oldest transaction due in the run, or settled
// in it, up to the run's settlement date. They show what was settled before
// it was due, and what the run's lines pay out a second time.
func (r *reconciliation) windowFiles(ctx context.Context, earliest time.Time) ([]int64, error) {
	if len(r.in.sdDates) == 0 {
		return nil, nil
	}
	from := r.in.windowFrom
	if e := day(earliest); !earliest.IsZero() && e.Before(from) {
		from = maxDate(e, from.AddDate(0, 0, -repeatLookbackDays))
	}
	ids, err := r.st.SettlementFilesBetween(ctx, from, r.in.maxSD)
	if err != nil {
		return nil, err
	}
	var window []int64
	for _, id := range ids {
		if !r.inRun[id] {
			window = append(window, id)
		}
	}
	return window, nil
}

// match runs the fallback matches, finds the lines reported twice, and turns
// what did not match into breaks.
func (r *reconciliation) match(ctx context.Context) error {
	if err := r.m.fallbacks(ctx, r.st); err != nil {
		return err
	}
	r.dups = r.m.duplicates()
	var dupRows []itemRow
	if len(r.dups) > 0 {
		positions := make([]int64, 0, len(r.dups))
		for p := range r.dups {
			positions = append(positions, p)
		}
		var err error
		if dupRows, err = r.st.itemsAt(ctx, r.in.items, positions); err != nil {
			return err
		}
	}
	r.found = r.m.discrepancies(r.dups, dupRows)
	return nil
}

// ledger adds the transactions the reports should hold and do not.
func (r *reconciliation) ledger(ctx context.Context) error {
	missing, late, err := r.s.ledgerChecks(ctx, r.st, r.m, r.inRun, r.window, r.in.tdDates, r.in.sdDates, &r.run.Counts)
	if err != nil {
		return err
	}
	r.found, r.late = append(r.found, missing...), late
	return nil
}

// batches rolls each batch forward against its summary line, writes every
// break found so far, and records the settlement events of the lines that
// are not duplicates.
func (r *reconciliation) batches(ctx context.Context) error {
	var lines []summaryLine
	if len(r.in.summaries) > 0 {
		var err error
		if lines, err = r.st.summaryLines(ctx, r.in.summaries); err != nil {
			return err
		}
	}
	var breaks []Discrepancy
	r.run.Batches, breaks = rollForward(r.m.batchSums(), lines, r.s.cfg.AmountConvention)
	r.found = append(r.found, breaks...)
	if r.s.payouts != nil {
		found, counts, err := r.s.payouts.CheckPayouts(ctx, r.tx, *r.run, r.now)
		if err != nil {
			return fmt.Errorf("payouts: %w", err)
		}
		r.found, r.run.Counts.Payouts = append(r.found, found...), counts
	}
	if r.s.journal != nil {
		found, err := r.s.journal.CheckJournals(ctx, r.tx, *r.run)
		if err != nil {
			return fmt.Errorf("journals: %w", err)
		}
		r.found = append(r.found, found...)
	}
	if err := r.st.InsertDiscrepancies(ctx, r.run.ID, r.found, r.now); err != nil {
		return err
	}
	var settled []settledLine
	for _, l := range r.m.settled {
		if _, dup := r.dups[l.Pos]; !dup {
			settled = append(settled, l)
		}
	}
	if _, err := r.st.addSettlementEvents(ctx, r.conn, r.in.items, settled, r.now); err != nil {
		return err
	}
	c := &r.run.Counts
	c.Lines, c.LinesByType = r.m.counts.Lines, r.m.counts.LinesByType
	c.RollForwardOnly = r.m.counts.RollForwardOnly
	c.Matched = r.m.counts.Matched - r.m.matchedDuplicates(r.dups)
	return nil
}

// diff compares the run's breaks with the period's previous run, records
// which breaks late lines healed, and which files besides its own the run
// read.
func (r *reconciliation) diff(ctx context.Context) error {
	prev, err := r.st.PreviousRun(ctx, r.run.Period, r.run.ID)
	if err != nil {
		return err
	}
	if r.run.Diff, err = r.st.ApplyDiff(ctx, r.run.ID, prev); err != nil {
		return err
	}
	if err := r.st.RecordHealing(ctx, r.run.ID, prev, r.late.notes); err != nil {
		return err
	}
	return r.st.SetContextFiles(ctx, r.run.ID, append(r.window, r.late.files...))
}

// totals counts the summary lines read and the breaks by kind.
func (r *reconciliation) totals(ctx context.Context) error {
	run := r.run
	for _, in := range run.Inputs {
		if in.Kind == report.SettlementSummary {
			run.Counts.Lines[report.SettlementSummary] += int64(in.Lines)
		}
	}
	var err error
	if run.Totals, err = r.st.Totals(ctx, run.ID); err != nil {
		return err
	}
	run.Counts.Discrepancies = map[Kind]int64{}
	for _, tot := range run.Totals {
		run.Counts.Discrepancies[tot.Kind] += tot.Count
	}
	return nil
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
	ids, reqs, ranges := lateSearch(txs, misses)
	files, err := lateFiles(ctx, st, ranges, inRun, window)
	if err != nil || len(files) == 0 {
		return res, err
	}
	byID := map[int64]File{}
	for _, f := range files {
		byID[f.ID] = f
		res.files = append(res.files, f.ID)
	}
	lines, err := st.linesNaming(ctx, res.files, uniqStrings(ids), uniqStrings(reqs))
	if err != nil {
		return res, err
	}
	// Earliest report first, so a transaction heals with the first line
	// that arrived for it.
	sort.Slice(lines, func(i, j int) bool {
		a, b := byID[lines[i].FileID].ReportDate, byID[lines[j].FileID].ReportDate
		if !a.Equal(b) {
			return a.Before(b)
		}
		return lines[i].pos() < lines[j].pos()
	})
	assignLate(lines, byID, txs, misses, res.found)
	return res, nil
}

// lateScope is the range of report dates in which a line for x counts as
// late rather than missing.
func lateScope(x miss) (from, to time.Time) {
	if x.kind == report.SettlementItems {
		return x.due.AddDate(0, 0, 1), x.due.AddDate(0, 0, lateDays)
	}
	return x.due.AddDate(0, 0, -1), x.due.AddDate(0, 0, lateDays)
}

// lateSearch returns what to look for: the missing transactions' APO ids
// and our request ids, and per report kind the range of report dates of
// the files that may hold them.
func lateSearch(txs []ledgerTx, misses map[uuid16][]miss) (ids, reqs []string, ranges map[report.Kind][2]time.Time) {
	ranges = map[report.Kind][2]time.Time{}
	for _, tx := range txs {
		ids = append(ids, tx.APOID, tx.APOPaymentID)
		reqs = append(reqs, tx.RequestID, tx.PaymentRequestID)
		for _, x := range misses[tx.Ref.ID] {
			from, to := lateScope(x)
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
	return ids, reqs, ranges
}

// lateFiles returns the item files in ranges that the run has not read
// already (its own files and its window).
func lateFiles(ctx context.Context, st *Store, ranges map[report.Kind][2]time.Time, inRun map[int64]bool,
	window []int64) ([]File, error) {
	var files []File
	for _, kind := range []report.Kind{report.TransactionItems, report.SettlementItems} {
		r, ok := ranges[kind]
		if !ok {
			continue
		}
		fs, err := st.ItemFilesBetween(ctx, kind, r[0], r[1])
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !inRun[f.ID] && !contains(window, f.ID) {
				files = append(files, f)
			}
		}
	}
	return files, nil
}

// lateRules are the ways a late line can hold a missing transaction,
// strongest first: every transaction is tried by the first rule before any
// is tried by the second, so a weak match cannot take a line a strong one
// needs.
var lateRules = []func(l *itemRow, tx ledgerTx) bool{
	// The line carries the transaction's APO id or our request id.
	func(l *itemRow, tx ledgerTx) bool {
		return (tx.APOID != "" && l.TransactionID == tx.APOID) || (tx.RequestID != "" && l.TransactionRequestID == tx.RequestID)
	},
	// The line names the transaction's payment, with the same amount.
	func(l *itemRow, tx ledgerTx) bool {
		a, ok := comparable(l)
		if !ok || a.Currency != tx.Ref.Amount.Currency || abs(a.Minor) != tx.Ref.Amount.Minor {
			return false
		}
		if tx.APOPaymentID != "" && paymentOf(l) == tx.APOPaymentID {
			return true
		}
		return l.OriginalTransactionRequestID == tx.PaymentRequestID || l.TransactionRequestID == tx.PaymentRequestID
	},
}

// assignLate gives each missing transaction the first unused line, in
// lines' order, that lateRules say holds it, and records it in found.
func assignLate(lines []itemRow, byID map[int64]File, txs []ledgerTx, misses map[uuid16][]miss,
	found map[lateKey]healNote) {
	used := map[int64]bool{}
	for _, rule := range lateRules {
		for _, tx := range txs {
			for _, x := range misses[tx.Ref.ID] {
				k := lateKey{x.kind, tx.Ref.ID}
				if _, done := found[k]; done {
					continue
				}
				if l, f, ok := firstLate(lines, byID, used, x, tx, rule); ok {
					used[l.pos()] = true
					found[k] = healNote{FileID: f.ID, File: f.Name, Line: l.LineNo,
						ReportDate: f.ReportDate.Format(time.DateOnly)}
				}
			}
		}
	}
}

// firstLate returns the first unused line of x's kind, in x's late scope
// and of tx's type, that rule says holds tx.
func firstLate(lines []itemRow, byID map[int64]File, used map[int64]bool, x miss, tx ledgerTx,
	rule func(*itemRow, ledgerTx) bool) (*itemRow, File, bool) {
	from, to := lateScope(x)
	for i := range lines {
		l := &lines[i]
		f := byID[l.FileID]
		if used[l.pos()] || f.Kind != x.kind || f.ReportDate.Before(from) || f.ReportDate.After(to) ||
			ledgerType(l.TransactionType) != tx.Type || !rule(l, tx) {
			continue
		}
		return l, f, true
	}
	return nil, File{}, false
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
