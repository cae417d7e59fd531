package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/jobs"
)

// heartbeatKey is a Redis hash holding the newest heartbeat tick any worker
// processed: fields tick (RFC 3339), tick_unix, processed_at and worker. Its
// age tells an operator (or a readiness check) whether the path scheduler →
// lock → queue → handler works.
const heartbeatKey = "payops:worker:heartbeat"

// recordHeartbeat writes the tick unless the hash already holds it or a
// newer one, so a duplicate or a late, older heartbeat changes nothing.
var recordHeartbeat = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'tick_unix'))
if cur and cur >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'tick_unix', ARGV[1], 'tick', ARGV[2], 'processed_at', ARGV[3], 'worker', ARGV[4])
return 1
`)

// heartbeat handles jobs.TypeHeartbeat.
type heartbeat struct {
	rdb    redis.Scripter
	worker string
	now    func() time.Time
}

// HandleTask records the task's tick in heartbeatKey. It is idempotent: a
// second delivery of a tick is a no-op.
func (h *heartbeat) HandleTask(ctx context.Context, t *asynq.Task) error {
	tick, err := jobs.HeartbeatTick(t)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry) // a bad payload never improves
	}
	tick = tick.UTC()
	err = recordHeartbeat.Run(ctx, h.rdb, []string{heartbeatKey},
		tick.Unix(), tick.Format(time.RFC3339), h.now().UTC().Format(time.RFC3339Nano), h.worker).Err()
	if err != nil {
		return fmt.Errorf("record heartbeat %s: %w", tick.Format(time.RFC3339), err)
	}
	return nil
}
