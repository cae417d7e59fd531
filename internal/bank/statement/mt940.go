package statement

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ParseMT940 reads a SWIFT MT940 file: one Statement per message, from its
// :20: to its closing :62F: (or :62M: for one page of a statement split over
// several messages; each page is a Statement of its own). Messages may be
// wrapped in SWIFT blocks ({1:}{2:}{4: … -}) or follow one another bare, as
// banks deliver them over EBICS.
//
// Lines are bounded by lim.MaxLine, and so is each field with its
// continuation lines. Text that is not valid UTF-8 is read as
// Windows-1252. A bad :61: (and the :86: that belongs to it) is left out
// and listed in a *LineErrors returned with the statements, as is a
// statement without its account or balances; a file with no :20: at all
// is refused with ErrFormat, one beyond lim with ErrTooLarge.
func ParseMT940(file string, r io.Reader, lim Limits) ([]Statement, error) {
	lim = lim.withDefaults()
	lr := &lineReader{br: bufio.NewReaderSize(newSizeLimit(r, lim.MaxBytes), lim.MaxLine+2), max: lim.MaxLine}
	p := &mtParser{file: file, lim: lim, errs: newCollector(file, lim.MaxErrors)}
	if err := p.run(lr); err != nil {
		return nil, err
	}
	if len(p.out) == 0 {
		return nil, fatal(file, 0, "", "no :20: field", ErrFormat)
	}
	return p.out, p.errs.err()
}

// lineReader yields lines without their line ending, numbered from 1.
type lineReader struct {
	br  *bufio.Reader
	no  int
	max int
}

// next returns the next line, io.EOF after the last, or an error wrapping
// ErrTooLarge for a line longer than max bytes.
func (l *lineReader) next() (string, error) {
	b, err := l.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("a line longer than %s: %w", size(int64(l.max)), ErrTooLarge)
	case err != nil && !errors.Is(err, io.EOF):
		return "", err
	case len(b) == 0:
		return "", io.EOF
	}
	l.no++
	return strings.TrimRight(string(b), "\r\n"), nil
}

type mtParser struct {
	file  string
	lim   Limits
	errs  *collector
	out   []Statement
	st    *mtStmt
	cur   *mtField // the field whose continuation lines may follow
	prev  string   // the tag of the last field, to tie :86: to its :61:
	items int      // :61: fields read, against MaxEntries
}

// mtField is one tagged field with its continuation lines.
type mtField struct {
	tag   string
	line  int
	lines []string
	size  int
}

// mtStmt is a statement being read.
type mtStmt struct {
	s    Statement
	ccy  string // from :60F:, for the entries
	last *Entry // the entry the next :86: belongs to; nil after a bad :61:
	seen map[string]bool
}

func (p *mtParser) run(lr *lineReader) error {
	for {
		raw, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p.readError(lr.no+1, err)
		}
		if err := p.line(lr.no, toUTF8(raw)); err != nil {
			return err
		}
	}
	if err := p.flush(); err != nil {
		return err
	}
	p.closeStatement()
	return nil
}

func (p *mtParser) readError(line int, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fatal(p.file, line, "", strings.TrimSuffix(err.Error(), ": "+ErrTooLarge.Error()), ErrTooLarge)
	}
	return fmt.Errorf("%s: read: %w", p.file, err)
}

// line handles one line: a SWIFT block wrapper, the "-" that ends a
// message, a new tagged field, or a continuation of the current field.
func (p *mtParser) line(no int, l string) error {
	rest, end := stripBlocks(l)
	switch {
	case end:
		if err := p.flush(); err != nil {
			return err
		}
		p.closeStatement()
	case strings.TrimSpace(rest) == "":
		// blank, or only block headers and trailers
	case isTag(rest):
		if err := p.flush(); err != nil {
			return err
		}
		tag, content, _ := strings.Cut(rest[1:], ":")
		p.cur = &mtField{tag: tag, line: no, lines: []string{content}, size: len(content)}
	case p.cur != nil:
		if p.cur.size += len(rest); p.cur.size > p.lim.MaxLine {
			return fatal(p.file, p.cur.line, ":"+p.cur.tag+":", fmt.Sprintf("a field longer than %s", size(int64(p.lim.MaxLine))), ErrTooLarge)
		}
		p.cur.lines = append(p.cur.lines, rest)
	default:
		p.errs.add(no, "", "text outside a field")
	}
	return nil
}

// stripBlocks removes SWIFT block headers ({1:…}{2:…}{3:{…}}) and the
// opening of the text block ({4:) from the start of a line, and reports a
// line that ends a message ("-", "-}", "-}{5:…}").
func stripBlocks(l string) (string, bool) {
	if t := strings.TrimSpace(l); t == "-" || strings.HasPrefix(t, "-}") {
		return "", true
	}
	for strings.HasPrefix(l, "{") {
		if strings.HasPrefix(l, "{4:") {
			return l[3:], false
		}
		depth, i := 0, 0
		for ; i < len(l); i++ {
			if l[i] == '{' {
				depth++
			} else if l[i] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if i == len(l) {
			return l, false // an unclosed block: left for the caller to refuse
		}
		l = l[i+1:]
	}
	return l, false
}

// isTag reports a line that starts a field: ":NN:" or ":NNa:".
func isTag(l string) bool {
	if len(l) < 4 || l[0] != ':' || !digits(l[1:3]) {
		return false
	}
	return l[3] == ':' || len(l) >= 5 && l[3] >= 'A' && l[3] <= 'Z' && l[4] == ':'
}

// flush processes the field collected so far.
func (p *mtParser) flush() error {
	f := p.cur
	if f == nil {
		return nil
	}
	p.cur = nil
	defer func() { p.prev = f.tag }()
	if f.tag == "20" {
		return p.openStatement(f)
	}
	if p.st == nil {
		p.errs.add(f.line, ":"+f.tag+":", "field outside a statement (no :20: before it)")
		return nil
	}
	p.st.seen[f.tag] = true
	switch f.tag {
	case "25", "28C", "28":
		v := strings.TrimSpace(strings.Join(f.lines, ""))
		if len(v) > p.lim.MaxField {
			p.errs.add(f.line, ":"+f.tag+":", fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		} else if f.tag == "25" {
			p.st.s.Account = mtAccount(v)
		} else {
			p.st.s.Sequence = v
		}
	case "60F", "60M":
		p.opening(f)
	case "61":
		return p.entry(f)
	case "86":
		p.info(f)
	case "62F", "62M":
		p.closing(f)
	}
	return nil
}

func (p *mtParser) openStatement(f *mtField) error {
	p.closeStatement()
	if len(p.out) >= p.lim.MaxStatements {
		return fatal(p.file, f.line, ":20:", fmt.Sprintf("more than %d statements", p.lim.MaxStatements), ErrTooLarge)
	}
	id := strings.TrimSpace(strings.Join(f.lines, ""))
	if len(id) > p.lim.MaxField {
		p.errs.add(f.line, ":20:", fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		id = ""
	}
	p.st = &mtStmt{s: Statement{Format: MT940, File: p.file, Line: f.line, ID: id}, seen: map[string]bool{}}
	return nil
}

// closeStatement ends the open statement, if any, listing the fields it
// lacks; it is kept all the same, and the checks skip what it lacks.
func (p *mtParser) closeStatement() {
	st := p.st
	if st == nil {
		return
	}
	p.st = nil
	for _, need := range []struct{ tags, what string }{
		{"25", ":25: account identification"},
		{"60F 60M", ":60F: opening balance"},
		{"62F 62M", ":62F: closing balance"},
	} {
		found := false
		for _, t := range strings.Fields(need.tags) {
			found = found || st.seen[t]
		}
		if !found {
			p.errs.add(st.s.Line, ":20:", "the statement has no "+need.what)
		}
	}
	st.s.Currency = st.ccy
	if st.s.Currency == "" && st.s.ClosingBalance.Valid {
		st.s.Currency = st.s.ClosingBalance.Currency
	}
	settlePeriod(&st.s, true)
	p.out = append(p.out, st.s)
}

// mtAccount reads :25:, written as an IBAN, "BLZ/account", "BIC/IBAN", or
// an IBAN followed by its currency (some banks append it).
func mtAccount(v string) Account {
	v = strings.TrimSpace(v)
	last := v[strings.LastIndex(v, "/")+1:]
	for _, c := range []string{last, strings.TrimRight(last, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")} {
		if a := ParseAccount(c); a.IBAN != "" {
			return a
		}
	}
	return Account{Number: v}
}

// mtBalance reads a balance field: D/C mark, YYMMDD, currency, amount
// ("C261201EUR1234,56").
func mtBalance(v string) (Balance, string) {
	v = strings.TrimSpace(v)
	if len(v) < 11 || (v[0] != 'C' && v[0] != 'D') {
		return Balance{}, "expected a D/C mark, YYMMDD, a currency and an amount"
	}
	d, ok := yymmdd(v[1:7])
	if !ok {
		return Balance{}, fmt.Sprintf("%q is not a date (YYMMDD)", v[1:7])
	}
	amt, ok := commaDecimal(v[10:])
	if !ok {
		return Balance{}, fmt.Sprintf("%q is not an amount with a decimal comma", clip(v[10:]))
	}
	m, reason := amountOf(amt, v[7:10], v[0] == 'D')
	if reason != "" {
		return Balance{}, reason
	}
	return Balance{Money: m, Date: d, Valid: true}, ""
}

// yymmdd parses SWIFT's six-digit date; years 69–99 are 19xx, as in Go's
// own two-digit year rule.
func yymmdd(s string) (time.Time, bool) {
	if len(s) != 6 || !digits(s) {
		return time.Time{}, false
	}
	t, err := time.Parse("060102", s)
	return t, err == nil
}

func (p *mtParser) opening(f *mtField) {
	b, reason := mtBalance(strings.Join(f.lines, ""))
	if reason != "" {
		p.errs.add(f.line, ":"+f.tag+":", reason)
		return
	}
	p.st.s.OpeningBalance, p.st.ccy = b, b.Currency
}

func (p *mtParser) closing(f *mtField) {
	b, reason := mtBalance(strings.Join(f.lines, ""))
	if reason == "" && p.st.ccy != "" && b.Currency != p.st.ccy {
		reason = fmt.Sprintf("closing balance in %s, opening balance in %s", b.Currency, p.st.ccy)
	}
	if reason != "" {
		p.errs.add(f.line, ":"+f.tag+":", reason)
		return
	}
	p.st.s.ClosingBalance = b
}
