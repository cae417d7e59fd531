package statement

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
	"golang.org/x/text/encoding/charmap"
)

// ParseCSV reads a bank's CSV export, laid out as m says, as one Statement
// (a CSV export is one account over one period). Its ID is the file name,
// its period runs from the earliest to the latest booking date, and its
// balances come from a running-balance column, from the mapping, or not at
// all (then Check notes that it skipped the balance checks).
//
// Records are bounded by lim.MaxLine and read with encoding/csv (quoted
// fields may hold the delimiter and line breaks). A row that cannot be
// read is left out and listed in a *LineErrors returned with the
// statement; an unusable mapping fails with ErrMapping, a header that
// lacks a mapped column with ErrFormat, a file beyond lim with ErrTooLarge.
func ParseCSV(file string, r io.Reader, m Mapping, lim Limits) ([]Statement, error) {
	l, err := m.compile()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	lim = lim.withDefaults()
	var in io.Reader = newSizeLimit(r, lim.MaxBytes)
	if enc := strings.ToLower(l.Encoding); enc != "" && enc != "utf-8" && enc != "utf8" {
		in = charmap.Windows1252.NewDecoder().Reader(in)
	}
	br := bufio.NewReaderSize(in, lim.MaxLine+2)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3) // a byte order mark
	}
	lr := &lineReader{br: br, max: lim.MaxLine}
	for range l.SkipLines {
		if _, err := lr.next(); err != nil {
			return nil, csvReadError(file, lr.no+1, err)
		}
	}
	rl := &recordLimit{r: br, file: file, delim: byte(l.Delimiter), max: lim.MaxLine, base: lr.no}
	cr := csv.NewReader(rl)
	cr.Comma = l.Delimiter
	cr.FieldsPerRecord = -1 // rows may be short; a missing value is reported by column
	cr.ReuseRecord = true
	p := &csvParser{file: file, lim: lim, l: l, cr: cr, rl: rl, base: lr.no, errs: newCollector(file, lim.MaxErrors),
		s: Statement{Format: CSV, File: file, ID: file, Line: lr.no + 1}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return []Statement{p.s}, p.errs.err()
}

func csvReadError(file string, line int, err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return fatal(file, line, "", "the file ends before its header", ErrFormat)
	case errors.Is(err, ErrTooLarge):
		var le *LineError
		if errors.As(err, &le) {
			return le
		}
		return fatal(file, line, "", strings.TrimSuffix(err.Error(), ": "+ErrTooLarge.Error()), ErrTooLarge)
	}
	return fmt.Errorf("%s: read: %w", file, err)
}

type csvParser struct {
	file string
	lim  Limits
	l    csvLayout
	cr   *csv.Reader
	rl   *recordLimit
	base int // lines before the CSV reader's first
	errs *collector
	idx  map[string]int // each mapped column's index

	s        Statement
	ccy      string
	account  string
	balances []csvBalance // of the first and the latest good row
}

// csvBalance is a row's running balance with the row's amount and date.
type csvBalance struct {
	line    int
	balance money.Money
	amount  money.Money
	date    time.Time
}

// next returns the next non-blank record and its line, io.EOF at the end,
// a *LineError for a malformed record (reading may go on), or a fatal
// error.
func (p *csvParser) next() ([]string, int, error) {
	for {
		rec, err := p.cr.Read()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			return nil, 0, &LineError{File: p.file, Line: p.base + pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()}
		case errors.Is(err, io.EOF):
			return nil, 0, io.EOF
		case err != nil:
			return nil, 0, csvReadError(p.file, p.rl.base+p.rl.lines+1, err)
		}
		if blank(rec) {
			continue
		}
		line, _ := p.cr.FieldPos(0)
		return rec, p.base + line, nil
	}
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func (p *csvParser) run() error {
	if err := p.header(); err != nil {
		return err
	}
	for rows := 0; ; {
		rec, line, err := p.next()
		var le *LineError
		switch {
		case errors.Is(err, io.EOF):
			p.finish()
			return nil
		case errors.As(err, &le) && le.Err == nil:
			p.errs.add(le.Line, "", le.Reason)
			continue
		case err != nil:
			return err
		case p.l.EndMarker != "" && strings.HasPrefix(strings.TrimSpace(rec[0]), p.l.EndMarker):
			p.finish()
			return nil
		}
		if rows++; rows > p.lim.MaxEntries {
			return fatal(p.file, line, "", fmt.Sprintf("more than %d rows", p.lim.MaxEntries), ErrTooLarge)
		}
		p.row(rec, line)
	}
}

// header reads the header row, if the file has one, and finds each
// mapped column.
func (p *csvParser) header() error {
	var names map[string]int
	line := p.s.Line
	if !p.l.NoHeader {
		rec, l, err := p.next()
		var le *LineError
		switch {
		case errors.Is(err, io.EOF):
			return fatal(p.file, line, "", "no header row", ErrFormat)
		case errors.As(err, &le) && le.Err == nil:
			le.Err = ErrFormat
			return le
		case err != nil:
			return err
		}
		p.s.Line, line = l, l
		names = map[string]int{}
		for i, h := range rec {
			h = strings.TrimSpace(strings.TrimPrefix(toUTF8(h), "\ufeff"))
			if _, dup := names[h]; dup {
				names[h] = -1
			} else {
				names[h] = i
			}
		}
	}
	p.idx = map[string]int{}
	for _, col := range p.l.Columns.names() {
		if n, ok := strings.CutPrefix(col, "#"); ok {
			p.idx[col], _ = strconv.Atoi(n) // checked by compile
			p.idx[col]--
			continue
		}
		switch i, ok := names[col]; {
		case !ok:
			return fatal(p.file, line, col, "the header has no such column", ErrFormat)
		case i < 0:
			return fatal(p.file, line, col, "the header names this column twice; name it #N in the mapping", ErrFormat)
		default:
			p.idx[col] = i
		}
	}
	return nil
}

// get returns a mapped column's value in rec, "" when the row is short or
// the mapping has no such column.
func (p *csvParser) get(rec []string, col string) string {
	i, ok := p.idx[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(toUTF8(rec[i]))
}

func (p *csvParser) row(rec []string, line int) {
	e, bal, col, reason := p.entry(rec)
	if reason == "" {
		reason, col = p.sameStatement(rec, e)
	}
	if reason != "" {
		p.errs.add(line, col, reason)
		return
	}
	e.Line = line
	p.s.Entries = append(p.s.Entries, e)
	if bal != nil {
		b := csvBalance{line: line, balance: *bal, amount: e.Amount, date: e.BookingDate}
		if len(p.balances) < 2 {
			p.balances = append(p.balances, b)
		} else {
			p.balances[1] = b
		}
	}
}

// sameStatement checks that a row belongs with the rows before it: same
// currency, same account.
func (p *csvParser) sameStatement(rec []string, e Entry) (reason, col string) {
	if p.ccy == "" {
		p.ccy = e.Amount.Currency
	} else if e.Amount.Currency != p.ccy {
		return fmt.Sprintf("%s where earlier rows are in %s: one file is one account in one currency", e.Amount.Currency, p.ccy), p.l.Columns.Currency
	}
	c := p.l.Columns.Account
	if c == "" {
		return "", ""
	}
	switch a := p.get(rec, c); {
	case len(a) > p.lim.MaxField:
		return fmt.Sprintf("longer than %d bytes", p.lim.MaxField), c
	case a == "":
	case p.account == "":
		p.account = a
	case a != p.account:
		return fmt.Sprintf("account %q where earlier rows are for %q", clip(a), clip(p.account)), c
	}
	return "", ""
}

// entry reads one row. col and reason name its first problem.
func (p *csvParser) entry(rec []string) (e Entry, bal *money.Money, col, reason string) {
	c := p.l.Columns
	e.Status = Booked
	if e.BookingDate, reason = p.date(p.get(rec, c.BookingDate)); reason != "" {
		return e, nil, c.BookingDate, reason
	}
	e.ValueDate = e.BookingDate
	if v := p.get(rec, c.ValueDate); v != "" {
		if e.ValueDate, reason = p.date(v); reason != "" {
			return e, nil, c.ValueDate, reason
		}
	}
	ccy := p.l.Currency
	if v := p.get(rec, c.Currency); v != "" {
		ccy = v
	}
	if !money.Known(ccy) {
		return e, nil, c.Currency, fmt.Sprintf("currency %q is not an ISO 4217 code", clip(ccy))
	}
	if e.Amount, col, reason = p.amount(rec, ccy); reason != "" {
		return e, nil, col, reason
	}
	if v := p.get(rec, c.Balance); v != "" {
		m, reason := p.signed(v, ccy)
		if reason != "" {
			return e, nil, c.Balance, reason
		}
		bal = &m
	}
	col, reason = p.refs(rec, &e.Refs)
	return e, bal, col, reason
}

func (p *csvParser) date(v string) (time.Time, string) {
	t, err := time.Parse(p.l.layout, v)
	if err != nil {
		return time.Time{}, fmt.Sprintf("%q is not a date in the form %s", clip(v), p.l.DateFormat)
	}
	return t, ""
}

// signed reads an amount that carries its own sign.
func (p *csvParser) signed(v, ccy string) (money.Money, string) {
	canon, neg, ok := p.l.decimal(v)
	if !ok {
		return money.Money{}, p.l.notAmount(v)
	}
	return amountOf(canon, ccy, neg)
}

// amount reads the row's signed amount from the mapped column(s).
func (p *csvParser) amount(rec []string, ccy string) (m money.Money, col, reason string) {
	c := p.l.Columns
	if c.Amount != "" {
		v := p.get(rec, c.Amount)
		if c.Mark == "" {
			m, reason = p.signed(v, ccy)
			return m, c.Amount, reason
		}
		canon, neg, ok := p.l.decimal(v)
		if !ok || neg {
			return m, c.Amount, p.l.notAmount(v) + " without a sign"
		}
		mark := p.get(rec, c.Mark)
		debit, known := p.l.marks[mark]
		if !known {
			return m, c.Mark, fmt.Sprintf("%q is neither a debit nor a credit mark", clip(mark))
		}
		m, reason = amountOf(canon, ccy, debit)
		return m, c.Amount, reason
	}
	var debit, credit money.Money
	given := 0
	for _, side := range []struct {
		col string
		dst *money.Money
	}{{c.Debit, &debit}, {c.Credit, &credit}} {
		if v := p.get(rec, side.col); v != "" {
			given++
			if *side.dst, reason = p.signed(v, ccy); reason != "" {
				return m, side.col, reason
			}
		}
	}
	switch {
	case given == 0:
		return m, c.Debit, "neither a debit nor a credit amount"
	case debit.Minor != 0 && credit.Minor != 0:
		return m, c.Credit, "both a debit and a credit amount"
	case credit.Minor < 0:
		return m, c.Credit, "a negative credit amount"
	case debit.Minor > 0:
		debit.Minor = -debit.Minor // written without its minus sign
	}
	return money.Money{Minor: debit.Minor + credit.Minor, Currency: ccy}, "", ""
}

// refs reads the text columns, each within MaxField.
func (p *csvParser) refs(rec []string, r *Refs) (col, reason string) {
	c := p.l.Columns
	for _, f := range []struct {
		col string
		dst *string
	}{
		{c.Reference, &r.Reference}, {c.EndToEndID, &r.EndToEndID}, {c.Remittance, &r.RemittanceInfo},
		{c.CounterpartyName, &r.CounterpartyName}, {c.CounterpartyAccount, &r.CounterpartyAccount}, {c.BankTxCode, &r.BankTxCode},
	} {
		if f.col == "" {
			continue
		}
		v := p.get(rec, f.col)
		if len(v) > p.lim.MaxField {
			return f.col, fmt.Sprintf("longer than %d bytes", p.lim.MaxField)
		}
		*f.dst = v
	}
	r.Reference, r.EndToEndID = dropNone(r.Reference), dropNone(r.EndToEndID)
	return "", ""
}

// finish sets the statement's currency, account, balances and period.
func (p *csvParser) finish() {
	s := &p.s
	s.Currency = p.ccy
	if s.Currency == "" {
		s.Currency = p.l.Currency
	}
	if p.account == "" {
		p.account = p.l.Account
	}
	s.Account = ParseAccount(p.account)
	switch {
	case p.l.Columns.Balance != "" && len(p.balances) > 0:
		p.balancesFromColumn()
	case p.l.OpeningBalance != "":
		p.fixedBalances()
	}
	settlePeriod(s, false)
}

// balancesFromColumn derives the balances from the running balance of the
// oldest and newest rows: the opening is the oldest row's balance before
// its own amount.
func (p *csvParser) balancesFromColumn() {
	oldest, newest := p.balances[0], p.balances[len(p.balances)-1]
	if p.l.NewestFirst {
		oldest, newest = newest, oldest
	}
	open, err := oldest.balance.Sub(oldest.amount)
	if err != nil {
		p.errs.add(oldest.line, p.l.Columns.Balance, "the opening balance is out of range")
		return
	}
	p.s.OpeningBalance = Balance{Money: open, Date: oldest.date, Valid: true}
	p.s.ClosingBalance = Balance{Money: newest.balance, Date: newest.date, Valid: true}
}

func (p *csvParser) fixedBalances() {
	if p.s.Currency == "" {
		p.errs.add(0, "", "the mapping's balances have no currency: the file has no rows")
		return
	}
	var bs [2]Balance
	for i, v := range []string{p.l.OpeningBalance, p.l.ClosingBalance} {
		m, err := money.ParseMajor(v, p.s.Currency, true)
		if err == nil {
			err = money.CheckCeiling(m)
		}
		if err != nil {
			p.errs.add(0, "", fmt.Sprintf("mapping balance %q: %v", clip(v), err))
			return
		}
		bs[i] = Balance{Money: m, Valid: true}
	}
	p.s.OpeningBalance, p.s.ClosingBalance = bs[0], bs[1]
}

// decimal reads an amount in the mapping's notation ("-1.234,56",
// "1234.56", "12,50-") into canonical form and its sign. Digit groups must
// be of three.
func (l csvLayout) decimal(v string) (canon string, neg, ok bool) {
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	case strings.HasSuffix(v, "-"): // trailing minus, as some German exports write debits
		neg, v = true, v[:len(v)-1]
	}
	whole, frac, point := strings.Cut(v, string(l.Decimal))
	if point && frac == "" || !digits(frac) {
		return "", false, false
	}
	if l.Thousands != 0 && strings.ContainsRune(whole, l.Thousands) {
		groups := strings.Split(whole, string(l.Thousands))
		for i, g := range groups {
			if g == "" || len(g) > 3 || i > 0 && len(g) != 3 {
				return "", false, false
			}
		}
		whole = strings.Join(groups, "")
	}
	if whole == "" || !digits(whole) {
		return "", false, false
	}
	if frac != "" {
		whole += "." + frac
	}
	return whole, neg, true
}

func (l csvLayout) notAmount(v string) string {
	ex := "-1234.56"
	if l.Decimal == ',' {
		ex = "-1234,56"
	}
	return fmt.Sprintf("%q is not an amount such as %s", clip(v), ex)
}

// recordLimit passes a CSV stream on and fails, wrapping ErrTooLarge, once
// one record is longer than max bytes. It follows quoting as encoding/csv
// does (a quote opens a field only at its start; "" inside one is a
// quote), so a line break inside a quoted field does not end the record.
type recordLimit struct {
	r     io.Reader
	file  string
	delim byte
	max   int
	base  int // lines before the stream's first
	n     int // bytes of the current record
	state int
	start int // line the current record starts on
	lines int // line breaks seen
}

const (
	fieldStart = iota
	unquoted
	quoted
	quoteInQuoted
)

func (l *recordLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if l.n == 0 {
			l.start = l.lines + 1
		}
		l.n++
		if c == '\n' {
			l.lines++
		}
		if l.step(c) {
			l.n, l.state = 0, fieldStart
			continue
		}
		if l.n > l.max {
			return i, fatal(l.file, l.base+l.start, "", fmt.Sprintf("a record longer than %s", size(int64(l.max))), ErrTooLarge)
		}
	}
	return n, err
}

// step advances the quoting state by one byte and reports a record's end.
func (l *recordLimit) step(c byte) bool {
	switch l.state {
	case quoted:
		if c == '"' {
			l.state = quoteInQuoted
		}
		return false
	case fieldStart:
		if c == '"' {
			l.state = quoted
			return false
		}
	case quoteInQuoted:
		if c == '"' {
			l.state = quoted // an escaped quote
			return false
		}
	}
	switch c {
	case l.delim:
		l.state = fieldStart
	case '\n':
		return true
	default:
		l.state = unquoted
	}
	return false
}
