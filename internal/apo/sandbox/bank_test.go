package sandbox

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/bank/statement"
)

// bankWeek pays, Monday 2026-11-23 to Saturday 11-28, USD through all
// three acquirers and EUR through two, writes each day's reports and
// returns every batch's payout as its summary's TOTAL row says.
func bankWeek(t *testing.T, e *testEnv) map[string]int64 {
	t.Helper()
	payout := map[string]int64{}
	for d := range 6 {
		for i, c := range []struct{ pan, ccy string }{{cardAlipay, "USD"}, {cardCheckout, "USD"}, {cardAdyen, "USD"},
			{cardAlipay2, "EUR"}, {cardAdyen2, "EUR"}} {
			req := payReq(fmt.Sprintf("bank-%d-%d", d, i), c.pan)
			v := strconv.Itoa(10000 + 137*d + 1009*i)
			set(req, "paymentAmount", amount(c.ccy, v))
			set(req, "order.orderAmount", amount(c.ccy, v))
			set(req, "paymentFactor.captureMode", "AUTOMATIC")
			e.mustPay(req, "S")
		}
		day := start.AddDate(0, 0, d).Format(dayLayout)
		res, err := e.srv.WriteReports(ReportRequest{Date: day})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Files {
			if f.Kind != KindSettlementSummary {
				continue
			}
			total := byType(readSheet(t, f.Path))["TOTAL"].get("settlementAmountValue")
			n, err := strconv.ParseInt(strings.Replace(total, ".", "", 1), 10, 64)
			if err != nil {
				t.Fatalf("%s: TOTAL %q", f.Name, total)
			}
			payout[f.BatchID] = n
		}
		e.clock.Advance(24 * time.Hour)
	}
	if len(payout) != 6*5 {
		t.Fatalf("%d batches, want 30: %v", len(payout), payout)
	}
	return payout
}

// parseStatements reads every file of res with payops' own readers.
func parseStatements(t *testing.T, res *BankStatementResult) []statement.Statement {
	t.Helper()
	var all []statement.Statement
	for _, f := range res.Statements {
		r, err := os.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		var got []statement.Statement
		if res.Format == BankFormatMT940 {
			got, err = statement.ParseMT940(f.Name, r, statement.Limits{})
		} else {
			got, err = statement.ParseCamt053(f.Name, r, statement.Limits{})
		}
		_ = r.Close()
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d statements, %v", f.Name, len(got), err)
		}
		s := got[0]
		day, _ := time.Parse(dayLayout, f.Date)
		if s.Account.IBAN != f.IBAN || s.Currency != f.Currency || !s.FromDate.Equal(day) || !s.ToDate.Equal(day) ||
			s.OpeningBalance.Minor != f.Opening || s.ClosingBalance.Minor != f.Closing || len(s.Entries) != f.Entries {
			t.Fatalf("%s: parsed %+v, result says %+v", f.Name, s, f)
		}
		all = append(all, s)
	}
	return all
}

func TestBankStatementsMatchPayouts(t *testing.T) {
	e := reportEnv(t)
	payout := bankWeek(t, e)
	faults := &BankFaults{WithholdPayout: 1, ShortPayout: 1, LatePayout: 1, CombinePayouts: 1, UnrelatedCredit: 2, BreakChain: 1}
	var first []InjectedBankFault
	for _, format := range []string{BankFormatCamt053, BankFormatMT940} {
		t.Run(format, func(t *testing.T) {
			res, err := e.srv.WriteBankStatements(BankStatementRequest{From: "20261123", To: "20261206", Format: format, Faults: faults})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Statements) != 2*14 || len(res.Accounts) != 2 {
				t.Fatalf("%d statements for %v", len(res.Statements), res.Accounts)
			}
			for ccy, iban := range res.Accounts {
				if statement.ParseAccount(iban).IBAN != iban || !strings.HasPrefix(iban, "DE") {
					t.Errorf("%s account %q is not a valid IBAN", ccy, iban)
				}
			}
			err = filepath.WalkDir(res.Dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
					t.Errorf("temporary file left: %s", path)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			checkBankFaults(t, res, payout)
			stmts := parseStatements(t, res)
			checkBankChain(t, res, stmts)
			checkBankEntries(t, res, stmts, payout)

			// The same range carries the same faults in either format.
			got := make([]InjectedBankFault, len(res.Faults))
			for i, f := range res.Faults {
				f.File = strings.TrimSuffix(strings.TrimSuffix(f.File, ".xml"), ".sta")
				got[i] = f
			}
			if first == nil {
				first = got
			} else if !reflect.DeepEqual(first, got) {
				t.Errorf("faults differ between formats:\n%+v\n%+v", first, got)
			}
		})
	}
}

// checkBankFaults: every kind asked for is injected once, on a batch of
// the week, with the truth about it.
func checkBankFaults(t *testing.T, res *BankStatementResult, payout map[string]int64) {
	t.Helper()
	count := map[string]int{}
	for _, f := range res.Faults {
		count[f.Kind]++
		if f.File == "" || f.Date == "" || f.Detail == "" {
			t.Errorf("fault without file, date or detail: %+v", f)
		}
		switch f.Kind {
		case FaultWithholdPayout:
			if f.Expected != payout[f.BatchID] || f.Actual != 0 {
				t.Errorf("withhold: %+v", f)
			}
		case FaultShortPayout:
			if f.Expected != payout[f.BatchID] || f.Actual != f.Expected-1500 {
				t.Errorf("short: %+v", f)
			}
		case FaultLatePayout:
			if f.Expected != payout[f.BatchID] || f.Actual != f.Expected || !strings.Contains(f.Detail, "3 business days late") {
				t.Errorf("late: %+v", f)
			}
		case FaultCombinePayouts:
			if f.PairedBatchID == "" || f.Actual != payout[f.BatchID]+payout[f.PairedBatchID] ||
				f.BatchID[len(f.BatchID)-3:] != f.PairedBatchID[len(f.PairedBatchID)-3:] {
				t.Errorf("combine: %+v", f)
			}
		}
	}
	want := map[string]int{FaultWithholdPayout: 1, FaultShortPayout: 1, FaultLatePayout: 1, FaultCombinePayouts: 1,
		FaultUnrelatedCredit: 2, FaultBreakChain: 1}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("faults injected %v, want %v", count, want)
	}
}

// checkBankChain: Check finds exactly the injected break, and nothing
// else: every statement adds up and no day is missing.
func checkBankChain(t *testing.T, res *BankStatementResult, stmts []statement.Statement) {
	t.Helper()
	var breaks []InjectedBankFault
	for _, f := range res.Faults {
		if f.Kind == FaultBreakChain {
			breaks = append(breaks, f)
		}
	}
	findings := statement.Check(stmts)
	if len(findings) != len(breaks) {
		t.Fatalf("Check: %+v, want %d breaks", findings, len(breaks))
	}
	for i, f := range findings {
		b := breaks[i]
		if f.Kind != statement.BalanceBreak || f.File != b.File || f.Expected.Minor != b.Expected || f.Actual.Minor != b.Actual {
			t.Errorf("finding %+v, injected %+v", f, b)
		}
	}
}

// checkBankEntries: each batch's payout is booked once, naming its batch,
// on its due day, unless a fault says otherwise; noise is there too.
func checkBankEntries(t *testing.T, res *BankStatementResult, stmts []statement.Statement, payout map[string]int64) {
	t.Helper()
	fault := map[string]InjectedBankFault{}
	unrelated := map[string]InjectedBankFault{} // by file and amount
	for _, f := range res.Faults {
		switch f.Kind {
		case FaultUnrelatedCredit:
			unrelated[f.File+"/"+strconv.FormatInt(f.Actual, 10)] = f
		case FaultCombinePayouts:
			fault[f.BatchID], fault[f.PairedBatchID] = f, f
		default:
			fault[f.BatchID] = f
		}
	}
	booked := map[string][]statement.Entry{}
	var fromRemitter, noise int
	for _, s := range stmts {
		for _, en := range s.Entries {
			if en.CounterpartyName != defaultRemitterName {
				noise++
				continue
			}
			fromRemitter++
			var named []string
			for id := range payout {
				if strings.Contains(en.RemittanceInfo, id) && strings.Contains(en.EndToEndID, id) {
					named = append(named, id)
				}
			}
			if len(named) == 0 {
				k := s.File + "/" + strconv.FormatInt(en.Amount.Minor, 10)
				if _, ok := unrelated[k]; !ok {
					t.Errorf("%s: a credit from the remitter naming no batch that is no fault: %+v", s.File, en)
				}
				delete(unrelated, k)
			}
			for _, id := range named {
				booked[id] = append(booked[id], en)
			}
		}
	}
	if len(unrelated) != 0 {
		t.Errorf("unrelated credits not found: %v", unrelated)
	}
	if noise < 10 {
		t.Errorf("only %d entries of other payers", noise)
	}
	for id, want := range payout {
		got, f := booked[id], fault[id]
		if f.Kind == FaultWithholdPayout {
			if len(got) != 0 {
				t.Errorf("%s withheld but booked: %+v", id, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s booked %d times, want once", id, len(got))
			continue
		}
		en := got[0]
		report, _ := time.Parse(dayLayout, id[:8])
		date := addBusinessDays(report, 2)
		switch f.Kind {
		case FaultShortPayout:
			want -= 1500
		case FaultLatePayout:
			date = addBusinessDays(date, 3)
		case FaultCombinePayouts:
			want = f.Actual
		}
		if en.Amount.Minor != want || !en.BookingDate.Equal(date) || en.Amount.Currency != id[len(id)-3:] {
			t.Errorf("%s (%s): booked %s on %s, want %d on %s", id, f.Kind, en.Amount, en.BookingDate, want, date)
		}
	}
	payouts := 0
	for _, s := range res.Statements {
		payouts += len(s.Payouts)
	}
	if payouts != len(payout)-1 || fromRemitter != len(payout)-1-1+2 {
		t.Errorf("%d payouts in the result, %d credits from the remitter; want %d and %d", payouts, fromRemitter, len(payout)-1, len(payout))
	}
}

func TestBankStatementsWithoutFaults(t *testing.T) {
	e := reportEnv(t, func(c *Config) {
		c.BankAccounts = map[string]string{"USD": "GB82 WEST 1234 5698 7654 32"}
		c.BankOpening = 500
		c.RemitterName = "APO PAYMENTS"
		c.PayoutDays = 1
	})
	e.authorized("one", cardAlipay)
	req := payReq("two", cardCheckout)
	set(req, "paymentFactor.captureMode", "AUTOMATIC")
	pid := e.mustPay(req, "S").str("paymentId")
	// Tuesday's batch is only the refund: APO takes the money back.
	e.clock.Advance(24 * time.Hour)
	wantResult(t, "refund", e.refundReq("back", pid, "USD", "10000"), "S", "SUCCESS")
	res, err := e.srv.WriteBankStatements(BankStatementRequest{From: "20261121", To: "20261125", Format: BankFormatMT940})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounts["USD"] != "GB82WEST12345698765432" || len(res.Statements) != 5 || len(res.Faults) != 0 {
		t.Fatalf("result %+v", res)
	}
	stmts := parseStatements(t, res)
	if f := statement.Check(stmts); len(f) != 0 {
		t.Errorf("Check: %+v", f)
	}
	if res.Statements[0].Opening != 50000 || res.Statements[0].Entries != 0 || res.Statements[1].Entries != 0 {
		t.Errorf("weekend statements: %+v", res.Statements[:2])
	}
	// Monday's batch is paid on Tuesday (T+1), by the configured remitter.
	tue := res.Statements[3]
	if len(tue.Payouts) != 1 || tue.Payouts[0].BatchID != "2026112302USD" || tue.Payouts[0].Date != "20261124" {
		t.Fatalf("Tuesday: %+v", tue)
	}
	found := false
	for _, en := range stmts[3].Entries {
		if en.CounterpartyName == "APO PAYMENTS" && en.EndToEndID == "PAYOUT-2026112302USD" &&
			en.RemittanceInfo == "PAYOUT 2026112302USD" && en.Amount.Minor == tue.Payouts[0].Amount {
			found = true
		}
	}
	if !found {
		t.Errorf("no payout credit in %+v", stmts[3].Entries)
	}
	wed := res.Statements[4]
	if len(wed.Payouts) != 1 || wed.Payouts[0].BatchID != "2026112402USD" || wed.Payouts[0].Amount != -10000-100 {
		t.Fatalf("Wednesday: %+v", wed)
	}
	found = false
	for _, en := range stmts[4].Entries {
		if en.CounterpartyName == "APO PAYMENTS" && en.RemittanceInfo == "PAYOUT 2026112402USD" && en.Amount.Minor == -10100 {
			found = true
		}
	}
	if !found {
		t.Errorf("no payout debit in %+v", stmts[4].Entries)
	}
	again, err := e.srv.WriteBankStatements(BankStatementRequest{From: "20261121", To: "20261125", Format: BankFormatMT940})
	if err != nil || !reflect.DeepEqual(again, res) {
		t.Errorf("a second run differs: %v", err)
	}
}

func TestBankConfigErrors(t *testing.T) {
	merchant, apoKey := keys(t)
	for name, cfg := range map[string]Config{
		"bad iban":      {BankAccounts: map[string]string{"USD": "DE00370400440000302813"}},
		"bad currency":  {BankAccounts: map[string]string{"XXY": defaultIBAN("USD")}},
		"payout days":   {PayoutDays: 31},
		"remitter name": {RemitterName: "APO/EUROPE"},
		"opening":       {BankOpening: 2e12},
	} {
		cfg.APOPrivateKey, cfg.MerchantPublicKey = apoKey, &merchant.PublicKey
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	for _, ccy := range []string{"USD", "EUR", "JPY", "KWD"} {
		if iban := defaultIBAN(ccy); statement.ParseAccount(iban).IBAN != iban {
			t.Errorf("default IBAN of %s: %q is not valid", ccy, iban)
		}
	}
}

func TestBankStatementsEndpoint(t *testing.T) {
	e := reportEnv(t)
	req := payReq("ep-1", cardAlipay)
	set(req, "paymentFactor.captureMode", "AUTOMATIC")
	e.mustPay(req, "S")
	url := e.ts.URL + "/sandbox/bank-statements"
	status, m := postJSON(t, url, obj{"from": "20261123", "to": "20261127", "faults": obj{"unrelatedCredit": 1}})
	if status != 200 || m["format"] != BankFormatCamt053 || len(m["statements"].([]any)) != 5 || len(m["faults"].([]any)) != 1 {
		t.Fatalf("bank statements: %d %v", status, m)
	}
	f := m["faults"].([]any)[0].(obj)
	if f["kind"] != FaultUnrelatedCredit || !strings.HasSuffix(f["file"].(string), ".xml") {
		t.Errorf("fault %v", f)
	}
	if _, err := os.Stat(m["statements"].([]any)[0].(obj)["path"].(string)); err != nil {
		t.Error(err)
	}
	for body, want := range map[string]int{
		`{"from":"2026-11-23","to":"20261124"}`:                          http.StatusUnprocessableEntity,
		`{"from":"20261124","to":"20261123"}`:                            http.StatusUnprocessableEntity,
		`{"from":"20250101","to":"20261123"}`:                            http.StatusUnprocessableEntity,
		`{"from":"20261123","to":"20261123","format":"BAI2"}`:            http.StatusUnprocessableEntity,
		`{"from":"20261123","to":"20261123","faults":{"breakChain":-1}}`: http.StatusUnprocessableEntity,
		`{"from":"20261123","to":"20261123","faults":{"nope":1}}`:        http.StatusBadRequest,
	} {
		if status, m := postJSON(t, url, []byte(body)); status != want {
			t.Errorf("%s: %d %v, want %d", body, status, m, want)
		}
	}
	noDir := newEnv(t)
	if status, _ := postJSON(t, noDir.ts.URL+"/sandbox/bank-statements", obj{"from": "20261123", "to": "20261123"}); status != http.StatusConflict {
		t.Errorf("without a reports dir: %d", status)
	}
}
