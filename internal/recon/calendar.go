package recon

import "time"

// Calendar says when a capture or refund completed on day T is due in a
// settlement report: the N-th working day after T (T itself when N is 0
// and T is a working day), where working days are Monday to Friday minus
// Holidays. With N=1, Friday, Saturday and Sunday are all due on Monday.
type Calendar struct {
	Days     int                // N; 0 means settled on the next working day counted from T itself
	Holidays map[time.Time]bool // UTC midnights that are not working days
}

// day truncates t to its UTC date.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (c Calendar) working(d time.Time) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !c.Holidays[d]
}

// Due returns the settlement date of a transaction completed at t.
func (c Calendar) Due(t time.Time) time.Time {
	d := day(t)
	for n := 0; n < c.Days; {
		d = d.AddDate(0, 0, 1)
		if c.working(d) {
			n++
		}
	}
	for !c.working(d) { // N=0, or T itself not a working day
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// maxLookback bounds how far back completion dates are searched; no
// calendar with sane holidays pushes a due date further.
func (c Calendar) maxLookback() int { return 2*c.Days + 21 }

// DueOn returns the completion dates whose transactions are due on d, oldest
// first (empty when d is not a working day).
func (c Calendar) DueOn(d time.Time) []time.Time {
	d = day(d)
	var out []time.Time
	for back := c.maxLookback(); back >= 0; back-- {
		t := d.AddDate(0, 0, -back)
		if c.Due(t).Equal(d) {
			out = append(out, t)
		}
	}
	return out
}

// NotYetDue returns the completion dates up to d whose transactions are due
// after d: a settlement report of d need not hold them yet.
func (c Calendar) NotYetDue(d time.Time) []time.Time {
	d = day(d)
	var out []time.Time
	for back := c.maxLookback(); back >= 0; back-- {
		t := d.AddDate(0, 0, -back)
		if c.Due(t).After(d) {
			out = append(out, t)
		}
	}
	return out
}
