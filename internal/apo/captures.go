package apo

import "context"

// PathCapture is capture's production path.
const PathCapture = "/ams/api/v1/payments/capture"

// CaptureRequest captures all or part of an authorised payment.
// CaptureAmount's currency must equal the payment's. IsLastCapture is always
// sent; set it on the capture that ends the payment's captures (APO's
// semantics for a non-final partial capture are not confirmed).
type CaptureRequest struct {
	CaptureRequestID string   `json:"captureRequestId"` // our idempotency key, ≤64
	PaymentID        string   `json:"paymentId"`
	CaptureAmount    Amount   `json:"captureAmount"`
	IsLastCapture    FlexBool `json:"isLastCapture"`
}

// CaptureResponse is the reply to capture; CaptureID and CaptureTime are set
// when the capture succeeded.
type CaptureResponse struct {
	Result              Result        `json:"result"`
	CaptureRequestID    string        `json:"captureRequestId,omitempty"`
	CaptureID           string        `json:"captureId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	CaptureAmount       Amount        `json:"captureAmount"`
	CaptureTime         string        `json:"captureTime,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

func (r *CaptureResponse) result() Result { return r.Result }

// Capture asks APO to capture an authorisation. Repeating it with the same
// CaptureRequestID returns the first outcome. A U result (e.g.
// CAPTURE_IN_PROCESS) comes back as the response plus an *Error with
// OutcomeUnknown: wait for notifyCapture or read inquiryPayment.transactions.
func (c *Client) Capture(ctx context.Context, req CaptureRequest) (CaptureResponse, error) {
	var resp CaptureResponse
	err := c.post(ctx, call{api: "capture", path: PathCapture, requestID: req.CaptureRequestID, timeout: c.timeout}, req, &resp)
	return resp, err
}
