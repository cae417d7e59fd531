package apo

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// NotificationAck is the exact reply body APO expects from a merchant that
// accepted a notification (HTTP 200). Any other reply makes APO resend.
const NotificationAck = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`

// Notification types as APO sends them in notifyType.
const (
	NotifyPaymentResult      = "PAYMENT_RESULT"
	NotifyPaymentPending     = "PAYMENT_PENDING"
	NotifyUpdateAmountResult = "UPDATE_AMOUNT_RESULT"
	NotifyCaptureResult      = "CAPTURE_RESULT"
	NotifyRefundResult       = "REFUND_RESULT"
)

// Values of DisputeNotification.DisputeNotificationType.
const (
	DisputeCreated         = "DISPUTE_CREATED"
	DisputeJudged          = "DISPUTE_JUDGED"
	DisputeCancelled       = "DISPUTE_CANCELLED"
	DisputeDefenseSupplied = "DEFENSE_SUPPLIED"
	DisputeDefenseDueAlert = "DEFENSE_DUE_ALERT"
	DisputeAccepted        = "DISPUTE_ACCEPTED"
	DisputeRDRResolved     = "RDR_RESOLVED"
)

// ErrUnknownNotification reports a notification body DecodeNotification
// cannot classify. The body may still be worth storing.
var ErrUnknownNotification = errors.New("apo: unknown notification type")

// VerifyNotification checks the signature APO put on a notification it
// POSTed to us: "<method> <requestURI>\n<client-id>.<request-time>.<body>",
// verified with APO's public key. requestURI is the path (and query, if
// any) the request arrived on, as in http.Request.RequestURI; a full URL is
// reduced to that. Header names are matched regardless of case, even when
// set as non-canonical map keys; request-time is used verbatim (ISO 8601 or
// milliseconds); spaces after commas in the signature header are accepted.
// Any failure wraps ErrSignature.
func VerifyNotification(pub *rsa.PublicKey, method, requestURI string, headers http.Header, rawBody []byte) error {
	if pub == nil {
		return fmt.Errorf("%w: no public key configured", ErrSignature)
	}
	if u, err := url.Parse(requestURI); err == nil && u.IsAbs() {
		requestURI = u.RequestURI()
	}
	sig := headerValue(headers, "signature")
	if sig == "" {
		return fmt.Errorf("%w: notification has no signature header", ErrSignature)
	}
	clientID := headerValue(headers, "client-id")
	if clientID == "" {
		return fmt.Errorf("%w: notification has no client-id header", ErrSignature)
	}
	reqTime := headerValue(headers, "request-time")
	if reqTime == "" {
		return fmt.Errorf("%w: notification has no request-time header", ErrSignature)
	}
	if method == "" {
		method = http.MethodPost
	}
	if err := Verify(pub, strings.ToUpper(method), requestURI, clientID, reqTime, rawBody, sig); err != nil {
		return fmt.Errorf("notification %w", err)
	}
	return nil
}

// VerifyNotification is the package function VerifyNotification with the
// Client's APO public key.
func (c *Client) VerifyNotification(method, requestURI string, headers http.Header, rawBody []byte) error {
	return VerifyNotification(c.apoKey, method, requestURI, headers, rawBody)
}

// NotificationKind says which body a Notification carries.
type NotificationKind string

// Notification kinds.
const (
	KindPayment NotificationKind = "payment"
	KindCapture NotificationKind = "capture"
	KindRefund  NotificationKind = "refund"
	KindDispute NotificationKind = "dispute"
)

// Notification is a decoded notification: exactly one of Payment, Capture,
// Refund or Dispute is set, according to Kind.
type Notification struct {
	Kind       NotificationKind
	NotifyType string // as sent; may be "" for disputes
	Payment    *PaymentNotification
	Capture    *CaptureNotification
	Refund     *RefundNotification
	Dispute    *DisputeNotification
}

// PaymentNotification is the body of notifyPayment (PAYMENT_RESULT, also
// PAYMENT_PENDING and UPDATE_AMOUNT_RESULT). Result S/F is the payment's
// final result.
type PaymentNotification struct {
	NotifyType          string             `json:"notifyType"`
	Result              Result             `json:"result"`
	PaymentRequestID    string             `json:"paymentRequestId,omitempty"`
	PaymentID           string             `json:"paymentId,omitempty"`
	PaymentAmount       Amount             `json:"paymentAmount"`
	PaymentCreateTime   string             `json:"paymentCreateTime,omitempty"`
	PaymentTime         string             `json:"paymentTime,omitempty"`
	AuthExpiryTime      string             `json:"authExpiryTime,omitempty"`
	PaymentMethodType   string             `json:"paymentMethodType,omitempty"`
	PaymentResultInfo   *PaymentResultInfo `json:"paymentResultInfo,omitempty"`
	AcquirerInfo        *AcquirerInfo      `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
	UpdateRequestID     string             `json:"updateRequestId,omitempty"`
}

// CaptureNotification is the body of notifyCapture (CAPTURE_RESULT); Result
// is S or F.
type CaptureNotification struct {
	NotifyType          string             `json:"notifyType"`
	Result              Result             `json:"result"`
	CaptureRequestID    string             `json:"captureRequestId,omitempty"`
	PaymentID           string             `json:"paymentId,omitempty"`
	CaptureID           string             `json:"captureId,omitempty"`
	CaptureAmount       Amount             `json:"captureAmount"`
	CaptureTime         string             `json:"captureTime,omitempty"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *AcquirerInfo      `json:"acquirerInfo,omitempty"`
	PaymentResultInfo   *PaymentResultInfo `json:"paymentResultInfo,omitempty"`
}

// RefundNotification is the body of notifyRefund (REFUND_RESULT). APO's
// documented body has no paymentId; match it by RefundRequestID/RefundID.
type RefundNotification struct {
	NotifyType         string        `json:"notifyType"`
	Result             Result        `json:"result"`
	RefundStatus       string        `json:"refundStatus,omitempty"` // SUCCESS or FAIL
	RefundRequestID    string        `json:"refundRequestId,omitempty"`
	RefundID           string        `json:"refundId,omitempty"`
	PaymentID          string        `json:"paymentId,omitempty"` // not documented; kept if sent
	RefundAmount       Amount        `json:"refundAmount"`
	RefundTime         string        `json:"refundTime,omitempty"`
	ActualRefundAmount *Amount       `json:"actualRefundAmount,omitempty"`
	AcquirerInfo       *AcquirerInfo `json:"acquirerInfo,omitempty"`
	RRN                string        `json:"rrn,omitempty"`
	ARN                string        `json:"arn,omitempty"`
}

// DisputeNotification is the body of notifyDispute. It may come without
// notifyType and result; DisputeNotificationType says what happened.
type DisputeNotification struct {
	NotifyType              string        `json:"notifyType,omitempty"`
	Result                  *Result       `json:"result,omitempty"`
	PaymentRequestID        string        `json:"paymentRequestId,omitempty"`
	DisputeID               string        `json:"disputeId,omitempty"`
	PaymentID               string        `json:"paymentId,omitempty"`
	CaptureID               string        `json:"captureId,omitempty"`
	DisputeTime             string        `json:"disputeTime,omitempty"`
	DisputeAmount           *Amount       `json:"disputeAmount,omitempty"`
	DisputeNotificationType string        `json:"disputeNotificationType,omitempty"`
	DisputeReasonMsg        string        `json:"disputeReasonMsg,omitempty"`
	DisputeReasonCode       string        `json:"disputeReasonCode,omitempty"` // scheme code, e.g. "4853"
	DisputeSource           string        `json:"disputeSource,omitempty"`     // card scheme, e.g. "Mastercard"
	DisputeType             string        `json:"disputeType,omitempty"`       // CHARGEBACK, RETRIEVAL_REQUEST, COMPLIANCE_REQUEST
	DisputeJudgedTime       string        `json:"disputeJudgedTime,omitempty"`
	DisputeJudgedAmount     *Amount       `json:"disputeJudgedAmount,omitempty"`
	DisputeJudgedResult     string        `json:"disputeJudgedResult,omitempty"` // ACCEPT_BY_CUSTOMER, ACCEPT_BY_MERCHANT, VALIDATE_SUCCESS, VALIDATE_FAIL
	DefenseDueTime          string        `json:"defenseDueTime,omitempty"`
	DisputeAcceptReason     string        `json:"disputeAcceptReason,omitempty"`
	DisputeAcceptTime       string        `json:"disputeAcceptTime,omitempty"`
	Defendable              FlexBool      `json:"defendable,omitempty"`
	AutoDefendReason        string        `json:"autoDefendReason,omitempty"`
	ARN                     string        `json:"arn,omitempty"`
	AcquirerInfo            *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// DecodeNotification classifies a (verified) notification body by notifyType
// and decodes it into the matching type. A body without a known notifyType
// that has disputeId or disputeNotificationType is a dispute notification.
// Anything else wraps ErrUnknownNotification.
func DecodeNotification(raw []byte) (Notification, error) {
	var env struct {
		NotifyType              string `json:"notifyType"`
		DisputeID               string `json:"disputeId"`
		DisputeNotificationType string `json:"disputeNotificationType"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return Notification{}, fmt.Errorf("apo: decode notification: %w", err)
	}
	n := Notification{NotifyType: env.NotifyType}
	var target any
	switch env.NotifyType {
	case NotifyPaymentResult, NotifyPaymentPending, NotifyUpdateAmountResult:
		n.Kind, n.Payment = KindPayment, new(PaymentNotification)
		target = n.Payment
	case NotifyCaptureResult:
		n.Kind, n.Capture = KindCapture, new(CaptureNotification)
		target = n.Capture
	case NotifyRefundResult:
		n.Kind, n.Refund = KindRefund, new(RefundNotification)
		target = n.Refund
	default:
		if env.DisputeID == "" && env.DisputeNotificationType == "" {
			return Notification{}, fmt.Errorf("%w %q", ErrUnknownNotification, env.NotifyType)
		}
		n.Kind, n.Dispute = KindDispute, new(DisputeNotification)
		target = n.Dispute
	}
	if err := json.Unmarshal(raw, target); err != nil {
		return Notification{}, fmt.Errorf("apo: decode %s notification: %w", n.Kind, err)
	}
	return n, nil
}
