package payments

import "time"

// Poll schedule (design.md §6): every 2 s for the first minute after pay,
// then backing off to a 5 min cap until the pay window and its grace are
// over, then a few late checks, then the payment is flagged "stuck".
const (
	pollWindow = 30 * time.Minute // APO's default paymentExpiryTime (~14 min) plus grace
)

// pollBackoff is the interval by age inside the window.
var pollBackoff = []struct {
	until    time.Duration
	interval time.Duration
}{
	{1 * time.Minute, 2 * time.Second},
	{2 * time.Minute, 5 * time.Second},
	{4 * time.Minute, 10 * time.Second},
	{8 * time.Minute, 30 * time.Second},
	{15 * time.Minute, 1 * time.Minute},
	{20 * time.Minute, 2 * time.Minute},
	{pollWindow, 5 * time.Minute},
}

// lateChecks are ages at which a payment still open past the window is
// asked about once more.
var lateChecks = []time.Duration{pollWindow + 30*time.Minute, pollWindow + 2*time.Hour, pollWindow + 24*time.Hour}

// NextPoll returns how long to wait before polling a payment of the given
// age again, or ok=false when polling is over and the payment is stuck.
func NextPoll(age time.Duration) (wait time.Duration, ok bool) {
	for _, b := range pollBackoff {
		if age < b.until {
			return b.interval, true
		}
	}
	for _, at := range lateChecks {
		if age < at {
			return at - age, true
		}
	}
	return 0, false
}
