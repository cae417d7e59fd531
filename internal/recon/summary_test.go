package recon

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// book writes runs and discrepancies straight into the tables, with the
// amounts a test needs.
type book struct {
	t  *testing.T
	db *sqlx.DB
	n  int
}

// run records a run of period (yyyy-mm-dd) and returns its id.
func (b *book) run(period string, status RunStatus, actor string) int64 {
	b.t.Helper()
	var id int64
	if err := b.db.QueryRowx(`INSERT INTO recon_runs (period, request, input_file_ids, inputs, status, actor, created_at)
		VALUES ($1, '{}', '{}', '[]', $2, $3, now()) RETURNING id`, period, string(status), actor).Scan(&id); err != nil {
		b.t.Fatal(err)
	}
	return id
}

// side is one side's amount of a discrepancy; the zero side has none.
type side struct {
	minor int64
	ccy   string
}

func (s side) minorOrNil() *int64 {
	if s.ccy == "" {
		return nil
	}
	return &s.minor
}

// add records a discrepancy of run; fingerprint "" makes a unique one.
func (b *book) add(runID int64, kind Kind, status Status, fingerprint string, rep, ours side) int64 {
	b.t.Helper()
	if fingerprint == "" {
		b.n++
		fingerprint = "fp-" + time.Duration(b.n).String()
	}
	var id int64
	if err := b.db.QueryRowx(`INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, status,
			report_amount_minor, report_currency, our_amount_minor, our_currency, created_at)
		VALUES ($1, $2, $3, 'h', $4, $5, $6, $7, $8, now()) RETURNING id`, runID, string(kind), fingerprint, string(status),
		rep.minorOrNil(), rep.ccy, ours.minorOrNil(), ours.ccy).Scan(&id); err != nil {
		b.t.Fatal(err)
	}
	return id
}

// TestOpenSummaryAndLastNightly: the OPEN discrepancies of each period's
// latest succeeded run, counted and summed per kind and currency (the
// report's amount, else ours; never across currencies; a sum beyond int64
// saturates), each entry the length of its list; and the nightly pass's
// latest run, failed or not.
func TestOpenSummaryAndLastNightly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, _ := newTestService(t)
	if _, err := svc.LastNightly(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("last nightly before any: %v, want ErrNotFound", err)
	}
	if s, err := svc.OpenSummary(ctx); err != nil || len(s) != 0 {
		t.Fatalf("summary of nothing: %+v %v", s, err)
	}
	b := &book{t: t, db: db}
	eur := func(m int64) side { return side{m, "EUR"} }
	usd := func(m int64) side { return side{m, "USD"} }
	old := b.run("2024-03-01", RunSucceeded, "alice")
	b.add(old, AmountMismatch, StatusOpen, "superseded", eur(100), eur(90))
	cur := b.run("2024-03-01", RunSucceeded, NightlyActor)
	b.add(cur, AmountMismatch, StatusOpen, "", eur(1000), eur(900))
	b.add(cur, AmountMismatch, StatusOpen, "", eur(2500), eur(2400))
	b.add(cur, AmountMismatch, StatusResolved, "", eur(7), eur(6))
	b.add(cur, MissingInReport, StatusOpen, "", side{}, usd(300))
	b.add(cur, CurrencyMismatch, StatusOpen, "", side{50, "GBP"}, usd(60))
	next := b.run("2024-03-02", RunSucceeded, NightlyActor)
	b.add(next, MissingInLedger, StatusOpen, "", usd(math.MaxInt64), side{})
	b.add(next, MissingInLedger, StatusOpen, "", usd(math.MaxInt64), side{})
	b.add(next, MissingInLedger, StatusOpen, "", usd(-200), side{}) // a refund line
	b.add(next, StatusMismatch, StatusOpen, "", side{}, side{})
	failed := b.run("2024-03-03", RunFailed, NightlyActor)
	b.add(failed, AmountMismatch, StatusOpen, "", eur(5), eur(4))
	b.run("2024-03-03", RunQueued, "alice")

	got, err := svc.OpenSummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []KindSummary{
		{AmountMismatch, CurrencyTotal{"EUR", 2, 3500, false}},
		{CurrencyMismatch, CurrencyTotal{"GBP", 1, 50, false}},
		{MissingInLedger, CurrencyTotal{"USD", 3, math.MaxInt64, true}},
		{MissingInReport, CurrencyTotal{"USD", 1, 300, false}},
		{StatusMismatch, CurrencyTotal{"", 1, 0, false}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("open summary\n got %+v\nwant %+v", got, want)
	}
	for _, k := range got {
		if k.Currency == "" {
			continue
		}
		page, err := svc.CurrentDiscrepancies(ctx, CurrentFilter{Status: StatusOpen, Kind: k.Kind, Currency: k.Currency, Limit: 500})
		if err != nil || int64(len(page.Items)) != k.Count {
			t.Errorf("list of %+v: %d items, %v", k, len(page.Items), err)
		}
	}

	last, err := svc.LastNightly(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.ID != failed || last.Status != RunFailed || last.Period.Format(time.DateOnly) != "2024-03-03" {
		t.Fatalf("last nightly %+v, want run %d FAILED of 2024-03-03", last, failed)
	}
}
