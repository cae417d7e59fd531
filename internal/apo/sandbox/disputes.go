package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	// defenseWindow is how long the merchant has to defend a dispute by
	// default (Config.DefenseWindow), before TimeScale.
	defenseWindow = 10 * 24 * time.Hour
	// dueAlertLead is how long before defenseDueTime DEFENSE_DUE_ALERT
	// goes out (§7), before TimeScale.
	dueAlertLead = 24 * time.Hour
	// maxEvidence is the documented limit of disputeEvidence (§3.8).
	maxEvidence = 1_000_000
	// disputeNotFoundCode answers an unknown disputeId. UNCONFIRMED: no
	// source gives the dispute APIs' not-found code.
	disputeNotFoundCode = "DISPUTE_NOT_EXIST"
)

// Values of disputeNotificationType (§3.8).
const (
	disputeNoticeCreated   = "DISPUTE_CREATED"
	disputeNoticeJudged    = "DISPUTE_JUDGED"
	disputeNoticeCancelled = "DISPUTE_CANCELLED"
	disputeNoticeDefense   = "DEFENSE_SUPPLIED"
	disputeNoticeDueAlert  = "DEFENSE_DUE_ALERT"
	disputeNoticeAccepted  = "DISPUTE_ACCEPTED"
)

// Dispute types and judgements (§3.8).
var (
	disputeTypes     = []string{"CHARGEBACK", "RETRIEVAL_REQUEST", "COMPLIANCE_REQUEST"}
	disputeJudgments = []string{"ACCEPT_BY_CUSTOMER", "ACCEPT_BY_MERCHANT", "VALIDATE_SUCCESS", "VALIDATE_FAIL"}
)

// ErrInvalid reports an argument the sandbox refuses (a bad amount, an
// unknown dispute type or judgement).
var ErrInvalid = errors.New("sandbox: invalid argument")

// DisputeOptions are the optional parts of a dispute an issuer opens.
type DisputeOptions struct {
	// Amount disputed; nil disputes everything captured.
	Amount *Amount `json:"amount,omitempty"`
	// ReasonCode is the scheme's reason code; default the scheme's usual
	// one ("4853" for Mastercard, "10.4" for Visa).
	ReasonCode string `json:"reasonCode,omitempty"`
	// Type is CHARGEBACK (default), RETRIEVAL_REQUEST or
	// COMPLIANCE_REQUEST. Only chargebacks move money in the reports.
	Type string `json:"type,omitempty"`
}

// OpenDispute opens a chargeback on a captured payment, as an issuer would,
// and returns its disputeId. A nil amount disputes everything captured.
// DISPUTE_CREATED goes to Config.DisputeNotifyURL.
func (s *Server) OpenDispute(paymentID string, amount *Amount) (string, error) {
	return s.OpenDisputeWith(paymentID, DisputeOptions{Amount: amount})
}

// OpenDisputeWith is OpenDispute with every option.
func (s *Server) OpenDisputeWith(paymentID string, o DisputeOptions) (string, error) {
	if o.Type != "" && !slices.Contains(disputeTypes, o.Type) {
		return "", fmt.Errorf("open dispute on payment %s: type must be one of %v: %w", paymentID, disputeTypes, ErrInvalid)
	}
	if len(o.ReasonCode) > 64 {
		return "", fmt.Errorf("open dispute on payment %s: reasonCode is longer than 64 characters: %w", paymentID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.payments[paymentID]
	if p == nil {
		return "", fmt.Errorf("open dispute on payment %s: %w", paymentID, ErrNotFound)
	}
	s.refresh(p)
	captured := p.captured()
	if captured == 0 {
		return "", fmt.Errorf("open dispute on payment %s: nothing captured: %w", paymentID, ErrState)
	}
	amt := money{Value: captured, Currency: p.Amount.Currency}
	if o.Amount != nil {
		var perr *paramError
		if amt, perr = parseAmount("amount", o.Amount); perr != nil {
			return "", fmt.Errorf("open dispute on payment %s: %s: %w", paymentID, perr.Error(), ErrInvalid)
		}
		if amt.Currency != p.Amount.Currency || amt.Value > captured {
			return "", fmt.Errorf("open dispute on payment %s: amount must be at most the captured %d %s: %w",
				paymentID, captured, p.Amount.Currency, ErrInvalid)
		}
	}
	d := s.openDispute(p, amt, s.now())
	if o.ReasonCode != "" {
		d.ReasonCode = o.ReasonCode
	}
	if o.Type != "" {
		d.Type = o.Type
	}
	s.addDayEntry(d.Time, dayEntry{kind: entryDispute, p: p, d: d})
	s.notifyDispute(d, disputeNoticeCreated)
	return d.ID, nil
}

// schemeDispute gives a card brand's scheme name and a typical chargeback
// reason for it.
var schemeDispute = map[string][3]string{
	"VISA":       {"Visa", "10.4", "Other Fraud - Card-Absent Environment"},
	"MASTERCARD": {"Mastercard", "4853", "Cardholder Dispute"},
	"AMEX":       {"American Express", "F29", "Card Not Present"},
}

// openDispute records a new dispute on p and schedules its due alert. The
// caller adds its report entry and notifies, after setting any options.
// Call with mu held.
func (s *Server) openDispute(p *payment, amt money, at time.Time) *dispute {
	scheme, ok := schemeDispute[p.Card.Brand]
	if !ok {
		scheme = [3]string{p.Card.Brand, "4853", "Cardholder Dispute"}
	}
	d := &dispute{
		ID:               s.nextID(kindDispute),
		PaymentID:        p.ID,
		PaymentRequestID: p.RequestID,
		Amount:           amt,
		Time:             at,
		DefenseDue:       at.Add(s.defenseWindow),
		Source:           scheme[0],
		ReasonCode:       scheme[1],
		ReasonMsg:        scheme[2],
		Type:             "CHARGEBACK",
		ARN:              randString(s.rng, "0123456789", 23),
		Status:           disputeCreated,
		Defendable:       true,
	}
	if len(p.Captures) > 0 {
		d.CaptureID = p.Captures[0].ID
	}
	s.st.disputes[d.ID] = d
	s.st.disputeOrder = append(s.st.disputeOrder, d.ID)
	alert := d.DefenseDue.Add(-s.scaled(dueAlertLead))
	if alert.Before(at) {
		alert = at
	}
	s.sched.at(alert, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if d.Status == disputeCreated && !d.DueAlerted && s.now().Before(d.DefenseDue) {
			d.DueAlerted = true
			s.notifyDispute(d, disputeNoticeDueAlert)
		}
	})
	return d
}

// JudgeDispute forces the scheme's judgement on a dispute that is open or
// defended: result is ACCEPT_BY_CUSTOMER (the merchant wins and gets the
// money back), ACCEPT_BY_MERCHANT (the merchant loses), VALIDATE_SUCCESS
// or VALIDATE_FAIL; amount defaults to the disputed amount. DISPUTE_JUDGED
// goes to Config.DisputeNotifyURL.
func (s *Server) JudgeDispute(disputeID, result string, amount *Amount) error {
	if !slices.Contains(disputeJudgments, result) {
		return fmt.Errorf("judge dispute %s: result must be one of %v: %w", disputeID, disputeJudgments, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.disputes[disputeID]
	if d == nil {
		return fmt.Errorf("judge dispute %s: %w", disputeID, ErrNotFound)
	}
	if d.Status != disputeCreated && d.Status != disputeDefenseSupplied {
		return fmt.Errorf("judge dispute %s in status %s: %w", disputeID, d.Status, ErrState)
	}
	amt := d.Amount
	if amount != nil {
		var perr *paramError
		if amt, perr = parseAmount("amount", amount); perr != nil {
			return fmt.Errorf("judge dispute %s: %s: %w", disputeID, perr.Error(), ErrInvalid)
		}
		if amt.Currency != d.Amount.Currency || amt.Value > d.Amount.Value {
			return fmt.Errorf("judge dispute %s: amount must be at most the disputed %d %s: %w",
				disputeID, d.Amount.Value, d.Amount.Currency, ErrInvalid)
		}
	}
	now := s.now()
	d.Status, d.JudgedResult, d.JudgedAmount, d.JudgedTime = disputeJudged, result, &amt, now
	d.ResolutionTime = now
	if result == "ACCEPT_BY_CUSTOMER" {
		s.reverseDispute(d, amt, now)
	}
	s.notifyDispute(d, disputeNoticeJudged)
	return nil
}

// CancelDispute ends a dispute the cardholder withdrew; a chargeback's
// money goes back to the merchant. DISPUTE_CANCELLED goes to
// Config.DisputeNotifyURL.
func (s *Server) CancelDispute(disputeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.disputes[disputeID]
	if d == nil {
		return fmt.Errorf("cancel dispute %s: %w", disputeID, ErrNotFound)
	}
	if d.Status != disputeCreated && d.Status != disputeDefenseSupplied {
		return fmt.Errorf("cancel dispute %s in status %s: %w", disputeID, d.Status, ErrState)
	}
	now := s.now()
	d.Status, d.CancelTime, d.ResolutionTime = disputeCancelled, now, now
	s.reverseDispute(d, d.Amount, now)
	s.notifyDispute(d, disputeNoticeCancelled)
	return nil
}

// reverseDispute gives a chargeback's money back. Call with mu held.
func (s *Server) reverseDispute(d *dispute, amt money, at time.Time) {
	if d.Type != "CHARGEBACK" {
		return // nothing was taken
	}
	d.Reversal, d.ReversalTime = &amt, at
	s.addDayEntry(at, dayEntry{kind: entryReversal, p: s.st.payments[d.PaymentID], d: d})
}

// decodeDispute decodes a dispute API body and checks disputeId. On
// failure it returns the reply to send.
func (s *Server) decodeDispute(body []byte, req *disputeRequest) *reply {
	if perr := decode(body, req); perr != nil {
		rep := s.illegal(perr, "")
		return &rep
	}
	if perr := requireID("disputeId", req.DisputeID); perr != nil {
		rep := s.illegal(perr, req.DisputeID)
		return &rep
	}
	return nil
}

// findDispute finds a dispute or returns the reply for an unknown id. Call
// with mu held.
func (s *Server) findDispute(id string) (*dispute, *reply) {
	d := s.st.disputes[id]
	if d == nil {
		rep := s.fail(disputeNotFoundCode, "no dispute with this disputeId")
		rep.requestID = id
		return nil, &rep
	}
	return d, nil
}

func (s *Server) disputeAnswer(d *dispute) reply {
	resp := disputeResponse{Result: resOK(), DisputeID: d.ID, DisputeResolutionTime: formatTime(d.ResolutionTime)}
	return reply{answer: render(resp, resp.Result), requestID: d.ID}
}

func (s *Server) disputeFail(d *dispute, code, msg string) reply {
	rep := s.fail(code, msg)
	rep.requestID = d.ID
	return rep
}

// acceptDispute handles /v1/payments/acceptDispute: the merchant gives up
// the disputed amount. Accepting twice answers the first success again.
func (s *Server) acceptDispute(_ *http.Request, body []byte) reply {
	var req disputeRequest
	if rep := s.decodeDispute(body, &req); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, rep := s.findDispute(req.DisputeID)
	if rep != nil {
		return *rep
	}
	switch {
	case d.Status == disputeAccepted:
		r := s.disputeAnswer(d)
		r.replay = true
		return r
	case d.Status != disputeCreated:
		return s.disputeFail(d, "NOT_ALLOW_IN_CURRENT_STATUS", "the dispute is "+d.Status)
	case s.now().After(d.DefenseDue):
		return s.disputeFail(d, "TIME_EXCEEDS_LIMIT", "the defense due time has passed")
	}
	d.Status, d.ResolutionTime = disputeAccepted, s.now()
	d.AcceptReason, d.AcceptTime = "MERCHANT_ACCEPTED", d.ResolutionTime
	s.notifyDispute(d, disputeNoticeAccepted)
	return s.disputeAnswer(d)
}

// supplyDefenseDocument handles /v1/payments/supplyDefenseDocument. The
// same document sent again answers the first success again; a different
// one after a defense is REPEAT_REQUEST.
func (s *Server) supplyDefenseDocument(_ *http.Request, body []byte) reply {
	var req disputeRequest
	if rep := s.decodeDispute(body, &req); rep != nil {
		return *rep
	}
	ev := req.DisputeEvidence
	if ev == "" {
		return s.illegal(&paramError{"disputeEvidence", "is required"}, req.DisputeID)
	}
	if len(ev) > maxEvidence {
		return s.illegal(&paramError{"disputeEvidence", "is longer than 1,000,000 characters"}, req.DisputeID)
	}
	doc, err := base64.StdEncoding.DecodeString(ev)
	if err != nil {
		return s.illegal(&paramError{"disputeEvidence", "must be Base64"}, req.DisputeID)
	}
	sum := sha256.Sum256(doc)
	digest := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	d, rep := s.findDispute(req.DisputeID)
	if rep != nil {
		return *rep
	}
	switch {
	case d.Status == disputeDefenseSupplied && d.EvidenceSHA256 == digest:
		r := s.disputeAnswer(d)
		r.replay = true
		return r
	case d.Status == disputeDefenseSupplied:
		return s.disputeFail(d, "REPEAT_REQUEST", "a defense was already supplied for this dispute")
	case d.Status != disputeCreated:
		return s.disputeFail(d, "NOT_ALLOW_IN_CURRENT_STATUS", "the dispute is "+d.Status)
	case s.now().After(d.DefenseDue):
		return s.disputeFail(d, "TIME_EXCEEDS_LIMIT", "the defense due time has passed")
	}
	d.Status, d.ResolutionTime = disputeDefenseSupplied, s.now()
	d.EvidenceSHA256, d.EvidenceBytes = digest, len(doc)
	s.notifyDispute(d, disputeNoticeDefense)
	return s.disputeAnswer(d)
}

// downloadDisputeEvidence handles /v1/payments/downloadDisputeEvidence:
// the defense template or the issuer's dispute file, as a Base64 PDF.
func (s *Server) downloadDisputeEvidence(_ *http.Request, body []byte) reply {
	var req disputeRequest
	if rep := s.decodeDispute(body, &req); rep != nil {
		return *rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, rep := s.findDispute(req.DisputeID)
	if rep != nil {
		return *rep
	}
	var lines []string
	switch req.DisputeEvidenceType {
	case "DISPUTE_EVIDENCE_TEMPLATE":
		lines = []string{
			"Dispute defense template",
			"Dispute ID: " + d.ID,
			"Payment ID: " + d.PaymentID,
			"1. Proof of delivery or service:",
			"2. Customer communication:",
			"3. Terms accepted by the customer:",
			"4. Other supporting documents:",
		}
	case "DISPUTE_EVIDENCE_FILE":
		p := s.st.payments[d.PaymentID]
		lines = []string{
			"Dispute evidence from the issuer",
			"Dispute ID: " + d.ID,
			"Payment ID: " + d.PaymentID,
			"Card: " + p.Card.Brand + " " + p.Card.Masked,
			"Amount: " + d.Amount.wire().Value + " " + d.Amount.Currency + " (minor units)",
			"Scheme: " + d.Source + ", reason " + d.ReasonCode + " " + d.ReasonMsg,
			"Opened: " + formatTime(d.Time) + ", defense due: " + formatTime(d.DefenseDue),
		}
	case "":
		return s.illegal(&paramError{"disputeEvidenceType", "is required"}, d.ID)
	default:
		return s.illegal(&paramError{"disputeEvidenceType", "must be DISPUTE_EVIDENCE_TEMPLATE or DISPUTE_EVIDENCE_FILE"}, d.ID)
	}
	resp := evidenceResponse{
		Result:                resOK(),
		DisputeEvidence:       base64.StdEncoding.EncodeToString(textPDF(lines)),
		DisputeEvidenceFormat: "PDF",
	}
	return reply{answer: render(resp, resp.Result), requestID: d.ID}
}

// textPDF writes a one-page PDF showing lines of ASCII text in Helvetica.
func textPDF(lines []string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 11 Tf 16 TL 50 790 Td\n")
	esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`)
	for _, l := range lines {
		content.WriteString("(" + esc.Replace(l) + ") Tj T*\n")
	}
	content.WriteString("ET\n")
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}
