package e2e

// Helpers of the fault and security tests: a raw HTTP client that never
// fails the test from a goroutine, APO's side of a notification (signed with
// the sandbox's key), Redis restarts on the same port, a private PostgreSQL
// cluster, and readers of payops' and the sandbox's views of a payment.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// rawClient is shared by the concurrent helpers: enough idle connections
// per host that a burst of 16 senders does not churn through sockets.
var rawClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// do sends a request and returns the status and body; unlike Call it never
// fails the test, so goroutines may use it. body is JSON-encoded unless it
// is already []byte. key "" means the admin key; "-" sends no key at all.
func (s *Stack) do(method, path string, body any, key string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	base := s.API
	if strings.HasPrefix(path, "/sandbox/") {
		base = s.Sandbox
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch key {
	case "":
		req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitFor polls cond until it holds or within passes; then it fails the
// test with cond's last explanation.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	waitEvery(t, within, 250*time.Millisecond, what, cond)
}

// waitEvery is waitFor checking every interval, for conditions that are
// expensive to check.
func waitEvery(t *testing.T, within, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %s", what, within, why)
		}
		time.Sleep(interval)
	}
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ---- payops' view ----

// timelineEntry is one event of a payment's timeline.
type timelineEntry struct {
	ID            int64           `json:"id"`
	Source        string          `json:"source"`
	Kind          string          `json:"kind"`
	TransactionID string          `json:"transaction_id"`
	StatusBefore  string          `json:"status_before"`
	StatusAfter   string          `json:"status_after"`
	Applied       bool            `json:"applied"`
	Note          string          `json:"note"`
	Payload       json.RawMessage `json:"payload"`
}

// txView is a transaction as GET /v1/payments/{id} shows it.
type txView struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	Amount    struct {
		Value int64 `json:"value"`
	} `json:"amount"`
}

// paymentDetail is GET /v1/payments/{id}.
type paymentDetail struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	PaymentID        string `json:"payment_id"`
	PaymentRequestID string `json:"payment_request_id"`
	CaptureMode      string `json:"capture_mode"`
	Result           struct {
		Code string `json:"code"`
	} `json:"result"`
	Amount struct {
		Value    int64  `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Captured struct {
		Value int64 `json:"value"`
	} `json:"captured_amount"`
	Refunded struct {
		Value int64 `json:"value"`
	} `json:"refunded_amount"`
	NeedsReview  bool            `json:"needs_review"`
	ReviewReason string          `json:"review_reason"`
	Transactions []txView        `json:"transactions"`
	Timeline     []timelineEntry `json:"timeline"`
}

// detail reads a payment with its transactions and timeline.
func (s *Stack) detail(id string) (paymentDetail, error) {
	var d paymentDetail
	code, b, err := s.do("GET", "/v1/payments/"+id, nil, "")
	if err != nil {
		return d, err
	}
	if code != 200 {
		return d, fmt.Errorf("GET payment %s: %d %s", id, code, tail(b, 300))
	}
	return d, json.Unmarshal(b, &d)
}

// openTx names the first transaction still PROCESSING, or "".
func (d paymentDetail) openTx() string {
	if t, ok := d.processingTx(); ok {
		return t.Type + " " + t.RequestID
	}
	return ""
}

// notificationFacts counts the timeline's notification entries per fact:
// notification kind, transaction, and the result the body reported. A
// count above one is the same fact recorded twice.
func (d paymentDetail) notificationFacts() map[string]int {
	facts := map[string]int{}
	for _, e := range d.Timeline {
		if e.Source != "notification" {
			continue
		}
		var body struct {
			Result struct {
				ResultStatus string `json:"resultStatus"`
				ResultCode   string `json:"resultCode"`
			} `json:"result"`
			RefundStatus string `json:"refundStatus"`
			CaptureID    string `json:"captureId"`
			RefundID     string `json:"refundId"`
		}
		_ = json.Unmarshal(e.Payload, &body)
		key := strings.Join([]string{e.Kind, e.TransactionID, body.CaptureID, body.RefundID,
			body.Result.ResultStatus, body.Result.ResultCode, body.RefundStatus}, "|")
		facts[key]++
	}
	return facts
}

// duplicatedNotification returns a fact recorded more than once, or "".
func (d paymentDetail) duplicatedNotification() string {
	for k, n := range d.notificationFacts() {
		if n > 1 {
			return fmt.Sprintf("%s ×%d", k, n)
		}
	}
	return ""
}

// webhookEvent is a stored notification as GET /v1/webhook-events lists it.
type webhookEvent struct {
	ID         string          `json:"id"`
	NotifyType string          `json:"notify_type"`
	Verdict    string          `json:"verdict"`
	State      string          `json:"state"`
	Deliveries int             `json:"deliveries"`
	PaymentID  string          `json:"payment_id"`
	LastError  string          `json:"last_error"`
	Body       json.RawMessage `json:"body"`
}

// apoPaymentID is the APO paymentId the event's body names. (Not the
// paymentRequestId: the listing redacts bodies, and the redactor takes
// parts of our UUID-based request ids for card numbers.)
func (e webhookEvent) apoPaymentID() string {
	var b struct {
		PaymentID string `json:"paymentId"`
	}
	_ = json.Unmarshal(e.Body, &b)
	return b.PaymentID
}

// webhookEvents lists every stored notification, in the given state when
// state is not "".
func (s *Stack) webhookEvents(state string) ([]webhookEvent, error) {
	var all []webhookEvent
	cursor := ""
	for {
		q := "/v1/webhook-events?limit=200"
		if state != "" {
			q += "&state=" + state
		}
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		code, b, err := s.do("GET", q, nil, "")
		if err != nil {
			return nil, err
		}
		if code != 200 {
			return nil, fmt.Errorf("list webhook events: %d %s", code, tail(b, 300))
		}
		var page struct {
			Items      []webhookEvent `json:"items"`
			NextCursor string         `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// countEvents counts stored notifications in a state, failing the test on
// an API error (test goroutine only).
func (s *Stack) countEvents(t *testing.T, state string) int {
	t.Helper()
	evs, err := s.webhookEvents(state)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// createPayment creates a payment from a goroutine: it returns an error
// instead of failing the test.
func (s *Stack) createPayment(body map[string]any) (paymentDetail, error) {
	var p paymentDetail
	code, b, err := s.do("POST", "/v1/payments", body, "")
	if err != nil {
		return p, err
	}
	if code != 201 {
		return p, fmt.Errorf("create payment: %d %s", code, tail(b, 300))
	}
	return p, json.Unmarshal(b, &p)
}

// setFaults replaces the sandbox's fault configuration.
func (s *Stack) setFaults(t *testing.T, faults map[string]any) {
	t.Helper()
	if code := s.Call("POST", "/sandbox/faults", faults, nil); code != 200 {
		t.Fatalf("set sandbox faults: %d", code)
	}
}

// ---- the sandbox's view: the truth payops must converge to ----

// sandboxPayment is one payment of GET /sandbox/state.
type sandboxPayment struct {
	PaymentID string `json:"paymentId"`
	RequestID string `json:"paymentRequestId"`
	Status    string `json:"paymentStatus"`
	Captures  []struct {
		Amount struct {
			Value int64 `json:"value"`
		} `json:"captureAmount"`
	} `json:"captures"`
	Refunds []struct {
		Amount struct {
			Value int64 `json:"value"`
		} `json:"refundAmount"`
	} `json:"refunds"`
}

func (p sandboxPayment) captured() (n int64) {
	for _, c := range p.Captures {
		n += c.Amount.Value
	}
	return n
}

func (p sandboxPayment) refunded() (n int64) {
	for _, r := range p.Refunds {
		n += r.Amount.Value
	}
	return n
}

// sandboxTruth reads the sandbox's payments by paymentRequestId.
func (s *Stack) sandboxTruth(t *testing.T) map[string]sandboxPayment {
	t.Helper()
	var st struct {
		Payments []sandboxPayment `json:"payments"`
	}
	if code := s.Call("GET", "/sandbox/state", nil, &st); code != 200 {
		t.Fatalf("sandbox state: %d", code)
	}
	out := make(map[string]sandboxPayment, len(st.Payments))
	for _, p := range st.Payments {
		out[p.RequestID] = p
	}
	return out
}

// ---- APO's side of notifications ----

// apoSender posts notifications to payops as APO does: signed with the
// sandbox's APO key over "POST /webhooks/apo\n<client-id>.<time>.<body>".
type apoSender struct {
	key *rsa.PrivateKey
	url string
}

const (
	webhookPath = "/webhooks/apo"
	apoClientID = "SANDBOX_PAYOPS"
)

func newAPOSender(t *testing.T, s *Stack) *apoSender {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.dir, "keys", "apo_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := apo.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return &apoSender{key: key, url: s.API + webhookPath}
}

// headers signs body as APO would at this moment.
func (a *apoSender) headers(body []byte) (http.Header, error) {
	rt := time.Now().UTC().Format("2006-01-02T15:04:05-07:00")
	sig, err := apo.Sign(a.key, http.MethodPost, webhookPath, apoClientID, rt, body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Client-Id", apoClientID)
	h.Set("Request-Time", rt)
	h.Set("Signature", sig)
	return h, nil
}

// post sends body with the given headers and returns the status and reply.
func (a *apoSender) post(body []byte, h http.Header) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = h
	resp, err := rawClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	return resp.StatusCode, reply, err
}

// send signs and posts one notification. acked is true only for HTTP 200
// with APO's success body, the one answer that stops APO's resends.
func (a *apoSender) send(body []byte) (acked bool, status int, err error) {
	h, err := a.headers(body)
	if err != nil {
		return false, 0, err
	}
	status, reply, err := a.post(body, h)
	if err != nil {
		return false, 0, err
	}
	return status == 200 && isAPOAck(reply), status, nil
}

// isAPOAck reports whether a reply is APO's success format.
func isAPOAck(reply []byte) bool {
	var got, want any
	if json.Unmarshal(reply, &got) != nil {
		return false
	}
	_ = json.Unmarshal([]byte(apo.NotificationAck), &want)
	return reflect.DeepEqual(got, want)
}

// paymentResultS is the PAYMENT_RESULT notification APO sends when p
// succeeded.
func paymentResultS(p paymentDetail) []byte {
	now := time.Now().UTC()
	b, _ := json.Marshal(map[string]any{
		"notifyType":        "PAYMENT_RESULT",
		"result":            map[string]string{"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
		"paymentRequestId":  p.PaymentRequestID,
		"paymentId":         p.PaymentID,
		"paymentAmount":     map[string]string{"currency": p.Amount.Currency, "value": strconv.FormatInt(p.Amount.Value, 10)},
		"paymentCreateTime": now.Add(-time.Minute).Format(time.RFC3339),
		"paymentTime":       now.Format(time.RFC3339),
		"authExpiryTime":    now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
		"paymentMethodType": "CARD",
	})
	return b
}

// processingPayments creates n payments with the delayed card and makes
// sure only the test's own notifications can settle them: the sandbox's
// notifications are dropped and every inquiry answers 500, so they stay
// PROCESSING in payops until a PAYMENT_RESULT arrives.
func processingPayments(t *testing.T, s *Stack, n int) []paymentDetail {
	t.Helper()
	s.setFaults(t, map[string]any{
		"apis":          map[string]any{"inquiryPayment": map[string]any{"error5xx": 1}},
		"notifications": map[string]any{"drop": 1},
	})
	out := make([]paymentDetail, n)
	errs := make([]error, n)
	parallel(n, 16, func(i int) {
		body := payBody("4000000000000119", int64(1000+i), "USD", "MANUAL")
		body["order"] = map[string]any{"reference_order_id": fmt.Sprintf("burst-%04d", i)}
		out[i], errs[i] = s.createPayment(body)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
		if out[i].Status != "PROCESSING" || out[i].PaymentID == "" {
			t.Fatalf("payment %d with the delayed card: %s (APO id %q), want PROCESSING with an APO id", i, out[i].Status, out[i].PaymentID)
		}
	}
	return out
}

// ---- Redis ----

// stopRedis kills the stack's Redis the hard way.
func (s *Stack) stopRedis(t *testing.T) {
	t.Helper()
	if err := s.redis.Process.Kill(); err != nil {
		t.Fatalf("kill redis: %v", err)
	}
	_ = s.redis.Wait()
}

// restartRedis launches a new redis-server with the same arguments (so the
// same port) and waits until it answers. It starts empty: --save "".
// StartStack's cleanup kills whatever s.redis is at the end.
func (s *Stack) restartRedis(t *testing.T) {
	t.Helper()
	cmd := exec.Command(s.redis.Path, s.redis.Args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	s.redis = cmd
	waitFor(t, 2*time.Minute, "redis back", func() (bool, string) {
		out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", s.RedisAddr[strings.LastIndex(s.RedisAddr, ":")+1:], "PING").CombinedOutput()
		return err == nil && strings.TrimSpace(string(out)) == "PONG", fmt.Sprintf("%s %v", out, err)
	})
}

// ---- a private PostgreSQL cluster ----

// privatePG is a PostgreSQL cluster of one test's own, so the test may
// restart it without disturbing the shared server other tests use.
type privatePG struct {
	dir  string
	port int
	as   []string // runuser prefix when running as root
}

// URL is the cluster's connection string (the postgres database).
func (pg *privatePG) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func pgTool(name string) string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	return name
}

func (pg *privatePG) ctl(t *testing.T, args ...string) {
	t.Helper()
	full := append(append(append([]string{}, pg.as...), pgTool("pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-l",
		filepath.Join(pg.dir, "log")), args...)
	out, err := exec.Command(full[0], full[1:]...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("pg_ctl %v: %v\n%s\n%s", args, err, out, tail(log, 2000))
	}
}

// startPrivatePG initdb's a cluster in a fresh directory, starts it on a
// free loopback port and stops it (and removes it) when the test ends.
// initdb refuses to run as root, so as root it runs as the postgres user,
// as scripts/services.sh does.
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "payops-e2e-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg := &privatePG{dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.as = []string{"runuser", "-u", "postgres", "--"}
	}
	initdb := append(append([]string{}, pg.as...), pgTool("initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust")
	if out, err := exec.Command(initdb[0], initdb[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.ctl(t, "-w", "start", "-o", pg.options())
	t.Cleanup(func() {
		full := append(append([]string{}, pg.as...), pgTool("pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		_ = exec.Command(full[0], full[1:]...).Run()
	})
	return pg
}

func (pg *privatePG) options() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
		pg.port, pg.dir)
}

// restart is `pg_ctl restart -m fast`: every connection is cut.
func (pg *privatePG) restart(t *testing.T) {
	t.Helper()
	pg.ctl(t, "-w", "-m", "fast", "restart", "-o", pg.options())
}

// pgDump is pg_dump --data-only of the database at url.
func pgDump(t *testing.T, url string) string {
	t.Helper()
	out, err := exec.Command("pg_dump", "--data-only", "--no-owner", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return string(out)
}

// envValue returns the value of a variable of the stack's environment.
func (s *Stack) envValue(name string) string {
	v := ""
	for _, kv := range s.env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val // the last one wins, as for exec
		}
	}
	return v
}

// startStackOn is StartStack against the database at dbURL instead of a
// fresh one on the shared server.
func startStackOn(t *testing.T, timeScale float64, dbURL string) *Stack {
	t.Helper()
	return startStack(t, timeScale, true, dbURL)
}

// ---- notification bursts ----

// delivery is what happened to one notification of a burst.
type delivery struct {
	acked    bool
	status   int // last HTTP status; 0 for a transport error
	err      error
	attempts int
}

// burst sends bodies[i] once each on workers goroutines, waiting pace
// between handing out two notifications (0: as fast as possible). onAck,
// when not nil, runs after each acknowledged notification.
func (a *apoSender) burst(bodies [][]byte, workers int, pace time.Duration, onAck func()) []delivery {
	out := make([]delivery, len(bodies))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				acked, status, err := a.send(bodies[i])
				out[i] = delivery{acked: acked, status: status, err: err, attempts: 1}
				if acked && onAck != nil {
					onAck()
				}
			}
		})
	}
	for i := range bodies {
		next <- i
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	close(next)
	wg.Wait()
	return out
}

// resendUnacked does what APO does with a notification it got no success
// answer for: it sends it again, until acknowledged or within passes.
func (a *apoSender) resendUnacked(t *testing.T, bodies [][]byte, ds []delivery, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for i := range ds {
		for !ds[i].acked {
			if time.Now().After(deadline) {
				t.Fatalf("notification %d still not acknowledged after %d attempts: status %d, %v", i, ds[i].attempts, ds[i].status, ds[i].err)
			}
			acked, status, err := a.send(bodies[i])
			ds[i].acked, ds[i].status, ds[i].err = acked, status, err
			ds[i].attempts++
			if !acked {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

// waitAllProcessed waits until every stored notification is PROCESSED and
// there are want of them.
func (s *Stack) waitAllProcessed(t *testing.T, want int, within time.Duration) []webhookEvent {
	t.Helper()
	var evs []webhookEvent
	waitEvery(t, within, time.Second, "every notification processed", func() (bool, string) {
		var err error
		if evs, err = s.webhookEvents(""); err != nil {
			return false, err.Error()
		}
		states := map[string]int{}
		for _, e := range evs {
			states[e.State]++
		}
		return len(evs) == want && states["PROCESSED"] == want, fmt.Sprintf("%d stored, by state %v", len(evs), states)
	})
	return evs
}

// checkNotified checks the end state after a burst of PAYMENT_RESULT S
// notifications for ps: every acknowledged notification is stored and
// processed, every payment is AUTHORIZED, and each timeline has exactly one
// PAYMENT_RESULT notification entry.
func (s *Stack) checkNotified(t *testing.T, ps []paymentDetail, ds []delivery, evs []webhookEvent) {
	t.Helper()
	byAPOID := map[string][]webhookEvent{}
	for _, e := range evs {
		byAPOID[e.apoPaymentID()] = append(byAPOID[e.apoPaymentID()], e)
	}
	for i, p := range ps {
		got := byAPOID[p.PaymentID]
		switch {
		case ds[i].acked && len(got) == 0:
			t.Errorf("notification %d was acknowledged but is not stored", i)
		case len(got) > 1:
			t.Errorf("notification %d stored %d times", i, len(got))
		case len(got) == 1 && got[0].State != "PROCESSED":
			t.Errorf("notification %d is %s: %s", i, got[0].State, got[0].LastError)
		}
	}
	details := make([]paymentDetail, len(ps))
	errs := make([]error, len(ps))
	parallel(len(ps), 8, func(i int) { details[i], errs[i] = s.detail(ps[i].ID) })
	bad := 0
	for i, d := range details {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		n := 0
		for _, e := range d.Timeline {
			if e.Source == "notification" && e.Kind == "PAYMENT_RESULT" {
				n++
			}
		}
		if d.Status != "AUTHORIZED" || n != 1 || d.NeedsReview {
			if bad++; bad <= 10 {
				t.Errorf("payment %d: %s, %d PAYMENT_RESULT timeline entries, needs_review %v (want AUTHORIZED, 1, false)",
					i, d.Status, n, d.NeedsReview)
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d payments in all are wrong", bad)
	}
}

// countAtLeast counts stored notifications in state, reading pages only
// until it has seen at least min of them.
func (s *Stack) countAtLeast(state string, min int) (int, error) {
	n, cursor := 0, ""
	for {
		q := "/v1/webhook-events?limit=200&state=" + state
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		code, b, err := s.do("GET", q, nil, "")
		if err != nil {
			return n, err
		}
		if code != 200 {
			return n, fmt.Errorf("list webhook events: %d", code)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return n, err
		}
		n += len(page.Items)
		if n >= min || page.NextCursor == "" {
			return n, nil
		}
		cursor = page.NextCursor
	}
}

// laps returns a function that logs how long each phase of a test took.
func laps(t *testing.T) func(phase string) {
	t.Helper()
	start := time.Now()
	last := start
	return func(phase string) {
		t.Helper()
		now := time.Now()
		t.Logf("%s: %.1fs (at %.1fs)", phase, now.Sub(last).Seconds(), now.Sub(start).Seconds())
		last = now
	}
}

// processingTx returns the first transaction still PROCESSING.
func (d paymentDetail) processingTx() (txView, bool) {
	for _, t := range d.Transactions {
		if t.Status == "PROCESSING" {
			return t, true
		}
	}
	return txView{}, false
}

// sandboxCall is one gateway call of GET /sandbox/calls.
type sandboxCall struct {
	API        string `json:"api"`
	RequestID  string `json:"requestId"`
	Fault      string `json:"fault"`
	Applied    bool   `json:"applied"`
	HTTPStatus int    `json:"httpStatus"`
}

type sandboxCalls []sandboxCall

// applied reports whether any of the calls (inquiries aside) changed the
// sandbox's state: one without a fault, or whose fault hit after the
// operation ran.
func (cs sandboxCalls) applied() bool {
	for _, c := range cs {
		if !strings.HasPrefix(c.API, "inquiry") && (c.Fault == "" || c.Applied) {
			return true
		}
	}
	return false
}

// String lists the calls, repeats counted.
func (cs sandboxCalls) String() string {
	if len(cs) == 0 {
		return "none"
	}
	var parts []string
	count := map[string]int{}
	for _, c := range cs {
		p := fmt.Sprintf("%s fault=%q applied=%v http=%d", c.API, c.Fault, c.Applied, c.HTTPStatus)
		if count[p] == 0 {
			parts = append(parts, p)
		}
		count[p]++
	}
	for i, p := range parts {
		if count[p] > 1 {
			parts[i] = fmt.Sprintf("%s ×%d", p, count[p])
		}
	}
	return strings.Join(parts, ", ")
}

// sandboxCalls lists the gateway calls the sandbox logged for a request id.
func (s *Stack) sandboxCalls(t *testing.T, requestID string) sandboxCalls {
	t.Helper()
	var all struct {
		Calls sandboxCalls `json:"calls"`
	}
	if code := s.Call("GET", "/sandbox/calls", nil, &all); code != 200 {
		t.Fatalf("sandbox calls: %d", code)
	}
	var out sandboxCalls
	for _, c := range all.Calls {
		if c.RequestID == requestID {
			out = append(out, c)
		}
	}
	return out
}
