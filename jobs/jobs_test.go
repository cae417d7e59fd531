package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/hibiken/asynq"

	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/schedlock"
	"github.com/payops/payops/jobs"
)

var _ jobs.Enqueuer = (*asynq.Client)(nil)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is a fake Enqueuer that remembers every task it was given and
// answers with err.
type recorder struct {
	mu    sync.Mutex
	tasks []*asynq.Task
	ids   map[string]int // task id → enqueue calls
	err   error
}

func (r *recorder) EnqueueContext(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]int{}
	}
	r.tasks = append(r.tasks, t)
	r.ids[taskID(t)]++
	if r.err != nil {
		return nil, r.err
	}
	return &asynq.TaskInfo{ID: taskID(t), Type: t.Type()}, nil
}

// counts returns a copy of the per-id call counts.
func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.ids))
	for k, v := range r.ids {
		m[k] = v
	}
	return m
}

// taskID is the id NewHeartbeatTask gives t. asynq keeps a task's options
// unexported, so it is rebuilt from the payload; the real-queue test checks
// the actual id.
func taskID(t *asynq.Task) string {
	if t.Type() != jobs.TypeHeartbeat {
		return t.Type()
	}
	tick, err := jobs.HeartbeatTick(t)
	if err != nil {
		return "undecodable"
	}
	return "heartbeat:" + tick.UTC().Format(time.RFC3339)
}

func TestRegister(t *testing.T) {
	s, err := gocron.NewScheduler()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown() }()
	if err := jobs.Register(s, &recorder{}, jobs.Schedules{}, discard); err != nil {
		t.Fatalf("Register with defaults: %v", err)
	}
	var names []string
	for _, j := range s.Jobs() {
		names = append(names, j.Name())
	}
	slices.Sort(names) // gocron lists jobs in no set order
	want := []string{jobs.DeadlinesJob, jobs.IdempotencyPurgeJob, jobs.SweepJob, jobs.WatchdogJob, jobs.ReconJob, jobs.HeartbeatJob}
	if !slices.Equal(names, want) {
		t.Fatalf("jobs: got %v, want %v", names, want)
	}

	s2, err := gocron.NewScheduler()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Shutdown() }()
	if err := jobs.Register(s2, &recorder{}, jobs.Schedules{Heartbeat: "every minute"}, discard); err == nil {
		t.Fatal("Register accepted a bad heartbeat spec")
	}
	s3, err := gocron.NewScheduler()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s3.Shutdown() }()
	err = jobs.Register(s3, &recorder{}, jobs.Schedules{IdempotencyPurge: "hourly"}, discard)
	if err == nil || !strings.Contains(err.Error(), jobs.IdempotencyPurgeJob) {
		t.Fatalf("bad purge spec: got %v, want an error naming %s", err, jobs.IdempotencyPurgeJob)
	}
}

func TestEnqueueHeartbeat(t *testing.T) {
	tick := time.Date(2026, 11, 23, 10, 5, 0, 0, time.FixedZone("CET", 3600))
	q := &recorder{}
	if err := jobs.EnqueueHeartbeat(context.Background(), q, tick); err != nil {
		t.Fatal(err)
	}
	if len(q.tasks) != 1 {
		t.Fatalf("enqueued %d tasks, want 1", len(q.tasks))
	}
	task := q.tasks[0]
	if task.Type() != jobs.TypeHeartbeat {
		t.Fatalf("type: got %q, want %q", task.Type(), jobs.TypeHeartbeat)
	}
	got, err := jobs.HeartbeatTick(task)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(tick) {
		t.Fatalf("tick: got %v, want %v", got, tick)
	}

	// The queue saying "already there" is success: another replica or an
	// earlier run enqueued this tick.
	q = &recorder{err: asynq.ErrTaskIDConflict}
	if err := jobs.EnqueueHeartbeat(context.Background(), q, tick); err != nil {
		t.Fatalf("conflict must be a no-op, got %v", err)
	}
	boom := errors.New("redis down")
	q = &recorder{err: boom}
	if err := jobs.EnqueueHeartbeat(context.Background(), q, tick); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the queue's error", err)
	}
}

func TestHeartbeatTickRejectsBadPayload(t *testing.T) {
	for _, p := range []string{"", "{", `{"tick":null}`, `{"tick":"yesterday"}`} {
		if _, err := jobs.HeartbeatTick(asynq.NewTask(jobs.TypeHeartbeat, []byte(p))); err == nil {
			t.Errorf("payload %q: no error", p)
		}
	}
}

// TestEnqueueHeartbeatTwiceIsNoOp uses a real queue: the second enqueue of a
// tick, even after the first was processed, leaves one task.
func TestEnqueueHeartbeatTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	c := asynq.NewClient(r.Opt())
	defer c.Close()
	in := asynq.NewInspector(r.Opt())
	defer in.Close()
	ctx := context.Background()
	tick := time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)

	for i := range 2 {
		if err := jobs.EnqueueHeartbeat(ctx, c, tick); err != nil {
			t.Fatalf("enqueue %d: %v", i+1, err)
		}
	}
	info, err := in.GetQueueInfo("low")
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 1 {
		t.Fatalf("pending heartbeats after two enqueues of one tick: got %d, want 1", info.Pending)
	}
	got, err := in.GetTaskInfo("low", "heartbeat:2026-11-23T10:05:00Z")
	if err != nil {
		t.Fatalf("task id is not derived from the tick: %v", err)
	}
	if got.Retention <= 0 {
		t.Fatalf("retention: got %v, want > 0 so a processed tick stays taken", got.Retention)
	}

	// Process it; the retained completed task still blocks the id.
	srv := asynq.NewServer(r.Opt(), asynq.Config{Queues: map[string]int{"low": 1}, Logger: redistest.QuietAsynq{}})
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeHeartbeat, func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	redistest.WaitCompleted(t, in, "low", 1) // the heartbeat processed
	srv.Shutdown()
	if err := jobs.EnqueueHeartbeat(ctx, c, tick); err != nil {
		t.Fatalf("enqueue after processing: %v", err)
	}
	if info, err = in.GetQueueInfo("low"); err != nil {
		t.Fatal(err)
	}
	if info.Pending != 0 || info.Completed != 1 {
		t.Fatalf("after re-enqueue of a processed tick: pending %d completed %d, want 0 and 1", info.Pending, info.Completed)
	}

	if err := jobs.EnqueueHeartbeat(ctx, c, tick.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if info, err = in.GetQueueInfo("low"); err != nil {
		t.Fatal(err)
	}
	if info.Pending != 1 {
		t.Fatalf("next tick: pending %d, want 1", info.Pending)
	}
}

// TestTwoReplicasFireOncePerTick runs two schedulers, each with its own
// locker and Redis connection like two worker processes, on one Redis, with
// the heartbeat every second. Each tick must be enqueued at most once, and
// ticks must actually fire.
func TestTwoReplicasFireOncePerTick(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	q := &recorder{}
	var taken atomic.Int32
	for _, name := range []string{"replica-a", "replica-b"} {
		rdb := r.Client()
		t.Cleanup(func() { _ = rdb.Close() })
		s, err := gocron.NewScheduler(
			gocron.WithLocation(time.UTC),
			gocron.WithDistributedLocker(countingLocker{schedlock.New(rdb, schedlock.Options{Owner: name}), &taken}),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.Register(s, q, jobs.Schedules{Heartbeat: "* * * * * *"}, discard); err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { _ = s.Shutdown() })
	}

	const wantTicks = 3
	deadline := time.Now().Add(2 * time.Minute)
	for heartbeats(q.counts()) < wantTicks && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	counts := q.counts()
	for id, n := range counts {
		// Only heartbeats carry their tick in the payload; the minute jobs
		// that fall inside the test (sweep enqueues two tasks) are not ticks.
		if !strings.HasPrefix(id, "heartbeat:") {
			delete(counts, id)
			continue
		}
		if n > 1 {
			t.Errorf("tick %s enqueued %d times, want once", id, n)
		}
	}
	if len(counts) < 2 {
		t.Fatalf("only %d ticks fired in 2m: %v", len(counts), counts)
	}
	// Both replicas fired: the one that came second was turned away.
	if taken.Load() == 0 {
		t.Fatal("no replica was ever refused a tick; the two schedulers did not compete")
	}
}

// heartbeats counts the distinct heartbeat ticks among counts' ids.
func heartbeats(counts map[string]int) int {
	n := 0
	for id := range counts {
		if strings.HasPrefix(id, "heartbeat:") {
			n++
		}
	}
	return n
}

// countingLocker counts the ticks its Locker refused as taken.
type countingLocker struct {
	*schedlock.Locker
	taken *atomic.Int32
}

func (l countingLocker) Lock(ctx context.Context, job string) (gocron.Lock, error) {
	lk, err := l.Locker.Lock(ctx, job)
	if errors.Is(err, schedlock.ErrTaken) {
		l.taken.Add(1)
	}
	return lk, err
}

// TestNightlyReconOncePerNight: both replicas' schedulers (and a rerun the
// same night) enqueue the nightly reconciliation of one day once.
func TestNightlyReconOncePerNight(t *testing.T) {
	r := redistest.Start(t)
	c := asynq.NewClient(r.Opt())
	defer c.Close()
	in := asynq.NewInspector(r.Opt())
	defer in.Close()
	night := time.Date(2026, 11, 24, 2, 30, 0, 0, time.UTC)
	for _, at := range []time.Time{night, night.Add(2 * time.Second), night.Add(time.Hour)} {
		if err := jobs.EnqueueNightlyRecon(context.Background(), c, at); err != nil {
			t.Fatalf("enqueue at %v: %v", at, err)
		}
	}
	tasks, err := in.ListPendingTasks("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].ID != "recon-nightly:2026-11-23" {
		t.Fatalf("pending: %d tasks %v, want one recon-nightly:2026-11-23", len(tasks), tasks)
	}
	if err := jobs.EnqueueNightlyRecon(context.Background(), c, night.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if tasks, _ = in.ListPendingTasks("default"); len(tasks) != 2 {
		t.Fatalf("the next night: %d pending, want 2", len(tasks))
	}
}
