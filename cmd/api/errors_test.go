package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// TestOneErrorMapping pins the api's one mapping from errors to problems:
// each domain's errors keep their status and detail, wrapped or not, and
// everything unknown is the same bare 500, logged.
func TestOneErrorMapping(t *testing.T) {
	t.Parallel()
	body, query := at{in: "body"}, at{in: "query", what: "run"}
	for _, tc := range []struct {
		err    error
		where  at
		status int
		detail string
		loc    string // of the first error detail, if any
	}{
		{payments.ErrNotFound, body, 404, "payment not found", ""},
		{fmt.Errorf("get: %w", payments.ErrDuplicate), body, 409, "a payment with this request id already exists", ""},
		{&payments.InvalidError{Field: "amount", Reason: "too big"}, body, 422, "validation failed", "amount"},
		{&payments.ConflictError{Rule: "cannot cancel after capture"}, body, 409, "cannot cancel after capture", ""},
		{&apo.Error{Outcome: apo.OutcomeUnknown}, body, 503, "APO unavailable, try again", ""},
		{auth.ErrNotFound, body, 404, "api key not found", ""},
		{audit.ErrBadCursor, body, 422, "cursor: not a next_cursor from a previous page", ""},
		{disputes.ErrNotFound, body, 404, "dispute not found", ""},
		{&disputes.InvalidError{Field: "reason", Reason: "required"}, body, 422, "", "body.reason"},
		{&disputes.InvalidError{Field: "cursor", Reason: "bad"}, at{in: "query"}, 422, "invalid query parameter cursor", "query.cursor"},
		{&disputes.RejectedError{API: "acceptDispute", Code: "TIME_EXCEEDS_LIMIT"}, body, 409, "", "apo.resultCode"},
		{fmt.Errorf("accept: %w", disputes.ErrOutcomeUnknown), body, 503, "APO's answer is unknown; retry the same request (it is safe)", ""},
		{recon.ErrNotFound, query, 404, "run not found", ""},
		{&recon.InvalidError{Field: "cursor", Reason: "bad"}, query, 422, "", "query.cursor"},
		{&recon.ConflictError{Rule: "a run of this period is in progress"}, body, 409, "a run of this period is in progress", ""},
		{fmt.Errorf("get: %w", bank.ErrNotFound), at{in: "path", what: "bank account"}, 404, "bank account not found", ""},
		{&bank.InvalidError{Field: "iban", Reason: "not a valid IBAN"}, body, 422, "iban: not a valid IBAN", "body.iban"},
		{&bank.ConflictError{Rule: "a bank account with this IBAN or number is already configured"}, body, 409, "a bank account with this IBAN or number is already configured", ""},
		{&bank.RefusedError{File: "a.sta", Reason: "1 bad line(s): nothing of the file was stored", Lines: []*statement.LineError{
			{File: "a.sta", Line: 7, Field: ":61:", Reason: "amount is not a decimal"}}}, body, 422, "", "a.sta:7"},
		{&bank.RefusedError{File: "a.xml", Reason: "the file holds no statement", Err: statement.ErrFormat}, body, 422, "", "a.xml"},
		{&httpx.TooLargeError{Limit: 10}, body, 413, "the upload is larger than 10 bytes", ""},
		{&httpx.UploadError{Detail: "too many files", Location: "body.file[50]", Message: "at most 50"}, body, 422, "too many files", "body.file[50]"},
		{huma.Error409Conflict("run 7 is RUNNING"), body, 409, "run 7 is RUNNING", ""},
		{&httpx.SpoolError{Err: errors.New("disk full")}, body, 500, "", ""},
		{errors.New("pq: connection refused to 10.0.0.7"), body, 500, "", ""},
	} {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		err := httpErrorAt(context.Background(), log, tc.err, tc.where)
		var m *huma.ErrorModel
		if !errors.As(err, &m) {
			t.Errorf("%v: %T is not a problem", tc.err, err)
			continue
		}
		if m.Status != tc.status || (tc.detail != "" && m.Detail != tc.detail) {
			t.Errorf("%v: %d %q, want %d %q", tc.err, m.Status, m.Detail, tc.status, tc.detail)
		}
		if tc.loc != "" && (len(m.Errors) == 0 || m.Errors[0].Location != tc.loc) {
			t.Errorf("%v: errors %+v, want location %s", tc.err, m.Errors, tc.loc)
		}
		if tc.status == http.StatusInternalServerError {
			if m.Detail != "" || len(m.Errors) != 0 || m.Title != "Internal Server Error" {
				t.Errorf("%v: 500 is not bare: %+v", tc.err, m)
			}
			if !strings.Contains(logs.String(), "request failed") {
				t.Errorf("%v: 500 not logged", tc.err)
			}
		}
	}
}

func TestAuditOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, audit.OutcomeSucceeded},
		{payments.ErrNotFound, audit.OutcomeRejected},
		{&payments.ConflictError{Rule: "x"}, audit.OutcomeRejected},
		{payments.ErrDuplicate, audit.OutcomeFailed},
		{fmt.Errorf("accept: %w", disputes.ErrNotFound), audit.OutcomeRejected},
		{&disputes.RejectedError{Code: "TIME_EXCEEDS_LIMIT"}, audit.OutcomeFailed},
		{disputes.ErrOutcomeUnknown, audit.OutcomeFailed},
		{&recon.InvalidError{Field: "f"}, audit.OutcomeRejected},
		{fmt.Errorf("ingest: %w", &bank.RefusedError{Err: bank.ErrUnknownAccount}), audit.OutcomeRejected},
		{&bank.ConflictError{}, audit.OutcomeRejected},
		{&httpx.UploadError{}, audit.OutcomeRejected},
		{&httpx.TooLargeError{}, audit.OutcomeRejected},
		{&httpx.SpoolError{Err: errors.New("disk full")}, audit.OutcomeFailed},
		{huma.Error422UnprocessableEntity("invalid date"), audit.OutcomeRejected},
		{huma.Error503ServiceUnavailable("later"), audit.OutcomeFailed},
		{errors.New("database down"), audit.OutcomeFailed},
	} {
		if got := auditOutcome(tc.err); got != tc.want {
			t.Errorf("auditOutcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
