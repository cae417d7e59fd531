package sandbox

import (
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// received is one notification as a merchant endpoint got it.
type received struct {
	at     time.Time
	uri    string
	header http.Header
	body   []byte
	verify error // apo.VerifyNotification with APO's public key
	n      apo.Notification
	decode error
}

// receiver is a merchant notification endpoint over real HTTP. reply
// decides the answer to the i-th request (0-based); nil acknowledges.
type receiver struct {
	t     testing.TB
	ts    *httptest.Server
	pub   *rsa.PublicKey
	reply func(i int) (int, string)

	mu  sync.Mutex
	got []received
}

func newReceiver(t testing.TB, pub *rsa.PublicKey, reply func(i int) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{t: t, pub: pub, reply: reply}
	rc.ts = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.ts.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	got := received{at: time.Now(), uri: r.RequestURI, header: r.Header.Clone(), body: body}
	got.verify = apo.VerifyNotification(rc.pub, r.Method, r.RequestURI, r.Header, body)
	got.n, got.decode = apo.DecodeNotification(body)
	rc.mu.Lock()
	i := len(rc.got)
	rc.got = append(rc.got, got)
	rc.mu.Unlock()
	status, answer := http.StatusOK, apo.NotificationAck
	if rc.reply != nil {
		status, answer = rc.reply(i)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// url is the endpoint's notify URL with path.
func (rc *receiver) url(path string) string { return rc.ts.URL + path }

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// wait returns the first n notifications once they arrived.
func (rc *receiver) wait(n int, within time.Duration) []received {
	rc.t.Helper()
	eventually(rc.t, within, "notifications to arrive", func() bool { return len(rc.all()) >= n })
	return rc.all()[:n]
}

// waitType returns the first notification of a type (notifyType, or
// disputeNotificationType for disputes) about id.
func (rc *receiver) waitType(typ, id string, within time.Duration) received {
	rc.t.Helper()
	var found received
	eventually(rc.t, within, typ+" for "+id, func() bool {
		for _, g := range rc.all() {
			if g.decode != nil {
				continue
			}
			if typeOf(g.n) == typ && idsOf(g.n)[id] {
				found = g
				return true
			}
		}
		return false
	})
	return found
}

func typeOf(n apo.Notification) string {
	if n.Kind == apo.KindDispute {
		return n.Dispute.DisputeNotificationType
	}
	return n.NotifyType
}

func idsOf(n apo.Notification) map[string]bool {
	switch n.Kind {
	case apo.KindPayment:
		return map[string]bool{n.Payment.PaymentID: true}
	case apo.KindCapture:
		return map[string]bool{n.Capture.PaymentID: true, n.Capture.CaptureID: true}
	case apo.KindRefund:
		return map[string]bool{n.Refund.RefundID: true}
	case apo.KindDispute:
		return map[string]bool{n.Dispute.DisputeID: true, n.Dispute.PaymentID: true}
	}
	return nil
}
