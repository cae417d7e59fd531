package console

// Reconciliation (issue 17): runs by period with their summary and batch
// roll-forward; a run's detail, with its progress polled while it works;
// report uploads; starting a run; the current discrepancies with their
// owner workflow (resolve, ignore, reopen with a note); the workbook and
// CSV downloads. Every change calls recon.Service as the admin API does
// (cmd/api/recon.go) and records the same audit action, target and input.
//
// Every name in this file starts with "recon" so that the other areas'
// files in the package never collide with it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
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
// it, so a new filter starts at the first page. (render.go's "with" is a
// template keyword and cannot be called from a template.)
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
		case i == 0:
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

// Unbalanced is how many of the run's batches do not roll forward to
// their summary (a residual, no summary, or a sum out of range).
func (v reconRunView) Unbalanced() int {
	n := 0
	for _, b := range v.Batches {
		if !reconBalanced(b) {
			n++
		}
	}
	return n
}

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

// reconStartInput is what the audit row keeps of a run request: the API's
// start-run body.
type reconStartInput struct {
	Date    string  `json:"date,omitempty"`
	FileIDs []int64 `json:"file_ids,omitempty"`
}

// reconNotQueued is a run recorded but not handed to the worker; it has
// been marked FAILED.
type reconNotQueued struct {
	RunID int64
	Err   error
}

func (e *reconNotQueued) Error() string {
	return fmt.Sprintf("run %d not queued: %v", e.RunID, e.Err)
}

// reconStartRun starts a run of a date or of exact files, as the API's
// start-run does: StartRun records it QUEUED, EnqueueRun hands it to the
// worker, and a run the queue did not take is marked FAILED at once
// (FailUnqueued), since nothing sweeps QUEUED runs.
func (c *Console) reconStartRun(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := reconForm(w, r); err != nil {
		return err
	}
	// Values the API's schema refuses before its handler runs (no audit
	// row there either): a date that is not one, ids that are not numbers.
	in := reconStartInput{Date: strings.TrimSpace(r.PostFormValue("date"))}
	date, err := reconDate("date", in.Date)
	if err != nil {
		return err
	}
	if in.FileIDs, err = reconIDs("file_ids", r.PostFormValue("file_ids"), reconMaxFileIDs); err != nil {
		return err
	}
	if len(in.FileIDs) == 0 {
		in.FileIDs = nil
	}
	var runID int64
	err = c.reconAct(w, r, s, action{
		// The API names no run when none was recorded: "recon-run:".
		Name: audit.ActionReconRunStart, Target: "recon-run:", Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			var req recon.RunRequest
			switch {
			case !date.IsZero() && len(in.FileIDs) > 0:
				return "", "", &recon.InvalidError{Field: "file_ids", Reason: "give a date or file ids, not both"}
			case !date.IsZero():
				req.Date = date
			default:
				req.FileIDs = in.FileIDs
			}
			run, err := c.d.Recon.StartRun(ctx, req, s.Actor())
			if err != nil {
				return "", "", err
			}
			runID = run.ID
			if err := c.d.EnqueueRun(ctx, run.ID); err != nil {
				c.d.Log.ErrorContext(ctx, "recon run not queued", "run_id", run.ID, "err", err,
					"request_id", httpx.RequestIDFromContext(ctx))
				if ferr := c.d.Recon.FailUnqueued(ctx, run.ID, err); ferr != nil {
					c.d.Log.ErrorContext(ctx, "recon run not marked failed", "run_id", run.ID, "err", ferr)
				}
				return "", "", &reconNotQueued{RunID: run.ID, Err: err}
			}
			return reconRunPath(run.ID), fmt.Sprintf("Run %d started: %s, %s.", run.ID, run.Period.Format(time.DateOnly),
				plural(len(run.Inputs), "file", "files")), nil
		},
	}, func(error) (string, any) {
		if runID != 0 {
			return audit.ReconRunTarget(runID), in
		}
		return "recon-run:", in
	})
	var nq *reconNotQueued
	if errors.As(err, &nq) {
		c.writeProblem(w, r, s, problem{Status: http.StatusServiceUnavailable, Title: "The run could not be queued",
			Detail: fmt.Sprintf("Run %d was recorded but the worker's queue did not take it, so it is marked FAILED. "+
				"Nothing was reconciled; try again in a minute.", nq.RunID)})
		return nil
	}
	return err
}

func reconRunPath(id int64) string { return Prefix + "/recon/runs/" + strconv.FormatInt(id, 10) }

// ---- uploads ----

// reconUploadAudit is what the audit row keeps of an upload: the API's
// (names, sizes and outcomes, never content).
type reconUploadAudit struct {
	Files []reconUploadAuditFile `json:"files"`
}

type reconUploadAuditFile struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	ID        int64  `json:"id,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Status    string `json:"status,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// reconSpool reads a report upload as the API's does: every `file` part,
// named as APO names its reports, to a temporary file in dir, with the
// API's limits; names, count and size are checked before anything is
// ingested.
func reconSpool(dir string) httpx.Spool {
	return httpx.Spool{Dir: dir, Pattern: "payops-report-*", Field: "file", Noun: "report file",
		MaxBytes: reconMaxUpload, MaxFiles: reconMaxFiles, Name: reconFileName}
}

// reconFileName is the API's check of a part's file name: a safe base
// name of at most 255 bytes naming an APO report, .csv or .xlsx.
func reconFileName(p *multipart.Part) (name, reason string) {
	name, reason = httpx.PartFileName(p, reconMaxName)
	if reason != "" {
		return "", reason
	}
	if ext := strings.ToLower(path.Ext(name)); ext != ".csv" && ext != ".xlsx" {
		return "", fmt.Sprintf("file name %s must end in .csv or .xlsx", httpx.QuoteName(name))
	}
	if _, err := report.ParseName(name); err != nil {
		return "", err.Error()
	}
	return name, ""
}

// reconUploadRejected is an upload with bad files: each problem is a
// *recon.InvalidError whose field is "<file>:<line>" (or the file), so the
// page lists them and the audit row says rejected. Good files of the same
// upload were ingested.
type reconUploadRejected struct {
	Bad, Good []string
	Problems  []error
}

func (e *reconUploadRejected) Error() string {
	return "bad report file(s): " + strings.Join(e.Bad, ", ")
}
func (e *reconUploadRejected) Unwrap() []error { return e.Problems }

func (e *reconUploadRejected) problem() problem {
	p := problem{Status: http.StatusUnprocessableEntity, Title: "Bad report file(s): " + strings.Join(e.Bad, ", "),
		Detail: "Nothing of these files was staged; fix the lines below and upload them again."}
	if len(e.Good) > 0 {
		p.Detail += " Ingested: " + strings.Join(e.Good, ", ") + " (uploading them again is harmless)."
	}
	p.Fields = invalidFields(errors.Join(e.Problems...))
	return p
}

// reconParseProblems lists a file's bad lines as "<file>:<line>" fields.
func reconParseProblems(pe *recon.ParseError) []error {
	name := pe.File.Name
	if pe.Cause != nil || len(pe.Lines) == 0 {
		return []error{&recon.InvalidError{Field: name, Reason: pe.Error()}}
	}
	out := make([]error, 0, len(pe.Lines)+1)
	for _, l := range pe.Lines {
		msg := l.Reason
		if l.Column != "" {
			msg = l.Column + ": " + l.Reason
		}
		out = append(out, &recon.InvalidError{Field: l.File + ":" + strconv.Itoa(l.Line), Reason: msg})
	}
	if pe.Total > len(pe.Lines) {
		out = append(out, &recon.InvalidError{Field: name, Reason: fmt.Sprintf("… and %d more bad lines", pe.Total-len(pe.Lines))})
	}
	return out
}

// reconUploadKey is what identifies an upload for its form token: each
// file's name, size and SHA-256, so the token of one upload is not
// answered with another's outcome.
func reconUploadKey(files []httpx.SpooledFile) (any, error) {
	type key struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	out := make([]key, len(files))
	for i, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			return nil, fmt.Errorf("open spooled upload: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, fh)
		_ = fh.Close()
		if err != nil {
			return nil, fmt.Errorf("hash spooled upload: %w", err)
		}
		out[i] = key{Name: f.Name, Size: f.Size, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	return out, nil
}

// reconUpload takes several report files in one multipart form, spools
// them (httpx.Spool, the API's limits) and ingests each through
// recon.Service.Ingest. Bad lines come back inline as "<file>:<line>".
// The form's token rides in its URL: Spool keeps file parts only.
func (c *Console) reconUpload(w http.ResponseWriter, r *http.Request, s *session) error {
	// Long enough for 256 MiB over a slow link (the API's bound); the
	// server itself sets no read timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(reconUploadTimeout))
	files, err := reconSpool(c.d.UploadDir).Read(r.Header.Get("Content-Type"), r.Body)
	defer httpx.RemoveSpooled(files)
	rec := reconUploadAudit{Files: make([]reconUploadAuditFile, len(files))}
	for i, f := range files {
		rec.Files[i] = reconUploadAuditFile{Name: f.Name, Size: f.Size}
	}
	if err != nil {
		// Refused before anything was kept; the API audits this too.
		c.record(r.Context(), s, action{Name: audit.ActionReconUpload, Target: audit.ReconReportTarget(nil), Input: rec}, outcome(err))
		return err
	}
	key, err := reconUploadKey(files)
	if err != nil {
		return err
	}
	r.PostForm = url.Values{"token": {r.URL.Query().Get("token")}}
	var ids []string
	err = c.reconAct(w, r, s, action{Name: audit.ActionReconUpload, Target: audit.ReconReportTarget(nil), Input: key,
		Run: func(ctx context.Context) (string, string, error) { return c.reconIngest(ctx, files, &rec, &ids) },
	}, func(error) (string, any) { return audit.ReconReportTarget(ids), rec })
	var rej *reconUploadRejected
	if errors.As(err, &rej) {
		c.writeProblem(w, r, s, rej.problem())
		return nil
	}
	return err
}

// reconIngest ingests each spooled file, filling in the audit record and
// the ids of the files kept, as the API's upload does. Any bad file makes
// the upload a *reconUploadRejected; the good ones stay ingested.
func (c *Console) reconIngest(ctx context.Context, files []httpx.SpooledFile, rec *reconUploadAudit, ids *[]string) (string, string, error) {
	var (
		kept      []int64
		problems  []error
		bad, good []string
		fresh     int
	)
	for i, f := range files {
		file, err := c.reconIngestOne(ctx, f)
		if file.ID != 0 {
			*ids = append(*ids, strconv.FormatInt(file.ID, 10))
			rec.Files[i] = reconUploadAuditFile{Name: f.Name, Size: f.Size, ID: file.ID, SHA256: file.SHA256,
				Status: string(file.Status), Duplicate: file.Duplicate}
		}
		var (
			parse   *recon.ParseError
			invalid *recon.InvalidError
		)
		switch {
		case err == nil && file.Status == recon.FileFailed:
			// The same bad content again: it failed the first time.
			problems = append(problems, &recon.InvalidError{Field: f.Name, Reason: "uploaded before and FAILED: " + file.Error})
			bad = append(bad, f.Name)
		case err == nil:
			kept = append(kept, file.ID)
			good = append(good, f.Name)
			if !file.Duplicate {
				fresh++
			}
		case errors.As(err, &parse):
			problems = append(problems, reconParseProblems(parse)...)
			bad = append(bad, f.Name)
		case errors.As(err, &invalid):
			problems = append(problems, &recon.InvalidError{Field: f.Name, Reason: invalid.Error()})
			bad = append(bad, f.Name)
		default:
			return "", "", err
		}
	}
	if len(problems) > 0 {
		return "", "", &reconUploadRejected{Bad: bad, Good: good, Problems: problems}
	}
	flash := fmt.Sprintf("Uploaded %s: %d new, %d already here.", plural(len(files), "report file", "report files"),
		fresh, len(files)-fresh)
	return Prefix + "/recon?files=" + url.QueryEscape(strings.ReplaceAll(reconJoinIDs(kept), " ", "")) + "#uploaded", flash, nil
}

func (c *Console) reconIngestOne(ctx context.Context, f httpx.SpooledFile) (recon.File, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return recon.File{}, fmt.Errorf("open spooled upload: %w", err)
	}
	defer fh.Close()
	return c.d.Recon.Ingest(ctx, f.Name, fh)
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
	d.Filter = d.Query.Encode()
	d.Kinds = reconKindsOptions(d.Kind)
	f := recon.CurrentFilter{Cursor: q.Get("cursor"), Limit: reconPageSize, Currency: d.Currency}
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

// reconUpdateInput is what the audit row keeps of a discrepancy change:
// the API's update body.
type reconUpdateInput struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

// reconDecision reads a change's status and note as the API's schema
// does: one of the three statuses, and a note of 1 to 2000 bytes (the
// service trims it and refuses one of blanks, with an audit row).
func reconDecision(r *http.Request) (reconUpdateInput, error) {
	in := reconUpdateInput{Status: r.PostFormValue("status"), Note: r.PostFormValue("note")}
	if _, err := reconOneOf("status", in.Status, reconStatuses); err != nil || in.Status == "" {
		return in, &formError{Field: "status", Message: "choose resolve, ignore or reopen"}
	}
	if in.Note == "" {
		return in, &formError{Field: "note", Message: "a note is required: say why"}
	}
	if len(in.Note) > reconMaxNote {
		return in, &formError{Field: "note", Message: fmt.Sprintf("at most %d bytes", reconMaxNote)}
	}
	return in, nil
}

// reconBack is where a change returns: the discrepancies page it was made
// from (a console path only), or the page's first view.
func reconBack(v string) string {
	const home = Prefix + "/recon/discrepancies"
	if (v != home && !strings.HasPrefix(v, home+"?") && !strings.HasPrefix(v, Prefix+"/recon/runs/")) ||
		strings.ContainsAny(v, "\\\r\n") || strings.Contains(v, "//") {
		return home
	}
	return v
}

// reconVerb says what a status change did.
func reconVerb(st string) string {
	switch recon.Status(st) {
	case recon.StatusResolved:
		return "resolved"
	case recon.StatusIgnored:
		return "ignored"
	}
	return "reopened"
}

// reconUpdateDiscrepancy resolves, ignores or reopens one discrepancy
// with a mandatory note, through the service's owner workflow.
func (c *Console) reconUpdateDiscrepancy(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := reconPathID(r)
	if err != nil {
		return err
	}
	if err := reconForm(w, r); err != nil {
		return err
	}
	in, err := reconDecision(r)
	if err != nil {
		return err
	}
	back := reconBack(r.PostFormValue("back"))
	return c.act(w, r, s, action{Name: audit.ActionDiscrepancyUpdate, Target: audit.DiscrepancyTarget(id), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			if _, err := c.d.Recon.UpdateDiscrepancy(ctx, id, recon.Status(in.Status), in.Note, s.Actor()); err != nil {
				return "", "", err
			}
			return back, fmt.Sprintf("Discrepancy %d %s.", id, reconVerb(in.Status)), nil
		}})
}

// ---- bulk changes ----

// reconBulkRequest is a bulk change as its forms send it: the
// discrepancies (ticked ids, or every one matching the page's filters),
// the decision, and where to return.
type reconBulkRequest struct {
	Scope    string // reconScopeSelected or reconScopeFilter
	IDs      []int64
	Filter   string // the page's filters, as a query
	Decision reconUpdateInput
	Back     string
	sel      recon.Selection
}

const (
	reconScopeSelected = "selected"
	reconScopeFilter   = "filter"
)

// reconReadBulk reads a bulk form: the preview's (ticked "id" boxes) or
// the confirmation's ("ids", as the preview rendered them).
func reconReadBulk(w http.ResponseWriter, r *http.Request) (reconBulkRequest, error) {
	if err := reconForm(w, r); err != nil {
		return reconBulkRequest{}, err
	}
	b := reconBulkRequest{Scope: r.PostFormValue("scope"), Filter: r.PostFormValue("filter"), Back: reconBack(r.PostFormValue("back"))}
	var err error
	if b.Decision, err = reconDecision(r); err != nil {
		return b, err
	}
	switch b.Scope {
	case reconScopeSelected:
		ids := strings.Join(append(r.PostForm["id"], r.PostFormValue("ids")), ",")
		if b.IDs, err = reconIDs("id", ids, recon.MaxBulk); err != nil {
			return b, err
		}
		if len(b.IDs) == 0 {
			return b, &formError{Field: "id", Message: "tick the discrepancies to change, or choose every one matching the filters"}
		}
		b.sel.IDs = b.IDs
	case reconScopeFilter:
		q, err := url.ParseQuery(b.Filter)
		if err != nil {
			return b, &formError{Field: "filter", Message: "unreadable; reload the page and try again"}
		}
		if b.sel.Filter, _, err = reconCurrentFilter(q); err != nil {
			return b, err
		}
		b.sel.Filter.Limit = 0
		b.Filter = q.Encode()
	default:
		return b, &formError{Field: "scope", Message: "choose the ticked discrepancies or every one matching the filters"}
	}
	return b, nil
}

// reconConfirm is a bulk change's confirmation: what the selection holds
// now, and the form that makes the change.
type reconConfirm struct {
	reconBulkRequest
	Preview recon.BulkPreview
	// Expect is the preview as the change checks it again.
	Expect string
	Token  string
	Verb   string // "Resolve", "Ignore", "Reopen"
}

// CountText is the count with its noun: "12 discrepancies".
func (c reconConfirm) CountText() string {
	return plural(c.Preview.Count, "discrepancy", "discrepancies")
}

// IDList is the ticked ids for the confirmation form.
func (c reconConfirm) IDList() string { return strings.ReplaceAll(reconJoinIDs(c.IDs), " ", "") }

// reconExpect writes a preview so that a change can tell whether its
// selection still holds what the person confirmed.
func reconExpect(p recon.BulkPreview) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", p.Count)
	for _, t := range p.Totals {
		fmt.Fprintf(&b, ";%s:%d:%d", t.Currency, t.Count, t.AmountMinor)
	}
	return b.String()
}

// reconTotals writes a preview's amounts for people: "1,234.56 USD in 8,
// 10.00 EUR in 3, 1 without an amount".
func reconTotals(p recon.BulkPreview) string {
	var parts []string
	for _, t := range p.Totals {
		if t.Currency == "" {
			parts = append(parts, fmt.Sprintf("%d without an amount", t.Count))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s in %d", formatMoney(t.AmountMinor, t.Currency), t.Count))
	}
	return strings.Join(parts, ", ")
}

func reconVerbTitle(st string) string {
	switch recon.Status(st) {
	case recon.StatusResolved:
		return "Resolve"
	case recon.StatusIgnored:
		return "Ignore"
	}
	return "Reopen"
}

// reconBulkPreview answers a bulk form with its confirmation: how many
// discrepancies the selection holds and their amounts per currency, and
// a confirm button that names the count. Nothing changes yet.
func (c *Console) reconBulkPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	b, err := reconReadBulk(w, r)
	if err != nil {
		return err
	}
	p, err := c.d.Recon.PreviewBulk(r.Context(), b.sel)
	if err != nil {
		return err
	}
	if p.Count == 0 {
		return &formError{Field: "filter", Message: "nothing matches these filters"}
	}
	conf := &reconConfirm{reconBulkRequest: b, Preview: p, Expect: reconExpect(p), Token: view{}.Token(),
		Verb: reconVerbTitle(b.Decision.Status)}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "recon_discrepancies", "confirm-block", view{S: s, Data: conf})
		return nil
	}
	// A plain form: the page again, with the confirmation on it.
	back, _ := url.Parse(b.Back)
	d, err := c.reconDiscrepancyPage(r.Context(), back.Query())
	if err != nil {
		return err
	}
	d.Confirm = conf
	c.render(w, r, http.StatusOK, "recon_discrepancies", view{Title: "Confirm: " + conf.Verb + " discrepancies", Nav: "recon", S: s, Data: d})
	return nil
}

// The audit action and target of a bulk change: the admin API's for its
// bulk-update-recon-discrepancies operation (being added to cmd/api on the
// summaries branch, whose names internal/audit does not hold yet). The
// target names no discrepancy: up to recon.MaxBulk ids do not fit the
// indexed target column, so the row's input lists those changed.
const (
	reconActionBulk = "recon-discrepancy.bulk-update"
	reconBulkTarget = "recon-discrepancy:bulk"
)

// reconBulkAudit is what the audit row of a bulk change keeps: the API's
// (cmd/api/recon.go), the request as its body would say it (a filter's
// amounts in minor units) and the discrepancies changed.
type reconBulkAudit struct {
	IDs     []int64          `json:"ids,omitempty"`
	Filter  *reconBulkFilter `json:"filter,omitempty"`
	Status  string           `json:"status,omitempty"`
	Note    string           `json:"note,omitempty"`
	Changed []int64          `json:"changed"`
}

// reconBulkFilter is a bulk change's filter as the API's body writes it.
type reconBulkFilter struct {
	Status        string `json:"status,omitempty"`
	Kind          string `json:"kind,omitempty"`
	Currency      string `json:"currency,omitempty"`
	MinAmount     *int64 `json:"min_amount,omitempty"`
	MaxAmount     *int64 `json:"max_amount,omitempty"`
	PeriodFrom    string `json:"period_from,omitempty"`
	PeriodTo      string `json:"period_to,omitempty"`
	OlderThanDays int    `json:"older_than_days,omitempty"`
	RunID         int64  `json:"run_id,omitempty"`
}

func reconBulkFilterOf(f recon.CurrentFilter) *reconBulkFilter {
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.DateOnly)
	}
	return &reconBulkFilter{Status: string(f.Status), Kind: string(f.Kind), Currency: f.Currency, MinAmount: f.MinMinor,
		MaxAmount: f.MaxMinor, PeriodFrom: date(f.PeriodFrom), PeriodTo: date(f.PeriodTo), OlderThanDays: f.OlderThanDays,
		RunID: f.RunID}
}

// reconBulk makes a confirmed bulk change: every discrepancy of the
// selection moves, or none does (recon.Service.UpdateDiscrepancies). It
// checks first that the selection still holds what the confirmation
// showed, so a run that arrived meanwhile cannot widen it unseen. Its
// audit row is the API's for a bulk change: one row naming the request
// and the discrepancies changed.
func (c *Console) reconBulk(w http.ResponseWriter, r *http.Request, s *session) error {
	b, err := reconReadBulk(w, r)
	if err != nil {
		return err
	}
	expect := r.PostFormValue("expect")
	rec := reconBulkAudit{IDs: b.sel.IDs, Status: b.Decision.Status, Note: b.Decision.Note}
	if b.Scope == reconScopeFilter {
		rec.Filter = reconBulkFilterOf(b.sel.Filter)
	}
	// What identifies the request for its token: the audit's request and
	// the figures confirmed.
	key := struct {
		Request reconBulkAudit
		Expect  string
	}{rec, expect}
	return c.reconAct(w, r, s, action{Name: reconActionBulk, Target: reconBulkTarget, Input: key,
		Run: func(ctx context.Context) (string, string, error) {
			now, err := c.d.Recon.PreviewBulk(ctx, b.sel)
			if err != nil {
				return "", "", err
			}
			if reconExpect(now) != expect {
				return "", "", &recon.ConflictError{Rule: fmt.Sprintf("the selection changed since you reviewed it: it now holds %s (%s). "+
					"Nothing was changed; review it again.", plural(now.Count, "discrepancy", "discrepancies"), reconTotals(now))}
			}
			res, err := c.d.Recon.UpdateDiscrepancies(ctx, b.sel, recon.Status(b.Decision.Status), b.Decision.Note, s.Actor())
			if err != nil {
				return "", "", err
			}
			rec.Changed = res.IDs
			done := reconVerb(b.Decision.Status)
			done = strings.ToUpper(done[:1]) + done[1:]
			flash := fmt.Sprintf("%s %s: %s.", done, plural(res.Count, "discrepancy", "discrepancies"), reconTotals(res.BulkPreview))
			if len(flash) > 290 { // the flash cookie keeps 300 bytes
				flash = fmt.Sprintf("%s %s.", done, plural(res.Count, "discrepancy", "discrepancies"))
			}
			return b.Back, flash, nil
		},
	}, func(error) (string, any) { return reconBulkTarget, rec })
}

// ---- one submission per token, with the target known after ----

// reconAct is act (action.go) for a change whose audit row names what it
// made, which is known only once it ran: the run a start recorded, the
// files an upload kept, the discrepancies a bulk change moved. act fixes
// the row's target and input before the change, so this keeps act's steps
// (the form token, the replay, the audit row with the console user as
// actor) and takes the row's target and input from audited, given a.Run's
// error, after a.Run. a.Target and a.Input identify the request for the
// token.
func (c *Console) reconAct(w http.ResponseWriter, r *http.Request, s *session, a action, audited func(error) (string, any)) error {
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
	row := a
	row.Target, row.Input = audited(runErr)
	c.record(ctx, s, row, outcome(runErr))
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
	c.redirect(w, r, loc, flash)
	return nil
}
