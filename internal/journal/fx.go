package journal

import (
	"math/big"
	"strings"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon"
)

// converter converts a cross-currency line's transaction amount into
// settlement minor units at the line's own quote, exactly: integers in
// math/big, no floats. Its numbers are reused from line to line, so a
// million lines cost no garbage beyond what big.Int keeps.
type converter struct {
	num, den, q, r, mant, pow big.Int
}

// ten is the base of decimal scales.
var ten = big.NewInt(10)

// convert returns principal's amount at the line's quote, signed like
// principal: |transaction amount| × quote, rounded half away from zero to
// the settlement currency's minor unit. ok is false for a line with no
// cross-currency transaction amount, no quote, or a quote pair that does
// not name its two currencies (recon reports that as FX_MISMATCH); such a
// line is booked as settled.
//
// The pair says the direction, as in recon: "EUR/USD" 1.0845 is the price
// of one EUR in USD, so EUR amounts are multiplied and USD amounts divided;
// an empty pair is read as transaction → settlement.
func (c *converter) convert(l *recon.BatchLine, principal int64) (int64, bool) {
	t := l.Transaction
	if !t.Valid || t.Minor == 0 || t.Currency == l.Currency || l.QuotePrice == "" {
		return 0, false
	}
	expT, errT := money.Exponent(t.Currency)
	expS, errS := money.Exponent(l.Currency)
	if errT != nil || errS != nil {
		return 0, false
	}
	divide := false
	if l.QuotePair != "" {
		base, quote, ok := splitPair(l.QuotePair)
		switch {
		case ok && base == t.Currency && quote == l.Currency:
		case ok && base == l.Currency && quote == t.Currency:
			divide = true
		default:
			return 0, false
		}
	}
	whole, frac, _ := strings.Cut(l.QuotePrice, ".")
	if _, ok := c.mant.SetString(whole+frac, 10); !ok || c.mant.Sign() <= 0 {
		return 0, false
	}
	// |t| × 10^expS / 10^expT, times the price mant / 10^len(frac) (or
	// divided by it).
	c.num.SetInt64(abs(t.Minor))
	c.num.Mul(&c.num, c.pow.Exp(ten, big.NewInt(int64(expS)), nil))
	c.den.Exp(ten, big.NewInt(int64(expT)), nil)
	c.pow.Exp(ten, big.NewInt(int64(len(frac))), nil)
	if divide {
		c.num.Mul(&c.num, &c.pow)
		c.den.Mul(&c.den, &c.mant)
	} else {
		c.num.Mul(&c.num, &c.mant)
		c.den.Mul(&c.den, &c.pow)
	}
	c.q.QuoRem(&c.num, &c.den, &c.r)
	if c.r.Lsh(&c.r, 1).Cmp(&c.den) >= 0 {
		c.q.Add(&c.q, big.NewInt(1))
	}
	if !c.q.IsInt64() {
		return 0, false
	}
	if principal < 0 {
		return -c.q.Int64(), true
	}
	return c.q.Int64(), true
}

// splitPair reads a currency pair written "EUR/USD", "EUR-USD", "EUR_USD",
// "EUR USD" or "EURUSD", the forms recon's FX check accepts.
func splitPair(p string) (base, quote string, ok bool) {
	p = strings.ToUpper(strings.TrimSpace(p))
	for _, sep := range []string{"/", "-", "_", " "} {
		if b, q, found := strings.Cut(p, sep); found {
			b, q = strings.TrimSpace(b), strings.TrimSpace(q)
			return b, q, len(b) == 3 && len(q) == 3
		}
	}
	if len(p) == 6 {
		return p[:3], p[3:], true
	}
	return "", "", false
}
