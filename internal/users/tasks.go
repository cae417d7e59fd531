package users

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypePurgeSessions is the retention task of console sessions.
const TypePurgeSessions = "users:purge-sessions"

// KeepEnded is how long an ended session (revoked, or past its absolute
// limit) stays listed before the purge deletes it: a day, so "where was I
// signed in yesterday" still has an answer, and the table holds about a
// day of logins.
const KeepEnded = 24 * time.Hour

// NewPurgeSessionsTask returns the purge for the hour of tick. Its id is
// per hour, so every replica's scheduler may enqueue it and the first
// enqueue in an hour counts.
func NewPurgeSessionsTask(tick time.Time) *asynq.Task {
	id := "console-sessions-purge:" + tick.UTC().Truncate(time.Hour).Format("2006010215")
	return asynq.NewTask(TypePurgeSessions, nil, asynq.TaskID(id), asynq.Queue("low"), asynq.MaxRetry(3),
		asynq.Timeout(15*time.Minute), asynq.Retention(2*time.Hour))
}

// HandlePurgeSessionsTask deletes the sessions that ended KeepEnded ago or
// more. A second delivery finds nothing more; a run cut short keeps the
// batches it committed.
func (s *Service) HandlePurgeSessionsTask(ctx context.Context, _ *asynq.Task) error {
	cutoff := s.cfg.Now().Add(-KeepEnded).UTC()
	n, err := s.PurgeSessions(ctx, cutoff)
	s.log.InfoContext(ctx, "console sessions purged", "deleted", n, "ended_before", cutoff)
	return err
}
