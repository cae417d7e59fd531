package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/disputes"
)

// maxDueWithin bounds the due_within filter.
const maxDueWithin = 400 * 24 * time.Hour

// maxDefenseBody bounds a defence upload: the document (at most
// disputes.MaxEvidenceBytes) plus room for the multipart framing. Anything
// larger is refused with 413 before it is read whole.
const maxDefenseBody = disputes.MaxEvidenceBytes + 64<<10

// ---- response types ----

// Dispute is a dispute as the API shows it.
type Dispute struct {
	ID                string           `json:"id" format:"uuid" doc:"payops' id"`
	DisputeID         string           `json:"dispute_id" example:"202611231940108001001888D0000000001" doc:"APO's disputeId"`
	Status            string           `json:"status" enum:"OPEN,DEFENSE_SUPPLIED,ACCEPTED,WON,LOST,CANCELLED,EXPIRED_UNDEFENDED" example:"OPEN"`
	PaymentID         string           `json:"payment_id,omitempty" format:"uuid" doc:"payops' payment id; absent when the payment is unknown to payops"`
	APOPaymentID      string           `json:"apo_payment_id,omitempty" doc:"APO's paymentId"`
	PaymentRequestID  string           `json:"payment_request_id,omitempty"`
	CaptureID         string           `json:"capture_id,omitempty"`
	Type              string           `json:"type,omitempty" example:"CHARGEBACK" doc:"CHARGEBACK, RETRIEVAL_REQUEST or COMPLIANCE_REQUEST, as APO sent it"`
	ReasonCode        string           `json:"reason_code,omitempty" example:"4853" doc:"The scheme's reason code"`
	ReasonMessage     string           `json:"reason_message,omitempty" example:"Cardholder Dispute"`
	Scheme            string           `json:"scheme,omitempty" example:"Mastercard" doc:"APO's disputeSource"`
	ARN               string           `json:"arn,omitempty"`
	Amount            *Money           `json:"amount,omitempty" doc:"Disputed amount; absent until APO sends it"`
	DisputeTime       *time.Time       `json:"dispute_time,omitempty"`
	DefenseDueTime    *time.Time       `json:"defense_due_time,omitempty" doc:"Defend or accept before this"`
	Defendable        *bool            `json:"defendable,omitempty" doc:"As APO said; absent when it did not"`
	AutoDefendReason  string           `json:"auto_defend_reason,omitempty"`
	JudgedResult      string           `json:"judged_result,omitempty" example:"VALIDATE_FAIL"`
	JudgedAmount      *Money           `json:"judged_amount,omitempty"`
	JudgedTime        *time.Time       `json:"judged_time,omitempty"`
	AcceptReason      string           `json:"accept_reason,omitempty" example:"MERCHANT_ACCEPTED"`
	AcceptTime        *time.Time       `json:"accept_time,omitempty"`
	LostAmount        *Money           `json:"lost_amount,omitempty" doc:"What the dispute cost, once ACCEPTED or LOST"`
	DefenseSuppliedAt *time.Time       `json:"defense_supplied_at,omitempty"`
	DefenseActor      string           `json:"defense_actor,omitempty" doc:"Name of the API key that sent the defence"`
	Evidence          *DisputeEvidence `json:"evidence,omitempty" doc:"The defence document sent"`
	NeedsAttention    bool             `json:"needs_attention" doc:"Something about this dispute needs a person (unknown payment, conflicting notifications)"`
	AttentionReason   string           `json:"attention_reason,omitempty"`
	LastNotification  string           `json:"last_notification,omitempty" example:"DISPUTE_CREATED"`
	AcquirerInfo      json.RawMessage  `json:"acquirer_info,omitempty" doc:"APO's acquirerInfo (redacted)"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
}

// DisputeEvidence describes a stored defence document.
type DisputeEvidence struct {
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type" example:"application/pdf"`
	Size        int    `json:"size" doc:"Bytes"`
}

func disputeBody(d disputes.Dispute) Dispute {
	b := Dispute{
		ID: d.ID, DisputeID: d.APODisputeID, Status: string(d.Status), PaymentID: d.PaymentID,
		APOPaymentID: d.APOPaymentID, PaymentRequestID: d.PaymentRequestID, CaptureID: d.CaptureID, Type: d.Type,
		ReasonCode: d.ReasonCode, ReasonMessage: d.ReasonMessage, Scheme: d.Source, ARN: d.ARN,
		Amount: optionalMoney(d.Amount.Minor, d.Amount.Currency), DisputeTime: d.DisputeTime,
		DefenseDueTime: d.DefenseDue, Defendable: d.Defendable, AutoDefendReason: d.AutoDefendReason,
		JudgedResult: d.JudgedResult, JudgedTime: d.JudgedTime, AcceptReason: d.AcceptReason,
		AcceptTime: d.AcceptTime, DefenseSuppliedAt: d.DefenseAt, DefenseActor: d.DefenseActor,
		NeedsAttention: d.NeedsAttention, AttentionReason: d.AttentionReason, LastNotification: d.LastNotification,
		AcquirerInfo: redactedJSON(d.AcquirerInfo), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if d.JudgedAmount != nil {
		b.JudgedAmount = optionalMoney(d.JudgedAmount.Minor, d.JudgedAmount.Currency)
	}
	if d.Status == disputes.StatusAccepted || d.Status == disputes.StatusLost {
		ccy := d.Amount.Currency
		if ccy == "" && d.JudgedAmount != nil {
			ccy = d.JudgedAmount.Currency
		}
		b.LostAmount = optionalMoney(d.LostMinor, ccy)
	}
	if e := d.Evidence; e != nil {
		b.Evidence = &DisputeEvidence{SHA256: e.SHA256, ContentType: e.ContentType, Size: e.Size}
	}
	return b
}

// DisputeOutput is a dispute.
type DisputeOutput struct {
	Body Dispute
}

// ---- list ----

// ListDisputesInput filters and pages disputes.
type ListDisputesInput struct {
	Status    string `query:"status" enum:"OPEN,DEFENSE_SUPPLIED,ACCEPTED,WON,LOST,CANCELLED,EXPIRED_UNDEFENDED" doc:"Only disputes in this status"`
	DueWithin string `query:"due_within" example:"48h" doc:"Only OPEN disputes whose defence is due within this duration (Go duration such as 48h, or days such as 7d; overdue ones included)"`
	Reason    string `query:"reason" maxLength:"64" example:"4853" doc:"Only disputes with this scheme reason code"`
	Scheme    string `query:"scheme" maxLength:"64" example:"Visa" doc:"Only disputes from this card scheme (case-insensitive)"`
	PaymentID string `query:"payment_id" format:"uuid" doc:"Only disputes of this payment (payops' id)"`
	Cursor    string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit     int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// DisputeListOutput is one page of disputes.
type DisputeListOutput struct {
	Body struct {
		Items      []Dispute `json:"items" nullable:"false"`
		NextCursor string    `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

// parseWithin reads a positive duration: Go's syntax ("48h", "90m") or
// whole days ("7d").
func parseWithin(s string) (time.Duration, bool) {
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

func listDisputes(log *slog.Logger, d *disputes.Service) func(context.Context, *ListDisputesInput) (*DisputeListOutput, error) {
	return func(ctx context.Context, in *ListDisputesInput) (*DisputeListOutput, error) {
		f := disputes.Filter{Status: disputes.Status(in.Status), ReasonCode: in.Reason, Source: in.Scheme,
			PaymentID: in.PaymentID, Cursor: in.Cursor, Limit: in.Limit}
		if in.DueWithin != "" {
			w, ok := parseWithin(in.DueWithin)
			if !ok {
				return nil, huma.Error422UnprocessableEntity("invalid query parameter due_within",
					&huma.ErrorDetail{Location: "query.due_within", Message: "want a positive duration of at most 400d, e.g. 48h or 7d", Value: in.DueWithin})
			}
			f.DueBefore = time.Now().Add(w)
		}
		page, err := d.List(ctx, f)
		if err != nil {
			return nil, httpErrorAt(ctx, log, err, at{in: "query"})
		}
		out := &DisputeListOutput{}
		out.Body.NextCursor = page.Next
		out.Body.Items = make([]Dispute, len(page.Items))
		for i, it := range page.Items {
			out.Body.Items[i] = disputeBody(it)
		}
		return out, nil
	}
}

// ---- get ----

// DisputeIDInput names a dispute.
type DisputeIDInput struct {
	ID string `path:"id" format:"uuid" doc:"payops' id of the dispute"`
}

// DisputeEvent is one entry of a dispute's history.
type DisputeEvent struct {
	ID           int64           `json:"id"`
	Source       string          `json:"source" enum:"notification,api,watchdog" example:"notification"`
	Kind         string          `json:"kind" example:"DISPUTE_CREATED" doc:"The notification type, or accept, defense, expired"`
	StatusBefore string          `json:"status_before,omitempty"`
	StatusAfter  string          `json:"status_after,omitempty"`
	Applied      bool            `json:"applied" doc:"false: recorded only (a replay, stale, or conflicting)"`
	Note         string          `json:"note,omitempty"`
	Actor        string          `json:"actor,omitempty" doc:"Name of the API key, for actions"`
	Payload      json.RawMessage `json:"payload,omitempty" doc:"The notification or APO's answer (redacted)"`
	CreatedAt    time.Time       `json:"created_at"`
}

// DisputePayment is what a defence needs to know about the disputed
// payment.
type DisputePayment struct {
	Payment
	ThreeDSResult json.RawMessage `json:"three_ds_result,omitempty" doc:"APO's 3DS result (redacted)"`
	AVSResult     string          `json:"avs_result,omitempty"`
	CVVResult     string          `json:"cvv_result,omitempty"`
	Transactions  []Transaction   `json:"transactions" nullable:"false" doc:"Oldest first"`
	Timeline      []TimelineEvent `json:"timeline" nullable:"false" doc:"Everything payops learned about the payment, oldest first"`
}

// DisputeDetailOutput is a dispute with its history and its payment.
type DisputeDetailOutput struct {
	Body struct {
		Dispute
		History []DisputeEvent  `json:"history" nullable:"false" doc:"Every notification and action, oldest first"`
		Payment *DisputePayment `json:"payment,omitempty" doc:"Absent when the payment is unknown to payops"`
	}
}

func getDispute(log *slog.Logger, d *disputes.Service) func(context.Context, *DisputeIDInput) (*DisputeDetailOutput, error) {
	return func(ctx context.Context, in *DisputeIDInput) (*DisputeDetailOutput, error) {
		det, err := d.Get(ctx, in.ID)
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &DisputeDetailOutput{}
		out.Body.Dispute = disputeBody(det.Dispute)
		out.Body.History = make([]DisputeEvent, len(det.Events))
		for i, e := range det.Events {
			out.Body.History[i] = DisputeEvent{ID: e.ID, Source: string(e.Source), Kind: e.Kind,
				StatusBefore: string(e.StatusBefore), StatusAfter: string(e.StatusAfter), Applied: e.Applied,
				Note: e.Note, Actor: e.Actor, Payload: redactedJSON(e.Payload), CreatedAt: e.CreatedAt}
		}
		if pd := det.Payment; pd != nil {
			p := &DisputePayment{Payment: paymentBody(pd.Payment), ThreeDSResult: redactedJSON(pd.Payment.ThreeDS),
				AVSResult: pd.Payment.AVSResult, CVVResult: pd.Payment.CVVResult,
				Transactions: make([]Transaction, len(pd.Transactions)), Timeline: make([]TimelineEvent, len(pd.Events))}
			for i, t := range pd.Transactions {
				p.Transactions[i] = transactionBody(t)
			}
			for i, e := range pd.Events {
				p.Timeline[i] = timelineBody(e)
			}
			out.Body.Payment = p
		}
		return out, nil
	}
}

// ---- accept ----

// AcceptDisputeInput concedes a dispute.
type AcceptDisputeInput struct {
	ID   string `path:"id" format:"uuid" doc:"payops' id of the dispute"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"500" example:"goods were not delivered" doc:"Why the dispute is accepted (kept in the history and the audit log)"`
	}
}

func acceptDispute(log *slog.Logger, audits *audit.Store, d *disputes.Service) func(context.Context, *AcceptDisputeInput) (*DisputeOutput, error) {
	return func(ctx context.Context, in *AcceptDisputeInput) (*DisputeOutput, error) {
		dp, err := d.Accept(ctx, in.ID, in.Body.Reason, actorName(ctx))
		recordAudit(ctx, log, audits, audit.ActionDisputeAccept, audit.DisputeTarget(in.ID), in.Body, auditOutcome(err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return &DisputeOutput{Body: disputeBody(dp)}, nil
	}
}

// ---- defend ----

// DefendDisputeInput carries the multipart upload. The body is read raw
// (within MaxBodyBytes) and parsed here, so the Idempotency-Key guard can
// hash it like any other body.
type DefendDisputeInput struct {
	ID      string `path:"id" format:"uuid" doc:"payops' id of the dispute"`
	RawBody []byte `contentType:"multipart/form-data"`
}

// defenseAuditInput is what the audit log keeps of an upload: never the
// document.
type defenseAuditInput struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int    `json:"size"`
}

type contentTypeKey struct{}

// keepContentType puts the request's Content-Type (the multipart boundary)
// where the handler can read it, without declaring it as a parameter.
func keepContentType(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, contentTypeKey{}, ctx.Header("Content-Type")))
}

// uploadedFile finds the form field "file" in a multipart body.
func uploadedFile(contentType string, body []byte) (name, partType string, doc []byte, err error) {
	mt, params, perr := mime.ParseMediaType(contentType)
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", "", nil, huma.Error422UnprocessableEntity("the body must be multipart/form-data with a file field",
			&huma.ErrorDetail{Location: "header.Content-Type", Message: "want multipart/form-data; boundary=…", Value: contentType})
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, perr := mr.NextPart()
		if perr == io.EOF {
			break
		}
		if perr != nil {
			return "", "", nil, huma.Error422UnprocessableEntity("unreadable multipart body",
				&huma.ErrorDetail{Location: "body", Message: perr.Error()})
		}
		if p.FormName() != "file" {
			continue
		}
		// One byte over the limit is enough to refuse it.
		doc, rerr := io.ReadAll(io.LimitReader(p, disputes.MaxEvidenceBytes+1))
		if rerr != nil {
			return "", "", nil, huma.Error422UnprocessableEntity("unreadable multipart body",
				&huma.ErrorDetail{Location: "body.file", Message: rerr.Error()})
		}
		// The name and type are only recorded (audit), but as text: the
		// client's bytes may be anything.
		return asText(p.FileName(), 255), asText(p.Header.Get("Content-Type"), 255), doc, nil
	}
	return "", "", nil, huma.Error422UnprocessableEntity("the file field is missing",
		&huma.ErrorDetail{Location: "body.file", Message: "required"})
}

// asText makes s storable text of at most n bytes: invalid UTF-8 becomes
// U+FFFD and NUL is dropped (PostgreSQL refuses both).
func asText(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

func defendDispute(log *slog.Logger, audits *audit.Store, d *disputes.Service) func(context.Context, *DefendDisputeInput) (*DisputeOutput, error) {
	return func(ctx context.Context, in *DefendDisputeInput) (*DisputeOutput, error) {
		ct, _ := ctx.Value(contentTypeKey{}).(string)
		name, partType, doc, err := uploadedFile(ct, in.RawBody)
		if err != nil {
			recordAudit(ctx, log, audits, audit.ActionDisputeDefend, audit.DisputeTarget(in.ID), defenseAuditInput{}, audit.OutcomeRejected)
			return nil, err
		}
		dp, err := d.Defend(ctx, in.ID, doc, partType, actorName(ctx))
		recordAudit(ctx, log, audits, audit.ActionDisputeDefend, audit.DisputeTarget(in.ID),
			defenseAuditInput{Filename: name, ContentType: partType, Size: len(doc)}, auditOutcome(err))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return &DisputeOutput{Body: disputeBody(dp)}, nil
	}
}

// ---- evidence template ----

// EvidenceTemplateOutput is the template file.
type EvidenceTemplateOutput struct {
	ContentType        string `header:"Content-Type" doc:"application/pdf, or a Word type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func getEvidenceTemplate(log *slog.Logger, d *disputes.Service) func(context.Context, *DisputeIDInput) (*EvidenceTemplateOutput, error) {
	return func(ctx context.Context, in *DisputeIDInput) (*EvidenceTemplateOutput, error) {
		doc, err := d.EvidenceTemplate(ctx, in.ID)
		if err != nil {
			return nil, httpError(ctx, log, err)
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
		return &EvidenceTemplateOutput{ContentType: doc.ContentType,
			ContentDisposition: `attachment; filename="dispute-` + in.ID + `-template` + ext + `"`, Body: doc.Data}, nil
	}
}
