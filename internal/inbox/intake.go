package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/payops/payops/internal/postgres"
)

// Bounds of what a notification may make us store. The endpoint is open to
// anyone, so everything kept of a request is capped, whatever it claims.
const (
	// refusedBodyMax is how much of a refused notification's body is kept
	// (a CHECK constraint holds the table to it); its size and SHA-256 are
	// kept whole.
	refusedBodyMax = 4 << 10
	// headerValueMax and headerValuesMax bound each kept header: a
	// signature header is about 400 bytes.
	headerValueMax  = 1 << 10
	headerValuesMax = 2
	// requestURIMax bounds the kept request URI.
	requestURIMax = 1 << 10
)

// The window of request-times accepted. APO resends a notification on its
// schedule for about a day (0 s … 15 h, 24.4 h in all), so a signed
// notification dated more than twice that ago is not a resend but a replay;
// one dated ahead of our clock by more than clock skew explains is suspect
// too. Both are refused with 401 (RefuseRequestTime).
const (
	maxNotificationAge   = 48 * time.Hour
	maxNotificationAhead = time.Hour
)

// RefuseReason says why a notification was refused at intake.
type RefuseReason string

// Reasons for refusing a notification.
const (
	RefuseSignature   RefuseReason = "signature"    // did not verify with APO's public key
	RefuseClientID    RefuseReason = "client_id"    // signed by APO, but for another client id than ours
	RefuseRequestTime RefuseReason = "request_time" // signed, but its request-time is unreadable or outside the window
)

// RefusedError is a notification refused at intake; nothing about any
// payment changed. errors.Is(err, ErrBadSignature) holds for
// RefuseSignature.
type RefusedError struct {
	Reason RefuseReason
	Detail string // what was wrong, as stored in last_error
	// Stored says whether a bounded record of it is in webhook_events.
	// Limited says it is not because its sender is over its budget of
	// refusals (see RefusalGate); otherwise, GateErr says why the budget
	// could not be asked.
	Stored  bool
	Limited bool
	GateErr error
}

func (e *RefusedError) Error() string { return "notification refused: " + e.Detail }

// Is makes a refused signature match ErrBadSignature.
func (e *RefusedError) Is(target error) bool {
	return target == ErrBadSignature && e.Reason == RefuseSignature
}

// RefusalGate says whether one more refused notification from the sender
// of the request in ctx may be stored. A sender over its budget is flooding
// or probing, not misconfigured: its refusals are only counted. An error
// counts as no, since the budget is what protects the database.
type RefusalGate func(ctx context.Context) (bool, error)

// SetRefusalGate bounds how many refused notifications are stored per
// sender. Without one every refusal is stored (each bounded in size).
func (s *Service) SetRefusalGate(g RefusalGate) { s.refusals = g }

// webhookRefusals counts refused notifications by reason and by what was
// kept of them.
var webhookRefusals = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "payops_webhook_refusals_total",
	Help: "APO notifications refused at intake, by reason (signature, client_id, request_time) and by what was " +
		"kept: stored (a bounded record), limited (its sender was over its budget of refusals; only counted), " +
		"unstored (the budget could not be checked).",
}, []string{"reason", "kept"})

// Intake verifies a notification and stores it, deduplicated, before the
// caller answers APO: once Intake returns nil the event is durable and may
// be acknowledged. It reports whether this delivery was the first.
//
// The signature is checked over the request URI as it arrived and, failing
// that, over the path alone (a proxy may add a query string APO did not
// sign); then the client id must be ours and the request-time inside the
// window. A notification failing any check is refused with a *RefusedError
// and stored as IGNORED for forensics, bounded (see refuse); nothing about
// any payment changes.
func (s *Service) Intake(ctx context.Context, method, requestURI string, h http.Header, body []byte) (Event, bool, error) {
	start := time.Now()
	defer func() { webhookIntakeSeconds.Observe(time.Since(start).Seconds()) }()
	now := s.now().UTC()
	ev := Event{ID: uuid.Must(uuid.NewV7()).String(), RawBody: body, Headers: keepHeaders(h),
		RequestURI: truncateText(requestURI, requestURIMax), Verdict: "valid", State: Pending, Deliveries: 1,
		ReceivedAt: now}
	if r := s.screen(method, requestURI, h, body, now); r != nil {
		return s.refuse(ctx, ev, headerValue(h, "signature"), body, r)
	}
	ev.NotifyType, ev.DedupeKey = dedupeKey(body)
	stored, first, err := s.intake.store(ctx, ev)
	if err != nil {
		return Event{}, false, err
	}
	if first {
		webhookIntake.WithLabelValues("stored").Inc()
	} else {
		webhookIntake.WithLabelValues("duplicate").Inc()
	}
	return stored, first, nil
}

// screen returns why a notification must be refused, or nil. The client id
// and time are judged after the signature, so that those refusals mean APO
// really signed them: a notification meant for another merchant, or an old
// one replayed.
func (s *Service) screen(method, requestURI string, h http.Header, body []byte, now time.Time) *RefusedError {
	verr := s.verify.VerifyNotification(method, requestURI, h, body)
	if verr != nil {
		if u, err := url.Parse(requestURI); err == nil && u.RawQuery != "" {
			verr = s.verify.VerifyNotification(method, u.Path, h, body)
		}
	}
	if verr != nil {
		return &RefusedError{Reason: RefuseSignature, Detail: "signature invalid"}
	}
	if id := headerValue(h, "client-id"); id != s.verify.ClientID() {
		return &RefusedError{Reason: RefuseClientID, Detail: fmt.Sprintf("client-id %q is not ours", truncateText(id, 64))}
	}
	rt := headerValue(h, "request-time")
	at, ok := parseRequestTime(rt)
	switch {
	case !ok:
		return &RefusedError{Reason: RefuseRequestTime, Detail: fmt.Sprintf("request-time %q unreadable", truncateText(rt, 64))}
	case at.Before(now.Add(-maxNotificationAge)):
		return &RefusedError{Reason: RefuseRequestTime, Detail: fmt.Sprintf("request-time %s is more than %s old: a replay, not a resend",
			at.UTC().Format(time.RFC3339), maxNotificationAge)}
	case at.After(now.Add(maxNotificationAhead)):
		return &RefusedError{Reason: RefuseRequestTime, Detail: fmt.Sprintf("request-time %s is more than %s ahead of our clock",
			at.UTC().Format(time.RFC3339), maxNotificationAhead)}
	}
	return nil
}

// refuse records a refused notification, bounded: the first refusedBodyMax
// bytes of the body, its size and SHA-256, and capped headers. A sender over
// its budget (the RefusalGate) gets nothing stored; it is only counted. The
// same refused bytes with the same signature are one record, counted in
// its deliveries.
func (s *Service) refuse(ctx context.Context, ev Event, sig string, body []byte, r *RefusedError) (Event, bool, error) {
	webhookIntake.WithLabelValues("invalid").Inc()
	if s.refusals != nil {
		ok, err := s.refusals(ctx)
		if err != nil || !ok {
			kept := "limited"
			r.Limited, r.GateErr = err == nil, err
			if err != nil {
				kept = "unstored"
			}
			webhookRefusals.WithLabelValues(string(r.Reason), kept).Inc()
			return Event{}, false, r
		}
	}
	whole := sha256.Sum256(body)
	key := sha256.Sum256(append(whole[:], sig...))
	ev.RawBody = body[:min(len(body), refusedBodyMax)]
	ev.BodySize, ev.BodySHA256 = len(body), hex.EncodeToString(whole[:])
	ev.Verdict, ev.State, ev.LastError = "invalid", Ignored, r.Detail
	ev.DedupeKey = "invalid:" + hex.EncodeToString(key[:])
	stored, _, err := NewStore(s.db).Insert(ctx, ev)
	if err != nil {
		return Event{}, false, err
	}
	r.Stored = true
	webhookRefusals.WithLabelValues(string(r.Reason), "stored").Inc()
	return stored, false, r
}

// parseRequestTime reads a request-time as APO and its SDKs send it:
// milliseconds since the epoch (seconds, if ten digits or fewer), or ISO
// 8601 with or without fraction and offset (no offset: UTC).
func parseRequestTime(s string) (time.Time, bool) {
	if s != "" && strings.Trim(s, "0123456789") == "" && len(s) <= 16 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if len(s) <= 10 {
			return time.Unix(n, 0), true
		}
		return time.UnixMilli(n), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// headerValue is h's first value for name, matched regardless of case even
// where the map keys are not canonical (tests and some callers set them
// lowercase, as APO sends them).
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// keepHeaders stores what proves the notification: signature, client-id,
// request-time, content type; each value capped.
func keepHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		switch k := strings.ToLower(k); k {
		case "signature", "client-id", "request-time", "content-type", "user-agent":
			for _, v := range vs[:min(len(vs), headerValuesMax)] {
				out[k] = append(out[k], truncateText(v, headerValueMax))
			}
		}
	}
	return out
}

// truncateText cuts s to at most n bytes of valid UTF-8 (text columns
// refuse anything else).
func truncateText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strings.ReplaceAll(s, "\x00", "?")
}

// intakeBatch bounds how many notifications one commit stores.
const intakeBatch = 256

// intakeWriters is how many batches may commit at once. Two keep one batch
// filling while the other commits; more only make batches smaller, and a
// statement per batch is what PostgreSQL's CPU goes on.
const intakeWriters = 2

// batcher stores notifications with group commit: concurrent intakes that
// arrive while a batch is being written go into the next batch, one
// multi-row INSERT and one commit for all of them. Each caller still waits
// for its own commit before APO is answered, so durability is unchanged;
// only the number of fsyncs per notification drops. Under no load a batch
// is one row and adds no delay: nothing waits for a batch to fill.
type batcher struct {
	db   *sqlx.DB
	in   chan *intakeReq
	once sync.Once

	mu   sync.Mutex
	stmt *sqlx.Stmt // insertWebhooks, prepared on first use
}

type intakeReq struct {
	ev   Event
	done chan intakeRes
}

type intakeRes struct {
	ev    Event
	first bool
	err   error
}

func newBatcher(db *sqlx.DB) *batcher {
	return &batcher{db: db, in: make(chan *intakeReq, intakeBatch*intakeWriters)}
}

// store queues ev and waits until it is committed (or ctx ends: the row
// may then still be written, which a re-delivery's dedupe key absorbs).
func (b *batcher) store(ctx context.Context, ev Event) (Event, bool, error) {
	b.once.Do(func() {
		for range intakeWriters {
			go b.run()
		}
	})
	r := &intakeReq{ev: ev, done: make(chan intakeRes, 1)}
	select {
	case b.in <- r:
	case <-ctx.Done():
		return Event{}, false, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.ev, res.first, res.err
	case <-ctx.Done():
		return Event{}, false, ctx.Err()
	}
}

// run writes batches for as long as the process lives; the writers are
// idle goroutines blocked on the channel when nothing arrives.
func (b *batcher) run() {
	batch := make([]*intakeReq, 0, intakeBatch)
	for first := range b.in {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < intakeBatch {
			select {
			case r := <-b.in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.write(batch)
	}
}

func (b *batcher) write(batch []*intakeReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Several deliveries of one fact in a batch become one row; a multi-row
	// upsert may not touch the same row twice.
	byKey := map[string][]*intakeReq{}
	var uniq []Event
	for _, r := range batch {
		if _, seen := byKey[r.ev.DedupeKey]; !seen {
			uniq = append(uniq, r.ev)
		}
		byKey[r.ev.DedupeKey] = append(byKey[r.ev.DedupeKey], r)
	}
	counts := make(map[string]int, len(byKey))
	for k, rs := range byKey {
		counts[k] = len(rs)
	}
	stmt, err := b.prepared(ctx)
	var stored map[string]storedWebhook
	if err == nil {
		stored, err = insertWebhookRows(ctx, stmt.SelectContext, uniq, counts)
	}
	for k, rs := range byKey {
		res := intakeRes{err: err}
		if err == nil {
			s := stored[k]
			res.ev = s.ev
			for i, r := range rs {
				// Only the first delivery of a new fact counts as first.
				res.first = s.inserted && i == 0
				r.done <- res
			}
			continue
		}
		for _, r := range rs {
			r.done <- res
		}
	}
}

type storedWebhook struct {
	ev       Event
	inserted bool
}

// insertWebhooks stores several notifications in one statement and one
// commit: a re-delivery of a stored fact only counts its deliveries. It
// returns only what an acknowledgement needs (the stored identity and
// processing state), not the stored body back. Rows go in dedupe-key order
// so that two batches holding the same facts lock them in the same order;
// in arrival order they deadlock (40P01) when re-deliveries cross.
const insertWebhooks = `
	INSERT INTO webhook_events (id, notify_type, dedupe_key, raw_body, headers, request_uri, verdict, state,
		last_error, received_at, deliveries)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::timestamptz[], $11::int[]) ORDER BY 3
	ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = webhook_events.deliveries + EXCLUDED.deliveries
	RETURNING id, dedupe_key, state, attempts, deliveries, COALESCE(payment_id::text, '') AS payment_id,
		processed_at, (xmax = 0) AS inserted`

// insertWebhookRows runs insertWebhooks with run: the batcher's prepared
// statement (parsed and planned once per connection instead of once per
// batch, and one round trip fewer) or a rehearsal's transaction.
// deliveries[key] counts how many deliveries of each fact the batch held.
// Each returned event is its input with the stored id and state.
func insertWebhookRows(ctx context.Context, run func(ctx context.Context, dest any, args ...any) error, evs []Event,
	deliveries map[string]int) (map[string]storedWebhook, error) {
	n := len(evs)
	ids, types, keys, uris, verdicts, states, errs, times, headers := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n)
	bodies := make([][]byte, n)
	counts := make([]int64, n)
	byKey := make(map[string]Event, n)
	for i, ev := range evs {
		h, err := json.Marshal(ev.Headers)
		if err != nil {
			return nil, fmt.Errorf("encode headers: %w", err)
		}
		ids[i], types[i], keys[i], uris[i], verdicts[i], states[i], errs[i] = ev.ID, ev.NotifyType, ev.DedupeKey,
			ev.RequestURI, ev.Verdict, string(ev.State), ev.LastError
		times[i], headers[i], bodies[i] = ev.ReceivedAt.Format(time.RFC3339Nano), string(h), ev.RawBody
		counts[i] = int64(max(deliveries[ev.DedupeKey], 1))
		byKey[ev.DedupeKey] = ev
	}
	var rows []struct {
		ID          string     `db:"id"`
		DedupeKey   string     `db:"dedupe_key"`
		State       string     `db:"state"`
		Attempts    int        `db:"attempts"`
		Deliveries  int        `db:"deliveries"`
		PaymentID   string     `db:"payment_id"`
		ProcessedAt *time.Time `db:"processed_at"`
		Inserted    bool       `db:"inserted"`
	}
	if err := run(ctx, &rows, postgres.Array(ids), postgres.Array(types), postgres.Array(keys),
		postgres.Array(bodies), postgres.Array(headers), postgres.Array(uris), postgres.Array(verdicts),
		postgres.Array(states), postgres.Array(errs), postgres.Array(times), postgres.Array(counts)); err != nil {
		return nil, fmt.Errorf("store webhooks: %w", err)
	}
	out := make(map[string]storedWebhook, len(rows))
	for _, r := range rows {
		ev := byKey[r.DedupeKey]
		ev.ID, ev.State, ev.Attempts, ev.Deliveries, ev.PaymentID = r.ID, State(r.State), r.Attempts, r.Deliveries, r.PaymentID
		ev.ProcessedAt = postgres.UTC(r.ProcessedAt)
		out[r.DedupeKey] = storedWebhook{ev: ev, inserted: r.Inserted}
	}
	return out, nil
}

// prepared returns the prepared insert, preparing it on first use (and
// again after a failed attempt, say while PostgreSQL restarts).
func (b *batcher) prepared(ctx context.Context) (*sqlx.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stmt == nil {
		stmt, err := b.db.PreparexContext(ctx, insertWebhooks)
		if err != nil {
			return nil, fmt.Errorf("prepare webhook insert: %w", err)
		}
		b.stmt = stmt
	}
	return b.stmt, nil
}
