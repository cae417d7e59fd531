package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// The Disputes pages (issue 17): open disputes by defence deadline with
// the time left, a dispute with its payment and history, and its actions:
// accept, defend with several evidence files (disputes_defence.go), and
// APO's evidence template. Each action is what cmd/api/disputes.go does
// for the same change, with the same audit action, target and input.

// disputeListForm is the list's filters as the URL carries them.
type disputeListForm struct {
	Status    string // "" is OPEN; "all" every status
	DueWithin string // "", "overdue", or a duration as the API takes it (48h, 7d)
	Reason    string
	Scheme    string
	PaymentID string
	Sort      string // "" is by deadline; "newest"
	Limit     string // page size, 1..200; "" is 50
}

// disputeListParams are the URL names of disputeListForm's fields.
var disputeListParams = []string{"status", "due_within", "reason", "scheme", "payment_id", "sort", "limit"}

func (f *disputeListForm) fields() []*string {
	return []*string{&f.Status, &f.DueWithin, &f.Reason, &f.Scheme, &f.PaymentID, &f.Sort, &f.Limit}
}

// disputeListData is the list page.
type disputeListData struct {
	Form     disputeListForm
	Query    url.Values // the filters (no cursor), for the pager
	Cursor   string
	Items    []disputes.Dispute
	Next     string
	Now      time.Time
	Statuses []disputes.Status
	Filtered bool // any filter beyond the default view
}

// Link is this list with key set to value (removed when empty), keeping
// every filter: the pager's links.
func (d disputeListData) Link(key, value string) string {
	return Prefix + "/disputes" + withParam(d.Query, key, value)
}

// maxDueWithin bounds due_within as the API does.
const maxDueWithin = 400 * 24 * time.Hour

// parseDueWithin reads a positive duration as the API's due_within does:
// Go's syntax ("48h", "90m") or whole days ("7d").
func parseDueWithin(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > int(maxDueWithin/(24*time.Hour)) {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0 && d <= maxDueWithin
}

// disputeFilter reads the list's filters from q: by default the OPEN
// disputes, soonest deadline first.
func disputeFilter(q url.Values, now time.Time) (disputeListForm, disputes.Filter, error) {
	var form disputeListForm
	for i, p := range form.fields() {
		*p = strings.TrimSpace(q.Get(disputeListParams[i]))
	}
	f := disputes.Filter{Status: disputes.StatusOpen, ReasonCode: form.Reason, Source: form.Scheme,
		PaymentID: form.PaymentID, Sort: disputes.SortDeadline, Cursor: q.Get("cursor"), Limit: 50}
	switch form.Status {
	case "":
	case "all":
		f.Status = ""
	default:
		f.Status = disputes.Status(form.Status)
		if !f.Status.Valid() {
			return form, f, &formError{Field: "status", Message: "unknown status " + strconv.Quote(form.Status)}
		}
	}
	if form.Limit != "" {
		n, err := strconv.Atoi(form.Limit)
		if err != nil || n < 1 || n > 200 {
			return form, f, &formError{Field: "limit", Message: "a page size from 1 to 200"}
		}
		f.Limit = n
	}
	switch form.Sort {
	case "":
	case "newest":
		f.Sort = disputes.SortNewest
	default:
		return form, f, &formError{Field: "sort", Message: "sort by deadline or newest"}
	}
	switch form.DueWithin {
	case "":
	case "overdue":
		f.DueBefore = now
	default:
		w, ok := parseDueWithin(form.DueWithin)
		if !ok {
			return form, f, &formError{Field: "due_within", Message: "want a duration of at most 400d, e.g. 48h or 7d"}
		}
		f.DueBefore = now.Add(w)
	}
	return form, f, nil
}

func (c *Console) disputeList(w http.ResponseWriter, r *http.Request, s *session) error {
	now := c.d.Now()
	form, f, err := disputeFilter(r.URL.Query(), now)
	if err != nil {
		return err
	}
	page, err := c.d.Disputes.List(r.Context(), f)
	if err != nil {
		return err
	}
	q := url.Values{}
	filtered := false
	for i, p := range form.fields() {
		if *p != "" {
			q.Set(disputeListParams[i], *p)
			filtered = filtered || (disputeListParams[i] != "sort" && disputeListParams[i] != "limit")
		}
	}
	c.render(w, r, http.StatusOK, "disputes", view{Title: "Disputes", Nav: "disputes", S: s, Data: disputeListData{
		Form: form, Query: q, Cursor: f.Cursor, Items: page.Items, Next: page.Next, Now: now,
		Statuses: disputes.Statuses, Filtered: filtered}})
	return nil
}

// ---- the dispute ----

// disputeData is the detail page, with a confirmation panel after a
// preview (for a plain post; htmx swaps the panel alone).
type disputeData struct {
	disputes.Detail
	Now      time.Time
	Open     bool // accept and defend are possible (OPEN, or past due by our clock only)
	Lost     *money.Money
	Accept   *acceptConfirm
	Defence  *defenceConfirm
	Posted   url.Values
	MaxFiles int
	MaxBytes int
}

func (c *Console) loadDispute(ctx context.Context, id string) (disputeData, error) {
	det, err := c.d.Disputes.Get(ctx, id)
	if err != nil {
		return disputeData{}, err
	}
	d := det.Dispute
	data := disputeData{Detail: det, Now: c.d.Now(), MaxFiles: disputes.MaxEvidenceFiles, MaxBytes: disputes.MaxEvidenceBytes,
		Open: actionable(d)}
	if d.Status == disputes.StatusAccepted || d.Status == disputes.StatusLost {
		ccy := d.Amount.Currency
		if ccy == "" && d.JudgedAmount != nil {
			ccy = d.JudgedAmount.Currency
		}
		data.Lost = &money.Money{Minor: d.LostMinor, Currency: ccy}
	}
	return data, nil
}

func (c *Console) disputeDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	data, err := c.loadDispute(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.renderDispute(w, r, s, http.StatusOK, data)
	return nil
}

func (c *Console) renderDispute(w http.ResponseWriter, r *http.Request, s *session, status int, data disputeData) {
	title := "Dispute"
	if id := data.Dispute.APODisputeID; id != "" {
		title += " " + id
	}
	c.render(w, r, status, "dispute", view{Title: title, Nav: "disputes", S: s, Data: data})
}

// actionable reports whether a dispute may be accepted or defended: OPEN,
// or EXPIRED_UNDEFENDED, which is only our clock's opinion (APO decides).
func actionable(d disputes.Dispute) bool {
	return d.Status == disputes.StatusOpen || d.Status == disputes.StatusExpiredUndefended
}

// Card is the disputed payment's card as the page shows it.
func (d disputeData) Card() paymentCard {
	if d.Payment == nil {
		return paymentCard{}
	}
	return cardOf(d.Payment.Payment)
}

func disputeURL(id string) string { return Prefix + "/disputes/" + url.PathEscape(id) }

// disputeAmount names what a dispute is about: "the chargeback of EUR
// 20.00", "the retrieval request of …".
func disputeAmount(d disputes.Dispute) string {
	kind := "chargeback"
	if d.Type != "" && d.Type != disputes.TypeChargeback {
		kind = strings.ToLower(strings.ReplaceAll(d.Type, "_", " "))
	}
	if d.Amount.Currency == "" {
		return "the " + kind + " (APO has not said the amount yet)"
	}
	return "the " + kind + " of " + d.Amount.String()
}

// ---- accept ----

// acceptConfirm is the accept confirmation panel.
type acceptConfirm struct {
	DisputeID string
	Effect    string
	Reason    string
	Button    string
	Token     string
}

// acceptInput is what the audit row keeps, shaped as the API's request
// body (AcceptDisputeInput.Body), so the same change reads the same from
// either edge.
type acceptInput struct {
	Reason string `json:"reason"`
}

// maxAcceptReason is the API's bound on the reason.
const maxAcceptReason = 500

// postedDispute parses a form without files and returns the dispute it
// is for.
func (c *Console) postedDispute(w http.ResponseWriter, r *http.Request) (disputes.Dispute, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return disputes.Dispute{}, &formError{Field: "form", Message: "unreadable"}
	}
	det, err := c.d.Disputes.Get(r.Context(), r.PathValue("id"))
	return det.Dispute, err
}

func acceptReason(r *http.Request) (string, error) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case reason == "":
		return "", &formError{Field: "reason", Message: "required: say why (it is kept in the dispute's history and the audit log)"}
	case len([]rune(reason)) > maxAcceptReason:
		return "", &formError{Field: "reason", Message: "at most " + strconv.Itoa(maxAcceptReason) + " characters"}
	}
	return reason, nil
}

func (c *Console) disputeAcceptPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.postedDispute(w, r)
	if err != nil {
		return err
	}
	reason, err := acceptReason(r)
	if err != nil {
		return err
	}
	if !actionable(d) {
		return &disputes.ConflictError{Rule: "a dispute that is " + string(d.Status) + " cannot be accepted"}
	}
	ac := acceptConfirm{DisputeID: d.ID, Reason: reason, Token: view{}.Token(),
		Effect: "Accept " + disputeAmount(d) + ": the money stays with the cardholder.", Button: "Accept the dispute"}
	if d.Amount.Currency != "" {
		ac.Button = "Accept " + d.Amount.String()
	}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "dispute", "accept-swap", view{S: s, Data: ac})
		return nil
	}
	data, err := c.loadDispute(r.Context(), d.ID)
	if err != nil {
		return err
	}
	data.Accept, data.Posted = &ac, r.PostForm
	c.renderDispute(w, r, s, http.StatusOK, data)
	return nil
}

func (c *Console) disputeAccept(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.postedDispute(w, r)
	if err != nil {
		return err
	}
	reason, err := acceptReason(r)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionDisputeAccept, Target: audit.DisputeTarget(d.ID), Input: acceptInput{Reason: reason},
		Run: func(ctx context.Context) (string, string, error) {
			// Detached: once APO is asked, the answer must be recorded.
			got, err := c.d.Disputes.Accept(context.WithoutCancel(ctx), d.ID, reason, s.Actor())
			if err != nil {
				return "", "", err
			}
			return disputeURL(got.ID), "Accepted " + disputeAmount(got) + ": the money stays with the cardholder.", nil
		}})
}

// ---- evidence template ----

// disputeTemplate streams APO's defence template for the dispute.
func (c *Console) disputeTemplate(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	doc, err := c.d.Disputes.EvidenceTemplate(r.Context(), id)
	if err != nil {
		return err
	}
	ext := ".pdf"
	switch doc.ContentType {
	case "application/msword":
		ext = ".doc"
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		ext = ".docx"
	case "application/octet-stream":
		ext = ""
	}
	h := w.Header()
	h.Set("Content-Type", doc.ContentType)
	h.Set("Content-Disposition", `attachment; filename="dispute-`+safeFileID(id)+`-template`+ext+`"`)
	h.Set("Content-Length", strconv.Itoa(len(doc.Data)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(doc.Data)
	if err != nil {
		c.d.Log.WarnContext(r.Context(), "console: evidence template not delivered", "dispute_id", id, "err", err)
	}
	return nil
}

// safeFileID keeps the characters of an id a file name may carry (the id
// reached the domain as it came in the URL: hex digits and dashes only).
func safeFileID(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' {
			return r
		}
		return -1
	}, id)
}

// paymentCard is a payment's card as a page may show it: brand, masked
// number, BIN and last four. Never the token.
type paymentCard struct{ Brand, Masked, BIN, Last4, Funding, Country string }

func cardOf(p payments.Payment) paymentCard {
	return paymentCard{Brand: p.Card.Brand, Masked: p.Card.Masked, BIN: p.Card.BIN, Last4: p.Card.Last4,
		Funding: p.Card.Funding, Country: p.Card.IssuingCountry}
}
