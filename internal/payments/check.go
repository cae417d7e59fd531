package payments

import "time"

// Check reports every rule r breaks, exactly as Create would refuse it
// (joined *InvalidError values), without storing anything or calling APO.
// The api runs it beside its schema validation so that one answer lists
// all that is wrong with a request.
func (r CreateRequest) Check(now time.Time) error { return r.validate(now) }
