package console

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// disputesDueWithin is Today's horizon for defence deadlines: a week, so a
// team that meets once a week sees every deadline before it passes.
const disputesDueWithin = 7 * 24 * time.Hour

// todayData is the Today page: what arrived, and what needs someone. Every
// number links to the list behind it.
type todayData struct {
	Now          time.Time
	Payments     payments.Summary
	Statuses     []payments.Status
	Disputes     disputes.Due
	Open         []recon.KindSummary
	Webhooks     inbox.Summary
	Nightly      *recon.Run // nil before the first nightly run
	NightlyTotal int64      // discrepancies the last nightly run found
}

// today reads the day's figures from each domain at once: they are
// independent, so the page takes as long as the slowest, not their sum.
func (c *Console) today(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	now := c.d.Now().UTC()
	d := todayData{Now: now, Statuses: payments.Statuses}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	read := func(fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	read(func(ctx context.Context) (err error) { d.Payments, err = c.d.Payments.Summary(ctx, now); return })
	read(func(ctx context.Context) (err error) {
		d.Disputes, err = c.d.Disputes.DueWithin(ctx, now, disputesDueWithin)
		return
	})
	read(func(ctx context.Context) (err error) { d.Open, err = c.d.Recon.OpenSummary(ctx); return })
	read(func(ctx context.Context) (err error) { d.Webhooks, err = c.d.Inbox.Summary(ctx); return })
	read(func(ctx context.Context) error {
		run, err := c.d.Recon.LastNightly(ctx)
		if errors.Is(err, recon.ErrNotFound) {
			return nil
		}
		if err == nil {
			d.Nightly = &run
			for _, n := range run.Counts.Discrepancies {
				d.NightlyTotal += n
			}
		}
		return err
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "today", view{Title: "Today", Nav: "today", S: s, Data: d})
	return nil
}
