package console

// Reconciliation (issue 17), its pages: runs by period with their summary
// and batch roll-forward; a run's detail, with its progress polled while
// it works; the current discrepancies, filtered and paged; the workbook
// and CSV downloads. Its changes (uploads, starting a run, the
// discrepancies' owner workflow, one at a time or in bulk) are in
// recon_actions.go. Everything calls recon.Service as the admin API does
// (cmd/api/recon.go).
//
// Every name in these files starts with "recon" so that the other areas'
// files in the package never collide with them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

// The upload limits are the admin API's (cmd/api/recon.go, which package
// main keeps to itself): what the API takes, the console takes.
const (
	reconMaxUpload     = 256 << 20 // bytes in one upload, every file and the multipart framing
	reconMaxFiles      = 50        // file parts in one upload
	reconMaxName       = 255       // bytes in a file name
	reconUploadTimeout = 10 * time.Minute
	reconMaxFileIDs    = 1000 // file ids in one run request (the API's maxItems)
	reconMaxNote       = 2000 // bytes in a discrepancy note (the API's maxLength)
	reconPageSize      = 50
	reconXLSXType      = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	reconCSVType       = "text/csv; charset=utf-8"
)

// ---- what every recon page shares ----

// reconPage is embedded in every recon page's data: the page's filters
// (for links that keep them), the time the page was made (for ages) and
// labels for the domain's constants.
type reconPage struct {
	Path  string     // the page's path, for links that change a filter
	Query url.Values // the filters as the page read them (no cursor)
	Now   time.Time
}

// Link is the page's URL with the filters changed by pairs (key, value;
// an empty value drops the key). The cursor is dropped unless pairs set
// it, so a new filter starts at the first page.
func (p reconPage) Link(pairs ...string) string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	q.Del("cursor")
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			q.Del(pairs[i])
		} else {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return p.Path
	}
	return p.Path + "?" + q.Encode()
}

// Filtered reports whether any filter is set.
func (p reconPage) Filtered() bool { return len(p.Query) > 0 }

// Label writes a domain constant for people: "MISSING_IN_LEDGER" is
// "Missing in ledger", "FX_MISMATCH" is "FX mismatch".
func (reconPage) Label(v any) string { return reconLabel(fmt.Sprint(v)) }

func reconLabel(s string) string {
	if s == "" {
		return ""
	}
	words := strings.Split(strings.ToLower(s), "_")
	for i, w := range words {
		switch {
		case w == "fx":
			words[i] = "FX"
		case i == 0 && w != "":
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// Age says how long ago t was: "3d 4h", "5h", "12m".
func (p reconPage) Age(t time.Time) string {
	d := p.Now.Sub(t)
	if d < time.Minute {
		return "just now"
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	switch {
	case days > 0:
		return strconv.Itoa(days) + "d " + strconv.Itoa(hours) + "h"
	case hours > 0:
		return strconv.Itoa(hours) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// Date writes a UTC date, or a dash.
func (reconPage) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format(time.DateOnly)
}

// reconOption is a choice of a filter's select.
type reconOption struct {
	Value, Label string
	Selected     bool
}

func reconOptions[T ~string](values []T, chosen string) []reconOption {
	out := make([]reconOption, len(values))
	for i, v := range values {
		out[i] = reconOption{Value: string(v), Label: reconLabel(string(v)), Selected: string(v) == chosen}
	}
	return out
}

var (
	reconRunStatuses  = []recon.RunStatus{recon.RunQueued, recon.RunRunning, recon.RunSucceeded, recon.RunFailed}
	reconStatuses     = []recon.Status{recon.StatusOpen, recon.StatusResolved, recon.StatusIgnored}
	reconChanges      = []recon.Change{recon.ChangeNew, recon.ChangeChanged, recon.ChangeSame}
	reconReportKinds  = []report.Kind{report.TransactionItems, report.SettlementItems, report.SettlementSummary}
	reconKindsOptions = func(chosen string) []reconOption { return reconOptions(recon.Kinds, chosen) }
)

// reconDate reads an optional YYYY-MM-DD value.
func reconDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, &formError{Field: field, Message: "want a date, YYYY-MM-DD"}
	}
	return d, nil
}

// reconOneOf checks an optional value against the domain's constants.
func reconOneOf[T ~string](field, v string, values []T) (T, error) {
	if v == "" {
		return "", nil
	}
	for _, x := range values {
		if string(x) == v {
			return x, nil
		}
	}
	return "", &formError{Field: field, Message: fmt.Sprintf("unknown value %q", v)}
}

// reconIDs reads ids written "12, 13 14" (commas or spaces); an id is a
// positive whole number.
func reconIDs(field, v string, most int) ([]int64, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) > most {
		return nil, &formError{Field: field, Message: fmt.Sprintf("at most %d ids", most)}
	}
	ids := make([]int64, 0, len(fields))
	for _, f := range fields {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id < 1 {
			return nil, &formError{Field: field, Message: fmt.Sprintf("%q is not an id: give whole numbers separated by commas", f)}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func reconJoinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// reconPathID is the {id} of the path; anything but a positive number
// names nothing.
func reconPathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, recon.ErrNotFound
	}
	return id, nil
}

// reconForm parses a small urlencoded form.
func reconForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "the form could not be read; reload the page and try again"}
	}
	return nil
}

// ---- runs ----

// reconRunView is a run with what its pages show of it.
type reconRunView struct{ recon.Run }

// Active reports whether the run is still to finish (QUEUED or RUNNING).
func (v reconRunView) Active() bool {
	return v.Status == recon.RunQueued || v.Status == recon.RunRunning
}

// Found is how many discrepancies the run found.
func (v reconRunView) Found() int64 {
	var n int64
	for _, c := range v.Counts.Discrepancies {
		n += c
	}
	return n
}

// Lines is how many report lines the run read.
func (v reconRunView) Lines() int64 {
	var n int64
	for _, c := range v.Counts.Lines {
		n += c
	}
	return n
}

// LinesOf is how many lines of one report kind the run read.
func (v reconRunView) LinesOf(k report.Kind) int64 { return v.Counts.Lines[k] }

// FoundOf is how many discrepancies of kind the run found.
func (v reconRunView) FoundOf(k recon.Kind) int64 { return v.Counts.Discrepancies[k] }

// FirstBatches are the batches a list row shows; the rest are counted.
func (v reconRunView) FirstBatches() []reconBatchView {
	out := make([]reconBatchView, 0, 3)
	for i, b := range v.Batches {
		if i == 3 {
			break
		}
		out = append(out, reconBatchView{b})
	}
	return out
}

// MoreBatches is how many batches FirstBatches leaves out.
func (v reconRunView) MoreBatches() int { return max(0, len(v.Batches)-3) }

// AllBatches are the run's batches for the roll-forward table.
func (v reconRunView) AllBatches() []reconBatchView {
	out := make([]reconBatchView, len(v.Batches))
	for i, b := range v.Batches {
		out[i] = reconBatchView{b}
	}
	return out
}

// reconBatchView is a batch's roll-forward with its verdict.
type reconBatchView struct{ recon.Batch }

// Balanced reports whether the items add up to the summary.
func (b reconBatchView) Balanced() bool { return reconBalanced(b.Batch) }

func reconBalanced(b recon.Batch) bool { return b.HasSummary && !b.Saturated && b.Residual == 0 }

// Verdict says in words how the batch rolled forward.
func (b reconBatchView) Verdict() string {
	switch {
	case b.Saturated:
		return "out of range"
	case !b.HasSummary:
		return "no summary"
	case b.Residual == 0:
		return "balanced"
	}
	return "off"
}

// reconRunsData is the runs page.
type reconRunsData struct {
	reconPage
	Period, Status string
	Statuses       []reconOption
	Runs           []reconRunView
	Next           string
	// Uploaded are the files an upload just kept (?files=), and StartFiles
	// the ids of those ready to reconcile, filled into the start form.
	Uploaded   []recon.File
	StartFiles string
}

func (c *Console) reconRuns(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	d := reconRunsData{reconPage: reconPage{Path: Prefix + "/recon", Query: url.Values{}, Now: c.d.Now()},
		Period: q.Get("period"), Status: q.Get("status")}
	f := recon.RunFilter{Cursor: q.Get("cursor"), Limit: reconPageSize}
	var err error
	if f.Period, err = reconDate("period", d.Period); err != nil {
		return err
	}
	if f.Status, err = reconOneOf("status", d.Status, reconRunStatuses); err != nil {
		return err
	}
	for _, k := range []string{"period", "status"} {
		if v := q.Get(k); v != "" {
			d.Query.Set(k, v)
		}
	}
	d.Statuses = reconOptions(reconRunStatuses, d.Status)
	page, err := c.d.Recon.ListRuns(ctx, f)
	if err != nil {
		return err
	}
	for _, run := range page.Items {
		d.Runs = append(d.Runs, reconRunView{run})
	}
	d.Next = page.Next
	if v := q.Get("files"); v != "" {
		ids, err := reconIDs("files", v, reconMaxFiles)
		if err != nil {
			return err
		}
		if d.Uploaded, err = c.d.Recon.Files(ctx, ids); err != nil {
			return err
		}
		var ready []int64
		for _, f := range d.Uploaded {
			if f.Status == recon.FileIngested {
				ready = append(ready, f.ID)
			}
		}
		d.StartFiles = reconJoinIDs(ready)
	}
	c.render(w, r, http.StatusOK, "recon", view{Title: "Reconciliation", Nav: "recon", S: s, Data: d})
	return nil
}

// reconRunData is a run's page.
type reconRunData struct {
	reconPage
	Run reconRunView
	// The run's discrepancies (a succeeded run's), filtered and paged.
	Kind, Status, Change string
	Kinds                []reconOption
	Statuses             []reconOption
	Changes              []reconOption
	Items                []reconDiscrepancyView
	Next                 string
	ReportKinds          []report.Kind
	AllKinds             []recon.Kind
}

// Exports are the run's export files by base name.
func (d reconRunData) ExportName(p string) string { return filepath.Base(p) }

func (c *Console) reconRun(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	id, err := reconPathID(r)
	if err != nil {
		return err
	}
	run, err := c.d.Recon.GetRun(ctx, id)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := reconRunData{reconPage: reconPage{Path: Prefix + "/recon/runs/" + strconv.FormatInt(id, 10), Query: url.Values{},
		Now: c.d.Now()}, Run: reconRunView{run}, Kind: q.Get("kind"), Status: q.Get("status"), Change: q.Get("change"),
		ReportKinds: reconReportKinds, AllKinds: recon.Kinds}
	for _, k := range []string{"kind", "status", "change"} {
		if v := q.Get(k); v != "" {
			d.Query.Set(k, v)
		}
	}
	d.Kinds, d.Statuses, d.Changes = reconKindsOptions(d.Kind), reconOptions(reconStatuses, d.Status), reconOptions(reconChanges, d.Change)
	if run.Status == recon.RunSucceeded {
		page, err := c.d.Recon.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: id, Kind: recon.Kind(d.Kind),
			Status: recon.Status(d.Status), Change: recon.Change(d.Change), Cursor: q.Get("cursor"), Limit: reconPageSize})
		if err != nil {
			return err
		}
		d.Items, d.Next = reconDiscrepancyViews(page.Items), page.Next
	}
	c.render(w, r, http.StatusOK, "recon_run", view{Title: "Run " + strconv.FormatInt(id, 10), Nav: "recon", S: s, Data: d})
	return nil
}

// reconRunStatus is the run's status block, which the run page polls
// while the run works. Once the run has ended, an htmx poll is told to
// reload the page, which then shows the results and polls no more.
func (c *Console) reconRunStatus(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := reconPathID(r)
	if err != nil {
		return err
	}
	run, err := c.d.Recon.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	v := reconRunView{run}
	if !v.Active() && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Refresh", "true")
	}
	c.renderBlock(w, r, http.StatusOK, "recon_run", "status", view{S: s, Data: reconRunData{Run: v}})
	return nil
}

// ---- downloads ----

// reconResponder lets httpx.Download write to a plain ResponseWriter.
type reconResponder struct{ w http.ResponseWriter }

func (r reconResponder) SetHeader(name, value string) { r.w.Header().Set(name, value) }
func (r reconResponder) SetStatus(code int)           { r.w.WriteHeader(code) }
func (r reconResponder) BodyWriter() io.Writer        { return r.w }

// reconExportName is the download's file name, as the API names it: only
// digits and the kind's letters, so it is safe in Content-Disposition.
func reconExportName(id int64, suffix string) string {
	return "recon-run-" + strconv.FormatInt(id, 10) + suffix
}

// reconWorkbook streams a succeeded run's workbook. The service checks
// the run first, so a run that is not exportable is a 409 page, not a
// broken download.
func (c *Console) reconWorkbook(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := reconPathID(r)
	if err != nil {
		return err
	}
	return c.reconDownload(w, r, reconXLSXType, reconExportName(id, ".xlsx"), func(ctx context.Context, out io.Writer) error {
		return c.d.Recon.WriteXLSX(ctx, id, out)
	})
}

// reconCSV streams a succeeded run's discrepancies of one kind as CSV;
// the path's file is "<KIND>.csv".
func (c *Console) reconCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := reconPathID(r)
	if err != nil {
		return err
	}
	kind := recon.Kind(strings.TrimSuffix(r.PathValue("file"), ".csv"))
	if !kind.Valid() || !strings.HasSuffix(r.PathValue("file"), ".csv") {
		return recon.ErrNotFound
	}
	name := reconExportName(id, "-"+strings.ToLower(string(kind))+".csv")
	return c.reconDownload(w, r, reconCSVType, name, func(ctx context.Context, out io.Writer) error {
		return c.d.Recon.WriteCSV(ctx, id, kind, out)
	})
}

// reconDownload streams write's output as an attachment (httpx.Download):
// an error before the first byte is returned and shown as a problem; one
// after cuts the download short, so no truncated file looks whole.
func (c *Console) reconDownload(w http.ResponseWriter, r *http.Request, contentType, name string,
	write func(context.Context, io.Writer) error) error {
	ctx := r.Context()
	return httpx.Download(reconResponder{w}, contentType, name, func(out io.Writer) error {
		err := write(ctx, out)
		if _, known := describe(err); err != nil && !known {
			c.d.Log.ErrorContext(ctx, "console: export failed", "err", err, "file", name,
				"request_id", httpx.RequestIDFromContext(ctx))
		}
		return err
	})
}

// ---- discrepancies ----

// reconDiscrepancyView is a discrepancy with what its row shows.
type reconDiscrepancyView struct{ recon.Discrepancy }

// Closed reports whether the discrepancy is RESOLVED or IGNORED.
func (d reconDiscrepancyView) Closed() bool { return d.Status != recon.StatusOpen }

// HasDifference reports whether both amounts are there in one currency.
func (d reconDiscrepancyView) HasDifference() bool {
	return d.Ours.Valid && d.Report.Valid && d.Ours.Currency == d.Report.Currency
}

// Difference is the report's amount less ours, in minor units.
func (d reconDiscrepancyView) Difference() int64 { return d.Report.Minor - d.Ours.Minor }

// DetailsText is the stored details, indented (pretty, redacted).
func (d reconDiscrepancyView) DetailsText() string { return prettyJSON(json.RawMessage(d.Details)) }

func reconDiscrepancyViews(ds []recon.Discrepancy) []reconDiscrepancyView {
	out := make([]reconDiscrepancyView, len(ds))
	for i, d := range ds {
		out[i] = reconDiscrepancyView{d}
	}
	return out
}

// reconDiscrepanciesData is the current discrepancies page.
type reconDiscrepanciesData struct {
	reconPage
	// The filters as given.
	Status, Kind, PeriodFrom, PeriodTo, RunID, Currency, MinAmount, MaxAmount, OlderThan string
	Kinds, Statuses                                                                      []reconOption
	Items                                                                                []reconDiscrepancyView
	Next                                                                                 string
	// Back is this page's URL, where a change made from it returns.
	Back string
	// Filter is the page's filters as a query, which the bulk form
	// carries to select "every one matching".
	Filter string
	// Confirm is a bulk change to confirm (a plain form's preview).
	Confirm *reconConfirm
	// Sort is the table's order; SortBy and SortDir as the URL gave them,
	// which the filter form keeps.
	Sort            listSort
	SortBy, SortDir string
}

// Filtered reports whether any filter is set (an order is not one).
func (d reconDiscrepanciesData) Filtered() bool {
	return len(dropParams(d.Query, "sort", "dir")) > 0
}

// reconSortCaptions say each order of the discrepancies in words.
var reconSortCaptions = map[string][2]string{
	recon.SortAge:    {"newest first", "oldest first"},
	recon.SortAmount: {"smallest amount first", "largest amount first"},
	recon.SortKind:   {"by kind, A to Z", "by kind, Z to A"},
}

// reconAnyStatus is the status filter's value for every status; without
// a status the page lists the OPEN ones, finance's worklist.
const reconAnyStatus = "ANY"

// reconFilterKeys are the discrepancies page's filters, in the URL.
var reconFilterKeys = []string{"status", "kind", "period_from", "period_to", "run_id", "currency", "min_amount",
	"max_amount", "older_than_days"}

// reconCurrentFilter reads the discrepancies page's filters from q:
// amounts in major units of the currency, which they need.
func reconCurrentFilter(q url.Values) (recon.CurrentFilter, reconDiscrepanciesData, error) {
	d := reconDiscrepanciesData{Status: q.Get("status"), Kind: q.Get("kind"), PeriodFrom: q.Get("period_from"),
		PeriodTo: q.Get("period_to"), RunID: q.Get("run_id"), Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))),
		MinAmount: strings.TrimSpace(q.Get("min_amount")), MaxAmount: strings.TrimSpace(q.Get("max_amount")),
		OlderThan: strings.TrimSpace(q.Get("older_than_days"))}
	d.Query = url.Values{}
	for _, k := range reconFilterKeys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Query.Set(k, v)
		}
	}
	// The bulk form's filter selects; the order only lists.
	d.Filter = d.Query.Encode()
	d.SortBy, d.SortDir = strings.ToLower(strings.TrimSpace(q.Get("sort"))), strings.ToLower(strings.TrimSpace(q.Get("dir")))
	for k, v := range map[string]string{"sort": d.SortBy, "dir": d.SortDir} {
		if v != "" {
			d.Query.Set(k, v)
		}
	}
	d.Kinds = reconKindsOptions(d.Kind)
	f := recon.CurrentFilter{Cursor: q.Get("cursor"), Limit: reconPageSize, Currency: d.Currency, Sort: d.SortBy, Dir: d.SortDir}
	var err error
	switch d.Status {
	case "":
		f.Status = recon.StatusOpen
	case reconAnyStatus:
	default:
		if f.Status, err = reconOneOf("status", d.Status, reconStatuses); err != nil {
			return f, d, err
		}
	}
	d.Statuses = append(reconOptions(reconStatuses, string(f.Status)),
		reconOption{Value: reconAnyStatus, Label: "Any status", Selected: d.Status == reconAnyStatus})
	if f.Kind, err = reconOneOf("kind", d.Kind, recon.Kinds); err != nil {
		return f, d, err
	}
	if f.PeriodFrom, err = reconDate("period_from", d.PeriodFrom); err != nil {
		return f, d, err
	}
	if f.PeriodTo, err = reconDate("period_to", d.PeriodTo); err != nil {
		return f, d, err
	}
	if d.RunID != "" {
		if f.RunID, err = strconv.ParseInt(d.RunID, 10, 64); err != nil || f.RunID < 1 {
			return f, d, &formError{Field: "run_id", Message: "want a run id"}
		}
	}
	if d.OlderThan != "" {
		if f.OlderThanDays, err = strconv.Atoi(d.OlderThan); err != nil || f.OlderThanDays < 0 {
			return f, d, &formError{Field: "older_than_days", Message: "want a number of days"}
		}
	}
	if f.MinMinor, err = reconMinor("min_amount", d.MinAmount, d.Currency); err != nil {
		return f, d, err
	}
	if f.MaxMinor, err = reconMinor("max_amount", d.MaxAmount, d.Currency); err != nil {
		return f, d, err
	}
	return f, d, nil
}

// reconMinor reads an amount bound in major units of ccy ("12.50"), as
// minor units.
func reconMinor(field, v, ccy string) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	if ccy == "" {
		return nil, &formError{Field: field, Message: "choose a currency too: an amount is in one currency"}
	}
	m, err := money.ParseMajor(v, ccy, false)
	if errors.Is(err, money.ErrUnknownCurrency) {
		return nil, &formError{Field: "currency", Message: fmt.Sprintf("%q is not a currency we know", ccy)}
	}
	if err != nil {
		return nil, &formError{Field: field, Message: fmt.Sprintf("want an amount in %s, such as 12.50 (at most its decimals)", ccy)}
	}
	return &m.Minor, nil
}

// reconDiscrepancyPage lists the current discrepancies q selects.
func (c *Console) reconDiscrepancyPage(ctx context.Context, q url.Values) (reconDiscrepanciesData, error) {
	f, d, err := reconCurrentFilter(q)
	if err != nil {
		return d, err
	}
	d.Path, d.Now = Prefix+"/recon/discrepancies", c.d.Now()
	d.Back = d.Link()
	d.Sort = newListSort(d.Path, d.Query, recon.SortAge, recon.DefaultDir, reconSortCaptions, "")
	page, err := c.d.Recon.CurrentDiscrepancies(ctx, f)
	if err != nil {
		return d, err
	}
	d.Items, d.Next = reconDiscrepancyViews(page.Items), page.Next
	return d, nil
}

func (c *Console) reconDiscrepancies(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.reconDiscrepancyPage(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	if q := r.URL.Query(); q.Get("cursor") != "" {
		d.Back += reconSep(d.Back) + "cursor=" + url.QueryEscape(q.Get("cursor"))
	}
	c.render(w, r, http.StatusOK, "recon_discrepancies", view{Title: "Discrepancies", Nav: "recon", S: s, Data: d})
	return nil
}

// reconSep is what joins one more parameter to u.
func reconSep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
