package sandbox

import (
	"container/heap"
	"sync"
	"time"
)

// maxSchedulerNap bounds how long the scheduler sleeps while work is
// pending. Deadlines are kept on the configurable clock, which a test may
// move forward at will; waking up at least this often notices that
// without the clock having to announce it.
const maxSchedulerNap = 100 * time.Millisecond

// scheduler runs functions when the clock reaches their time: the delayed
// card's late answer, challenge expiry, dispute due alerts, the daily
// report tick. Reads of state apply the same deadlines lazily (see
// Server.refresh), so whichever comes first makes the change, once.
//
// Its goroutine starts with the first task and ends with close.
type scheduler struct {
	now func() time.Time

	mu      sync.Mutex
	tasks   taskHeap
	seq     uint64
	started bool
	closed  bool
	wake    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newScheduler(now func() time.Time) *scheduler {
	return &scheduler{now: now, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// at runs fn in the scheduler's goroutine once the clock reaches t. After
// close it does nothing.
func (sc *scheduler) at(t time.Time, fn func()) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	sc.seq++
	heap.Push(&sc.tasks, task{at: t, seq: sc.seq, run: fn})
	if !sc.started {
		sc.started = true
		sc.wg.Go(sc.loop)
	}
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

func (sc *scheduler) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		sc.mu.Lock()
		var due []task
		now := sc.now()
		for sc.tasks.Len() > 0 && !sc.tasks[0].at.After(now) {
			due = append(due, heap.Pop(&sc.tasks).(task))
		}
		nap := time.Duration(-1)
		if sc.tasks.Len() > 0 {
			nap = min(sc.tasks[0].at.Sub(now), maxSchedulerNap)
		}
		sc.mu.Unlock()
		for _, t := range due {
			t.run()
		}
		if len(due) > 0 {
			continue // running may have scheduled more that is already due
		}
		var tick <-chan time.Time
		if nap >= 0 {
			timer.Reset(nap)
			tick = timer.C
		}
		select {
		case <-sc.stop:
			return
		case <-sc.wake:
		case <-tick:
		}
	}
}

// close drops pending tasks and waits for a running one to end.
func (sc *scheduler) close() {
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.closed = true
	sc.tasks = nil
	close(sc.stop)
	sc.mu.Unlock()
	sc.wg.Wait()
}

// task is one scheduled function; seq keeps equal times in order.
type task struct {
	at  time.Time
	seq uint64
	run func()
}

type taskHeap []task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
