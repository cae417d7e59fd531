package apo

import (
	"errors"
	"strconv"
	"strings"
)

// Outcome is what a call tells us about the operation it asked for.
type Outcome int

// The zero Outcome is OutcomeUnknown, so an Error nobody classified is never
// mistaken for a success or a final failure.
const (
	// OutcomeUnknown: APO answered U, or we could not learn the answer
	// (timeout, connection error, non-200 status, missing or bad reply
	// signature, undecodable body). The operation may or may not have
	// happened; find out by inquiry, or repeat it with the same request id.
	OutcomeUnknown Outcome = iota
	// OutcomeSuccess: APO answered S.
	OutcomeSuccess
	// OutcomeFailed: APO answered F. Final: repeating the same request id
	// returns the same failure.
	OutcomeFailed
)

// String returns APO's letter for the outcome: "S", "F" or "U".
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "S"
	case OutcomeFailed:
		return "F"
	}
	return "U"
}

// Error is a call that did not end in result S. Outcome says whether it is a
// final failure (F) or unknown (U, or no verifiable answer at all).
//
// When APO's reply was verified and decoded, Result holds its result block,
// and the method that returned the Error has also returned the decoded
// response: a pay answered U PAYMENT_IN_PROCESS carries normalUrl there.
// Otherwise Result is zero and Err says what went wrong (it may wrap
// ErrSignature, context.DeadlineExceeded or a *url.Error). No field ever
// holds card data or key material.
type Error struct {
	API        string  // operation, e.g. "pay"
	HTTPStatus int     // 0 when no HTTP reply arrived
	Outcome    Outcome // OutcomeFailed or OutcomeUnknown
	Result     Result  // from a verified reply; zero otherwise
	Err        error   // cause when there is no verified result; nil otherwise
}

// Error describes the failure without any request data.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("apo ")
	b.WriteString(e.API)
	b.WriteString(": ")
	if e.Result.ResultStatus != "" || e.Result.ResultCode != "" {
		b.WriteString(e.Outcome.String())
		b.WriteString(" ")
		b.WriteString(e.Result.ResultCode)
		if e.Result.ResultMessage != "" {
			b.WriteString(": ")
			// APO's message is free text; mask anything that looks like a
			// card number in case it echoes the request.
			b.WriteString(scrubPANs(e.Result.ResultMessage))
		}
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
		return b.String()
	}
	b.WriteString("outcome unknown")
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		b.WriteString(" (http ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is(err, ErrSignature) and
// errors.Is(err, context.DeadlineExceeded) work.
func (e *Error) Unwrap() error { return e.Err }

// OutcomeOf classifies the error a Client method returned: nil is
// OutcomeSuccess, an *Error carries its own Outcome, and any other error is
// OutcomeUnknown (we cannot tell whether APO acted).
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeSuccess
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Outcome
	}
	return OutcomeUnknown
}

// IsFinalFailure reports whether APO definitively refused the operation
// (result F). For inquiries it means the inquiry itself was refused (e.g.
// ORDER_NOT_EXIST), not that the payment failed.
func IsFinalFailure(err error) bool { return OutcomeOf(err) == OutcomeFailed }

// IsUnknown reports whether err leaves the outcome unknown: find out by
// inquiry, or repeat the call with the same request id.
func IsUnknown(err error) bool { return err != nil && OutcomeOf(err) == OutcomeUnknown }
