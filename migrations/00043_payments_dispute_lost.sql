-- +goose Up
-- payments.disputed_minor meant "lost to disputes" while the API called it
-- disputed_amount, so an OPEN dispute showed 0 (issue 14 item 16). From now
-- on disputed_minor is the amount under dispute (the payment's unresolved
-- disputes: OPEN, DEFENSE_SUPPLIED, EXPIRED_UNDEFENDED) and
-- dispute_lost_minor what accepted and lost disputes took; refunds are held
-- to captured - lost. Both are capped at captured, in the payment's currency.
ALTER TABLE payments ADD COLUMN dispute_lost_minor bigint NOT NULL DEFAULT 0 CHECK (dispute_lost_minor >= 0);
UPDATE payments SET dispute_lost_minor = disputed_minor WHERE disputed_minor > 0;
UPDATE payments p SET disputed_minor = LEAST(p.captured_minor, o.total)
FROM (SELECT payment_id, currency, sum(amount_minor) AS total FROM disputes
      WHERE payment_id IS NOT NULL AND status IN ('OPEN', 'DEFENSE_SUPPLIED', 'EXPIRED_UNDEFENDED')
      GROUP BY payment_id, currency) o
WHERE o.payment_id = p.id AND o.currency = p.currency;
UPDATE payments SET disputed_minor = 0
WHERE disputed_minor > 0 AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.payment_id = payments.id
      AND d.currency = payments.currency AND d.status IN ('OPEN', 'DEFENSE_SUPPLIED', 'EXPIRED_UNDEFENDED'));

-- +goose Down
UPDATE payments SET disputed_minor = dispute_lost_minor;
ALTER TABLE payments DROP COLUMN dispute_lost_minor;
