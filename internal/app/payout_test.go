package app

import (
	"errors"
	"testing"
	"time"

	"github.com/payops/payops/internal/config"
)

func TestPayoutConfigFromEnvironment(t *testing.T) {
	pc, err := payoutConfig(config.Config{SettleDays: 2, PayoutDays: "eur:1, USD:3", PayoutHolidays: "2026-12-25",
		PayoutFeeTol: "EUR:500,USD:300", PayoutWindow: 4})
	if err != nil {
		t.Fatal(err)
	}
	xmas := time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC)
	if pc.Calendars["EUR"].Days != 1 || pc.Calendars["USD"].Days != 3 || pc.Default.Days != 2 ||
		!pc.Calendars["EUR"].Holidays[xmas] || !pc.Default.Holidays[xmas] {
		t.Errorf("calendars: %+v default %+v", pc.Calendars, pc.Default)
	}
	if pc.Tolerance["EUR"] != 500 || pc.Tolerance["USD"] != 300 || pc.WindowDays != 4 {
		t.Errorf("tolerance %v window %d", pc.Tolerance, pc.WindowDays)
	}
	for _, c := range []config.Config{{PayoutDays: "EUR"}, {PayoutDays: "XXX:1"}, {PayoutFeeTol: "EUR:-1"},
		{PayoutHolidays: "25.12.2026"}} {
		var ce *config.Error
		if _, err := payoutConfig(c); !errors.As(err, &ce) {
			t.Errorf("%+v: got %v, want a *config.Error", c, err)
		}
	}
}
