package journal

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

// Source is the part of reconciliation journals read: a run, and its
// settlement lines as the run's roll-forward read them. *recon.Store
// satisfies it.
type Source interface {
	Run(ctx context.Context, id int64) (recon.Run, error)
	BatchLines(ctx context.Context, run recon.Run, fn func(*recon.BatchLine) error) error
}

// Service builds, keeps and exports settlement journals.
type Service struct {
	db       *sqlx.DB
	src      Source
	receipts ReceiptSource // nil: no receipts booked (SetReceipts)
	now      func() time.Time
}

// NewService returns a service storing journals in db and reading
// reconciliation runs from src.
func NewService(db *sqlx.DB, src Source) *Service {
	return &Service{db: db, src: src, now: time.Now}
}

// BuildRun builds the journal of every batch a succeeded run rolled
// forward, in one pass over the run's settlement lines, and the receipt of
// every payout the run's bank credits paid (SetReceipts), and stores each
// (or its finding) in one transaction. Building the same run again changes
// nothing; a later run of the same period rebuilds its batches' journals;
// see Outcome.
func (s *Service) BuildRun(ctx context.Context, runID int64) ([]Result, error) {
	run, err := s.src.Run(ctx, runID)
	if errors.Is(err, recon.ErrNotFound) {
		return nil, &InvalidError{Field: "run_id", Reason: fmt.Sprintf("no run %d", runID)}
	}
	if err != nil {
		return nil, err
	}
	if run.Status != recon.RunSucceeded {
		return nil, &InvalidError{Field: "run_id", Reason: fmt.Sprintf("run %d is %s; only a succeeded run has batches to book", run.ID, run.Status)}
	}
	builders, keys, err := buildAll(ctx, s.src, run)
	if err != nil {
		return nil, err
	}
	var receipts []Journal
	if s.receipts != nil {
		rs, err := s.receipts.Receipts(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			j, err := receiptJournal(r)
			if err != nil {
				return nil, err
			}
			receipts = append(receipts, j)
		}
	}
	now := s.now().UTC()
	var out []Result
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := NewStore(tx)
		for _, k := range keys {
			j, f := builders[k].journal()
			j.Period, j.RunID, j.BuiltAt = run.Period, run.ID, now
			id, outcome, err := save(ctx, st, j, f)
			if err != nil {
				return err
			}
			out = append(out, Result{Type: Settlement, BatchID: j.BatchID, Currency: j.Currency, JournalID: id,
				Outcome: outcome, Finding: f})
		}
		for _, j := range receipts {
			j.BuiltAt = now
			id, outcome, err := save(ctx, st, j, nil)
			if err != nil {
				return err
			}
			out = append(out, Result{Type: Receipt, BatchID: j.BatchID, Currency: j.Currency, JournalID: id, Outcome: outcome})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build journals of run %d: %w", run.ID, err)
	}
	return out, nil
}

// buildAll builds the journal of every batch of run from its settlement
// lines, read from src in one pass, and returns the builders by batch and
// their keys in batch order.
func buildAll(ctx context.Context, src Source, run recon.Run) (map[[2]string]*builder, [][2]string, error) {
	builders := map[[2]string]*builder{}
	for _, b := range run.Batches {
		builders[[2]string{b.BatchID, b.Currency}] = newBuilder(b)
	}
	err := src.BatchLines(ctx, run, func(l *recon.BatchLine) error {
		k := [2]string{l.BatchID, l.Currency}
		bd := builders[k]
		if bd == nil { // lines of no batch the run rolled forward: they cannot tie
			bd = newBuilder(recon.Batch{BatchID: l.BatchID, Currency: l.Currency})
			builders[k] = bd
		}
		bd.add(l)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	keys := make([][2]string, 0, len(builders))
	for k := range builders {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	return builders, keys, nil
}

// CheckJournals is recon.JournalChecker: it builds the journal of every
// batch of run in memory, from the lines tx sees, and returns a break for
// each batch that cannot be journaled. It writes nothing: the journals are
// stored after the run commits (BuildRun), where a closed period's lock is
// taken for a moment rather than for the whole run, and a closed month's
// batch is still reported even though its closed journal stays.
func (s *Service) CheckJournals(ctx context.Context, tx *sqlx.Tx, run recon.Run) ([]recon.Discrepancy, error) {
	builders, keys, err := buildAll(ctx, recon.NewStore(tx), run)
	if err != nil {
		return nil, err
	}
	var out []recon.Discrepancy
	for _, k := range keys {
		bd := builders[k]
		_, f := bd.journal()
		if f == nil {
			continue
		}
		details, err := json.Marshal(map[string]any{"reason": f.Reason, "items": bd.items})
		if err != nil {
			return nil, err
		}
		d := recon.Discrepancy{Kind: recon.Kind(f.Kind), Fingerprint: string(f.Kind) + "|" + f.BatchID + "|" + f.Currency,
			SettlementBatchID: f.BatchID, Details: details}
		if bd.batch.HasSummary { // the payout the journal would clear
			d.Report = report.Amount{Money: money.Money{Minor: bd.batch.Summary, Currency: f.Currency}, Valid: true}
		}
		out = append(out, d)
	}
	return out, nil
}

// LoadAccounts replaces the chart of accounts with the mapping file r
// holds (see ParseAccounts), all at once or not at all.
func (s *Service) LoadAccounts(ctx context.Context, r io.Reader) ([]Account, error) {
	accounts, err := ParseAccounts(r)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		return NewStore(tx).ReplaceAccounts(ctx, accounts, now)
	}); err != nil {
		return nil, err
	}
	return accounts, nil
}

// Export writes the journals of a period to w in one layout, streaming.
// Everything that could stop it is checked before the first byte: a batch
// of the period not journaled (*BlockedError), a line kind the chart does
// not map or maps without what the layout needs (*UnmappedError), and
// what the layout cannot hold (*InvalidError: several currencies in a
// layout without a currency column, too many lines, amounts too large).
// It reads one snapshot, so it writes exactly what it checked even while
// a run rebuilds the period's journals.
func (s *Service) Export(ctx context.Context, w io.Writer, req ExportRequest) (ExportSummary, error) {
	lay, sel, err := checkRequest(req)
	if err != nil {
		return ExportSummary{}, err
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return ExportSummary{}, fmt.Errorf("begin export: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	st := NewStore(tx)
	c, err := st.Contents(ctx, sel)
	if err != nil {
		return ExportSummary{}, err
	}
	accounts, err := st.Accounts(ctx)
	if err != nil {
		return ExportSummary{}, err
	}
	ch := NewChart(accounts)
	if err := checkContents(req, lay, c, ch); err != nil {
		return ExportSummary{}, err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(lay.header); err != nil {
		return ExportSummary{}, err
	}
	var sum ExportSummary
	err = st.EachJournal(ctx, sel, func(j *Journal) error {
		sum.Journals++
		for i := range j.Lines {
			l := &j.Lines[i]
			a, _ := ch.Account(l.Kind, j.Currency) // checked by checkContents
			if err := cw.Write(lay.row(j, l, a, req)); err != nil {
				return err
			}
			sum.Lines++
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	cw.Flush()
	return sum, cw.Error()
}

// checkRequest validates an export request and returns its layout and
// selection.
func checkRequest(req ExportRequest) (layout, Selection, error) {
	lay, ok := layouts[req.Format]
	switch {
	case !ok:
		return layout{}, Selection{}, &InvalidError{Field: "format", Reason: fmt.Sprintf("%q is not one of %v", req.Format, Formats)}
	case req.From.IsZero() || req.To.IsZero():
		return layout{}, Selection{}, &InvalidError{Field: "from", Reason: "a period needs both its first and last date"}
	case req.To.Before(req.From):
		return layout{}, Selection{}, &InvalidError{Field: "to", Reason: "the period ends before it starts"}
	case req.Currency != "" && !money.Known(req.Currency):
		return layout{}, Selection{}, &InvalidError{Field: "currency", Reason: fmt.Sprintf("%q is not an ISO 4217 code", req.Currency)}
	}
	return lay, Selection{From: req.From.UTC(), To: req.To.UTC(), Currency: req.Currency}, nil
}

// checkContents is everything that would stop an export of c midway.
func checkContents(req ExportRequest, lay layout, c Contents, ch Chart) error {
	if len(c.Findings) > 0 {
		return &BlockedError{Findings: c.Findings}
	}
	if lay.oneCurrency && len(c.Currencies) > 1 {
		slices.Sort(c.Currencies)
		return &InvalidError{Field: "currency", Reason: fmt.Sprintf(
			"the %s layout has no currency column: export one currency at a time (the period holds %s)",
			req.Format, strings.Join(c.Currencies, ", "))}
	}
	if lay.maxLines > 0 && c.Lines > lay.maxLines {
		return &InvalidError{Field: "to", Reason: fmt.Sprintf(
			"%s imports at most %d lines a file and the period has %d: export a shorter period", req.Format,
			lay.maxLines, c.Lines)}
	}
	var missing []Unmapped
	for _, k := range c.Kinds {
		a, ok := ch.Account(k.Kind, k.Currency)
		switch {
		case !ok:
			missing = append(missing, Unmapped{Kind: k.Kind, Currency: k.Currency})
		case lay.needs != nil && lay.needs(a) != "":
			missing = append(missing, Unmapped{Kind: k.Kind, Currency: k.Currency, Field: lay.needs(a)})
		}
		if lay.amounts != nil {
			if reason := lay.amounts(k.Currency, k.Largest); reason != "" {
				return &InvalidError{Field: "currency", Reason: reason}
			}
		}
	}
	if len(missing) > 0 {
		return &UnmappedError{Format: req.Format, Missing: missing}
	}
	return nil
}

// List returns a page of journals, newest first, without their lines.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	return NewStore(s.db).List(ctx, f)
}

// Get returns a journal with its lines.
func (s *Service) Get(ctx context.Context, id int64) (Journal, error) {
	return NewStore(s.db).Get(ctx, id)
}

// Accounts returns the chart of accounts.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	return NewStore(s.db).Accounts(ctx)
}
