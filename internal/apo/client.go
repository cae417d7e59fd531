package apo

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/timing"
)

// Default per-call timeouts. A call that runs out of time has an unknown
// outcome (the request may have reached APO), so callers resolve it by
// inquiry rather than by assuming failure.
const (
	DefaultTimeout        = 10 * time.Second // pay, capture, cancel, refund, dispute calls
	DefaultInquiryTimeout = 5 * time.Second  // inquiryPayment, inquiryRefund
)

// MaxReplyBytes bounds how much of a reply body is read. APO's largest
// replies are dispute evidence documents (base64, about 1 MB); anything
// bigger is treated as an unknown outcome rather than read without limit.
const MaxReplyBytes = 4 << 20

// Config configures a Client. BaseURL, ClientID, PrivateKey and APOPublicKey
// are required; the rest have the defaults stated on each field.
type Config struct {
	// BaseURL is the gateway origin, e.g. "https://open-sea-global.alipay.com"
	// or the local sandbox "http://127.0.0.1:8090". A trailing slash is ignored.
	BaseURL string
	// ClientID is the merchant client id. A "SANDBOX_" prefix makes the client
	// call (and sign) /ams/sandbox/api/... paths, as the official SDKs do.
	ClientID string
	// PrivateKey is the merchant's RSA key; it signs every request.
	PrivateKey *rsa.PrivateKey
	// APOPublicKey is APO's RSA public key; it verifies every reply.
	APOPublicKey *rsa.PublicKey
	// HTTPClient sends the requests. Default: a new http.Client on
	// http.DefaultTransport with no client-wide timeout (the per-call
	// timeouts below bound each call through its context).
	HTTPClient *http.Client
	// Timeout bounds pay, capture, cancel, refund and the dispute calls.
	// Default DefaultTimeout (10s).
	Timeout time.Duration
	// InquiryTimeout bounds inquiryPayment and inquiryRefund. Default
	// DefaultInquiryTimeout (5s).
	InquiryTimeout time.Duration
	// Now supplies the request-time header. Default time.Now.
	Now func() time.Time
	// Recorder, if set, is told about every call after it ends. Default nil
	// (nothing recorded).
	Recorder Recorder
	// Logger, if set, gets one error line when replies have been
	// unverifiable DegradedAfter times in a row, naming the likely cause,
	// and one line when a verified reply ends that run. Default nil (no
	// lines; Verification still reports the state).
	Logger *slog.Logger
}

// Client calls APO. Requests are signed with the merchant key, and no reply
// body is trusted before its signature is verified with APO's public key.
// The client never retries on its own: APO is idempotent on our request ids,
// so retrying is the caller's decision, made with the same id. A Client is
// safe for concurrent use. The zero value is not usable; call New.
type Client struct {
	baseURL        string
	clientID       string
	key            *rsa.PrivateKey
	apoKey         *rsa.PublicKey
	http           *http.Client
	timeout        time.Duration
	inquiryTimeout time.Duration
	now            func() time.Time
	recorder       Recorder
	trust          *trust
}

// New checks cfg, fills its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("apo: config BaseURL must be an absolute http(s) URL")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("apo: config ClientID is required")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("apo: config PrivateKey is required")
	}
	if cfg.APOPublicKey == nil {
		return nil, errors.New("apo: config APOPublicKey is required")
	}
	if cfg.Timeout < 0 || cfg.InquiryTimeout < 0 {
		return nil, errors.New("apo: config timeouts must not be negative")
	}
	c := &Client{
		baseURL:        strings.TrimRight(cfg.BaseURL, "/"),
		clientID:       cfg.ClientID,
		key:            cfg.PrivateKey,
		apoKey:         cfg.APOPublicKey,
		http:           cfg.HTTPClient,
		timeout:        cfg.Timeout,
		inquiryTimeout: cfg.InquiryTimeout,
		now:            cfg.Now,
		recorder:       cfg.Recorder,
		trust:          &trust{log: cfg.Logger, clientID: cfg.ClientID},
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.inquiryTimeout == 0 {
		c.inquiryTimeout = DefaultInquiryTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// ClientID returns the client id the Client signs with.
func (c *Client) ClientID() string { return c.clientID }

// Verification reports the replies the Client could not trust: how many in
// a row, why, and since when. Health checks and metrics read it, so that
// a wrong key pair or client id shows up as such rather than as payments
// quietly staying PROCESSING.
func (c *Client) Verification() Verification { return c.trust.snapshot() }

// call names one APO operation for post.
type call struct {
	api       string        // operation name, e.g. "pay"
	path      string        // production path; rewritten for sandbox ids
	requestID string        // our idempotency key or the id being looked up
	timeout   time.Duration // per-call limit
}

// resulter lets post read the result block out of any response type.
type resulter interface{ result() Result }

// post does all HTTP work of one call: sign, send, read a bounded body,
// check the status, verify the reply's signature, decode into out, and turn
// any result but S into *Error. out is filled whenever a verified reply was
// decoded, so callers can read a non-S response (e.g. PAYMENT_IN_PROCESS
// with normalUrl) alongside the error.
func (c *Client) post(ctx context.Context, cl call, in any, out resulter) error {
	start := time.Now()
	rec := CallRecord{API: cl.api, RequestID: cl.requestID}
	body, err := json.Marshal(in)
	if err != nil {
		// Only a programming error gets here; nothing was sent.
		return fmt.Errorf("apo %s: encode request: %w", cl.api, err)
	}
	path := SandboxPath(c.clientID, cl.path)
	rec.Path = path

	e := c.exchange(ctx, cl, path, body, out, &rec)
	rec.Duration = time.Since(start)
	if c.recorder != nil {
		// Redact here, the only place a record leaves the client; exchange
		// left the raw reply in rec.Response.
		rec.Request = RedactedJSON(body)
		if rec.Response != nil {
			rec.Response = RedactedJSON(rec.Response)
		}
		// WithoutCancel: a call that timed out must still be recorded.
		recorded := timing.Track(ctx, "apo_record")
		c.recorder.Record(context.WithoutCancel(ctx), rec)
		recorded()
	}
	if e == nil {
		return nil
	}
	return e
}

// exchange performs the signed round trip and fills rec as it learns things
// (rec.Response still unredacted). It returns nil only for a verified,
// decoded reply with result S.
func (c *Client) exchange(ctx context.Context, cl call, path string, body []byte, out resulter, rec *CallRecord) *Error {
	unknown := func(status int, cause error) *Error {
		return &Error{API: cl.api, HTTPStatus: status, Outcome: OutcomeUnknown, Err: cause}
	}
	rec.Outcome = "transport_error"

	reqTime := strconv.FormatInt(c.now().UnixMilli(), 10)
	signed := timing.Track(ctx, "apo_sign")
	sig, err := Sign(c.key, http.MethodPost, path, c.clientID, reqTime, body)
	signed()
	if err != nil {
		return unknown(0, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cl.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return unknown(0, err)
	}
	// Lowercase names exactly as Antom documents them; assigned directly
	// because Header.Set would canonicalise them.
	req.Header["client-id"] = []string{c.clientID}
	req.Header["request-time"] = []string{reqTime}
	req.Header["signature"] = []string{sig}
	req.Header["Content-Type"] = []string{"application/json; charset=UTF-8"}

	sent := timing.Track(ctx, "apo_http")
	resp, err := c.http.Do(req)
	if err != nil {
		sent()
		return unknown(0, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes+1))
	sent()
	rec.HTTPStatus = resp.StatusCode
	if err != nil {
		return unknown(resp.StatusCode, fmt.Errorf("read reply: %w", err))
	}
	rec.Outcome = "U"
	if len(raw) > MaxReplyBytes {
		return unknown(resp.StatusCode, fmt.Errorf("reply larger than %d bytes", MaxReplyBytes))
	}
	if len(raw) > 0 {
		rec.Response = raw // redacted by post before anyone sees it
	}
	if resp.StatusCode != http.StatusOK {
		// A gateway rejection under another status still points at keys.
		if cause := claimedRejection(raw); cause != "" {
			c.trust.observe(ctx, cause, cl.api, c.now())
		}
		return unknown(resp.StatusCode, fmt.Errorf("http status %d", resp.StatusCode))
	}
	verified := timing.Track(ctx, "apo_verify")
	err = c.verifyReply(path, resp.Header, raw)
	verified()
	if err != nil {
		cause := claimedRejection(raw)
		if cause == "" {
			cause = CauseBadReplySignature
			if headerValue(resp.Header, "signature") == "" || headerValue(resp.Header, "response-time") == "" {
				cause = CauseUnsignedReply
			}
		}
		c.trust.observe(ctx, cause, cl.api, c.now())
		return unknown(resp.StatusCode, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		c.trust.observe(ctx, "", cl.api, c.now()) // verified all the same
		// A type error leaves out half-filled; hand back nothing rather
		// than a response nobody can trust.
		reflect.ValueOf(out).Elem().SetZero()
		return unknown(resp.StatusCode, fmt.Errorf("decode reply: %w", err))
	}
	res := out.result()
	rec.ResultCode = res.ResultCode
	c.trust.observe(ctx, rejectionCause(res.ResultCode), cl.api, c.now())
	switch res.ResultStatus {
	case "S":
		rec.Outcome = "S"
		return nil
	case "F":
		rec.Outcome = "F"
		return &Error{API: cl.api, HTTPStatus: resp.StatusCode, Outcome: OutcomeFailed, Result: res}
	case "U":
		return &Error{API: cl.api, HTTPStatus: resp.StatusCode, Outcome: OutcomeUnknown, Result: res}
	}
	return &Error{API: cl.api, HTTPStatus: resp.StatusCode, Outcome: OutcomeUnknown, Result: res,
		Err: errors.New("reply has no result status")}
}

// verifyReply checks APO's signature over
// "POST <path>\n<client-id>.<response-time>.<body>". The client id comes from
// the reply's header, falling back to ours when the gateway leaves it out
// (it is covered by the signature either way).
func (c *Client) verifyReply(path string, h http.Header, body []byte) error {
	sig := headerValue(h, "signature")
	if sig == "" {
		return fmt.Errorf("%w: reply has no signature header", ErrSignature)
	}
	respTime := headerValue(h, "response-time")
	if respTime == "" {
		return fmt.Errorf("%w: reply has no response-time header", ErrSignature)
	}
	clientID := headerValue(h, "client-id")
	if clientID == "" {
		clientID = c.clientID
	}
	if err := Verify(c.apoKey, http.MethodPost, path, clientID, respTime, body, sig); err != nil {
		return fmt.Errorf("reply %w", err)
	}
	return nil
}

// headerValue finds a header by name regardless of case, including keys
// that were stored in a non-canonical form directly in the map.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
	}
	return ""
}

// Recorder receives one CallRecord per call, after the call ends, so that a
// caller can persist every exchange with APO (payments keeps them in
// apo_calls). Record runs on the calling goroutine with a context that is
// not cancelled when the call's own deadline passes; it should be quick.
type Recorder interface {
	Record(ctx context.Context, rec CallRecord)
}

// CallRecord describes one call. Request and Response have already been
// through RedactedJSON, so they hold no PAN or CVV.
type CallRecord struct {
	API        string        // operation, e.g. "pay", "inquiryPayment"
	Path       string        // the path called and signed (sandbox-rewritten)
	RequestID  string        // our request id, or the id looked up by inquiries/cancel/disputes
	Request    []byte        // redacted JSON of the request body
	Response   []byte        // redacted reply body; nil when none arrived
	HTTPStatus int           // 0 when no HTTP reply arrived
	Duration   time.Duration // from encoding the request to the end of handling the reply
	// Outcome is "S", "F", "U" or "transport_error" (no HTTP reply at all:
	// connection error, timeout, cancellation). Non-200, unsigned, badly
	// signed and undecodable replies are "U".
	Outcome    string
	ResultCode string // result.resultCode of a verified reply, else ""
}
