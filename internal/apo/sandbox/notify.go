package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/payops/payops/internal/apo"
)

// retrySchedule is APO's resend schedule (apo-reference.md §5): the first
// attempt at once, then each next one this long after the previous one,
// before TimeScale. Eight attempts in all; then APO gives up.
var retrySchedule = []time.Duration{
	0, 2 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour,
}

// Notification delivery states.
const (
	NotificationPending   = "PENDING"   // waiting for its next attempt
	NotificationDelivered = "DELIVERED" // acknowledged with the success format
	NotificationFailed    = "FAILED"    // eight attempts, none acknowledged
	NotificationDropped   = "DROPPED"   // lost on purpose by a notification fault
	NotificationOverflow  = "OVERFLOW"  // the send queue was full
	NotificationAbandoned = "ABANDONED" // the sandbox shut down first
)

// Attempt outcomes.
const (
	AttemptAcknowledged   = "ACKNOWLEDGED"    // HTTP 200 and the success body
	AttemptBadReply       = "BAD_REPLY"       // HTTP 200, another body
	AttemptHTTPError      = "HTTP_ERROR"      // another HTTP status
	AttemptTransportError = "TRANSPORT_ERROR" // no HTTP answer (refused, timeout, reset)
)

const (
	// maxNotificationRecords bounds the delivery records kept for
	// /sandbox/state; notifications still being retried live on anyway.
	maxNotificationRecords = 10000
	// maxAckBody bounds how much of a receiver's reply is read.
	maxAckBody = 64 << 10
	// reorderMaxWait releases a notification held back by a reorder fault
	// when no other notification comes to overtake it.
	reorderMaxWait = 2 * time.Second
)

// NotificationAttempt is one POST of a notification.
type NotificationAttempt struct {
	Time       time.Time `json:"time"`     // by the sandbox clock
	RealTime   time.Time `json:"realTime"` // wall clock, for measuring the schedule
	HTTPStatus int       `json:"httpStatus,omitempty"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error,omitempty"`
	Duplicate  bool      `json:"duplicate,omitempty"` // an extra copy sent by a duplicate fault
}

// Notification is one notification and its delivery so far.
type Notification struct {
	ID        string                `json:"id"`
	Type      string                `json:"type"` // notifyType, or disputeNotificationType for disputes
	URL       string                `json:"url"`
	PaymentID string                `json:"paymentId,omitempty"`
	ObjectID  string                `json:"objectId,omitempty"` // captureId, refundId or disputeId
	Created   time.Time             `json:"created"`
	Status    string                `json:"status"`
	Faults    []string              `json:"faults,omitempty"`
	Attempts  []NotificationAttempt `json:"attempts"`
	Body      json.RawMessage       `json:"body"`
}

// NotificationStats counts notifications by fate.
type NotificationStats struct {
	Created   int `json:"created"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	Dropped   int `json:"dropped"`
	Overflow  int `json:"overflow"`
	Abandoned int `json:"abandoned"`
	Attempts  int `json:"attempts"`
}

// notice is a notification in flight. Its fields are guarded by
// notifier.mu, except body and the addressing, which never change.
type notice struct {
	Notification
	path      string // request URI of the notify URL: what is signed
	seq       uint64 // creation order
	duplicate bool
	held      bool // waiting behind the next notification (reorder fault)
	timer     *time.Timer
}

// notifier sends notifications with a bounded queue and a fixed pool of
// workers; retries wait on timers, not on workers.
type notifier struct {
	s        *Server
	client   *http.Client
	ownHTTP  bool
	schedule []time.Duration
	workers  int
	ready    chan *notice

	ctx    context.Context // cancels sends in flight at shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	started     bool
	closing     bool
	seq         uint64
	records     []*notice // ring of the last maxNotificationRecords
	recordsNext int
	stats       NotificationStats
	held        []*notice
	timers      map[*notice]struct{}
	outstanding int           // queued or being sent
	drained     chan struct{} // closed when closing and outstanding is 0
	faults      NotificationFaults
	rng         *mrand.Rand
	reorderWait time.Duration // reorderMaxWait; tests on a loaded machine lengthen it
}

func newNotifier(s *Server, cfg Config) *notifier {
	n := &notifier{
		s:       s,
		client:  cfg.NotifyClient,
		workers: cfg.NotifyWorkers,
		timers:  map[*notice]struct{}{},
		drained: make(chan struct{}),
		rng:     mrand.New(mrand.NewPCG(s.seed, s.seed^0x5bd1e995)),

		reorderWait: reorderMaxWait,
	}
	if n.workers == 0 {
		n.workers = 4
	}
	size := cfg.NotifyQueueSize
	if size == 0 {
		size = 1024
	}
	n.ready = make(chan *notice, size)
	if n.client == nil {
		timeout := cfg.NotifyTimeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		n.client = &http.Client{
			Timeout:   timeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: n.workers},
			// APO posts to the URL it was given; it follows no redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		n.ownHTTP = true
	}
	for _, d := range retrySchedule {
		n.schedule = append(n.schedule, s.scaled(d))
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n
}

// notify queues a notification of typ to rawURL. body is any JSON value.
// It never blocks. An empty URL means nobody asked to be told: nothing
// is sent.
func (s *Server) notify(typ, rawURL, paymentID, objectID string, body any) {
	if rawURL == "" {
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return // request URLs were validated; the dispute URL by New
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal notification: %v", err)) // plain structs only
	}
	s.notifier.add(&notice{
		Notification: Notification{
			Type: typ, URL: rawURL, PaymentID: paymentID, ObjectID: objectID,
			Created: s.now(), Status: NotificationPending, Body: raw, Attempts: []NotificationAttempt{},
		},
		path: u.RequestURI(),
	})
}

func (n *notifier) add(nt *notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	nt.seq = n.seq
	nt.ID = "N" + strconv.FormatUint(n.seq, 10)
	n.keep(nt)
	n.stats.Created++
	if n.closing {
		n.finish(nt, NotificationAbandoned)
		return
	}
	if !n.started {
		n.started = true
		for range n.workers {
			n.wg.Go(n.work)
		}
	}
	switch n.drawFault() {
	case "drop":
		nt.Faults = append(nt.Faults, "drop")
		n.finish(nt, NotificationDropped)
	case "duplicate":
		nt.Faults = append(nt.Faults, "duplicate")
		nt.duplicate = true
		n.push(nt)
	case "reorder":
		nt.Faults = append(nt.Faults, "reorder")
		nt.held = true
		n.held = append(n.held, nt)
		n.wait(nt, n.reorderWait, func() { n.release(nt) })
	case "delay":
		nt.Faults = append(nt.Faults, "delay")
		n.wait(nt, time.Duration(n.faults.delayMs())*time.Millisecond, func() { n.push(nt) })
	default:
		n.push(nt)
	}
}

// drawFault picks at most one notification fault. Call with mu held.
func (n *notifier) drawFault() string {
	f := n.faults
	if f.Drop+f.Duplicate+f.Reorder+f.Delay == 0 {
		return ""
	}
	r := n.rng.Float64()
	for _, c := range []struct {
		name  string
		share float64
	}{{"drop", f.Drop}, {"duplicate", f.Duplicate}, {"reorder", f.Reorder}, {"delay", f.Delay}} {
		if r < c.share {
			return c.name
		}
		r -= c.share
	}
	return ""
}

// keep adds nt to the bounded list of records. Call with mu held.
func (n *notifier) keep(nt *notice) {
	if len(n.records) < maxNotificationRecords {
		n.records = append(n.records, nt)
	} else {
		n.records[n.recordsNext] = nt
	}
	n.recordsNext = (n.recordsNext + 1) % maxNotificationRecords
}

// push queues nt for a worker without blocking. Call with mu held.
func (n *notifier) push(nt *notice) {
	if n.closing && n.ctx.Err() != nil {
		n.finish(nt, NotificationAbandoned)
		return
	}
	select {
	case n.ready <- nt:
		n.outstanding++
	default:
		n.finish(nt, NotificationOverflow)
		n.s.log.Warn("apo notification queue full", slog.String("id", nt.ID), slog.String("type", nt.Type))
	}
}

// wait runs fn (with mu held) after d, unless shutdown comes first. Call
// with mu held.
func (n *notifier) wait(nt *notice, d time.Duration, fn func()) {
	n.timers[nt] = struct{}{}
	nt.timer = time.AfterFunc(d, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if _, ok := n.timers[nt]; !ok {
			return // shutdown took it
		}
		delete(n.timers, nt)
		nt.timer = nil
		fn()
	})
}

// release sends a held notification. Call with mu held.
func (n *notifier) release(nt *notice) {
	if !nt.held {
		return
	}
	nt.held = false
	for i, h := range n.held {
		if h == nt {
			n.held = append(n.held[:i], n.held[i+1:]...)
			break
		}
	}
	if t := nt.timer; t != nil {
		t.Stop()
		delete(n.timers, nt)
		nt.timer = nil
	}
	n.push(nt)
}

// finish records a final state. Call with mu held.
func (n *notifier) finish(nt *notice, status string) {
	if nt.Status != NotificationPending {
		return // already final
	}
	nt.Status = status
	switch status {
	case NotificationDelivered:
		n.stats.Delivered++
	case NotificationFailed:
		n.stats.Failed++
	case NotificationDropped:
		n.stats.Dropped++
	case NotificationOverflow:
		n.stats.Overflow++
	case NotificationAbandoned:
		n.stats.Abandoned++
	}
}

func (n *notifier) work() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case nt := <-n.ready:
			if n.ctx.Err() == nil {
				n.deliver(nt)
			}
			n.mu.Lock()
			if n.ctx.Err() != nil && nt.Status == NotificationPending {
				n.finish(nt, NotificationAbandoned)
			}
			n.outstanding--
			if n.closing && n.outstanding == 0 {
				n.closeDrained()
			}
			n.mu.Unlock()
		}
	}
}

// deliver makes one scheduled attempt (plus the copy of a duplicate
// fault) and decides what comes next.
func (n *notifier) deliver(nt *notice) {
	startReal := time.Now()
	att := n.send(nt, startReal)
	n.mu.Lock()
	first := len(nt.Attempts) == 0
	nt.Attempts = append(nt.Attempts, att)
	n.stats.Attempts++
	dup := nt.duplicate && first
	n.mu.Unlock()
	if dup {
		copyAtt := n.send(nt, time.Now())
		copyAtt.Duplicate = true
		n.mu.Lock()
		nt.Attempts = append(nt.Attempts, copyAtt)
		n.stats.Attempts++
		n.mu.Unlock()
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if first {
		// Anything held back by a reorder fault before this one was made
		// goes out now, behind it.
		for _, h := range append([]*notice(nil), n.held...) {
			if h.seq < nt.seq {
				n.release(h)
			}
		}
	}
	scheduled := 0
	for _, a := range nt.Attempts {
		if !a.Duplicate {
			scheduled++
		}
	}
	switch {
	case att.Outcome == AttemptAcknowledged || (dup && nt.Attempts[len(nt.Attempts)-1].Outcome == AttemptAcknowledged):
		n.finish(nt, NotificationDelivered)
	case scheduled >= len(n.schedule):
		n.finish(nt, NotificationFailed)
	case n.closing:
		n.finish(nt, NotificationAbandoned) // no retry once shutting down
	default:
		next := startReal.Add(n.schedule[scheduled])
		n.wait(nt, time.Until(next), func() {
			if n.closing {
				n.finish(nt, NotificationAbandoned)
				return
			}
			n.push(nt)
		})
	}
}

// send POSTs nt once, signed as APO signs notifications (§2.4), and says
// how the receiver answered.
func (n *notifier) send(nt *notice, startReal time.Time) NotificationAttempt {
	s := n.s
	at := s.now()
	att := NotificationAttempt{Time: at, RealTime: startReal}
	rt := formatTime(at)
	sig, err := apo.Sign(s.apoKey, http.MethodPost, nt.path, s.clientID, rt, nt.Body)
	if err != nil {
		att.Outcome, att.Error = AttemptTransportError, "sign: "+err.Error()
		return att
	}
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, nt.URL, bytes.NewReader(nt.Body))
	if err != nil {
		att.Outcome, att.Error = AttemptTransportError, err.Error()
		return att
	}
	// Lowercase names, assigned directly: Header.Set would canonicalise
	// them, and some receivers look them up case-sensitively.
	req.Header = http.Header{
		"content-type": {"application/json; charset=UTF-8"},
		"client-id":    {s.clientID},
		"request-time": {rt},
		"signature":    {sig},
	}
	res, err := n.client.Do(req)
	if err != nil {
		att.Outcome, att.Error = AttemptTransportError, transportError(err)
	} else {
		body, rerr := io.ReadAll(io.LimitReader(res.Body, maxAckBody))
		res.Body.Close()
		att.HTTPStatus = res.StatusCode
		switch {
		case rerr != nil:
			att.Outcome, att.Error = AttemptTransportError, "read reply: "+rerr.Error()
		case res.StatusCode != http.StatusOK:
			att.Outcome = AttemptHTTPError
		case isAck(body):
			att.Outcome = AttemptAcknowledged
		default:
			att.Outcome = AttemptBadReply
		}
	}
	s.log.Info("apo notification",
		slog.String("id", nt.ID),
		slog.String("type", nt.Type),
		slog.String("url", nt.URL),
		slog.Int("attempt", len(nt.Attempts)+1),
		slog.Int("http_status", att.HTTPStatus),
		slog.String("outcome", att.Outcome),
		slog.String("error", att.Error),
	)
	return att
}

// transportError shortens a client error to its cause: the URL is in the
// record already.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// ackValue is the success reply, parsed once.
var ackValue = func() any {
	var v any
	if err := json.Unmarshal([]byte(apo.NotificationAck), &v); err != nil {
		panic(err)
	}
	return v
}()

// isAck reports whether a reply body is the success format: the same JSON
// value, whatever the whitespace or key order.
func isAck(body []byte) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	return reflect.DeepEqual(v, ackValue)
}

// shutdown stops taking notifications, abandons retries not yet due, and
// waits for queued ones to be tried until ctx ends.
func (n *notifier) shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.closing {
		n.closing = true
		for nt := range n.timers {
			if nt.timer != nil {
				nt.timer.Stop()
			}
			nt.timer = nil
			if !nt.held {
				n.finish(nt, NotificationAbandoned)
			}
		}
		n.timers = map[*notice]struct{}{}
		// Held notifications were due already; they go out now.
		for _, h := range append([]*notice(nil), n.held...) {
			n.release(h)
		}
		if n.outstanding == 0 {
			n.closeDrained()
		}
	}
	n.mu.Unlock()

	var err error
	select {
	case <-n.drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	n.cancel()
	n.wg.Wait()
	n.mu.Lock()
	for {
		select {
		case nt := <-n.ready:
			n.outstanding--
			n.finish(nt, NotificationAbandoned)
			continue
		default:
		}
		break
	}
	n.mu.Unlock()
	if n.ownHTTP {
		n.client.CloseIdleConnections()
	}
	return err
}

// closeDrained closes drained once. Call with mu held.
func (n *notifier) closeDrained() {
	select {
	case <-n.drained:
	default:
		close(n.drained)
	}
}

// Notifications returns every notification kept (at most the last
// 10,000), oldest first, with its attempts so far.
func (s *Server) Notifications() []Notification {
	n := s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	ordered := n.records
	if len(n.records) == maxNotificationRecords {
		ordered = append(append([]*notice(nil), n.records[n.recordsNext:]...), n.records[:n.recordsNext]...)
	}
	out := make([]Notification, len(ordered))
	for i, nt := range ordered {
		out[i] = nt.Notification
		out[i].Attempts = append([]NotificationAttempt(nil), nt.Attempts...)
		out[i].Faults = append([]string(nil), nt.Faults...)
	}
	return out
}

// NotificationStats counts the notifications made so far by fate.
func (s *Server) NotificationStats() NotificationStats {
	n := s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// handleNotifications serves GET /sandbox/notifications[?type=CAPTURE_RESULT].
func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type")
	all := s.Notifications()
	list := all[:0:0]
	for _, nt := range all {
		if typ == "" || nt.Type == typ {
			list = append(list, nt)
		}
	}
	writeJSON(w, map[string]any{"stats": s.NotificationStats(), "notifications": list})
}
