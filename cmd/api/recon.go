package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency/httpguard"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

// Audit actions of this resource.
const (
	actionReconUpload       = "recon-report.upload"
	actionReconRunStart     = "recon-run.start"
	actionDiscrepancyUpdate = "recon-discrepancy.update"
)

func reconRunTarget(id int64) string            { return "recon-run:" + strconv.FormatInt(id, 10) }
func discrepancyTarget(id int64) string         { return "recon-discrepancy:" + strconv.FormatInt(id, 10) }
func reconReportTarget(ids []string) string     { return "recon-report:" + strings.Join(ids, ",") }
func reconExportName(id int64, s string) string { return "recon-run-" + strconv.FormatInt(id, 10) + s }

const (
	// maxReportUpload bounds one upload, every file and the multipart
	// framing together; beyond it the answer is 413 and nothing is
	// ingested. APO's daily files are tens of MiB at the volumes payops is
	// designed for (a million lines is about 150 MiB of CSV).
	maxReportUpload = 256 << 20
	// maxReportFiles bounds the file parts of one upload (each is spooled
	// to a temporary file first).
	maxReportFiles = 50
	// maxReportName bounds a file name, in bytes.
	maxReportName = 255
	// reportUploadTimeout bounds reading an upload's body: long enough for
	// 256 MiB over a slow link, short enough that a stalled client does not
	// hold the request forever (the server sets no read timeout).
	reportUploadTimeout = 10 * time.Minute
	xlsxContentType     = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	csvContentType      = "text/csv; charset=utf-8"
)

// reconAPI is what the reconciliation handlers need.
type reconAPI struct {
	api     huma.API // to write problems from inside a streamed download
	log     *slog.Logger
	db      *sqlx.DB // to fail a run that could not be queued
	audits  *audit.Store
	recon   *recon.Service
	enqueue func(ctx context.Context, runID int64) error
}

// addReconRoutes registers the reconciliation operations. Actions need
// finance (admin passes everything), reads need read. The POSTs and the
// PATCH are guarded by Idempotency-Key; each writes an audit row.
func addReconRoutes(api huma.API, svc *services) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Reconciliation",
		Description: "APO's transaction and settlement reports matched against the payments ledger: report " +
			"uploads, runs with their counts, totals and batch roll-forward, the discrepancies they find with " +
			"their owner workflow, and Excel/CSV exports for finance."})
	idem := httpguard.New(api, svc.idempotency, svc.log, idempotencyScope)
	h := reconAPI{api: api, log: svc.log, db: svc.db, audits: svc.audit, recon: svc.recon, enqueue: svc.enqueueRun}

	upload := idem.Wrap(huma.Operation{
		OperationID: "upload-recon-reports", Method: http.MethodPost, Path: "/v1/recon/reports",
		Summary: "Upload APO report files", Tags: []string{"Reconciliation"}, DefaultStatus: http.StatusCreated,
		Description: "multipart/form-data with one or more `file` parts, each an APO report named as APO names " +
			"it (`transactionItems_<yyyyMMdd>_<seq>`, `settlementItems_<ccy>_<batchId>_<seq>` or " +
			"`settlementSummary_<ccy>_<batchId>_<seq>`, `.csv` or `.xlsx`), at most 256 MiB in all (413 beyond). " +
			"Each file is archived with its SHA-256 and its lines staged. The same content uploaded again is not " +
			"ingested twice: the answer is the earlier file with `duplicate: true`. A file without the `<END>` " +
			"trailer is kept as `INCOMPLETE` and not reconciled. A bad file name refuses the whole upload before " +
			"anything is kept; a file with bad lines is recorded `FAILED` and the answer is 422 listing each bad " +
			"line as `<file>:<line>` (other files of the upload are ingested; uploading them again is harmless).",
		MaxBodyBytes: maxReportUpload, BodyReadTimeout: reportUploadTimeout,
		Errors: []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	})
	// After the guard, so the handler reads the body the guard hands on.
	upload.Middlewares = append(upload.Middlewares, keepUploadBody)
	huma.Register(api, needs(auth.NeedFinance, upload), h.uploadReports)
	// Declared after registration: with a request body in the operation,
	// Huma would read the whole upload into memory itself, and the handler
	// streams it to disk instead.
	api.OpenAPI().Paths["/v1/recon/reports"].Post.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {
			Schema: &huma.Schema{
				Type: "object", Required: []string{"file"},
				Properties: map[string]*huma.Schema{"file": {Type: "array", Items: binaryFile,
					Description: "One or more report files; each part's filename is the APO file name"}},
			},
			Encoding: map[string]*huma.Encoding{"file": {ContentType: "text/csv, " + xlsxContentType}},
		}},
	}

	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "start-recon-run", Method: http.MethodPost, Path: "/v1/recon/runs",
		Summary: "Start a reconciliation run", Tags: []string{"Reconciliation"}, DefaultStatus: http.StatusAccepted,
		Description: "Reconciles either every ingested file of `date` (that day's transaction items, the " +
			"settlement files of batches settled that day, and their summaries) or exactly `file_ids`. The run " +
			"is recorded and handed to the worker; the answer is the `QUEUED` run. Poll `GET " +
			"/v1/recon/runs/{id}` for its progress. 503 when the run could not be queued (it is then `FAILED`).",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	})), h.startRun)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-recon-runs", Method: http.MethodGet, Path: "/v1/recon/runs",
		Summary: "List reconciliation runs", Tags: []string{"Reconciliation"},
		Description: "Newest first, keyset-paginated.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), h.listRuns)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-recon-run", Method: http.MethodGet, Path: "/v1/recon/runs/{id}",
		Summary: "Get a reconciliation run", Tags: []string{"Reconciliation"},
		Description: "The run: its inputs with their hashes, status and progress, counts, totals per " +
			"discrepancy kind and currency, batch roll-forward, timings, and what changed since the previous " +
			"run of the same period.",
		Errors: []int{http.StatusNotFound},
	}), h.getRun)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-recon-discrepancies", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/discrepancies",
		Summary: "List a run's discrepancies", Tags: []string{"Reconciliation"},
		Description: "In id order, keyset-paginated. Filters combine with AND.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}), h.listDiscrepancies)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-current-recon-discrepancies", Method: http.MethodGet, Path: "/v1/recon/discrepancies",
		Summary: "List the current discrepancies of every period", Tags: []string{"Reconciliation"},
		Description: "The discrepancies as they stand now, without knowing a run id: those of the latest " +
			"`SUCCEEDED` run of each period (a later run of a period supersedes the earlier ones, carrying each " +
			"discrepancy it finds again with its status, and leaving out those it no longer finds), so each " +
			"discrepancy is listed once, in its latest state. `status=OPEN` is finance's worklist. In id order, " +
			"keyset-paginated; filters combine with AND. A `run_id` must name its period's latest run (422 " +
			"otherwise; `GET /v1/recon/runs/{id}/discrepancies` lists what any run found).",
		Errors: []int{http.StatusUnprocessableEntity},
	}), h.currentDiscrepancies)
	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "update-recon-discrepancy", Method: http.MethodPatch, Path: "/v1/recon/discrepancies/{id}",
		Summary: "Resolve, ignore or reopen a discrepancy", Tags: []string{"Reconciliation"},
		Description: "The owner workflow: an `OPEN` discrepancy is closed as `RESOLVED` or `IGNORED`, and a closed " +
			"one is reopened with `OPEN`; every change takes a mandatory note, kept with the actor (and carried to " +
			"later runs that find the same, unchanged discrepancy) and written to the audit log. Any other change " +
			"(closing a closed one, opening an open one) is 409. Only a discrepancy of its period's latest run can " +
			"change (409 naming the current one otherwise), and not while a run of its period is in progress (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.updateDiscrepancy)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "export-recon-run-xlsx", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/export.xlsx",
		Summary: "Download a run's workbook", Tags: []string{"Reconciliation"},
		Description: "A Summary sheet (run, inputs, counts and totals per kind, batch roll-forward) and one " +
			"sheet per discrepancy kind. Only a `SUCCEEDED` run can be exported (409 otherwise).",
		Responses: downloadResponse("The workbook, as recon-run-<id>.xlsx", xlsxContentType),
		Errors:    []int{http.StatusNotFound, http.StatusConflict},
	}), h.exportXLSX)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "export-recon-run-csv", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/export/{file}",
		Summary: "Download a run's discrepancies of one kind as CSV", Tags: []string{"Reconciliation"},
		Description: "`file` is the discrepancy kind with `.csv`, e.g. `/v1/recon/runs/7/export/AMOUNT_MISMATCH.csv`. " +
			"Only a `SUCCEEDED` run can be exported (409 otherwise).",
		Responses: downloadResponse("The discrepancies, as recon-run-<id>-<kind>.csv", "text/csv"),
		Errors:    []int{http.StatusNotFound, http.StatusConflict},
	}), h.exportCSV)
}

// downloadResponse documents a 200 that is a file download.
func downloadResponse(desc, contentType string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {
		Description: desc,
		Headers: map[string]*huma.Param{"Content-Disposition": {
			Schema: &huma.Schema{Type: "string"}, Description: "attachment; filename=…"}},
		Content: map[string]*huma.MediaType{contentType: {Schema: binaryFile}},
	}}
}

// reconError turns a recon error into a problem; loc is where a rule's
// field lives ("body" or "query"), what names the resource of a 404.
// Anything it does not recognise is logged and answered with a bare 500.
func reconError(ctx context.Context, log *slog.Logger, err error, loc, what string) error {
	var (
		invalid  *recon.InvalidError
		conflict *recon.ConflictError
	)
	switch {
	case errors.Is(err, recon.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: loc + "." + invalid.Field,
			Message: invalid.Reason})
	case errors.As(err, &conflict):
		return huma.Error409Conflict(conflict.Rule)
	}
	log.ErrorContext(ctx, "request failed", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
	return huma.Error500InternalServerError("internal error")
}

// reconAuditOutcome classifies an action's error for the audit log: a
// recon rule or a 4xx problem refused it, anything else failed.
func reconAuditOutcome(err error) string {
	var (
		invalid  *recon.InvalidError
		conflict *recon.ConflictError
		status   huma.StatusError
	)
	switch {
	case err == nil:
		return audit.OutcomeSucceeded
	case errors.Is(err, recon.ErrNotFound), errors.As(err, &invalid), errors.As(err, &conflict):
		return audit.OutcomeRejected
	case errors.As(err, &status) && status.GetStatus() < 500:
		return audit.OutcomeRejected
	}
	return audit.OutcomeFailed
}

// ---- response types ----

// ReconFile is an archived report file.
type ReconFile struct {
	ID                 int64     `json:"id" example:"12"`
	Name               string    `json:"name" example:"transactionItems_20240301_000.csv" doc:"APO's file name"`
	Kind               string    `json:"kind" enum:"TRANSACTION_ITEMS,SETTLEMENT_ITEMS,SETTLEMENT_SUMMARY"`
	Format             string    `json:"format" enum:"csv,xlsx"`
	SHA256             string    `json:"sha256" doc:"Of the whole file, hex"`
	Size               int64     `json:"size" doc:"Bytes"`
	Status             string    `json:"status" enum:"INGESTED,INCOMPLETE,FAILED" doc:"INGESTED: ready to reconcile; INCOMPLETE: no <END> trailer, held back; FAILED: bad header or lines, nothing staged"`
	Error              string    `json:"error,omitempty" doc:"Why the file is INCOMPLETE or FAILED"`
	Lines              int       `json:"lines" doc:"Records staged (INGESTED) or read"`
	BadLines           int       `json:"bad_lines"`
	ReportDate         string    `json:"report_date,omitempty" format:"date" doc:"Transaction or settlement date, when known"`
	SettlementBatchID  string    `json:"settlement_batch_id,omitempty"`
	SettlementCurrency string    `json:"settlement_currency,omitempty"`
	CustomerID         string    `json:"customer_id,omitempty" doc:"From APO's <customerId>/<yyyyMMdd>/ layout, when used"`
	Origin             string    `json:"origin" enum:"upload,dir,sftp"`
	Duplicate          bool      `json:"duplicate" doc:"The same content had arrived before: this is that earlier file, and nothing was ingested again"`
	ReceivedAt         time.Time `json:"received_at"`
}

func dateString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func reconFileBody(f recon.File) ReconFile {
	return ReconFile{ID: f.ID, Name: f.Name, Kind: string(f.Kind), Format: string(f.Format), SHA256: f.SHA256,
		Size: f.Size, Status: string(f.Status), Error: f.Error, Lines: f.Lines, BadLines: f.BadLines,
		ReportDate: dateString(f.ReportDate), SettlementBatchID: f.BatchID, SettlementCurrency: f.SettlementCurrency,
		CustomerID: f.CustomerID, Origin: string(f.Origin), Duplicate: f.Duplicate, ReceivedAt: f.ReceivedAt}
}

// ReconRunRequest is what a run was asked to reconcile.
type ReconRunRequest struct {
	Date    string  `json:"date,omitempty" format:"date"`
	FileIDs []int64 `json:"file_ids,omitempty"`
}

// ReconRunInput is one file a run read.
type ReconRunInput struct {
	FileID     int64  `json:"file_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind" enum:"TRANSACTION_ITEMS,SETTLEMENT_ITEMS,SETTLEMENT_SUMMARY"`
	SHA256     string `json:"sha256"`
	Lines      int    `json:"lines"`
	ReportDate string `json:"report_date,omitempty" format:"date"`
}

// ReconCounts are a run's numbers.
type ReconCounts struct {
	Lines           map[string]int64 `json:"lines" doc:"Input lines per report kind"`
	LinesByType     map[string]int64 `json:"lines_by_type" doc:"Input item lines per \"<report kind>/<transactionType>\""`
	Matched         int64            `json:"matched" doc:"Item lines matched to a ledger record"`
	RollForwardOnly int64            `json:"roll_forward_only" doc:"Fee, reserve, dispute and other lines, checked through batch totals only"`
	LedgerChecked   int64            `json:"ledger_checked" doc:"Our captures and refunds that had to be in the inputs"`
	Expected        int64            `json:"expected" doc:"Our captures and refunds settled in no report yet and not yet due"`
	Discrepancies   map[string]int64 `json:"discrepancies" doc:"Per kind"`
}

// ReconTotal sums one discrepancy kind in one currency.
type ReconTotal struct {
	Kind         string `json:"kind" example:"AMOUNT_MISMATCH"`
	Currency     string `json:"currency" example:"USD"`
	Count        int64  `json:"count"`
	ReportAmount Money  `json:"report_amount" doc:"Sum of the report's amounts"`
	OurAmount    Money  `json:"our_amount" doc:"Sum of ours"`
	Saturated    bool   `json:"saturated,omitempty" doc:"A sum went beyond the int64 range of minor units and is shown at its bound"`
}

// ReconBatch is one settlement batch's roll-forward. Amounts are minor
// units of currency, signed by their effect on the payout.
type ReconBatch struct {
	BatchID      string `json:"settlement_batch_id"`
	Currency     string `json:"currency"`
	Items        int64  `json:"items" doc:"Settlement item lines"`
	Captures     int64  `json:"captures"`
	Refunds      int64  `json:"refunds"`
	Disputes     int64  `json:"disputes"`
	Fees         int64  `json:"fees"`
	Reserves     int64  `json:"reserves"`
	Other        int64  `json:"other"`
	Computed     int64  `json:"computed" doc:"The sum of the above"`
	Summary      int64  `json:"summary" doc:"The summary's settlement amount"`
	HasSummary   bool   `json:"has_summary"`
	SummaryCount int64  `json:"summary_count,omitempty"`
	Residual     int64  `json:"residual" doc:"summary − computed"`
	Convention   string `json:"convention,omitempty" example:"gross" doc:"How the items' amounts were read: gross (fees deducted from settlementAmountValue) or net (already deducted), with ', signs as written' when the file's signs were taken as they are rather than by transaction type (RECON_AMOUNT_CONVENTION); absent when no reading adds up to the summary"`
	Saturated    bool   `json:"saturated,omitempty" doc:"A sum went beyond the int64 range of minor units and stopped at its bound: the batch could not be checked"`
}

// ReconDiff compares a run with the previous run of its period.
type ReconDiff struct {
	PreviousRunID int64 `json:"previous_run_id,omitempty"`
	New           int64 `json:"new"`
	Changed       int64 `json:"changed"`
	Same          int64 `json:"same"`
	Healed        int64 `json:"healed" doc:"Discrepancies of the previous run this run no longer finds"`
}

// ReconTimings are where a run spent its time, in milliseconds.
type ReconTimings struct {
	Stage   int64 `json:"stage_ms"`
	Match   int64 `json:"match_ms"`
	Ledger  int64 `json:"ledger_ms"`
	Batches int64 `json:"batches_ms"`
	Diff    int64 `json:"diff_ms"`
	Total   int64 `json:"total_ms"`
}

// ReconRun is a reconciliation run.
type ReconRun struct {
	ID         int64           `json:"id" example:"7"`
	Period     string          `json:"period" format:"date" doc:"The date reconciled"`
	Request    ReconRunRequest `json:"request"`
	Inputs     []ReconRunInput `json:"inputs" nullable:"false"`
	Status     string          `json:"status" enum:"QUEUED,RUNNING,SUCCEEDED,FAILED"`
	Phase      string          `json:"phase,omitempty" example:"matching"`
	Progress   int             `json:"progress" doc:"Percent"`
	Counts     ReconCounts     `json:"counts"`
	Totals     []ReconTotal    `json:"totals" nullable:"false"`
	Batches    []ReconBatch    `json:"batches" nullable:"false"`
	Diff       ReconDiff       `json:"diff"`
	Timings    ReconTimings    `json:"timings"`
	Actor      string          `json:"actor" doc:"Name of the API key that started it, or the scheduler"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

func kindCounts[K ~string](m map[K]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

func reconRunBody(r recon.Run) ReconRun {
	b := ReconRun{ID: r.ID, Period: dateString(r.Period), Status: string(r.Status), Phase: r.Phase,
		Progress: r.Progress, Actor: r.Actor, Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt,
		Request:    ReconRunRequest{Date: dateString(r.Request.Date), FileIDs: r.Request.FileIDs},
		Counts: ReconCounts{Lines: kindCounts(r.Counts.Lines), LinesByType: kindCounts(r.Counts.LinesByType),
			Matched: r.Counts.Matched, RollForwardOnly: r.Counts.RollForwardOnly, LedgerChecked: r.Counts.LedgerChecked,
			Expected: r.Counts.Expected, Discrepancies: kindCounts(r.Counts.Discrepancies)},
		Diff: ReconDiff{PreviousRunID: r.Diff.PreviousRunID, New: r.Diff.New, Changed: r.Diff.Changed,
			Same: r.Diff.Same, Healed: r.Diff.Healed},
		Timings: ReconTimings{Stage: r.Timings.Stage.Milliseconds(), Match: r.Timings.Match.Milliseconds(),
			Ledger: r.Timings.Ledger.Milliseconds(), Batches: r.Timings.Batches.Milliseconds(),
			Diff: r.Timings.Diff.Milliseconds(), Total: r.Timings.Total.Milliseconds()},
		Inputs: make([]ReconRunInput, len(r.Inputs)), Totals: make([]ReconTotal, len(r.Totals)),
		Batches: make([]ReconBatch, len(r.Batches)),
	}
	for i, in := range r.Inputs {
		b.Inputs[i] = ReconRunInput{FileID: in.FileID, Name: in.Name, Kind: string(in.Kind), SHA256: in.SHA256,
			Lines: in.Lines, ReportDate: dateString(in.ReportDate)}
	}
	for i, t := range r.Totals {
		b.Totals[i] = ReconTotal{Kind: string(t.Kind), Currency: t.Currency, Count: t.Count,
			ReportAmount: Money{Value: t.ReportMinor, Currency: t.Currency}, OurAmount: Money{Value: t.OurMinor, Currency: t.Currency},
			Saturated: t.Saturated}
	}
	for i, x := range r.Batches {
		b.Batches[i] = ReconBatch{BatchID: x.BatchID, Currency: x.Currency, Items: x.Items, Captures: x.Captures,
			Refunds: x.Refunds, Disputes: x.Disputes, Fees: x.Fees, Reserves: x.Reserves, Other: x.Other,
			Computed: x.Computed, Summary: x.Summary, HasSummary: x.HasSummary, SummaryCount: x.SummaryCount,
			Residual: x.Residual, Convention: x.Convention, Saturated: x.Saturated}
	}
	return b
}

// ReconRunOutput is a run.
type ReconRunOutput struct {
	Body ReconRun
}

// Discrepancy is one break a run found.
type Discrepancy struct {
	ID                    int64           `json:"id" example:"42"`
	RunID                 int64           `json:"run_id"`
	Period                string          `json:"period" format:"date" doc:"The date its run reconciled"`
	Kind                  string          `json:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH"`
	Fingerprint           string          `json:"fingerprint" doc:"Stable identity across runs of the same inputs"`
	Change                string          `json:"change" enum:"NEW,CHANGED,SAME" doc:"Against the previous run of the period"`
	HealedByRunID         int64           `json:"healed_by_run_id,omitempty" doc:"A later run of the period that no longer finds it"`
	Status                string          `json:"status" enum:"OPEN,RESOLVED,IGNORED"`
	Note                  string          `json:"note,omitempty" doc:"Of the last status change (a close, or a reopen)"`
	Actor                 string          `json:"actor,omitempty" doc:"Name of the API key that made the last status change"`
	ResolvedAt            *time.Time      `json:"resolved_at,omitempty" doc:"When it was closed; absent while OPEN"`
	ReportKind            string          `json:"report_kind,omitempty" enum:"TRANSACTION_ITEMS,SETTLEMENT_ITEMS,SETTLEMENT_SUMMARY"`
	TransactionType       string          `json:"transaction_type,omitempty" example:"CAPTURE"`
	TransactionID         string          `json:"transaction_id,omitempty" doc:"APO's id of the transaction"`
	TransactionRequestID  string          `json:"transaction_request_id,omitempty"`
	OriginalTransactionID string          `json:"original_transaction_id,omitempty"`
	SettlementBatchID     string          `json:"settlement_batch_id,omitempty"`
	PaymentID             string          `json:"payment_id,omitempty" format:"uuid" doc:"payops' payment"`
	LedgerTransactionID   string          `json:"ledger_transaction_id,omitempty" format:"uuid" doc:"payops' transaction"`
	OurAmount             *Money          `json:"our_amount,omitempty"`
	ReportAmount          *Money          `json:"report_amount,omitempty"`
	FileID                int64           `json:"file_id,omitempty"`
	FileName              string          `json:"file_name,omitempty"`
	Line                  int             `json:"line,omitempty" doc:"Line of the report file"`
	Details               json.RawMessage `json:"details,omitempty" doc:"What was compared (redacted)"`
	CreatedAt             time.Time       `json:"created_at"`
}

func reportMoney(a report.Amount) *Money {
	if !a.Valid {
		return nil
	}
	return optionalMoney(a.Minor, a.Currency)
}

func discrepancyBody(d recon.Discrepancy) Discrepancy {
	return Discrepancy{ID: d.ID, RunID: d.RunID, Period: dateString(d.Period), Kind: string(d.Kind), Fingerprint: d.Fingerprint,
		Change: string(d.Change), HealedByRunID: d.HealedByRunID, Status: string(d.Status), Note: d.Note,
		Actor: d.Actor, ResolvedAt: d.ResolvedAt, ReportKind: string(d.ReportKind), TransactionType: d.TransactionType,
		TransactionID: d.TransactionID, TransactionRequestID: d.TransactionRequestID,
		OriginalTransactionID: d.OriginalTransactionID, SettlementBatchID: d.SettlementBatchID,
		PaymentID: d.PaymentID, LedgerTransactionID: d.LedgerTransactionID, OurAmount: reportMoney(d.Ours),
		ReportAmount: reportMoney(d.Report), FileID: d.FileID, FileName: d.FileName, Line: d.Line,
		Details: redactedJSON(d.Details), CreatedAt: d.CreatedAt}
}

// ---- upload ----

// UploadReportsInput declares no body: the handler streams the multipart
// upload itself (see keepUploadBody), so that a large file goes to disk,
// not memory.
type UploadReportsInput struct{}

// ReconFilesOutput is the files of an upload.
type ReconFilesOutput struct {
	Body struct {
		Files []ReconFile `json:"files" nullable:"false" doc:"In upload order"`
	}
}

type uploadBodyKey struct{}

// uploadBody is the request body as the handler reads it.
type uploadBody struct {
	contentType string
	body        io.Reader
	limit       int64
}

// keepUploadBody puts the request body (the guard's copy, when an
// Idempotency-Key was given), its Content-Type and the operation's size
// limit where the handler can read them, and bounds the time to read it.
func keepUploadBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
	}
	next(huma.WithValue(ctx, uploadBodyKey{}, uploadBody{contentType: ctx.Header("Content-Type"),
		body: ctx.BodyReader(), limit: op.MaxBodyBytes}))
}

// errUploadTooLarge is the body going past its limit.
var errUploadTooLarge = errors.New("upload too large")

// cappedReader passes at most left bytes on, and fails with
// errUploadTooLarge when there is more. Bytes past the limit never reach
// the multipart reader, so it cannot finish a body that is too large
// without seeing the error.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n > 0 {
			return 0, errUploadTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// spooledReport is a file part written to a temporary file.
type spooledReport struct {
	name string
	path string
	size int64
}

func removeSpooled(files []spooledReport) {
	for _, f := range files {
		_ = os.Remove(f.path)
	}
}

// uploadAudit is what the audit log keeps of an upload: names, sizes and
// outcomes, never content.
type uploadAudit struct {
	Files []uploadAuditFile `json:"files"`
}

type uploadAuditFile struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	ID        int64  `json:"id,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Status    string `json:"status,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// spoolReports reads a multipart upload and writes each `file` part to a
// temporary file in dir (the process's private temporary directory, which
// the next start empties if this process dies first), checking names and
// the total size first, so that a bad upload is refused before anything is
// ingested. The caller removes the files.
func spoolReports(dir, contentType string, body io.Reader, limit int64) (files []spooledReport, err error) {
	mt, params, perr := mime.ParseMediaType(contentType)
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, huma.Error422UnprocessableEntity("the body must be multipart/form-data with file parts",
			&huma.ErrorDetail{Location: "header.Content-Type", Message: "want multipart/form-data; boundary=…"})
	}
	if body == nil {
		body = strings.NewReader("")
	}
	if limit <= 0 {
		limit = maxReportUpload
	}
	defer func() {
		if err != nil {
			removeSpooled(files)
			files = nil
		}
	}()
	mr := multipart.NewReader(&cappedReader{r: body, left: limit}, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, uploadReadError(err, limit)
		}
		if p.FormName() != "file" {
			// Other fields carry nothing we use; they still count against the limit.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return files, uploadReadError(err, limit)
			}
			continue
		}
		loc := "body.file[" + strconv.Itoa(len(files)) + "]"
		if len(files) == maxReportFiles {
			return files, huma.Error422UnprocessableEntity("too many files",
				&huma.ErrorDetail{Location: loc, Message: fmt.Sprintf("at most %d files per upload", maxReportFiles)})
		}
		name, reason := reportFileName(p)
		if reason != "" {
			return files, huma.Error422UnprocessableEntity("bad report file name", &huma.ErrorDetail{Location: loc, Message: reason})
		}
		f, err := spool(dir, p)
		f.name = name
		if f.path != "" {
			files = append(files, f)
		}
		if err != nil {
			return files, uploadReadError(err, limit)
		}
	}
	if len(files) == 0 {
		return nil, huma.Error422UnprocessableEntity("no report file in the upload",
			&huma.ErrorDetail{Location: "body.file", Message: "required: one or more file parts"})
	}
	return files, nil
}

// spool copies a part into a temporary file. A failure to write the
// file is a *spoolError (ours, 500); any other error is the upload's.
func spool(dir string, p *multipart.Part) (spooledReport, error) {
	tmp, err := os.CreateTemp(dir, "payops-report-*")
	if err != nil {
		return spooledReport{}, &spoolError{err}
	}
	w := &writeErrs{w: tmp}
	n, err := io.Copy(w, p)
	cerr := tmp.Close()
	switch {
	case w.err != nil:
		err = &spoolError{w.err}
	case err == nil && cerr != nil:
		err = &spoolError{cerr}
	}
	return spooledReport{path: tmp.Name(), size: n}, err
}

// spoolError is a temporary file that could not be written.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "spool upload: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// writeErrs remembers a write error, to tell it from a read error after
// io.Copy.
type writeErrs struct {
	w   io.Writer
	err error
}

func (w *writeErrs) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// uploadReadError is the problem for an upload that could not be read;
// a *spoolError is returned as it is, for reconError to log (500).
func uploadReadError(err error, limit int64) error {
	var spoolErr *spoolError
	switch {
	case errors.Is(err, errUploadTooLarge):
		return huma.Error413RequestEntityTooLarge(fmt.Sprintf("the upload is larger than %d bytes", limit))
	case errors.As(err, &spoolErr):
		return err
	}
	return huma.Error422UnprocessableEntity("unreadable multipart body", &huma.ErrorDetail{Location: "body",
		Message: err.Error()})
}

// reportFileName checks a part's file name: the raw Content-Disposition
// filename (multipart.Part.FileName would silently strip directories),
// a printable base name of at most 255 bytes naming an APO report, .csv
// or .xlsx. It returns the name, or why it is refused.
func reportFileName(p *multipart.Part) (name, reason string) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", "unreadable Content-Disposition: " + err.Error()
	}
	name = params["filename"]
	shown := name
	if len(shown) > 80 {
		shown = shown[:80] + "…"
	}
	shown = strconv.QuoteToASCII(shown)
	switch {
	case name == "":
		return "", "the part has no filename"
	case len(name) > maxReportName:
		return "", fmt.Sprintf("file name %s is longer than %d bytes", shown, maxReportName)
	case !utf8.ValidString(name):
		return "", fmt.Sprintf("file name %s is not UTF-8", shown)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", fmt.Sprintf("file name %s has control or non-printable characters", shown)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return "", fmt.Sprintf("file name %s must be a base name, without directories", shown)
	}
	if ext := strings.ToLower(path.Ext(name)); ext != ".csv" && ext != ".xlsx" {
		return "", fmt.Sprintf("file name %s must end in .csv or .xlsx", shown)
	}
	if _, err := report.ParseName(name); err != nil {
		return "", err.Error()
	}
	return name, ""
}

// parseProblems lists a file's bad lines as "<file>:<line>" entries.
func parseProblems(pe *recon.ParseError) []error {
	name := pe.File.Name
	if pe.Cause != nil || len(pe.Lines) == 0 {
		return []error{&huma.ErrorDetail{Location: name, Message: pe.Error()}}
	}
	out := make([]error, 0, len(pe.Lines)+1)
	for _, l := range pe.Lines {
		msg := l.Reason
		if l.Column != "" {
			msg = l.Column + ": " + l.Reason
		}
		out = append(out, &huma.ErrorDetail{Location: l.File + ":" + strconv.Itoa(l.Line), Message: msg})
	}
	if pe.Total > len(pe.Lines) {
		out = append(out, &huma.ErrorDetail{Location: name, Message: fmt.Sprintf("… and %d more bad lines", pe.Total-len(pe.Lines))})
	}
	return out
}

func (h reconAPI) uploadReports(ctx context.Context, _ *UploadReportsInput) (*ReconFilesOutput, error) {
	up, _ := ctx.Value(uploadBodyKey{}).(uploadBody)
	files, err := spoolReports(h.recon.TempDir(), up.contentType, up.body, up.limit)
	defer removeSpooled(files)
	rec := uploadAudit{Files: make([]uploadAuditFile, len(files))}
	for i, f := range files {
		rec.Files[i] = uploadAuditFile{Name: f.name, Size: f.size}
	}
	if err != nil {
		recordAudit(ctx, h.log, h.audits, actionReconUpload, reconReportTarget(nil), rec, reconAuditOutcome(err))
		var status huma.StatusError
		if errors.As(err, &status) {
			return nil, err
		}
		return nil, reconError(ctx, h.log, err, "body", "file")
	}

	var (
		out      = &ReconFilesOutput{}
		ids      []string
		problems []error
		bad      []string
		good     []string
	)
	for i, f := range files {
		file, err := h.ingest(ctx, f)
		if file.ID != 0 {
			ids = append(ids, strconv.FormatInt(file.ID, 10))
			rec.Files[i] = uploadAuditFile{Name: f.name, Size: f.size, ID: file.ID, SHA256: file.SHA256,
				Status: string(file.Status), Duplicate: file.Duplicate}
		}
		var (
			parse   *recon.ParseError
			invalid *recon.InvalidError
		)
		switch {
		case err == nil && file.Status == recon.FileFailed:
			// The same bad content again: it failed the first time.
			problems = append(problems, &huma.ErrorDetail{Location: f.name,
				Message: "uploaded before and FAILED: " + file.Error})
			bad = append(bad, f.name)
		case err == nil:
			out.Body.Files = append(out.Body.Files, reconFileBody(file))
			good = append(good, f.name)
		case errors.As(err, &parse):
			problems = append(problems, parseProblems(parse)...)
			bad = append(bad, f.name)
		case errors.As(err, &invalid):
			problems = append(problems, &huma.ErrorDetail{Location: "body.file[" + strconv.Itoa(i) + "]", Message: invalid.Error()})
			bad = append(bad, f.name)
		default:
			recordAudit(ctx, h.log, h.audits, actionReconUpload, reconReportTarget(ids), rec, audit.OutcomeFailed)
			return nil, reconError(ctx, h.log, err, "body", "file")
		}
	}
	if len(problems) > 0 {
		recordAudit(ctx, h.log, h.audits, actionReconUpload, reconReportTarget(ids), rec, audit.OutcomeRejected)
		msg := "bad report file(s): " + strings.Join(bad, ", ")
		if len(good) > 0 {
			msg += "; ingested: " + strings.Join(good, ", ") + " (uploading them again is harmless)"
		}
		return nil, huma.Error422UnprocessableEntity(msg, problems...)
	}
	recordAudit(ctx, h.log, h.audits, actionReconUpload, reconReportTarget(ids), rec, audit.OutcomeSucceeded)
	return out, nil
}

func (h reconAPI) ingest(ctx context.Context, f spooledReport) (recon.File, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return recon.File{}, fmt.Errorf("open spooled upload: %w", err)
	}
	defer fh.Close()
	return h.recon.Ingest(ctx, f.name, fh)
}

// ---- runs ----

// StartReconRunInput says what to reconcile: a date or file ids.
type StartReconRunInput struct {
	Body struct {
		Date    string  `json:"date,omitempty" format:"date" example:"2024-03-01" doc:"Reconcile every ingested file of this day (UTC)"`
		FileIDs []int64 `json:"file_ids,omitempty" minItems:"1" maxItems:"1000" doc:"Reconcile exactly these ingested files"`
	}
}

func (h reconAPI) startRun(ctx context.Context, in *StartReconRunInput) (*ReconRunOutput, error) {
	var req recon.RunRequest
	err := func() error {
		switch {
		case in.Body.Date != "" && len(in.Body.FileIDs) > 0:
			return huma.Error422UnprocessableEntity("give date or file_ids, not both",
				&huma.ErrorDetail{Location: "body.file_ids", Message: "not allowed with date"})
		case in.Body.Date != "":
			d, err := time.Parse(time.DateOnly, in.Body.Date)
			if err != nil {
				return huma.Error422UnprocessableEntity("invalid date",
					&huma.ErrorDetail{Location: "body.date", Message: "want YYYY-MM-DD"})
			}
			req.Date = d
		default:
			req.FileIDs = in.Body.FileIDs
		}
		return nil
	}()
	if err != nil {
		recordAudit(ctx, h.log, h.audits, actionReconRunStart, "recon-run:", in.Body, audit.OutcomeRejected)
		return nil, err
	}
	actor, _ := auth.ActorFromContext(ctx)
	run, err := h.recon.StartRun(ctx, req, actor.Name)
	if err != nil {
		recordAudit(ctx, h.log, h.audits, actionReconRunStart, "recon-run:", in.Body, reconAuditOutcome(err))
		return nil, reconError(ctx, h.log, err, "body", "file")
	}
	if err := h.enqueue(ctx, run.ID); err != nil {
		// Nothing sweeps QUEUED runs: fail it, so no one waits for it.
		h.log.ErrorContext(ctx, "recon run not queued", "run_id", run.ID, "err", err,
			"request_id", httpx.RequestIDFromContext(ctx))
		if ferr := recon.NewStore(h.db).FailRun(context.WithoutCancel(ctx), run.ID, "not queued: "+err.Error(),
			time.Now().UTC()); ferr != nil {
			h.log.ErrorContext(ctx, "recon run not marked failed", "run_id", run.ID, "err", ferr)
		}
		recordAudit(ctx, h.log, h.audits, actionReconRunStart, reconRunTarget(run.ID), in.Body, audit.OutcomeFailed)
		return nil, huma.Error503ServiceUnavailable("the run could not be queued; try again")
	}
	recordAudit(ctx, h.log, h.audits, actionReconRunStart, reconRunTarget(run.ID), in.Body, audit.OutcomeSucceeded)
	return &ReconRunOutput{Body: reconRunBody(run)}, nil
}

// ListReconRunsInput filters and pages runs.
type ListReconRunsInput struct {
	Period string `query:"period" format:"date" example:"2024-03-01" doc:"Only runs of this date"`
	Status string `query:"status" enum:"QUEUED,RUNNING,SUCCEEDED,FAILED" doc:"Only runs in this status"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// ReconRunListOutput is one page of runs.
type ReconRunListOutput struct {
	Body struct {
		Items      []ReconRun `json:"items" nullable:"false"`
		NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h reconAPI) listRuns(ctx context.Context, in *ListReconRunsInput) (*ReconRunListOutput, error) {
	f := recon.RunFilter{Status: recon.RunStatus(in.Status), Cursor: in.Cursor, Limit: in.Limit}
	if in.Period != "" {
		d, err := time.Parse(time.DateOnly, in.Period)
		if err != nil {
			return nil, queryError("period", "want YYYY-MM-DD")
		}
		f.Period = d
	}
	page, err := h.recon.ListRuns(ctx, f)
	if err != nil {
		return nil, reconError(ctx, h.log, err, "query", "run")
	}
	out := &ReconRunListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]ReconRun, len(page.Items))
	for i, r := range page.Items {
		out.Body.Items[i] = reconRunBody(r)
	}
	return out, nil
}

// ReconRunIDInput names a run.
type ReconRunIDInput struct {
	ID int64 `path:"id" minimum:"1" doc:"The run's id"`
}

func (h reconAPI) getRun(ctx context.Context, in *ReconRunIDInput) (*ReconRunOutput, error) {
	run, err := h.recon.GetRun(ctx, in.ID)
	if err != nil {
		return nil, reconError(ctx, h.log, err, "path", "run")
	}
	return &ReconRunOutput{Body: reconRunBody(run)}, nil
}

// ---- discrepancies ----

// ListDiscrepanciesInput filters and pages a run's discrepancies.
type ListDiscrepanciesInput struct {
	ID     int64  `path:"id" minimum:"1" doc:"The run's id"`
	Kind   string `query:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH" doc:"Only this kind"`
	Status string `query:"status" enum:"OPEN,RESOLVED,IGNORED" doc:"Only discrepancies in this status"`
	Change string `query:"change" enum:"NEW,CHANGED,SAME" doc:"Only those new, changed or the same since the previous run of the period (healed ones are marked healed_by_run_id on the previous run's rows)"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// DiscrepancyListOutput is one page of discrepancies.
type DiscrepancyListOutput struct {
	Body struct {
		Items      []Discrepancy `json:"items" nullable:"false"`
		NextCursor string        `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h reconAPI) listDiscrepancies(ctx context.Context, in *ListDiscrepanciesInput) (*DiscrepancyListOutput, error) {
	page, err := h.recon.ListDiscrepancies(ctx, recon.DiscrepancyFilter{RunID: in.ID, Kind: recon.Kind(in.Kind),
		Status: recon.Status(in.Status), Change: recon.Change(in.Change), Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, reconError(ctx, h.log, err, "query", "run")
	}
	out := &DiscrepancyListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]Discrepancy, len(page.Items))
	for i, d := range page.Items {
		out.Body.Items[i] = discrepancyBody(d)
	}
	return out, nil
}

// CurrentDiscrepanciesInput filters and pages the current discrepancies.
type CurrentDiscrepanciesInput struct {
	Status     string `query:"status" enum:"OPEN,RESOLVED,IGNORED" doc:"Only discrepancies in this status (OPEN: the worklist)"`
	Kind       string `query:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH" doc:"Only this kind"`
	PeriodFrom string `query:"period_from" format:"date" example:"2024-03-01" doc:"Only periods (reconciled dates) from this date on"`
	PeriodTo   string `query:"period_to" format:"date" example:"2024-03-31" doc:"Only periods up to this date, inclusive"`
	RunID      int64  `query:"run_id" minimum:"1" doc:"Only this run's; it must be its period's latest succeeded run"`
	Cursor     string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

func (h reconAPI) currentDiscrepancies(ctx context.Context, in *CurrentDiscrepanciesInput) (*DiscrepancyListOutput, error) {
	f := recon.CurrentFilter{RunID: in.RunID, Kind: recon.Kind(in.Kind), Status: recon.Status(in.Status),
		Cursor: in.Cursor, Limit: in.Limit}
	for _, p := range []struct {
		name, value string
		to          *time.Time
	}{{"period_from", in.PeriodFrom, &f.PeriodFrom}, {"period_to", in.PeriodTo, &f.PeriodTo}} {
		if p.value == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, p.value)
		if err != nil {
			return nil, queryError(p.name, "want YYYY-MM-DD")
		}
		*p.to = d
	}
	page, err := h.recon.CurrentDiscrepancies(ctx, f)
	if err != nil {
		return nil, reconError(ctx, h.log, err, "query", "discrepancy")
	}
	out := &DiscrepancyListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]Discrepancy, len(page.Items))
	for i, d := range page.Items {
		out.Body.Items[i] = discrepancyBody(d)
	}
	return out, nil
}

// UpdateDiscrepancyInput closes or reopens a discrepancy.
type UpdateDiscrepancyInput struct {
	ID   int64 `path:"id" minimum:"1" doc:"The discrepancy's id"`
	Body struct {
		Status string `json:"status" enum:"OPEN,RESOLVED,IGNORED" doc:"RESOLVED or IGNORED closes an OPEN discrepancy; OPEN reopens a closed one"`
		Note   string `json:"note" minLength:"1" maxLength:"2000" example:"refund booked manually on 2024-03-04" doc:"Why; mandatory, kept with the actor"`
	}
}

// DiscrepancyOutput is a discrepancy.
type DiscrepancyOutput struct {
	Body Discrepancy
}

func (h reconAPI) updateDiscrepancy(ctx context.Context, in *UpdateDiscrepancyInput) (*DiscrepancyOutput, error) {
	actor, _ := auth.ActorFromContext(ctx)
	d, err := h.recon.UpdateDiscrepancy(ctx, in.ID, recon.Status(in.Body.Status), in.Body.Note, actor.Name)
	recordAudit(ctx, h.log, h.audits, actionDiscrepancyUpdate, discrepancyTarget(in.ID), in.Body, reconAuditOutcome(err))
	if err != nil {
		return nil, reconError(ctx, h.log, err, "body", "discrepancy")
	}
	return &DiscrepancyOutput{Body: discrepancyBody(d)}, nil
}

// ---- exports ----

// ReconExportOutput streams a file.
type ReconExportOutput struct {
	Body func(huma.Context)
}

// ReconCSVInput names a run and a discrepancy kind's CSV.
type ReconCSVInput struct {
	ID   int64  `path:"id" minimum:"1" doc:"The run's id"`
	File string `path:"file" enum:"MISSING_IN_LEDGER.csv,MISSING_IN_REPORT.csv,AMOUNT_MISMATCH.csv,CURRENCY_MISMATCH.csv,STATUS_MISMATCH.csv,DUPLICATE_IN_REPORT.csv,BATCH_TOTAL_MISMATCH.csv,FX_MISMATCH.csv" doc:"<discrepancy kind>.csv"`
}

func (h reconAPI) exportXLSX(ctx context.Context, in *ReconRunIDInput) (*ReconExportOutput, error) {
	if err := h.exportable(ctx, in.ID); err != nil {
		return nil, err
	}
	return h.download(xlsxContentType, reconExportName(in.ID, ".xlsx"), func(ctx context.Context, w io.Writer) error {
		return h.recon.WriteXLSX(ctx, in.ID, w)
	}), nil
}

func (h reconAPI) exportCSV(ctx context.Context, in *ReconCSVInput) (*ReconExportOutput, error) {
	kind := recon.Kind(strings.TrimSuffix(in.File, ".csv"))
	if !kind.Valid() {
		return nil, huma.Error404NotFound("no such export: " + strconv.QuoteToASCII(in.File))
	}
	if err := h.exportable(ctx, in.ID); err != nil {
		return nil, err
	}
	name := reconExportName(in.ID, "-"+strings.ToLower(string(kind))+".csv")
	return h.download(csvContentType, name, func(ctx context.Context, w io.Writer) error {
		return h.recon.WriteCSV(ctx, in.ID, kind, w)
	}), nil
}

// exportable checks, before anything is streamed, that the run exists and
// succeeded, so those answers are problem documents, not broken downloads.
func (h reconAPI) exportable(ctx context.Context, id int64) error {
	run, err := h.recon.GetRun(ctx, id)
	if err != nil {
		return reconError(ctx, h.log, err, "path", "run")
	}
	if run.Status != recon.RunSucceeded {
		return huma.Error409Conflict(fmt.Sprintf("run %d is %s; only a succeeded run can be exported", id, run.Status))
	}
	return nil
}

// download streams write's output as an attachment. Headers and the 200 go
// out with the first byte, so a failure before any is written is still a
// problem document; after that, the response is cut short (never a
// truncated file that looks whole).
func (h reconAPI) download(contentType, filename string, write func(context.Context, io.Writer) error) *ReconExportOutput {
	return &ReconExportOutput{Body: func(hctx huma.Context) {
		w := &lazyDownload{ctx: hctx, contentType: contentType, filename: filename}
		err := write(hctx.Context(), w)
		if err == nil {
			w.start() // an empty file is still a file
			return
		}
		ctx := hctx.Context()
		h.log.ErrorContext(ctx, "export failed", "err", err, "file", filename, "request_id", httpx.RequestIDFromContext(ctx))
		if !w.started {
			_ = huma.WriteErr(h.api, hctx, http.StatusInternalServerError, "internal error")
			return
		}
		panic(http.ErrAbortHandler)
	}}
}

// lazyDownload writes the download's headers on the first write.
type lazyDownload struct {
	ctx         huma.Context
	contentType string
	filename    string
	started     bool
}

func (d *lazyDownload) start() {
	if d.started {
		return
	}
	d.started = true
	d.ctx.SetHeader("Content-Type", d.contentType)
	d.ctx.SetHeader("Content-Disposition", `attachment; filename="`+d.filename+`"`)
	d.ctx.SetStatus(http.StatusOK)
}

func (d *lazyDownload) Write(p []byte) (int, error) {
	d.start()
	return d.ctx.BodyWriter().Write(p)
}
