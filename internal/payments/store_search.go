package payments

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// This file holds the SQL of payment investigation (the console): the
// search conditions of List and Export, Export's batched read, and the
// counts of the Today summary. Migration 00047 adds the indexes they need.

// whereSearch adds the investigation filters to k.
func (f Filter) whereSearch(k *postgres.Keyset) {
	if f.OrderIDContains != "" {
		// Served by the trigram index payments_order_trgm_idx.
		k.Where(`reference_order_id ILIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(f.OrderIDContains)+"%")
	}
	if f.BuyerEmail != "" {
		k.Where("lower(buyer_email) = lower(?)", f.BuyerEmail)
	}
	if f.BuyerReference != "" {
		k.Where("buyer_reference = ?", f.BuyerReference)
	}
	if f.Currency != "" {
		k.Where("currency = ?", f.Currency)
	}
	if f.AmountMin > 0 {
		k.Where("amount_minor >= ?", f.AmountMin)
	}
	if f.AmountMax > 0 {
		k.Where("amount_minor <= ?", f.AmountMax)
	}
}

// likeEscaper makes text match itself in a LIKE pattern: an order id
// holding % or _ is searched for literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Each calls fn with every payment f selects (its Cursor and Limit are
// ignored), newest first, reading batch (> 0) rows per query, and stops at
// fn's first error or when ctx is done. Each batch is its own statement, after the last key of the
// one before: no transaction stays open for the whole read (holding back
// vacuum on a busy table), and since a payment's (created_at, id) never
// changes, each one that exists throughout is read exactly once.
func (s *Store) Each(ctx context.Context, f Filter, batch int, fn func(Payment) error) error {
	k := f.keyset()
	cursor := ""
	for {
		items, next, err := s.page(ctx, k, cursor, batch)
		if err != nil {
			return fmt.Errorf("read payments: %w", err)
		}
		for _, p := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// counts is what Summary reads, in one statement so that its figures come
// from one snapshot: payments created in [from, to) by status, payments
// needing review, and AUTHORIZED payments whose authorization lapses in
// [to, lapseBefore). Each part is an index scan: payments_created_idx,
// the partial payments_review_idx and payments_auth_expiry_idx.
func (s *Store) counts(ctx context.Context, from, to, lapseBefore time.Time) (Summary, error) {
	const q = `
		SELECT 'created' AS kind, status, count(*) AS n FROM payments
		WHERE created_at >= $1 AND created_at < $2 GROUP BY status
		UNION ALL
		SELECT 'review', '', count(*) FROM payments WHERE needs_review
		UNION ALL
		SELECT 'expiring', '', count(*) FROM payments
		WHERE status = 'AUTHORIZED' AND auth_expiry_time >= $2 AND auth_expiry_time < $3`
	var rows []struct {
		Kind   string `db:"kind"`
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, from, to, lapseBefore); err != nil {
		return Summary{}, fmt.Errorf("count payments: %w", err)
	}
	sum := Summary{From: from, To: to, ExpiringBefore: lapseBefore, Created: make(map[Status]int, len(Statuses))}
	for _, st := range Statuses {
		sum.Created[st] = 0
	}
	for _, r := range rows {
		switch r.Kind {
		case "created":
			sum.Created[Status(r.Status)] = r.N
		case "review":
			sum.NeedsReview = r.N
		case "expiring":
			sum.Expiring = r.N
		}
	}
	return sum, nil
}
