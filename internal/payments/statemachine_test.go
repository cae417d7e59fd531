package payments

import (
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
)

func TestDecideAuth(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	usd := func(n int64) *money.Money { return &money.Money{Minor: n, Currency: "USD"} }
	base := Payment{Amount: money.Money{Minor: 1000, Currency: "USD"}}
	with := func(s Status, mod ...func(*Payment)) Payment {
		p := base
		p.Status = s
		for _, m := range mod {
			m(&p)
		}
		return p
	}
	captured := func(p *Payment) { p.CapturedMinor = 500 }
	lapsed := func(p *Payment) { p.AuthExpiry = &past }
	valid := func(p *Payment) { p.AuthExpiry = &future }

	cases := []struct {
		name    string
		p       Payment
		f       AuthFact
		want    Status
		applied bool
		review  bool
	}{
		{"success authorizes", with(StatusProcessing), AuthFact{Outcome: AuthSucceeded}, StatusAuthorized, true, false},
		{"success after 3DS", with(StatusRequiresAction), AuthFact{Outcome: AuthSucceeded, Amount: usd(1000)}, StatusAuthorized, true, false},
		{"failure fails", with(StatusProcessing), AuthFact{Outcome: AuthFailed, Code: "DO_NOT_HONOR"}, StatusFailed, true, false},
		{"3DS url", with(StatusProcessing), AuthFact{Outcome: AuthAction}, StatusRequiresAction, true, false},
		{"unknown changes nothing", with(StatusProcessing), AuthFact{Outcome: AuthUnknown}, StatusProcessing, false, false},
		{"processing never overwrites final", with(StatusAuthorized), AuthFact{Outcome: AuthUnknown}, StatusAuthorized, false, false},
		{"late 3DS url is stale", with(StatusAuthorized), AuthFact{Outcome: AuthAction}, StatusAuthorized, false, false},
		{"duplicate success", with(StatusAuthorized), AuthFact{Outcome: AuthSucceeded}, StatusAuthorized, false, false},
		{"success on captured", with(StatusCaptured), AuthFact{Outcome: AuthSucceeded}, StatusCaptured, false, false},
		{"duplicate failure", with(StatusFailed), AuthFact{Outcome: AuthFailed}, StatusFailed, false, false},
		{"fail after success conflicts", with(StatusAuthorized), AuthFact{Outcome: AuthFailed}, StatusAuthorized, false, true},
		{"success after fail conflicts", with(StatusFailed), AuthFact{Outcome: AuthSucceeded}, StatusFailed, false, true},
		{"amount mismatch conflicts", with(StatusProcessing), AuthFact{Outcome: AuthSucceeded, Amount: usd(999)}, StatusProcessing, false, true},
		{"currency mismatch conflicts", with(StatusProcessing), AuthFact{Outcome: AuthSucceeded, Amount: &money.Money{Minor: 1000, Currency: "EUR"}}, StatusProcessing, false, true},
		{"cancelled voids", with(StatusAuthorized, valid), AuthFact{Outcome: AuthCancelled}, StatusCancelled, true, false},
		{"cancelled after expiry expires", with(StatusAuthorized, lapsed), AuthFact{Outcome: AuthCancelled}, StatusExpired, true, false},
		{"cancelled after capture conflicts", with(StatusAuthorized, captured), AuthFact{Outcome: AuthCancelled}, StatusAuthorized, false, true},
		{"cancelled twice", with(StatusCancelled), AuthFact{Outcome: AuthCancelled}, StatusCancelled, false, false},
	}
	for _, c := range cases {
		d := DecideAuth(c.p, c.f, now)
		if d.Status != c.want || d.Applied != c.applied || (d.Review != "") != c.review {
			t.Errorf("%s: got %+v, want status %s applied %v review %v", c.name, d, c.want, c.applied, c.review)
		}
		if !d.Applied && d.Status != c.p.Status {
			t.Errorf("%s: a fact not applied changed the status", c.name)
		}
	}
}

func TestDecideTx(t *testing.T) {
	amt := money.Money{Minor: 300, Currency: "USD"}
	other := money.Money{Minor: 301, Currency: "USD"}
	tx := func(s TxStatus) Transaction { return Transaction{Type: TxCapture, Amount: amt, Status: s} }
	cases := []struct {
		name    string
		t       Transaction
		f       TxFact
		want    TxStatus
		applied bool
		review  bool
	}{
		{"ok", tx(TxProcessing), TxFact{Outcome: TxOK, Amount: &amt}, TxSucceeded, true, false},
		{"fail", tx(TxProcessing), TxFact{Outcome: TxFail}, TxFailed, true, false},
		{"unknown", tx(TxProcessing), TxFact{Outcome: TxUnknown}, TxProcessing, false, false},
		{"dup ok", tx(TxSucceeded), TxFact{Outcome: TxOK}, TxSucceeded, false, false},
		{"dup fail", tx(TxFailed), TxFact{Outcome: TxFail}, TxFailed, false, false},
		{"fail after ok", tx(TxSucceeded), TxFact{Outcome: TxFail}, TxSucceeded, false, true},
		{"ok after fail", tx(TxFailed), TxFact{Outcome: TxOK}, TxFailed, false, true},
		{"unknown after ok", tx(TxSucceeded), TxFact{Outcome: TxUnknown}, TxSucceeded, false, false},
		{"amount differs", tx(TxProcessing), TxFact{Outcome: TxOK, Amount: &other}, TxProcessing, false, true},
	}
	for _, c := range cases {
		d := DecideTx(c.t, c.f)
		if d.Status != c.want || d.Applied != c.applied || (d.Review != "") != c.review {
			t.Errorf("%s: got %+v, want %s applied %v review %v", c.name, d, c.want, c.applied, c.review)
		}
	}
}

func TestDecideAmountProblemsAndLateSuccess(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := Payment{Amount: money.Money{Minor: 1000, Currency: "USD"}, Status: StatusRequiresAction}
	if d := DecideAuth(p, AuthFact{Outcome: AuthSucceeded, AmountProblem: "paymentAmount missing"}, now); d.Applied || d.Review == "" {
		t.Errorf("success without amount: %+v", d)
	}
	if d := DecideAuth(p, AuthFact{Outcome: AuthUnknown, AmountProblem: "paymentAmount missing"}, now); d.Applied || d.Review != "" {
		t.Errorf("non-final answer without amount: %+v", d)
	}
	closed := Payment{Amount: p.Amount, Status: StatusFailed, ResultCode: ResultNotReceived}
	if d := DecideAuth(closed, AuthFact{Outcome: AuthSucceeded}, now); !d.Applied || d.Status != StatusAuthorized || d.Review == "" {
		t.Errorf("success after NOT_RECEIVED_BY_APO: %+v", d)
	}
	tx := Transaction{Type: TxCapture, Amount: money.Money{Minor: 300, Currency: "USD"}, Status: TxProcessing}
	if d := DecideTx(tx, TxFact{Outcome: TxOK, AmountProblem: "captureAmount missing"}); d.Applied || d.Review == "" {
		t.Errorf("capture success without amount: %+v", d)
	}
	usd := func(n int64) money.Money { return money.Money{Minor: n, Currency: "USD"} }
	auth := Payment{Amount: usd(1000), CapturedMinor: 800, RefundedMinor: 700}
	for _, c := range []struct {
		typ  TxType
		amt  money.Money
		fits bool
	}{
		{TxCapture, usd(200), true}, {TxCapture, usd(201), false}, {TxCapture, money.Money{Minor: 1, Currency: "EUR"}, false},
		{TxRefund, usd(100), true}, {TxRefund, usd(101), false}, {TxCancel, usd(5000), true},
	} {
		if got := impossible(auth, c.typ, c.amt) == ""; got != c.fits {
			t.Errorf("%s %s fits=%v, want %v", c.typ, c.amt, got, c.fits)
		}
	}
}
