package recon

import "context"

// CurrencyTotal counts some discrepancies in one currency and adds up
// their amounts (Discrepancy.Amount).
type CurrencyTotal struct {
	Currency    string // "" for discrepancies without an amount
	Count       int64
	AmountMinor int64 // minor units of Currency
	// Saturated says the sum went beyond the int64 range of minor units
	// and is shown at the range's bound.
	Saturated bool
}

// KindSummary is one kind's discrepancies in one currency.
type KindSummary struct {
	Kind Kind
	CurrencyTotal
}

// OpenSummary counts and adds up the OPEN discrepancies as they stand now
// (those CurrentDiscrepancies lists with Status OPEN), per kind and
// currency, ordered so. Each entry is the list CurrentFilter{Status:
// StatusOpen, Kind: k.Kind, Currency: k.Currency}; for the entry of
// discrepancies without an amount (Currency "") that list also holds the
// kind's other currencies.
func (s *Service) OpenSummary(ctx context.Context) ([]KindSummary, error) {
	return NewStore(s.db).OpenSummary(ctx)
}

// LastNightly returns the latest run the nightly pass started (actor
// NightlyActor), whatever its status, with its period, times, counts and
// totals; ErrNotFound before the first. One pass makes a run per date with
// new inputs, and a pass that failed before any run (reports unreachable)
// or found nothing new leaves none: the run's CreatedAt tells how recent
// it is.
func (s *Service) LastNightly(ctx context.Context) (Run, error) {
	return NewStore(s.db).LastRunBy(ctx, NightlyActor)
}
