package journal

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/sheet"
)

// Format is an export layout (docs/journal-exports.md says where each
// one's columns come from).
type Format string

// Export layouts.
const (
	FormatCSV        Format = "csv"        // generic: one row per journal line
	FormatXero       Format = "xero"       // Xero manual journals import
	FormatQuickBooks Format = "quickbooks" // QuickBooks Online journal entries import
	FormatNetSuite   Format = "netsuite"   // NetSuite journal entry CSV import
)

// Formats lists the export layouts.
var Formats = []Format{FormatCSV, FormatXero, FormatQuickBooks, FormatNetSuite}

// ExportRequest says which journals to export and how.
type ExportRequest struct {
	Format   Format
	From, To time.Time // settlement dates (UTC days), inclusive
	Currency string    // only journals in this currency; "" for every currency
	// DayFirst writes QuickBooks and NetSuite dates dd/mm/yyyy instead of
	// mm/dd/yyyy: they read dates as the company's (QuickBooks) or the
	// importing user's (NetSuite) date preference says. Xero and the
	// generic CSV write dates no reader can take the wrong way round.
	DayFirst bool
}

// ExportSummary is what an export wrote.
type ExportSummary struct {
	Journals int64
	Lines    int64
}

// Unmapped is a line kind an export cannot book in a currency: the chart
// has no account for it, or (Field) the account lacks what the layout
// requires.
type Unmapped struct {
	Kind     Kind
	Currency string
	Field    string // "" when no account is mapped at all
}

// UnmappedError stops an export that would have to book a line kind
// nowhere, or somewhere the layout cannot name. It lists every such kind.
type UnmappedError struct {
	Format  Format
	Missing []Unmapped
}

func (e *UnmappedError) Error() string {
	var parts []string
	for _, m := range e.Missing {
		if m.Field == "" {
			parts = append(parts, fmt.Sprintf("no account mapped for %s in %s", m.Kind, m.Currency))
		} else {
			parts = append(parts, fmt.Sprintf("the account of %s in %s has no %s", m.Kind, m.Currency, m.Field))
		}
	}
	return fmt.Sprintf("journal export (%s): %s", e.Format, strings.Join(parts, "; "))
}

// BlockedError stops the export of journals among which some batches could
// not be journaled: exporting the rest would leave the period short
// without saying so.
type BlockedError struct{ Findings []Finding }

func (e *BlockedError) Error() string {
	var parts []string
	for _, f := range e.Findings {
		parts = append(parts, fmt.Sprintf("batch %s %s: %s (%s)", f.BatchID, f.Currency, f.Kind, f.Reason))
	}
	return "journal export: batches not journaled: " + strings.Join(parts, "; ")
}

// layout is how one format writes journals: one CSV row per journal line.
type layout struct {
	header []string
	row    func(j *Journal, l *Line, a Account, req ExportRequest) []string
	// needs names the Account field the layout cannot do without when a
	// lacks it ("" when a will do).
	needs func(a Account) string
	// oneCurrency: the layout has no currency column, so a file holds one
	// currency and the request must pick it when the period has several.
	oneCurrency bool
	maxLines    int64 // lines a file may hold; 0 for no limit
	// amounts says why the layout cannot write amounts of ccy as large as
	// largest (minor units), or "".
	amounts func(ccy string, largest int64) string
}

var layouts = map[Format]layout{
	FormatCSV: {
		header: []string{"journal_id", "date", "batch_id", "account_code", "kind", "debit", "credit", "currency",
			"description", "reference"},
		row: func(j *Journal, l *Line, a Account, _ ExportRequest) []string {
			return []string{strconv.FormatInt(j.ID, 10), j.Period.Format(time.DateOnly), sheet.Safe(j.BatchID),
				sheet.Safe(a.Code), string(l.Kind), side(l.Debit, j.Currency), side(l.Credit, j.Currency), j.Currency,
				sheet.Safe(l.Description), fmt.Sprintf("recon-run-%d", j.RunID)}
		},
	},
	// Xero: help.xero.com ManualJournalsImport and the template it offers.
	FormatXero: {
		header: []string{"*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
			"TrackingOption1", "TrackingName2", "TrackingOption2"},
		row: func(j *Journal, l *Line, a Account, _ ExportRequest) []string {
			return []string{sheet.Safe(narration(j)), j.Period.Format("02 Jan 2006"), sheet.Safe(l.Description),
				sheet.Safe(a.Code), sheet.Safe(a.TaxCode), signed(l, j.Currency), sheet.Safe(a.TrackingName),
				sheet.Safe(a.TrackingOption), "", ""}
		},
		needs: func(a Account) string {
			if a.TaxCode == "" {
				return "tax_code (Xero's TaxRate is mandatory)"
			}
			return ""
		},
		oneCurrency: true,
		maxLines:    300,
	},
	// QuickBooks Online: Intuit's "Import journal entries" help.
	FormatQuickBooks: {
		header: []string{"JournalNo", "JournalDate", "AccountName", "Debits", "Credits", "Description", "Name",
			"Location", "Class"},
		row: func(j *Journal, l *Line, a Account, req ExportRequest) []string {
			return []string{fmt.Sprintf("APO-%d", j.ID), slashDate(j.Period, req.DayFirst), sheet.Safe(a.Name),
				side(l.Debit, j.Currency), side(l.Credit, j.Currency), sheet.Safe(l.Description), "",
				tracking(a, "Location"), tracking(a, "Class")}
		},
		needs: func(a Account) string {
			if a.Name == "" {
				return "account_name (QuickBooks Online imports accounts by name)"
			}
			return ""
		},
		oneCurrency: true,
	},
	// NetSuite: the journal entry header and line fields tables of the
	// CSV import help.
	FormatNetSuite: {
		header: []string{"External ID", "Date", "Currency", "Memo", "Account", "Debit", "Credit", "Line Memo",
			"Department", "Class", "Location", "Tax Code"},
		row: func(j *Journal, l *Line, a Account, req ExportRequest) []string {
			return []string{sheet.Safe(externalID(j)), slashDate(j.Period, req.DayFirst),
				j.Currency, sheet.Safe(narration(j)), sheet.Safe(a.Code), side(l.Debit, j.Currency),
				side(l.Credit, j.Currency), sheet.Safe(l.Description), tracking(a, "Department"), tracking(a, "Class"),
				tracking(a, "Location"), sheet.Safe(a.TaxCode)}
		},
		amounts: func(ccy string, largest int64) string {
			exp, _ := money.Exponent(ccy)
			switch {
			case exp > 2:
				return fmt.Sprintf("NetSuite takes 2 decimal places, %s has %d", ccy, exp)
			case len(strconv.FormatInt(largest, 10)) > 10+exp:
				return fmt.Sprintf("NetSuite takes 10 digits before the decimal point; a %s line has more", ccy)
			}
			return ""
		},
	},
}

// narration names a journal in the tools that show one text per journal.
func narration(j *Journal) string {
	what := "APO settlement batch"
	if j.typ() == Receipt {
		what = "Bank receipt of APO payout, batch"
	}
	if j.AdjustsID != 0 {
		return fmt.Sprintf("Adjustment of %s %s %s (payops journal %d, adjusts %d)", what, j.BatchID,
			j.Currency, j.ID, j.AdjustsID)
	}
	return fmt.Sprintf("%s %s %s (payops journal %d)", what, j.BatchID, j.Currency, j.ID)
}

// externalID is a journal's NetSuite External ID: stable per batch and
// type, and per adjustment, so importing one twice is flagged instead of
// booked.
func externalID(j *Journal) string {
	id := "apo-" + j.BatchID + "-" + j.Currency
	if j.typ() == Receipt {
		id += "-rcpt"
	}
	if j.AdjustsID != 0 {
		return fmt.Sprintf("%s-adj-%d", id, j.ID)
	}
	return id
}

// side writes one side of a line in major units, empty when it is not
// that side.
func side(minor int64, ccy string) string {
	if minor == 0 {
		return ""
	}
	return money.FormatMajor(money.Money{Minor: minor, Currency: ccy})
}

// signed writes a line as one amount: debits positive, credits negative.
func signed(l *Line, ccy string) string {
	if l.Debit != 0 {
		return money.FormatMajor(money.Money{Minor: l.Debit, Currency: ccy})
	}
	return money.FormatMajor(money.Money{Minor: -l.Credit, Currency: ccy})
}

func slashDate(d time.Time, dayFirst bool) string {
	if dayFirst {
		return d.Format("02/01/2006")
	}
	return d.Format("01/02/2006")
}

// tracking is the account's tracking option when its category is the
// layout's column named segment.
func tracking(a Account, segment string) string {
	if strings.EqualFold(a.TrackingName, segment) {
		return sheet.Safe(a.TrackingOption)
	}
	return ""
}
