package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/payops/payops/internal/apo"
)

// Config configures a Server. Zero fields take the defaults stated here.
type Config struct {
	// ClientID is the only client id the gateway accepts; any other gets
	// CLIENT_INVALID. Default "SANDBOX_PAYOPS".
	ClientID string
	// APOPrivateKey signs every response and notification. Required.
	APOPrivateKey *rsa.PrivateKey
	// MerchantPublicKey verifies every request signature. Required.
	MerchantPublicKey *rsa.PublicKey
	// CustomerID is the merchant's id at APO: the directory name of its
	// settlement reports and their customerId column. Default
	// "1022188000000000001".
	CustomerID string
	// TimeScale multiplies the sandbox's own delays, e.g. 0.001 in tests:
	// the delayed test card's late answer, the default 3DS challenge expiry
	// (14 min), the notification retry schedule, the dispute defence
	// window and its due alert lead (24 h). It does not shorten the 7-day
	// authorization validity, which clients read as a timestamp.
	// Default 1.
	TimeScale float64
	// Seed seeds the pseudo-random parts of generated ids and acquirer
	// data, and the fault injection draws; 0 picks a random seed. Card
	// fingerprints never depend on it.
	Seed int64
	// Now is the clock. Default time.Now. Deadlines kept in state (delayed
	// card, challenge expiry, dispute alerts, daily reports) follow it; the
	// notification retry schedule runs on real time.
	Now func() time.Time
	// Logger receives one JSON-friendly line per call and per notification
	// attempt, never card data. Default: discard.
	Logger *slog.Logger
	// BaseURL is the sandbox's public URL, the base of the 3DS page's
	// normalUrl. Default: "http://" + the Host header of the pay request.
	BaseURL string

	// DisputeNotifyURL receives dispute notifications (APO configures it
	// in the Dashboard, not per request). Empty: none are sent.
	DisputeNotifyURL string
	// DefenseWindow is how long after a dispute opens its defence is due,
	// before TimeScale. Default 10 days.
	DefenseWindow time.Duration
	// NotifyWorkers is how many notifications are sent at once. Default 4.
	NotifyWorkers int
	// NotifyQueueSize bounds the notifications waiting for a worker; one
	// that finds the queue full is not sent and is counted as an overflow,
	// so a slow receiver never blocks the gateway. Default 1024.
	NotifyQueueSize int
	// NotifyTimeout bounds one notification attempt. Default 10 s.
	NotifyTimeout time.Duration
	// NotifyClient sends the notifications. Default: a client of its own
	// with NotifyTimeout.
	NotifyClient *http.Client

	// ReportsDir is where POST /sandbox/reports and the daily tick write
	// report files, as <ReportsDir>/<CustomerID>/<yyyyMMdd>/<file>. Empty:
	// reports are refused.
	ReportsDir string
	// DailyReports writes the previous day's reports every day at 01:00
	// UTC (by Now). Needs ReportsDir. Default off.
	DailyReports bool
	// ReportGeneration is the generation of the report files written when
	// a request names none (the daily tick too): GenerationAPO (default)
	// or GenerationNewest.
	ReportGeneration string
	// SettlementCurrency is the currency every acquirer settles in, unless
	// Acquirers says otherwise. Empty: each transaction settles in its own
	// currency.
	SettlementCurrency string
	// Acquirers sets fees and settlement currency per acquirer name
	// (ADYEN, CHECKOUT, ALIPAY). An acquirer without an entry keeps the
	// defaults: 260, 295 and 320 basis points per capture respectively, a
	// batch fee of 100 minor units, and SettlementCurrency.
	Acquirers map[string]AcquirerSettings
	// FXRates gives quote prices by currency pair, "JPY/USD" -> "0.0067"
	// (1 JPY = 0.0067 USD), overriding the sandbox's built-in rates.
	FXRates map[string]string

	// BankAccounts is the merchant's bank account (IBAN) per settlement
	// currency, into which POST /sandbox/bank-statements pays the
	// batches. A currency without one gets a German test IBAN of its own
	// (bank code 37040044, the account spelling the currency).
	BankAccounts map[string]string
	// BankOpening is every account's balance before the first day of a
	// statement request, in major units. Default 1,000,000.
	BankOpening int64
	// RemitterName is who pays the batches: the debtor of each payout
	// credit. Default "ANTOM SETTLEMENT".
	RemitterName string
	// PayoutDays is N in "a batch of report day D is credited on D + N
	// business days (Mon–Fri)", payops' RECON_SETTLEMENT_DAYS. Default 2.
	PayoutDays int
}

// Server is the simulated gateway. It is an http.Handler; its zero value is
// not usable, build it with New. A Server may run background goroutines
// (notification workers, the deadline scheduler); stop them with Close or
// Shutdown.
type Server struct {
	clientID         string
	apoKey           *rsa.PrivateKey
	merchantKey      *rsa.PublicKey
	customerID       string
	timeScale        float64
	now              func() time.Time
	log              *slog.Logger
	baseURL          string
	disputeNotifyURL string
	defenseWindow    time.Duration // already scaled
	fpKey            []byte        // per-process HMAC key for card fingerprints and tokens
	mux              *http.ServeMux
	seed             uint64
	reports          reportSettings
	reportMu         sync.Mutex // one report or statement run at a time: runs share file names
	bank             bankSettings
	notifier         *notifier
	sched            *scheduler
	faults           *faultInjector
	done             chan struct{} // closed by Shutdown: ends hanging faults
	closeOnce        sync.Once

	mu  sync.Mutex // guards st, rng and seq
	st  state
	rng *mrand.Rand
	seq uint64
}

// New checks cfg, fills in defaults and returns a ready Server.
func New(cfg Config) (*Server, error) {
	if cfg.APOPrivateKey == nil {
		return nil, errors.New("sandbox: APOPrivateKey is required")
	}
	if cfg.MerchantPublicKey == nil {
		return nil, errors.New("sandbox: MerchantPublicKey is required")
	}
	if cfg.TimeScale < 0 {
		return nil, fmt.Errorf("sandbox: TimeScale must be positive, got %v", cfg.TimeScale)
	}
	if cfg.DefenseWindow < 0 || cfg.NotifyWorkers < 0 || cfg.NotifyQueueSize < 0 || cfg.NotifyTimeout < 0 {
		return nil, errors.New("sandbox: DefenseWindow, NotifyWorkers, NotifyQueueSize and NotifyTimeout must not be negative")
	}
	if cfg.DisputeNotifyURL != "" && validateURL("DisputeNotifyURL", cfg.DisputeNotifyURL) != nil {
		return nil, errors.New("sandbox: DisputeNotifyURL must be an absolute http(s) URL")
	}
	if cfg.DailyReports && cfg.ReportsDir == "" {
		return nil, errors.New("sandbox: DailyReports needs ReportsDir")
	}
	s := &Server{
		clientID:         orDefault(cfg.ClientID, "SANDBOX_PAYOPS"),
		apoKey:           cfg.APOPrivateKey,
		merchantKey:      cfg.MerchantPublicKey,
		customerID:       orDefault(cfg.CustomerID, "1022188000000000001"),
		timeScale:        cfg.TimeScale,
		now:              cfg.Now,
		log:              cfg.Logger,
		baseURL:          strings.TrimRight(cfg.BaseURL, "/"),
		disputeNotifyURL: cfg.DisputeNotifyURL,
		fpKey:            make([]byte, 32),
		done:             make(chan struct{}),
		st:               newState(),
	}
	if s.timeScale == 0 {
		s.timeScale = 1
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	window := cfg.DefenseWindow
	if window == 0 {
		window = defenseWindow
	}
	s.defenseWindow = s.scaled(window)
	reports, err := newReportSettings(cfg)
	if err != nil {
		return nil, err
	}
	s.reports = reports
	if s.bank, err = newBankSettings(cfg); err != nil {
		return nil, err
	}
	if _, err := rand.Read(s.fpKey); err != nil {
		return nil, fmt.Errorf("sandbox: fingerprint key: %w", err)
	}
	// Ids start at a random point of their 12-digit sequence, whatever the
	// seed: APO's ids are unique across its servers and restarts, and two
	// sandboxes (or one restarted within a second) must not hand out the
	// same payment id to one ledger.
	var start [8]byte
	if _, err := rand.Read(start[:]); err != nil {
		return nil, fmt.Errorf("sandbox: id sequence: %w", err)
	}
	s.seq = binary.BigEndian.Uint64(start[:]) % idSequenceStart
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = mrand.Uint64()
	}
	s.seed = seed
	s.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.faults = newFaultInjector(seed)
	s.notifier = newNotifier(s, cfg)
	s.sched = newScheduler(s.now)
	if cfg.DailyReports {
		s.scheduleDailyReports()
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /sandbox/state", s.handleState)
	s.mux.HandleFunc("GET /sandbox/calls", s.handleCalls)
	s.mux.HandleFunc("GET /sandbox/notifications", s.handleNotifications)
	s.mux.HandleFunc("GET /sandbox/3ds/{paymentId}", s.handleChallengePage)
	s.mux.HandleFunc("POST /sandbox/3ds/{paymentId}", s.handleChallengePost)
	s.mux.HandleFunc("POST /sandbox/disputes", s.handleOpenDispute)
	s.mux.HandleFunc("POST /sandbox/disputes/{disputeId}/judge", s.handleJudgeDispute)
	s.mux.HandleFunc("POST /sandbox/disputes/{disputeId}/cancel", s.handleCancelDispute)
	s.mux.HandleFunc("POST /sandbox/reports", fileWriter(s.WriteReports))
	s.mux.HandleFunc("POST /sandbox/bank-statements", fileWriter(s.WriteBankStatements))
	s.mux.HandleFunc("GET /sandbox/faults", s.handleGetFaults)
	s.mux.HandleFunc("POST /sandbox/faults", s.handleSetFaults)
	s.mux.HandleFunc("DELETE /sandbox/faults", s.handleClearFaults)
	return s, nil
}

// scaled applies TimeScale to one of the sandbox's own durations.
func (s *Server) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.timeScale)
}

// Shutdown stops the background work: no new deadline fires, no new
// notification is accepted (each is recorded as abandoned), retries not
// yet due are abandoned, and the notifications already due are delivered
// (one attempt each) until ctx ends, when sending is cut short. The
// gateway itself keeps answering; stop the HTTP server first. Shutdown
// returns ctx's error when the drain did not finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.done) })
	s.sched.close()
	return s.notifier.shutdown(ctx)
}

// Close stops the background work at once, abandoning every notification
// not yet delivered. It is Shutdown with no time to drain.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// gatewayPrefixes are the production and sandbox path roots (§1.2); the
// sandbox serves both because clients differ in whether they rewrite.
var gatewayPrefixes = []string{"/ams/api/v1/payments/", "/ams/sandbox/api/v1/payments/"}

// apiHandler handles one gateway API. It gets the verified raw body.
type apiHandler func(s *Server, r *http.Request, body []byte) reply

// reply is a handler's answer plus what the call log wants to know.
type reply struct {
	answer
	requestID string
	replay    bool
	rejected  bool // refused by the gateway's own checks, before any API ran
}

var apis = map[string]apiHandler{
	"pay":                     (*Server).pay,
	"inquiryPayment":          (*Server).inquiryPayment,
	"capture":                 (*Server).capture,
	"cancel":                  (*Server).cancel,
	"refund":                  (*Server).refund,
	"inquiryRefund":           (*Server).inquiryRefund,
	"acceptDispute":           (*Server).acceptDispute,
	"supplyDefenseDocument":   (*Server).supplyDefenseDocument,
	"downloadDisputeEvidence": (*Server).downloadDisputeEvidence,
}

// maxBody bounds a request body; supplyDefenseDocument's evidence may be up
// to 1,000,000 base64 characters.
const maxBody = 2 << 20

// ServeHTTP serves the gateway paths and the /sandbox control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The gateway is routed by hand rather than by ServeMux: the mux would
	// clean and redirect odd paths, but a gateway answers every request
	// under /ams/ with a signed result, whatever its path or method.
	if strings.HasPrefix(r.URL.Path, "/ams/") {
		s.serveGateway(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	api := ""
	for _, p := range gatewayPrefixes {
		if rest, ok := strings.CutPrefix(r.URL.Path, p); ok {
			api = rest
			break
		}
	}
	clientID := r.Header.Get("client-id")
	f := s.faults.draw(api)
	if f.latency > 0 && !s.hold(r, f.latency) {
		f.kind, f.applied = faultGone, false // the client left during the added latency; nothing runs
	}
	var rep reply
	applied := f.kind == "" || f.applied
	if applied {
		rep = s.handleGateway(r, uri, api, clientID)
	} else {
		// The operation never ran, but the call log still names its
		// request id so tests can match it to what the client saw.
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		rep.requestID = requestIDOf(api, body)
	}
	c := Call{
		Time: s.now(), API: api, Path: uri, ClientID: clientID, RequestID: rep.requestID,
		ResultStatus: rep.res.ResultStatus, ResultCode: rep.res.ResultCode, Replay: rep.replay,
		Fault: f.kind, Applied: f.kind != "" && applied, LatencyMs: f.latency.Milliseconds(),
		HTTPStatus: http.StatusOK,
	}
	if clientID == "" {
		clientID = s.clientID
	}
	switch f.kind {
	case "":
		if rep.rejected && s.faults.unsignedRejections() {
			c.Fault = faultUnsigned
			s.record(c)
			s.writeUnsigned(w, clientID, rep.body)
			break
		}
		s.record(c)
		s.write(w, uri, clientID, rep.body)
	case faultUnknown:
		s.record(c)
		s.write(w, uri, clientID, s.unknown("UNKNOWN_EXCEPTION", "unknown exception; the result is not known, inquire or retry").body)
	case faultStatus:
		c.HTTPStatus = f.status
		s.record(c)
		http.Error(w, http.StatusText(f.status), f.status)
	case faultHang:
		c.HTTPStatus = 0
		s.record(c)
		s.hold(r, f.hang)
		abort(w)
	case faultReset, faultGone:
		c.HTTPStatus = 0
		s.record(c)
		abort(w)
	}
	s.log.Info("apo call",
		slog.String("api", api),
		slog.String("path", uri),
		slog.String("request_id", rep.requestID),
		slog.String("result_status", rep.res.ResultStatus),
		slog.String("result_code", rep.res.ResultCode),
		slog.Bool("replay", rep.replay),
		slog.String("fault", f.kind),
		slog.Bool("applied", c.Applied),
		slog.Duration("duration", time.Since(start)),
	)
}

// hold keeps a request waiting for d, the client leaving, or Shutdown,
// whichever comes first, and reports whether the client is still there.
func (s *Server) hold(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return r.Context().Err() == nil
	}
}

// abort drops the connection without an answer: a TCP reset where the
// connection allows it (SO_LINGER 0), else a plain close. Go's client sees
// an EOF or "connection reset by peer", as it would from a crashed gateway.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: panicking with ErrAbortHandler is the
		// documented way to make net/http drop the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// requestIDOf finds the id a call is about in its raw body, for the call
// log of calls the sandbox did not run.
func requestIDOf(api string, body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	switch api {
	case "pay":
		return str("paymentRequestId")
	case "capture":
		return str("captureRequestId")
	case "refund":
		return str("refundRequestId")
	case "inquiryRefund":
		return cmpID(str("refundId"), str("refundRequestId"))
	case "acceptDispute", "supplyDefenseDocument", "downloadDisputeEvidence":
		return str("disputeId")
	}
	return cmpID(str("paymentId"), str("paymentRequestId"))
}

// handleGateway runs the gateway checks in APO's order, then the API.
func (s *Server) handleGateway(r *http.Request, uri, api, clientID string) reply {
	reject := func(code, msg string) reply {
		rep := s.fail(code, msg)
		rep.rejected = true
		return rep
	}
	if r.Method != http.MethodPost {
		return reject("METHOD_NOT_SUPPORTED", "HTTP method "+r.Method+" is not supported; use POST")
	}
	h, ok := apis[api]
	if !ok {
		// INVALID_API is in APO's gateway list; its status is unconfirmed.
		return reject("INVALID_API", "the API at "+r.URL.Path+" does not exist in this sandbox")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return s.unknown("UNKNOWN_EXCEPTION", "could not read the request body")
	}
	if len(body) > maxBody {
		return reject("PARAM_ILLEGAL", "request body is larger than the sandbox accepts")
	}
	if clientID != s.clientID {
		return reject("CLIENT_INVALID", "client id is not valid")
	}
	if msg := s.verifyRequest(r, uri, clientID, body); msg != "" {
		return reject("SIGNATURE_INVALID", msg)
	}
	return h(s, r, body)
}

// verifyRequest checks the request signature (§2.2) and returns why it
// fails, or "" when it verifies. Header names are case-insensitive and
// request-time is opaque: milliseconds and ISO 8601 both sign as sent.
func (s *Server) verifyRequest(r *http.Request, uri, clientID string, body []byte) string {
	sig := r.Header.Get("signature")
	if strings.TrimSpace(sig) == "" {
		return "missing signature header"
	}
	rt := r.Header.Get("request-time")
	if rt == "" {
		return "missing request-time header"
	}
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "algorithm") && v != "RSA256" {
			return "unsupported signature algorithm " + v
		}
	}
	if err := apo.Verify(s.merchantKey, http.MethodPost, uri, clientID, rt, body, sig); err != nil {
		return "request signature does not verify"
	}
	return ""
}

// timeLayout is APO's datetime: ISO 8601 to the second, with an offset.
const timeLayout = "2006-01-02T15:04:05-07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// write sends a signed HTTP 200 answer. Header names are lowercase on the
// wire: some SDKs (Python, PHP) look them up case-sensitively, so they are
// assigned to the map directly instead of through Header.Set, which would
// canonicalise them.
func (s *Server) write(w http.ResponseWriter, uri, clientID string, body []byte) {
	rt := formatTime(s.now())
	h := plainHeaders(w, clientID)
	h["response-time"] = []string{rt}
	sig, err := apo.Sign(s.apoKey, http.MethodPost, uri, clientID, rt, body)
	if err != nil {
		s.log.Error("sign response", slog.String("path", uri), slog.Any("err", err))
	} else {
		h["signature"] = []string{sig}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeUnsigned sends an HTTP 200 answer without the signature and
// response-time headers: a gateway rejection under the unsignedRejections
// fault.
func (s *Server) writeUnsigned(w http.ResponseWriter, clientID string, body []byte) {
	plainHeaders(w, clientID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// plainHeaders sets the headers of every gateway answer but the signature
// pair, and returns the header map.
func plainHeaders(w http.ResponseWriter, clientID string) http.Header {
	h := w.Header()
	h["Content-Type"] = nil // stops net/http adding a sniffed Content-Type next to ours
	h["content-type"] = []string{"application/json; charset=UTF-8"}
	h["client-id"] = []string{clientID}
	return h
}

// Result constructors.

func resOK() result {
	return result{ResultCode: "SUCCESS", ResultStatus: "S", ResultMessage: "success"}
}

func resFail(code, msg string) result {
	return result{ResultCode: code, ResultStatus: "F", ResultMessage: msg}
}

// render marshals a response struct into an answer carrying res.
func render(v any, res result) answer {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings reach here; this cannot happen.
		panic(fmt.Sprintf("sandbox: marshal response: %v", err))
	}
	return answer{body: body, res: res}
}

// fail is an answer with only a result: what APO sends for gateway and
// parameter errors.
func (s *Server) fail(code, msg string) reply {
	res := resFail(code, msg)
	return reply{answer: render(struct {
		Result result `json:"result"`
	}{res}, res)}
}

func (s *Server) unknown(code, msg string) reply {
	res := result{ResultCode: code, ResultStatus: "U", ResultMessage: msg}
	return reply{answer: render(struct {
		Result result `json:"result"`
	}{res}, res)}
}

// paramError is a missing or illegal request field.
type paramError struct {
	field, reason string
}

func (e *paramError) Error() string { return e.field + ": " + e.reason }

// illegal answers PARAM_ILLEGAL naming the field, as APO does.
func (s *Server) illegal(e *paramError, requestID string) reply {
	rep := s.fail("PARAM_ILLEGAL", "illegal parameter "+e.Error())
	rep.requestID = requestID
	return rep
}

// decode reads a JSON body into v, turning decoding failures into the
// PARAM_ILLEGAL field they concern.
func decode(body []byte, v any) *paramError {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &paramError{"body", "must be a JSON object"}
		}
		return &paramError{te.Field, "has the wrong JSON type (" + te.Value + ")"}
	}
	return &paramError{"body", "is not valid JSON"}
}

// idSequenceStart bounds where a server's id sequence starts, leaving nine
// tenths of the 12 digits for the ids it hands out.
const idSequenceStart = 100_000_000_000

// nextID makes an APO-style numeric id: timestamp, a kind marker and a
// process-wide sequence, so ids are unique and sortable. Call with mu held.
func (s *Server) nextID(kind string) string {
	s.seq++
	return s.now().UTC().Format("20060102150405") + kind + fmt.Sprintf("%012d", s.seq)
}

// Id kind markers.
const (
	kindPayment = "1101"
	kindCapture = "1201"
	kindRefund  = "1301"
	kindCancel  = "1401"
	kindDispute = "1501"
)

// record appends to the bounded call log.
func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.st.calls) < maxCalls {
		s.st.calls = append(s.st.calls, c)
	} else {
		s.st.calls[s.st.callsNext] = c
	}
	s.st.callsNext = (s.st.callsNext + 1) % maxCalls
	s.st.callsRecorded++
}

// Calls returns the logged gateway calls, oldest first (at most the last
// 10,000).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked()
}

func (s *Server) callsLocked() []Call {
	out := make([]Call, 0, len(s.st.calls))
	if len(s.st.calls) == maxCalls {
		out = append(out, s.st.calls[s.st.callsNext:]...)
		out = append(out, s.st.calls[:s.st.callsNext]...)
		return out
	}
	return append(out, s.st.calls...)
}

// handleCalls serves GET /sandbox/calls[?api=inquiryPayment].
func (s *Server) handleCalls(w http.ResponseWriter, r *http.Request) {
	api := r.URL.Query().Get("api")
	s.mu.Lock()
	all := s.callsLocked()
	total := s.st.callsRecorded
	s.mu.Unlock()
	calls := all[:0:0]
	for _, c := range all {
		if api == "" || c.API == api {
			calls = append(calls, c)
		}
	}
	writeJSON(w, map[string]any{"total": total, "calls": calls})
}

// handleState serves GET /sandbox/state: everything the sandbox holds,
// which by construction contains no card number or CVV.
func (s *Server) handleState(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	pays := make([]*payment, 0, len(s.st.paymentOrder))
	cards := []*cardFacts{}
	seen := map[string]bool{}
	for _, id := range s.st.paymentOrder {
		p := s.st.payments[id]
		s.refresh(p)
		pays = append(pays, p)
		if c, ok := s.st.tokens[p.Card.Token]; ok && !seen[p.Card.Token] {
			seen[p.Card.Token] = true
			cards = append(cards, c)
		}
	}
	disputes := make([]*dispute, 0, len(s.st.disputeOrder))
	for _, id := range s.st.disputeOrder {
		disputes = append(disputes, s.st.disputes[id])
	}
	// Marshal under the lock (the structs are live state), write after it.
	top := map[string]any{}
	var err error
	for k, v := range map[string]any{"payments": pays, "disputes": disputes, "savedCards": cards} {
		var raw []byte
		if raw, err = json.Marshal(v); err != nil {
			break
		}
		top[k] = json.RawMessage(raw)
	}
	calls := s.st.callsRecorded
	s.mu.Unlock()
	if err != nil {
		http.Error(w, "marshal state", http.StatusInternalServerError)
		return
	}
	// The notifier and the faults have locks of their own, never taken
	// together with mu.
	top["clientId"] = s.clientID
	top["customerId"] = s.customerID
	top["callsLogged"] = calls
	top["notificationStats"] = s.NotificationStats()
	top["notifications"] = s.Notifications()
	top["faults"] = s.CurrentFaults()
	body, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		http.Error(w, "marshal state", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
