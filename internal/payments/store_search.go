package payments

import (
	"strings"

	"github.com/payops/payops/internal/postgres"
)

// This file holds the SQL of payment investigation (the console): the
// search conditions of List. Migration 00047 adds the indexes they need.

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
