package apo_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

const (
	testClientID = "SANDBOX_PAYOPS"
	// goldenInquirySig: openssl over
	// "POST /ams/sandbox/api/v1/payments/inquiryPayment\nSANDBOX_PAYOPS.1700000000000.{"paymentRequestId":"golden-1"}".
	goldenInquirySig = "algorithm=RSA256,keyVersion=1,signature=JItygVh9XtaRZGo4UvxkyyM9gcWzxvfB74TLusFvYAXcwoHHySUmpVrpQTD0KeN7aX5rHpSNr%2BNEvunBtkoz7MvbdvPsz09zp8auzoGVUEvt39pzCXu2oUO%2Bqu9KhsMiorny58XG%2F%2FEPcSJeIldvrMwhre%2Bilmm7MotPeKVFD7cMfcxoeKyJ2uLFV3wmMJYUE3Mu78PBEaRi%2F21N5urGgxBDgEpgMefxNDlIiFVng6v9j9AotmceMQ6CDpQVkPPEfFnyFQXKCUHIeHvIoX1tZ4%2F2M5vhR%2FCBWl1%2FgglmISGWigTV5QZzarjbHsw24Zru00oirpe0fXGpOr2GaI%2BTFw%3D%3D"
	responseTime     = "2026-11-23T10:00:00+00:00"
)

// signMode says how the test gateway signs a reply.
type signMode int

const (
	signOK        signMode = iota // APO key over the exact reply
	signNone                      // no signature header
	signWrongKey                  // merchant key instead of APO's
	signOtherBody                 // APO key over a different body
	signNoTime                    // valid signature but no response-time header
)

// reply is what the test gateway answers to one request.
type reply struct {
	status int // default 200
	body   string
	sign   signMode
	block  bool // hold the request until the client gives up
}

// seenRequest is what the test gateway received.
type seenRequest struct {
	path, clientID, requestTime, signature, contentType string
	body                                                []byte
	sigErr                                              error // request signature check with the merchant public key
}

// gateway is a minimal stand-in for APO: it checks request signatures with
// the merchant's public key and signs its replies with the APO test key. It
// has no payment logic; each test scripts its replies.
type gateway struct {
	keys    testKeys
	srv     *httptest.Server
	release chan struct{}
	reply   func(path string) reply

	mu   sync.Mutex
	seen []seenRequest
}

func newGateway(t *testing.T, k testKeys, fn func(path string) reply) *gateway {
	t.Helper()
	g := &gateway{keys: k, release: make(chan struct{}), reply: fn}
	g.srv = httptest.NewServer(g)
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() { close(g.release) }) // runs first: unblocks held handlers
	return g
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seenRequest{
		path:        r.URL.RequestURI(),
		clientID:    r.Header.Get("client-id"),
		requestTime: r.Header.Get("request-time"),
		signature:   r.Header.Get("signature"),
		contentType: r.Header.Get("Content-Type"),
		body:        body,
	}
	s.sigErr = apo.Verify(g.keys.merchantPub, r.Method, s.path, s.clientID, s.requestTime, body, s.signature)
	g.mu.Lock()
	g.seen = append(g.seen, s)
	g.mu.Unlock()

	rp := g.reply(r.URL.Path)
	if rp.block {
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	signed := rp.body
	key := g.keys.apo
	switch rp.sign {
	case signWrongKey:
		key = g.keys.merchant
	case signOtherBody:
		signed = rp.body + " "
	}
	// Lowercase names set directly, as APO's gateway and our sandbox send them.
	h := w.Header()
	h["client-id"] = []string{s.clientID}
	if rp.sign != signNoTime {
		h["response-time"] = []string{responseTime}
	}
	if rp.sign != signNone {
		sig, err := apo.Sign(key, "POST", s.path, s.clientID, responseTime, []byte(signed))
		if err != nil {
			panic(err)
		}
		h["signature"] = []string{sig}
	}
	h.Set("Content-Type", "application/json")
	status := rp.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, rp.body)
}

func (g *gateway) requests() []seenRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seenRequest(nil), g.seen...)
}

func (g *gateway) last(t *testing.T) seenRequest {
	t.Helper()
	s := g.requests()
	if len(s) == 0 {
		t.Fatal("gateway received no request")
	}
	return s[len(s)-1]
}

// recorder collects CallRecords.
type recorder struct {
	mu   sync.Mutex
	recs []apo.CallRecord
}

func (r *recorder) Record(_ context.Context, rec apo.CallRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) only(t *testing.T) apo.CallRecord {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) != 1 {
		t.Fatalf("got %d call records, want 1", len(r.recs))
	}
	return r.recs[0]
}

func newClient(t *testing.T, k testKeys, baseURL string, opts ...func(*apo.Config)) *apo.Client {
	t.Helper()
	cfg := apo.Config{BaseURL: baseURL, ClientID: testClientID, PrivateKey: k.merchant, APOPublicKey: k.apoPub}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := apo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func constReply(rp reply) func(string) reply { return func(string) reply { return rp } }

const (
	bodyPaySuccess = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},
		"paymentRequestId":"req-1","paymentId":"pay-1","paymentAmount":{"currency":"USD","value":"1999"},
		"authExpiryTime":"2026-11-30T10:00:00+00:00",
		"paymentResultInfo":{"cardNo":"424242******4242","cardBrand":"VISA","cardBin":"424242","lastFour":"4242",
			"funding":"CREDIT","threeDSResult":{"eci":"05","challenged":"true","threeDSOffered":true}},
		"acquirerInfo":{"acquirerName":"Antom","acquirerTransactionId":"acq-9"}}`
	bodyPayFailed = `{"result":{"resultCode":"DO_NOT_HONOR","resultStatus":"F","resultMessage":"card 4242 4242 4242 4242 declined"},
		"paymentRequestId":"req-1","paymentId":"pay-1"}`
	bodyPayUnknown    = `{"result":{"resultCode":"UNKNOWN_EXCEPTION","resultStatus":"U","resultMessage":"try again"}}`
	bodyPayInProcess  = `{"result":{"resultCode":"PAYMENT_IN_PROCESS","resultStatus":"U","resultMessage":"in process"},"paymentRequestId":"req-1","paymentId":"pay-1","normalUrl":"https://sandbox.example/3ds/pay-1"}`
	bodyNoResult      = `{"paymentId":"pay-1"}`
	bodyNotJSON       = `<html>bad gateway</html>`
	bodyInquirySucess = `{"result":{"resultCode":"SUCCESS","resultStatus":"S"},"paymentStatus":"SUCCESS"}`
)

func TestPayOutcomes(t *testing.T) {
	k := loadKeys(t)
	tests := []struct {
		name        string
		reply       reply
		outcome     apo.Outcome
		code        string
		status      int
		sigErr      bool
		paymentID   string // expected in the response; "" when no verified body
		buyerAction bool
	}{
		{name: "S", reply: reply{body: bodyPaySuccess}, outcome: apo.OutcomeSuccess, paymentID: "pay-1"},
		{name: "F", reply: reply{body: bodyPayFailed}, outcome: apo.OutcomeFailed, code: "DO_NOT_HONOR", status: 200, paymentID: "pay-1"},
		{name: "U", reply: reply{body: bodyPayUnknown}, outcome: apo.OutcomeUnknown, code: "UNKNOWN_EXCEPTION", status: 200},
		{name: "U in process with normalUrl", reply: reply{body: bodyPayInProcess}, outcome: apo.OutcomeUnknown, code: "PAYMENT_IN_PROCESS", status: 200, paymentID: "pay-1", buyerAction: true},
		{name: "unsigned", reply: reply{body: bodyPaySuccess, sign: signNone}, outcome: apo.OutcomeUnknown, status: 200, sigErr: true},
		{name: "signed with wrong key", reply: reply{body: bodyPaySuccess, sign: signWrongKey}, outcome: apo.OutcomeUnknown, status: 200, sigErr: true},
		{name: "signature over other body", reply: reply{body: bodyPaySuccess, sign: signOtherBody}, outcome: apo.OutcomeUnknown, status: 200, sigErr: true},
		{name: "no response-time", reply: reply{body: bodyPaySuccess, sign: signNoTime}, outcome: apo.OutcomeUnknown, status: 200, sigErr: true},
		{name: "http 500 signed S body", reply: reply{status: 500, body: bodyPaySuccess}, outcome: apo.OutcomeUnknown, status: 500},
		{name: "http 502 html", reply: reply{status: 502, body: bodyNotJSON, sign: signNone}, outcome: apo.OutcomeUnknown, status: 502},
		{name: "signed non-JSON", reply: reply{body: bodyNotJSON}, outcome: apo.OutcomeUnknown, status: 200},
		{name: "signed with a field of the wrong type", reply: reply{body: `{"result":{"resultCode":"SUCCESS","resultStatus":"S"},"paymentId":"pay-1","paymentAmount":"1999"}`}, outcome: apo.OutcomeUnknown, status: 200},
		{name: "signed without result", reply: reply{body: bodyNoResult}, outcome: apo.OutcomeUnknown, status: 200, paymentID: "pay-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, k, constReply(tt.reply))
			c := newClient(t, k, g.srv.URL)
			resp, err := c.Pay(context.Background(), cardPayRequest())

			if got := apo.OutcomeOf(err); got != tt.outcome {
				t.Fatalf("outcome: got %v, want %v (err %v)", got, tt.outcome, err)
			}
			if got := apo.IsUnknown(err); got != (tt.outcome == apo.OutcomeUnknown) {
				t.Errorf("IsUnknown: got %v", got)
			}
			if got := apo.IsFinalFailure(err); got != (tt.outcome == apo.OutcomeFailed) {
				t.Errorf("IsFinalFailure: got %v", got)
			}
			if resp.PaymentID != tt.paymentID {
				t.Errorf("resp.PaymentID: got %q, want %q", resp.PaymentID, tt.paymentID)
			}
			if resp.NeedsBuyerAction() != tt.buyerAction {
				t.Errorf("NeedsBuyerAction: got %v, want %v", resp.NeedsBuyerAction(), tt.buyerAction)
			}
			if tt.sigErr != errors.Is(err, apo.ErrSignature) {
				t.Errorf("errors.Is(err, ErrSignature): got %v, want %v (err %v)", !tt.sigErr, tt.sigErr, err)
			}
			if err != nil {
				var e *apo.Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T, want *apo.Error", err)
				}
				if e.API != "pay" || e.HTTPStatus != tt.status || e.Result.ResultCode != tt.code {
					t.Errorf("error fields: got api %q status %d code %q, want pay %d %q", e.API, e.HTTPStatus, e.Result.ResultCode, tt.status, tt.code)
				}
				assertNoCard(t, "error string", err.Error())
				assertNoCard(t, "error result message", e.Result.ResultMessage)
			}
			assertNoCard(t, "response result message", resp.Result.ResultMessage)
			if s := g.last(t); s.sigErr != nil {
				t.Errorf("gateway could not verify the request signature: %v", s.sigErr)
			}
		})
	}
}

func TestPaySuccessDecodes(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{body: bodyPaySuccess}))
	resp, err := newClient(t, k, g.srv.URL).Pay(context.Background(), cardPayRequest())
	if err != nil {
		t.Fatal(err)
	}
	pri := resp.PaymentResultInfo
	if pri == nil || pri.CardBrand != "VISA" || pri.LastFour != "4242" || pri.ThreeDSResult == nil ||
		!bool(pri.ThreeDSResult.Challenged) || !bool(pri.ThreeDSResult.ThreeDSOffered) {
		t.Fatalf("paymentResultInfo: got %+v", pri)
	}
	if resp.AcquirerInfo == nil || resp.AcquirerInfo.AcquirerTransactionID != "acq-9" {
		t.Fatalf("acquirerInfo: got %+v", resp.AcquirerInfo)
	}
	if m, err := resp.PaymentAmount.Minor(); err != nil || m != 1999 {
		t.Fatalf("amount: got %d, %v", m, err)
	}
}

func TestPayInProcessResponse(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{body: bodyPayInProcess}))
	resp, err := newClient(t, k, g.srv.URL).Pay(context.Background(), cardPayRequest())
	if !apo.IsUnknown(err) {
		t.Fatalf("got %v, want unknown", err)
	}
	if got := resp.ActionURL(); got != "https://sandbox.example/3ds/pay-1" {
		t.Fatalf("ActionURL: got %q", got)
	}
	var e *apo.Error
	if !errors.As(err, &e) || e.Result.ResultCode != apo.CodePaymentInProcess || e.Err != nil {
		t.Fatalf("got %#v", err)
	}
}

func TestRequestSigningGolden(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{body: bodyInquirySucess}))
	c := newClient(t, k, g.srv.URL+"/", func(c *apo.Config) {
		c.Now = func() time.Time { return time.UnixMilli(1700000000000) }
	})
	resp, err := c.InquiryPayment(context.Background(), apo.InquiryPaymentRequest{PaymentRequestID: "golden-1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.PaymentStatus != apo.StatusSuccess {
		t.Fatalf("paymentStatus: got %q", resp.PaymentStatus)
	}
	s := g.last(t)
	want := seenRequest{
		path:        "/ams/sandbox/api/v1/payments/inquiryPayment",
		clientID:    testClientID,
		requestTime: "1700000000000",
		signature:   goldenInquirySig,
		contentType: "application/json; charset=UTF-8",
	}
	if s.path != want.path || s.clientID != want.clientID || s.requestTime != want.requestTime ||
		s.signature != want.signature || s.contentType != want.contentType {
		t.Fatalf("request:\ngot  %+v\nwant %+v", s, want)
	}
	if string(s.body) != `{"paymentRequestId":"golden-1"}` {
		t.Fatalf("body: got %s", s.body)
	}
}

func TestProductionPathNotRewritten(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{body: bodyPaySuccess}))
	c := newClient(t, k, g.srv.URL, func(c *apo.Config) { c.ClientID = "PAYOPS" })
	if _, err := c.Pay(context.Background(), cardPayRequest()); err != nil {
		t.Fatal(err)
	}
	s := g.last(t)
	if s.path != apo.PathPay || s.clientID != "PAYOPS" || s.sigErr != nil {
		t.Fatalf("got path %q client %q sigErr %v", s.path, s.clientID, s.sigErr)
	}
}

// TestEveryAPI proves each method calls its own (sandbox) path, signs it,
// sends the documented field names and decodes its reply.
func TestEveryAPI(t *testing.T) {
	k := loadKeys(t)
	ok := `"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}`
	replies := map[string]string{
		"/ams/sandbox/api/v1/payments/pay":                     `{` + ok + `,"paymentId":"pay-1"}`,
		"/ams/sandbox/api/v1/payments/inquiryPayment":          `{` + ok + `,"paymentStatus":"SUCCESS","transactions":[{"transactionType":"CAPTURE","transactionStatus":"SUCCESS","transactionId":"cap-1","transactionRequestId":"capreq-1","transactionAmount":{"currency":"USD","value":"500"},"transactionResult":{"resultCode":"SUCCESS","resultStatus":"S"}}]}`,
		"/ams/sandbox/api/v1/payments/capture":                 `{` + ok + `,"captureId":"cap-1","captureAmount":{"currency":"USD","value":"500"}}`,
		"/ams/sandbox/api/v1/payments/cancel":                  `{` + ok + `,"paymentId":"pay-1","cancelTime":"2026-11-23T10:00:00+00:00"}`,
		"/ams/sandbox/api/v1/payments/refund":                  `{` + ok + `,"refundId":"ref-1"}`,
		"/ams/sandbox/api/v1/payments/inquiryRefund":           `{` + ok + `,"refundId":"ref-1","refundStatus":"PROCESSING"}`,
		"/ams/sandbox/api/v1/payments/acceptDispute":           `{` + ok + `,"disputeId":"d-1","disputeResolutionTime":"2026-11-23T10:00:00+00:00"}`,
		"/ams/sandbox/api/v1/payments/supplyDefenseDocument":   `{` + ok + `,"disputeId":"d-1"}`,
		"/ams/sandbox/api/v1/payments/downloadDisputeEvidence": `{` + ok + `,"disputeEvidence":"SGVsbG8=","disputeEvidenceFormat":"PDF"}`,
	}
	g := newGateway(t, k, func(path string) reply { return reply{body: replies[path]} })
	rec := &recorder{}
	c := newClient(t, k, g.srv.URL, func(c *apo.Config) { c.Recorder = rec })
	ctx := context.Background()

	tests := []struct {
		api, path, requestID, wantBody string
		call                           func() (string, error) // returns a decoded field
		want                           string
	}{
		{"capture", "capture", "capreq-1", `{"captureRequestId":"capreq-1","paymentId":"pay-1","captureAmount":{"currency":"USD","value":"500"},"isLastCapture":true}`,
			func() (string, error) {
				r, err := c.Capture(ctx, apo.CaptureRequest{CaptureRequestID: "capreq-1", PaymentID: "pay-1", CaptureAmount: apo.NewAmount(500, "USD"), IsLastCapture: true})
				return r.CaptureID, err
			}, "cap-1"},
		{"inquiryPayment", "inquiryPayment", "req-1", `{"paymentRequestId":"req-1"}`,
			func() (string, error) {
				r, err := c.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentRequestID: "req-1"})
				if len(r.Transactions) != 1 {
					return "", err
				}
				return r.Transactions[0].TransactionID + "/" + r.Transactions[0].TransactionResult.ResultStatus, err
			}, "cap-1/S"},
		{"cancel", "cancel", "pay-1", `{"paymentId":"pay-1"}`,
			func() (string, error) {
				r, err := c.Cancel(ctx, apo.CancelRequest{PaymentID: "pay-1"})
				return r.CancelTime, err
			}, "2026-11-23T10:00:00+00:00"},
		{"refund", "refund", "refreq-1", `{"refundRequestId":"refreq-1","paymentId":"pay-1","refundAmount":{"currency":"USD","value":"100"},"refundReason":"damaged","refundNotifyUrl":"https://m.example/webhooks/apo"}`,
			func() (string, error) {
				r, err := c.Refund(ctx, apo.RefundRequest{RefundRequestID: "refreq-1", PaymentID: "pay-1", RefundAmount: apo.NewAmount(100, "USD"), RefundReason: "damaged", RefundNotifyURL: "https://m.example/webhooks/apo"})
				return r.RefundID, err
			}, "ref-1"},
		{"inquiryRefund", "inquiryRefund", "refreq-1", `{"refundRequestId":"refreq-1"}`,
			func() (string, error) {
				r, err := c.InquiryRefund(ctx, apo.InquiryRefundRequest{RefundRequestID: "refreq-1"})
				return r.RefundStatus, err
			}, "PROCESSING"},
		{"acceptDispute", "acceptDispute", "d-1", `{"disputeId":"d-1"}`,
			func() (string, error) {
				r, err := c.AcceptDispute(ctx, apo.AcceptDisputeRequest{DisputeID: "d-1"})
				return r.DisputeResolutionTime, err
			}, "2026-11-23T10:00:00+00:00"},
		{"supplyDefenseDocument", "supplyDefenseDocument", "d-1", `{"disputeId":"d-1","disputeEvidence":"SGVsbG8="}`,
			func() (string, error) {
				r, err := c.SupplyDefenseDocument(ctx, apo.SupplyDefenseDocumentRequest{DisputeID: "d-1", DisputeEvidence: "SGVsbG8="})
				return r.DisputeID, err
			}, "d-1"},
		{"downloadDisputeEvidence", "downloadDisputeEvidence", "d-1", `{"disputeId":"d-1","disputeEvidenceType":"DISPUTE_EVIDENCE_FILE"}`,
			func() (string, error) {
				r, err := c.DownloadDisputeEvidence(ctx, apo.DownloadDisputeEvidenceRequest{DisputeID: "d-1", DisputeEvidenceType: apo.EvidenceFile})
				return r.DisputeEvidenceFormat + ":" + r.DisputeEvidence, err
			}, "PDF:SGVsbG8="},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			rec.mu.Lock()
			rec.recs = nil
			rec.mu.Unlock()
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decoded: got %q, want %q", got, tt.want)
			}
			s := g.last(t)
			if want := "/ams/sandbox/api/v1/payments/" + tt.path; s.path != want {
				t.Errorf("path: got %q, want %q", s.path, want)
			}
			if s.sigErr != nil {
				t.Errorf("request signature: %v", s.sigErr)
			}
			if string(s.body) != tt.wantBody {
				t.Errorf("body:\ngot  %s\nwant %s", s.body, tt.wantBody)
			}
			r := rec.only(t)
			if r.API != tt.api || r.RequestID != tt.requestID || r.Outcome != "S" || r.HTTPStatus != 200 || r.ResultCode != "SUCCESS" {
				t.Errorf("record: got %+v", r)
			}
		})
	}
}

func TestTimeoutIsUnknown(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{block: true}))
	rec := &recorder{}
	c := newClient(t, k, g.srv.URL, func(c *apo.Config) {
		c.Timeout = 100 * time.Millisecond
		c.Recorder = rec
	})
	start := time.Now()
	resp, err := c.Pay(context.Background(), cardPayRequest())
	if !apo.IsUnknown(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want unknown wrapping DeadlineExceeded", err)
	}
	// The gateway never answers: only a timeout ends the call. Took as
	// long as the default, it was not the per-call one (any shorter time
	// is load, not a fault).
	if d := time.Since(start); d >= apo.DefaultTimeout {
		t.Fatalf("call took %v; the per-call timeout did not apply", d)
	}
	if resp.PaymentID != "" {
		t.Fatalf("got a response without a reply: %+v", resp)
	}
	assertNoCard(t, "error string", err.Error())
	if r := rec.only(t); r.Outcome != "transport_error" || r.HTTPStatus != 0 || r.Response != nil {
		t.Fatalf("record: got %+v", r)
	}
}

func TestInquiryUsesInquiryTimeout(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{block: true}))
	c := newClient(t, k, g.srv.URL, func(c *apo.Config) {
		c.Timeout = time.Hour
		c.InquiryTimeout = 100 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := c.InquiryPayment(ctx, apo.InquiryPaymentRequest{PaymentRequestID: "req-1"})
	if !apo.IsUnknown(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want unknown wrapping DeadlineExceeded", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the test's own 2m deadline fired: InquiryTimeout was not applied")
	}
}

func TestParentContextCancelled(t *testing.T) {
	k := loadKeys(t)
	g := newGateway(t, k, constReply(reply{body: bodyPaySuccess}))
	c := newClient(t, k, g.srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Pay(ctx, cardPayRequest())
	if !apo.IsUnknown(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want unknown wrapping Canceled", err)
	}
}

func TestConnectionRefusedIsUnknown(t *testing.T) {
	k := loadKeys(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rec := &recorder{}
	c := newClient(t, k, "http://"+addr, func(c *apo.Config) { c.Recorder = rec })
	_, err = c.Pay(context.Background(), cardPayRequest())
	if !apo.IsUnknown(err) {
		t.Fatalf("got %v, want unknown", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want a wrapped *url.Error", err)
	}
	var e *apo.Error
	if !errors.As(err, &e) || e.HTTPStatus != 0 || e.Result != (apo.Result{}) {
		t.Fatalf("got %#v", err)
	}
	assertNoCard(t, "error string", err.Error())
	if r := rec.only(t); r.Outcome != "transport_error" {
		t.Fatalf("record outcome: got %q", r.Outcome)
	}
}

func TestReplyTooLargeIsUnknown(t *testing.T) {
	k := loadKeys(t)
	big := `{"result":{"resultCode":"SUCCESS","resultStatus":"S"},"pad":"` + strings.Repeat("x", apo.MaxReplyBytes) + `"}`
	g := newGateway(t, k, constReply(reply{body: big}))
	_, err := newClient(t, k, g.srv.URL).Pay(context.Background(), cardPayRequest())
	if !apo.IsUnknown(err) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v, want unknown: reply too large", err)
	}
}

func TestRecorderSeesRedactedCall(t *testing.T) {
	k := loadKeys(t)
	for _, tt := range []struct {
		name    string
		reply   reply
		outcome string
		code    string
	}{
		{"S", reply{body: bodyPaySuccess}, "S", "SUCCESS"},
		{"F", reply{body: bodyPayFailed}, "F", "DO_NOT_HONOR"},
		{"U", reply{body: bodyPayInProcess}, "U", "PAYMENT_IN_PROCESS"},
		{"unsigned", reply{body: bodyPaySuccess, sign: signNone}, "U", ""},
		{"http 503", reply{status: 503, body: bodyNotJSON, sign: signNone}, "U", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, k, constReply(tt.reply))
			rec := &recorder{}
			c := newClient(t, k, g.srv.URL, func(c *apo.Config) { c.Recorder = rec })
			_, _ = c.Pay(context.Background(), cardPayRequest())
			r := rec.only(t)
			if r.API != "pay" || r.Path != "/ams/sandbox/api/v1/payments/pay" || r.RequestID != "req-1" ||
				r.Outcome != tt.outcome || r.ResultCode != tt.code || r.Duration <= 0 {
				t.Fatalf("record: got %+v", r)
			}
			assertNoCard(t, "recorded request", string(r.Request))
			assertNoCard(t, "recorded response", string(r.Response))
			if !strings.Contains(string(r.Request), `"cardNo":"[REDACTED]"`) || !strings.Contains(string(r.Request), `"cvv":"[REDACTED]"`) {
				t.Fatalf("recorded request lacks the withheld card: %s", r.Request)
			}
			if len(r.Response) == 0 {
				t.Fatal("recorded response is empty")
			}
			// The gateway must have received the card in clear: redaction is
			// for the record only.
			if !strings.Contains(string(g.last(t).body), testPAN) {
				t.Fatal("the request sent to APO lost the card number")
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	k := loadKeys(t)
	good := apo.Config{BaseURL: "http://127.0.0.1:8090", ClientID: testClientID, PrivateKey: k.merchant, APOPublicKey: k.apoPub}
	if _, err := apo.New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mutate := range map[string]func(*apo.Config){
		"no base url":        func(c *apo.Config) { c.BaseURL = "" },
		"relative base url":  func(c *apo.Config) { c.BaseURL = "127.0.0.1:8090" },
		"ftp base url":       func(c *apo.Config) { c.BaseURL = "ftp://host" },
		"no client id":       func(c *apo.Config) { c.ClientID = "" },
		"no private key":     func(c *apo.Config) { c.PrivateKey = nil },
		"no apo public key":  func(c *apo.Config) { c.APOPublicKey = (*rsa.PublicKey)(nil) },
		"negative timeout":   func(c *apo.Config) { c.Timeout = -time.Second },
		"negative inquiry t": func(c *apo.Config) { c.InquiryTimeout = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mutate(&cfg)
			if _, err := apo.New(cfg); err == nil {
				t.Fatal("got nil error")
			}
		})
	}
}

func TestOutcomeOf(t *testing.T) {
	if got := apo.OutcomeOf(nil); got != apo.OutcomeSuccess {
		t.Errorf("nil: got %v", got)
	}
	if got := apo.OutcomeOf(errors.New("boom")); got != apo.OutcomeUnknown {
		t.Errorf("plain error: got %v", got)
	}
	wrapped := errors.Join(errors.New("context"), &apo.Error{API: "refund", Outcome: apo.OutcomeFailed})
	if !apo.IsFinalFailure(wrapped) || apo.IsUnknown(wrapped) {
		t.Errorf("wrapped F: got outcome %v", apo.OutcomeOf(wrapped))
	}
	if apo.IsUnknown(nil) || apo.IsFinalFailure(nil) {
		t.Error("nil error classified as a failure")
	}
	if (&apo.Error{}).Outcome != apo.OutcomeUnknown {
		t.Error("zero Error is not unknown")
	}
	for o, want := range map[apo.Outcome]string{apo.OutcomeSuccess: "S", apo.OutcomeFailed: "F", apo.OutcomeUnknown: "U"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}

func TestActionURL(t *testing.T) {
	r := apo.PayResponse{
		Result:             apo.Result{ResultCode: apo.CodePaymentInProcess, ResultStatus: "U"},
		RedirectActionForm: &apo.RedirectActionForm{RedirectURL: "https://acs.example/form"},
	}
	if r.ActionURL() != "https://acs.example/form" || !r.NeedsBuyerAction() {
		t.Fatalf("redirectActionForm fallback: got %q", r.ActionURL())
	}
	r.NormalURL = "https://acs.example/normal"
	if r.ActionURL() != "https://acs.example/normal" {
		t.Fatalf("normalUrl first: got %q", r.ActionURL())
	}
	r.Result.ResultCode = "UNKNOWN_EXCEPTION"
	if r.NeedsBuyerAction() {
		t.Fatal("a U other than PAYMENT_IN_PROCESS must not ask for buyer action")
	}
	if (apo.PayResponse{}).NeedsBuyerAction() {
		t.Fatal("empty response asks for buyer action")
	}
}

func TestClientID(t *testing.T) {
	k := loadKeys(t)
	if got := newClient(t, k, "http://127.0.0.1:1").ClientID(); got != testClientID {
		t.Fatalf("got %q", got)
	}
}
