package recon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// checkFX compares a cross-currency line's settlement amount with its
// transaction amount converted at the line's quote, in exact rational
// arithmetic (math/big; no floats). Rounding to the settlement currency's
// minor unit may go either way, so the amount passes when its magnitude is
// the floor or the ceiling of the exact conversion, before or after the
// line's fee.
//
// The quote pair says the direction: "EUR/USD" 1.0845 means one EUR costs
// 1.0845 USD, so EUR amounts are multiplied and USD amounts divided. An
// empty pair is read as transaction → settlement (multiply). A pair naming
// other currencies is itself a mismatch. Pairs may be written "EUR/USD",
// "EUR-USD", "EUR_USD" or "EURUSD".
func checkFX(l fxLine) (Discrepancy, bool) {
	d := Discrepancy{Kind: FXMismatch, ReportKind: report.Kind(l.ReportKind), TransactionType: l.TransactionType,
		TransactionID: l.TransactionID, TransactionRequestID: l.TransactionRequestID,
		OriginalTransactionID: l.OriginalTransactionID, SettlementBatchID: l.SettlementBatchID,
		PaymentID: l.PaymentID, LedgerTransactionID: l.TxID, FileID: l.FileID, FileName: l.FileName, Line: l.LineNo,
		Report: report.Amount{Money: money.Money{Minor: l.SettleMinor, Currency: l.SettleCurrency}, Valid: true}}
	d.Fingerprint = strings.Join([]string{string(FXMismatch), l.ReportKind, l.TransactionType, l.TransactionID,
		l.TransactionRequestID}, "|")
	details := map[string]any{"quote_currency_pair": l.QuotePair, "quote_price": l.QuotePrice,
		"transaction_amount":   money.FormatMajor(money.Money{Minor: l.TxnMinor, Currency: l.TxnCurrency}),
		"transaction_currency": l.TxnCurrency}
	fail := func(reason string) (Discrepancy, bool) {
		details["reason"] = reason
		d.Details, _ = json.Marshal(details)
		return d, true
	}
	expT, errT := money.Exponent(l.TxnCurrency)
	expS, errS := money.Exponent(l.SettleCurrency)
	price, ok := new(big.Rat).SetString(l.QuotePrice)
	if errT != nil || errS != nil || !ok || price.Sign() <= 0 {
		return fail("quote or currencies cannot be used")
	}
	divide := false
	if l.QuotePair != "" {
		base, quote, ok := splitPair(l.QuotePair)
		switch {
		case ok && base == l.TxnCurrency && quote == l.SettleCurrency:
		case ok && base == l.SettleCurrency && quote == l.TxnCurrency:
			divide = true
		default:
			return fail(fmt.Sprintf("quote pair does not convert %s to %s", l.TxnCurrency, l.SettleCurrency))
		}
	}
	exact := new(big.Rat).SetFrac(new(big.Int).Abs(big.NewInt(l.TxnMinor)), pow10(expT))
	if divide {
		exact.Quo(exact, price)
	} else {
		exact.Mul(exact, price)
	}
	exact.Mul(exact, new(big.Rat).SetInt(pow10(expS))) // in settlement minor units
	floor := new(big.Int).Quo(exact.Num(), exact.Denom())
	ceil := new(big.Int).Set(floor)
	if !exact.IsInt() {
		ceil.Add(ceil, big.NewInt(1))
	}
	// The settlement amount may be written net of the line's fee (see
	// rollForward's conventions): the gross is then the net plus the fee
	// taken (a capture) or less the fee added (a refund).
	for _, fee := range []int64{0, abs(l.FeeMinor), -abs(l.FeeMinor)} {
		got := new(big.Int).Abs(big.NewInt(l.SettleMinor))
		got.Add(got, big.NewInt(fee))
		if got.Cmp(floor) == 0 || got.Cmp(ceil) == 0 {
			return Discrepancy{}, false
		}
	}
	// Ours is the conversion rounded half up: what we expected to be paid.
	half := new(big.Rat).Add(exact, big.NewRat(1, 2))
	expected := new(big.Int).Quo(half.Num(), half.Denom())
	if expected.IsInt64() {
		d.Ours = report.Amount{Money: money.Money{Minor: expected.Int64(), Currency: l.SettleCurrency}, Valid: true}
	}
	details["exact_settlement_minor"] = exact.FloatString(6)
	return fail("settlement amount is not the transaction amount at the quote, rounded")
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// splitPair reads a currency pair.
func splitPair(p string) (base, quote string, ok bool) {
	p = strings.ToUpper(strings.TrimSpace(p))
	for _, sep := range []string{"/", "-", "_", " "} {
		if b, q, found := strings.Cut(p, sep); found {
			return strings.TrimSpace(b), strings.TrimSpace(q), len(strings.TrimSpace(b)) == 3 && len(strings.TrimSpace(q)) == 3
		}
	}
	if len(p) == 6 {
		return p[:3], p[3:], true
	}
	return "", "", false
}

// contentHash summarises what a discrepancy says beyond its identity, so a
// later run can tell "same" from "changed".
func contentHash(d Discrepancy) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v|%s|%d|%v|%s|%d|", d.Ours.Valid, d.Ours.Currency, d.Ours.Minor, d.Report.Valid,
		d.Report.Currency, d.Report.Minor)
	h.Write(d.Details)
	return hex.EncodeToString(h.Sum(nil))[:32]
}
