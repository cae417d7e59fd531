package sandbox

import (
	"net/http"
	"strconv"
	"time"
)

// capture handles /v1/payments/capture (§3.5, §7): full, partial or
// several captures up to the authorized amount, before authExpiryTime.
func (s *Server) capture(_ *http.Request, body []byte) reply {
	var req captureRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := req.CaptureRequestID
	if perr := requireID("captureRequestId", rid); perr != nil {
		return s.illegal(perr, rid)
	}
	if perr := requireID("paymentId", req.PaymentID); perr != nil {
		return s.illegal(perr, rid)
	}
	amt, perr := parseAmount("captureAmount", req.CaptureAmount)
	if perr != nil {
		return s.illegal(perr, rid)
	}
	key := idemKey(rid, req.PaymentID, amt.Currency, strconv.FormatInt(amt.Value, 10))

	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.st.captureReqs[rid]; ok {
		if rec.key != key {
			return s.inconsistent(rid)
		}
		return reply{answer: rec.ans, requestID: rid, replay: true}
	}
	// Every business outcome below, success or failure, is final for this
	// request id and is stored, so a retry gets the same answer (§4.3).
	final := func(ans answer) reply {
		s.st.captureReqs[rid] = &idemRecord{key: key, ans: ans}
		return reply{answer: ans, requestID: rid}
	}
	failed := func(code, msg string) reply {
		return final(s.fail(code, msg).answer)
	}
	p := s.st.payments[req.PaymentID]
	if p == nil {
		return failed("AUTH_NOT_FOUND", "no authorization with this paymentId")
	}
	s.refresh(p)
	if amt.Currency != p.Amount.Currency {
		// A malformed request, not an outcome: not stored.
		return s.illegal(&paramError{"captureAmount.currency", "must equal the payment currency " + p.Amount.Currency}, rid)
	}
	now := s.now()
	switch {
	case p.Status == statusCancelled:
		return failed("ORDER_STATUS_INVALID", "the payment is cancelled")
	case p.Status != statusSuccess:
		return failed("ORDER_STATUS_INVALID", "the payment is not authorized")
	case now.After(p.AuthExpiry):
		return failed("AUTH_EXPIRED", "the authorization expired at "+formatTime(p.AuthExpiry))
	case p.CapturesClosed:
		return failed("ORDER_STATUS_INVALID", "a last capture was made; the rest of the authorization was released")
	case p.captured()+amt.Value > p.Amount.Value:
		return failed("CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT", "the total captured would exceed the authorized amount")
	}
	c := s.addCapture(p, rid, amt, now, false)
	// isLastCapture's APO meaning is UNCONFIRMED; the sandbox reads it as
	// Alipay+ documents it: the final capture releases the remainder.
	if req.IsLastCapture != nil && bool(*req.IsLastCapture) {
		p.CapturesClosed = true
	}
	acq := c.Acquirer
	resp := captureResponse{
		Result:              resOK(),
		CaptureRequestID:    rid,
		CaptureID:           c.ID,
		PaymentID:           p.ID,
		CaptureAmount:       c.Amount.wire(),
		CaptureTime:         formatTime(c.Time),
		AcquirerReferenceNo: acq.AcquirerTransactionID,
		AcquirerInfo:        &acq,
	}
	return final(render(resp, resp.Result))
}

// addCapture records a successful capture on p and tells the merchant
// (CAPTURE_RESULT to paymentNotifyUrl, automatic captures included). The
// first capture of a payment made with the dispute test card opens a
// dispute for its amount. Call with mu held.
func (s *Server) addCapture(p *payment, requestID string, amt money, at time.Time, automatic bool) *capture {
	id := s.nextID(kindCapture)
	c := &capture{
		ID:        id,
		RequestID: requestID,
		PaymentID: p.ID,
		Amount:    amt,
		Time:      at,
		Automatic: automatic,
		Acquirer:  acquirerByName(p.Card.Acquirer).info(s.rng, "APO"+id, opCapture),
	}
	p.Captures = append(p.Captures, c)
	s.addDayEntry(at, dayEntry{kind: entryCapture, p: p, c: c})
	s.notifyCapture(p, c)
	if p.DisputeOnCapture && len(p.Captures) == 1 {
		d := s.openDispute(p, amt, at)
		s.addDayEntry(at, dayEntry{kind: entryDispute, p: p, d: d})
		s.notifyDispute(d, disputeNoticeCreated)
	}
	return c
}
