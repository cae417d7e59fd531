package statement

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payops/payops/internal/money"
)

// Mapping describes a bank's CSV export: how its file is laid out and which
// column holds what. It is read from a small JSON file with ParseMapping
// (JSON, not YAML, so that the module needs no YAML library; the file's
// keys are listed in docs/bank-statements.md). One mapping serves every
// file of one bank's layout.
type Mapping struct {
	Delimiter  rune   // the field separator, one ASCII character; default ','
	SkipLines  int    // lines before the header (a bank's preamble)
	NoHeader   bool   // the file has no header row; columns are then named "#N"
	Encoding   string // "UTF-8" (the default) or "windows-1252"
	DateFormat string // DD, MM and YYYY or YY with separators, e.g. "DD.MM.YYYY"; default "YYYY-MM-DD"
	Decimal    rune   // the decimal separator, '.' (the default) or ','
	Thousands  rune   // the digit grouping separator, or 0 when amounts have none
	// EndMarker, when set, ends the entries at the first record whose
	// first field starts with it (a bank's footer, e.g. "Kontostand").
	EndMarker string
	// NewestFirst says the rows run from the newest booking to the oldest;
	// it matters only for deriving the balances from a Balance column.
	NewestFirst bool

	Currency string // the currency of every row when Columns.Currency is ""
	Account  string // the account when Columns.Account is ""
	// OpeningBalance and ClosingBalance are fixed balances in major units
	// ("-1234.56", always with a decimal point), for a file that carries
	// none; when neither they nor a Balance column are given, the
	// statement has no balances and Check notes that it skipped them.
	OpeningBalance, ClosingBalance string
	// DebitMarks and CreditMarks are the values of Columns.Mark that make
	// an unsigned amount a debit or a credit ("S"/"H", "D"/"C").
	DebitMarks, CreditMarks []string

	Columns Columns
}

// Columns names the columns a mapping reads, by header text or as "#N"
// (the N-th column, from 1) when the file has no header or repeats a name.
// "" means the file has no such column.
type Columns struct {
	BookingDate string // required
	ValueDate   string // defaults to the booking date
	// The amount is either one signed column (Amount), an unsigned one with
	// a debit/credit Mark column, or separate Debit and Credit columns (a
	// debit may be written with or without its minus sign).
	Amount, Mark, Debit, Credit string

	Currency string
	Account  string
	Balance  string // the running balance after each row

	Reference, EndToEndID, Remittance, CounterpartyName, CounterpartyAccount, BankTxCode string
}

// mappingFile is the JSON form of a Mapping.
type mappingFile struct {
	Delimiter      string   `json:"delimiter"`
	SkipLines      int      `json:"skip_lines"`
	NoHeader       bool     `json:"no_header"`
	Encoding       string   `json:"encoding"`
	DateFormat     string   `json:"date_format"`
	Decimal        string   `json:"decimal"`
	Thousands      string   `json:"thousands"`
	EndMarker      string   `json:"end_marker"`
	NewestFirst    bool     `json:"newest_first"`
	Currency       string   `json:"currency"`
	Account        string   `json:"account"`
	OpeningBalance string   `json:"opening_balance"`
	ClosingBalance string   `json:"closing_balance"`
	DebitMarks     []string `json:"debit_marks"`
	CreditMarks    []string `json:"credit_marks"`
	Columns        struct {
		BookingDate         string `json:"booking_date"`
		ValueDate           string `json:"value_date"`
		Amount              string `json:"amount"`
		Mark                string `json:"mark"`
		Debit               string `json:"debit"`
		Credit              string `json:"credit"`
		Currency            string `json:"currency"`
		Account             string `json:"account"`
		Balance             string `json:"balance"`
		Reference           string `json:"reference"`
		EndToEndID          string `json:"end_to_end_id"`
		Remittance          string `json:"remittance"`
		CounterpartyName    string `json:"counterparty_name"`
		CounterpartyAccount string `json:"counterparty_account"`
		BankTxCode          string `json:"bank_tx_code"`
	} `json:"columns"`
}

// maxMapping bounds a mapping file; a real one is well under 2 KiB.
const maxMapping = 64 << 10

// ParseMapping reads a mapping from JSON. Unknown keys are refused, so a
// misspelt column key fails here rather than silently reading nothing.
// Every error but a failing reader wraps ErrMapping.
func ParseMapping(r io.Reader) (Mapping, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMapping+1))
	switch {
	case err != nil:
		return Mapping{}, fmt.Errorf("mapping: read: %w", err)
	case len(b) > maxMapping:
		return Mapping{}, fmt.Errorf("mapping: larger than %s: %w", size(maxMapping), ErrMapping)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f mappingFile
	if err := dec.Decode(&f); err != nil {
		return Mapping{}, fmt.Errorf("mapping: %v: %w", err, ErrMapping)
	}
	if dec.More() {
		return Mapping{}, fmt.Errorf("mapping: text after the JSON object: %w", ErrMapping)
	}
	m := Mapping{
		SkipLines: f.SkipLines, NoHeader: f.NoHeader, Encoding: f.Encoding, DateFormat: f.DateFormat,
		EndMarker: f.EndMarker, NewestFirst: f.NewestFirst, Currency: f.Currency, Account: f.Account,
		OpeningBalance: f.OpeningBalance, ClosingBalance: f.ClosingBalance,
		DebitMarks: f.DebitMarks, CreditMarks: f.CreditMarks,
		Columns: Columns(f.Columns),
	}
	for _, c := range []struct {
		name, v string
		dst     *rune
	}{{"delimiter", f.Delimiter, &m.Delimiter}, {"decimal", f.Decimal, &m.Decimal}, {"thousands", f.Thousands, &m.Thousands}} {
		if c.v == "" {
			continue
		}
		r, n := utf8.DecodeRuneInString(c.v)
		if n != len(c.v) {
			return Mapping{}, fmt.Errorf("mapping: %s %q is not one character: %w", c.name, c.v, ErrMapping)
		}
		*c.dst = r
	}
	if _, err := m.compile(); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// csvLayout is a Mapping checked and with its defaults applied.
type csvLayout struct {
	Mapping
	layout string // m.DateFormat as a Go time layout
	marks  map[string]bool
}

// compile checks a mapping and applies its defaults. Every error wraps
// ErrMapping.
func (m Mapping) compile() (csvLayout, error) {
	fail := func(format string, a ...any) (csvLayout, error) {
		return csvLayout{}, fmt.Errorf("mapping: "+format+": %w", append(a, ErrMapping)...)
	}
	if m.Delimiter == 0 {
		m.Delimiter = ','
	}
	if m.Decimal == 0 {
		m.Decimal = '.'
	}
	if m.DateFormat == "" {
		m.DateFormat = "YYYY-MM-DD"
	}
	l := csvLayout{Mapping: m}
	if err := l.checkSyntax(); err != nil {
		return fail("%s", err)
	}
	if err := l.checkColumns(); err != nil {
		return fail("%s", err)
	}
	if m.Currency != "" && !money.Known(m.Currency) {
		return fail("currency %q is not an ISO 4217 code", clip(m.Currency))
	}
	for _, b := range []string{m.OpeningBalance, m.ClosingBalance} {
		if b != "" && !plainDecimal(b) {
			return fail("balance %q is not a plain decimal such as -1234.56", clip(b))
		}
	}
	layout, err := dateLayout(m.DateFormat)
	if err != nil {
		return fail("%s", err)
	}
	l.layout = layout
	if m.Columns.Mark != "" {
		l.marks = map[string]bool{}
		for _, v := range m.DebitMarks {
			l.marks[v] = true
		}
		for _, v := range m.CreditMarks {
			if l.marks[v] {
				return fail("mark %q is both a debit and a credit mark", clip(v))
			}
			l.marks[v] = false
		}
	}
	return l, nil
}

func (l csvLayout) checkSyntax() error {
	d := l.Delimiter
	switch {
	case d >= utf8.RuneSelf || d == '"' || d == '\r' || d == '\n':
		return fmt.Errorf("delimiter %q is not an ASCII character other than a quote or line break", d)
	case l.Decimal != '.' && l.Decimal != ',':
		return fmt.Errorf("decimal separator %q is not '.' or ','", l.Decimal)
	case l.Thousands != 0 && (l.Thousands == l.Decimal || !strings.ContainsRune(".,' ", l.Thousands)):
		return fmt.Errorf("thousands separator %q is not one of . , ' or space, other than the decimal separator", l.Thousands)
	case l.SkipLines < 0 || l.SkipLines > 1000:
		return fmt.Errorf("skip_lines %d is not between 0 and 1000", l.SkipLines)
	}
	switch strings.ToLower(l.Encoding) {
	case "", "utf-8", "utf8", "windows-1252", "cp1252", "iso-8859-1", "latin1":
		return nil
	}
	return fmt.Errorf("encoding %q is not UTF-8 or windows-1252", clip(l.Encoding))
}

func (l csvLayout) checkColumns() error {
	c := l.Columns
	switch {
	case c.BookingDate == "":
		return errors.New("no booking_date column")
	case c.Amount == "" && (c.Debit == "" || c.Credit == ""):
		return errors.New("no amount column, nor both debit and credit columns")
	case c.Amount != "" && (c.Debit != "" || c.Credit != ""):
		return errors.New("both an amount column and debit/credit columns")
	case c.Mark != "" && c.Amount == "":
		return errors.New("a mark column needs an amount column")
	case c.Mark != "" && (len(l.DebitMarks) == 0 || len(l.CreditMarks) == 0):
		return errors.New("a mark column needs debit_marks and credit_marks")
	case c.Currency == "" && l.Currency == "":
		return errors.New("no currency column and no fixed currency")
	case c.Balance != "" && (l.OpeningBalance != "" || l.ClosingBalance != ""):
		return errors.New("both a balance column and fixed balances")
	case (l.OpeningBalance == "") != (l.ClosingBalance == ""):
		return errors.New("a fixed opening balance needs a fixed closing balance, and the other way round")
	}
	return l.checkColumnNames()
}

// checkColumnNames checks "#N" names, the only ones a file without a
// header can use.
func (l csvLayout) checkColumnNames() error {
	for _, name := range l.Columns.names() {
		if n, ok := strings.CutPrefix(name, "#"); ok {
			if i, err := strconv.Atoi(n); err != nil || i < 1 || i > 1000 {
				return fmt.Errorf("column %q is not #1 … #1000", clip(name))
			}
		} else if l.NoHeader {
			return fmt.Errorf("column %q: a file without a header names its columns #N", clip(name))
		}
	}
	return nil
}

// names lists the columns the mapping reads.
func (c Columns) names() []string {
	var out []string
	for _, n := range []string{c.BookingDate, c.ValueDate, c.Amount, c.Mark, c.Debit, c.Credit, c.Currency, c.Account,
		c.Balance, c.Reference, c.EndToEndID, c.Remittance, c.CounterpartyName, c.CounterpartyAccount, c.BankTxCode} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// dateLayout turns "DD.MM.YYYY" into Go's "02.01.2006".
func dateLayout(f string) (string, error) {
	var b strings.Builder
	seen := map[string]bool{}
	for i := 0; i < len(f); {
		tok := ""
		for _, t := range []string{"YYYY", "YY", "MM", "DD"} {
			if strings.HasPrefix(f[i:], t) {
				tok = t
				break
			}
		}
		switch {
		case tok != "":
			if seen[tok[:1]] {
				return "", fmt.Errorf("date format %q names %s twice", clip(f), tok)
			}
			seen[tok[:1]] = true
			b.WriteString(map[string]string{"YYYY": "2006", "YY": "06", "MM": "01", "DD": "02"}[tok])
			i += len(tok)
		case strings.IndexByte("./- ", f[i]) >= 0:
			b.WriteByte(f[i])
			i++
		default:
			return "", fmt.Errorf("date format %q: only DD, MM, YYYY, YY and . / - space are understood", clip(f))
		}
	}
	if !seen["Y"] || !seen["M"] || !seen["D"] {
		return "", fmt.Errorf("date format %q needs a day, a month and a year", clip(f))
	}
	return b.String(), nil
}

// plainDecimal accepts "-1234.56" and "1234": the form of fixed balances.
func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, point := strings.Cut(s, ".")
	return whole != "" && digits(whole) && digits(frac) && (!point || frac != "")
}
