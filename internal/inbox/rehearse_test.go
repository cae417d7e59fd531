package inbox_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestRehearsalsRunThePathsAndKeepNothing: inside their transaction, the
// rehearsals of pay (as the api and the worker apply its answer) and of a
// notification's intake and processing write what those paths write; once
// it is rolled back, as postgres.Warm does, none of it is left.
func TestRehearsalsRunThePathsAndKeepNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pay := payments.NewService(db, nil, nil, log, "http://127.0.0.1:1")
	in := inbox.NewService(db, nil, pay, nil, nil, log)

	const counts = `SELECT
		(SELECT count(*) FROM payments WHERE status = 'AUTHORIZED'),
		(SELECT count(*) FROM payment_transactions WHERE status = 'SUCCEEDED'),
		(SELECT count(*) FROM payment_events),
		(SELECT count(*) FROM apo_calls),
		(SELECT count(*) FROM audit_log WHERE action = 'payment.create'),
		(SELECT count(*) FROM webhook_events WHERE state = 'PROCESSED')`
	var got [6]int
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if err := pay.Rehearse(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := in.Rehearse(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, counts).Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5]); err != nil {
		t.Fatal(err)
	}
	// created, the pay answer applied, the notification's duplicate.
	if want := [6]int{1, 1, 3, 1, 1, 1}; got != want {
		t.Fatalf("inside the rehearsal: authorized payments, settled transactions, events, apo calls, audit rows, processed notifications = %v; want %v", got, want)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, counts).Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5]); err != nil {
		t.Fatal(err)
	}
	if got != [6]int{} {
		t.Fatalf("after rollback: %v rows left", got)
	}
}
