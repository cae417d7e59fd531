package recon

import "context"

// RunHook is called after a run succeeds, outside the run's transaction
// (journals are built from it). It must be idempotent: it is called again
// when a succeeded run is executed again, such as a task redelivered after
// a crash between the run's commit and the hook.
type RunHook func(ctx context.Context, run Run) error

// SetRunHook installs fn as the after-success hook. Set it while wiring,
// before the service runs anything.
func (s *Service) SetRunHook(fn RunHook) { s.hook = fn }

// afterRun calls the hook. Its failure does not undo the run, which stays
// succeeded: it is logged, and a later execution of the run, the next run
// of the period or a manual rebuild does the hook's work again.
func (s *Service) afterRun(ctx context.Context, run Run) {
	if s.hook == nil || run.Status != RunSucceeded {
		return
	}
	if err := s.hook(ctx, run); err != nil {
		s.log.ErrorContext(ctx, "after-run hook failed; the run stays succeeded", "run", run.ID, "err", err)
	}
}
