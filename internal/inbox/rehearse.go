package inbox

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
)

// Rehearse runs on tx, for a made-up notification, what the api's intake
// and the worker's processing run: the intake's insert (unprepared: Warm
// holds every pooled connection, so none is free to prepare it on), then
// the read and the mark of processing. See payments.Service.Rehearse for why;
// the caller rolls tx back, so nothing of it is kept.
func (s *Service) Rehearse(ctx context.Context, tx *sqlx.Tx) error {
	now := s.now().UTC()
	ev := Event{ID: uuid.Must(uuid.NewV7()).String(), NotifyType: apo.NotifyPaymentResult, RawBody: []byte(`{}`),
		Headers: http.Header{}, RequestURI: "/webhooks/apo", Verdict: "valid", State: Pending, ReceivedAt: now}
	ev.DedupeKey = "rehearsal|" + ev.ID
	insert := func(ctx context.Context, dest any, args ...any) error {
		return tx.SelectContext(ctx, dest, insertWebhooks, args...)
	}
	if _, err := insertWebhookRows(ctx, insert, []Event{ev}, map[string]int{ev.DedupeKey: 1}); err != nil {
		return fmt.Errorf("rehearse intake: %w", err)
	}
	st := NewStore(tx)
	if _, err := st.Get(ctx, ev.ID); err != nil {
		return fmt.Errorf("rehearse processing: %w", err)
	}
	if err := st.Mark(ctx, ev.ID, Processed, "", "", now); err != nil {
		return fmt.Errorf("rehearse processing: %w", err)
	}
	return nil
}
