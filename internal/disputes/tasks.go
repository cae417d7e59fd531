package disputes

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeDeadlines is the deadline watchdog's task.
const TypeDeadlines = "disputes:deadlines"

// NewDeadlinesTask returns the watchdog task for the hour of tick. Its id
// is per hour ("disputes-deadlines:2026112302"), so the scheduler of every
// replica can enqueue it and only the first enqueue in an hour counts.
func NewDeadlinesTask(tick time.Time) *asynq.Task {
	id := "disputes-deadlines:" + tick.UTC().Truncate(time.Hour).Format("2006010215")
	return asynq.NewTask(TypeDeadlines, nil, asynq.TaskID(id), asynq.Queue("default"), asynq.MaxRetry(3),
		asynq.Timeout(10*time.Minute), asynq.Retention(2*time.Hour))
}

// HandleDeadlinesTask runs CheckDeadlines as of now. It is idempotent (a
// second run alerts nothing new), so asynq may retry it after a failed
// alert delivery.
func (s *Service) HandleDeadlinesTask(ctx context.Context, _ *asynq.Task) error {
	_, err := s.CheckDeadlines(ctx, s.now())
	return err
}
