package inbox

import (
	"context"
	"time"
)

// StuckAfter is how long a notification may stay PENDING before it counts
// as stuck. One about a payment not known yet stays PENDING while the
// queue retries it, until unknownPaymentPatience (5 minutes) has passed
// and the next attempt leaves it FAILED: asynq's backoff puts that attempt
// at most about 7.5 minutes after arrival. Longer than that, no worker is
// processing it (the queue lost it and the sweep is not running, or the
// worker is down).
const StuckAfter = 15 * time.Minute

// Summary is what needs a person among the stored notifications.
type Summary struct {
	// Failed: processing gave up; each needs a look and a replay.
	// Listed by Filter{State: Failed}.
	Failed int64
	// Stuck: PENDING since before StuckBefore (now − StuckAfter).
	// Listed by Filter{State: Pending, ReceivedBefore: StuckBefore}.
	Stuck       int64
	StuckBefore time.Time
}

// NeedsAttention is Failed and Stuck together: what
// Filter{NeedsAttention: true} lists.
func (s Summary) NeedsAttention() int64 { return s.Failed + s.Stuck }

// Summary counts the notifications that need a person, as of now.
// Notifications refused at intake (bad signature, another client id) are
// not among them: anyone can send those, and each is only kept for
// forensics.
func (s *Service) Summary(ctx context.Context) (Summary, error) {
	return NewStore(s.db).Summary(ctx, s.now().Add(-StuckAfter))
}
