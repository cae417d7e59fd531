package disputes

import (
	"context"
	"time"
)

// Due counts the disputes a person must act on, for a dashboard. Each
// figure is what List shows for the filter named beside it, so a count can
// link to its list.
type Due struct {
	// Soon: OPEN, defence due in [now, now+within):
	// Filter{DueFrom: now, DueBefore: now.Add(within), Sort: SortDeadline}.
	Soon int
	// Overdue: OPEN, due before now, which the deadline watchdog marks
	// EXPIRED_UNDEFENDED on its next run: Filter{DueBefore: now}.
	Overdue int
	// Expired: EXPIRED_UNDEFENDED, the window closed without a defence and
	// APO has not judged yet: Filter{Status: StatusExpiredUndefended}.
	Expired int
}

// DueWithin counts the disputes due within the window starting at now,
// those overdue, and those that expired undefended. An OPEN dispute
// without a due time is in none of them.
func (s *Service) DueWithin(ctx context.Context, now time.Time, within time.Duration) (Due, error) {
	if within < 0 {
		return Due{}, &InvalidError{Field: "within", Reason: "must not be negative"}
	}
	return NewStore(s.db).Due(ctx, now, now.Add(within))
}
