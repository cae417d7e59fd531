package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payops/payops/internal/postgres"
)

// StuckAfter is how long an event may stay PENDING before a person should
// look at it: twice the patience given to a notification about a payment
// not known yet, after which processing has either finished or given up.
const StuckAfter = 2 * unknownPaymentPatience

// ListAttention returns, newest first and keyset paginated, the stored
// notifications a person should look at: FAILED ones (processing gave up;
// replay them once the cause is fixed), IGNORED ones (a signature that did
// not verify, or nothing here handles them) and those still PENDING after
// StuckAfter (the queue lost them, or keeps failing). f.State is ignored;
// its other fields filter as for List.
func (s *Service) ListAttention(ctx context.Context, f Filter) (Page, error) {
	return NewStore(s.db).ListAttention(ctx, f, s.now().Add(-StuckAfter))
}

// ListAttention is List over the events needing a person: FAILED, IGNORED,
// or PENDING since before stuckBefore. (Its SQL is here, beside the
// console's need, rather than in store.go, whose List it mirrors.)
func (s *Store) ListAttention(ctx context.Context, f Filter, stuckBefore time.Time) (Page, error) {
	k := postgres.Keyset{From: `SELECT ` + webhookColumns + ` FROM webhook_events`, TimeColumn: "received_at"}
	k.Where("(state IN ('FAILED', 'IGNORED') OR (state = 'PENDING' AND received_at < ?))", stuckBefore.UTC())
	if f.NotifyType != "" {
		k.Where("notify_type = ?", f.NotifyType)
	}
	if f.Verdict != "" {
		k.Where("verdict = ?", f.Verdict)
	}
	if f.PaymentID != "" {
		if !postgres.IsUUID(f.PaymentID) {
			return Page{}, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
		}
		k.Where("payment_id = ?", f.PaymentID)
	}
	items, next, err := postgres.KeysetPage(ctx, s.db, k, f.Cursor, postgres.PageLimit(f.Limit), webhookRow.event,
		func(x Event) (time.Time, string) { return x.ReceivedAt, x.ID })
	if errors.Is(err, postgres.ErrBadCursor) {
		return Page{}, &InvalidError{Field: "cursor", Reason: "not a cursor this API issued"}
	}
	if err != nil {
		return Page{}, fmt.Errorf("list webhooks needing attention: %w", err)
	}
	return Page{Items: items, Next: next}, nil
}
