package idempotency

import "time"

// SetClock replaces the Purger's clock. It lives in a test file so that
// only the tests (package idempotency_test) can turn time.
func (p *Purger) SetClock(now func() time.Time) { p.now = now }
