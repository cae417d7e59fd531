package recon

import "context"

// AddIntake adds a step that Nightly runs after ingesting the reports and
// before reconciling: another source of facts the runs judge against (the
// bank statements a run's payouts are matched to). A failing step is
// reported in Nightly's error, which retries the task, and does not stop
// the runs. Call it while wiring, before the service is used.
func (s *Service) AddIntake(step func(context.Context) error) {
	s.intake = append(s.intake, step)
}
