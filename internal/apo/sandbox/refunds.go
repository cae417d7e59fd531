package sandbox

import (
	"net/http"
	"strconv"
)

// refundExceedCode answers a refund beyond what is left to refund.
// UNCONFIRMED: recalled from Antom material, not found in any source.
const refundExceedCode = "REFUND_AMOUNT_EXCEED"

// refund handles /v1/payments/refund (§3.7, §7): partial and multiple
// refunds while their total stays within the captured amount.
func (s *Server) refund(_ *http.Request, body []byte) reply {
	var req refundRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := req.RefundRequestID
	if perr := requireID("refundRequestId", rid); perr != nil {
		return s.illegal(perr, rid)
	}
	if perr := requireID("paymentId", req.PaymentID); perr != nil {
		return s.illegal(perr, rid)
	}
	amt, perr := parseAmount("refundAmount", req.RefundAmount)
	if perr != nil {
		return s.illegal(perr, rid)
	}
	if len(req.RefundReason) > 256 {
		return s.illegal(&paramError{"refundReason", "is longer than 256 characters"}, rid)
	}
	if perr := validateURL("refundNotifyUrl", req.RefundNotifyURL); perr != nil {
		return s.illegal(perr, rid)
	}
	key := idemKey(rid, req.PaymentID, amt.Currency, strconv.FormatInt(amt.Value, 10))

	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.st.refundReqs[rid]; ok {
		if rec.key != key {
			return s.inconsistent(rid)
		}
		return reply{answer: rec.ans, requestID: rid, replay: true}
	}
	// As for captures, every business outcome is final for the request id.
	final := func(ans answer) reply {
		s.st.refundReqs[rid] = &idemRecord{key: key, ans: ans}
		return reply{answer: ans, requestID: rid}
	}
	failed := func(code, msg string) reply {
		return final(s.fail(code, msg).answer)
	}
	p := s.st.payments[req.PaymentID]
	if p == nil {
		return failed("ORDER_NOT_EXIST", "no payment with this paymentId")
	}
	s.refresh(p)
	if amt.Currency != p.Amount.Currency {
		return s.illegal(&paramError{"refundAmount.currency", "must equal the payment currency " + p.Amount.Currency}, rid)
	}
	var against *capture
	if req.CaptureID != "" {
		for _, c := range p.Captures {
			if c.ID == req.CaptureID {
				against = c
			}
		}
		if against == nil {
			return s.illegal(&paramError{"captureId", "is not a capture of this payment"}, rid)
		}
	}
	switch {
	case p.Status == statusCancelled:
		return failed("ORDER_IS_CANCELED", "the payment is cancelled")
	case p.Status != statusSuccess:
		return failed("ORDER_STATUS_INVALID", "the payment did not succeed")
	case p.captured() == 0:
		return failed("ORDER_STATUS_INVALID", "nothing has been captured; cancel the authorization instead")
	case p.refunded()+amt.Value > p.captured():
		return failed(refundExceedCode, "the total refunded would exceed the captured amount")
	case against != nil && refundedAgainst(p, against.ID)+amt.Value > against.Amount.Value:
		return failed(refundExceedCode, "the total refunded would exceed the capture's amount")
	}
	now := s.now()
	id := s.nextID(kindRefund)
	rf := &refund{
		ID:        id,
		RequestID: rid,
		PaymentID: p.ID,
		Amount:    amt,
		Time:      now,
		ARN:       randString(s.rng, "0123456789", 23),
		NotifyURL: req.RefundNotifyURL,
		Acquirer:  acquirerByName(p.Card.Acquirer).info(s.rng, "APO"+id, opRefund),
	}
	if against != nil {
		rf.CaptureID = against.ID
	}
	p.Refunds = append(p.Refunds, rf)
	s.st.refunds[rf.ID] = rf
	s.st.refundsByReq[rid] = rf
	s.addDayEntry(now, dayEntry{kind: entryRefund, p: p, r: rf})
	s.notifyRefund(rf)
	acq := rf.Acquirer
	resp := refundResponse{
		Result:              resOK(),
		RefundRequestID:     rid,
		RefundID:            rf.ID,
		PaymentID:           p.ID,
		RefundAmount:        amt.wire(),
		RefundTime:          formatTime(now),
		AcquirerReferenceNo: acq.AcquirerTransactionID,
		AcquirerInfo:        &acq,
	}
	return final(render(resp, resp.Result))
}

func refundedAgainst(p *payment, captureID string) int64 {
	var n int64
	for _, r := range p.Refunds {
		if r.CaptureID == captureID {
			n += r.Amount.Value
		}
	}
	return n
}

// inquiryRefund handles /v1/payments/inquiryRefund. Only refunds that
// succeeded exist; a refused refund request left no refund behind.
func (s *Server) inquiryRefund(_ *http.Request, body []byte) reply {
	var req inquiryRefundRequest
	if perr := decode(body, &req); perr != nil {
		return s.illegal(perr, "")
	}
	rid := cmpID(req.RefundID, req.RefundRequestID)
	if rid == "" {
		return s.illegal(&paramError{"refundId", "refundId or refundRequestId is required"}, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rf *refund
	if req.RefundID != "" {
		rf = s.st.refunds[req.RefundID]
	} else {
		rf = s.st.refundsByReq[req.RefundRequestID]
	}
	if rf == nil {
		// UNCONFIRMED code.
		rep := s.fail("REFUND_NOT_EXIST", "no refund with this id")
		rep.requestID = rid
		return rep
	}
	acq := rf.Acquirer
	resp := inquiryRefundResponse{
		Result:          resOK(),
		RefundID:        rf.ID,
		RefundRequestID: rf.RequestID,
		RefundAmount:    rf.Amount.wire(),
		RefundStatus:    statusSuccess,
		RefundTime:      formatTime(rf.Time),
		ARN:             rf.ARN,
		AcquirerInfo:    &acq,
	}
	return reply{answer: render(resp, resp.Result), requestID: rid}
}
