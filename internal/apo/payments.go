package apo

import "context"

// Paths of the payment operations (production form; SandboxPath rewrites
// them for SANDBOX_ client ids).
const (
	PathPay            = "/ams/api/v1/payments/pay"
	PathInquiryPayment = "/ams/api/v1/payments/inquiryPayment"
	PathCancel         = "/ams/api/v1/payments/cancel"
)

// CodePaymentInProcess is the U result code of a pay that waits for the
// buyer (3DS): send the buyer to PayResponse.ActionURL and learn the result
// from notifyPayment or inquiryPayment.
const CodePaymentInProcess = "PAYMENT_IN_PROCESS"

// ProductCashierPayment is the productCode of one-time card payments.
const ProductCashierPayment = "CASHIER_PAYMENT"

// PayRequest is the body of pay. For a server-to-server card authorisation
// set ProductCode ProductCashierPayment, PaymentFactor.IsAuthorization and
// CaptureMode, and the card in PaymentMethod. It prints and logs with the
// card masked; use Redacted for a copy that is safe to store.
type PayRequest struct {
	ProductCode        string              `json:"productCode"`
	PaymentRequestID   string              `json:"paymentRequestId"` // our idempotency key, ≤64
	Order              *Order              `json:"order,omitempty"`
	PaymentAmount      Amount              `json:"paymentAmount"`
	PaymentMethod      PaymentMethod       `json:"paymentMethod"`
	PaymentFactor      *PaymentFactor      `json:"paymentFactor,omitempty"`
	PaymentNotifyURL   string              `json:"paymentNotifyUrl,omitempty"`
	PaymentRedirectURL string              `json:"paymentRedirectUrl,omitempty"` // where the buyer lands after 3DS
	PaymentExpiryTime  string              `json:"paymentExpiryTime,omitempty"`  // ISO 8601
	SettlementStrategy *SettlementStrategy `json:"settlementStrategy,omitempty"`
	Env                *Env                `json:"env,omitempty"`
	MerchantRegion     string              `json:"merchantRegion,omitempty"`
	UserRegion         string              `json:"userRegion,omitempty"`
	MerchantAccountID  string              `json:"merchantAccountId,omitempty"`
}

// PayResponse is the reply to pay.
type PayResponse struct {
	Result              Result              `json:"result"`
	PaymentRequestID    string              `json:"paymentRequestId,omitempty"`
	PaymentID           string              `json:"paymentId,omitempty"`
	PaymentAmount       Amount              `json:"paymentAmount"`
	ActualPaymentAmount *Amount             `json:"actualPaymentAmount,omitempty"`
	PaymentCreateTime   string              `json:"paymentCreateTime,omitempty"`
	PaymentTime         string              `json:"paymentTime,omitempty"`
	AuthExpiryTime      string              `json:"authExpiryTime,omitempty"`
	NormalURL           string              `json:"normalUrl,omitempty"`
	SchemeURL           string              `json:"schemeUrl,omitempty"`
	ApplinkURL          string              `json:"applinkUrl,omitempty"`
	RedirectActionForm  *RedirectActionForm `json:"redirectActionForm,omitempty"`
	PaymentResultInfo   *PaymentResultInfo  `json:"paymentResultInfo,omitempty"`
	AcquirerInfo        *AcquirerInfo       `json:"acquirerInfo,omitempty"`
	PaymentMethodType   string              `json:"paymentMethodType,omitempty"`
}

func (r *PayResponse) result() Result { return r.Result }

// ActionURL returns where to send the buyer when the payment waits for them:
// normalUrl, else the (deprecated) redirectActionForm.redirectUrl, else "".
func (r PayResponse) ActionURL() string {
	if r.NormalURL != "" {
		return r.NormalURL
	}
	if r.RedirectActionForm != nil {
		return r.RedirectActionForm.RedirectURL
	}
	return ""
}

// NeedsBuyerAction reports a U PAYMENT_IN_PROCESS reply with a URL to send
// the buyer to (3DS). Any other U means "inquire".
func (r PayResponse) NeedsBuyerAction() bool {
	return r.Result.ResultStatus == "U" && r.Result.ResultCode == CodePaymentInProcess && r.ActionURL() != ""
}

// Pay asks APO to take (or authorise) a payment. Repeating it with the same
// PaymentRequestID returns the first outcome instead of paying twice.
//
// Like every Client method it returns the decoded response whenever APO's
// reply was verified, together with a nil error for S or an *Error for F and
// U. So a 3DS challenge comes back as an *Error with OutcomeUnknown AND a
// response whose NeedsBuyerAction is true and whose ActionURL is the
// challenge page. With no verified reply the response is zero.
func (c *Client) Pay(ctx context.Context, req PayRequest) (PayResponse, error) {
	var resp PayResponse
	err := c.post(ctx, call{api: "pay", path: PathPay, requestID: req.PaymentRequestID, timeout: c.timeout}, req, &resp)
	return resp, err
}

// InquiryPaymentRequest looks up a payment by PaymentRequestID or PaymentID
// (APO prefers PaymentID when both are set).
type InquiryPaymentRequest struct {
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	PaymentID         string `json:"paymentId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// InquiryPaymentResponse is the reply to inquiryPayment. Result only says
// whether the inquiry worked; the payment's state is PaymentStatus (SUCCESS,
// FAIL, PROCESSING, CANCELLED, PENDING) with PaymentResultCode, and its
// captures, refunds and cancels are in Transactions.
type InquiryPaymentResponse struct {
	Result               Result              `json:"result"`
	PaymentStatus        string              `json:"paymentStatus,omitempty"`
	PaymentResultCode    string              `json:"paymentResultCode,omitempty"`
	PaymentResultMessage string              `json:"paymentResultMessage,omitempty"`
	PaymentRequestID     string              `json:"paymentRequestId,omitempty"`
	PaymentID            string              `json:"paymentId,omitempty"`
	AuthPaymentID        string              `json:"authPaymentId,omitempty"`
	PaymentAmount        Amount              `json:"paymentAmount"`
	ActualPaymentAmount  *Amount             `json:"actualPaymentAmount,omitempty"`
	AuthExpiryTime       string              `json:"authExpiryTime,omitempty"`
	PaymentCreateTime    string              `json:"paymentCreateTime,omitempty"`
	PaymentTime          string              `json:"paymentTime,omitempty"`
	PaymentMethodType    string              `json:"paymentMethodType,omitempty"`
	PaymentResultInfo    *PaymentResultInfo  `json:"paymentResultInfo,omitempty"`
	AcquirerInfo         *AcquirerInfo       `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo  string              `json:"acquirerReferenceNo,omitempty"`
	RedirectActionForm   *RedirectActionForm `json:"redirectActionForm,omitempty"`
	MerchantAccountID    string              `json:"merchantAccountId,omitempty"`
	Transactions         []Transaction       `json:"transactions,omitempty"`
}

func (r *InquiryPaymentResponse) result() Result { return r.Result }

// InquiryPayment asks APO for a payment's current state. A nil error means
// the inquiry worked; read PaymentStatus for the payment itself.
func (c *Client) InquiryPayment(ctx context.Context, req InquiryPaymentRequest) (InquiryPaymentResponse, error) {
	var resp InquiryPaymentResponse
	err := c.post(ctx, call{api: "inquiryPayment", path: PathInquiryPayment, requestID: firstNonEmpty(req.PaymentRequestID, req.PaymentID), timeout: c.inquiryTimeout}, req, &resp)
	return resp, err
}

// CancelRequest cancels (voids) a payment by PaymentID or PaymentRequestID
// (APO prefers PaymentID). Cancel is full only.
type CancelRequest struct {
	PaymentID         string `json:"paymentId,omitempty"`
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// CancelResponse is the reply to cancel; its ids and CancelTime are set on S.
type CancelResponse struct {
	Result           Result `json:"result"`
	PaymentID        string `json:"paymentId,omitempty"`
	PaymentRequestID string `json:"paymentRequestId,omitempty"`
	CancelTime       string `json:"cancelTime,omitempty"`
}

func (r *CancelResponse) result() Result { return r.Result }

// Cancel voids an authorisation or abandons a payment whose result never came
// back. It is naturally idempotent: on an unknown outcome repeat it with the
// same parameters.
func (c *Client) Cancel(ctx context.Context, req CancelRequest) (CancelResponse, error) {
	var resp CancelResponse
	err := c.post(ctx, call{api: "cancel", path: PathCancel, requestID: firstNonEmpty(req.PaymentRequestID, req.PaymentID), timeout: c.timeout}, req, &resp)
	return resp, err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
