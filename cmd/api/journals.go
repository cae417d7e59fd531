package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/journal"
)

// maxChartUpload bounds a chart-of-accounts file; journal.ParseAccounts
// has its own, smaller limits per row and field.
const maxChartUpload = 4 << 20

// journalsAPI is what the journal handlers need.
type journalsAPI struct {
	edge
	api      huma.API // to write problems from inside a streamed download
	journals *journal.Service
}

// exportFormats maps the API's format names onto journal's layouts.
var exportFormats = map[string]journal.Format{"generic": journal.FormatCSV, "xero": journal.FormatXero,
	"qbo": journal.FormatQuickBooks, "netsuite": journal.FormatNetSuite}

// ---- response types ----

// JournalLine is one line of a journal, on one side.
type JournalLine struct {
	Kind        string `json:"kind" example:"CAPTURE_GROSS"`
	Debit       *Money `json:"debit,omitempty"`
	Credit      *Money `json:"credit,omitempty"`
	Items       int64  `json:"items" doc:"Settlement lines behind it"`
	Description string `json:"description"`
}

// Journal is a settlement batch's journal, or an adjustment of one.
type Journal struct {
	ID               int64         `json:"id"`
	Type             string        `json:"type" enum:"SETTLEMENT,RECEIPT" doc:"SETTLEMENT books the batch's settlement lines; RECEIPT the bank credit that paid its payout (dated the credit's booking date)"`
	BatchID          string        `json:"batch_id"`
	Currency         string        `json:"currency" example:"USD"`
	Date             string        `json:"date" format:"date" doc:"The settlement date of the run that built it; for an adjustment, the first day of the open month it was booked in"`
	RunID            int64         `json:"run_id" doc:"The recon run that built it"`
	Status           string        `json:"status" enum:"BALANCED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH" doc:"BALANCED, or the finding that kept the batch from being journaled (reason says why)"`
	Reason           string        `json:"reason,omitempty"`
	Payout           Money         `json:"payout" doc:"The batch's payout (for an adjustment, its change)"`
	Items            int64         `json:"items" doc:"Settlement lines behind it"`
	AdjustsJournalID int64         `json:"adjusts_journal_id,omitempty" doc:"Set on an adjustment: the journal of a closed month it adjusts"`
	BuiltAt          time.Time     `json:"built_at"`
	Lines            []JournalLine `json:"lines,omitempty" doc:"When one journal is read; absent in lists"`
}

func journalBody(j journal.Journal) Journal {
	b := Journal{ID: j.ID, Type: string(j.Type), BatchID: j.BatchID, Currency: j.Currency, Date: dateString(j.Period), RunID: j.RunID,
		Status: j.Status, Reason: j.Reason, Payout: Money{Value: j.Payout, Currency: j.Currency}, Items: j.Items,
		AdjustsJournalID: j.AdjustsID, BuiltAt: j.BuiltAt}
	for _, l := range j.Lines {
		b.Lines = append(b.Lines, JournalLine{Kind: string(l.Kind), Debit: lineSide(l.Debit, j.Currency),
			Credit: lineSide(l.Credit, j.Currency), Items: l.Items, Description: l.Description})
	}
	return b
}

// lineSide is one side of a line: absent when the line is on the other.
func lineSide(minor int64, ccy string) *Money {
	if minor == 0 {
		return nil
	}
	return &Money{Value: minor, Currency: ccy}
}

// ---- journals ----

// ListJournalsInput filters and pages journals.
type ListJournalsInput struct {
	PeriodFrom string `query:"period_from" format:"date" example:"2026-12-01" doc:"Only journals dated from this day"`
	PeriodTo   string `query:"period_to" format:"date" example:"2026-12-31" doc:"Only journals dated up to this day"`
	Status     string `query:"status" enum:"BALANCED,JOURNAL_UNBALANCED,JOURNAL_ROLLFORWARD_MISMATCH"`
	BatchID    string `query:"batch_id" maxLength:"200" doc:"Only this batch's journal and its adjustments"`
	Cursor     string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// JournalListOutput is one page of journals.
type JournalListOutput struct {
	Body struct {
		Items      []Journal `json:"items" nullable:"false"`
		NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h journalsAPI) list(ctx context.Context, in *ListJournalsInput) (*JournalListOutput, error) {
	f := journal.Filter{Status: in.Status, BatchID: in.BatchID, Cursor: in.Cursor, Limit: in.Limit}
	var err error
	if f.From, err = queryDate("period_from", in.PeriodFrom); err != nil {
		return nil, err
	}
	if f.To, err = queryDate("period_to", in.PeriodTo); err != nil {
		return nil, err
	}
	page, err := h.journals.List(ctx, f)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "journal"})
	}
	out := &JournalListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]Journal, len(page.Items))
	for i, j := range page.Items {
		out.Body.Items[i] = journalBody(j)
	}
	return out, nil
}

// queryDate reads an optional YYYY-MM-DD query parameter.
func queryDate(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, queryError(name, "want YYYY-MM-DD")
	}
	return d, nil
}

// JournalIDInput names a journal.
type JournalIDInput struct {
	ID int64 `path:"id" minimum:"1" doc:"The journal's id"`
}

// JournalOutput is a journal with its lines.
type JournalOutput struct {
	Body Journal
}

func (h journalsAPI) get(ctx context.Context, in *JournalIDInput) (*JournalOutput, error) {
	j, err := h.journals.Get(ctx, in.ID)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "journal"})
	}
	return &JournalOutput{Body: journalBody(j)}, nil
}

// BuildJournalsInput names a run to build the journals of.
type BuildJournalsInput struct {
	Body struct {
		RunID int64 `json:"run_id" minimum:"1" doc:"A succeeded recon run"`
	}
}

// JournalBuildResult is what building did with one batch.
type JournalBuildResult struct {
	Type      string `json:"type" enum:"SETTLEMENT,RECEIPT"`
	BatchID   string `json:"batch_id"`
	Currency  string `json:"currency"`
	JournalID int64  `json:"journal_id" doc:"The batch's journal, or the adjustment written"`
	Outcome   string `json:"outcome" enum:"BUILT,UNCHANGED,SUPERSEDED,BOOKED_ELSEWHERE,ADJUSTED,LOCKED"`
	Finding   string `json:"finding,omitempty" doc:"Why the batch could not be journaled"`
	Reason    string `json:"reason,omitempty"`
}

// BuildJournalsOutput is what a build did.
type BuildJournalsOutput struct {
	Body struct {
		Results []JournalBuildResult `json:"results" nullable:"false"`
	}
}

func (h journalsAPI) build(ctx context.Context, in *BuildJournalsInput) (*BuildJournalsOutput, error) {
	res, err := h.journals.BuildRun(ctx, in.Body.RunID)
	recordAudit(ctx, h.log, h.audits, audit.ActionJournalBuild, audit.ReconRunTarget(in.Body.RunID), in.Body, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "run"})
	}
	out := &BuildJournalsOutput{}
	out.Body.Results = make([]JournalBuildResult, len(res))
	for i, r := range res {
		out.Body.Results[i] = JournalBuildResult{Type: string(r.Type), BatchID: r.BatchID, Currency: r.Currency, JournalID: r.JournalID,
			Outcome: string(r.Outcome)}
		if r.Finding != nil {
			out.Body.Results[i].Finding, out.Body.Results[i].Reason = string(r.Finding.Kind), r.Finding.Reason
		}
	}
	return out, nil
}

// ExportJournalsInput is a period and a layout.
type ExportJournalsInput struct {
	PeriodFrom string `query:"period_from" required:"true" format:"date" example:"2026-12-01"`
	PeriodTo   string `query:"period_to" required:"true" format:"date" example:"2026-12-31"`
	Format     string `query:"format" required:"true" enum:"generic,xero,qbo,netsuite"`
	Currency   string `query:"currency" pattern:"^[A-Z]{3}$" doc:"Only this currency's journals (Xero and QuickBooks files hold one)"`
	DayFirst   bool   `query:"day_first" doc:"QuickBooks and NetSuite: dd/mm/yyyy instead of mm/dd/yyyy"`
}

// JournalExportOutput is a streamed file.
type JournalExportOutput struct {
	Body func(huma.Context)
}

func (h journalsAPI) export(ctx context.Context, in *ExportJournalsInput) (*JournalExportOutput, error) {
	req := journal.ExportRequest{Format: exportFormats[in.Format], Currency: in.Currency, DayFirst: in.DayFirst}
	var err error
	if req.From, err = queryDate("period_from", in.PeriodFrom); err != nil {
		return nil, err
	}
	if req.To, err = queryDate("period_to", in.PeriodTo); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("journals-%s-%s-%s.csv", in.PeriodFrom, in.PeriodTo, in.Format)
	return &JournalExportOutput{Body: func(hctx huma.Context) {
		ctx := hctx.Context()
		err := httpx.Download(hctx, csvContentType, name, func(w io.Writer) error {
			_, err := h.journals.Export(ctx, w, req)
			return err
		})
		if err == nil {
			return
		}
		// Export checks everything before its first byte, so a refusal is
		// still a problem document, not a broken download.
		var model *huma.ErrorModel
		if !errors.As(httpErrorAt(ctx, h.log, err, at{in: "query", what: "journal"}), &model) {
			writeInternalError(h.api, hctx)
			return
		}
		details := make([]error, len(model.Errors))
		for i, d := range model.Errors {
			details[i] = d
		}
		_ = huma.WriteErr(h.api, hctx, model.Status, model.Detail, details...)
	}}, nil
}

// ---- chart of accounts ----

// JournalAccount is one row of the chart of accounts.
type JournalAccount struct {
	Kind           string `json:"kind" example:"CAPTURE_GROSS"`
	Currency       string `json:"currency,omitempty" doc:"Absent: every currency"`
	AccountCode    string `json:"account_code" example:"1210"`
	AccountName    string `json:"account_name,omitempty"`
	TaxCode        string `json:"tax_code,omitempty"`
	TrackingName   string `json:"tracking_name,omitempty"`
	TrackingOption string `json:"tracking_option,omitempty"`
}

// JournalAccountsOutput is the chart.
type JournalAccountsOutput struct {
	Body struct {
		Items []JournalAccount `json:"items" nullable:"false"`
	}
}

func accountsBody(accounts []journal.Account) *JournalAccountsOutput {
	out := &JournalAccountsOutput{}
	out.Body.Items = make([]JournalAccount, len(accounts))
	for i, a := range accounts {
		out.Body.Items[i] = JournalAccount{Kind: string(a.Kind), Currency: a.Currency, AccountCode: a.Code,
			AccountName: a.Name, TaxCode: a.TaxCode, TrackingName: a.TrackingName, TrackingOption: a.TrackingOption}
	}
	return out
}

func (h journalsAPI) accounts(ctx context.Context, _ *struct{}) (*JournalAccountsOutput, error) {
	accounts, err := h.journals.Accounts(ctx)
	if err != nil {
		return nil, httpError(ctx, h.log, err)
	}
	return accountsBody(accounts), nil
}

// PutJournalAccountsInput is a mapping file.
type PutJournalAccountsInput struct {
	RawBody []byte `contentType:"text/csv" required:"true" doc:"The chart-of-accounts CSV (columns in docs/journal-exports.md)"`
}

// chartAudit is what the audit log keeps of a chart upload: its size and
// rows, not its content.
type chartAudit struct {
	Bytes int `json:"bytes"`
	Rows  int `json:"rows"`
}

func (h journalsAPI) putAccounts(ctx context.Context, in *PutJournalAccountsInput) (*JournalAccountsOutput, error) {
	accounts, err := h.journals.LoadAccounts(ctx, bytes.NewReader(in.RawBody))
	recordAudit(ctx, h.log, h.audits, audit.ActionJournalAccountsReplace, audit.JournalAccountsTarget,
		chartAudit{Bytes: len(in.RawBody), Rows: len(accounts)}, auditOutcome(err))
	if err != nil {
		return nil, httpError(ctx, h.log, err)
	}
	return accountsBody(accounts), nil
}

// ---- periods ----

// JournalPeriod is an accounting period: a calendar month.
type JournalPeriod struct {
	Month        string     `json:"month" example:"2026-11"`
	Status       string     `json:"status" enum:"OPEN,CLOSED"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	ClosedBy     string     `json:"closed_by,omitempty"`
	ReopenedAt   *time.Time `json:"reopened_at,omitempty"`
	ReopenedBy   string     `json:"reopened_by,omitempty"`
	ReopenReason string     `json:"reopen_reason,omitempty"`
}

func periodBody(p journal.Period) JournalPeriod {
	return JournalPeriod{Month: p.Month.Format("2006-01"), Status: string(p.Status), ClosedAt: p.ClosedAt,
		ClosedBy: p.ClosedBy, ReopenedAt: p.ReopenedAt, ReopenedBy: p.ReopenedBy, ReopenReason: p.ReopenReason}
}

// JournalPeriodsOutput lists periods.
type JournalPeriodsOutput struct {
	Body struct {
		Items []JournalPeriod `json:"items" nullable:"false"`
	}
}

func (h journalsAPI) periods(ctx context.Context, _ *struct{}) (*JournalPeriodsOutput, error) {
	ps, err := h.journals.Periods(ctx)
	if err != nil {
		return nil, httpError(ctx, h.log, err)
	}
	out := &JournalPeriodsOutput{}
	out.Body.Items = make([]JournalPeriod, len(ps))
	for i, p := range ps {
		out.Body.Items[i] = periodBody(p)
	}
	return out, nil
}

// ClosePeriodInput names a month.
type ClosePeriodInput struct {
	Month string `path:"month" pattern:"^[0-9]{4}-[0-9]{2}$" example:"2026-11"`
}

// JournalPeriodOutput is a period.
type JournalPeriodOutput struct {
	Body JournalPeriod
}

func (h journalsAPI) closePeriod(ctx context.Context, in *ClosePeriodInput) (*JournalPeriodOutput, error) {
	month, err := journal.ParseMonth(in.Month)
	var p journal.Period
	if err == nil {
		p, err = h.journals.ClosePeriod(ctx, month, actorName(ctx))
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionJournalPeriodClose, audit.JournalPeriodTarget(in.Month), nil, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "period"})
	}
	return &JournalPeriodOutput{Body: periodBody(p)}, nil
}

// ReopenPeriodInput names a month and says why.
type ReopenPeriodInput struct {
	Month string `path:"month" pattern:"^[0-9]{4}-[0-9]{2}$" example:"2026-11"`
	Body  struct {
		Reason string `json:"reason" minLength:"1" maxLength:"2000" doc:"Why; mandatory, kept with the period and in the audit log"`
	}
}

func (h journalsAPI) reopenPeriod(ctx context.Context, in *ReopenPeriodInput) (*JournalPeriodOutput, error) {
	month, err := journal.ParseMonth(in.Month)
	var p journal.Period
	if err == nil {
		p, err = h.journals.ReopenPeriod(ctx, month, actorName(ctx), strings.TrimSpace(in.Body.Reason))
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionJournalPeriodReopen, audit.JournalPeriodTarget(in.Month), in.Body, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "period"})
	}
	return &JournalPeriodOutput{Body: periodBody(p)}, nil
}

// journalProblem answers the journal package's errors. An unmapped kind
// is the chart's fault (422); journals the period holds that could not be
// built are a state the request conflicts with (409). Each names what.
func journalProblem(_ context.Context, _ *slog.Logger, err error, where at) error {
	var (
		invalid  *journal.InvalidError
		file     *journal.FileError
		unmapped *journal.UnmappedError
		blocked  *journal.BlockedError
	)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return huma.Error404NotFound(where.what + " not found")
	case errors.Is(err, journal.ErrPeriodState):
		return huma.Error409Conflict(err.Error())
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: where.in + "." + invalid.Field,
			Message: invalid.Reason})
	case errors.As(err, &file):
		return huma.Error422UnprocessableEntity(file.Error(), &huma.ErrorDetail{
			Location: fmt.Sprintf("body:%d", file.Line), Message: file.Reason})
	case errors.As(err, &unmapped):
		details := make([]error, len(unmapped.Missing))
		for i, m := range unmapped.Missing {
			msg := "no account mapped"
			if m.Field != "" {
				msg = "its account has no " + m.Field
			}
			details[i] = &huma.ErrorDetail{Location: "chart." + string(m.Kind) + "." + m.Currency, Message: msg,
				Value: string(m.Kind)}
		}
		return huma.Error422UnprocessableEntity(unmapped.Error(), details...)
	case errors.As(err, &blocked):
		details := make([]error, len(blocked.Findings))
		for i, f := range blocked.Findings {
			details[i] = &huma.ErrorDetail{Location: "batch." + f.BatchID + "." + f.Currency, Message: string(f.Kind) +
				": " + f.Reason, Value: f.BatchID}
		}
		return huma.Error409Conflict(blocked.Error(), details...)
	}
	return nil
}
