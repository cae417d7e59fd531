package journal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Text from reports (a batch id) and from the chart reaches every layout
// inert; amounts stay numbers, negative ones too.
func TestLayoutsGuardFormulas(t *testing.T) {
	j := &Journal{ID: 7, BatchID: "=HYPERLINK(\"http://x\")", Currency: "USD", Period: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), RunID: 3}
	l := &Line{Kind: CaptureGross, Credit: 1234, Description: "+cmd"}
	a := Account{Kind: CaptureGross, Code: "1210", Name: "@name", TaxCode: "-tax", TrackingName: "Class", TrackingOption: "=opt"}
	for _, f := range Formats {
		row := layouts[f].row(j, l, a, ExportRequest{})
		if len(row) != len(layouts[f].header) {
			t.Errorf("%s: %d cells, %d columns", f, len(row), len(layouts[f].header))
		}
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+@", rune(cell[0])) {
				t.Errorf("%s: cell %q would run as a formula", f, cell)
			}
			if strings.HasPrefix(cell, "-") && cell != "-12.34" {
				t.Errorf("%s: cell %q would run as a formula", f, cell)
			}
		}
		if f == FormatXero && row[5] != "-12.34" {
			t.Errorf("xero amount %q, want the credit as -12.34", row[5])
		}
	}
}

// What a layout cannot hold stops the export before it writes.
func TestCheckContents(t *testing.T) {
	ch := NewChart([]Account{{Kind: CaptureGross, Code: "1", Name: "n", TaxCode: "t"}, {Kind: PayoutClearing, Code: "2", Name: "n", TaxCode: "t"}})
	kinds := func(ccy string, largest int64) []KindUse {
		return []KindUse{{Kind: CaptureGross, Currency: ccy, Largest: largest}, {Kind: PayoutClearing, Currency: ccy, Largest: largest}}
	}
	for _, c := range []struct {
		name string
		f    Format
		c    Contents
		want string // "" for none
	}{
		{"netsuite, two decimals", FormatNetSuite, Contents{Currencies: []string{"USD"}, Kinds: kinds("USD", 999_999_999_999)}, ""},
		{"netsuite, three decimals", FormatNetSuite, Contents{Currencies: []string{"KWD"}, Kinds: kinds("KWD", 1_000)}, "2 decimal places, KWD has 3"},
		{"netsuite, eleven digits", FormatNetSuite, Contents{Currencies: []string{"USD"}, Kinds: kinds("USD", 1_000_000_000_000)}, "10 digits"},
		{"netsuite, yen", FormatNetSuite, Contents{Currencies: []string{"JPY"}, Kinds: kinds("JPY", 9_999_999_999)}, ""},
		{"xero, 300 lines", FormatXero, Contents{Lines: 300, Currencies: []string{"USD"}, Kinds: kinds("USD", 1)}, ""},
		{"xero, 301 lines", FormatXero, Contents{Lines: 301, Currencies: []string{"USD"}, Kinds: kinds("USD", 1)}, "at most 300 lines"},
		{"quickbooks, two currencies", FormatQuickBooks, Contents{Currencies: []string{"USD", "EUR"}, Kinds: kinds("USD", 1)}, "EUR, USD"},
		{"csv, two currencies", FormatCSV, Contents{Currencies: []string{"USD", "EUR"}, Kinds: kinds("USD", 1)}, ""},
	} {
		err := checkContents(ExportRequest{Format: c.f}, layouts[c.f], c.c, ch)
		var ie *InvalidError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &ie) || !strings.Contains(ie.Reason, c.want)):
			t.Errorf("%s: got %v, want one saying %q", c.name, err, c.want)
		}
	}
}

func TestCheckRequest(t *testing.T) {
	d := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		req   ExportRequest
		field string
	}{
		{ExportRequest{Format: "sage", From: d, To: d}, "format"},
		{ExportRequest{Format: FormatCSV, To: d}, "from"},
		{ExportRequest{Format: FormatCSV, From: d, To: d.AddDate(0, 0, -1)}, "to"},
		{ExportRequest{Format: FormatCSV, From: d, To: d, Currency: "usd"}, "currency"},
	} {
		_, _, err := checkRequest(c.req)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%+v: got %v, want an error on %s", c.req, err, c.field)
		}
	}
}
