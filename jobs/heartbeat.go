package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeHeartbeat is the task the heartbeat job enqueues. Its handler (in
// cmd/worker) records the tick, which proves that the whole path scheduler →
// lock → queue → handler works.
const TypeHeartbeat = "worker:heartbeat"

// heartbeatRetention keeps a processed heartbeat's id taken long enough
// that a replica enqueueing the same tick late is still rejected.
const heartbeatRetention = 10 * time.Minute

type heartbeatPayload struct {
	Tick time.Time `json:"tick"`
}

// NewHeartbeatTask returns the heartbeat task for tick. Its id is derived
// from the tick, so a second enqueue of the same tick is rejected. It is not
// retried: the next tick's heartbeat replaces a lost one.
func NewHeartbeatTask(tick time.Time) (*asynq.Task, error) {
	tick = tick.UTC()
	b, err := json.Marshal(heartbeatPayload{Tick: tick})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeHeartbeat, err)
	}
	return asynq.NewTask(TypeHeartbeat, b,
		asynq.TaskID("heartbeat:"+tick.Format(time.RFC3339)),
		asynq.Queue("low"),
		asynq.MaxRetry(0),
		asynq.Timeout(10*time.Second),
		asynq.Retention(heartbeatRetention),
	), nil
}

// HeartbeatTick returns the tick a heartbeat task was enqueued for.
func HeartbeatTick(t *asynq.Task) (time.Time, error) {
	var p heartbeatPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return time.Time{}, fmt.Errorf("decode %s payload: %w", TypeHeartbeat, err)
	}
	if p.Tick.IsZero() {
		return time.Time{}, fmt.Errorf("decode %s payload: no tick", TypeHeartbeat)
	}
	return p.Tick, nil
}

// EnqueueHeartbeat is the heartbeat job's body: it enqueues the heartbeat
// task for tick.
func EnqueueHeartbeat(ctx context.Context, q Enqueuer, tick time.Time) error {
	t, err := NewHeartbeatTask(tick)
	if err != nil {
		return err
	}
	return enqueue(ctx, q, t)
}
