package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/apo"
)

// payTo is a pay request whose notifications go to url.
func payTo(rid, pan, url string) obj {
	return set(payReq(rid, pan), "paymentNotifyUrl", url)
}

// notificationOf finds the sandbox's record of the notification about id.
func (e *testEnv) notificationOf(typ, id string) Notification {
	e.t.Helper()
	for _, n := range e.srv.Notifications() {
		if n.Type == typ && (n.ObjectID == id || n.PaymentID == id) {
			return n
		}
	}
	e.t.Fatalf("no %s notification about %s", typ, id)
	return Notification{}
}

// TestNotificationRetrySchedule: a receiver that never answers with the
// success format gets eight attempts, spaced as APO's schedule × the time
// scale, and no ninth.
func TestNotificationRetrySchedule(t *testing.T) {
	t.Parallel()
	const scale = 0.00002 // the 24.4 h schedule in 1.75 s
	e := newEnv(t, realNotify, func(c *Config) { c.TimeScale = scale })
	wrong := []struct {
		status int
		body   string
	}{
		{http.StatusInternalServerError, apo.NotificationAck}, // right body, wrong status
		{http.StatusOK, `{"result":{"resultCode":"SUCCESS","resultStatus":"F","resultMessage":"success"}}`},
		{http.StatusOK, "OK"},
		{http.StatusOK, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`}, // no message
		{http.StatusOK, ""},
		{http.StatusAccepted, apo.NotificationAck},
		{http.StatusOK, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"extra":1}`},
		{http.StatusOK, `[]`},
	}
	rc := newReceiver(t, e.apoPub, func(i int) (int, string) {
		w := wrong[i%len(wrong)]
		return w.status, w.body
	})
	paid := time.Now()
	id := e.mustPay(payTo("sched-1", "4111111111111111", rc.url("/hooks/apo?src=sandbox")), "S").str("paymentId")
	got := rc.wait(8, patience)

	// Upper bounds only catch a schedule left unscaled (minutes to hours):
	// a loaded machine may hold any attempt back for seconds.
	const slack = 30 * time.Second
	if first := got[0].at.Sub(paid); first > slack {
		t.Errorf("first attempt %v after pay, want at once", first)
	}
	// Measured at the receiver, each arrival carries its own transit time
	// (signing, connecting), which a loaded machine stretches, so a gap
	// between two arrivals can be short by the earlier one's transit. What
	// no load can do is bring an attempt forward: attempt i arrives no
	// sooner after pay than the schedule's first i gaps. The sandbox's own
	// start times are checked gap by gap below.
	var due time.Duration
	for i := 1; i < 8; i++ {
		want := time.Duration(float64(retrySchedule[i]) * scale)
		due += want
		if since := got[i].at.Sub(paid); since < due {
			t.Errorf("attempt %d arrived %v after pay, before its schedule's %v", i+1, since, due)
		}
		if gap := got[i].at.Sub(got[i-1].at); gap > want+slack {
			t.Errorf("gap before attempt %d: %v, want %v", i+1, gap, want)
		}
	}
	for i, g := range got {
		if g.verify != nil || g.uri != "/hooks/apo?src=sandbox" {
			t.Errorf("attempt %d: uri %q, signature %v", i+1, g.uri, g.verify)
		}
		if !bytes.Equal(g.body, got[0].body) {
			t.Errorf("attempt %d resent another body", i+1)
		}
	}
	// The sandbox knows it gave up, and nothing more comes: the longest
	// gap of the schedule (15 h × scale ≈ 1.1 s) passes in silence.
	eventually(t, patience, "the notification to fail", func() bool {
		return e.notificationOf(notifyPaymentResult, id).Status == NotificationFailed
	})
	quiet := time.Now().Add(time.Duration(float64(retrySchedule[7])*scale) + 200*time.Millisecond)
	for time.Now().Before(quiet) {
		if n := len(rc.all()); n != 8 {
			t.Fatalf("%d attempts, want 8", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := e.notificationOf(notifyPaymentResult, id)
	for i := 1; i < len(n.Attempts); i++ {
		// The sandbox's own start times: never earlier than the schedule.
		if gap, want := n.Attempts[i].RealTime.Sub(n.Attempts[i-1].RealTime), time.Duration(float64(retrySchedule[i])*scale); gap < want {
			t.Errorf("attempt %d started %v after the previous one, want at least %v", i+1, gap, want)
		}
	}
	if len(n.Attempts) != 8 || n.Attempts[0].HTTPStatus != 500 || n.Attempts[0].Outcome != AttemptHTTPError ||
		n.Attempts[1].Outcome != AttemptBadReply {
		t.Errorf("attempts %+v", n.Attempts)
	}
	if st := e.srv.NotificationStats(); st.Failed != 1 || st.Attempts != 8 {
		t.Errorf("stats %+v", st)
	}
}

// TestNotificationAcknowledged: the success format ends the retries at
// once, however its JSON is spaced or ordered; a late success ends them
// at that attempt.
func TestNotificationAcknowledged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realNotify, func(c *Config) { c.TimeScale = 0.00002 })
	spaced := "{ \"result\" : {\n \"resultStatus\":\"S\", \"resultMessage\" : \"success\",\t\"resultCode\":\"SUCCESS\" } }\n"
	rc := newReceiver(t, e.apoPub, func(int) (int, string) { return http.StatusOK, spaced })
	id := e.mustPay(payTo("ack-1", "4111111111111111", rc.url("/ok")), "S").str("paymentId")
	rc.wait(1, patience)

	third := newReceiver(t, e.apoPub, func(i int) (int, string) {
		if i < 2 {
			return http.StatusServiceUnavailable, "busy"
		}
		return http.StatusOK, apo.NotificationAck
	})
	id3 := e.mustPay(payTo("ack-3", "4111111111111111", third.url("/late")), "S").str("paymentId")
	third.wait(3, patience)
	eventually(t, patience, "delivery", func() bool {
		return e.notificationOf(notifyPaymentResult, id3).Status == NotificationDelivered
	})
	// Well past the next scheduled attempts (10 min × scale = 12 ms).
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.all()); n != 1 {
		t.Errorf("acknowledged at once, yet %d attempts", n)
	}
	if n := len(third.all()); n != 3 {
		t.Errorf("acknowledged at the third, yet %d attempts", n)
	}
	if n := e.notificationOf(notifyPaymentResult, id); n.Status != NotificationDelivered || len(n.Attempts) != 1 ||
		n.Attempts[0].Outcome != AttemptAcknowledged {
		t.Errorf("record %+v", n)
	}
}

// TestNotificationHeadersOnWire reads a notification off a raw socket:
// Go's server canonicalises header names, so only the bytes show that
// they go out lowercase.
func TestNotificationHeadersOnWire(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type raw struct {
		line    string
		headers []string
		mime    textproto.MIMEHeader
		body    []byte
	}
	done := make(chan raw, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		tp := textproto.NewReader(br)
		var r raw
		r.line, _ = tp.ReadLine()
		r.mime = textproto.MIMEHeader{}
		for {
			l, err := tp.ReadLine()
			if err != nil || l == "" {
				break
			}
			r.headers = append(r.headers, l)
			k, v, _ := strings.Cut(l, ":")
			r.mime.Add(k, strings.TrimSpace(v))
		}
		if n := r.mime.Get("Content-Length"); n != "" {
			size, _ := strconv.Atoi(n)
			r.body = make([]byte, size)
			_, _ = io.ReadFull(br, r.body)
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "+
			itoa(len(apo.NotificationAck))+"\r\n\r\n"+apo.NotificationAck)
		done <- r
	}()
	e := newEnv(t, realNotify)
	e.mustPay(payTo("wire-n", "4111111111111111", "http://"+ln.Addr().String()+"/notify/apo?x=1"), "S")
	var r raw
	select {
	case r = <-done:
	case <-time.After(patience):
		t.Fatal("no notification")
	}
	if r.line != "POST /notify/apo?x=1 HTTP/1.1" {
		t.Errorf("request line %q", r.line)
	}
	names := map[string]bool{}
	for _, h := range r.headers {
		k, _, _ := strings.Cut(h, ":")
		names[k] = true
	}
	for _, want := range []string{"signature", "client-id", "request-time", "content-type"} {
		if !names[want] {
			t.Errorf("header %q not sent lowercase; got %v", want, r.headers)
		}
	}
	rt := r.mime.Get("request-time")
	if _, err := time.Parse(time.RFC3339, rt); err != nil {
		t.Errorf("request-time %q is not ISO 8601: %v", rt, err)
	}
	h := http.Header(r.mime)
	if err := apo.VerifyNotification(e.apoPub, "POST", "/notify/apo?x=1", h, r.body); err != nil {
		t.Errorf("signature: %v", err)
	}
	// The signature covers the query: without it, it does not verify.
	if err := apo.VerifyNotification(e.apoPub, "POST", "/notify/apo", h, r.body); err == nil {
		t.Error("signature verifies without the query")
	}
}

// TestPaymentCaptureRefundNotifications checks the bodies of each kind
// against apo-reference §3.8, decoded by the real client.
func TestPaymentCaptureRefundNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realNotify)
	rc := newReceiver(t, e.apoPub, nil)
	hook := rc.url("/webhooks/apo")

	// Frictionless, manual capture: PAYMENT_RESULT S.
	id := e.mustPay(payTo("n-ok", "5555555555554444", hook), "S").str("paymentId")
	g := rc.waitType("PAYMENT_RESULT", id, patience)
	if g.verify != nil {
		t.Fatalf("signature: %v", g.verify)
	}
	pn := g.n.Payment
	if pn.Result.ResultStatus != "S" || pn.Result.ResultCode != "SUCCESS" || pn.PaymentRequestID != "n-ok" ||
		pn.PaymentAmount.Value != "10000" || pn.PaymentAmount.Currency != "USD" || pn.PaymentTime == "" ||
		pn.AuthExpiryTime == "" || pn.PaymentCreateTime == "" || pn.PaymentMethodType != "CARD" ||
		pn.PaymentResultInfo == nil || pn.PaymentResultInfo.CardNo != "555555******4444" ||
		pn.AcquirerInfo == nil || pn.AcquirerInfo.AcquirerName == "" {
		t.Errorf("PAYMENT_RESULT %s", g.body)
	}
	if bytes.Contains(g.body, []byte("5555555555554444")) || bytes.Contains(g.body, []byte(`"123"`)) {
		t.Errorf("notification carries card data: %s", g.body)
	}

	// Manual capture: CAPTURE_RESULT.
	capID := e.captureReq("n-ok-cap", id, "USD", "4000").str("captureId")
	g = rc.waitType("CAPTURE_RESULT", capID, patience)
	cn := g.n.Capture
	if g.verify != nil || cn.Result.ResultStatus != "S" || cn.CaptureRequestID != "n-ok-cap" || cn.PaymentID != id ||
		cn.CaptureAmount.Value != "4000" || cn.CaptureTime == "" || cn.AcquirerInfo == nil {
		t.Errorf("CAPTURE_RESULT %s (%v)", g.body, g.verify)
	}

	// Refund to its own URL: REFUND_RESULT there.
	refunds := newReceiver(t, e.apoPub, nil)
	r := e.call("refund", obj{"refundRequestId": "n-ok-ref", "paymentId": id, "refundAmount": amount("USD", "1500"),
		"refundNotifyUrl": refunds.url("/refunds")})
	wantResult(t, "refund", r, "S", "SUCCESS")
	g = refunds.waitType("REFUND_RESULT", r.str("refundId"), patience)
	rn := g.n.Refund
	if g.verify != nil || rn.RefundStatus != "SUCCESS" || rn.RefundRequestID != "n-ok-ref" || rn.RefundAmount.Value != "1500" ||
		rn.RefundTime == "" || rn.ARN == "" || rn.PaymentID != "" {
		t.Errorf("REFUND_RESULT %s (%v)", g.body, g.verify)
	}

	// Automatic capture: PAYMENT_RESULT, then CAPTURE_RESULT.
	auto := e.mustPay(set(payTo("n-auto", "4111111111111111", hook), "paymentFactor.captureMode", "AUTOMATIC"), "S").str("paymentId")
	rc.waitType("PAYMENT_RESULT", auto, patience)
	g = rc.waitType("CAPTURE_RESULT", auto, patience)
	if g.n.Capture.CaptureAmount.Value != "10000" || g.n.Capture.CaptureID == "" {
		t.Errorf("automatic CAPTURE_RESULT %s", g.body)
	}

	// Decline: PAYMENT_RESULT F with the code.
	dec := e.mustPay(payTo("n-dec", "4000000000000002", hook), "F").str("paymentId")
	g = rc.waitType("PAYMENT_RESULT", dec, patience)
	if g.n.Payment.Result.ResultStatus != "F" || g.n.Payment.Result.ResultCode != "DO_NOT_HONOR" || g.n.Payment.PaymentTime != "" {
		t.Errorf("decline PAYMENT_RESULT %s", g.body)
	}

	// No URL, no notification; a capture of the same payment neither.
	before := len(e.srv.Notifications())
	quiet := e.mustPay(set(payReq("n-none", "4111111111111111"), "paymentNotifyUrl", nil), "S").str("paymentId")
	e.captureReq("n-none-cap", quiet, "USD", "100")
	if after := len(e.srv.Notifications()); after != before {
		t.Errorf("%d notifications without a URL", after-before)
	}
}

// TestDelayedCardNotifiesAfterItsDelay: on the wall clock, the delayed
// card's success is notified when its delay ends, without any inquiry,
// and the pay answer carried the ids APO returns with PAYMENT_IN_PROCESS.
func TestDelayedCardNotifiesAfterItsDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realNotify, realClock, func(c *Config) { c.TimeScale = 0.001 })
	rc := newReceiver(t, e.apoPub, nil)
	// The delay runs from when the sandbox takes the payment, which is after
	// this moment and before pay answers: measuring from the answer would
	// count the answer's own trip against the delay.
	sent := time.Now()
	r := e.mustPay(payTo("late-n", "4000000000000119", rc.url("/h")), "U")
	if r.code() != "PAYMENT_IN_PROCESS" || r.str("paymentId") == "" || r.str("paymentRequestId") != "late-n" ||
		r.str("paymentCreateTime") == "" {
		t.Fatalf("PAYMENT_IN_PROCESS answer lacks ids: %s", r.raw)
	}
	g := rc.waitType("PAYMENT_RESULT", r.str("paymentId"), patience)
	if wait := g.at.Sub(sent); wait < 30*time.Millisecond {
		t.Errorf("notified %v after pay was sent, before the 30 ms delay", wait)
	}
	if g.n.Payment.Result.ResultStatus != "S" {
		t.Errorf("delayed PAYMENT_RESULT %s", g.body)
	}
}

// TestNotificationQueueOverflow: with one worker stuck on a slow
// receiver and a queue of one, further notifications are counted as
// overflow and the gateway does not wait.
func TestNotificationQueueOverflow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, apo.NotificationAck)
	})
	ts := newHTTPServer(t, slow)
	t.Cleanup(unblock) // runs before ts.Close
	e := newEnv(t, realNotify, func(c *Config) { c.NotifyWorkers = 1; c.NotifyQueueSize = 1 })
	// The receiver stays stuck until unblock below: the pays returning at
	// all shows that the gateway does not wait for it.
	for i := range 5 {
		e.mustPay(payTo("of-"+itoa(i), "4111111111111111", ts.URL+"/slow"), "S")
	}
	eventually(t, patience, "overflow", func() bool { return e.srv.NotificationStats().Overflow == 3 })
	unblock()
	eventually(t, patience, "the two queued to be delivered", func() bool { return e.srv.NotificationStats().Delivered == 2 })
	var over int
	for _, n := range e.srv.Notifications() {
		if n.Status == NotificationOverflow {
			over++
			if len(n.Attempts) != 0 {
				t.Errorf("overflowed notification was sent: %+v", n)
			}
		}
	}
	if over != 3 {
		t.Errorf("%d records in OVERFLOW, want 3", over)
	}
}

// TestShutdownDrainsQueue: Shutdown delivers what is due, abandons
// retries not yet due, refuses new notifications, and Close is quick and
// idempotent.
func TestShutdownDrainsQueue(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var calls sync.Mutex
	n := 0
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Lock()
		n++
		first := n == 1
		calls.Unlock()
		if first {
			<-gate // hold the only worker so the rest queue up
		}
		if strings.HasPrefix(r.URL.Path, "/bad") {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, apo.NotificationAck)
	})
	ts := newHTTPServer(t, ok)
	e := newEnv(t, realNotify, func(c *Config) { c.NotifyWorkers = 1 })
	e.mustPay(payTo("sd-0", "4111111111111111", ts.URL+"/ok"), "S")
	eventually(t, patience, "the worker to be busy", func() bool {
		calls.Lock()
		defer calls.Unlock()
		return n == 1
	})
	for i := 1; i <= 3; i++ {
		e.mustPay(payTo("sd-"+itoa(i), "4111111111111111", ts.URL+"/ok"), "S")
	}
	bad := e.mustPay(payTo("sd-bad", "4111111111111111", ts.URL+"/bad"), "S").str("paymentId")

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(ctx) }()
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := e.srv.NotificationStats()
	if st.Delivered != 4 {
		t.Errorf("delivered %d of the 4 due, stats %+v", st.Delivered, st)
	}
	if rec := e.notificationOf(notifyPaymentResult, bad); rec.Status != NotificationAbandoned || len(rec.Attempts) != 1 {
		t.Errorf("failing notification after shutdown: %+v", rec)
	}
	// A payment after shutdown still works, its notification is abandoned.
	late := e.mustPay(payTo("sd-late", "4111111111111111", ts.URL+"/ok"), "S").str("paymentId")
	if rec := e.notificationOf(notifyPaymentResult, late); rec.Status != NotificationAbandoned || len(rec.Attempts) != 0 {
		t.Errorf("notification after shutdown: %+v", rec)
	}
	if err := e.srv.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
}

// TestNotificationFaults: each notification fault at share 1.
func TestNotificationFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realNotify)
	// The reorder hold ends after 2 s even if no other notification came;
	// a loaded machine can take that long between the two pays below.
	e.srv.notifier.mu.Lock()
	e.srv.notifier.reorderWait = patience
	e.srv.notifier.mu.Unlock()
	rc := newReceiver(t, e.apoPub, nil)
	hook := rc.url("/f")
	setNF := func(f NotificationFaults) {
		t.Helper()
		if err := e.srv.SetFaults(Faults{Notifications: f}); err != nil {
			t.Fatal(err)
		}
	}

	setNF(NotificationFaults{Drop: 1})
	dropped := e.mustPay(payTo("nf-drop", "4111111111111111", hook), "S").str("paymentId")
	if rec := e.notificationOf(notifyPaymentResult, dropped); rec.Status != NotificationDropped || rec.Faults[0] != "drop" {
		t.Errorf("dropped: %+v", rec)
	}

	setNF(NotificationFaults{Duplicate: 1})
	dup := e.mustPay(payTo("nf-dup", "4111111111111111", hook), "S").str("paymentId")
	eventually(t, patience, "two copies", func() bool {
		c := 0
		for _, g := range rc.all() {
			if g.n.Payment != nil && g.n.Payment.PaymentID == dup {
				c++
			}
		}
		return c == 2
	})

	setNF(NotificationFaults{Delay: 1, DelayMs: 150})
	sent := time.Now()
	delayed := e.mustPay(payTo("nf-delay", "4111111111111111", hook), "S").str("paymentId")
	g := rc.waitType("PAYMENT_RESULT", delayed, patience)
	if d := g.at.Sub(sent); d < 150*time.Millisecond {
		t.Errorf("delayed notification came after %v", d)
	}

	// Reorder: the first is held until the second has gone out.
	setNF(NotificationFaults{Reorder: 1})
	first := e.mustPay(payTo("nf-re-1", "4111111111111111", hook), "S").str("paymentId")
	setNF(NotificationFaults{})
	second := e.mustPay(payTo("nf-re-2", "4111111111111111", hook), "S").str("paymentId")
	g1 := rc.waitType("PAYMENT_RESULT", first, patience)
	g2 := rc.waitType("PAYMENT_RESULT", second, patience)
	if !g2.at.Before(g1.at) {
		t.Errorf("reordered notification arrived first (%v vs %v)", g1.at, g2.at)
	}
	if rec := e.notificationOf(notifyPaymentResult, dropped); len(rec.Attempts) != 0 {
		t.Errorf("dropped notification was sent")
	}
	for _, g := range rc.all() {
		if g.n.Payment != nil && g.n.Payment.PaymentID == dropped {
			t.Error("dropped notification arrived")
		}
	}
}

// TestNotificationsEndpoint lists the records over HTTP.
func TestNotificationsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.mustPay(payTo("ne-1", "4111111111111111", "https://shop.example/h"), "S")
	eventually(t, patience, "delivery", func() bool { return e.srv.NotificationStats().Delivered == 1 })
	res, err := http.Get(e.ts.URL + "/sandbox/notifications?type=PAYMENT_RESULT")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Stats         NotificationStats `json:"stats"`
		Notifications []Notification    `json:"notifications"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Stats.Delivered != 1 || len(got.Notifications) != 1 || got.Notifications[0].Status != NotificationDelivered ||
		len(got.Notifications[0].Attempts) != 1 || !json.Valid(got.Notifications[0].Body) {
		t.Errorf("endpoint: %+v", got)
	}
	if e.sink.count() != 1 {
		t.Errorf("in-memory receiver got %d", e.sink.count())
	}
}
