package payments

import (
	"context"
	"time"
)

// summaryDay is how far back the Today summary counts new payments.
const summaryDay = 24 * time.Hour

// Summary is the console's Today page: what arrived in the last day and
// what needs someone's attention.
type Summary struct {
	From, To       time.Time      // Created counts payments created in [From, To)
	Created        map[Status]int // by status; every status is present, 0 when none
	NeedsReview    int            // payments flagged for review, whatever their age
	ExpiringBefore time.Time      // Expiring counts lapses in [To, ExpiringBefore)
	Expiring       int            // AUTHORIZED payments whose authorization lapses soon: capture or cancel them
}

// Summary counts, as of now, the payments created in the last 24 hours by
// status, the payments needing review, and the AUTHORIZED payments whose
// authorization lapses within the next 24 hours (the watchdog's warning
// horizon). The counts are read in one statement, each off an index.
func (s *Service) Summary(ctx context.Context, now time.Time) (Summary, error) {
	now = now.UTC()
	return NewStore(s.db).counts(ctx, now.Add(-summaryDay), now, now.Add(expiryWarning))
}
