package sandbox

// Notification bodies as apo-reference.md §3.8 lists them. Like the other
// wire structs they are the sandbox's own reading of the reference.

// paymentNotification is notifyPayment (PAYMENT_RESULT).
type paymentNotification struct {
	NotifyType          string             `json:"notifyType"`
	Result              result             `json:"result"`
	PaymentRequestID    string             `json:"paymentRequestId"`
	PaymentID           string             `json:"paymentId"`
	PaymentAmount       *Amount            `json:"paymentAmount"`
	PaymentCreateTime   string             `json:"paymentCreateTime"`
	PaymentTime         string             `json:"paymentTime,omitempty"` // only on S
	AuthExpiryTime      string             `json:"authExpiryTime,omitempty"`
	PaymentMethodType   string             `json:"paymentMethodType"`
	PaymentResultInfo   *paymentResultInfo `json:"paymentResultInfo,omitempty"`
	AcquirerInfo        *acquirerInfo      `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
}

// captureNotification is notifyCapture (CAPTURE_RESULT).
type captureNotification struct {
	NotifyType          string             `json:"notifyType"`
	Result              result             `json:"result"`
	CaptureRequestID    string             `json:"captureRequestId"`
	PaymentID           string             `json:"paymentId"`
	CaptureID           string             `json:"captureId"`
	CaptureAmount       *Amount            `json:"captureAmount"`
	CaptureTime         string             `json:"captureTime"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *acquirerInfo      `json:"acquirerInfo,omitempty"`
	PaymentResultInfo   *paymentResultInfo `json:"paymentResultInfo,omitempty"`
}

// refundNotification is notifyRefund (REFUND_RESULT). APO's documented
// body has no paymentId, so neither has this one.
type refundNotification struct {
	NotifyType      string        `json:"notifyType"`
	Result          result        `json:"result"`
	RefundStatus    string        `json:"refundStatus"`
	RefundRequestID string        `json:"refundRequestId"`
	RefundID        string        `json:"refundId"`
	RefundAmount    *Amount       `json:"refundAmount"`
	RefundTime      string        `json:"refundTime,omitempty"`
	AcquirerInfo    *acquirerInfo `json:"acquirerInfo,omitempty"`
	ARN             string        `json:"arn,omitempty"`
}

// disputeNotification is notifyDispute. The 2024 doc body has neither
// notifyType nor result; disputeNotificationType says what happened.
type disputeNotification struct {
	PaymentRequestID        string        `json:"paymentRequestId"`
	DisputeID               string        `json:"disputeId"`
	PaymentID               string        `json:"paymentId"`
	CaptureID               string        `json:"captureId,omitempty"`
	DisputeTime             string        `json:"disputeTime"`
	DisputeAmount           *Amount       `json:"disputeAmount"`
	DisputeNotificationType string        `json:"disputeNotificationType"`
	DisputeReasonMsg        string        `json:"disputeReasonMsg,omitempty"`
	DisputeReasonCode       string        `json:"disputeReasonCode,omitempty"`
	DisputeSource           string        `json:"disputeSource,omitempty"`
	DisputeType             string        `json:"disputeType"`
	Defendable              bool          `json:"defendable"` // a JSON boolean, as the official SDKs model it and Antom's example sends it
	DefenseDueTime          string        `json:"defenseDueTime,omitempty"`
	DisputeJudgedTime       string        `json:"disputeJudgedTime,omitempty"`
	DisputeJudgedAmount     *Amount       `json:"disputeJudgedAmount,omitempty"`
	DisputeJudgedResult     string        `json:"disputeJudgedResult,omitempty"`
	DisputeAcceptReason     string        `json:"disputeAcceptReason,omitempty"`
	DisputeAcceptTime       string        `json:"disputeAcceptTime,omitempty"`
	ARN                     string        `json:"arn,omitempty"`
	AcquirerInfo            *acquirerInfo `json:"acquirerInfo,omitempty"`
}

// Notification types.
const (
	notifyPaymentResult = "PAYMENT_RESULT"
	notifyCaptureResult = "CAPTURE_RESULT"
	notifyRefundResult  = "REFUND_RESULT"
)

// notifyPayment sends PAYMENT_RESULT for p's final outcome to its
// paymentNotifyUrl. Call with mu held.
func (s *Server) notifyPayment(p *payment) {
	acq := p.Acquirer
	body := paymentNotification{
		NotifyType:          notifyPaymentResult,
		PaymentRequestID:    p.RequestID,
		PaymentID:           p.ID,
		PaymentAmount:       p.Amount.wire(),
		PaymentCreateTime:   formatTime(p.CreateTime),
		PaymentMethodType:   "CARD",
		PaymentResultInfo:   p.resultInfo(),
		AcquirerInfo:        &acq,
		AcquirerReferenceNo: acq.AcquirerTransactionID,
	}
	if p.Status == statusSuccess {
		body.Result = resOK()
		body.PaymentTime = formatTime(p.PaymentTime)
		body.AuthExpiryTime = formatTime(p.AuthExpiry)
	} else {
		body.Result = resFail(p.ResultCode, p.ResultMessage)
	}
	s.notify(notifyPaymentResult, p.NotifyURL, p.ID, p.ID, body)
}

// notifyCapture sends CAPTURE_RESULT for a successful capture to the
// payment's paymentNotifyUrl (§5: notifyCapture uses paymentNotifyUrl).
// Call with mu held.
func (s *Server) notifyCapture(p *payment, c *capture) {
	acq := c.Acquirer
	s.notify(notifyCaptureResult, p.NotifyURL, p.ID, c.ID, captureNotification{
		NotifyType:          notifyCaptureResult,
		Result:              resOK(),
		CaptureRequestID:    c.RequestID,
		PaymentID:           p.ID,
		CaptureID:           c.ID,
		CaptureAmount:       c.Amount.wire(),
		CaptureTime:         formatTime(c.Time),
		AcquirerReferenceNo: acq.AcquirerTransactionID,
		AcquirerInfo:        &acq,
		PaymentResultInfo:   p.resultInfo(),
	})
}

// notifyRefund sends REFUND_RESULT for a successful refund to its
// refundNotifyUrl. Call with mu held.
func (s *Server) notifyRefund(rf *refund) {
	acq := rf.Acquirer
	s.notify(notifyRefundResult, rf.NotifyURL, rf.PaymentID, rf.ID, refundNotification{
		NotifyType:      notifyRefundResult,
		Result:          resOK(),
		RefundStatus:    statusSuccess,
		RefundRequestID: rf.RequestID,
		RefundID:        rf.ID,
		RefundAmount:    rf.Amount.wire(),
		RefundTime:      formatTime(rf.Time),
		AcquirerInfo:    &acq,
		ARN:             rf.ARN,
	})
}

// notifyDispute sends a dispute notification of typ (DISPUTE_CREATED,
// DISPUTE_ACCEPTED, …) to DisputeNotifyURL. Each type carries the fields
// the reference lists for it. Call with mu held.
func (s *Server) notifyDispute(d *dispute, typ string) {
	p := s.st.payments[d.PaymentID]
	acq := p.Acquirer
	body := disputeNotification{
		PaymentRequestID:        d.PaymentRequestID,
		DisputeID:               d.ID,
		PaymentID:               d.PaymentID,
		CaptureID:               d.CaptureID,
		DisputeTime:             formatTime(d.Time),
		DisputeAmount:           d.Amount.wire(),
		DisputeNotificationType: typ,
		DisputeReasonMsg:        d.ReasonMsg,
		DisputeType:             d.Type,
		Defendable:              d.Defendable,
		ARN:                     d.ARN,
		AcquirerInfo:            &acq,
	}
	switch typ {
	case disputeNoticeCreated, disputeNoticeDueAlert:
		body.DefenseDueTime = formatTime(d.DefenseDue)
	}
	switch typ {
	case disputeNoticeCreated, disputeNoticeJudged:
		body.DisputeReasonCode, body.DisputeSource = d.ReasonCode, d.Source
	}
	if typ == disputeNoticeJudged {
		body.DisputeJudgedResult = d.JudgedResult
		body.DisputeJudgedTime = formatTime(d.JudgedTime)
		if d.JudgedAmount != nil {
			body.DisputeJudgedAmount = d.JudgedAmount.wire()
		}
	}
	if typ == disputeNoticeAccepted {
		body.DisputeAcceptReason, body.DisputeAcceptTime = d.AcceptReason, formatTime(d.AcceptTime)
	}
	s.notify(typ, s.disputeNotifyURL, d.PaymentID, d.ID, body)
}
