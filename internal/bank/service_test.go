package bank

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestBankAccounts: configuring, reading and changing accounts, and every
// rule a configuration is checked against.
func TestBankAccounts(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	mapping := sample(t, "csv_de_mapping.json")
	a, err := e.svc.CreateAccount(ctx, NewAccount{Name: " Main EUR ", IBAN: "de89 3704 0044 0532 0130 00",
		Number: " 37040044/0532013000 ", Currency: "EUR", SettlementCurrency: "EUR",
		Remitters: []string{" APO PAYMENTS EUROPE B.V. ", "NL91ABNA0417164300"}, CSVMapping: mapping})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Name != "Main EUR" || a.IBAN != sampleIBAN || a.Number != sampleNumber ||
		!slices.Equal(a.Remitters, []string{"APO PAYMENTS EUROPE B.V.", "NL91ABNA0417164300"}) ||
		len(a.CSVMapping) == 0 || a.CreatedAt.IsZero() || !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Fatalf("created %+v", a)
	}
	got, err := e.svc.GetAccount(ctx, a.ID)
	if err != nil || got.IBAN != a.IBAN || !slices.Equal(got.Remitters, a.Remitters) {
		t.Fatalf("get %+v %v", got, err)
	}
	if _, err := e.svc.GetAccount(ctx, a.ID+100); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}

	valid := NewAccount{Name: "Other", IBAN: "GB29NWBK60161331926819", Currency: "GBP", SettlementCurrency: "GBP"}
	for _, c := range []struct {
		field  string
		change func(*NewAccount)
	}{
		{"iban", func(n *NewAccount) { n.IBAN = "GB29NWBK60161331926818" }},
		{"iban", func(n *NewAccount) { n.IBAN = "" }},
		{"account_number", func(n *NewAccount) { n.Number = "GB29 NWBK 6016 1331 9268 19" }},
		{"account_number", func(n *NewAccount) { n.Number = strings.Repeat("1", 65) }},
		{"currency", func(n *NewAccount) { n.Currency = "EURO" }},
		{"settlement_currency", func(n *NewAccount) { n.SettlementCurrency = "XYZ" }},
		{"name", func(n *NewAccount) { n.Name = " " }},
		{"remitters[1]", func(n *NewAccount) { n.Remitters = []string{"APO", "  "} }},
		{"csv_mapping", func(n *NewAccount) {
			n.CSVMapping = []byte(`{"columns": {"booking_date": "D", "amount": "A"}, "acount": "x"}`)
		}},
		// The mapping names another account.
		{"csv_mapping", func(n *NewAccount) { n.CSVMapping = mapping }},
		// The mapping cannot say a file is this account's.
		{"csv_mapping", func(n *NewAccount) {
			n.CSVMapping = []byte(`{"currency": "GBP", "columns": {"booking_date": "D", "amount": "A"}}`)
		}},
	} {
		in := valid
		c.change(&in)
		_, err := e.svc.CreateAccount(ctx, in)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("%s: got %v, want an InvalidError of %s", c.field, err, c.field)
		}
	}
	// An IBAN or number configured already.
	for _, dup := range []NewAccount{
		{Name: "Again", IBAN: sampleIBAN, Currency: "EUR", SettlementCurrency: "EUR"},
		{Name: "Again", Number: sampleNumber, Currency: "EUR", SettlementCurrency: "EUR"},
	} {
		var conflict *ConflictError
		if _, err := e.svc.CreateAccount(ctx, dup); !errors.As(err, &conflict) {
			t.Errorf("%+v: got %v, want a conflict", dup, err)
		}
	}

	name, ccy, none := "Renamed", "USD", []byte(nil)
	remitters := []string{"ANTOM"}
	u, err := e.svc.UpdateAccount(ctx, a.ID, AccountChange{Name: &name, SettlementCurrency: &ccy, Remitters: &remitters,
		CSVMapping: &none})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != name || u.SettlementCurrency != "USD" || !slices.Equal(u.Remitters, remitters) || u.CSVMapping != nil ||
		u.IBAN != a.IBAN || u.UpdatedAt.Before(a.UpdatedAt) {
		t.Fatalf("updated %+v", u)
	}
	bad := "XXX"
	var invalid *InvalidError
	if _, err := e.svc.UpdateAccount(ctx, a.ID, AccountChange{SettlementCurrency: &bad}); !errors.As(err, &invalid) {
		t.Fatalf("bad change: %v", err)
	}
	if _, err := e.svc.UpdateAccount(ctx, a.ID+100, AccountChange{Name: &name}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}

	other, err := e.svc.CreateAccount(ctx, valid)
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.ListAccounts(ctx, "", 1)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != a.ID || page.Next == "" {
		t.Fatalf("first page %+v %v", page, err)
	}
	page, err = e.svc.ListAccounts(ctx, page.Next, 1)
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != other.ID || page.Next != "" {
		t.Fatalf("second page %+v %v", page, err)
	}
	if _, err := e.svc.ListAccounts(ctx, "nonsense", 1); !errors.As(err, &invalid) || invalid.Field != "cursor" {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestBankListStatements: by account and period, newest first, a page at a
// time.
func TestBankListStatements(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	main := e.mustAccount(t, "Main", sampleIBAN, "", nil)
	legacy := e.mustAccount(t, "Legacy", "", sampleNumber, nil)
	e.mustIngest(t, "camt053_v02.xml", sample(t, "camt053_v02.xml")) // Dec 1, 2
	e.mustIngest(t, "mt940_two.sta", sample(t, "mt940_two.sta"))     // Dec 4, 5

	ids := func(f StatementFilter) []string {
		t.Helper()
		var out []string
		for {
			page, err := e.svc.ListStatements(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Items {
				out = append(out, s.FromDate.Format("01-02"))
			}
			if f.Cursor = page.Next; f.Cursor == "" {
				return out
			}
		}
	}
	for _, c := range []struct {
		f    StatementFilter
		want []string
	}{
		{StatementFilter{}, []string{"12-05", "12-04", "12-02", "12-01"}},
		{StatementFilter{Limit: 1}, []string{"12-05", "12-04", "12-02", "12-01"}},
		{StatementFilter{AccountID: main.ID}, []string{"12-02", "12-01"}},
		{StatementFilter{AccountID: legacy.ID, Limit: 1}, []string{"12-05", "12-04"}},
		{StatementFilter{From: date("2026-12-02"), To: date("2026-12-04")}, []string{"12-04", "12-02"}},
		{StatementFilter{From: date("2026-12-05")}, []string{"12-05"}},
		{StatementFilter{To: date("2026-11-30")}, nil},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
		}
	}
	var invalid *InvalidError
	if _, err := e.svc.ListStatements(ctx, StatementFilter{From: date("2026-12-05"), To: date("2026-12-04")}); !errors.As(err, &invalid) {
		t.Fatalf("to before from: %v", err)
	}
	if _, err := e.svc.ListStatements(ctx, StatementFilter{Cursor: "x"}); !errors.As(err, &invalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := e.svc.GetStatement(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown statement: %v", err)
	}
	if _, err := e.svc.ListEntries(ctx, 999, "", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entries of an unknown statement: %v", err)
	}
}
