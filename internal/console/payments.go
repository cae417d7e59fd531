package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// The Payments pages (issue 17): one investigation search over
// payments.Filter with its CSV export, and a payment's detail with its
// timeline. The actions on a payment are in payments_actions.go.

// paymentSearchForm is the list's filters as the URL carries them: the
// same names in the form, the URL and the problems that name a field.
type paymentSearchForm struct {
	Q              string // the free box; the header's search posts it
	Status         string
	Currency       string
	AmountMin      string // major units of Currency
	AmountMax      string
	Acquirer       string
	CreatedFrom    string // dates in the user's zone, both inclusive
	CreatedTo      string
	CreatedWithin  string // a Go duration back from now: the link Today gives ("the last 24 h")
	NeedsReview    string // "", "true", "false"
	ExpiringWithin string // a Go duration: 24h, 168h
	OrderID        string // part of the order id
	Buyer          string // an email, or the merchant's buyer reference
	Last4          string
	Sort           string // one of payments.Sorts; the header links set it
	Dir            string // asc, desc
	Limit          string
}

// paymentSearchParams are the URL names of paymentSearchForm's fields,
// in the order a shared link writes them.
var paymentSearchParams = []string{"q", "status", "currency", "amount_min", "amount_max", "acquirer", "created_from",
	"created_to", "created_within", "needs_review", "expiring_within", "order_id", "buyer", "last4", "sort", "dir", "limit"}

func (f *paymentSearchForm) fields() []*string {
	return []*string{&f.Q, &f.Status, &f.Currency, &f.AmountMin, &f.AmountMax, &f.Acquirer, &f.CreatedFrom,
		&f.CreatedTo, &f.CreatedWithin, &f.NeedsReview, &f.ExpiringWithin, &f.OrderID, &f.Buyer, &f.Last4, &f.Sort, &f.Dir,
		&f.Limit}
}

// paymentSearch is a parsed search: the filter for the domain, the
// canonical query (non-empty filters only, no cursor) for links, and how
// the free box was read.
type paymentSearch struct {
	Form   paymentSearchForm
	Query  url.Values
	Filter payments.Filter
	Hint   paySearchHint
	// qField is the domain's name of the filter the free box set, so a
	// problem with it names the box ("q").
	qField string
}

// paySearchHint says how the free box was read, and offers the other
// reading when one is likely ("1234" is a card's last four, or part of an
// order id).
type paySearchHint struct {
	Text    string
	AltText string
	AltURL  string
}

// maxPaymentExpiring bounds expiring_within as the API does: authorizations
// last about seven days, so a month covers every live one.
const maxPaymentExpiring = 30 * 24 * time.Hour

// parsePaymentSearch reads the list's filters from q. A value the console
// cannot read is a *formError naming its field; the domain validates the
// rest when it lists (status, currency, last4, order id part, ranges).
func (c *Console) parsePaymentSearch(ctx context.Context, q url.Values, zone *time.Location) (paymentSearch, error) {
	var s paymentSearch
	s.Query = url.Values{}
	for i, p := range s.Form.fields() {
		*p = strings.TrimSpace(q.Get(paymentSearchParams[i]))
		if len(*p) > 200 {
			return s, &formError{Field: paymentSearchParams[i], Message: "at most 200 characters"}
		}
		if *p != "" {
			s.Query.Set(paymentSearchParams[i], *p)
		}
	}
	// Codes are upper case, orders lower case; people type them either way.
	for name, p := range map[string]*string{"currency": &s.Form.Currency, "status": &s.Form.Status} {
		if *p = strings.ToUpper(*p); *p != "" {
			s.Query.Set(name, *p)
		}
	}
	for name, p := range map[string]*string{"sort": &s.Form.Sort, "dir": &s.Form.Dir} {
		if *p = strings.ToLower(*p); *p != "" {
			s.Query.Set(name, *p)
		}
	}
	f := &s.Filter
	f.Status = payments.Status(s.Form.Status)
	f.Currency, f.Acquirer, f.Last4 = s.Form.Currency, s.Form.Acquirer, s.Form.Last4
	f.OrderIDContains = s.Form.OrderID
	f.Sort, f.Dir = s.Form.Sort, s.Form.Dir
	f.Cursor = q.Get("cursor")
	if strings.Contains(s.Form.Buyer, "@") {
		f.BuyerEmail = s.Form.Buyer
	} else {
		f.BuyerReference = s.Form.Buyer
	}
	if err := parseAmountRange(&s); err != nil {
		return s, err
	}
	if err := parseCreatedRange(&s, zone); err != nil {
		return s, err
	}
	if err := parseFlags(&s, c.d.Now()); err != nil {
		return s, err
	}
	if s.Form.Q != "" {
		if err := c.readFreeBox(ctx, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// parseAmountRange reads amount_min and amount_max in major units of the
// chosen currency (the domain compares minor units of one currency).
func parseAmountRange(s *paymentSearch) error {
	for _, b := range []struct {
		field, text string
		into        *int64
	}{{"amount_min", s.Form.AmountMin, &s.Filter.AmountMin}, {"amount_max", s.Form.AmountMax, &s.Filter.AmountMax}} {
		if b.text == "" {
			continue
		}
		if s.Form.Currency == "" {
			return &formError{Field: "currency", Message: "choose the currency the amounts are in"}
		}
		if !money.Known(s.Form.Currency) {
			return &formError{Field: "currency", Message: "not an ISO 4217 currency code, e.g. USD"}
		}
		m, err := money.ParseMajor(b.text, s.Form.Currency, false)
		if err != nil {
			return &formError{Field: b.field, Message: "not an amount in " + s.Form.Currency + ", e.g. " +
				money.FormatMajor(money.Money{Minor: 1250, Currency: s.Form.Currency})}
		}
		*b.into = m.Minor
	}
	return nil
}

// parseCreatedRange reads the creation dates as whole days in the user's
// zone: created_to includes its day.
func parseCreatedRange(s *paymentSearch, zone *time.Location) error {
	if zone == nil {
		zone = time.UTC
	}
	for _, d := range []struct {
		field, text string
		into        *time.Time
		days        int
	}{{"created_from", s.Form.CreatedFrom, &s.Filter.CreatedFrom, 0}, {"created_to", s.Form.CreatedTo, &s.Filter.CreatedTo, 1}} {
		if d.text == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, d.text, zone)
		if err != nil {
			return &formError{Field: d.field, Message: "a date, e.g. 2026-12-03"}
		}
		*d.into = t.AddDate(0, 0, d.days)
	}
	return nil
}

// maxPaymentCreatedWithin bounds created_within: a year back.
const maxPaymentCreatedWithin = 365 * 24 * time.Hour

// parseFlags reads created_within, needs_review, expiring_within and limit.
func parseFlags(s *paymentSearch, now time.Time) error {
	switch s.Form.NeedsReview {
	case "":
	case "true", "false":
		v := s.Form.NeedsReview == "true"
		s.Filter.NeedsReview = &v
	default:
		return &formError{Field: "needs_review", Message: "true or false"}
	}
	if s.Form.CreatedWithin != "" {
		d, err := time.ParseDuration(s.Form.CreatedWithin)
		if err != nil || d <= 0 || d > maxPaymentCreatedWithin {
			return &formError{Field: "created_within", Message: "a duration of at most 8760h, e.g. 24h"}
		}
		if from := now.Add(-d); from.After(s.Filter.CreatedFrom) {
			s.Filter.CreatedFrom = from
		}
	}
	if s.Form.ExpiringWithin != "" {
		d, err := time.ParseDuration(s.Form.ExpiringWithin)
		if err != nil || d <= 0 || d > maxPaymentExpiring {
			return &formError{Field: "expiring_within", Message: "a duration of at most 720h, e.g. 24h"}
		}
		s.Filter.ExpiringBefore = now.Add(d)
	}
	if s.Form.Limit != "" {
		n, err := strconv.Atoi(s.Form.Limit)
		if err != nil || n < 1 || n > 200 {
			return &formError{Field: "limit", Message: "a page size from 1 to 200"}
		}
		s.Filter.Limit = n
	}
	return nil
}

// readFreeBox reads the free search box by the shape of its text, and
// sets the one filter it names (over the explicit one of the same kind):
//
//   - a UUID: our payment id (else part of an order id);
//   - pay-…: the paymentRequestId we sent APO;
//   - four digits: the card's last four;
//   - an email address: the buyer's email;
//   - a long run of letters and digits: APO's paymentId, when a payment
//     has it (else part of an order id);
//   - anything else: part of the order id, or the whole order id when it
//     is too short to search for a part (fewer than three letters or
//     digits in a row).
func (c *Console) readFreeBox(ctx context.Context, s *paymentSearch) error {
	q, f := s.Form.Q, &s.Filter
	switch {
	case uuidShape(q):
		p, err := c.d.Payments.Get(ctx, strings.ToLower(q))
		if err == nil {
			f.PaymentRequestID, s.qField = p.PaymentRequestID, "payment_request_id"
			s.Hint = paySearchHint{Text: "The payment with id " + q + "."}
			return nil
		}
		if !errors.Is(err, payments.ErrNotFound) {
			return err
		}
	case strings.HasPrefix(q, "pay-"):
		f.PaymentRequestID, s.qField = q, "payment_request_id"
		s.Hint = paySearchHint{Text: "The payment whose request id is " + q + "."}
		return nil
	case len(q) == 4 && digitsShape(q):
		f.Last4, s.qField = q, "last4"
		s.Hint = paySearchHint{Text: "Payments with a card ending in " + q + ".", AltText: "Search order ids containing " + q + " instead",
			AltURL: Prefix + "/payments" + withParam(dropParam(s.Query, "q"), "order_id", q)}
		return nil
	case emailShape(q):
		f.BuyerEmail, s.qField = q, "buyer_email"
		s.Hint = paySearchHint{Text: "Payments of the buyer " + q + "."}
		return nil
	case len(q) >= 16 && apoIDShape(q):
		page, err := c.d.Payments.List(ctx, payments.Filter{APOPaymentID: q, Limit: 1})
		if err != nil {
			return err
		}
		if len(page.Items) > 0 {
			f.APOPaymentID, s.qField = q, "payment_id"
			s.Hint = paySearchHint{Text: "The payment APO knows as " + q + "."}
			return nil
		}
	}
	if alnumRun(q, 3) && len([]rune(q)) <= 64 {
		f.OrderIDContains, s.qField = q, "order_id_contains"
		s.Hint = paySearchHint{Text: "Payments whose order id contains “" + q + "”."}
		return nil
	}
	f.ReferenceOrderID, s.qField = q, "reference_order_id"
	s.Hint = paySearchHint{Text: "Payments whose order id is exactly “" + q + "” (too short to search for a part)."}
	return nil
}

// named renames the fields of the domain's problems with the filter to
// the names the form gives them, so each lands on its control.
func (s *paymentSearch) named(err error) error {
	names := map[string]string{"order_id_contains": "order_id", "buyer_email": "buyer", "buyer_reference": "buyer"}
	if s.qField != "" {
		names[s.qField] = "q"
	}
	var out []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ie *payments.InvalidError
		if errors.As(err, &ie) {
			if n, ok := names[ie.Field]; ok {
				err = &payments.InvalidError{Field: n, Reason: ie.Reason}
			}
		}
		out = append(out, err)
	}
	walk(err)
	return errors.Join(out...)
}

// paymentListData is the list page.
type paymentListData struct {
	Form     paymentSearchForm
	Query    url.Values // the canonical filters, for links
	Hint     paySearchHint
	Items    []payments.Payment
	Next     string // the next page's URL; "" on the last
	First    string // the first page's URL, on a later page
	Export   string // the CSV of every matching payment, in the list's order
	Filtered bool   // any filter is set
	Sort     listSort
	Statuses []payments.Status
	Problem  *view // a problem with the filters, on a page load
	Partial  bool  // rendered for an htmx swap of the results
	Views    []savedView
	ViewQ    string // the filters a "save this view" keeps
}

func (c *Console) paymentList(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	search, err := c.parsePaymentSearch(ctx, r.URL.Query(), s.Zone)
	var page payments.Page[payments.Payment]
	if err == nil {
		page, err = c.d.Payments.List(ctx, search.Filter)
	}
	partial := r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "results"
	data := paymentListData{Form: search.Form, Query: search.Query, Hint: search.Hint, Items: page.Items,
		Filtered: len(dropParams(search.Query, "limit", "sort", "dir")) > 0,
		Statuses: payments.Statuses, Partial: partial,
		Export: Prefix + "/payments/export.csv" + encodeQuery(dropParam(search.Query, "limit")),
		Sort: newListSort(Prefix+"/payments", search.Query, payments.SortCreated, payments.DefaultDir, paymentSortCaptions,
			"results")}
	if search.Filter.Cursor != "" {
		data.First = Prefix + "/payments" + encodeQuery(search.Query)
	}
	views, verr := c.savedViews(ctx, s, "payments")
	if verr != nil {
		return verr
	}
	data.Views, data.ViewQ = views, dropParam(search.Query, "limit").Encode()
	if page.Next != "" {
		data.Next = Prefix + "/payments" + withParam(search.Query, "cursor", page.Next)
	}
	if err != nil {
		err = search.named(err)
		p, ok := describe(err)
		if !ok || r.Header.Get("HX-Request") == "true" {
			return err // htmx: shown in the filter form's error slot
		}
		data.Problem = &view{Data: p}
		c.render(w, r, p.Status, "payments", view{Title: "Payments", Nav: "payments", S: s, Data: data})
		return nil
	}
	if partial {
		// The URL the browser shows: the filters set, without empty fields.
		w.Header().Set("HX-Push-Url", Prefix+"/payments"+encodeQuery(addCursor(search.Query, search.Filter.Cursor)))
		c.renderBlock(w, r, http.StatusOK, "payments", "results", view{S: s, Data: data})
		return nil
	}
	c.render(w, r, http.StatusOK, "payments", view{Title: "Payments", Nav: "payments", S: s, Data: data})
	return nil
}

// paymentSortCaptions say each order of the list in words.
var paymentSortCaptions = map[string][2]string{
	payments.SortCreated: {"oldest first", "newest first"},
	payments.SortAmount:  {"smallest amount first", "largest amount first"},
	payments.SortStatus:  {"by status, A to Z", "by status, Z to A"},
}

// paymentExport streams every payment the filters select as CSV, in the
// list's order (payments.Service.WriteCSV: keyset batches,
// formula-injection guard, no card token). A problem found before the first byte is an ordinary
// problem page; a failure mid-stream cuts the connection, so the download
// is seen to fail instead of ending short.
func (c *Console) paymentExport(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	search, err := c.parsePaymentSearch(ctx, r.URL.Query(), s.Zone)
	if err != nil {
		return search.named(err)
	}
	f := search.Filter
	f.Cursor, f.Limit = "", 0
	name := "payments-" + c.d.Now().UTC().Format("20060102-150405") + ".csv"
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := &sentCounter{w: w}
	err = c.d.Payments.WriteCSV(ctx, f, cw)
	// An export hands buyer data out of payops: who took which list, and
	// whether it arrived whole, is in the audit log.
	c.record(ctx, s, action{Name: audit.ActionPaymentExport, Target: "payments", Input: search.Query}, outcome(err))
	if err == nil {
		return nil
	}
	if cw.n == 0 {
		h.Del("Content-Disposition")
		return search.named(err)
	}
	c.d.Log.ErrorContext(ctx, "console: payment export cut short", "err", err, "bytes", cw.n)
	panic(http.ErrAbortHandler)
}

// sentCounter counts what reached the client.
type sentCounter struct {
	w io.Writer
	n int64
}

func (cw *sentCounter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}

// ---- detail ----

// paymentData is a payment's detail page.
type paymentData struct {
	P            payments.Payment
	Transactions []payments.Transaction
	Timeline     []payTimelineEntry
	Disputes     []disputes.Dispute
	MoreDisputes bool
	// Settled and Findings are what reconciliation holds about the
	// payment: its settlement lines and its current discrepancies.
	Settled  []recon.SettledLine
	Findings []reconDiscrepancyView
	// MoreNotifications: the payment received more notifications than the
	// timeline shows; the Webhooks page lists them all.
	MoreNotifications bool
	Now               time.Time
	Capturable        int64 // authorized, not captured or being captured
	Refundable        int64 // captured, not refunded or being refunded, not lost to disputes
	CanCapture        bool
	CanCancel         bool
	CanRefund         bool
	ReviewStatuses    []payments.Status
	// Confirm is a confirmation panel to show in its action's slot (a
	// preview posted without htmx); Posted the form it came from.
	Confirm *payConfirm
	Posted  url.Values
}

// payTimelineEntry is one line of a payment's timeline: something the
// payment service recorded (payments.Event), or a notification the inbox
// received for the payment, with its signature verdict.
type payTimelineEntry struct {
	At       time.Time
	Source   string // what told us
	Kind     string
	Before   string
	After    string
	Applied  bool
	Note     string
	Payload  []byte // shown through pretty, which redacts
	Received bool   // a notification as received
	Verdict  string // valid, invalid
	State    string // the notification's processing state
}

// paymentNotificationLimit is how many of a payment's received notifications
// its timeline shows (a payment gets a handful).
const paymentNotificationLimit = 100

func (c *Console) paymentDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	data, err := c.loadPayment(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.renderPayment(w, r, s, http.StatusOK, data)
	return nil
}

func (c *Console) renderPayment(w http.ResponseWriter, r *http.Request, s *session, status int, data paymentData) {
	p := data.P
	title := "Payment " + formatMoney(p.Amount.Minor, p.Amount.Currency)
	if p.ReferenceOrderID != "" {
		title += " · " + p.ReferenceOrderID
	}
	c.render(w, r, status, "payment", view{Title: title, Nav: "payments", S: s, Data: data})
}

// loadPayment reads everything the detail page shows: the payment with
// its transactions and timeline, the notifications received for it and
// its disputes.
func (c *Console) loadPayment(ctx context.Context, id string) (paymentData, error) {
	d, err := c.d.Payments.GetDetail(ctx, id)
	if err != nil {
		return paymentData{}, err
	}
	data := paymentData{P: d.Payment, Transactions: d.Transactions, Now: c.d.Now(), ReviewStatuses: reviewStatuses}
	for _, e := range d.Events {
		data.Timeline = append(data.Timeline, payTimelineEntry{At: e.CreatedAt, Source: paymentSourceLabel(e.Source), Kind: e.Kind,
			Before: e.StatusBefore, After: e.StatusAfter, Applied: e.Applied, Note: e.Note, Payload: e.Payload})
	}
	if c.d.Inbox != nil {
		page, err := c.d.Inbox.List(ctx, inbox.Filter{PaymentID: id, Limit: paymentNotificationLimit})
		if err != nil {
			return paymentData{}, err
		}
		for _, n := range page.Items {
			data.Timeline = append(data.Timeline, payTimelineEntry{At: n.ReceivedAt, Source: "Notification received",
				Kind: n.NotifyType, Applied: true, Note: n.LastError, Payload: n.RawBody, Received: true,
				Verdict: n.Verdict, State: string(n.State)})
		}
		data.MoreNotifications = page.Next != ""
	}
	sort.SliceStable(data.Timeline, func(i, j int) bool { return data.Timeline[i].At.Before(data.Timeline[j].At) })
	if c.d.Disputes != nil {
		page, err := c.d.Disputes.List(ctx, disputes.Filter{PaymentID: id, Limit: 50})
		if err != nil {
			return paymentData{}, err
		}
		data.Disputes, data.MoreDisputes = page.Items, page.Next != ""
	}
	if c.d.Recon != nil {
		f, err := c.d.Recon.PaymentFindings(ctx, d.Payment.ID)
		if err != nil {
			return paymentData{}, err
		}
		data.Settled, data.Findings = f.Settled, reconDiscrepancyViews(f.Findings)
	}
	data.money()
	return data, nil
}

// Label and Date write reconciliation's constants and dates as its pages do.
func (paymentData) Label(v any) string      { return reconPage{}.Label(v) }
func (paymentData) Date(t time.Time) string { return reconPage{}.Date(t) }

// FindingLink is where a finding is worked: its row on the discrepancies
// page, filtered to its run and kind whatever its status.
func (paymentData) FindingLink(d reconDiscrepancyView) string {
	q := url.Values{"run_id": {strconv.FormatInt(d.RunID, 10)}, "kind": {string(d.Kind)}, "status": {reconAnyStatus}}
	return Prefix + "/recon/discrepancies?" + q.Encode() + "#d" + strconv.FormatInt(d.ID, 10)
}

// money works out what is left to capture and to refund, for the action
// forms and their confirmations; the payment service decides, under the
// payment's row lock, with the same sums.
func (d *paymentData) money() {
	p := d.P
	var captures, refunds, cancels int64
	for _, t := range d.Transactions {
		if t.Status != payments.TxProcessing && t.Status != payments.TxSucceeded {
			continue
		}
		switch t.Type {
		case payments.TxCapture:
			captures += t.Amount.Minor
		case payments.TxRefund:
			refunds += t.Amount.Minor
		case payments.TxCancel:
			cancels += t.Amount.Minor
		}
	}
	d.Capturable = max(p.Amount.Minor-captures, 0)
	d.Refundable = max(p.CapturedMinor-p.DisputeLostMinor-refunds, 0)
	authorized := p.Status == payments.StatusAuthorized
	d.CanCapture = authorized && !p.NeedsReview && d.Capturable > 0
	d.CanCancel = authorized && captures == 0 && cancels == 0
	d.CanRefund = (authorized || p.Status == payments.StatusCaptured) && p.CapturedMinor > 0
}

// paymentSourceLabel names where a timeline fact came from.
func paymentSourceLabel(s payments.Source) string {
	switch s {
	case payments.SourcePayResponse:
		return "Pay reply"
	case payments.SourceInquiry:
		return "Inquiry"
	case payments.SourceNotification:
		return "Notification applied"
	case payments.SourceAdmin:
		return "Operator action"
	case payments.SourceSettlement:
		return "Settlement"
	case payments.SourceAPI:
		return "API"
	}
	return string(s)
}

// ---- small helpers ----

// dropParam is q less key.
func dropParam(q url.Values, key string) url.Values { return dropParams(q, key) }

// dropParams is q less keys.
func dropParams(q url.Values, keys ...string) url.Values {
	c := url.Values{}
	for k, v := range q {
		if !slices.Contains(keys, k) {
			c[k] = v
		}
	}
	return c
}

// addCursor is q with the page's cursor, when there is one.
func addCursor(q url.Values, cursor string) url.Values {
	if cursor == "" {
		return q
	}
	c := dropParam(q, "cursor")
	c.Set("cursor", cursor)
	return c
}

// encodeQuery is "?…" for q, or "" when q is empty.
func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// uuidShape reports whether s is a UUID in its 8-4-4-4-12 hex form.
func uuidShape(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// emailShape reports whether s reads as an email address: one @ between a
// local part and a dotted domain, no spaces.
func emailShape(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(domain, "@ ") &&
		!strings.ContainsAny(local, " ") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

func apoIDShape(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}

func digitsShape(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// alnumRun reports whether s holds n letters or digits in a row, the
// least the domain searches for as part of an order id.
func alnumRun(s string, n int) bool {
	run := 0
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			run = 0
		} else if run++; run >= n {
			return true
		}
	}
	return false
}
