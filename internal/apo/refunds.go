package apo

import "context"

// Paths of the refund operations.
const (
	PathRefund        = "/ams/api/v1/payments/refund"
	PathInquiryRefund = "/ams/api/v1/payments/inquiryRefund"
)

// RefundRequest refunds all or part of a captured payment. Several refunds
// per payment are allowed while their sum stays within the payment.
type RefundRequest struct {
	RefundRequestID   string   `json:"refundRequestId"` // our idempotency key, ≤64
	PaymentID         string   `json:"paymentId"`
	RefundAmount      Amount   `json:"refundAmount"`
	RefundReason      string   `json:"refundReason,omitempty"`    // ≤256
	RefundNotifyURL   string   `json:"refundNotifyUrl,omitempty"` // overrides the Dashboard URL
	ReferenceRefundID string   `json:"referenceRefundId,omitempty"`
	CaptureID         string   `json:"captureId,omitempty"`
	IsAsyncRefund     FlexBool `json:"isAsyncRefund,omitempty"`
}

// RefundResponse is the reply to refund. On S the refund succeeded.
type RefundResponse struct {
	Result              Result        `json:"result"`
	RefundRequestID     string        `json:"refundRequestId,omitempty"`
	RefundID            string        `json:"refundId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	RefundAmount        Amount        `json:"refundAmount"`
	RefundTime          string        `json:"refundTime,omitempty"`
	ActualRefundAmount  *Amount       `json:"actualRefundAmount,omitempty"`
	AcquirerInfo        *AcquirerInfo `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
}

func (r *RefundResponse) result() Result { return r.Result }

// Refund asks APO to refund. Repeating it with the same RefundRequestID
// returns the first outcome; on an unknown outcome repeat it or inquire.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (RefundResponse, error) {
	var resp RefundResponse
	err := c.post(ctx, call{api: "refund", path: PathRefund, requestID: req.RefundRequestID, timeout: c.timeout}, req, &resp)
	return resp, err
}

// InquiryRefundRequest looks up a refund by RefundRequestID or RefundID (APO
// prefers RefundID when both are set).
type InquiryRefundRequest struct {
	RefundRequestID   string `json:"refundRequestId,omitempty"`
	RefundID          string `json:"refundId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// InquiryRefundResponse is the reply to inquiryRefund. Result only says
// whether the inquiry worked; the refund's state is RefundStatus (SUCCESS,
// FAIL, PROCESSING).
type InquiryRefundResponse struct {
	Result             Result        `json:"result"`
	RefundID           string        `json:"refundId,omitempty"`
	RefundRequestID    string        `json:"refundRequestId,omitempty"`
	RefundAmount       Amount        `json:"refundAmount"`
	RefundStatus       string        `json:"refundStatus,omitempty"`
	RefundTime         string        `json:"refundTime,omitempty"`
	ActualRefundAmount *Amount       `json:"actualRefundAmount,omitempty"`
	AcquirerInfo       *AcquirerInfo `json:"acquirerInfo,omitempty"`
	ARN                string        `json:"arn,omitempty"`
	RRN                string        `json:"rrn,omitempty"`
}

func (r *InquiryRefundResponse) result() Result { return r.Result }

// InquiryRefund asks APO for a refund's current state. A nil error means the
// inquiry worked; read RefundStatus for the refund itself.
func (c *Client) InquiryRefund(ctx context.Context, req InquiryRefundRequest) (InquiryRefundResponse, error) {
	var resp InquiryRefundResponse
	err := c.post(ctx, call{api: "inquiryRefund", path: PathInquiryRefund, requestID: firstNonEmpty(req.RefundRequestID, req.RefundID), timeout: c.inquiryTimeout}, req, &resp)
	return resp, err
}
