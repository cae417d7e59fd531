package recon

import (
	"context"
	"errors"
)

// FailUnqueued marks a run that StartRun recorded but that could not be
// handed to the worker FAILED, saying why ("not queued: <cause>"). Nothing
// sweeps QUEUED runs, so a run the queue never received would otherwise be
// waited on forever. It runs detached from ctx's cancellation: the caller
// has usually just failed, and its client may be gone. A run that already
// succeeded is left as it is.
func (s *Service) FailUnqueued(ctx context.Context, runID int64, cause error) error {
	if cause == nil {
		cause = errors.New("unknown cause")
	}
	return NewStore(s.db).FailRun(context.WithoutCancel(ctx), runID, "not queued: "+cause.Error(), s.now().UTC())
}
