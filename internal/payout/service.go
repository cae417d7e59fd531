package payout

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

// Batches is what the read side needs of recon: a batch's lines, the
// batches that settled a payment, and the current discrepancies.
type Batches interface {
	LinesOfBatch(ctx context.Context, runID int64, batchID, currency string) ([]recon.BatchLine, error)
	PaymentBatches(ctx context.Context, paymentID string) ([]string, error)
	CurrentDiscrepancies(ctx context.Context, f recon.CurrentFilter) (recon.Page[recon.Discrepancy], error)
}

// Service registers, matches and judges payouts (recon.PayoutChecker) and
// reads them back.
type Service struct {
	db      *sqlx.DB
	cfg     Config
	batches Batches
	now     func() time.Time
}

// NewService returns a service over db.
func NewService(db *sqlx.DB, cfg Config, batches Batches) *Service {
	if cfg.WindowDays <= 0 {
		cfg.WindowDays = DefaultWindowDays
	}
	if cfg.HorizonDays <= 0 {
		cfg.HorizonDays = DefaultHorizonDays
	}
	return &Service{db: db, cfg: cfg, batches: batches, now: time.Now}
}

// lookaheadDays is how far after its period a run reads credits: far
// enough that a run of a past day, with later statements already in, sees
// a payout paid late (and does not call it not received); a credit later
// than that is linked by the run of its own day, which calls it late.
// Credits some payout has claimed are not read again.
const lookaheadDays = 31

// CheckPayouts registers the run's batches as expected payouts, matches
// unmatched payouts and credits, and judges the payouts due on the run's
// period and the credits booked on it. It implements recon.PayoutChecker.
func (s *Service) CheckPayouts(ctx context.Context, tx *sqlx.Tx, run recon.Run, now time.Time) ([]recon.Discrepancy, recon.PayoutCounts, error) {
	var counts recon.PayoutCounts
	st := NewStore(tx)
	if err := st.lockMatching(ctx); err != nil {
		return nil, counts, fmt.Errorf("lock payout matching: %w", err)
	}
	accounts, err := bank.AccountsForSettlement(ctx, tx)
	if err != nil {
		return nil, counts, err
	}
	period := dateOf(run.Period)
	for _, b := range run.Batches {
		if !b.HasSummary || b.Summary <= 0 {
			continue
		}
		p := Payout{BatchID: b.BatchID, Currency: b.Currency, Amount: b.Summary, SettlementDate: period,
			DueDate: s.cfg.calendar(b.Currency).Due(period), AccountID: accounts[b.Currency].ID, RunID: run.ID}
		if err := st.register(ctx, p, now); err != nil {
			return nil, counts, err
		}
		counts.Expected++
	}

	byID := map[int64]bank.Account{}
	var ids []int64
	for _, a := range accounts {
		byID[a.ID], ids = a, append(ids, a.ID)
	}
	from, to := period.AddDate(0, 0, -s.cfg.HorizonDays), period.AddDate(0, 0, lookaheadDays)
	claimed, err := st.linkedBetween(ctx, from, to)
	if err != nil {
		return nil, counts, err
	}
	credits, err := bank.CreditsForMatching(ctx, tx, ids, from, to, period, claimed)
	if err != nil {
		return nil, counts, err
	}
	entryIDs := make([]int64, len(credits))
	for i, c := range credits {
		entryIDs[i] = c.ID
	}
	payouts, err := st.forMatching(ctx, ids, from, period, entryIDs)
	if err != nil {
		return nil, counts, err
	}
	if err := st.links(ctx, payouts); err != nil {
		return nil, counts, err
	}
	m := newMatcher(s.cfg, period, payouts, credits)
	m.match()
	if err := st.addLinks(ctx, m.added, run.ID, now); err != nil {
		return nil, counts, err
	}
	counts.Matched = int64(len(m.added))

	known, err := s.creditsOf(ctx, tx, payouts, credits)
	if err != nil {
		return nil, counts, err
	}
	cover := map[int64]time.Time{}
	for _, id := range ids {
		if cover[id], err = bank.Coverage(ctx, tx, id); err != nil {
			return nil, counts, err
		}
	}
	j := judge{cfg: s.cfg, period: period, credits: known, cover: cover, accounts: byID}
	found := j.run(payouts, credits, &counts)
	return found, counts, nil
}

// BankDays returns the days from..to with payouts due or bank credits
// booked (recon.PayoutChecker): Nightly reconciles such a day when its
// latest run has not seen them, even when APO sent no report of it.
func (s *Service) BankDays(ctx context.Context, q sqlx.ExtContext, from, to time.Time) ([]recon.BankDay, error) {
	return NewStore(q).bankDays(ctx, from, to)
}

// creditsOf returns by entry id every credit linked to the payouts, the
// ones read for matching and the older ones.
func (s *Service) creditsOf(ctx context.Context, q sqlx.QueryerContext, ps []*Payout, read []bank.Credit) (map[int64]bank.Credit, error) {
	out := map[int64]bank.Credit{}
	for _, c := range read {
		out[c.ID] = c
	}
	var missing []int64
	for _, p := range ps {
		for _, l := range p.Links {
			if _, ok := out[l.EntryID]; !ok {
				missing = append(missing, l.EntryID)
			}
		}
	}
	if len(missing) > 0 {
		more, err := bank.CreditsByID(ctx, q, missing)
		if err != nil {
			return nil, err
		}
		for _, c := range more {
			out[c.ID] = c
		}
	}
	return out, nil
}

// judge decides the statuses and breaks of one period.
type judge struct {
	cfg      Config
	period   time.Time
	credits  map[int64]bank.Credit
	cover    map[int64]time.Time
	accounts map[int64]bank.Account
}

// status derives p's status on day asOf, filling Received and Fee.
func (j judge) status(p *Payout, asOf time.Time) Status {
	p.Received, p.Fee = 0, 0
	var n int
	var last time.Time
	for _, l := range p.Links {
		if l.Duplicate {
			continue
		}
		n++
		p.Received, p.Fee = addCapped(p.Received, l.Amount), addCapped(p.Fee, l.Fee)
		if c, ok := j.credits[l.EntryID]; ok && c.BookingDate.After(last) {
			last = c.BookingDate
		}
	}
	tol := j.cfg.Tolerance[p.Currency]
	switch diff := p.Amount - p.Received; {
	case n == 0 && (p.AccountID == 0 || asOf.Before(p.DueDate)):
		return StatusExpected
	case n == 0 && j.cover[p.AccountID].Before(p.DueDate):
		return StatusAwaitingStatement
	case n == 0:
		return StatusNotReceived
	case diff > tol || -diff > tol:
		return StatusAmountMismatch
	case last.After(p.DueDate):
		return StatusReceivedLate
	case diff > 0:
		return StatusReceivedWithFee
	default:
		return StatusReceived
	}
}

// run judges each payout due on the period and each credit booked on it.
func (j judge) run(payouts []*Payout, credits []bank.Credit, counts *recon.PayoutCounts) []recon.Discrepancy {
	var out []recon.Discrepancy
	byEntry := map[int64][]Link{}
	byPayout := map[int64]*Payout{}
	for _, p := range payouts {
		byPayout[p.ID] = p
		for _, l := range p.Links {
			byEntry[l.EntryID] = append(byEntry[l.EntryID], l)
		}
		if !p.DueDate.Equal(j.period) || p.AccountID == 0 {
			continue
		}
		counts.Judged++
		switch p.Status = j.status(p, j.period); p.Status {
		case StatusAwaitingStatement:
			counts.AwaitingStatement++
		case StatusNotReceived:
			out = append(out, j.payoutBreak(recon.PayoutNotReceived, p))
		case StatusAmountMismatch:
			out = append(out, j.payoutBreak(recon.PayoutAmountMismatch, p))
		}
	}
	for _, c := range credits {
		if !c.BookingDate.Equal(j.period) {
			continue
		}
		links := byEntry[c.ID]
		if len(links) == 0 {
			if a := j.accounts[c.AccountID]; fromRemitter(c, a.Remitters) {
				counts.Judged++
				out = append(out, j.creditBreak(recon.BankCreditUnexplained, c, nil, nil))
			}
			continue
		}
		counts.Judged++
		var late, dup []*Payout
		for _, l := range links {
			p := byPayout[l.PayoutID]
			switch {
			case l.Duplicate:
				dup = append(dup, p)
			case p.DueDate.Before(c.BookingDate):
				late = append(late, p)
			}
		}
		if len(dup) > 0 {
			out = append(out, j.creditBreak(recon.PayoutDuplicated, c, dup, links))
		}
		if len(late) > 0 {
			out = append(out, j.creditBreak(recon.PayoutLate, c, late, links))
		}
	}
	return out
}

func amount(minor int64, ccy string) report.Amount {
	return report.Amount{Money: money.Money{Minor: minor, Currency: ccy}, Valid: true}
}

// payoutBreak is a break of a payout as a whole, named by its batch.
func (j judge) payoutBreak(k recon.Kind, p *Payout) recon.Discrepancy {
	var entries []int64
	var files []string
	var methods []Method
	for _, l := range p.Links {
		if c, ok := j.credits[l.EntryID]; ok && !l.Duplicate {
			entries, files, methods = append(entries, c.ID), append(files, c.FileName), append(methods, l.Method)
		}
	}
	details, _ := json.Marshal(map[string]any{"payout_id": p.ID, "due_date": p.DueDate.Format(time.DateOnly),
		"account_id": p.AccountID, "statements_cover": j.cover[p.AccountID].Format(time.DateOnly),
		"entry_ids": entries, "statement_files": files, "methods": methods, "fee_minor": p.Fee})
	d := recon.Discrepancy{Kind: k, Fingerprint: string(k) + "|" + p.BatchID + "|" + p.Currency,
		SettlementBatchID: p.BatchID, Ours: amount(p.Amount, p.Currency), Details: details}
	if k == recon.PayoutAmountMismatch {
		d.Report = amount(p.Received, p.Currency)
	}
	return d
}

// creditBreak is a break of one bank credit, named by its entry.
func (j judge) creditBreak(k recon.Kind, c bank.Credit, ps []*Payout, links []Link) recon.Discrepancy {
	det := map[string]any{"entry_id": c.ID, "statement_id": c.StatementID, "statement_file": c.FileName,
		"statement_seq": c.Seq, "account_id": c.AccountID, "booking_date": c.BookingDate.Format(time.DateOnly),
		"counterparty": c.CounterpartyName, "remittance_info": c.RemittanceInfo}
	d := recon.Discrepancy{Kind: k, Fingerprint: string(k) + "|" + strconv.FormatInt(c.ID, 10),
		Report: amount(c.Amount.Minor, c.Amount.Currency), FileName: c.FileName, Line: c.Line}
	if len(ps) > 0 {
		var batches, dues []string
		var expected int64
		for _, p := range ps {
			batches, dues = append(batches, p.BatchID), append(dues, p.DueDate.Format(time.DateOnly))
			expected = addCapped(expected, p.Amount)
		}
		var methods []Method
		for _, l := range links {
			methods = append(methods, l.Method)
		}
		det["batches"], det["due_dates"], det["methods"] = batches, dues, methods
		d.SettlementBatchID, d.Ours = ps[0].BatchID, amount(expected, ps[0].Currency)
	}
	d.Details, _ = json.Marshal(det)
	return d
}

// List returns a page of payouts in id order, each with its status as of
// today.
func (s *Service) List(ctx context.Context, f Filter) (Page[Payout], error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		return Page[Payout]{}, &InvalidError{Field: "limit", Reason: "at most 200"}
	}
	if f.Status != "" && !validStatus(f.Status) {
		return Page[Payout]{}, &InvalidError{Field: "status", Reason: "unknown status"}
	}
	if f.Currency != "" && !money.Known(f.Currency) {
		return Page[Payout]{}, &InvalidError{Field: "currency", Reason: "not an ISO 4217 currency"}
	}
	var after int64
	if f.Cursor != "" {
		n, err := postgres.DecodeIDCursor(f.Cursor)
		if err != nil {
			return Page[Payout]{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
		}
		after = n
	}
	var batches []string
	if f.PaymentID != "" {
		if _, err := uuid.Parse(f.PaymentID); err != nil {
			return Page[Payout]{}, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
		}
		bs, err := s.batches.PaymentBatches(ctx, f.PaymentID)
		if err != nil {
			return Page[Payout]{}, err
		}
		batches = append([]string{}, bs...)
	}
	// The status is derived, so rows are read in chunks and filtered here
	// until the page is full.
	var page Page[Payout]
	for {
		ps, err := NewStore(s.db).list(ctx, f, batches, after, f.Limit+1)
		if err != nil {
			return page, err
		}
		if _, err := s.deriveCredits(ctx, ps); err != nil {
			return page, err
		}
		for i, p := range ps {
			if i == f.Limit {
				break
			}
			after = p.ID
			if f.Status != "" && p.Status != f.Status {
				continue
			}
			page.Items = append(page.Items, *p)
			if len(page.Items) == f.Limit {
				if i+1 < len(ps) {
					page.Next = postgres.EncodeIDCursor(p.ID)
				}
				return page, nil
			}
		}
		if len(ps) <= f.Limit {
			return page, nil
		}
	}
}

// Get returns a payout with its settlement lines and bank credits.
func (s *Service) Get(ctx context.Context, id int64) (Detail, error) {
	p, err := NewStore(s.db).byID(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	credits, err := s.deriveCredits(ctx, []*Payout{p})
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Payout: *p}
	for _, l := range p.Links {
		if c, ok := credits[l.EntryID]; ok {
			d.Credits = append(d.Credits, c)
		}
	}
	if d.Lines, err = s.batches.LinesOfBatch(ctx, p.RunID, p.BatchID, p.Currency); err != nil {
		return Detail{}, err
	}
	return d, nil
}

// LinePayments returns, by APO id, the payment (our id) each of lines
// names by its transactionId: the payment itself, or its capture, refund
// or dispute. A line naming nothing of ours (a fee, a reserve release, a
// transaction we never made) has no key.
func (s *Service) LinePayments(ctx context.Context, lines []recon.BatchLine) (map[string]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, l := range lines {
		if l.TransactionID != "" && !seen[l.TransactionID] {
			seen[l.TransactionID] = true
			ids = append(ids, l.TransactionID)
		}
	}
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	return NewStore(s.db).paymentsOf(ctx, ids)
}

// Discrepancies returns the current discrepancies (any status) about the
// payout d: PAYOUT_NOT_RECEIVED and PAYOUT_AMOUNT_MISMATCH of its due
// date's run, which name it, and PAYOUT_LATE and PAYOUT_DUPLICATED of the
// runs of its credits' booking dates, which name a credit linked to it.
// They come by period, then as recon lists them.
func (s *Service) Discrepancies(ctx context.Context, d Detail) ([]recon.Discrepancy, error) {
	type query struct {
		day  time.Time
		kind recon.Kind
	}
	qs := []query{{d.DueDate, recon.PayoutNotReceived}, {d.DueDate, recon.PayoutAmountMismatch}}
	entries := map[int64]bool{}
	days := map[time.Time]bool{}
	for _, l := range d.Links {
		entries[l.EntryID] = true
	}
	for _, c := range d.Credits {
		if !c.BookingDate.IsZero() && !days[c.BookingDate] {
			days[c.BookingDate] = true
			qs = append(qs, query{c.BookingDate, recon.PayoutLate}, query{c.BookingDate, recon.PayoutDuplicated})
		}
	}
	var out []recon.Discrepancy
	for _, q := range qs {
		f := recon.CurrentFilter{Kind: q.kind, PeriodFrom: q.day, PeriodTo: q.day, Limit: 500}
		for {
			page, err := s.batches.CurrentDiscrepancies(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, x := range page.Items {
				var about struct {
					PayoutID int64 `json:"payout_id"`
					EntryID  int64 `json:"entry_id"`
				}
				if json.Unmarshal(x.Details, &about) != nil {
					continue
				}
				if about.PayoutID == d.ID || (about.PayoutID == 0 && entries[about.EntryID]) {
					out = append(out, x)
				}
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Period.Before(out[j].Period) })
	return out, nil
}

// Receipts returns the payouts a credit linked by run runID now shows
// paid, in id order: what internal/journal books as receipts after the
// run. A payout still short or over beyond tolerance is not among them.
func (s *Service) Receipts(ctx context.Context, runID int64) ([]Receipt, error) {
	ps, err := NewStore(s.db).linkedBy(ctx, runID)
	if err != nil {
		return nil, err
	}
	credits, err := s.deriveCredits(ctx, ps)
	if err != nil {
		return nil, err
	}
	var out []Receipt
	for _, p := range ps {
		switch p.Status {
		case StatusReceived, StatusReceivedWithFee, StatusReceivedLate:
		default:
			continue
		}
		r := Receipt{PayoutID: p.ID, BatchID: p.BatchID, Currency: p.Currency, Amount: p.Amount, Received: p.Received,
			Status: p.Status}
		for _, l := range p.Links {
			if l.Duplicate {
				continue
			}
			r.Credits++
			r.RunID = max(r.RunID, l.RunID)
			if c, ok := credits[l.EntryID]; ok && c.BookingDate.After(r.BookingDate) {
				r.BookingDate = c.BookingDate
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// deriveCredits loads the payouts' links and credits and sets their
// statuses as of today.
func (s *Service) deriveCredits(ctx context.Context, ps []*Payout) (map[int64]bank.Credit, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	st := NewStore(s.db)
	if err := st.links(ctx, ps); err != nil {
		return nil, err
	}
	credits, err := s.creditsOf(ctx, s.db, ps, nil)
	if err != nil {
		return nil, err
	}
	cover := map[int64]time.Time{}
	for _, p := range ps {
		if _, ok := cover[p.AccountID]; p.AccountID != 0 && !ok {
			if cover[p.AccountID], err = bank.Coverage(ctx, s.db, p.AccountID); err != nil {
				return nil, err
			}
		}
	}
	j := judge{cfg: s.cfg, credits: credits, cover: cover}
	today := dateOf(s.now().UTC())
	for _, p := range ps {
		p.Status = j.status(p, today)
	}
	return credits, nil
}

func validStatus(st Status) bool {
	for _, x := range Statuses {
		if x == st {
			return true
		}
	}
	return false
}

// addCapped adds two non-negative amounts, stopping at the int64 bound
// rather than wrapping around it.
func addCapped(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
