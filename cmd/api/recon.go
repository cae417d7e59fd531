package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/recon/report"
)

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
	edge
	api     huma.API // to write problems from inside a streamed download
	recon   *recon.Service
	enqueue func(ctx context.Context, runID int64) error
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

// ReconRunExport is a file the nightly export wrote for a run, with the
// SHA-256 taken when it was written, so a workbook handed on can be checked.
type ReconRunExport struct {
	Name      string    `json:"name" doc:"File name in the export directory"`
	Format    string    `json:"format" enum:"xlsx,csv"`
	Kind      string    `json:"kind,omitempty" doc:"The discrepancy kind a CSV holds"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size" doc:"Bytes"`
	CreatedAt time.Time `json:"created_at"`
}

// ReconCounts are a run's numbers.
type ReconCounts struct {
	Lines           map[string]int64  `json:"lines" doc:"Input lines per report kind"`
	LinesByType     map[string]int64  `json:"lines_by_type" doc:"Input item lines per \"<report kind>/<transactionType>\""`
	Matched         int64             `json:"matched" doc:"Item lines matched to a ledger record"`
	RollForwardOnly int64             `json:"roll_forward_only" doc:"Fee, reserve, dispute and other lines, checked through batch totals only"`
	LedgerChecked   int64             `json:"ledger_checked" doc:"Our captures and refunds that had to be in the inputs"`
	Expected        int64             `json:"expected" doc:"Our captures and refunds settled in no report yet and not yet due"`
	Discrepancies   map[string]int64  `json:"discrepancies" doc:"Per kind"`
	Payouts         ReconPayoutCounts `json:"payouts" doc:"The payout check against the bank"`
}

// ReconPayoutCounts are a run's payout check numbers.
type ReconPayoutCounts struct {
	Expected          int64 `json:"expected" doc:"Batches of the run registered as expected payouts"`
	Matched           int64 `json:"matched" doc:"Links of bank credits to payouts the run made"`
	AwaitingStatement int64 `json:"awaiting_statement" doc:"Payouts due on the period whose account's statements do not reach the due date yet (judged by a later run of the period)"`
	Judged            int64 `json:"judged" doc:"Payouts due and credits booked on the period that were judged"`
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
	ID         int64            `json:"id" example:"7"`
	Period     string           `json:"period" format:"date" doc:"The date reconciled"`
	Request    ReconRunRequest  `json:"request"`
	Inputs     []ReconRunInput  `json:"inputs" nullable:"false"`
	Exports    []ReconRunExport `json:"exports,omitempty" doc:"Files the nightly export wrote for the run (only when one run is read)"`
	Status     string           `json:"status" enum:"QUEUED,RUNNING,SUCCEEDED,FAILED"`
	Phase      string           `json:"phase,omitempty" example:"matching"`
	Progress   int              `json:"progress" doc:"Percent"`
	Counts     ReconCounts      `json:"counts"`
	Totals     []ReconTotal     `json:"totals" nullable:"false"`
	Batches    []ReconBatch     `json:"batches" nullable:"false"`
	Diff       ReconDiff        `json:"diff"`
	Timings    ReconTimings     `json:"timings"`
	Actor      string           `json:"actor" doc:"Name of the API key that started it, or the scheduler"`
	Error      string           `json:"error,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	StartedAt  *time.Time       `json:"started_at,omitempty"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
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
			Expected: r.Counts.Expected, Discrepancies: kindCounts(r.Counts.Discrepancies),
			Payouts: ReconPayoutCounts(r.Counts.Payouts)},
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
	for _, e := range r.Exports {
		b.Exports = append(b.Exports, ReconRunExport{Name: filepath.Base(e.Path), Format: e.Format, Kind: string(e.Kind),
			SHA256: e.SHA256, Size: e.Size, CreatedAt: e.CreatedAt})
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
	Kind                  string          `json:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH,PAYOUT_NOT_RECEIVED,PAYOUT_AMOUNT_MISMATCH,PAYOUT_LATE,BANK_CREDIT_UNEXPLAINED,PAYOUT_DUPLICATED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH"`
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

// reportSpool reads a report upload of at most limit bytes (0: the
// operation's maxReportUpload): each `file` part, named as APO names its
// reports, goes to a temporary file in dir (the process's private
// temporary directory, which the next start empties if this process dies
// first). Names and the total size are checked first, so that a bad
// upload is refused before anything is ingested.
func reportSpool(dir string, limit int64) httpx.Spool {
	if limit <= 0 {
		limit = maxReportUpload
	}
	return httpx.Spool{Dir: dir, Pattern: "payops-report-*", Field: "file", Noun: "report file",
		MaxBytes: limit, MaxFiles: maxReportFiles, Name: reportFileName}
}

// reportFileName checks a part's file name: a safe base name
// (httpx.PartFileName) of at most 255 bytes naming an APO report, .csv or
// .xlsx. It returns the name, or why it is refused.
func reportFileName(p *multipart.Part) (name, reason string) {
	name, reason = httpx.PartFileName(p, maxReportName)
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

// parseProblems lists a file's bad lines as "<file>:<line>" entries.
func parseProblems(pe *recon.ParseError) []error {
	var out []error
	for _, p := range pe.Problems() {
		out = append(out, &huma.ErrorDetail{Location: p.Where, Message: p.Message})
	}
	return out
}

func (h reconAPI) uploadReports(ctx context.Context, _ *UploadReportsInput) (*ReconFilesOutput, error) {
	up, _ := ctx.Value(uploadBodyKey{}).(uploadBody)
	files, err := reportSpool(h.recon.TempDir(), up.limit).Read(up.contentType, up.body)
	defer httpx.RemoveSpooled(files)
	rec := uploadAudit{Files: make([]uploadAuditFile, len(files))}
	for i, f := range files {
		rec.Files[i] = uploadAuditFile{Name: f.Name, Size: f.Size}
	}
	if err != nil {
		recordAudit(ctx, h.log, h.audits, audit.ActionReconUpload, audit.ReconReportTarget(nil), rec, auditOutcome(err))
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "file"})
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
			rec.Files[i] = uploadAuditFile{Name: f.Name, Size: f.Size, ID: file.ID, SHA256: file.SHA256,
				Status: string(file.Status), Duplicate: file.Duplicate}
		}
		var (
			parse   *recon.ParseError
			invalid *recon.InvalidError
		)
		switch {
		case err == nil && file.Status == recon.FileFailed:
			// The same bad content again: it failed the first time.
			problems = append(problems, &huma.ErrorDetail{Location: f.Name,
				Message: "uploaded before and FAILED: " + file.Error})
			bad = append(bad, f.Name)
		case err == nil:
			out.Body.Files = append(out.Body.Files, reconFileBody(file))
			good = append(good, f.Name)
		case errors.As(err, &parse):
			problems = append(problems, parseProblems(parse)...)
			bad = append(bad, f.Name)
		case errors.As(err, &invalid):
			problems = append(problems, &huma.ErrorDetail{Location: "body.file[" + strconv.Itoa(i) + "]", Message: invalid.Error()})
			bad = append(bad, f.Name)
		default:
			recordAudit(ctx, h.log, h.audits, audit.ActionReconUpload, audit.ReconReportTarget(ids), rec, audit.OutcomeFailed)
			return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "file"})
		}
	}
	if len(problems) > 0 {
		recordAudit(ctx, h.log, h.audits, audit.ActionReconUpload, audit.ReconReportTarget(ids), rec, audit.OutcomeRejected)
		msg := "bad report file(s): " + strings.Join(bad, ", ")
		if len(good) > 0 {
			msg += "; ingested: " + strings.Join(good, ", ") + " (uploading them again is harmless)"
		}
		return nil, huma.Error422UnprocessableEntity(msg, problems...)
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionReconUpload, audit.ReconReportTarget(ids), rec, audit.OutcomeSucceeded)
	return out, nil
}

func (h reconAPI) ingest(ctx context.Context, f httpx.SpooledFile) (recon.File, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return recon.File{}, fmt.Errorf("open spooled upload: %w", err)
	}
	defer fh.Close()
	return h.recon.Ingest(ctx, f.Name, fh)
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
		recordAudit(ctx, h.log, h.audits, audit.ActionReconRunStart, "recon-run:", in.Body, audit.OutcomeRejected)
		return nil, err
	}
	run, err := h.recon.StartRun(ctx, req, actorName(ctx))
	if err != nil {
		recordAudit(ctx, h.log, h.audits, audit.ActionReconRunStart, "recon-run:", in.Body, auditOutcome(err))
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "file"})
	}
	if err := h.enqueue(ctx, run.ID); err != nil {
		// Nothing sweeps QUEUED runs: the service fails it, so no one waits for it.
		h.log.ErrorContext(ctx, "recon run not queued", "run_id", run.ID, "err", err,
			"request_id", httpx.RequestIDFromContext(ctx))
		if ferr := h.recon.FailUnqueued(ctx, run.ID, err); ferr != nil {
			h.log.ErrorContext(ctx, "recon run not marked failed", "run_id", run.ID, "err", ferr)
		}
		recordAudit(ctx, h.log, h.audits, audit.ActionReconRunStart, audit.ReconRunTarget(run.ID), in.Body, audit.OutcomeFailed)
		return nil, huma.Error503ServiceUnavailable("the run could not be queued; try again")
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionReconRunStart, audit.ReconRunTarget(run.ID), in.Body, audit.OutcomeSucceeded)
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
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "run"})
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
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "run"})
	}
	return &ReconRunOutput{Body: reconRunBody(run)}, nil
}

// ---- discrepancies ----

// ListDiscrepanciesInput filters and pages a run's discrepancies.
type ListDiscrepanciesInput struct {
	ID     int64  `path:"id" minimum:"1" doc:"The run's id"`
	Kind   string `query:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH,PAYOUT_NOT_RECEIVED,PAYOUT_AMOUNT_MISMATCH,PAYOUT_LATE,BANK_CREDIT_UNEXPLAINED,PAYOUT_DUPLICATED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH" doc:"Only this kind"`
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
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "run"})
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
	Status        string `query:"status" enum:"OPEN,RESOLVED,IGNORED" doc:"Only discrepancies in this status (OPEN: the worklist)"`
	Kind          string `query:"kind" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH,PAYOUT_NOT_RECEIVED,PAYOUT_AMOUNT_MISMATCH,PAYOUT_LATE,BANK_CREDIT_UNEXPLAINED,PAYOUT_DUPLICATED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH" doc:"Only this kind"`
	Currency      string `query:"currency" pattern:"^[A-Z]{3}$" example:"EUR" doc:"Only discrepancies whose amount (the report's, else ours) is in this currency"`
	MinAmount     int64  `query:"min_amount" minimum:"0" example:"100" doc:"Only amounts of at least this size (whatever the sign), in minor units of currency, which it needs"`
	MaxAmount     int64  `query:"max_amount" minimum:"0" example:"1000" doc:"Only amounts of at most this size (whatever the sign), in minor units of currency, which it needs"`
	PeriodFrom    string `query:"period_from" format:"date" example:"2024-03-01" doc:"Only periods (reconciled dates) from this date on"`
	PeriodTo      string `query:"period_to" format:"date" example:"2024-03-31" doc:"Only periods up to this date, inclusive"`
	OlderThanDays int    `query:"older_than_days" minimum:"1" example:"7" doc:"Only periods more than this many days before today (UTC)"`
	RunID         int64  `query:"run_id" minimum:"1" doc:"Only this run's; it must be its period's latest succeeded run"`
	Sort          string `query:"sort" enum:"age,amount,kind" doc:"Order of the list: age (the default; the order runs found them in), amount (the report's, else ours, with its sign, whatever the currency; none last) or kind; ties in id order. A cursor pages the order it came from"`
	Dir           string `query:"dir" enum:"asc,desc" doc:"Direction of sort; by default oldest first, largest amount first, kinds A to Z"`
	Cursor        string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit         int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`

	minAmount, maxAmount *int64 // the bounds given; Huma has no optional integer parameters
}

// Resolve records which amount bounds were given: max_amount=0 is a bound.
func (in *CurrentDiscrepanciesInput) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	q := u.Query()
	if q.Has("min_amount") {
		in.minAmount = &in.MinAmount
	}
	if q.Has("max_amount") {
		in.maxAmount = &in.MaxAmount
	}
	return nil
}

func (h reconAPI) currentDiscrepancies(ctx context.Context, in *CurrentDiscrepanciesInput) (*DiscrepancyListOutput, error) {
	f := recon.CurrentFilter{RunID: in.RunID, Kind: recon.Kind(in.Kind), Status: recon.Status(in.Status),
		Currency: in.Currency, MinMinor: in.minAmount, MaxMinor: in.maxAmount, OlderThanDays: in.OlderThanDays,
		Sort: in.Sort, Dir: in.Dir, Cursor: in.Cursor, Limit: in.Limit}
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
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "discrepancy"})
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
	d, err := h.recon.UpdateDiscrepancy(ctx, in.ID, recon.Status(in.Body.Status), in.Body.Note, actorName(ctx))
	recordAudit(ctx, h.log, h.audits, audit.ActionDiscrepancyUpdate, audit.DiscrepancyTarget(in.ID), in.Body, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "discrepancy"})
	}
	return &DiscrepancyOutput{Body: discrepancyBody(d)}, nil
}

// ReconDiscrepancyFilter selects among the current discrepancies, as GET
// /v1/recon/discrepancies does.
type ReconDiscrepancyFilter struct {
	Status        string `json:"status,omitempty" enum:"OPEN,RESOLVED,IGNORED" doc:"Only discrepancies in this status"`
	Kind          string `json:"kind,omitempty" enum:"MISSING_IN_LEDGER,MISSING_IN_REPORT,AMOUNT_MISMATCH,CURRENCY_MISMATCH,STATUS_MISMATCH,DUPLICATE_IN_REPORT,BATCH_TOTAL_MISMATCH,FX_MISMATCH,PAYOUT_NOT_RECEIVED,PAYOUT_AMOUNT_MISMATCH,PAYOUT_LATE,BANK_CREDIT_UNEXPLAINED,PAYOUT_DUPLICATED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH" doc:"Only this kind"`
	Currency      string `json:"currency,omitempty" pattern:"^[A-Z]{3}$" example:"EUR" doc:"Only discrepancies whose amount (the report's, else ours) is in this currency"`
	MinAmount     *int64 `json:"min_amount,omitempty" minimum:"0" example:"0" doc:"Only amounts of at least this size (whatever the sign), in minor units of currency, which it needs"`
	MaxAmount     *int64 `json:"max_amount,omitempty" minimum:"0" example:"100" doc:"Only amounts of at most this size (whatever the sign), in minor units of currency, which it needs"`
	PeriodFrom    string `json:"period_from,omitempty" format:"date" example:"2024-03-01" doc:"Only periods from this date on"`
	PeriodTo      string `json:"period_to,omitempty" format:"date" example:"2024-03-31" doc:"Only periods up to this date, inclusive"`
	OlderThanDays int    `json:"older_than_days,omitempty" minimum:"1" example:"30" doc:"Only periods more than this many days before today (UTC)"`
	RunID         int64  `json:"run_id,omitempty" minimum:"1" doc:"Only this run's; it must be its period's latest succeeded run"`
}

// currentFilter is the domain's filter; a date that does not parse is a
// problem at its place in the body.
func (f ReconDiscrepancyFilter) currentFilter() (recon.CurrentFilter, error) {
	out := recon.CurrentFilter{Status: recon.Status(f.Status), Kind: recon.Kind(f.Kind), Currency: f.Currency,
		MinMinor: f.MinAmount, MaxMinor: f.MaxAmount, OlderThanDays: f.OlderThanDays, RunID: f.RunID}
	for _, p := range []struct {
		name, value string
		to          *time.Time
	}{{"period_from", f.PeriodFrom, &out.PeriodFrom}, {"period_to", f.PeriodTo, &out.PeriodTo}} {
		if p.value == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, p.value)
		if err != nil {
			return out, huma.Error422UnprocessableEntity("invalid "+p.name,
				&huma.ErrorDetail{Location: "body.filter." + p.name, Message: "want YYYY-MM-DD"})
		}
		*p.to = d
	}
	return out, nil
}

// BulkDiscrepanciesBody selects discrepancies and says what to do with them.
type BulkDiscrepanciesBody struct {
	IDs    []int64                 `json:"ids,omitempty" doc:"These discrepancies (each must be its period's current row); or give filter"`
	Filter *ReconDiscrepancyFilter `json:"filter,omitempty" doc:"Every current discrepancy it selects; or give ids"`
	Status string                  `json:"status,omitempty" enum:"OPEN,RESOLVED,IGNORED" doc:"RESOLVED or IGNORED closes OPEN discrepancies; OPEN reopens closed ones. Required unless dry_run"`
	Note   string                  `json:"note,omitempty" maxLength:"2000" example:"below the write-off threshold, agreed with finance" doc:"Why; mandatory unless dry_run, kept with the actor on every discrepancy changed"`
	DryRun bool                    `json:"dry_run,omitempty" doc:"Only preview the selection: its count and amounts per currency. Nothing changes"`
}

// BulkDiscrepanciesInput is the request of bulk-update-recon-discrepancies.
type BulkDiscrepanciesInput struct {
	Body BulkDiscrepanciesBody
}

// ReconAmountTotal counts discrepancies of one currency and sums their
// amounts (the report's, else ours).
type ReconAmountTotal struct {
	Currency  string `json:"currency,omitempty" example:"EUR" doc:"Absent for discrepancies without an amount"`
	Count     int64  `json:"count"`
	Amount    *Money `json:"amount,omitempty" doc:"Sum of the amounts; absent without a currency"`
	Saturated bool   `json:"saturated,omitempty" doc:"The sum went beyond the int64 range of minor units and is shown at its bound"`
}

// BulkDiscrepanciesOutput is what a bulk change changed, or would change.
type BulkDiscrepanciesOutput struct {
	Body struct {
		DryRun bool               `json:"dry_run" doc:"true: a preview, nothing changed"`
		Count  int                `json:"count" doc:"Discrepancies selected (and, unless dry_run, changed)"`
		Totals []ReconAmountTotal `json:"totals" nullable:"false" doc:"Per currency"`
		IDs    []int64            `json:"ids,omitempty" doc:"The discrepancies changed, in id order; absent in a dry run"`
	}
}

// bulkAudit is what the audit log keeps of a bulk change: the request and
// the discrepancies it changed.
type bulkAudit struct {
	BulkDiscrepanciesBody
	Changed []int64 `json:"changed"`
}

func (h reconAPI) bulkDiscrepancies(ctx context.Context, in *BulkDiscrepanciesInput) (*BulkDiscrepanciesOutput, error) {
	sel := recon.Selection{IDs: in.Body.IDs}
	var err error
	if in.Body.Filter != nil {
		sel.Filter, err = in.Body.Filter.currentFilter()
	}
	out := &BulkDiscrepanciesOutput{}
	out.Body.DryRun = in.Body.DryRun
	var p recon.BulkPreview
	if in.Body.DryRun {
		if err == nil {
			p, err = h.recon.PreviewBulk(ctx, sel)
		}
	} else {
		var res recon.BulkResult
		if err == nil {
			res, err = h.recon.UpdateDiscrepancies(ctx, sel, recon.Status(in.Body.Status), in.Body.Note, actorName(ctx))
		}
		recordAudit(ctx, h.log, h.audits, audit.ActionDiscrepancyBulk, audit.DiscrepancyBulkTarget,
			bulkAudit{BulkDiscrepanciesBody: in.Body, Changed: res.IDs}, auditOutcome(err))
		p, out.Body.IDs = res.BulkPreview, res.IDs
	}
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "discrepancy"})
	}
	out.Body.Count = p.Count
	out.Body.Totals = make([]ReconAmountTotal, len(p.Totals))
	for i, t := range p.Totals {
		out.Body.Totals[i] = ReconAmountTotal{Currency: t.Currency, Count: t.Count,
			Amount: optionalMoney(t.AmountMinor, t.Currency), Saturated: t.Saturated}
	}
	return out, nil
}

// ---- exports ----

// ReconExportOutput streams a file.
type ReconExportOutput struct {
	Body func(huma.Context)
}

// ReconCSVInput names a run and a discrepancy kind's CSV.
type ReconCSVInput struct {
	ID   int64  `path:"id" minimum:"1" doc:"The run's id"`
	File string `path:"file" enum:"MISSING_IN_LEDGER.csv,MISSING_IN_REPORT.csv,AMOUNT_MISMATCH.csv,CURRENCY_MISMATCH.csv,STATUS_MISMATCH.csv,DUPLICATE_IN_REPORT.csv,BATCH_TOTAL_MISMATCH.csv,FX_MISMATCH.csv,PAYOUT_NOT_RECEIVED.csv,PAYOUT_AMOUNT_MISMATCH.csv,PAYOUT_LATE.csv,BANK_CREDIT_UNEXPLAINED.csv,PAYOUT_DUPLICATED.csv,JOURNAL_UNBALANCED.csv,JOURNAL_ROLLFORWARD_MISMATCH.csv" doc:"<discrepancy kind>.csv"`
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
		return httpErrorAt(ctx, h.log, err, at{in: "path", what: "run"})
	}
	if run.Status != recon.RunSucceeded {
		return huma.Error409Conflict(fmt.Sprintf("run %d is %s; only a succeeded run can be exported", id, run.Status))
	}
	return nil
}

// download streams write's output as an attachment (httpx.Download): a
// failure before the first byte is still the bare 500 problem, a failure
// after cuts the response short. Either is logged.
func (h reconAPI) download(contentType, filename string, write func(context.Context, io.Writer) error) *ReconExportOutput {
	return &ReconExportOutput{Body: func(hctx huma.Context) {
		ctx := hctx.Context()
		err := httpx.Download(hctx, contentType, filename, func(w io.Writer) error {
			err := write(ctx, w)
			if err != nil {
				h.log.ErrorContext(ctx, "export failed", "err", err, "file", filename,
					"request_id", httpx.RequestIDFromContext(ctx))
			}
			return err
		})
		if err != nil {
			writeInternalError(h.api, hctx)
		}
	}}
}
