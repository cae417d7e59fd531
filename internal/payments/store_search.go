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

// The orders of List and Export (Filter.Sort).
const (
	SortCreated = "created" // newest first by default
	SortAmount  = "amount"  // amount_minor, whatever the currency; largest first by default
	SortStatus  = "status"  // by status name; A to Z by default
)

// Sorts are the orders Filter.Sort may name, the default first.
var Sorts = []string{SortCreated, SortAmount, SortStatus}

// sorts are the keys of Sorts. Ties are broken by id, a UUIDv7, so
// payments of one amount or status list in creation order. Each is read
// off an index at any depth: payments_created_idx, and migration 00059's
// payments_amount_id_idx and payments_status_id_idx.
var sorts = map[string]struct {
	key   string
	typ   postgres.KeyType
	desc  bool // the default direction
	value func(Payment) any
}{
	SortCreated: {"created_at", postgres.KeyTime, true, func(p Payment) any { return p.CreatedAt }},
	SortAmount:  {"amount_minor", postgres.KeyInt, true, func(p Payment) any { return p.Amount.Minor }},
	SortStatus:  {"status", postgres.KeyText, false, func(p Payment) any { return string(p.Status) }},
}

// DefaultDir is the direction, "asc" or "desc", of sort when Filter.Dir is
// empty: newest, largest first; statuses A to Z.
func DefaultDir(sort string) string {
	if sorts[sort].desc || sort == "" {
		return "desc"
	}
	return "asc"
}

func (f Filter) sort() string {
	if f.Sort == "" {
		return SortCreated
	}
	return f.Sort
}

func (f Filter) desc() bool {
	if f.Dir == "" {
		return sorts[f.sort()].desc
	}
	return f.Dir == "desc"
}

// likeEscaper makes text match itself in a LIKE pattern: an order id
// holding % or _ is searched for literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Each calls fn with every payment f selects (its Cursor and Limit are
// ignored), in f's order, reading batch (> 0) rows per query, and stops at
// fn's first error or when ctx is done. Each batch is its own statement, after the last key of the
// one before: no transaction stays open for the whole read (holding back
// vacuum on a busy table), and since a payment's created_at, amount and id
// never change, each one that exists throughout is read exactly once. By
// status, a payment whose status changes while the read passes may be read
// twice or not at all, as a page of the list may show it twice or miss it.
func (s *Store) Each(ctx context.Context, f Filter, batch int, fn func(Payment) error) error {
	k := f.keyset()
	cursor := ""
	for {
		items, next, err := s.page(ctx, f, k, cursor, batch)
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
