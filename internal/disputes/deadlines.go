package disputes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// window is one deadline threshold: an alert goes out once when a dispute's
// defence falls due within it.
type window struct {
	name string
	d    time.Duration
}

// windows are the deadline thresholds, widest first. "expired" follows
// them: the due time passed without a defence.
var windows = []window{{"7d", 7 * 24 * time.Hour}, {"48h", 48 * time.Hour}, {"24h", 24 * time.Hour}}

const thresholdExpired = "expired"

// dueWithin is payops_disputes_due_within{window}: OPEN disputes whose
// defence is due within the window (not yet overdue), as of the watchdog's
// last run.
var dueWithin = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "payops_disputes_due_within",
	Help: "Open disputes whose defence is due within the window (7d, 48h, 24h), as of the last deadline check.",
}, []string{"window"})

// DeadlineReport is what one CheckDeadlines run found and did.
type DeadlineReport struct {
	DueWithin map[string]int // window name → OPEN disputes due within it
	Expired   int            // disputes marked EXPIRED_UNDEFENDED by this run
	Alerts    int            // alerts this run sent
}

// maxDuePerRun bounds one run; the next run picks up the rest.
const maxDuePerRun = 1000

// CheckDeadlines is the deadline watchdog. As of now it counts OPEN
// disputes due within 7 days, 48 hours and 24 hours (the
// payops_disputes_due_within gauge), logs each one, marks those whose due
// time has passed EXPIRED_UNDEFENDED, and alerts once per threshold per
// dispute. Replicas and retries may run it concurrently: each dispute is
// handled under its row lock, and the alert record (unique per dispute and
// threshold) is written in the same transaction as the alert is sent, so
// a threshold is alerted once; a failed delivery rolls the record back and
// the next run tries again.
func (s *Service) CheckDeadlines(ctx context.Context, now time.Time) (DeadlineReport, error) {
	now = now.UTC()
	st := NewStore(s.db)
	durations := make([]time.Duration, len(windows))
	for i, w := range windows {
		durations[i] = w.d
	}
	counts, err := st.CountDue(ctx, now, durations)
	if err != nil {
		return DeadlineReport{}, err
	}
	rep := DeadlineReport{DueWithin: map[string]int{}}
	for i, w := range windows {
		rep.DueWithin[w.name] = counts[i]
		dueWithin.WithLabelValues(w.name).Set(float64(counts[i]))
	}
	ids, err := st.DueBefore(ctx, now.Add(windows[0].d), maxDuePerRun)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, id := range ids {
		expired, sent, err := s.checkDeadline(ctx, id, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if expired {
			rep.Expired++
		}
		if sent {
			rep.Alerts++
		}
	}
	s.log.InfoContext(ctx, "dispute deadlines checked", "due_7d", rep.DueWithin["7d"], "due_48h",
		rep.DueWithin["48h"], "due_24h", rep.DueWithin["24h"], "expired", rep.Expired, "alerts", rep.Alerts)
	return rep, errors.Join(errs...)
}

// checkDeadline handles one dispute due within the widest window.
func (s *Service) checkDeadline(ctx context.Context, id string, now time.Time) (expired, sent bool, err error) {
	err = s.inTx(ctx, func(st *Store) error {
		d, err := st.Lock(ctx, id)
		if err != nil {
			return err
		}
		if d.Status != StatusOpen || d.DefenseDue == nil {
			return nil // moved on since the scan
		}
		due := *d.DefenseDue
		left := due.Sub(now)
		log := s.log.With("dispute_id", d.ID, "apo_dispute_id", d.APODisputeID, "payment_id", d.PaymentID,
			"defense_due_time", due, "amount", d.Amount.String())
		var crossed []string
		if left <= 0 {
			expired = true
			d.Status, d.UpdatedAt = StatusExpiredUndefended, now
			if err := st.Update(ctx, d); err != nil {
				return err
			}
			if _, err := st.AddEvent(ctx, Event{DisputeID: d.ID, Source: SourceWatchdog, Kind: "expired",
				StatusBefore: StatusOpen, StatusAfter: StatusExpiredUndefended, Applied: true,
				Note: "defence due time " + due.Format(time.RFC3339) + " passed without a defence", CreatedAt: now},
				"watchdog|expired|"+due.Format(time.RFC3339)); err != nil {
				return err
			}
			log.WarnContext(ctx, "dispute defence window closed without a defence")
			crossed = append(crossed, thresholdExpired)
		} else {
			log.InfoContext(ctx, "dispute defence due soon", "left", left.Round(time.Minute).String())
		}
		for _, w := range windows {
			if left <= w.d {
				crossed = append(crossed, w.name)
			}
		}
		claimed, err := st.ClaimAlerts(ctx, d.ID, crossed, due, now)
		if err != nil || len(claimed) == 0 {
			return err
		}
		// One alert per run names the tightest threshold just crossed: a
		// dispute first seen 20 hours before its deadline gets one "24h"
		// alert, not three.
		th := tightest(claimed)
		if err := s.alerts.Send(ctx, deadlineAlert(d, th, left, now)); err != nil {
			return fmt.Errorf("alert dispute %s deadline (%s): %w", d.ID, th, err)
		}
		sent = true
		return nil
	})
	return expired, sent, err
}

// tightest returns the most urgent of the claimed thresholds.
func tightest(claimed []string) string {
	rank := map[string]int{"7d": 0, "48h": 1, "24h": 2, thresholdExpired: 3}
	best := claimed[0]
	for _, c := range claimed[1:] {
		if rank[c] > rank[best] {
			best = c
		}
	}
	return best
}

func deadlineAlert(d Dispute, threshold string, left time.Duration, now time.Time) Alert {
	al := Alert{
		ID: "dispute-deadline:" + d.ID + ":" + threshold, Kind: "dispute.deadline", Severity: "warning",
		Subject: "dispute:" + d.ID, At: now,
		Fields: map[string]string{
			"dispute_id": d.ID, "apo_dispute_id": d.APODisputeID, "payment_id": d.PaymentID,
			"threshold": threshold, "defense_due_time": d.DefenseDue.Format(time.RFC3339),
			"amount": d.Amount.String(), "reason_code": d.ReasonCode, "scheme": d.Source, "status": string(d.Status),
		},
	}
	if threshold == thresholdExpired {
		al.Severity = "critical"
		al.Summary = fmt.Sprintf("Dispute %s (%s) was not defended before %s", d.APODisputeID, d.Amount,
			d.DefenseDue.Format(time.RFC3339))
	} else {
		if threshold == "24h" {
			al.Severity = "critical"
		}
		al.Summary = fmt.Sprintf("Dispute %s (%s) must be defended or accepted within %s (due %s)",
			d.APODisputeID, d.Amount, left.Round(time.Minute), d.DefenseDue.Format(time.RFC3339))
	}
	return al
}
