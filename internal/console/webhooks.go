package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
)

// The Webhooks page (issue 17): APO's stored notifications, by default
// those that need a person (inbox.Filter.NeedsAttention: failed, or stuck
// PENDING; what the inbox's Summary counts), and replaying them, one or a selection. A replay is what cmd/api's
// replay-webhook-event does: inbox.Service.Replay, audited as
// audit.ActionWebhookReplay on audit.WebhookTarget, with no input, and
// the outcome "failed" when the event failed again.

// webhookListForm is the list's filters as the URL carries them.
type webhookListForm struct {
	State          string // "" needs attention; "all"; or a state
	Verdict        string // "", valid, invalid
	Type           string
	ReceivedBefore string // RFC 3339: the stuck ones of a summary are PENDING and received before its cutoff
}

var webhookStates = []inbox.State{inbox.Pending, inbox.Processed, inbox.Failed, inbox.Ignored}

// webhookRow is a stored notification as the list shows it: the body and
// the error redacted, as the API shows them.
type webhookRow struct {
	inbox.Event
	Body      string
	LastError string
}

// Replayable reports whether the event's signature verified; the inbox
// refuses to replay any other.
func (r webhookRow) Replayable() bool { return r.Verdict == "valid" }

// webhookListData is the list page.
type webhookListData struct {
	Form   webhookListForm
	Query  url.Values
	Cursor string
	Items  []webhookRow
	Next   string
	States []inbox.State
}

// Link is this list with key set to value, keeping every filter.
func (d webhookListData) Link(key, value string) string {
	return Prefix + "/webhooks" + withParam(d.Query, key, value)
}

func webhookQuery(q url.Values) (webhookListForm, inbox.Filter, error) {
	form := webhookListForm{State: strings.TrimSpace(q.Get("state")), Verdict: strings.TrimSpace(q.Get("verdict")),
		Type: strings.TrimSpace(q.Get("type")), ReceivedBefore: strings.TrimSpace(q.Get("received_before"))}
	f := inbox.Filter{NotifyType: form.Type, Verdict: form.Verdict, Cursor: q.Get("cursor"), Limit: 50}
	if form.ReceivedBefore != "" {
		t, err := time.Parse(time.RFC3339, form.ReceivedBefore)
		if err != nil {
			return form, f, &formError{Field: "received_before", Message: "a time such as 2026-12-01T12:00:00Z"}
		}
		f.ReceivedBefore = t
	}
	switch form.State {
	case "":
		f.NeedsAttention = true
	case "all":
	default:
		f.State = inbox.State(form.State)
		known := false
		for _, s := range webhookStates {
			known = known || s == f.State
		}
		if !known {
			return form, f, &formError{Field: "state", Message: "unknown state " + strconv.Quote(form.State)}
		}
	}
	if form.Verdict != "" && form.Verdict != "valid" && form.Verdict != "invalid" {
		return form, f, &formError{Field: "verdict", Message: "valid or invalid"}
	}
	if len(form.Type) > 64 {
		return form, f, &formError{Field: "type", Message: "at most 64 characters"}
	}
	return form, f, nil
}

func (c *Console) webhookList(w http.ResponseWriter, r *http.Request, s *session) error {
	form, f, err := webhookQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page, err := c.d.Inbox.List(r.Context(), f)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"state": form.State, "verdict": form.Verdict, "type": form.Type,
		"received_before": form.ReceivedBefore} {
		if v != "" {
			q.Set(k, v)
		}
	}
	data := webhookListData{Form: form, Query: q, Cursor: f.Cursor, Next: page.Next, States: webhookStates}
	for _, ev := range page.Items {
		data.Items = append(data.Items, webhookRow{Event: ev, Body: webhookBody(ev.RawBody),
			LastError: carddata.Redact(ev.LastError)})
	}
	c.render(w, r, http.StatusOK, "webhooks", view{Title: "Webhooks", Nav: "webhooks", S: s, Data: data})
	return nil
}

// webhookBody is a stored body as a page shows it: indented JSON, redacted
// (card numbers masked, card tokens withheld), or redacted text when it is
// not JSON (the kept prefix of a refused one).
func webhookBody(raw []byte) string {
	if json.Valid(raw) {
		return prettyJSON(raw)
	}
	return carddata.Redact(string(raw))
}

// replayBack is where to go after a replay: the list the form was on
// (a console path only), else the default list.
func replayBack(r *http.Request) string {
	back := r.PostFormValue("back")
	if back != Prefix+"/webhooks" && !strings.HasPrefix(back, Prefix+"/webhooks?") || strings.ContainsAny(back, "\\\r\n#") {
		return Prefix + "/webhooks"
	}
	return back
}

// errFailedAgain is a replay whose event failed again: the API records
// such a replay's outcome as failed, and so does c.act for an error it
// does not know; the handler then answers it as the replay's outcome.
type errFailedAgain struct{ ev inbox.Event }

func (e *errFailedAgain) Error() string {
	return "event " + e.ev.ID + " failed again: " + e.ev.LastError
}

// webhookReplay replays one event.
func (c *Console) webhookReplay(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable"}
	}
	id, back := r.PathValue("id"), replayBack(r)
	err := c.act(w, r, s, action{Name: audit.ActionWebhookReplay, Target: audit.WebhookTarget(id),
		Run: func(ctx context.Context) (string, string, error) {
			ev, err := c.d.Inbox.Replay(context.WithoutCancel(ctx), id)
			if err != nil {
				return "", "", err
			}
			if ev.State == inbox.Failed {
				return "", "", &errFailedAgain{ev}
			}
			return back, "Replayed event " + id + ": " + strings.ToLower(string(ev.State)) + ".", nil
		}})
	var again *errFailedAgain
	if errors.As(err, &again) {
		c.redirect(w, r, back, "Replayed event "+id+": it failed again: "+carddata.Redact(again.ev.LastError))
		return nil
	}
	return err
}

// maxBulkReplay bounds one bulk replay: a page of the list.
const maxBulkReplay = 200

// webhookReplayBulk replays the selected events one by one, each through
// inbox.Service.Replay with its own audit row, once per form token: a
// resubmitted form is answered with the first one's summary. (c.act keeps
// one token for one change; here one token covers a change per event.)
func (c *Console) webhookReplayBulk(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable"}
	}
	ids := r.PostForm["event"]
	switch {
	case len(ids) == 0:
		return &formError{Field: "event", Message: "select one or more events to replay"}
	case len(ids) > maxBulkReplay:
		return &formError{Field: "event", Message: "at most " + strconv.Itoa(maxBulkReplay) + " events at once"}
	}
	token := r.PostFormValue("token")
	if token == "" || len(token) > 64 {
		return &formError{Field: "token", Message: "this form is missing its token; reload the page and try again"}
	}
	back := replayBack(r)
	bulk := action{Name: audit.ActionWebhookReplay, Target: "webhook-events:bulk", Input: ids}
	hash, err := actionHash(bulk)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := c.d.Now()
	held, started, err := c.d.Idempotency.Begin(ctx, "console:"+s.User.ID+" "+bulk.Name+" bulk", token, hash, now,
		now.Add(-idempotency.DefaultStaleAfter))
	if err != nil {
		return err
	}
	if !started {
		return c.replay(w, r, held, hash)
	}
	// Detached: every event started is replayed and audited, whether or
	// not the person waits.
	dctx := context.WithoutCancel(ctx)
	var n replayCounts
	for _, id := range ids {
		one := action{Name: audit.ActionWebhookReplay, Target: audit.WebhookTarget(id)}
		ev, err := c.d.Inbox.Replay(dctx, id)
		n.add(ev, err)
		out := outcome(err)
		if err == nil && ev.State == inbox.Failed {
			out = audit.OutcomeFailed
		}
		c.record(dctx, s, one, out)
		if err != nil && out == audit.OutcomeFailed {
			c.d.Log.ErrorContext(ctx, "console: webhook replay failed", "event_id", id, "err", err)
		}
	}
	flash := n.String()
	body, _ := json.Marshal(done{Location: back, Flash: flash})
	if err := c.d.Idempotency.Complete(dctx, held, http.StatusSeeOther, idempotency.Response{ContentType: "application/json", Body: body}); err != nil {
		c.d.Log.WarnContext(ctx, "console: form outcome not kept", "err", err)
	}
	c.redirect(w, r, back, flash)
	return nil
}

// replayCounts sums a bulk replay's outcomes for its summary.
type replayCounts struct {
	total, processed, failed, pending, ignored, refused, missing, errored int
}

func (n *replayCounts) add(ev inbox.Event, err error) {
	n.total++
	var conflict *inbox.ConflictError
	switch {
	case errors.As(err, &conflict):
		n.refused++
	case errors.Is(err, inbox.ErrNotFound):
		n.missing++
	case err != nil:
		n.errored++
	case ev.State == inbox.Processed:
		n.processed++
	case ev.State == inbox.Failed:
		n.failed++
	case ev.State == inbox.Ignored:
		n.ignored++
	default:
		n.pending++
	}
}

// String is the summary: "Replayed 3 events: 2 processed, 1 failed".
func (n replayCounts) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{n.processed, "processed"}, {n.failed, "failed"}, {n.pending, "still pending"}, {n.ignored, "ignored"},
		{n.refused, "refused (signature invalid: cannot be replayed)"}, {n.missing, "not found"},
		{n.errored, "not replayed (an error on our side; try again)"}} {
		if p.n > 0 {
			parts = append(parts, strconv.Itoa(p.n)+" "+p.what)
		}
	}
	return "Replayed " + plural(n.total, "event", "events") + ": " + strings.Join(parts, ", ")
}
