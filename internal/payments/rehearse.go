package payments

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/money"
)

// Rehearse runs on tx, against a made-up payment, the statements of a pay
// and of applying its answer twice: as the api applies pay's reply (with
// its apo_calls and audit rows) and as the worker applies the same
// PAYMENT_RESULT. A fresh PostgreSQL connection pays a one-off cost the
// first time it runs them (catalog and index entries, the foreign-key
// checks' plans, the pg_trgm library); planning alone (postgres.Warm's
// EXPLAINs) does not pay it. Rehearsing at start-up, before readiness,
// keeps that cost off the first buyers' pays. The caller rolls tx back:
// nothing of it is kept.
func (s *Service) Rehearse(ctx context.Context, tx *sqlx.Tx) error {
	now := s.now().UTC()
	id := uuid.Must(uuid.NewV7()).String()
	p := Payment{ID: id, PaymentRequestID: "pay-" + id, ReferenceOrderID: "rehearsal-" + id,
		Amount: money.Money{Minor: 100, Currency: "USD"}, CaptureMode: CaptureManual, Status: StatusProcessing,
		Card: Card{Brand: "VISA", BIN: "400000", Last4: "0000", Masked: "400000******0000"}, CreatedBy: "rehearsal",
		Version: 1, CreatedAt: now, UpdatedAt: now}
	st := NewStore(tx)
	if err := st.Create(ctx, p); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	if err := st.CreateTx(ctx, Transaction{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: id, Type: TxAuthorization,
		RequestID: p.PaymentRequestID, Amount: p.Amount, Status: TxProcessing, Actor: p.CreatedBy,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	if _, err := st.AddEvent(ctx, Event{PaymentID: id, Source: SourceAPI, Kind: "created",
		StatusAfter: string(StatusProcessing), Applied: true, CreatedAt: now}, "api|created"); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	d := authDetails{APOPaymentID: "rehearsal-" + id}
	answer := AuthFact{Source: SourcePayResponse, Kind: "pay", Outcome: AuthSucceeded, Code: "SUCCESS", Message: "Success."}
	if _, err := s.applyAuthIn(ctx, st, id, answer, d); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	call := &heldCall{rec: apo.CallRecord{API: "pay", RequestID: p.PaymentRequestID, Request: []byte(`{}`), Response: []byte(`{}`), HTTPStatus: 200, Outcome: "S",
		ResultCode: "SUCCESS"}, at: now, held: true}
	if err := call.insert(ctx, tx); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	if err := audit.NewStore(tx).Record(ctx, audit.Entry{Actor: p.CreatedBy, Action: "payment.create", Target: id,
		Outcome: audit.OutcomeSucceeded}); err != nil {
		return fmt.Errorf("rehearse pay: %w", err)
	}
	found, err := s.findPayment(ctx, st, p.PaymentRequestID, d.APOPaymentID)
	if err != nil {
		return fmt.Errorf("rehearse notification: %w", err)
	}
	answer.Source, answer.Kind = SourceNotification, apo.NotifyPaymentResult
	if _, err := s.applyAuthIn(ctx, st, found.ID, answer, d); err != nil {
		return fmt.Errorf("rehearse notification: %w", err)
	}
	return nil
}
