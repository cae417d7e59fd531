package sandbox

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
)

// This file is the sandbox's own reading of the APO wire (apo-reference.md
// §3). It is kept apart from package apo on purpose: were the two to share
// structs, a misspelt field would be misspelt on both ends and go unnoticed.
// Request fields the sandbox does not act on are declared anyway, so that a
// value of the wrong JSON type is refused with PARAM_ILLEGAL, as APO would.

// Amount is APO's money on the wire: an ISO 4217 currency and a string of
// minor units ("100" is USD 1.00, "1" is JPY 1).
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// result is the block every APO answer carries.
type result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage"`
}

// flexBool accepts what real clients send for APO booleans: the documented
// strings "true"/"false" and the JSON booleans the Go SDK emits (§2.1).
type flexBool bool

// UnmarshalJSON implements json.Unmarshaler. The error it returns is a
// *json.UnmarshalTypeError so the decoder fills in the field path.
func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, `""`, "null":
		*b = false
	default:
		return &json.UnmarshalTypeError{Value: string(data), Type: reflect.TypeFor[bool]()}
	}
	return nil
}

// holderName accepts the cardholder name both as the documented object
// {firstName, middleName, lastName, fullName} and as a plain string.
type holderName struct {
	FirstName  string `json:"firstName"`
	MiddleName string `json:"middleName"`
	LastName   string `json:"lastName"`
	FullName   string `json:"fullName"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *holderName) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*h = holderName{FullName: s}
		return nil
	}
	type plain holderName
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[holderName]()}
	}
	*h = holderName(p)
	return nil
}

// display is the name as one string, as paymentResultInfo would show it.
func (h holderName) display() string {
	if h.FullName != "" {
		return h.FullName
	}
	name := h.FirstName
	for _, part := range []string{h.MiddleName, h.LastName} {
		if part != "" {
			if name != "" {
				name += " "
			}
			name += part
		}
	}
	return name
}

// payRequest is the pay body (§3.1), card flow only.
type payRequest struct {
	ProductCode        string           `json:"productCode"`
	PaymentRequestID   string           `json:"paymentRequestId"`
	Order              *orderIn         `json:"order"`
	PaymentAmount      *Amount          `json:"paymentAmount"`
	PaymentMethod      *paymentMethodIn `json:"paymentMethod"`
	PaymentFactor      *paymentFactorIn `json:"paymentFactor"`
	PaymentNotifyURL   string           `json:"paymentNotifyUrl"`
	PaymentRedirectURL string           `json:"paymentRedirectUrl"`
	PaymentExpiryTime  string           `json:"paymentExpiryTime"`
	Env                *envIn           `json:"env"`
	SettlementStrategy *struct {
		SettlementCurrency string `json:"settlementCurrency"`
	} `json:"settlementStrategy"`
	// IsAuthorization also exists at the top level of the request (§3.1 "others").
	IsAuthorization *flexBool `json:"isAuthorization"`
}

type orderIn struct {
	ReferenceOrderID string   `json:"referenceOrderId"`
	OrderDescription string   `json:"orderDescription"`
	OrderAmount      *Amount  `json:"orderAmount"`
	Buyer            *buyerIn `json:"buyer"`
	Merchant         *struct {
		ReferenceMerchantID string `json:"referenceMerchantId"`
	} `json:"merchant"`
}

// merchantID is order.merchant.referenceMerchantId, the sub-merchant the
// reports name in referenceMerchantId.
func (o *orderIn) merchantID() string {
	if o.Merchant == nil {
		return ""
	}
	return o.Merchant.ReferenceMerchantID
}

type buyerIn struct {
	ReferenceBuyerID string `json:"referenceBuyerId"`
	BuyerPhoneNo     string `json:"buyerPhoneNo"`
	BuyerEmail       string `json:"buyerEmail"`
}

type paymentMethodIn struct {
	PaymentMethodType     string    `json:"paymentMethodType"`
	PaymentMethodID       string    `json:"paymentMethodId"`
	PaymentMethodMetaData *cardMeta `json:"paymentMethodMetaData"`
	CustomerID            string    `json:"customerId"`
}

// cardMeta is paymentMethodMetaData for CARD. It carries the PAN and CVV,
// so every fmt verb and slog print it redacted.
type cardMeta struct {
	CardNo              string          `json:"cardNo"`
	CVV                 string          `json:"cvv"`
	ExpiryMonth         string          `json:"expiryMonth"`
	ExpiryYear          string          `json:"expiryYear"`
	CardholderName      *holderName     `json:"cardholderName"`
	Is3DSAuthentication flexBool        `json:"is3DSAuthentication"`
	IsCardOnFile        flexBool        `json:"isCardOnFile"`
	BillingAddress      json.RawMessage `json:"billingAddress"`
}

// Format implements fmt.Formatter so %v, %+v, %#v and %s never show the
// card number or CVV.
func (c cardMeta) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "cardMeta{cardNo:%s cvv:%s expiry:%s/%s}", redacted(c.CardNo), redacted(c.CVV), c.ExpiryMonth, c.ExpiryYear)
}

// LogValue implements slog.LogValuer with the same redaction.
func (c cardMeta) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("cardNo", redacted(c.CardNo)),
		slog.String("cvv", redacted(c.CVV)),
		slog.String("expiryMonth", c.ExpiryMonth),
		slog.String("expiryYear", c.ExpiryYear),
	)
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

type paymentFactorIn struct {
	IsAuthorization *flexBool `json:"isAuthorization"`
	CaptureMode     string    `json:"captureMode"`
}

type envIn struct {
	TerminalType string `json:"terminalType"`
	ClientIP     string `json:"clientIp"`
	UserAgent    string `json:"userAgent"`
}

// payResponse is the pay answer (§3.2).
type payResponse struct {
	Result              result             `json:"result"`
	PaymentRequestID    string             `json:"paymentRequestId,omitempty"`
	PaymentID           string             `json:"paymentId,omitempty"`
	PaymentAmount       *Amount            `json:"paymentAmount,omitempty"`
	PaymentCreateTime   string             `json:"paymentCreateTime,omitempty"`
	PaymentTime         string             `json:"paymentTime,omitempty"`
	AuthExpiryTime      string             `json:"authExpiryTime,omitempty"`
	NormalURL           string             `json:"normalUrl,omitempty"`
	PaymentResultInfo   *paymentResultInfo `json:"paymentResultInfo,omitempty"`
	AcquirerInfo        *acquirerInfo      `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo string             `json:"acquirerReferenceNo,omitempty"`
}

// paymentResultInfo holds the card facts APO may show a merchant (§3.3):
// masked number, BIN, last four, never the PAN or CVV.
type paymentResultInfo struct {
	CardNo               string         `json:"cardNo,omitempty"`
	CardBin              string         `json:"cardBin,omitempty"`
	LastFour             string         `json:"lastFour,omitempty"`
	CardBrand            string         `json:"cardBrand,omitempty"`
	CardToken            string         `json:"cardToken,omitempty"`
	Funding              string         `json:"funding,omitempty"`
	CardCategory         string         `json:"cardCategory,omitempty"`
	IssuingCountry       string         `json:"issuingCountry,omitempty"`
	IssuerName           string         `json:"issuerName,omitempty"`
	ExpiryMonth          string         `json:"expiryMonth,omitempty"`
	ExpiryYear           string         `json:"expiryYear,omitempty"`
	ThreeDSResult        *threeDSResult `json:"threeDSResult,omitempty"`
	AvsResultRaw         string         `json:"avsResultRaw,omitempty"`
	CvvResultRaw         string         `json:"cvvResultRaw,omitempty"`
	NetworkTransactionID string         `json:"networkTransactionId,omitempty"`
	AuthorizationCode    string         `json:"authorizationCode,omitempty"`
	RefusalCodeRaw       string         `json:"refusalCodeRaw,omitempty"`
	RefusalReasonRaw     string         `json:"refusalReasonRaw,omitempty"`
	CredentialTypeUsed   string         `json:"credentialTypeUsed,omitempty"`
}

// threeDSResult is the 3-D Secure outcome (§3.3).
type threeDSResult struct {
	ThreeDSVersion  string `json:"threeDSVersion"`
	ECI             string `json:"eci"`
	CAVV            string `json:"cavv,omitempty"`
	DSTransactionID string `json:"dsTransactionId,omitempty"`
	Challenged      bool   `json:"challenged"`
	ThreeDSOffered  bool   `json:"threeDSOffered"`
}

// acquirerInfo names the acquirer that moved the money (§3.3).
type acquirerInfo struct {
	AcquirerName          string `json:"acquirerName"`
	ReferenceRequestID    string `json:"referenceRequestId,omitempty"`
	AcquirerTransactionID string `json:"acquirerTransactionId,omitempty"`
	AcquirerMerchantID    string `json:"acquirerMerchantId,omitempty"`
	AcquirerMerchantName  string `json:"acquirerMerchantName,omitempty"`
	AcquirerResultCode    string `json:"acquirerResultCode,omitempty"`
	AcquirerResultMessage string `json:"acquirerResultMessage,omitempty"`
}

type inquiryPaymentRequest struct {
	PaymentRequestID  string `json:"paymentRequestId"`
	PaymentID         string `json:"paymentId"`
	MerchantAccountID string `json:"merchantAccountId"`
}

// inquiryPaymentResponse is §3.4. Its result says whether the inquiry
// worked; the payment's own outcome is paymentStatus.
type inquiryPaymentResponse struct {
	Result               result             `json:"result"`
	PaymentStatus        string             `json:"paymentStatus,omitempty"`
	PaymentResultCode    string             `json:"paymentResultCode,omitempty"`
	PaymentResultMessage string             `json:"paymentResultMessage,omitempty"`
	PaymentRequestID     string             `json:"paymentRequestId,omitempty"`
	PaymentID            string             `json:"paymentId,omitempty"`
	PaymentAmount        *Amount            `json:"paymentAmount,omitempty"`
	PaymentCreateTime    string             `json:"paymentCreateTime,omitempty"`
	PaymentTime          string             `json:"paymentTime,omitempty"`
	AuthExpiryTime       string             `json:"authExpiryTime,omitempty"`
	PaymentMethodType    string             `json:"paymentMethodType,omitempty"`
	PaymentResultInfo    *paymentResultInfo `json:"paymentResultInfo,omitempty"`
	AcquirerInfo         *acquirerInfo      `json:"acquirerInfo,omitempty"`
	AcquirerReferenceNo  string             `json:"acquirerReferenceNo,omitempty"`
	Transactions         []transaction      `json:"transactions,omitempty"`
}

type transaction struct {
	TransactionType      string        `json:"transactionType"`
	TransactionStatus    string        `json:"transactionStatus"`
	TransactionID        string        `json:"transactionId"`
	TransactionRequestID string        `json:"transactionRequestId,omitempty"`
	TransactionAmount    *Amount       `json:"transactionAmount,omitempty"`
	TransactionTime      string        `json:"transactionTime,omitempty"`
	TransactionResult    *result       `json:"transactionResult,omitempty"`
	AcquirerInfo         *acquirerInfo `json:"acquirerInfo,omitempty"`
}

type captureRequest struct {
	CaptureRequestID string    `json:"captureRequestId"`
	PaymentID        string    `json:"paymentId"`
	CaptureAmount    *Amount   `json:"captureAmount"`
	IsLastCapture    *flexBool `json:"isLastCapture"`
	CaptureType      string    `json:"captureType"`
}

type captureResponse struct {
	Result              result        `json:"result"`
	CaptureRequestID    string        `json:"captureRequestId,omitempty"`
	CaptureID           string        `json:"captureId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	CaptureAmount       *Amount       `json:"captureAmount,omitempty"`
	CaptureTime         string        `json:"captureTime,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *acquirerInfo `json:"acquirerInfo,omitempty"`
}

type cancelRequest struct {
	PaymentID         string `json:"paymentId"`
	PaymentRequestID  string `json:"paymentRequestId"`
	MerchantAccountID string `json:"merchantAccountId"`
}

type cancelResponse struct {
	Result           result        `json:"result"`
	PaymentID        string        `json:"paymentId,omitempty"`
	PaymentRequestID string        `json:"paymentRequestId,omitempty"`
	CancelTime       string        `json:"cancelTime,omitempty"`
	AcquirerInfo     *acquirerInfo `json:"acquirerInfo,omitempty"`
}

type refundRequest struct {
	RefundRequestID   string  `json:"refundRequestId"`
	PaymentID         string  `json:"paymentId"`
	RefundAmount      *Amount `json:"refundAmount"`
	RefundReason      string  `json:"refundReason"`
	RefundNotifyURL   string  `json:"refundNotifyUrl"`
	ReferenceRefundID string  `json:"referenceRefundId"`
	CaptureID         string  `json:"captureId"`
}

type refundResponse struct {
	Result              result        `json:"result"`
	RefundRequestID     string        `json:"refundRequestId,omitempty"`
	RefundID            string        `json:"refundId,omitempty"`
	PaymentID           string        `json:"paymentId,omitempty"`
	RefundAmount        *Amount       `json:"refundAmount,omitempty"`
	RefundTime          string        `json:"refundTime,omitempty"`
	AcquirerReferenceNo string        `json:"acquirerReferenceNo,omitempty"`
	AcquirerInfo        *acquirerInfo `json:"acquirerInfo,omitempty"`
}

type inquiryRefundRequest struct {
	RefundRequestID   string `json:"refundRequestId"`
	RefundID          string `json:"refundId"`
	MerchantAccountID string `json:"merchantAccountId"`
}

type inquiryRefundResponse struct {
	Result          result        `json:"result"`
	RefundID        string        `json:"refundId,omitempty"`
	RefundRequestID string        `json:"refundRequestId,omitempty"`
	RefundAmount    *Amount       `json:"refundAmount,omitempty"`
	RefundStatus    string        `json:"refundStatus,omitempty"`
	RefundTime      string        `json:"refundTime,omitempty"`
	ARN             string        `json:"arn,omitempty"`
	AcquirerInfo    *acquirerInfo `json:"acquirerInfo,omitempty"`
}

type disputeRequest struct {
	DisputeID           string `json:"disputeId"`
	DisputeEvidence     string `json:"disputeEvidence"`
	DisputeEvidenceType string `json:"disputeEvidenceType"`
}

type disputeResponse struct {
	Result                result `json:"result"`
	DisputeID             string `json:"disputeId,omitempty"`
	DisputeResolutionTime string `json:"disputeResolutionTime,omitempty"`
}

type evidenceResponse struct {
	Result                result `json:"result"`
	DisputeEvidence       string `json:"disputeEvidence,omitempty"`
	DisputeEvidenceFormat string `json:"disputeEvidenceFormat,omitempty"`
}
