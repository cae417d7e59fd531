package apo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Amount is APO's money: an ISO 4217 currency and a string holding a
// non-negative integer count of the currency's minor unit ("100" is USD 1.00,
// "1" is JPY 1). Never floats.
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// NewAmount converts our int64 minor units into APO's string form.
func NewAmount(minor int64, currency string) Amount {
	return Amount{Currency: currency, Value: strconv.FormatInt(minor, 10)}
}

// Minor returns the amount in minor units. It accepts only plain decimal
// digits, because anything else ("10.00", "-5", "1e3") means the two sides
// disagree about units and must not be guessed at.
func (a Amount) Minor() (int64, error) {
	if a.Value == "" || strings.TrimLeft(a.Value, "0123456789") != "" {
		return 0, fmt.Errorf("apo amount %q: not a count of minor units", a.Value)
	}
	n, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("apo amount %q: out of range", a.Value)
	}
	return n, nil
}

// Result is the outcome block every APO response and notification carries.
// ResultStatus is S (success), F (failed, final) or U (unknown).
type Result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage,omitempty"`
}

// UnmarshalJSON decodes normally, then masks anything that looks like a card
// number in ResultMessage: it is free text and could echo the request.
func (r *Result) UnmarshalJSON(data []byte) error {
	type plain Result
	var v plain
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	v.ResultMessage = scrubPANs(v.ResultMessage)
	*r = Result(v)
	return nil
}

// Outcome maps ResultStatus to an Outcome; anything but S or F is unknown.
func (r Result) Outcome() Outcome {
	switch r.ResultStatus {
	case "S":
		return OutcomeSuccess
	case "F":
		return OutcomeFailed
	}
	return OutcomeUnknown
}

// FlexBool is a boolean that encodes as a JSON boolean and decodes from a JSON
// boolean or from the strings "true"/"false". APO's docs say scalars are
// strings while its Go SDK sends booleans, so both appear on the wire.
type FlexBool bool

// UnmarshalJSON accepts true, false, "true", "false" (any case), "" and null.
func (b *FlexBool) UnmarshalJSON(data []byte) error {
	v, err := parseFlexBool(data)
	if err != nil {
		return err
	}
	*b = FlexBool(v)
	return nil
}

// StringBool is a boolean that encodes as the JSON string "true" or "false",
// the form Antom documents for card fields inside paymentMethodMetaData (a
// free-form string map on APO's side). It decodes like FlexBool.
type StringBool bool

// MarshalJSON writes "true" or "false" as a JSON string.
func (b StringBool) MarshalJSON() ([]byte, error) {
	if b {
		return []byte(`"true"`), nil
	}
	return []byte(`"false"`), nil
}

// UnmarshalJSON accepts true, false, "true", "false" (any case), "" and null.
func (b *StringBool) UnmarshalJSON(data []byte) error {
	v, err := parseFlexBool(data)
	if err != nil {
		return err
	}
	*b = StringBool(v)
	return nil
}

func parseFlexBool(data []byte) (bool, error) {
	s := string(bytes.TrimSpace(data))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return false, err
		}
		s = strings.TrimSpace(str)
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false", "", "null":
		return false, nil
	}
	return false, errors.New("apo: boolean field is neither true nor false")
}

// Name is a person's name as APO models it (cardholderName, buyerName).
type Name struct {
	FirstName  string `json:"firstName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	FullName   string `json:"fullName,omitempty"`
}

// Address is APO's postal address (billingAddress, shippingAddress,
// merchantAddress). Region is an ISO 3166 alpha-2 country code.
type Address struct {
	Region   string `json:"region,omitempty"`
	State    string `json:"state,omitempty"`
	City     string `json:"city,omitempty"`
	Address1 string `json:"address1,omitempty"`
	Address2 string `json:"address2,omitempty"`
	Address3 string `json:"address3,omitempty"`
	ZipCode  string `json:"zipCode,omitempty"`
	Label    string `json:"label,omitempty"`
}

// Order describes what is being bought. APO uses it for risk checks and
// shows referenceOrderId in its reports.
type Order struct {
	ReferenceOrderID string    `json:"referenceOrderId,omitempty"`
	OrderDescription string    `json:"orderDescription,omitempty"`
	OrderAmount      *Amount   `json:"orderAmount,omitempty"` // nil: not sent (an empty amount would be illegal)
	Merchant         *Merchant `json:"merchant,omitempty"`
	Goods            []Goods   `json:"goods,omitempty"`
	Shipping         *Shipping `json:"shipping,omitempty"`
	Buyer            *Buyer    `json:"buyer,omitempty"`
	Env              *Env      `json:"env,omitempty"`
}

// Merchant is the sub-merchant selling the order (order.merchant).
type Merchant struct {
	ReferenceMerchantID  string   `json:"referenceMerchantId,omitempty"`
	MerchantMCC          string   `json:"merchantMCC,omitempty"`
	MerchantName         string   `json:"merchantName,omitempty"`
	MerchantDisplayName  string   `json:"merchantDisplayName,omitempty"`
	MerchantAddress      *Address `json:"merchantAddress,omitempty"`
	MerchantRegisterDate string   `json:"merchantRegisterDate,omitempty"`
}

// Goods is one line of an order.
type Goods struct {
	ReferenceGoodsID string  `json:"referenceGoodsId,omitempty"`
	GoodsName        string  `json:"goodsName,omitempty"`
	GoodsCategory    string  `json:"goodsCategory,omitempty"`
	GoodsUnitAmount  *Amount `json:"goodsUnitAmount,omitempty"`
	GoodsQuantity    string  `json:"goodsQuantity,omitempty"`
}

// Shipping is where an order goes.
type Shipping struct {
	ShippingName    *Name    `json:"shippingName,omitempty"`
	ShippingAddress *Address `json:"shippingAddress,omitempty"`
	ShippingCarrier string   `json:"shippingCarrier,omitempty"`
	ShippingPhoneNo string   `json:"shippingPhoneNo,omitempty"`
	ShipToEmail     string   `json:"shipToEmail,omitempty"`
}

// Buyer identifies the shopper (order.buyer).
type Buyer struct {
	ReferenceBuyerID      string `json:"referenceBuyerId,omitempty"`
	BuyerName             *Name  `json:"buyerName,omitempty"`
	BuyerPhoneNo          string `json:"buyerPhoneNo,omitempty"`
	BuyerEmail            string `json:"buyerEmail,omitempty"`
	BuyerRegistrationTime string `json:"buyerRegistrationTime,omitempty"`
}

// Env is the buyer's device and browser. ClientIP is needed for cards; the
// browser fields feed 3DS 2.
type Env struct {
	TerminalType   string       `json:"terminalType,omitempty"` // WEB, WAP, APP, MINI_APP
	OSType         string       `json:"osType,omitempty"`       // IOS, ANDROID
	UserAgent      string       `json:"userAgent,omitempty"`
	DeviceTokenID  string       `json:"deviceTokenId,omitempty"`
	ClientIP       string       `json:"clientIp,omitempty"`
	CookieID       string       `json:"cookieId,omitempty"`
	BrowserInfo    *BrowserInfo `json:"browserInfo,omitempty"`
	ColorDepth     string       `json:"colorDepth,omitempty"`
	ScreenHeight   string       `json:"screenHeight,omitempty"`
	ScreenWidth    string       `json:"screenWidth,omitempty"`
	TimeZoneOffset string       `json:"timeZoneOffset,omitempty"`
	DeviceBrand    string       `json:"deviceBrand,omitempty"`
	DeviceModel    string       `json:"deviceModel,omitempty"`
	DeviceLanguage string       `json:"deviceLanguage,omitempty"`
	DeviceID       string       `json:"deviceId,omitempty"`
	OSVersion      string       `json:"osVersion,omitempty"`
}

// BrowserInfo is env.browserInfo, used by 3DS 2.
type BrowserInfo struct {
	AcceptHeader      string   `json:"acceptHeader,omitempty"`
	JavaEnabled       FlexBool `json:"javaEnabled,omitempty"`
	JavaScriptEnabled FlexBool `json:"javaScriptEnabled,omitempty"`
	Language          string   `json:"language,omitempty"`
	UserAgent         string   `json:"userAgent,omitempty"`
}

// PaymentMethod says how the buyer pays. For a new card set
// PaymentMethodType "CARD" and PaymentMethodMetaData; for a saved card set
// PaymentMethodID to the cardToken APO returned earlier (and
// PaymentMethodMetaData.IsCardOnFile). Its String, GoString and LogValue
// mask the card (see CardMetaData).
type PaymentMethod struct {
	PaymentMethodType     string        `json:"paymentMethodType"`
	PaymentMethodID       string        `json:"paymentMethodId,omitempty"`
	PaymentMethodMetaData *CardMetaData `json:"paymentMethodMetaData,omitempty"`
	CustomerID            string        `json:"customerId,omitempty"`
}

// CardMetaData is paymentMethod.paymentMethodMetaData for card payments. It
// carries the PAN and CVV, so every printing path (String, GoString,
// LogValue) masks them; only json.Marshal, which builds the request body,
// sees them in clear.
type CardMetaData struct {
	CardNo                      string     `json:"cardNo,omitempty"`
	CVV                         string     `json:"cvv,omitempty"`
	ExpiryYear                  string     `json:"expiryYear,omitempty"`  // two digits: 2027 → "27"
	ExpiryMonth                 string     `json:"expiryMonth,omitempty"` // two digits: "02"
	CardholderName              *Name      `json:"cardholderName,omitempty"`
	BillingAddress              *Address   `json:"billingAddress,omitempty"`
	Is3DSAuthentication         StringBool `json:"is3DSAuthentication,omitempty"`         // true forces 3DS
	EnableAuthenticationUpgrade StringBool `json:"enableAuthenticationUpgrade,omitempty"` // let APO run scheme-required 3DS
	IsCardOnFile                StringBool `json:"isCardOnFile,omitempty"`                // paying with a stored card
	SelectedCardBrand           string     `json:"selectedCardBrand,omitempty"`
	NetworkTransactionID        string     `json:"networkTransactionId,omitempty"`
}

// PaymentFactor tunes how APO treats a payment. IsAuthorization true asks
// for an authorisation that is captured automatically or manually according
// to CaptureMode ("AUTOMATIC", the default when empty, or "MANUAL").
type PaymentFactor struct {
	IsAuthorization FlexBool `json:"isAuthorization,omitempty"`
	CaptureMode     string   `json:"captureMode,omitempty"`
}

// Capture modes for PaymentFactor.CaptureMode.
const (
	CaptureAutomatic = "AUTOMATIC"
	CaptureManual    = "MANUAL"
)

// SettlementStrategy picks the settlement currency when several are
// contracted.
type SettlementStrategy struct {
	SettlementCurrency string `json:"settlementCurrency,omitempty"`
}

// RedirectActionForm is the (deprecated but still modelled) redirect a pay
// response may carry instead of normalUrl.
type RedirectActionForm struct {
	Method         string `json:"method,omitempty"`
	Parameters     string `json:"parameters,omitempty"`
	RedirectURL    string `json:"redirectUrl,omitempty"`
	ActionFormType string `json:"actionFormType,omitempty"`
}

// PaymentResultInfo describes the card as APO saw it: masked number, BIN,
// last four, brand, token, 3DS result and the acquirer's raw codes. CardNo is
// masked by APO; decoding masks it again in case a gateway ever sends it in
// clear.
type PaymentResultInfo struct {
	CardNo                            string         `json:"cardNo,omitempty"`
	CardBrand                         string         `json:"cardBrand,omitempty"`
	CardToken                         string         `json:"cardToken,omitempty"`
	CardBin                           string         `json:"cardBin,omitempty"`
	LastFour                          string         `json:"lastFour,omitempty"`
	ExpiryMonth                       string         `json:"expiryMonth,omitempty"`
	ExpiryYear                        string         `json:"expiryYear,omitempty"`
	CardholderName                    string         `json:"cardholderName,omitempty"`
	IssuingCountry                    string         `json:"issuingCountry,omitempty"`
	IssuerName                        string         `json:"issuerName,omitempty"`
	Funding                           string         `json:"funding,omitempty"`      // CREDIT, DEBIT, PREPAID, CHARGE, DEFERRED_DEBIT
	CardCategory                      string         `json:"cardCategory,omitempty"` // CONSUMER, COMMERCIAL
	PaymentMethodRegion               string         `json:"paymentMethodRegion,omitempty"`
	ThreeDSResult                     *ThreeDSResult `json:"threeDSResult,omitempty"`
	AvsResultRaw                      string         `json:"avsResultRaw,omitempty"`
	CvvResultRaw                      string         `json:"cvvResultRaw,omitempty"`
	NetworkTransactionID              string         `json:"networkTransactionId,omitempty"`
	RefusalCodeRaw                    string         `json:"refusalCodeRaw,omitempty"`
	RefusalReasonRaw                  string         `json:"refusalReasonRaw,omitempty"`
	MerchantAdviceCode                string         `json:"merchantAdviceCode,omitempty"`
	AuthorizationCode                 string         `json:"authorizationCode,omitempty"`
	RRN                               string         `json:"rrn,omitempty"`
	CredentialTypeUsed                string         `json:"credentialTypeUsed,omitempty"`
	IncrementalAuthorizationAvailable FlexBool       `json:"incrementalAuthorizationAvailable,omitempty"`
	ExtendedAuthorizationAvailable    FlexBool       `json:"extendedAuthorizationAvailable,omitempty"`
	RefundOnAuthorizationAvailable    FlexBool       `json:"refundOnAuthorizationAvailable,omitempty"`
	AcquirerInfo                      *AcquirerInfo  `json:"acquirerInfo,omitempty"`
}

// UnmarshalJSON decodes normally, then masks CardNo (idempotent on a number
// that is already masked), so a clear PAN can never reach our storage.
func (p *PaymentResultInfo) UnmarshalJSON(data []byte) error {
	type plain PaymentResultInfo
	var v plain
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	v.CardNo = MaskPAN(v.CardNo)
	*p = PaymentResultInfo(v)
	return nil
}

// ThreeDSResult is paymentResultInfo.threeDSResult.
type ThreeDSResult struct {
	ThreeDSVersion                 string   `json:"threeDSVersion,omitempty"`
	ECI                            string   `json:"eci,omitempty"`
	CAVV                           string   `json:"cavv,omitempty"`
	DSTransactionID                string   `json:"dsTransactionId,omitempty"`
	XID                            string   `json:"xid,omitempty"`
	ThreeDSTransactionStatusReason string   `json:"threeDStransactionStatusReason,omitempty"`
	ChallengeCancel                string   `json:"challengeCancel,omitempty"`
	Challenged                     FlexBool `json:"challenged,omitempty"`
	ExemptionType                  string   `json:"exemptionType,omitempty"`
	ThreeDSOffered                 FlexBool `json:"threeDSOffered,omitempty"`
}

// AcquirerInfo names the acquirer that moved the money and its references;
// APO returns it for APO-routed payments.
type AcquirerInfo struct {
	AcquirerName              string `json:"acquirerName,omitempty"`
	ReferenceRequestID        string `json:"referenceRequestId,omitempty"`
	AcquirerTransactionID     string `json:"acquirerTransactionId,omitempty"`
	AcquirerMerchantID        string `json:"acquirerMerchantId,omitempty"`
	AcquirerResultCode        string `json:"acquirerResultCode,omitempty"`
	AcquirerResultMessage     string `json:"acquirerResultMessage,omitempty"`
	AcquirerMerchantName      string `json:"acquirerMerchantName,omitempty"`
	AcquirerReasonDescription string `json:"acquirerReasonDescription,omitempty"`
	PtspTransactionID         string `json:"ptspTransactionId,omitempty"`
	AcquirerCardToken         string `json:"acquirerCardToken,omitempty"`
}

// Transaction is one entry of inquiryPayment's transactions[]: a capture,
// refund, cancel … of the payment. For CAPTURE, TransactionID is the
// captureId and TransactionRequestID our captureRequestId.
type Transaction struct {
	TransactionType      string        `json:"transactionType,omitempty"`   // PAYMENT, REFUND, CAPTURE, CANCEL, AUTHORIZATION, VOID, INCREMENTAL
	TransactionStatus    string        `json:"transactionStatus,omitempty"` // SUCCESS, FAIL, PROCESSING, CANCELLED, PENDING
	TransactionID        string        `json:"transactionId,omitempty"`
	TransactionRequestID string        `json:"transactionRequestId,omitempty"`
	TransactionAmount    Amount        `json:"transactionAmount"`
	TransactionTime      string        `json:"transactionTime,omitempty"`
	TransactionResult    Result        `json:"transactionResult"`
	AcquirerInfo         *AcquirerInfo `json:"acquirerInfo,omitempty"`
}

// Values of inquiryPayment's paymentStatus, transactions[].transactionStatus
// and the refund status fields.
const (
	StatusSuccess    = "SUCCESS"
	StatusFail       = "FAIL"
	StatusProcessing = "PROCESSING"
	StatusCancelled  = "CANCELLED"
	StatusPending    = "PENDING"
)
