package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/users"
)

// view is what every page template gets: the page's own Data plus the
// signed-in user (nil on the login page), for the layout and for the
// helpers below.
type view struct {
	Title string
	Nav   string // the navigation entry to mark current
	S     *session
	Data  any
	// Flash is a one-line confirmation shown above the content ("Refund of
	// USD 15.00 sent").
	Flash string
}

// Can reports whether the signed-in user's role allows need ("read",
// "finance", "operate", "checkout", "admin"): templates hide what a role
// cannot do; the handlers refuse it regardless.
func (v view) Can(need string) bool {
	return v.S != nil && auth.Allows(v.S.User.Role, auth.Need(need))
}

// When shows t in the user's zone, with the UTC time on hover and in the
// machine-readable datetime.
func (v view) When(t time.Time) template.HTML {
	if t.IsZero() {
		return `<span class="muted">—</span>`
	}
	zone := time.UTC
	if v.S != nil && v.S.Zone != nil {
		zone = v.S.Zone
	}
	utc := t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		utc.Format(time.RFC3339), utc.Format("2006-01-02 15:04:05 UTC"),
		template.HTMLEscapeString(t.In(zone).Format("2006-01-02 15:04 MST"))))
}

// funcs are the helpers every template may call.
var funcs = template.FuncMap{
	"money":   formatMoney,
	"amount":  formatAmount,
	"badge":   badge,
	"id":      copyID,
	"qs":      queryString,
	"pretty":  prettyJSON,
	"lower":   strings.ToLower,
	"left":    timeLeft,
	"nonzero": func(t time.Time) bool { return !t.IsZero() },
	"deref":   func(t *time.Time) time.Time { return *t },
}

// formatMoney writes minor units of ccy in major units with the currency's
// own decimals and thousands grouping, then the code: "1,234.56 USD",
// "1,339 JPY", "1.234 KWD".
func formatMoney(minor int64, ccy string) string {
	return formatAmount(minor, ccy) + " " + ccy
}

// formatAmount is formatMoney without the code, for right-aligned columns
// whose currency sits beside.
func formatAmount(minor int64, ccy string) string {
	s := money.FormatMajor(money.Money{Minor: minor, Currency: ccy})
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		return "−" + out
	}
	return out
}

// badge is a status as a coloured label that also says its name, so colour
// is never the only signal.
func badge(status any) template.HTML {
	s := fmt.Sprint(status)
	if s == "" {
		return ""
	}
	class := "badge-" + strings.ToLower(strings.ReplaceAll(s, "_", "-"))
	return template.HTML(`<span class="badge ` + template.HTMLEscapeString(class) + `">` +
		template.HTMLEscapeString(strings.ReplaceAll(s, "_", " ")) + `</span>`)
}

// copyID shows an id in the monospace face; a click copies it (assets/console.js).
func copyID(id string) template.HTML {
	if id == "" {
		return `<span class="muted">—</span>`
	}
	e := template.HTMLEscapeString(id)
	return template.HTML(`<code class="id" data-copy="` + e + `" title="Click to copy">` + e + `</code>`)
}

// queryString builds "?k1=v1&k2=v2" from pairs, skipping empty values, for
// links to a filtered list.
func queryString(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// withParam is the current query q with key set to value (removed when
// value is empty): sort headers and pagers keep every other filter.
func withParam(q url.Values, key, value string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	if len(c) == 0 {
		return "?"
	}
	return "?" + c.Encode()
}

// prettyJSON indents a stored document after redacting it: stored APO
// answers carry masked card data only, but a page never trusts them to.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || !json.Valid(raw) {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, carddata.RedactJSON(raw), "", "  "); err != nil {
		return ""
	}
	return b.String()
}

// timeLeft says how long until t from now, in days and hours: "2d 5h",
// "5h", "overdue 3h".
func timeLeft(t, now time.Time) string {
	d := t.Sub(now)
	prefix := ""
	if d < 0 {
		prefix, d = "overdue ", -d
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if days > 0 {
		return prefix + strconv.Itoa(days) + "d " + strconv.Itoa(hours) + "h"
	}
	if hours == 0 {
		return prefix + strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return prefix + strconv.Itoa(hours) + "h"
}

// parsePages parses each page template with the layout and the shared
// partials into its own set, so every page may define "content" and
// "title" blocks without clashing. A page is templates/<name>.html.
func parsePages() (map[string]*template.Template, error) {
	shared, err := fs.Glob(templateFS, "templates/_*.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, append(shared, f)...)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name in the layout; for an htmx request that names
// a block with HX-Target-less partial swaps, pages call renderBlock.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	c.renderBlock(w, r, status, name, "_layout", v)
}

// renderBlock writes one named template of page name: "_layout" for the
// whole page, or a block such as "rows" for an htmx swap. It renders into
// a buffer first so a template error becomes a clean 500, not half a page.
func (c *Console) renderBlock(w http.ResponseWriter, r *http.Request, status int, name, block string, v view) {
	if v.Flash == "" && v.S != nil {
		v.Flash = v.S.Flash
	}
	t, ok := c.pages[name]
	if !ok {
		c.d.Log.ErrorContext(r.Context(), "console: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, v); err != nil {
		c.d.Log.ErrorContext(r.Context(), "console: render", "page", name, "block", block, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// problem is an error as the page shows it, shaped like RFC 9457 problem
// details (title, status, detail, and the fields at fault).
type problem struct {
	Status int
	Title  string
	Detail string
	Fields []fieldError
}

type fieldError struct{ Field, Message string }

// problem writes p: into the element the htmx request targets (its form's
// error slot, #<form id>-error, or the page's #problem region), else as a
// page of its own.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	c.writeProblem(w, r, nil, problem{Status: status, Title: title, Detail: detail})
}

func (c *Console) writeProblem(w http.ResponseWriter, r *http.Request, s *session, p problem) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get("HX-Request") == "true" {
		target := "#problem"
		if id := r.Header.Get("HX-Trigger"); id != "" && validID(id) {
			target = "#" + id + "-error"
		}
		w.Header().Set("HX-Retarget", target)
		w.Header().Set("HX-Reswap", "innerHTML")
		c.renderBlock(w, r, p.Status, "error", "problem", view{S: s, Data: p})
		return
	}
	c.render(w, r, p.Status, "error", view{Title: p.Title, S: s, Data: p})
}

// validID accepts element ids the console gives forms (letters, digits,
// dashes), so a request header cannot inject a selector.
func validID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// showError writes err as the problem a person can act on; anything not
// recognised is logged and shown as a bare internal error, as the API does.
func (c *Console) showError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	p, ok := describe(err)
	if !ok {
		c.d.Log.ErrorContext(r.Context(), "console request failed", "err", err, "path", r.URL.Path,
			"request_id", httpx.RequestIDFromContext(r.Context()))
		p = problem{Status: http.StatusInternalServerError, Title: "Something went wrong on our side",
			Detail: "Nothing you did caused this. Try again; if it persists, give your admin the time it happened."}
	}
	c.writeProblem(w, r, s, p)
}

// describe maps the domain errors a person can act on to problems with the
// statuses the admin API answers for them.
func describe(err error) (problem, bool) {
	var (
		payInvalid   *payments.InvalidError
		payConflict  *payments.ConflictError
		disInvalid   *disputes.InvalidError
		disConflict  *disputes.ConflictError
		disRejected  *disputes.RejectedError
		recInvalid   *recon.InvalidError
		recConflict  *recon.ConflictError
		userInvalid  *users.InvalidError
		userConflict *users.ConflictError
		keyInvalid   *auth.InvalidError
		bankInvalid  *bank.InvalidError
		bankConflict *bank.ConflictError
		payoutBad    *payout.InvalidError
		apoErr       *apo.Error
		upload       *httpx.UploadError
		tooLarge     *httpx.TooLargeError
		formProblem  *formError
		resubmitted  *conflictError
		invalidTitle = "Check the highlighted field"
	)
	if p, ok := journalProblem(err); ok {
		return p, true
	}
	switch {
	case errors.As(err, &resubmitted):
		return problem{Status: http.StatusConflict, Title: "Already sent", Detail: resubmitted.msg}, true
	case errors.As(err, &formProblem):
		return problem{Status: http.StatusUnprocessableEntity, Title: invalidTitle, Fields: []fieldError{{formProblem.Field, formProblem.Message}}}, true
	case errors.Is(err, payments.ErrNotFound), errors.Is(err, disputes.ErrNotFound), errors.Is(err, recon.ErrNotFound),
		errors.Is(err, users.ErrNotFound), errors.Is(err, auth.ErrNotFound), errors.Is(err, bank.ErrNotFound),
		errors.Is(err, payout.ErrNotFound):
		return problem{Status: http.StatusNotFound, Title: "Not found", Detail: "It may have been removed, or the link is wrong."}, true
	case errors.As(err, &disRejected):
		return problem{Status: http.StatusConflict, Title: "APO refused", Detail: disRejected.Error()}, true
	case errors.Is(err, disputes.ErrOutcomeUnknown):
		return problem{Status: http.StatusServiceUnavailable, Title: "APO's answer is unknown",
			Detail: "Send the same request again: it is safe, nothing will be done twice."}, true
	case errors.As(err, &payInvalid), errors.As(err, &disInvalid), errors.As(err, &recInvalid), errors.As(err, &userInvalid),
		errors.As(err, &bankInvalid), errors.As(err, &payoutBad):
		return problem{Status: http.StatusUnprocessableEntity, Title: invalidTitle, Fields: invalidFields(err)}, true
	case errors.As(err, &keyInvalid):
		return problem{Status: http.StatusUnprocessableEntity, Title: invalidTitle, Detail: keyInvalid.Error()}, true
	case errors.As(err, &payConflict):
		return problem{Status: http.StatusConflict, Title: "Not possible now", Detail: payConflict.Rule}, true
	case errors.As(err, &disConflict):
		return problem{Status: http.StatusConflict, Title: "Not possible now", Detail: disConflict.Rule}, true
	case errors.As(err, &userConflict):
		return problem{Status: http.StatusConflict, Title: "Not possible now", Detail: userConflict.Rule}, true
	case errors.As(err, &recConflict):
		return problem{Status: http.StatusConflict, Title: "Not possible now", Detail: recConflict.Rule}, true
	case errors.As(err, &bankConflict):
		return problem{Status: http.StatusConflict, Title: "Not possible now", Detail: bankConflict.Rule}, true
	case errors.Is(err, payments.ErrDuplicate), errors.Is(err, users.ErrDuplicate):
		return problem{Status: http.StatusConflict, Title: "Already exists", Detail: err.Error()}, true
	case errors.As(err, &apoErr):
		if apoErr.Outcome == apo.OutcomeFailed {
			return problem{Status: http.StatusBadGateway, Title: "APO refused",
				Detail: "APO answered " + apoErr.Result.ResultCode + ". Nothing changed; try again later."}, true
		}
		return problem{Status: http.StatusServiceUnavailable, Title: "APO did not answer",
			Detail: "Nothing changed that we know of. Try again in a minute."}, true
	case errors.As(err, &tooLarge):
		return problem{Status: http.StatusRequestEntityTooLarge, Title: "Upload too large", Detail: tooLarge.Error()}, true
	case errors.As(err, &upload):
		return problem{Status: http.StatusUnprocessableEntity, Title: upload.Detail,
			Fields: []fieldError{{upload.Location, upload.Message}}}, true
	case errors.Is(err, audit.ErrBadCursor):
		return problem{Status: http.StatusUnprocessableEntity, Title: "This page link is stale", Detail: "Go back to the first page."}, true
	}
	return problem{}, false
}

// invalidFields lists every field error in err, which may join several.
func invalidFields(err error) []fieldError {
	var out []fieldError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var (
			p *payments.InvalidError
			d *disputes.InvalidError
			r *recon.InvalidError
			u *users.InvalidError
			b *bank.InvalidError
			o *payout.InvalidError
		)
		switch {
		case errors.As(err, &p):
			out = append(out, fieldError{p.Field, p.Reason})
		case errors.As(err, &d):
			out = append(out, fieldError{d.Field, d.Reason})
		case errors.As(err, &r):
			out = append(out, fieldError{r.Field, r.Reason})
		case errors.As(err, &u):
			out = append(out, fieldError{u.Field, u.Reason})
		case errors.As(err, &b):
			out = append(out, fieldError{b.Field, b.Reason})
		case errors.As(err, &o):
			out = append(out, fieldError{o.Field, o.Reason})
		}
	}
	walk(err)
	return out
}

// formError is a form value the console itself could not read (an amount
// that is not a number); the domain never saw it.
type formError struct{ Field, Message string }

func (e *formError) Error() string { return e.Field + ": " + e.Message }

// remoteAddr is the peer address as the request-id middleware recorded
// it (payops trusts no forwarding header).
func remoteAddr(r *http.Request) string {
	if a := httpx.RemoteAddrFromContext(r.Context()); a != "" {
		return a
	}
	return r.RemoteAddr
}
