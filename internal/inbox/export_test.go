package inbox

import "context"

// Sweep does the periodic HandleSweep's work and says how many
// notifications it re-queued (tests count them; the task only logs).
func (t *Tasks) Sweep(ctx context.Context) (int, error) {
	return t.sweep(ctx, t.svc.now().Add(-sweepAge))
}
