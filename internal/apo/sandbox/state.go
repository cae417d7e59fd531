package sandbox

import (
	"strconv"
	"time"
)

// money is an amount in minor units of a currency. The sandbox never uses
// floating point for money.
type money struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

// wire renders m as APO's {currency, value} with value in minor units.
func (m money) wire() *Amount {
	return &Amount{Currency: m.Currency, Value: strconv.FormatInt(m.Value, 10)}
}

// Payment statuses as inquiryPayment reports them (§3.4).
const (
	statusProcessing = "PROCESSING"
	statusSuccess    = "SUCCESS"
	statusFail       = "FAIL"
	statusCancelled  = "CANCELLED"
)

// Why a payment is PROCESSING.
const (
	pendingChallenge = "CHALLENGE" // waiting for the buyer on the 3DS page
	pendingDelayed   = "DELAYED"   // the acquirer answers later on its own
)

// payment is one pay call's order. Fields with json tags are what
// GET /sandbox/state shows; idempotency material stays unexported.
type payment struct {
	ID               string         `json:"paymentId"`
	RequestID        string         `json:"paymentRequestId"`
	ReferenceOrderID string         `json:"referenceOrderId"`
	ReferenceMerchID string         `json:"referenceMerchantId,omitempty"`
	Amount           money          `json:"paymentAmount"`
	CaptureMode      string         `json:"captureMode"`
	IsAuthorization  bool           `json:"isAuthorization"`
	Status           string         `json:"paymentStatus"`
	ResultCode       string         `json:"paymentResultCode"`
	ResultMessage    string         `json:"paymentResultMessage"`
	Pending          string         `json:"pending,omitempty"`
	ResolveAt        time.Time      `json:"resolveAt,omitzero"`
	ExpiryTime       time.Time      `json:"paymentExpiryTime,omitzero"`
	CreateTime       time.Time      `json:"paymentCreateTime"`
	PaymentTime      time.Time      `json:"paymentTime,omitzero"`
	AuthExpiry       time.Time      `json:"authExpiryTime,omitzero"`
	Card             cardFacts      `json:"card"`
	CVVPresent       bool           `json:"cvvPresent"`
	AVSChecked       bool           `json:"avsChecked"`
	ThreeDS          *threeDSResult `json:"threeDSResult,omitempty"`
	Acquirer         acquirerInfo   `json:"acquirerInfo"`
	NormalURL        string         `json:"normalUrl,omitempty"`
	NetworkTxnID     string         `json:"networkTransactionId,omitempty"`
	AuthCode         string         `json:"authorizationCode,omitempty"`
	RefusalCode      string         `json:"refusalCodeRaw,omitempty"`
	RefusalReason    string         `json:"refusalReasonRaw,omitempty"`
	NotifyURL        string         `json:"paymentNotifyUrl,omitempty"`
	RedirectURL      string         `json:"paymentRedirectUrl,omitempty"`
	DisputeOnCapture bool           `json:"disputeOnCapture,omitempty"`
	CapturesClosed   bool           `json:"capturesClosed,omitempty"`
	Captures         []*capture     `json:"captures,omitempty"`
	Refunds          []*refund      `json:"refunds,omitempty"`
	Cancel           *cancellation  `json:"cancel,omitempty"`

	// payKey identifies the pay request's key fields (§4.3) and payAnswer
	// is the body answered to it, replayed byte for byte.
	payKey    string
	payAnswer answer
}

// captured is the total successfully captured.
func (p *payment) captured() int64 {
	var n int64
	for _, c := range p.Captures {
		n += c.Amount.Value
	}
	return n
}

// refunded is the total successfully refunded.
func (p *payment) refunded() int64 {
	var n int64
	for _, r := range p.Refunds {
		n += r.Amount.Value
	}
	return n
}

// capture is a successful capture, manual or automatic.
type capture struct {
	ID        string       `json:"captureId"`
	RequestID string       `json:"captureRequestId"`
	PaymentID string       `json:"paymentId"`
	Amount    money        `json:"captureAmount"`
	Time      time.Time    `json:"captureTime"`
	Automatic bool         `json:"automatic,omitempty"`
	Acquirer  acquirerInfo `json:"acquirerInfo"`
}

// refund is a successful refund.
type refund struct {
	ID        string       `json:"refundId"`
	RequestID string       `json:"refundRequestId"`
	PaymentID string       `json:"paymentId"`
	CaptureID string       `json:"captureId,omitempty"`
	Amount    money        `json:"refundAmount"`
	Time      time.Time    `json:"refundTime"`
	ARN       string       `json:"arn"`
	NotifyURL string       `json:"refundNotifyUrl,omitempty"`
	Acquirer  acquirerInfo `json:"acquirerInfo"`
}

// cancellation is the void of a payment.
type cancellation struct {
	ID       string       `json:"cancelId"`
	Time     time.Time    `json:"cancelTime"`
	Acquirer acquirerInfo `json:"acquirerInfo"`
}

// Dispute statuses.
const (
	disputeCreated         = "CREATED"
	disputeAccepted        = "ACCEPTED"
	disputeDefenseSupplied = "DEFENSE_SUPPLIED"
	disputeJudged          = "JUDGED"
	disputeCancelled       = "CANCELLED"
)

// dispute is a chargeback on a captured payment.
type dispute struct {
	ID               string    `json:"disputeId"`
	PaymentID        string    `json:"paymentId"`
	PaymentRequestID string    `json:"paymentRequestId"`
	CaptureID        string    `json:"captureId,omitempty"`
	Amount           money     `json:"disputeAmount"`
	Time             time.Time `json:"disputeTime"`
	DefenseDue       time.Time `json:"defenseDueTime"`
	ReasonCode       string    `json:"disputeReasonCode"`
	ReasonMsg        string    `json:"disputeReasonMsg"`
	Source           string    `json:"disputeSource"`
	Type             string    `json:"disputeType"`
	ARN              string    `json:"arn"`
	Status           string    `json:"status"`
	ResolutionTime   time.Time `json:"disputeResolutionTime,omitzero"`
	Defendable       bool      `json:"defendable"`
	AcceptTime       time.Time `json:"disputeAcceptTime,omitzero"`
	AcceptReason     string    `json:"disputeAcceptReason,omitempty"`
	JudgedResult     string    `json:"disputeJudgedResult,omitempty"`
	JudgedAmount     *money    `json:"disputeJudgedAmount,omitempty"`
	JudgedTime       time.Time `json:"disputeJudgedTime,omitzero"`
	CancelTime       time.Time `json:"disputeCancelTime,omitzero"`
	// Reversal is the amount given back to the merchant (judged for the
	// merchant, or cancelled by the cardholder); it is a
	// DISPUTE_REVERSAL line in the settlement report of its day.
	Reversal     *money    `json:"reversalAmount,omitempty"`
	ReversalTime time.Time `json:"reversalTime,omitzero"`
	DueAlerted   bool      `json:"defenseDueAlerted,omitempty"`
	// Only a digest and size of the merchant's defence document are kept:
	// it is the merchant's file, the sandbox has no use for its content.
	EvidenceSHA256 string `json:"evidenceSha256,omitempty"`
	EvidenceBytes  int    `json:"evidenceBytes,omitempty"`
}

// answer is a rendered, unsigned response body with the result it carries.
// Stored answers are what idempotent replays send again.
type answer struct {
	body []byte
	res  result
}

// idemRecord remembers the final answer to a capture or refund request id,
// with the key fields it was given (§4.3).
type idemRecord struct {
	key string
	ans answer
}

// state is everything the sandbox remembers. Server.mu guards all of it.
type state struct {
	payments      map[string]*payment // by paymentId
	byRequest     map[string]*payment // by paymentRequestId
	paymentOrder  []string            // paymentIds in creation order
	captureReqs   map[string]*idemRecord
	refundReqs    map[string]*idemRecord
	refunds       map[string]*refund // by refundId
	refundsByReq  map[string]*refund // by refundRequestId
	disputes      map[string]*dispute
	disputeOrder  []string
	tokens        map[string]*cardFacts // saved cards by cardToken
	daily         map[string][]dayEntry // report lines by UTC day (yyyyMMdd), in event order
	calls         []Call                // ring buffer, see Server.record
	callsNext     int
	callsRecorded int
}

func newState() state {
	return state{
		payments:     map[string]*payment{},
		byRequest:    map[string]*payment{},
		captureReqs:  map[string]*idemRecord{},
		refundReqs:   map[string]*idemRecord{},
		refunds:      map[string]*refund{},
		refundsByReq: map[string]*refund{},
		disputes:     map[string]*dispute{},
		tokens:       map[string]*cardFacts{},
		daily:        map[string][]dayEntry{},
	}
}

// Call is one gateway call as the sandbox saw it, kept for tests that look
// at traffic (rate limits, retries, idempotent replays).
//
// ResultStatus and ResultCode are what the operation really did. With a
// fault, the client saw something else: Fault names it ("http_5xx",
// "hang", "reset", "unknown", or "client_gone" when the client left
// during added latency), and Applied says whether the operation ran (and
// changed state) before the fault hit. An operation that did not run has
// an empty ResultStatus.
type Call struct {
	Time         time.Time `json:"time"`
	API          string    `json:"api"`
	Path         string    `json:"path"`
	ClientID     string    `json:"clientId"`
	RequestID    string    `json:"requestId,omitempty"`
	ResultStatus string    `json:"resultStatus"`
	ResultCode   string    `json:"resultCode"`
	Replay       bool      `json:"replay,omitempty"`
	Fault        string    `json:"fault,omitempty"`
	Applied      bool      `json:"applied,omitempty"`
	LatencyMs    int64     `json:"latencyMs,omitempty"`
	HTTPStatus   int       `json:"httpStatus"` // 0: no HTTP answer (hang, reset)
}

// maxCalls bounds the call log so a long-running sandbox keeps flat memory.
const maxCalls = 10000
