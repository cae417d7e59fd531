package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/carddata"
)

// Errors returned by the sandbox's Go methods (the HTTP API answers with
// APO result codes instead).
var (
	// ErrNotFound reports an unknown payment or dispute id.
	ErrNotFound = errors.New("sandbox: not found")
	// ErrState reports an operation the object's current state forbids.
	ErrState = errors.New("sandbox: operation not allowed in the current state")
)

const (
	// authValidity is how long an authorization can be captured (§7: Antom
	// cancels uncaptured authorizations after 7 days).
	authValidity = 7 * 24 * time.Hour
	// delayedAnswer is how long the delayed test card stays PROCESSING,
	// before TimeScale.
	delayedAnswer = 30 * time.Second
	// challengeFailedCode is the result of a failed 3DS challenge.
	// UNCONFIRMED: no APO source names the code for a failed challenge.
	challengeFailedCode = "AUTHENTICATION_FAILED"
	// challengeExpiry is how long a buyer has for the 3DS page when the
	// request sets no paymentExpiryTime (§3.1: about 14 minutes), before
	// TimeScale.
	challengeExpiry = 14 * time.Minute
	// expiredCode is the result of a payment whose buyer never finished
	// 3DS before paymentExpiryTime. UNCONFIRMED: listed among the pay
	// codes recalled without a source (apo-reference.md §4.2).
	expiredCode = "ORDER_IS_CLOSED"
)

// payInput is a validated pay request, minus the card number, which stays
// in the request's cardMeta and is never copied.
type payInput struct {
	expiry      time.Time // zero: the default challenge expiry
	amount      money
	captureMode string
	isAuth      bool
	force3DS    bool
	cvv         bool
	avs         bool
	token       string
}

// validatePay checks a pay request as APO would, naming the first bad
// field.
func validatePay(req *payRequest) (payInput, *paramError) {
	var in payInput
	if req.ProductCode == "" {
		return in, &paramError{"productCode", "is required"}
	}
	if req.ProductCode != "CASHIER_PAYMENT" {
		return in, &paramError{"productCode", "must be CASHIER_PAYMENT"}
	}
	if perr := requireID("paymentRequestId", req.PaymentRequestID); perr != nil {
		return in, perr
	}
	amt, perr := parseAmount("paymentAmount", req.PaymentAmount)
	if perr != nil {
		return in, perr
	}
	in.amount = amt
	if perr := validateOrder(req.Order); perr != nil {
		return in, perr
	}
	if req.Env == nil || strings.TrimSpace(req.Env.ClientIP) == "" {
		return in, &paramError{"env.clientIp", "is required for card payments"}
	}
	if perr := validateURL("paymentNotifyUrl", req.PaymentNotifyURL); perr != nil {
		return in, perr
	}
	if perr := validateURL("paymentRedirectUrl", req.PaymentRedirectURL); perr != nil {
		return in, perr
	}
	if req.PaymentExpiryTime != "" {
		t, err := time.Parse(time.RFC3339, req.PaymentExpiryTime)
		if err != nil {
			return in, &paramError{"paymentExpiryTime", "must be an ISO 8601 date-time with offset"}
		}
		in.expiry = t
	}
	in.captureMode = "AUTOMATIC"
	if f := req.PaymentFactor; f != nil {
		switch f.CaptureMode {
		case "", "AUTOMATIC":
		case "MANUAL":
			in.captureMode = "MANUAL"
		default:
			return in, &paramError{"paymentFactor.captureMode", "must be AUTOMATIC or MANUAL"}
		}
		if f.IsAuthorization != nil {
			in.isAuth = bool(*f.IsAuthorization)
		}
	}
	if req.IsAuthorization != nil && bool(*req.IsAuthorization) {
		in.isAuth = true
	}
	if perr := validateCard(req.PaymentMethod, &in); perr != nil {
		return in, perr
	}
	return in, nil
}

func requireID(field, v string) *paramError {
	if v == "" {
		return &paramError{field, "is required"}
	}
	if len(v) > 64 {
		return &paramError{field, "is longer than 64 characters"}
	}
	return nil
}

// parseAmount checks an APO amount: a known ISO 4217 currency and a
// positive integer string of minor units.
func parseAmount(field string, a *Amount) (money, *paramError) {
	if a == nil {
		return money{}, &paramError{field, "is required"}
	}
	if a.Currency == "" {
		return money{}, &paramError{field + ".currency", "is required"}
	}
	if _, ok := currencyExponent(a.Currency); !ok {
		return money{}, &paramError{field + ".currency", "is not a supported ISO 4217 currency code"}
	}
	if a.Value == "" {
		return money{}, &paramError{field + ".value", "is required"}
	}
	v, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil || !allDigits(a.Value) || a.Value[0] == '0' || v <= 0 {
		return money{}, &paramError{field + ".value", "must be a positive integer string of minor units"}
	}
	return money{Value: v, Currency: a.Currency}, nil
}

func validateOrder(o *orderIn) *paramError {
	if o == nil {
		return &paramError{"order", "is required"}
	}
	if perr := requireID("order.referenceOrderId", o.ReferenceOrderID); perr != nil {
		return perr
	}
	if o.OrderAmount != nil {
		if _, perr := parseAmount("order.orderAmount", o.OrderAmount); perr != nil {
			return perr
		}
	}
	b := o.Buyer
	if b == nil {
		return &paramError{"order.buyer", "is required"}
	}
	if b.ReferenceBuyerID == "" && b.BuyerPhoneNo == "" && b.BuyerEmail == "" {
		return &paramError{"order.buyer", "needs one of referenceBuyerId, buyerPhoneNo or buyerEmail"}
	}
	return nil
}

func validateURL(field, v string) *paramError {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 2048 {
		return &paramError{field, "must be an absolute http(s) URL of at most 2048 characters"}
	}
	return nil
}

// validateCard checks paymentMethod for the CARD flow. Format errors are
// PARAM_ILLEGAL; a wrong but well-formed number or a past expiry are card
// outcomes decided later (INVALID_CARD_NUMBER, INVALID_EXPIRATION_DATE).
func validateCard(pm *paymentMethodIn, in *payInput) *paramError {
	if pm == nil {
		return &paramError{"paymentMethod", "is required"}
	}
	if pm.PaymentMethodType == "" {
		return &paramError{"paymentMethod.paymentMethodType", "is required"}
	}
	if pm.PaymentMethodType != "CARD" {
		return &paramError{"paymentMethod.paymentMethodType", "must be CARD"}
	}
	meta := pm.PaymentMethodMetaData
	if meta == nil || meta.CardNo == "" {
		if pm.PaymentMethodID == "" {
			return &paramError{"paymentMethod.paymentMethodMetaData.cardNo", "is required unless paymentMethod.paymentMethodId carries a card token"}
		}
		if len(pm.PaymentMethodID) > 2048 {
			return &paramError{"paymentMethod.paymentMethodId", "is longer than 2048 characters"}
		}
		in.token = pm.PaymentMethodID
		if meta != nil {
			in.force3DS = bool(meta.Is3DSAuthentication)
			in.cvv = meta.CVV != ""
		}
		return nil
	}
	const base = "paymentMethod.paymentMethodMetaData."
	if !allDigits(meta.CardNo) || len(meta.CardNo) > 32 {
		return &paramError{base + "cardNo", "must be a string of at most 32 digits"}
	}
	if len(meta.ExpiryMonth) != 2 || !allDigits(meta.ExpiryMonth) || meta.ExpiryMonth < "01" || meta.ExpiryMonth > "12" {
		return &paramError{base + "expiryMonth", "must be two digits 01-12"}
	}
	if len(meta.ExpiryYear) != 2 || !allDigits(meta.ExpiryYear) {
		return &paramError{base + "expiryYear", "must be two digits"}
	}
	if meta.CardholderName == nil || strings.TrimSpace(meta.CardholderName.display()) == "" {
		return &paramError{base + "cardholderName", "is required"}
	}
	if !printableASCII(meta.CardholderName.display()) {
		return &paramError{base + "cardholderName", "must be printable ASCII"}
	}
	if meta.CVV != "" && (!allDigits(meta.CVV) || len(meta.CVV) < 3 || len(meta.CVV) > 4) {
		return &paramError{base + "cvv", "must be 3 or 4 digits"}
	}
	in.force3DS = bool(meta.Is3DSAuthentication)
	in.cvv = meta.CVV != ""
	in.avs = len(meta.BillingAddress) > 0 && string(meta.BillingAddress) != "null"
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cardExpired reports whether a card with expiry MM/YY has passed its last
// valid day at now.
func cardExpired(month, year string, now time.Time) bool {
	m, _ := strconv.Atoi(month)
	y, _ := strconv.Atoi(year)
	end := time.Date(2000+y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(end)
}

// idemKey condenses the key fields of a request (§4.3) into one string.
func idemKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) inconsistent(requestID string) reply {
	rep := s.fail("REPEAT_REQ_INCONSISTENT", "the request id was already used with different key parameters")
	rep.requestID = requestID
	return rep
}

// pay handles /v1/payments/pay.
func (s *Server) pay(r *http.Request, body []byte) reply {
	var req payRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := req.PaymentRequestID
	in, perr := validatePay(&req)
	if perr != nil {
		return s.illegal(perr, rid)
	}
	meta := req.PaymentMethod.PaymentMethodMetaData
	var fresh cardFacts // facts of a card given in full; empty for token payments
	if in.token == "" {
		fresh = cardFactsOf(s.fpKey, meta.CardNo, meta.ExpiryMonth, meta.ExpiryYear)
	}
	// The card takes part in the key through its fingerprint, never the PAN.
	key := idemKey(rid, in.amount.Currency, strconv.FormatInt(in.amount.Value, 10),
		req.PaymentMethod.PaymentMethodID, fresh.Fingerprint)
	base := s.baseURL
	if base == "" {
		base = "http://" + r.Host
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.st.byRequest[rid]; ok {
		if p.payKey != key {
			return s.inconsistent(rid)
		}
		return s.replayPay(p)
	}
	now := s.now()
	facts := fresh
	validNumber, expired := true, false
	if in.token != "" {
		saved, ok := s.st.tokens[in.token]
		if !ok {
			return s.illegal(&paramError{"paymentMethod.paymentMethodId", "is not a card token issued to this merchant"}, rid)
		}
		facts = *saved
	} else {
		validNumber = len(meta.CardNo) >= carddata.MinLen && len(meta.CardNo) <= carddata.MaxLen && carddata.Luhn(meta.CardNo)
	}
	expired = cardExpired(facts.ExpiryMonth, facts.ExpiryYear, now)

	p := &payment{
		ID:               s.nextID(kindPayment),
		RequestID:        rid,
		ReferenceOrderID: req.Order.ReferenceOrderID,
		ReferenceMerchID: req.Order.merchantID(),
		Amount:           in.amount,
		CaptureMode:      in.captureMode,
		IsAuthorization:  in.isAuth,
		CreateTime:       now,
		Card:             facts,
		CVVPresent:       in.cvv,
		AVSChecked:       in.avs,
		NotifyURL:        req.PaymentNotifyURL,
		RedirectURL:      req.PaymentRedirectURL,
		DisputeOnCapture: facts.Behaviour == cardDispute,
		payKey:           key,
	}
	p.Card.Token = "" // a token is (re)issued only when this payment is authorized
	acq := acquirerByName(facts.Acquirer)
	ref := "APO" + p.ID
	b := facts.Behaviour
	switch {
	case !validNumber:
		p.setFail("INVALID_CARD_NUMBER", "the card number is not valid")
		p.Acquirer = acq.notSent(ref)
		p.DisputeOnCapture = false
	case expired:
		p.setFail("INVALID_EXPIRATION_DATE", "the card has expired")
		p.Acquirer = acq.notSent(ref)
	case b == cardDecline:
		p.setFail("DO_NOT_HONOR", "the issuer declined the payment (do not honor)")
		p.Acquirer = acq.info(s.rng, ref, "DO_NOT_HONOR")
		p.RefusalCode, p.RefusalReason = "05", "Do not honor"
	case b == cardNoFunds:
		p.setFail("USER_BALANCE_NOT_ENOUGH", "insufficient funds on the card")
		p.Acquirer = acq.info(s.rng, ref, "USER_BALANCE_NOT_ENOUGH")
		p.RefusalCode, p.RefusalReason = "51", "Insufficient funds"
	case b == cardChallenge || (in.force3DS && (b == cardApprove || b == cardDispute)):
		p.setProcessing(pendingChallenge)
		p.NormalURL = base + "/sandbox/3ds/" + p.ID
		p.Acquirer = acq.info(s.rng, ref, opChallenge)
		p.ExpiryTime = in.expiry
		if p.ExpiryTime.IsZero() {
			p.ExpiryTime = now.Add(s.scaled(challengeExpiry))
		}
		s.later(p.ExpiryTime, p)
	case b == cardDelayed:
		p.setProcessing(pendingDelayed)
		p.ResolveAt = now.Add(s.scaled(delayedAnswer))
		p.Acquirer = acq.info(s.rng, ref, opPending)
		s.later(p.ResolveAt, p)
	}
	s.st.payments[p.ID] = p
	s.st.byRequest[rid] = p
	s.st.paymentOrder = append(s.st.paymentOrder, p.ID)
	s.addDayEntry(now, dayEntry{kind: entryPayment, p: p})
	switch p.Status {
	case statusFail:
		s.notifyPayment(p)
	case "":
		// Approved: authorized once filed, so its capture (AUTOMATIC
		// mode) and their notifications follow the payment's.
		s.authorize(p, now, false)
	}
	p.payAnswer = s.renderPay(p)
	return reply{answer: p.payAnswer, requestID: rid}
}

// later makes the scheduler look at p again at t: the delayed card's
// answer, or the end of a challenge's time. Call with mu held.
func (s *Server) later(t time.Time, p *payment) {
	s.sched.at(t, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.refresh(p)
	})
}

func (p *payment) setFail(code, msg string) {
	p.Status, p.ResultCode, p.ResultMessage, p.Pending = statusFail, code, msg, ""
}

func (p *payment) setProcessing(why string) {
	p.Status, p.ResultCode, p.ResultMessage, p.Pending = statusProcessing, "PAYMENT_IN_PROCESS", "the payment is being processed", why
}

// replayPay answers a repeated pay with the same key fields (§4.3). A final
// first answer (S or F) is sent again byte for byte. A first answer of U
// is sent again while the payment is still processing; once the payment
// has finished, the retry "drives it to completion": the final outcome is
// rendered once and from then on replayed byte for byte.
func (s *Server) replayPay(p *payment) reply {
	s.refresh(p)
	if p.payAnswer.res.ResultStatus == "U" && p.Status != statusProcessing {
		p.payAnswer = s.renderPay(p)
	}
	return reply{answer: p.payAnswer, requestID: p.RequestID, replay: true}
}

// refresh applies what time alone changes: the delayed test card's late
// success, and the failure of a challenge left unfinished past its
// paymentExpiryTime. Call with mu held before reading a payment. The
// scheduler calls it at those deadlines too, so the notification goes out
// even if nobody asks.
func (s *Server) refresh(p *payment) {
	if p.Status != statusProcessing {
		return
	}
	now := s.now()
	switch {
	case p.Pending == pendingDelayed && !now.Before(p.ResolveAt):
		s.authorize(p, p.ResolveAt, false)
	case p.Pending == pendingChallenge && !p.ExpiryTime.IsZero() && !now.Before(p.ExpiryTime):
		p.setFail(expiredCode, "the buyer did not complete 3DS authentication before the payment expired")
		s.notifyPayment(p)
	}
}

// authorize marks p authorized at time at, issues its card token, tells
// the merchant, and captures it at once in AUTOMATIC capture mode.
func (s *Server) authorize(p *payment, at time.Time, challenged bool) {
	p.Status, p.ResultCode, p.ResultMessage, p.Pending = statusSuccess, "SUCCESS", "success", ""
	p.PaymentTime = at
	p.AuthExpiry = at.Add(authValidity)
	acq := acquirerByName(p.Card.Acquirer)
	txnID := p.Acquirer.AcquirerTransactionID
	p.Acquirer = acq.info(s.rng, "APO"+p.ID, opAuthorize)
	if txnID != "" {
		p.Acquirer.AcquirerTransactionID = txnID // same acquirer transaction, now answered
	}
	p.ThreeDS = s.threeDS(p.Card.Brand, challenged)
	p.NetworkTxnID = randString(s.rng, "0123456789", 15)
	p.AuthCode = randString(s.rng, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 6)
	p.Card.Token = cardToken(s.fpKey, p.Card.Fingerprint)
	saved := p.Card
	s.st.tokens[saved.Token] = &saved
	s.notifyPayment(p)
	if p.CaptureMode == "AUTOMATIC" {
		s.addCapture(p, p.RequestID, p.Amount, at, true)
	}
}

// threeDS makes the 3-D Secure result of an authentication: 3DS2,
// fully authenticated (ECI 05 for Visa/Amex, 02 for Mastercard).
func (s *Server) threeDS(brand string, challenged bool) *threeDSResult {
	eci := "05"
	if brand == "MASTERCARD" {
		eci = "02"
	}
	cavv := make([]byte, 20)
	for i := range cavv {
		cavv[i] = byte(s.rng.UintN(256))
	}
	hexs := "0123456789abcdef"
	ds := randString(s.rng, hexs, 8) + "-" + randString(s.rng, hexs, 4) + "-" + randString(s.rng, hexs, 4) +
		"-" + randString(s.rng, hexs, 4) + "-" + randString(s.rng, hexs, 12)
	return &threeDSResult{
		ThreeDSVersion:  "2.2.0",
		ECI:             eci,
		CAVV:            base64.StdEncoding.EncodeToString(cavv),
		DSTransactionID: ds,
		Challenged:      challenged,
		ThreeDSOffered:  true,
	}
}

// resultInfo renders the masked card facts of p (§3.3).
func (p *payment) resultInfo() *paymentResultInfo {
	ri := &paymentResultInfo{
		CardNo:             p.Card.Masked,
		CardBin:            p.Card.BIN,
		LastFour:           p.Card.LastFour,
		CardBrand:          p.Card.Brand,
		CardToken:          p.Card.Token,
		Funding:            p.Card.Funding,
		CardCategory:       "CONSUMER",
		IssuingCountry:     p.Card.IssuingCountry,
		ExpiryMonth:        p.Card.ExpiryMonth,
		ExpiryYear:         p.Card.ExpiryYear,
		ThreeDSResult:      p.ThreeDS,
		AvsResultRaw:       "U", // no billing address given: AVS unavailable
		CvvResultRaw:       "P", // no CVV given: not processed
		CredentialTypeUsed: "PAN",
		RefusalCodeRaw:     p.RefusalCode,
		RefusalReasonRaw:   p.RefusalReason,
	}
	if p.AVSChecked {
		ri.AvsResultRaw = "Y"
	}
	if p.CVVPresent {
		ri.CvvResultRaw = "M"
	}
	if !p.PaymentTime.IsZero() {
		ri.NetworkTransactionID, ri.AuthorizationCode = p.NetworkTxnID, p.AuthCode
	}
	return ri
}

// renderPay renders the pay answer for p's current state.
func (s *Server) renderPay(p *payment) answer {
	acq := p.Acquirer
	resp := payResponse{
		PaymentRequestID:    p.RequestID,
		PaymentID:           p.ID,
		PaymentAmount:       p.Amount.wire(),
		PaymentCreateTime:   formatTime(p.CreateTime),
		PaymentResultInfo:   p.resultInfo(),
		AcquirerInfo:        &acq,
		AcquirerReferenceNo: acq.AcquirerTransactionID,
	}
	switch p.Status {
	case statusSuccess:
		resp.Result = resOK()
		resp.PaymentTime = formatTime(p.PaymentTime)
		resp.AuthExpiryTime = formatTime(p.AuthExpiry)
	case statusProcessing:
		resp.Result = result{ResultCode: "PAYMENT_IN_PROCESS", ResultStatus: "U", ResultMessage: p.ResultMessage}
		resp.NormalURL = p.NormalURL
	case statusCancelled:
		resp.Result = resFail("ORDER_IS_CANCELED", "the payment was cancelled before it completed")
	default:
		resp.Result = resFail(p.ResultCode, p.ResultMessage)
	}
	return render(resp, resp.Result)
}

// findPayment looks a payment up by paymentId, else by paymentRequestId
// (paymentId wins when both are given, §3.4). Call with mu held.
func (s *Server) findPayment(paymentID, requestID string) *payment {
	if paymentID != "" {
		return s.st.payments[paymentID]
	}
	return s.st.byRequest[requestID]
}

// inquiryPayment handles /v1/payments/inquiryPayment.
func (s *Server) inquiryPayment(_ *http.Request, body []byte) reply {
	var req inquiryPaymentRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := cmpID(req.PaymentID, req.PaymentRequestID)
	if rid == "" {
		return s.illegal(&paramError{"paymentId", "paymentId or paymentRequestId is required"}, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findPayment(req.PaymentID, req.PaymentRequestID)
	if p == nil {
		// UNCONFIRMED code: no source gives inquiryPayment's not-found code.
		rep := s.fail("ORDER_NOT_EXIST", "no payment with this id")
		rep.requestID = rid
		return rep
	}
	s.refresh(p)
	acq := p.Acquirer
	resp := inquiryPaymentResponse{
		Result:               resOK(),
		PaymentStatus:        p.Status,
		PaymentResultCode:    p.ResultCode,
		PaymentResultMessage: p.ResultMessage,
		PaymentRequestID:     p.RequestID,
		PaymentID:            p.ID,
		PaymentAmount:        p.Amount.wire(),
		PaymentCreateTime:    formatTime(p.CreateTime),
		AuthExpiryTime:       formatTime(p.AuthExpiry),
		PaymentMethodType:    "CARD",
		PaymentResultInfo:    p.resultInfo(),
		AcquirerInfo:         &acq,
		AcquirerReferenceNo:  acq.AcquirerTransactionID,
		Transactions:         p.transactions(),
	}
	if p.Status == statusSuccess {
		resp.PaymentTime = formatTime(p.PaymentTime)
	}
	return reply{answer: render(resp, resp.Result), requestID: rid}
}

func cmpID(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// transactions lists what happened after the authorization, oldest first:
// captures (transactionId = captureId), refunds (refundId) and the cancel
// (transactionId = paymentId, as APO's reports identify a CANCEL).
func (p *payment) transactions() []transaction {
	var out []transaction
	ok := resOK()
	for _, c := range p.Captures {
		acq := c.Acquirer
		out = append(out, transaction{
			TransactionType: "CAPTURE", TransactionStatus: "SUCCESS",
			TransactionID: c.ID, TransactionRequestID: c.RequestID,
			TransactionAmount: c.Amount.wire(), TransactionTime: formatTime(c.Time),
			TransactionResult: &ok, AcquirerInfo: &acq,
		})
	}
	for _, r := range p.Refunds {
		acq := r.Acquirer
		out = append(out, transaction{
			TransactionType: "REFUND", TransactionStatus: "SUCCESS",
			TransactionID: r.ID, TransactionRequestID: r.RequestID,
			TransactionAmount: r.Amount.wire(), TransactionTime: formatTime(r.Time),
			TransactionResult: &ok, AcquirerInfo: &acq,
		})
	}
	if c := p.Cancel; c != nil {
		acq := c.Acquirer
		out = append(out, transaction{
			TransactionType: "CANCEL", TransactionStatus: "SUCCESS",
			TransactionID: p.ID, TransactionRequestID: p.RequestID,
			TransactionAmount: p.Amount.wire(), TransactionTime: formatTime(c.Time),
			TransactionResult: &ok, AcquirerInfo: &acq,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TransactionTime < out[j].TransactionTime })
	return out
}

// cancel handles /v1/payments/cancel. Cancelling is naturally idempotent:
// a second cancel of a cancelled payment answers the same success.
func (s *Server) cancel(_ *http.Request, body []byte) reply {
	var req cancelRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := cmpID(req.PaymentID, req.PaymentRequestID)
	if rid == "" {
		return s.illegal(&paramError{"paymentId", "paymentId or paymentRequestId is required"}, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findPayment(req.PaymentID, req.PaymentRequestID)
	fail := func(code, msg string) reply {
		rep := s.fail(code, msg)
		rep.requestID = rid
		return rep
	}
	if p == nil {
		return fail("ORDER_NOT_EXIST", "no payment with this id")
	}
	s.refresh(p)
	switch {
	case p.Status == statusCancelled:
		return reply{answer: s.renderCancel(p), requestID: rid, replay: true}
	case p.Status == statusFail:
		return fail("ORDER_STATUS_INVALID", "the payment failed; there is nothing to cancel")
	case len(p.Captures) > 0:
		return fail("ORDER_STATUS_INVALID", "the payment has been captured; refund it instead")
	}
	now := s.now()
	acq := acquirerByName(p.Card.Acquirer)
	p.Status, p.ResultCode, p.ResultMessage, p.Pending = statusCancelled, "ORDER_IS_CANCELED", "the payment was cancelled by the merchant", ""
	p.Cancel = &cancellation{Time: now, Acquirer: acq.info(s.rng, "APO"+s.nextID(kindCancel), opCancel)}
	s.addDayEntry(now, dayEntry{kind: entryCancel, p: p})
	return reply{answer: s.renderCancel(p), requestID: rid}
}

func (s *Server) renderCancel(p *payment) answer {
	acq := p.Cancel.Acquirer
	resp := cancelResponse{
		Result:           resOK(),
		PaymentID:        p.ID,
		PaymentRequestID: p.RequestID,
		CancelTime:       formatTime(p.Cancel.Time),
		AcquirerInfo:     &acq,
	}
	return render(resp, resp.Result)
}

// CompleteChallenge ends the 3DS challenge of a payment waiting on it, as
// the buyer does on the 3DS page: success authorizes the payment (and
// captures it in AUTOMATIC mode), failure fails it with
// AUTHENTICATION_FAILED (an UNCONFIRMED code).
func (s *Server) CompleteChallenge(paymentID string, success bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.payments[paymentID]
	if p == nil {
		return fmt.Errorf("complete challenge of payment %s: %w", paymentID, ErrNotFound)
	}
	s.refresh(p)
	if p.Status != statusProcessing || p.Pending != pendingChallenge {
		return fmt.Errorf("complete challenge of payment %s in status %s: %w", paymentID, p.Status, ErrState)
	}
	if success {
		s.authorize(p, s.now(), true)
		return nil
	}
	p.setFail(challengeFailedCode, "the cardholder failed 3DS authentication")
	p.ThreeDS = &threeDSResult{ThreeDSVersion: "2.2.0", ECI: "07", Challenged: true, ThreeDSOffered: true}
	s.notifyPayment(p)
	return nil
}
