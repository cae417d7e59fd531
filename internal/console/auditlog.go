package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/users"
)

// auditData is one page of the audit log with the filters that chose it.
type auditData struct {
	Filter  auditFilter
	Rows    []auditRow
	Next    string // the next page's link; "" on the last page
	First   string // the first page's link, when this is a later one
	Actions []string
	Problem *problem // a filter that could not be read, shown above the form
}

// auditFilter is the audit log's query string: what audit.Filter selects
// on (actor, action, target), and a time range in the user's zone. The
// store pages on (created_at, id) newest first, so "to" is a starting
// cursor and "from" is where paging stops; neither needs a query of its
// own.
type auditFilter struct {
	Actor, Action, Target string
	From, To              string // "2006-01-02T15:04", as <input type="datetime-local"> sends
	Cursor                string
}

// auditRow is one entry as the page shows it.
type auditRow struct {
	audit.Entry
	Input string // indented, redacted again by pretty
}

// auditTimeLayout is what a datetime-local input sends.
const auditTimeLayout = "2006-01-02T15:04"

// auditActions are the actions the filter suggests: the API's and the
// console's (audit.Action…) and console users' own (users.Action…).
var auditActions = []string{
	audit.ActionAPIKeyCreate, audit.ActionAPIKeyRevoke,
	audit.ActionPaymentCreate, audit.ActionPaymentCapture, audit.ActionPaymentCancel, audit.ActionPaymentRefund,
	audit.ActionPaymentSync, audit.ActionPaymentReview, audit.ActionPaymentExport,
	audit.ActionDisputeAccept, audit.ActionDisputeDefend,
	audit.ActionReconUpload, audit.ActionReconRunStart, audit.ActionDiscrepancyUpdate,
	audit.ActionWebhookReplay,
	users.ActionLogin, users.ActionCreate, users.ActionDisable, users.ActionEnable, users.ActionChangeRole,
	users.ActionResetPassword, users.ActionChangePassword, users.ActionEnrolTOTP, users.ActionConfirmTOTP, users.ActionResetTOTP,
}

// auditLog lists the audit log, newest first, a page at a time. A filter
// that cannot be read is shown on the page, above the form it came from.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	f := auditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), From: q.Get("from"), To: q.Get("to"), Cursor: q.Get("cursor")}
	d := auditData{Filter: f, Actions: auditActions}
	err := c.auditPage(r, s, q, &d)
	if p, ok := describe(err); ok && p.Status < 500 {
		d.Problem = &p
		c.render(w, r, p.Status, "audit", view{Title: "Audit log", Nav: "audit", S: s, Data: d})
		return nil
	}
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", S: s, Data: d})
	return nil
}

// auditPage reads the page d.Filter asks for into d.
func (c *Console) auditPage(r *http.Request, s *session, q url.Values, d *auditData) error {
	f := d.Filter
	zone := time.UTC
	if s.Zone != nil {
		zone = s.Zone
	}
	from, err := parseAuditTime("from", f.From, zone)
	if err != nil {
		return err
	}
	to, err := parseAuditTime("to", f.To, zone)
	if err != nil {
		return err
	}
	before, err := audit.ParseCursor(f.Cursor)
	if err != nil {
		return err
	}
	if before.IsZero() && !to.IsZero() {
		// "to" includes its whole minute: rows before the next one. Ids are
		// positive, so id 0 puts the cursor before every row of that instant.
		before = audit.Cursor{CreatedAt: to.Add(time.Minute), ID: 0}
	}
	entries, next, err := c.d.Audit.List(r.Context(), audit.Filter{Actor: f.Actor, Action: f.Action, Target: f.Target,
		Before: before})
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !from.IsZero() && e.CreatedAt.Before(from) {
			next = audit.Cursor{} // newest first: every later row is older still
			break
		}
		raw, _ := e.Input.(json.RawMessage) // List always sets raw JSON
		d.Rows = append(d.Rows, auditRow{Entry: e, Input: prettyJSON(raw)})
	}
	if !next.IsZero() {
		d.Next = auditLink(q, next.String())
	}
	if f.Cursor != "" {
		d.First = auditLink(q, "")
	}
	return nil
}

// parseAuditTime reads a datetime-local value in zone; "" is no bound.
func parseAuditTime(field, v string, zone *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(auditTimeLayout, v, zone)
	if err != nil {
		return time.Time{}, &formError{Field: field, Message: "must be a date and time, like 2026-03-01T09:30"}
	}
	return t, nil
}

// auditLink is the audit page with the current filters and cursor.
func auditLink(q url.Values, cursor string) string {
	return Prefix + "/audit" + withParam(q, "cursor", cursor)
}
