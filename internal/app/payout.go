package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
)

// payoutConfig maps the process configuration onto payout's: the payout
// calendars (PAYOUT_DAYS per currency, recon's RECON_SETTLEMENT_DAYS for
// the others, PAYOUT_HOLIDAYS shared), the fee tolerance per currency
// (PAYOUT_FEE_TOLERANCE) and the amount-matching window.
func payoutConfig(c config.Config) (payout.Config, error) {
	holidays := map[time.Time]bool{}
	for _, s := range splitList(c.PayoutHolidays) {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return payout.Config{}, &config.Error{Var: "PAYOUT_HOLIDAYS", Value: c.PayoutHolidays, Reason: "want dates YYYY-MM-DD separated by commas"}
		}
		holidays[d] = true
	}
	pc := payout.Config{Default: recon.Calendar{Days: c.SettleDays, Holidays: holidays},
		Calendars: map[string]recon.Calendar{}, Tolerance: map[string]int64{}, WindowDays: c.PayoutWindow}
	days, err := perCurrency("PAYOUT_DAYS", c.PayoutDays, 30)
	if err != nil {
		return payout.Config{}, err
	}
	for ccy, n := range days {
		pc.Calendars[ccy] = recon.Calendar{Days: int(n), Holidays: holidays}
	}
	if pc.Tolerance, err = perCurrency("PAYOUT_FEE_TOLERANCE", c.PayoutFeeTol, 1<<40); err != nil {
		return payout.Config{}, err
	}
	return pc, nil
}

// perCurrency reads "EUR:2,USD:1": a known currency and a number from 0 to
// hi each.
func perCurrency(name, v string, hi int64) (map[string]int64, error) {
	out := map[string]int64{}
	for _, item := range splitList(v) {
		ccy, num, ok := strings.Cut(item, ":")
		ccy = strings.ToUpper(strings.TrimSpace(ccy))
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if !ok || err != nil || !money.Known(ccy) || n < 0 || n > hi {
			return nil, &config.Error{Var: name, Value: v,
				Reason: fmt.Sprintf("want CCY:N pairs separated by commas, N from 0 to %d (bad %q)", hi, item)}
		}
		out[ccy] = n
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
