package disputes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/payments"
)

// MaxEvidenceBytes is the largest defence document we accept: APO takes at
// most 1,000,000 base64 characters, which is 750,000 bytes.
const MaxEvidenceBytes = 750_000

// Content types of the defence documents we accept, recognised by their
// first bytes.
const (
	ContentTypePDF  = "application/pdf"
	ContentTypeJPEG = "image/jpeg"
	ContentTypePNG  = "image/png"
)

// Evidence formats APO answers downloadDisputeEvidence with.
const (
	FormatPDF  = "PDF"
	FormatWord = "WORD"
)

// sniff returns the content type of a defence document from its magic
// bytes. The declared type (from the upload) may be generic, but must not
// contradict what the bytes say.
func sniff(doc []byte, declared string) (string, error) {
	if len(doc) == 0 {
		return "", &InvalidError{Field: "file", Reason: "the document is empty"}
	}
	if len(doc) > MaxEvidenceBytes {
		return "", &InvalidError{Field: "file", Reason: fmt.Sprintf(
			"the document is %d bytes; APO accepts at most %d (1,000,000 base64 characters)", len(doc), MaxEvidenceBytes)}
	}
	var got string
	switch {
	case bytes.HasPrefix(doc, []byte("%PDF-")):
		got = ContentTypePDF
	case bytes.HasPrefix(doc, []byte{0xFF, 0xD8, 0xFF}):
		got = ContentTypeJPEG
	case bytes.HasPrefix(doc, []byte("\x89PNG\r\n\x1a\n")):
		got = ContentTypePNG
	default:
		return "", &InvalidError{Field: "file", Reason: "not a PDF, JPEG or PNG document"}
	}
	declared = strings.ToLower(strings.TrimSpace(strings.SplitN(declared, ";", 2)[0]))
	switch declared {
	case ContentTypePDF, ContentTypeJPEG, ContentTypePNG, "image/jpg":
		if declared == "image/jpg" {
			declared = ContentTypeJPEG
		}
		if declared != got {
			return "", &InvalidError{Field: "file", Reason: fmt.Sprintf("declared %s but the content is %s", declared, got)}
		}
	}
	return got, nil
}

// Accept concedes a dispute through APO's acceptDispute. reason is why (for
// the history and the audit log). Accepting an accepted dispute returns it
// unchanged. APO's refusal is a *RejectedError (TIME_EXCEEDS_LIMIT once the
// defence window has closed); an unknown outcome wraps ErrOutcomeUnknown,
// and repeating the call is safe.
func (s *Service) Accept(ctx context.Context, id, reason, actor string) (Dispute, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Dispute{}, &InvalidError{Field: "reason", Reason: "required"}
	}
	d, err := NewStore(s.db).Get(ctx, id)
	if err != nil {
		return Dispute{}, err
	}
	switch d.Status {
	case StatusAccepted:
		return d, nil
	case StatusOpen, StatusExpiredUndefended:
		// An EXPIRED_UNDEFENDED dispute is only our clock's opinion; APO
		// decides, and answers TIME_EXCEEDS_LIMIT if it agrees.
	default:
		return Dispute{}, &ConflictError{Rule: fmt.Sprintf("a dispute that is %s cannot be accepted", d.Status)}
	}
	resp, callErr := s.apo.AcceptDispute(ctx, apo.AcceptDisputeRequest{DisputeID: d.APODisputeID})
	payload, _ := json.Marshal(map[string]string{"reason": reason, "result_code": resp.Result.ResultCode,
		"dispute_resolution_time": resp.DisputeResolutionTime})
	d, err = s.finishAction(ctx, id, "accept", actor, reason, payload, callErr, resp.Result,
		func(d *Dispute) bool {
			if d.Status != StatusOpen && d.Status != StatusExpiredUndefended {
				return false
			}
			d.Status = StatusAccepted
			if d.AcceptReason == "" {
				d.AcceptReason = "MERCHANT_ACCEPTED"
			}
			if d.AcceptTime == nil {
				d.AcceptTime, _ = parseTime(resp.DisputeResolutionTime)
				if d.AcceptTime == nil {
					now := s.now().UTC()
					d.AcceptTime = &now
				}
			}
			settleLost(d)
			return true
		}, nil)
	if err != nil {
		return Dispute{}, err
	}
	if d.PaymentID != "" {
		if err := s.syncPayment(ctx, d, payments.DisputeUpdate{DisputeID: d.APODisputeID, Source: payments.SourceAdmin,
			Kind: "accept", FactKey: "accept", Note: fmt.Sprintf("accepted by %s: %s", actor, reason)}); err != nil {
			// APO has the acceptance; the next notification about this
			// dispute retries the payment update.
			s.log.ErrorContext(ctx, "accepted dispute not yet reflected on the payment", "dispute_id", d.ID,
				"payment_id", d.PaymentID, "err", err)
		}
	}
	return d, nil
}

// Defend sends a defence document through APO's supplyDefenseDocument.
// The document must be a PDF, JPEG or PNG (recognised by its bytes) of at
// most MaxEvidenceBytes; it is stored with its SHA-256 before the call, so
// what was sent can always be shown (a document APO refused is removed
// again). Sending the same document again after
// a success returns the dispute unchanged; a different one is a conflict.
// Errors are as for Accept.
func (s *Service) Defend(ctx context.Context, id string, doc []byte, contentType, actor string) (Dispute, error) {
	ct, err := sniff(doc, contentType)
	if err != nil {
		return Dispute{}, err
	}
	sum := sha256.Sum256(doc)
	info := EvidenceInfo{SHA256: hex.EncodeToString(sum[:]), ContentType: ct, Size: len(doc)}
	var (
		d    Dispute
		done bool
	)
	err = s.inTx(ctx, func(st *Store) error {
		var err error
		if d, err = st.Lock(ctx, id); err != nil {
			return err
		}
		switch d.Status {
		case StatusDefenseSupplied:
			if d.Evidence != nil && d.Evidence.SHA256 == info.SHA256 {
				done = true
				return nil
			}
			return &ConflictError{Rule: "a defence was already supplied for this dispute"}
		case StatusOpen, StatusExpiredUndefended:
		default:
			return &ConflictError{Rule: fmt.Sprintf("a dispute that is %s cannot be defended", d.Status)}
		}
		return st.SetEvidence(ctx, id, doc, info, s.now())
	})
	if err != nil || done {
		return d, err
	}
	resp, callErr := s.apo.SupplyDefenseDocument(ctx, apo.SupplyDefenseDocumentRequest{
		DisputeID: d.APODisputeID, DisputeEvidence: base64.StdEncoding.EncodeToString(doc)})
	payload, _ := json.Marshal(map[string]any{"content_type": ct, "size": len(doc), "sha256": info.SHA256,
		"result_code": resp.Result.ResultCode, "dispute_resolution_time": resp.DisputeResolutionTime})
	d, err = s.finishAction(ctx, id, "defense", actor, fmt.Sprintf("%s, %d bytes", ct, len(doc)), payload, callErr,
		resp.Result, func(d *Dispute) bool {
			if d.Status != StatusOpen && d.Status != StatusExpiredUndefended && d.Status != StatusDefenseSupplied {
				return false
			}
			d.Status = StatusDefenseSupplied
			at, _ := parseTime(resp.DisputeResolutionTime)
			if at == nil {
				now := s.now().UTC()
				at = &now
			}
			d.DefenseAt, d.DefenseActor, d.Evidence = at, actor, &info
			return true
		}, func(st *Store, d Dispute, outcome apo.Outcome) error {
			switch {
			case outcome == apo.OutcomeSuccess:
				// Two uploads may race; the document APO took is the one to keep.
				return st.SetEvidence(ctx, id, doc, info, s.now())
			case outcome == apo.OutcomeFailed && d.Status != StatusDefenseSupplied &&
				d.Evidence != nil && d.Evidence.SHA256 == info.SHA256:
				// APO refused it: it was not sent, so it must not look sent.
				// (An unknown outcome keeps it: APO may have taken it.)
				return st.SetEvidence(ctx, id, nil, EvidenceInfo{}, s.now())
			}
			return nil
		})
	if err == nil && d.PaymentID != "" && d.Status == StatusDefenseSupplied {
		if err := s.syncPayment(ctx, d, payments.DisputeUpdate{DisputeID: d.APODisputeID, Source: payments.SourceAdmin,
			Kind: "defense", FactKey: "defense|" + info.SHA256,
			Note: fmt.Sprintf("defence sent by %s: %s, %d bytes", actor, ct, len(doc))}); err != nil {
			// The defence is with APO; only the payment's timeline entry is late.
			s.log.ErrorContext(ctx, "defence not yet on the payment's timeline", "dispute_id", d.ID,
				"payment_id", d.PaymentID, "err", err)
		}
	}
	return d, err
}

// finishAction records the outcome of an accept or a defence under the
// dispute's row lock: on success apply moves the dispute (it reports false
// when a notification got there first); after, if given, runs in the same
// transaction whatever the outcome. The event is recorded in any case.
func (s *Service) finishAction(ctx context.Context, id, kind, actor, note string, payload []byte, callErr error,
	res apo.Result, apply func(d *Dispute) bool, after func(st *Store, d Dispute, outcome apo.Outcome) error) (Dispute, error) {
	outcome := apo.OutcomeOf(callErr)
	var d Dispute
	err := s.inTx(ctx, func(st *Store) error {
		var err error
		if d, err = st.Lock(ctx, id); err != nil {
			return err
		}
		now := s.now().UTC()
		ev := Event{DisputeID: id, Source: SourceAPI, Kind: kind, StatusBefore: d.Status, StatusAfter: d.Status,
			Actor: actor, Payload: payload, CreatedAt: now}
		switch outcome {
		case apo.OutcomeSuccess:
			before := d.Status
			if apply(&d) {
				d.UpdatedAt = now
				if err := st.Update(ctx, d); err != nil {
					return err
				}
				ev.Applied, ev.StatusAfter = true, d.Status
				ev.Note = fmt.Sprintf("%s: %s → %s", note, before, d.Status)
			} else {
				ev.Note = fmt.Sprintf("%s: APO confirmed, but the dispute is already %s", note, d.Status)
			}
		case apo.OutcomeFailed:
			ev.Note = fmt.Sprintf("%s: APO refused: %s %s", note, res.ResultCode, res.ResultMessage)
		default:
			ev.Note = fmt.Sprintf("%s: outcome unknown: %s", note, unknownReason(callErr))
		}
		if after != nil {
			if err := after(st, d, outcome); err != nil {
				return err
			}
		}
		_, err = st.AddEvent(ctx, ev, "api|"+kind+"|"+uuid.Must(uuid.NewV7()).String())
		return err
	})
	if err != nil {
		return Dispute{}, fmt.Errorf("record %s of dispute %s: %w", kind, id, err)
	}
	api := map[string]string{"accept": "acceptDispute", "defense": "supplyDefenseDocument"}[kind]
	switch outcome {
	case apo.OutcomeFailed:
		return Dispute{}, &RejectedError{API: api, Code: res.ResultCode, Message: res.ResultMessage}
	case apo.OutcomeUnknown:
		return Dispute{}, fmt.Errorf("%s of dispute %s: %s: %w", kind, id, unknownReason(callErr), ErrOutcomeUnknown)
	}
	s.log.InfoContext(ctx, "dispute "+kind+" sent", "dispute_id", d.ID, "apo_dispute_id", d.APODisputeID,
		"status", d.Status, "actor", actor)
	return d, nil
}

// Document is a file APO gave us.
type Document struct {
	Data        []byte
	Format      string // FormatPDF or FormatWord, as APO said
	ContentType string // for an HTTP response
}

// EvidenceTemplate downloads APO's defence template for a dispute
// (downloadDisputeEvidence with DISPUTE_EVIDENCE_TEMPLATE). Errors are as
// for Accept.
func (s *Service) EvidenceTemplate(ctx context.Context, id string) (Document, error) {
	d, err := NewStore(s.db).Get(ctx, id)
	if err != nil {
		return Document{}, err
	}
	resp, err := s.apo.DownloadDisputeEvidence(ctx, apo.DownloadDisputeEvidenceRequest{
		DisputeID: d.APODisputeID, DisputeEvidenceType: apo.EvidenceTemplate})
	switch apo.OutcomeOf(err) {
	case apo.OutcomeFailed:
		return Document{}, &RejectedError{API: "downloadDisputeEvidence", Code: resp.Result.ResultCode,
			Message: resp.Result.ResultMessage}
	case apo.OutcomeUnknown:
		return Document{}, fmt.Errorf("evidence template of dispute %s: %s: %w", id, unknownReason(err), ErrOutcomeUnknown)
	}
	data, err := base64.StdEncoding.DecodeString(resp.DisputeEvidence)
	if err != nil || len(data) == 0 {
		return Document{}, fmt.Errorf("evidence template of dispute %s: APO sent no readable document: %w",
			id, ErrOutcomeUnknown)
	}
	return Document{Data: data, Format: resp.DisputeEvidenceFormat, ContentType: documentType(data, resp.DisputeEvidenceFormat)}, nil
}

// documentType names a downloaded document's media type, trusting its
// bytes over APO's format label.
func documentType(data []byte, format string) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return ContentTypePDF
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return "application/msword"
	case strings.EqualFold(format, FormatPDF):
		return ContentTypePDF
	case strings.EqualFold(format, FormatWord):
		return "application/msword"
	}
	return "application/octet-stream"
}
