package console

// Reconciliation's changes (see recon.go for its pages): starting a run,
// uploading reports, resolving, ignoring or reopening discrepancies one
// at a time or in bulk. Each calls recon.Service as the admin API does
// (cmd/api/recon.go) and records the API's audit action, target and
// input, with the console user as the actor.

import (
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
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

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
	err = c.act(w, r, s, action{
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
		Audited: func(error) (string, any) {
			if runID != 0 {
				return audit.ReconRunTarget(runID), in
			}
			return "recon-run:", in
		},
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

// reconParseProblems lists a file's bad lines as "<file>:<line>" fields.
func reconParseProblems(pe *recon.ParseError) []error {
	var out []error
	for _, p := range pe.Problems() {
		out = append(out, &recon.InvalidError{Field: p.Where, Reason: p.Message})
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
func (c *Console) reconUpload(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.upload(w, r, s, upload{timeout: reconUploadTimeout, spool: reconSpool(c.d.UploadDir),
		action: audit.ActionReconUpload, target: audit.ReconReportTarget, ingest: c.reconIngest})
}

// reconIngest ingests each spooled file, filling in the audit record and
// the ids of the files kept, as the API's upload does. Any bad file makes
// the upload an *uploadRejected; the good ones stay ingested.
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
		return "", "", &uploadRejected{title: "Bad report file(s)",
			detail: "Nothing of these files was staged; fix the lines below and upload them again.",
			Bad:    bad, Good: good, Problems: problems}
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
	return c.act(w, r, s, action{Name: audit.ActionDiscrepancyBulk, Target: audit.DiscrepancyBulkTarget, Input: key,
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
		Audited: func(error) (string, any) { return audit.DiscrepancyBulkTarget, rec },
	})
}
