package journal

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// testChart maps every kind a journal books, with a tax code and, for
// the fees, a tracking category; clearing has an account of its own in
// EUR.
const testChart = "\ufeffkind,currency,account_code,account_name,tax_code,tracking_name,tracking_option\r\n" +
	"CAPTURE_GROSS,,1210,APO receivable,Tax Exempt,,\r\n" +
	"REFUND,,1210,APO receivable,Tax Exempt,,\r\n" +
	"REFUND_REVERSAL,,1210,APO receivable,Tax Exempt,,\r\n" +
	"PAYMENT_REVERSAL,,1210,APO receivable,Tax Exempt,,\r\n" +
	"CHARGEBACK,,4910,Chargebacks,Tax Exempt,,\r\n" +
	"CHARGEBACK_REVERSAL,,4910,Chargebacks,Tax Exempt,,\r\n" +
	"FEE_PROCESSING,,6110,Payment fees:Processing,Tax Exempt,Class,Payments\r\n" +
	"FEE_INTERCHANGE,,6111,Payment fees:Interchange,Tax Exempt,Class,Payments\r\n" +
	"FEE_SCHEME,,6112,Payment fees:Scheme,Tax Exempt,Class,Payments\r\n" +
	"FEE_ACQUIRER_MARKUP,,6113,Payment fees:Markup,Tax Exempt,Class,Payments\r\n" +
	"FEE_TAX,,6114,Payment fees:Tax,Tax Exempt,Class,Payments\r\n" +
	"FEE_DISPUTE,,6115,Payment fees:Disputes,Tax Exempt,Class,Payments\r\n" +
	"FEE_SETTLEMENT,,6116,Payment fees:Settlement,Tax Exempt,Class,Payments\r\n" +
	"FEE_ADJUSTMENT,,6117,Payment fees:Adjustments,Tax Exempt,Class,Payments\r\n" +
	"RESERVE_WITHHELD,,1220,APO reserve,Tax Exempt,,\r\n" +
	"RESERVE_RELEASED,,1220,APO reserve,Tax Exempt,,\r\n" +
	"COLLATERAL_WITHHELD,,1221,APO collateral,Tax Exempt,,\r\n" +
	"COLLATERAL_RELEASED,,1221,APO collateral,Tax Exempt,,\r\n" +
	"FX_DIFFERENCE,,7510,FX gains and losses,Tax Exempt,,\r\n" +
	"PAYOUT_CLEARING,,1250,Bank clearing,Tax Exempt,,\r\n" +
	"PAYOUT_CLEARING,eur,1251,Bank clearing EUR,Tax Exempt,,\r\n"

func TestParseAccounts(t *testing.T) {
	got, err := ParseAccounts(strings.NewReader(testChart))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 21 {
		t.Fatalf("got %d accounts, want 21", len(got))
	}
	c := NewChart(got)
	for _, x := range []struct {
		kind Kind
		ccy  string
		code string
		ok   bool
	}{
		{PayoutClearing, "USD", "1250", true}, // the row for every currency
		{PayoutClearing, "EUR", "1251", true}, // the currency's own row wins
		{FeeScheme, "JPY", "6112", true},
		{Unclassified, "USD", "", false},
	} {
		a, ok := c.Account(x.kind, x.ccy)
		if ok != x.ok || a.Code != x.code {
			t.Errorf("%s %s: got %q, %v; want %q, %v", x.kind, x.ccy, a.Code, ok, x.code, x.ok)
		}
	}
	if a, _ := c.Account(FeeTax, "USD"); a.Name != "Payment fees:Tax" || a.TrackingName != "Class" || a.TrackingOption != "Payments" || a.TaxCode != "Tax Exempt" {
		t.Errorf("FEE_TAX reads %+v", a)
	}
}

// A mapping file with a problem is refused whole, naming its line.
func TestParseAccountsRefuses(t *testing.T) {
	const head = "kind,account_code\n"
	for _, c := range []struct {
		name, file string
		line       int
		reason     string
	}{
		{"empty", "", 0, "empty"},
		{"unknown kind", head + "CAPTURE_GROSS,1210\nFEES,6110\n", 3, `unknown kind "FEES"`},
		{"no account", head + "REFUND,\n", 2, "no account_code for REFUND"},
		{"twice", "kind,currency,account_code\nREFUND,,1\nREFUND,USD,2\nREFUND,,3\n", 4, "REFUND (every currency) is mapped on line 2 already"},
		{"bad currency", "kind,currency,account_code\nREFUND,XYZ,1\n", 2, `unknown currency "XYZ"`},
		{"formula", head + "REFUND,=1+2\n", 2, "starts with ="},
		{"unknown column", "kind,account,account_code\n", 1, `unknown column "account"`},
		{"no kind column", "account_code\n1\n", 1, "no kind column"},
		{"half a tracking category", "kind,account_code,tracking_name\nREFUND,1,Region\n", 2, "go together"},
		{"ragged", head + "REFUND,1,2\n", 2, "wrong number of fields"},
	} {
		_, err := ParseAccounts(strings.NewReader(c.file))
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != c.line || !strings.Contains(fe.Reason, c.reason) {
			t.Errorf("%s: got %v, want line %d saying %q", c.name, err, c.line, c.reason)
		}
	}
}

// TestWriteAccounts: the chart written out reads back as it was.
func TestWriteAccounts(t *testing.T) {
	want, err := ParseAccounts(strings.NewReader(testChart))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteAccounts(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := ParseAccounts(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, want)
	}
}
