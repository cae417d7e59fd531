package journal

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/payops/payops/internal/money"
)

// Account is where one line kind is booked: the merchant's GL account and,
// when the merchant uses them, a tax code and a tracking category.
type Account struct {
	Kind     Kind
	Currency string // "" maps the kind in every currency; a row for the journal's own currency wins
	Code     string // account code (Xero, NetSuite, generic CSV)
	Name     string // account name, "Parent:Child" for a sub-account (QuickBooks Online imports by name)
	TaxCode  string // Xero tax rate name (its import requires one), NetSuite tax code
	// TrackingName and TrackingOption are a tracking category and its
	// value: Xero's tracking category; for QuickBooks Online a name of
	// Class or Location, for NetSuite Department, Class or Location,
	// fills that column.
	TrackingName   string
	TrackingOption string
}

// The mapping file is CSV (a finance team keeps it in a spreadsheet): a
// header naming the columns, in any order, then one row per kind and
// currency. kind and account_code are required; the others may be absent
// or empty.
var accountColumns = []string{"kind", "currency", "account_code", "account_name", "tax_code", "tracking_name",
	"tracking_option"}

// Limits of a mapping file: a chart has a few rows per kind and currency.
const (
	maxAccountsBytes = 1 << 20
	maxAccountRows   = 10_000
	maxAccountField  = 200
)

// FileError is a mapping file that cannot be loaded: the first problem,
// with its line (0 for the file as a whole). Nothing was loaded.
type FileError struct {
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return "account mapping: " + e.Reason
	}
	return fmt.Sprintf("account mapping line %d: %s", e.Line, e.Reason)
}

// ParseAccounts reads a chart-of-accounts mapping file (CSV, UTF-8 with or
// without a BOM). Every kind must be one of Kinds, a currency an ISO 4217
// code or empty, and each (kind, currency) must come once. A value may not
// start with = + - @, so that no spreadsheet formula rides into an export
// (sheet.Safe would otherwise have to change it there).
func ParseAccounts(r io.Reader) ([]Account, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxAccountsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read account mapping: %w", err)
	}
	if len(raw) > maxAccountsBytes {
		return nil, &FileError{Reason: fmt.Sprintf("larger than %d bytes", maxAccountsBytes)}
	}
	if !utf8.Valid(raw) {
		return nil, &FileError{Reason: "not UTF-8 text"}
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Reason: "empty: want a header naming " + strings.Join(accountColumns, ", ")}
	}
	if err != nil {
		return nil, csvError(err)
	}
	idx, err := accountHeader(header)
	if err != nil {
		return nil, err
	}
	var out []Account
	seen := map[[2]string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == maxAccountRows {
			return nil, &FileError{Line: line, Reason: fmt.Sprintf("more than %d rows", maxAccountRows)}
		}
		a, err := readAccount(rec, idx, line)
		if err != nil {
			return nil, err
		}
		key := [2]string{string(a.Kind), a.Currency}
		if first, dup := seen[key]; dup {
			return nil, &FileError{Line: line, Reason: fmt.Sprintf("%s %s is mapped on line %d already", a.Kind,
				currencyLabel(a.Currency), first)}
		}
		seen[key] = line
		out = append(out, a)
	}
}

// accountHeader returns the index of each of accountColumns in header (-1
// when absent).
func accountHeader(header []string) ([]int, error) {
	idx := make([]int, len(accountColumns))
	for i := range idx {
		idx[i] = -1
	}
	for i, h := range header {
		j := slices.Index(accountColumns, strings.ToLower(strings.TrimSpace(h)))
		switch {
		case j < 0:
			return nil, &FileError{Line: 1, Reason: fmt.Sprintf("unknown column %q: the columns are %s", h,
				strings.Join(accountColumns, ", "))}
		case idx[j] >= 0:
			return nil, &FileError{Line: 1, Reason: fmt.Sprintf("column %s twice", accountColumns[j])}
		}
		idx[j] = i
	}
	for _, required := range []int{0, 2} {
		if idx[required] < 0 {
			return nil, &FileError{Line: 1, Reason: "no " + accountColumns[required] + " column"}
		}
	}
	return idx, nil
}

// readAccount reads one row of the mapping.
func readAccount(rec []string, idx []int, line int) (Account, error) {
	var v [7]string
	for j, i := range idx {
		if i < 0 || i >= len(rec) {
			continue
		}
		v[j] = strings.TrimSpace(rec[i])
		if len(v[j]) > maxAccountField {
			return Account{}, &FileError{Line: line, Reason: fmt.Sprintf("%s longer than %d bytes", accountColumns[j], maxAccountField)}
		}
		if v[j] != "" && strings.ContainsRune("=+-@", rune(v[j][0])) {
			return Account{}, &FileError{Line: line, Reason: fmt.Sprintf("%s %q starts with %c, which spreadsheets read as a formula",
				accountColumns[j], v[j], v[j][0])}
		}
	}
	a := Account{Kind: Kind(strings.ToUpper(v[0])), Currency: strings.ToUpper(v[1]), Code: v[2], Name: v[3],
		TaxCode: v[4], TrackingName: v[5], TrackingOption: v[6]}
	switch {
	case !a.Kind.Valid():
		return Account{}, &FileError{Line: line, Reason: fmt.Sprintf("unknown kind %q", v[0])}
	case a.Currency != "" && !money.Known(a.Currency):
		return Account{}, &FileError{Line: line, Reason: fmt.Sprintf("unknown currency %q", v[1])}
	case a.Code == "":
		return Account{}, &FileError{Line: line, Reason: "no account_code for " + string(a.Kind)}
	case (a.TrackingName == "") != (a.TrackingOption == ""):
		return Account{}, &FileError{Line: line, Reason: "tracking_name and tracking_option go together"}
	}
	return a, nil
}

// WriteAccounts writes accounts as a mapping file ParseAccounts reads
// back: the header, then one row per account. It needs no formula
// escaping, since ParseAccounts refuses any value a spreadsheet would
// read as one.
func WriteAccounts(w io.Writer, accounts []Account) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(accountColumns); err != nil {
		return err
	}
	for _, a := range accounts {
		if err := cw.Write([]string{string(a.Kind), a.Currency, a.Code, a.Name, a.TaxCode, a.TrackingName,
			a.TrackingOption}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{Line: pe.Line, Reason: pe.Err.Error()}
	}
	return &FileError{Reason: err.Error()}
}

func currencyLabel(ccy string) string {
	if ccy == "" {
		return "(every currency)"
	}
	return ccy
}

// Chart resolves line kinds to accounts, as an export books them.
type Chart map[[2]string]Account

// NewChart indexes accounts by kind and currency.
func NewChart(accounts []Account) Chart {
	c := Chart{}
	for _, a := range accounts {
		c[[2]string{string(a.Kind), a.Currency}] = a
	}
	return c
}

// Account is where kind k is booked in currency ccy: the row for ccy,
// else the row for every currency.
func (c Chart) Account(k Kind, ccy string) (Account, bool) {
	if a, ok := c[[2]string{string(k), ccy}]; ok {
		return a, true
	}
	a, ok := c[[2]string{string(k), ""}]
	return a, ok
}
