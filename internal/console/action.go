package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
)

// Token is a fresh form token. Every form that changes something carries
// one (field "token"): a second submission of the same form (a double
// click, a resend after a lost answer) is answered with the first one's
// outcome instead of moving money twice, as Idempotency-Key does for the
// API.
func (v view) Token() string { return rand.Text() }

// action is one change a person asked for in a form.
type action struct {
	Name   string // the audit action, as the API records it (audit.Action…)
	Target string // audit.PaymentTarget(id), …
	Input  any    // what the audit row keeps of the request (never card data)
	// Run makes the change and says where to go after it and what to say
	// there ("Refund of USD 15.00 sent").
	Run func(ctx context.Context) (location, flash string, err error)
	// Audited, when set, names the audit row's target and input after Run,
	// given its error: what a change made (the run a start recorded, the
	// discrepancies a bulk change moved) is known only then. Target and
	// Input above still identify the request for its form token.
	Audited func(err error) (target string, input any)
	// SelfAudited is a change whose domain service writes its audit row in
	// the change's own transaction (auth.Keys, users.Service): act records
	// only a refused or failed one, whose row the domain rolled back.
	SelfAudited bool
	// Show, when set, answers the first success instead of the redirect: a
	// page holding a secret that exists only now (a new API key, a
	// password). What is kept for a resubmission never holds it.
	Show func()
}

// maxForm bounds a form without files.
const maxForm = 64 << 10

// act runs a at most once per form token and writes its audit row with the
// console user as the actor. It answers with a redirect (303; for htmx,
// HX-Location) to where a.Run said, or the error as a problem.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session, a action) error {
	token := r.PostFormValue("token")
	if token == "" || len(token) > 64 {
		return &formError{Field: "token", Message: "this form is missing its token; reload the page and try again"}
	}
	hash, err := actionHash(a)
	if err != nil {
		return err
	}
	ctx := r.Context()
	scope := "console:" + s.User.ID + " " + a.Name
	now := c.d.Now()
	held, started, err := c.d.Idempotency.Begin(ctx, scope, token, hash, now, now.Add(-idempotency.DefaultStaleAfter))
	if err != nil {
		return err
	}
	if !started {
		return c.replay(w, r, held, hash)
	}
	loc, flash, runErr := a.Run(ctx)
	if row := a; !a.SelfAudited || runErr != nil {
		if a.Audited != nil {
			row.Target, row.Input = a.Audited(runErr)
		}
		c.record(ctx, s, row, outcome(runErr))
	}
	// Detached: the client hanging up must not leave the token held.
	dctx := context.WithoutCancel(ctx)
	if runErr != nil {
		if err := c.d.Idempotency.Abandon(dctx, held); err != nil {
			c.d.Log.WarnContext(ctx, "console: form token not released", "err", err)
		}
		return runErr
	}
	body, _ := json.Marshal(done{Location: loc, Flash: flash})
	if err := c.d.Idempotency.Complete(dctx, held, http.StatusSeeOther, idempotency.Response{ContentType: "application/json", Body: body}); err != nil {
		c.d.Log.WarnContext(ctx, "console: form outcome not kept", "err", err)
	}
	if a.Show != nil {
		// The page holds a secret: no cache, no history snapshot keeps it.
		w.Header().Set("Cache-Control", "no-store")
		a.Show()
		return nil
	}
	c.redirect(w, r, loc, flash)
	return nil
}

// done is what a finished action keeps for a resubmission of its form.
type done struct {
	Location string `json:"location"`
	Flash    string `json:"flash"`
}

// replay answers a form token that was used before: with the first
// submission's outcome, or a refusal while it still runs or when the form
// was changed since.
func (c *Console) replay(w http.ResponseWriter, r *http.Request, held idempotency.Record, hash []byte) error {
	switch {
	case held.InProgress():
		return &conflictError{"This form was already sent and is still being processed. Wait a moment, then reload."}
	case string(held.RequestHash) != string(hash):
		return &conflictError{"This form was already used for another request. Reload the page to start again."}
	}
	var d done
	if err := json.Unmarshal(held.Response.Body, &d); err != nil {
		return err
	}
	c.redirect(w, r, d.Location, "Already done: "+d.Flash)
	return nil
}

// conflictError is a resubmitted form the console refuses itself.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

// actionHash identifies what a form asked for, so a token reused for a
// different request is refused rather than answered with another's outcome.
func actionHash(a action) ([]byte, error) {
	b, err := json.Marshal(struct {
		Name, Target string
		Input        any
	}{a.Name, a.Target, a.Input})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// record writes a's audit row. Like the API's, it is written after the
// change and detached from the request; a failure to write it is logged
// with everything the row held, since the change may have moved money.
func (c *Console) record(ctx context.Context, s *session, a action, outcome string) {
	e := audit.Entry{Actor: s.User.Email, Role: string(s.User.Role), Action: a.Name, Target: a.Target, Input: a.Input,
		Outcome: outcome, RemoteAddr: httpx.RemoteAddrFromContext(ctx), RequestID: httpx.RequestIDFromContext(ctx)}
	if err := c.d.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		c.d.Log.ErrorContext(ctx, "audit row not written", "err", err, "action", a.Name, "target", a.Target,
			"outcome", outcome, "actor", e.Actor)
	}
}

// outcome classifies an action's error as the API does: refused before
// anything changed (a problem a person can act on, 4xx), or failed.
func outcome(err error) string {
	if err == nil {
		return audit.OutcomeSucceeded
	}
	if p, ok := describe(err); ok && p.Status < 500 {
		return audit.OutcomeRejected
	}
	return audit.OutcomeFailed
}

// flashCookie carries a one-line confirmation across the redirect after a
// change; the next page shows it once.
const flashCookie = "payops_flash"

// redirect sends the browser to loc after a change, with flash to show
// there. htmx follows HX-Location without a full reload.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, loc, flash string) {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: Prefix + "/", MaxAge: 60,
			HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Location", loc)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// takeFlash returns and clears the confirmation a redirect left.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: Prefix + "/", MaxAge: -1,
		HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
	msg, err := url.QueryUnescape(ck.Value)
	if err != nil || len(msg) > 300 {
		return ""
	}
	return msg
}
