package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// The /sandbox/... control endpoints are not APO's: they let tests and
// demos play the issuer, the buyer and the acquirer. They answer plain
// JSON, with {"error": "..."} and a fitting HTTP status on failure.

// maxControlBody bounds a control request body.
const maxControlBody = 1 << 20

// readControl decodes a JSON control body into v; an empty body leaves v
// as it is. It answers 400 itself and returns false on failure.
func readControl(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil || len(raw) > maxControlBody {
		writeError(w, http.StatusBadRequest, "the body could not be read or is too large")
		return false
	}
	if len(raw) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// writeError answers a control request with a JSON error.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// writeErr maps the sandbox's errors to HTTP statuses.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrState):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// disputeView returns a copy of a dispute for a control answer.
func (s *Server) disputeView(id string) dispute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.st.disputes[id]
}

// handleOpenDispute serves POST /sandbox/disputes
// {"paymentId", "amount"?: {currency, value}, "reasonCode"?, "type"?}.
func (s *Server) handleOpenDispute(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PaymentID string `json:"paymentId"`
		DisputeOptions
	}
	if !readControl(w, r, &in) {
		return
	}
	if in.PaymentID == "" {
		writeError(w, http.StatusBadRequest, "paymentId is required")
		return
	}
	id, err := s.OpenDisputeWith(in.PaymentID, in.DisputeOptions)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(s.disputeView(id))
}

// handleJudgeDispute serves POST /sandbox/disputes/{disputeId}/judge
// {"result": "ACCEPT_BY_CUSTOMER"|…, "amount"?: {currency, value}}.
func (s *Server) handleJudgeDispute(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Result string  `json:"result"`
		Amount *Amount `json:"amount"`
	}
	if !readControl(w, r, &in) {
		return
	}
	id := r.PathValue("disputeId")
	if err := s.JudgeDispute(id, in.Result, in.Amount); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, s.disputeView(id))
}

// handleCancelDispute serves POST /sandbox/disputes/{disputeId}/cancel.
func (s *Server) handleCancelDispute(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("disputeId")
	if err := s.CancelDispute(id); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, s.disputeView(id))
}

// fileWriter serves a control endpoint that writes files (reports, bank
// statements): the JSON body is write's request, its result the answer;
// 409 when the sandbox has no directory to write into.
func fileWriter[Req, Res any](write func(Req) (Res, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !readControl(w, r, &req) {
			return
		}
		res, err := write(req)
		switch {
		case errors.Is(err, ErrState):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeErr(w, err)
		default:
			writeJSON(w, res)
		}
	}
}
