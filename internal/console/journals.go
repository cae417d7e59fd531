package console

// Journals (issue 18): the settlement journals a reconciliation run
// books, listed by month and currency, one with its lines, and their
// export in the four layouts; the chart of accounts that books them
// (shown, downloaded and replaced by an upload); and period close, with
// reopening for admins. Everything calls journal.Service as the admin API
// does (cmd/api/journals.go), with the same role per page and action
// (addJournalRoutes: finance for all, admin to reopen) and the same audit
// actions, targets and inputs.
//
// Every name in this file starts with "journal" so that the other areas'
// files in the package never collide with them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/money"
)

const (
	journalPageSize  = 50
	journalMaxChart  = 4 << 20 // bytes in a chart upload: the API's bound on its PUT body (cmd/api maxChartUpload)
	journalMaxReason = 2000    // bytes in a reopen reason (the API's maxLength)
	journalCSVType   = "text/csv; charset=utf-8"
)

// journalFormat is an export layout by the name the API gives it.
type journalFormat struct {
	Name   string // the API's format parameter
	Label  string
	Format journal.Format
}

// journalFormats are the export layouts, in the order the page offers
// them.
var journalFormats = []journalFormat{
	{"generic", "Generic CSV", journal.FormatCSV},
	{"xero", "Xero", journal.FormatXero},
	{"qbo", "QuickBooks Online", journal.FormatQuickBooks},
	{"netsuite", "NetSuite", journal.FormatNetSuite},
}

// journalStatuses are the list's status filter: built, or the finding
// that kept a batch from being built.
var journalStatuses = []string{"BALANCED", string(journal.Unbalanced), string(journal.RollForwardMismatch)}

// journalFilterKeys are the list's filters, in the URL.
var journalFilterKeys = []string{"month", "currency", "status", "batch"}

// ---- errors ----

// journalProblem maps the journal package's errors to the problems the
// admin API answers for them (cmd/api/journals.go, journalProblem), each
// saying what to do about it. render.go's describe asks it first.
func journalProblem(err error) (problem, bool) {
	var (
		invalid  *journal.InvalidError
		file     *journal.FileError
		unmapped *journal.UnmappedError
		blocked  *journal.BlockedError
	)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return problem{Status: http.StatusNotFound, Title: "Not found", Detail: "No such journal: the link is wrong."}, true
	case errors.Is(err, journal.ErrPeriodState):
		state := strings.TrimSuffix(err.Error(), ": "+journal.ErrPeriodState.Error())
		return problem{Status: http.StatusConflict, Title: "Not possible now",
			Detail: "The " + state + " already: someone changed it since this page was loaded. Reload the page to see it."}, true
	case errors.As(err, &invalid):
		return problem{Status: http.StatusUnprocessableEntity, Title: "Check the highlighted field",
			Fields: []fieldError{{invalid.Field, invalid.Reason}}}, true
	case errors.As(err, &file):
		where := "file"
		if file.Line > 0 {
			where = "line " + strconv.Itoa(file.Line)
		}
		return problem{Status: http.StatusUnprocessableEntity, Title: "The chart file was not loaded",
			Detail: "Nothing changed: the chart is as it was. Fix the file and upload it again.",
			Fields: []fieldError{{where, file.Reason}}}, true
	case errors.As(err, &unmapped):
		p := problem{Status: http.StatusUnprocessableEntity, Title: "The chart of accounts does not book every line",
			Detail: "Nothing was exported. Add an account for each kind below to the chart (download it under Chart of " +
				"accounts, add the rows, upload it again), then export again."}
		for _, m := range unmapped.Missing {
			msg := "no account mapped"
			if m.Field != "" {
				msg = "its account has no " + m.Field
			}
			p.Fields = append(p.Fields, fieldError{string(m.Kind) + " in " + m.Currency, msg})
		}
		return p, true
	case errors.As(err, &blocked):
		p := problem{Status: http.StatusConflict, Title: "Some batches of this period are not journaled",
			Detail: "Nothing was exported: the file would be short without saying so. Each batch below is a " +
				"discrepancy of its reconciliation run; correct its reports and run its day again (its journal is " +
				"rebuilt then), or export a period without it."}
		for _, f := range blocked.Findings {
			p.Fields = append(p.Fields, fieldError{"batch " + f.BatchID + " " + f.Currency, reconLabel(string(f.Kind)) + ": " + f.Reason})
		}
		return p, true
	}
	return problem{}, false
}

// ---- what the pages share ----

// journalView is a journal with what its row and page show of it.
type journalView struct{ journal.Journal }

// TypeLabel says what the journal books: a settlement batch, the receipt
// that cleared its payout, or an adjustment of either.
func (j journalView) TypeLabel() string {
	switch {
	case j.AdjustsID != 0 && j.Type == journal.Receipt:
		return "Receipt adjustment"
	case j.AdjustsID != 0:
		return "Adjustment"
	case j.Type == journal.Receipt:
		return "Receipt"
	}
	return "Settlement"
}

// Balanced reports whether the journal was built and its debits equal
// its credits.
func (j journalView) Balanced() bool { return j.Status == "BALANCED" && j.Debits == j.Credits }

// Date is the journal's date: its run's settlement date, or for an
// adjustment the first day of the month it was booked in.
func (j journalView) Date() string { return j.Period.Format(time.DateOnly) }

// Month is the journal's accounting period, as the periods page writes it.
func (j journalView) Month() string { return j.Period.Format("2006-01") }

// journalMonthLabel writes a period for people: "December 2026".
func journalMonthLabel(m time.Time) string { return m.Format("January 2006") }

// journalPathID is the {id} of the path; anything but a positive number
// names no journal.
func journalPathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, journal.ErrNotFound
	}
	return id, nil
}

// journalCurrency reads an optional currency filter.
func journalCurrency(v string) (string, error) {
	ccy := strings.ToUpper(strings.TrimSpace(v))
	if ccy != "" && !money.Known(ccy) {
		return "", &formError{Field: "currency", Message: fmt.Sprintf("%q is not an ISO 4217 currency code", v)}
	}
	return ccy, nil
}

// ---- the list and the export ----

// journalsData is the journals page.
type journalsData struct {
	// The filters as given, and as a query for links.
	Month, Currency, Status, Batch string
	Query                          url.Values
	Statuses                       []reconOption
	Items                          []journalView
	Next                           string
	// The export form: its layouts, its month (the filter's, else this
	// month) and, when an export was refused, why.
	Formats       []journalFormat
	ExportMonth   string
	ExportProblem *problem
}

// Link is the list's URL with the filters changed by pairs (key, value;
// an empty value drops the key); the cursor is dropped unless pairs set
// it, so a new filter starts at the first page.
func (d journalsData) Link(pairs ...string) string {
	q := url.Values{}
	for k, v := range d.Query {
		q[k] = v
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			q.Del(pairs[i])
		} else {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return Prefix + "/journals"
	}
	return Prefix + "/journals?" + q.Encode()
}

// Filtered reports whether any filter is set.
func (d journalsData) Filtered() bool { return len(d.Query) > 0 }

// MonthLabel is the month filter for people, or "".
func (d journalsData) MonthLabel() string {
	m, err := journal.ParseMonth(d.Month)
	if err != nil {
		return ""
	}
	return journalMonthLabel(m)
}

// journalFilter reads the list's filters from q.
func journalFilter(q url.Values) (journal.Filter, journalsData, error) {
	d := journalsData{Month: strings.TrimSpace(q.Get("month")), Status: q.Get("status"),
		Batch: strings.TrimSpace(q.Get("batch")), Query: url.Values{}, Formats: journalFormats}
	for _, k := range journalFilterKeys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Query.Set(k, v)
		}
	}
	d.Statuses = reconOptions(journalStatuses, d.Status)
	f := journal.Filter{Status: d.Status, BatchID: d.Batch, Cursor: q.Get("cursor"), Limit: journalPageSize}
	var err error
	if d.Currency, err = journalCurrency(q.Get("currency")); err != nil {
		return f, d, err
	}
	f.Currency = d.Currency
	if _, err := reconOneOf("status", d.Status, journalStatuses); err != nil {
		return f, d, err
	}
	if d.Month != "" {
		m, err := journal.ParseMonth(d.Month)
		if err != nil {
			return f, d, err
		}
		f.From, f.To = m, m.AddDate(0, 1, -1)
	}
	return f, d, nil
}

func (c *Console) journalList(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderJournals(w, r, s, r.URL.Query(), nil)
}

// renderJournals writes the journals page for the filters in q; p, when
// set, is an export refused for q's month, shown in the export form.
func (c *Console) renderJournals(w http.ResponseWriter, r *http.Request, s *session, q url.Values, p *problem) error {
	f, d, err := journalFilter(q)
	if err != nil {
		return err
	}
	d.ExportMonth, d.ExportProblem = d.Month, p
	if d.ExportMonth == "" {
		d.ExportMonth = c.d.Now().UTC().Format("2006-01")
	}
	page, err := c.d.Journals.List(r.Context(), f)
	if err != nil {
		return err
	}
	for _, j := range page.Items {
		d.Items = append(d.Items, journalView{j})
	}
	d.Next = page.Next
	status := http.StatusOK
	if p != nil {
		status = p.Status
	}
	c.render(w, r, status, "journals", view{Title: "Journals", Nav: "journals", S: s, Data: d})
	return nil
}

// journalExport streams the journals of a month in one layout, as the
// API's export does. Everything that would stop the export is checked
// before its first byte, so a refusal comes back as the journals page of
// that month with the problem in its export form, never as a broken file.
func (c *Console) journalExport(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	var f *journalFormat
	for i := range journalFormats {
		if journalFormats[i].Name == q.Get("format") {
			f = &journalFormats[i]
		}
	}
	if f == nil {
		return &formError{Field: "format", Message: "choose generic, xero, qbo or netsuite"}
	}
	month, err := journal.ParseMonth(strings.TrimSpace(q.Get("month")))
	if err != nil {
		return err
	}
	ccy, err := journalCurrency(q.Get("currency"))
	if err != nil {
		return err
	}
	req := journal.ExportRequest{Format: f.Format, From: month, To: month.AddDate(0, 1, -1), Currency: ccy,
		DayFirst: q.Get("day_first") != ""}
	name := fmt.Sprintf("journals-%s-%s-%s.csv", req.From.Format(time.DateOnly), req.To.Format(time.DateOnly), f.Name)
	ctx := r.Context()
	err = httpx.Download(reconResponder{w}, journalCSVType, name, func(out io.Writer) error {
		_, err := c.d.Journals.Export(ctx, out, req)
		if _, known := describe(err); err != nil && !known {
			c.d.Log.ErrorContext(ctx, "console: journal export failed", "err", err, "file", name,
				"request_id", httpx.RequestIDFromContext(ctx))
		}
		return err
	})
	p, refused := journalProblem(err)
	if !refused {
		return err
	}
	back := url.Values{"month": {month.Format("2006-01")}}
	if ccy != "" {
		back.Set("currency", ccy)
	}
	return c.renderJournals(w, r, s, back, &p)
}

// ---- one journal ----

// journalLineView is a line with the account the chart books it to.
type journalLineView struct {
	journal.Line
	Account journal.Account
	Mapped  bool
}

// journalData is a journal's page.
type journalData struct {
	J     journalView
	Lines []journalLineView
	// Adjustments are the journals adjusting this one, booked in later
	// open months because its month was closed.
	Adjustments []journalView
}

func (c *Console) journalDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	id, err := journalPathID(r)
	if err != nil {
		return err
	}
	j, err := c.d.Journals.Get(ctx, id)
	if err != nil {
		return err
	}
	accounts, err := c.d.Journals.Accounts(ctx)
	if err != nil {
		return err
	}
	chart := journal.NewChart(accounts)
	d := journalData{J: journalView{j}}
	for _, l := range j.Lines {
		a, ok := chart.Account(l.Kind, j.Currency)
		d.Lines = append(d.Lines, journalLineView{Line: l, Account: a, Mapped: ok})
	}
	if j.AdjustsID == 0 {
		// A batch's journal and its adjustments share its batch and
		// currency: a handful of rows.
		related, err := c.d.Journals.List(ctx, journal.Filter{BatchID: j.BatchID, Currency: j.Currency, Limit: 200})
		if err != nil {
			return err
		}
		for _, a := range related.Items {
			if a.AdjustsID == j.ID {
				d.Adjustments = append(d.Adjustments, journalView{a})
			}
		}
	}
	c.render(w, r, http.StatusOK, "journal", view{Title: "Journal " + strconv.FormatInt(id, 10), Nav: "journals", S: s, Data: d})
	return nil
}

// ---- the chart of accounts ----

// journalAccountsData is the chart page.
type journalAccountsData struct {
	Accounts []journal.Account
	// Unmapped are the kinds with no account for every currency; a row
	// for one currency may still book them there.
	Unmapped []journal.Kind
}

func (c *Console) journalAccounts(w http.ResponseWriter, r *http.Request, s *session) error {
	accounts, err := c.d.Journals.Accounts(r.Context())
	if err != nil {
		return err
	}
	d := journalAccountsData{Accounts: accounts}
	chart := journal.NewChart(accounts)
	for _, k := range journal.Kinds {
		if _, ok := chart.Account(k, ""); !ok {
			d.Unmapped = append(d.Unmapped, k)
		}
	}
	c.render(w, r, http.StatusOK, "journal_accounts", view{Title: "Chart of accounts", Nav: "journals", S: s, Data: d})
	return nil
}

// journalAccountsCSV downloads the chart as the mapping file an upload
// takes back.
func (c *Console) journalAccountsCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	accounts, err := c.d.Journals.Accounts(r.Context())
	if err != nil {
		return err
	}
	return httpx.Download(reconResponder{w}, journalCSVType, "journal-accounts.csv", func(out io.Writer) error {
		return journal.WriteAccounts(out, accounts)
	})
}

// journalChartAudit is what the audit row keeps of a chart upload, as
// the API's: its size and rows, not its content.
type journalChartAudit struct {
	Bytes int `json:"bytes"`
	Rows  int `json:"rows"`
}

// journalChartKey identifies a chart upload for its form token: the same
// token with another file is refused rather than answered with the first
// file's outcome.
type journalChartKey struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// journalChartUpload replaces the whole chart with the uploaded mapping
// file (journal.Service.LoadAccounts, as the API's PUT), or with a bad
// line, nothing: the line's problem is shown in the form. The form's
// token rides in its URL: the spool keeps file parts only.
func (c *Console) journalChartUpload(w http.ResponseWriter, r *http.Request, s *session) error {
	sp := httpx.Spool{Dir: c.uploadDir(), Pattern: "console-chart-*", Field: "file", Noun: "chart file",
		MaxBytes: journalMaxChart, MaxFiles: 1,
		Name: func(p *multipart.Part) (string, string) {
			name, reason := httpx.PartFileName(p, 255)
			if name == "" && reason == "the part has no filename" {
				return "", "no file chosen: choose the chart's CSV file"
			}
			return name, reason
		}}
	files, err := sp.Read(r.Header.Get("Content-Type"), r.Body)
	defer httpx.RemoveSpooled(files)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(files[0].Path)
	if err != nil {
		return &httpx.SpoolError{Err: err}
	}
	sum := sha256.Sum256(raw)
	r.PostForm = url.Values{"token": {r.URL.Query().Get("token")}}
	rec := journalChartAudit{Bytes: len(raw)}
	return c.act(w, r, s, action{Name: audit.ActionJournalAccountsReplace, Target: audit.JournalAccountsTarget,
		Input: journalChartKey{Bytes: len(raw), SHA256: hex.EncodeToString(sum[:])},
		Run: func(ctx context.Context) (string, string, error) {
			accounts, err := c.d.Journals.LoadAccounts(ctx, bytes.NewReader(raw))
			if err != nil {
				return "", "", err
			}
			rec.Rows = len(accounts)
			return Prefix + "/journals/accounts", "Chart of accounts replaced: " + plural(len(accounts), "row", "rows") + ".", nil
		},
		Audited: func(error) (string, any) { return audit.JournalAccountsTarget, rec },
	})
}

// ---- periods ----

// journalPeriodView is a period with what its row shows.
type journalPeriodView struct{ journal.Period }

// Name is the period as the API writes it, "2026-12".
func (p journalPeriodView) Name() string { return p.Month.Format("2006-01") }

// Label is the period for people, "December 2026".
func (p journalPeriodView) Label() string { return journalMonthLabel(p.Month) }

// Closed reports whether the period is closed.
func (p journalPeriodView) Closed() bool { return p.Status == journal.PeriodClosed }

// LastDay is the period's last date.
func (p journalPeriodView) LastDay() string { return p.Month.AddDate(0, 1, -1).Format(time.DateOnly) }

// FirstDay is the period's first date.
func (p journalPeriodView) FirstDay() string { return p.Month.Format(time.DateOnly) }

// journalPeriodsData is the periods page, with a close to confirm.
type journalPeriodsData struct {
	Periods []journalPeriodView
	Confirm *journalPeriodView
}

func (c *Console) journalPeriods(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderPeriods(w, r, s, journalPeriodsData{})
}

func (c *Console) renderPeriods(w http.ResponseWriter, r *http.Request, s *session, d journalPeriodsData) error {
	ps, err := c.d.Journals.Periods(r.Context())
	if err != nil {
		return err
	}
	for _, p := range ps {
		d.Periods = append(d.Periods, journalPeriodView{p})
	}
	c.render(w, r, http.StatusOK, "journal_periods", view{Title: "Accounting periods", Nav: "journals", S: s, Data: d})
	return nil
}

// journalPeriodOf is the {month} of the path and the period on record for
// it (an open one with no journals when there is none).
func (c *Console) journalPeriodOf(ctx context.Context, r *http.Request) (journalPeriodView, error) {
	month, err := journal.ParseMonth(r.PathValue("month"))
	if err != nil {
		return journalPeriodView{}, err
	}
	ps, err := c.d.Journals.Periods(ctx)
	if err != nil {
		return journalPeriodView{}, err
	}
	for _, p := range ps {
		if p.Month.Equal(month) {
			return journalPeriodView{p}, nil
		}
	}
	return journalPeriodView{journal.Period{Month: month, Status: journal.PeriodOpen}}, nil
}

// journalClosePreview answers a close with its confirmation, which names
// the month and what closing it locks: into the page's confirmation slot
// for htmx, or as the periods page with it for a plain post.
func (c *Console) journalClosePreview(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := reconForm(w, r); err != nil {
		return err
	}
	p, err := c.journalPeriodOf(r.Context(), r)
	if err != nil {
		return err
	}
	if p.Closed() {
		return fmt.Errorf("period %s is closed: %w", p.Name(), journal.ErrPeriodState)
	}
	d := journalPeriodsData{Confirm: &p}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "journal_periods", "confirm", view{S: s, Data: d})
		return nil
	}
	return c.renderPeriods(w, r, s, d)
}

// journalClose closes a month, as the API's close: its audit row names
// the period and holds no input.
func (c *Console) journalClose(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := reconForm(w, r); err != nil {
		return err
	}
	month, err := journal.ParseMonth(r.PathValue("month"))
	if err != nil {
		return err
	}
	name := month.Format("2006-01")
	return c.act(w, r, s, action{Name: audit.ActionJournalPeriodClose, Target: audit.JournalPeriodTarget(name),
		Run: func(ctx context.Context) (string, string, error) {
			if _, err := c.d.Journals.ClosePeriod(ctx, month, s.Actor()); err != nil {
				return "", "", err
			}
			return Prefix + "/journals/periods", journalMonthLabel(month) + " closed: its journals are locked.", nil
		}})
}

// journalReopenInput is what the audit row keeps of a reopen: the API's
// body.
type journalReopenInput struct {
	Reason string `json:"reason"`
}

// journalReopen opens a closed month again, admin only, with a mandatory
// reason kept with the period and in the audit row.
func (c *Console) journalReopen(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := reconForm(w, r); err != nil {
		return err
	}
	month, err := journal.ParseMonth(r.PathValue("month"))
	if err != nil {
		return err
	}
	in := journalReopenInput{Reason: r.PostFormValue("reason")}
	// What the API's schema refuses before its handler (no audit row there
	// either).
	switch {
	case in.Reason == "":
		return &formError{Field: "reason", Message: "a reason is required: say why the closed books must change"}
	case len(in.Reason) > journalMaxReason:
		return &formError{Field: "reason", Message: fmt.Sprintf("at most %d bytes", journalMaxReason)}
	}
	name := month.Format("2006-01")
	return c.act(w, r, s, action{Name: audit.ActionJournalPeriodReopen, Target: audit.JournalPeriodTarget(name), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			if _, err := c.d.Journals.ReopenPeriod(ctx, month, s.Actor(), strings.TrimSpace(in.Reason)); err != nil {
				return "", "", err
			}
			return Prefix + "/journals/periods", journalMonthLabel(month) + " reopened.", nil
		}})
}
