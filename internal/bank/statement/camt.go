package statement

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
	"golang.org/x/text/encoding/charmap"
)

// ParseCamt053 reads an ISO 20022 camt.053 (BankToCustomerStatement)
// document: one Statement per <Stmt>. Elements are matched by local name,
// so every version's namespace is accepted (.001.02 and .001.08 are tested;
// the elements read have kept their names and places since .001.02).
//
// It streams with encoding/xml rather than decoding into
// github.com/moov-io/iso20022's types: the version the module proxy serves
// (v0.2.1) has no camt.053.001.02 package, decodes a whole document held in
// a []byte into a tree, and brings a 24 MB module with cobra, go-kit and
// pkger, for the thirty-odd elements a statement's balances and references
// need. A token stream keeps memory bounded by Limits whatever the size of
// the document, and gives each problem a line.
//
// Each token, tag or text run, is bounded by lim.MaxLine, and a value kept
// by lim.MaxField. Go's decoder expands no entities but the five
// predefined ones, so no document can grow in memory beyond its bytes.
//
// A bad entry (amount, indicator, date, a value too long) is left out and
// listed in a *LineErrors returned with the statements; a statement-level
// problem (a bad balance, no account) is listed too and the statement kept.
// Malformed XML, a document that is not camt.053, or one beyond lim is
// refused whole: a *LineError wrapping ErrFormat or ErrTooLarge.
func ParseCamt053(file string, r io.Reader, lim Limits) ([]Statement, error) {
	lim = lim.withDefaults()
	br := bufio.NewReader(newSizeLimit(r, lim.MaxBytes))
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3) // a byte order mark, which encoding/xml refuses
	}
	tl := &tokenLimit{r: br, max: int64(lim.MaxLine)}
	dec := xml.NewDecoder(tl)
	dec.CharsetReader = charsetReader
	p := &camtParser{file: file, lim: lim, dec: dec, tl: tl, errs: newCollector(file, lim.MaxErrors)}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.out, p.errs.err()
}

// charsetReader accepts the Latin-1 family besides UTF-8; ISO 20022 asks
// for UTF-8, but an XML declaration may name another encoding.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "latin1", "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(input), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", clip(label))
}

// tokenLimit fails a read once the decoder has consumed more than max
// bytes since the end of the last token it returned. xml.Decoder reads
// through a bufio.Reader that only asks for more once its buffer is used
// up, so at every Read the bytes passed on so far all belong to tokens,
// and n-mark is exactly the size of the token in progress.
type tokenLimit struct {
	r    io.Reader
	n    int64 // bytes passed on
	mark int64 // input offset where the current token began
	max  int64
	err  error // a failure of the input itself, not of its content
}

func (t *tokenLimit) Read(p []byte) (int, error) {
	if t.n-t.mark > t.max {
		return 0, fmt.Errorf("an XML tag or text longer than %s: %w", size(t.max), ErrTooLarge)
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrTooLarge) {
		t.err = err
	}
	return n, err
}

// maxDepth bounds element nesting; the deepest path a statement uses is
// about fifteen elements.
const maxDepth = 64

type camtParser struct {
	file  string
	lim   Limits
	dec   *xml.Decoder
	tl    *tokenLimit
	errs  *collector
	stack []camtFrame
	text  []byte // text of the innermost element since its last child
	long  bool   // text went beyond lim.MaxField
	done  bool   // the root element has ended
	items int    // entries and transaction details read, against MaxEntries

	created time.Time // GrpHdr/CreDtTm, for statements without their own
	out     []Statement
	st      *camtStmt
	bal     *camtBal
	ntry    *camtEntry
	tx      *camtTx
}

type camtFrame struct {
	name string
	line int
	ccy  string // the Ccy attribute, for amounts
}

// firstErr keeps the first problem of an entry or balance: the one that
// tells the reader what to fix.
type firstErr struct {
	set       bool
	errLine   int
	errField  string
	errReason string
}

func (f *firstErr) fail(line int, field, reason string) {
	if !f.set {
		*f = firstErr{set: true, errLine: line, errField: field, errReason: reason}
	}
}

func (p *camtParser) run() error {
	for {
		tok, err := p.dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p.readError(err)
		}
		p.tl.mark = p.dec.InputOffset()
		switch t := tok.(type) {
		case xml.StartElement:
			err = p.start(t)
		case xml.EndElement:
			err = p.end()
		case xml.CharData:
			p.addText(t)
		}
		if err != nil {
			return err
		}
	}
	if len(p.out) == 0 {
		return fatal(p.file, p.line(), "", "no <Stmt> in the document", ErrFormat)
	}
	return nil
}

func (p *camtParser) line() int {
	l, _ := p.dec.InputPos()
	return l
}

func (p *camtParser) readError(err error) error {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, ErrTooLarge):
		return fatal(p.file, p.line(), p.path(), strings.TrimSuffix(err.Error(), ": "+ErrTooLarge.Error()), ErrTooLarge)
	case p.tl.err != nil:
		return fmt.Errorf("%s: read: %w", p.file, p.tl.err)
	case errors.As(err, &se):
		return fatal(p.file, se.Line, p.path(), "malformed XML: "+se.Msg, ErrFormat)
	}
	return fatal(p.file, p.line(), p.path(), err.Error(), ErrFormat)
}

// path is the element path of the innermost open element.
func (p *camtParser) path() string {
	names := make([]string, len(p.stack))
	for i, f := range p.stack {
		names[i] = f.name
	}
	return strings.Join(names, "/")
}

// rel is the path of the innermost element below the context element
// open at depth d ("Amt", "RltdPties/Dbtr/Nm").
func (p *camtParser) rel(d int) string {
	names := make([]string, 0, len(p.stack)-d-1)
	for _, f := range p.stack[d+1:] {
		names = append(names, f.name)
	}
	return strings.Join(names, "/")
}

func (p *camtParser) addText(t xml.CharData) {
	if p.long {
		return
	}
	if len(p.text)+len(t) > p.lim.MaxField {
		p.long = true
		return
	}
	p.text = append(p.text, t...)
}

// start opens an element and, for the elements that hold a statement, a
// balance, an entry or a transaction detail, the context its children
// fill in.
func (p *camtParser) start(t xml.StartElement) error {
	p.text, p.long = p.text[:0], false
	depth := len(p.stack)
	f := camtFrame{name: t.Name.Local, line: p.line()}
	for _, a := range t.Attr {
		if a.Name.Local == "Ccy" {
			f.ccy = a.Value
		}
	}
	p.stack = append(p.stack, f)
	if depth >= maxDepth {
		return fatal(p.file, f.line, p.path(), fmt.Sprintf("elements nested deeper than %d", maxDepth), ErrTooLarge)
	}
	parent := ""
	if depth > 0 {
		parent = p.stack[depth-1].name
	}
	switch {
	case depth == 0:
		return p.checkRoot(t)
	case depth == 1 && f.name != "BkToCstmrStmt":
		return fatal(p.file, f.line, p.path(), "not a BankToCustomerStatement (camt.053) document", ErrFormat)
	case depth == 2 && f.name == "Stmt":
		if len(p.out) >= p.lim.MaxStatements {
			return fatal(p.file, f.line, p.path(), fmt.Sprintf("more than %d statements", p.lim.MaxStatements), ErrTooLarge)
		}
		p.st = &camtStmt{depth: depth, s: Statement{Format: Camt053, File: p.file, Line: f.line}}
	case p.st == nil:
	case parent == "Stmt" && f.name == "Bal":
		p.bal = &camtBal{depth: depth, line: f.line}
	case parent == "Stmt" && f.name == "Ntry":
		return p.startEntry(depth, f.line)
	case p.ntry != nil && parent == "NtryDtls" && f.name == "TxDtls":
		return p.startTx(depth, f.line)
	}
	return nil
}

func (p *camtParser) checkRoot(t xml.StartElement) error {
	line := p.stack[0].line
	switch {
	case p.done:
		return fatal(p.file, line, t.Name.Local, "a second root element", ErrFormat)
	case t.Name.Local != "Document":
		return fatal(p.file, line, t.Name.Local, "the root element is not <Document>", ErrFormat)
	case t.Name.Space != "" && !strings.Contains(t.Name.Space, ":camt.053."):
		return fatal(p.file, line, "Document", fmt.Sprintf("namespace %q is not camt.053", clip(t.Name.Space)), ErrFormat)
	}
	return nil
}

// countItem counts an entry or transaction detail against MaxEntries,
// which bounds the whole file.
func (p *camtParser) countItem(line int) error {
	if p.items++; p.items > p.lim.MaxEntries {
		return fatal(p.file, line, p.path(), fmt.Sprintf("more than %d entries", p.lim.MaxEntries), ErrTooLarge)
	}
	return nil
}

func (p *camtParser) startEntry(depth, line int) error {
	p.ntry = &camtEntry{depth: depth, e: Entry{Line: line}}
	return p.countItem(line)
}

func (p *camtParser) startTx(depth, line int) error {
	p.tx = &camtTx{depth: depth, t: Transaction{Line: line}}
	return p.countItem(line)
}

// end closes the innermost element: its text goes to the innermost open
// context, and a context whose element this is is finished.
func (p *camtParser) end() error {
	depth := len(p.stack) - 1
	f := p.stack[depth]
	v := strings.TrimSpace(string(p.text))
	long := p.long
	p.text, p.long = p.text[:0], false
	if long {
		v = ""
	}
	fv := camtValue{v: v, line: f.line, ccy: f.ccy, path: p.path(), long: long}
	switch {
	case p.tx != nil && depth > p.tx.depth:
		fv.rel = p.rel(p.tx.depth)
		p.txField(fv)
	case p.ntry != nil && depth > p.ntry.depth:
		fv.rel = p.rel(p.ntry.depth)
		p.entryField(fv)
	case p.bal != nil && depth > p.bal.depth:
		fv.rel = p.rel(p.bal.depth)
		p.bal.read(p, fv)
	case p.st != nil && depth > p.st.depth:
		fv.rel = p.rel(p.st.depth)
		p.stmtField(fv)
	case depth == 3 && f.name == "CreDtTm" && p.stack[2].name == "GrpHdr":
		p.created, _ = isoDateTime(v)
	}
	p.stack = p.stack[:depth]
	switch {
	case p.tx != nil && depth == p.tx.depth:
		p.finishTx()
	case p.ntry != nil && depth == p.ntry.depth:
		p.finishEntry()
	case p.bal != nil && depth == p.bal.depth:
		p.finishBal()
	case p.st != nil && depth == p.st.depth:
		p.finishStmt()
	case depth == 0:
		p.done = true
	}
	return nil
}

// camtValue is the text of an element that just ended, with where it was.
type camtValue struct {
	v, rel, path, ccy string
	line              int
	long              bool
}

// camtStmt is a statement being read.
type camtStmt struct {
	s        Statement
	depth    int
	acctCcy  string
	from, to time.Time // FrToDt, when given
	opening  string    // the code the opening balance came from
}

func (p *camtParser) stmtProblem(fv camtValue, reason string) {
	p.errs.add(fv.line, fv.path, reason)
}

func (p *camtParser) stmtField(fv camtValue) {
	st := p.st
	if fv.long {
		p.stmtProblem(fv, fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		return
	}
	switch fv.rel {
	case "Id":
		st.s.ID = fv.v
	case "ElctrncSeqNb":
		st.s.Sequence = fv.v
	case "LglSeqNb":
		if st.s.Sequence == "" {
			st.s.Sequence = fv.v
		}
	case "CreDtTm":
		t, ok := isoDateTime(fv.v)
		if !ok {
			p.stmtProblem(fv, fmt.Sprintf("%q is not an ISO date and time", clip(fv.v)))
		}
		st.s.CreatedAt = t.UTC()
	case "FrToDt/FrDtTm", "FrToDt/ToDtTm":
		t, ok := isoDateTime(fv.v)
		if !ok {
			p.stmtProblem(fv, fmt.Sprintf("%q is not an ISO date and time", clip(fv.v)))
		} else if fv.rel == "FrToDt/FrDtTm" {
			st.from = dateOf(t)
		} else {
			st.to = dateOf(t)
		}
	case "Acct/Id/IBAN":
		st.s.Account = ParseAccount(fv.v)
	case "Acct/Id/Othr/Id":
		if st.s.Account.IBAN == "" {
			st.s.Account = Account{Number: fv.v}
		}
	case "Acct/Ccy":
		if !money.Known(fv.v) {
			p.stmtProblem(fv, fmt.Sprintf("unknown currency %q", clip(fv.v)))
		}
		st.acctCcy = fv.v
	}
}

func (p *camtParser) finishStmt() {
	st := p.st
	p.st = nil
	s := st.s
	if s.Account.String() == "" {
		p.errs.add(s.Line, p.path()+"/Stmt/Acct/Id", "the statement names no account")
	}
	s.Currency = st.acctCcy
	for _, b := range []Balance{s.OpeningBalance, s.ClosingBalance} {
		if s.Currency == "" && b.Valid {
			s.Currency = b.Currency
		}
	}
	if s.Currency == "" && len(s.Entries) > 0 {
		s.Currency = s.Entries[0].Amount.Currency
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = p.created.UTC()
	}
	if !st.from.IsZero() && !st.to.IsZero() {
		s.FromDate, s.ToDate = st.from, st.to
	} else {
		settlePeriod(&s, st.opening == "PRCD")
	}
	p.out = append(p.out, s)
}

// camtBal is a <Bal> being read.
type camtBal struct {
	depth, line int
	code        string
	amt         money.Money
	hasAmt      bool
	ind         string
	date        time.Time
	firstErr
}

func (b *camtBal) read(p *camtParser, fv camtValue) {
	if fv.long {
		b.fail(fv.line, fv.path, fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		return
	}
	switch fv.rel {
	case "Tp/CdOrPrtry/Cd":
		b.code = fv.v
	case "Amt":
		m, reason := amountOf(fv.v, fv.ccy, false)
		if reason != "" {
			b.fail(fv.line, fv.path, reason)
		}
		b.amt, b.hasAmt = m, reason == ""
	case "CdtDbtInd":
		b.ind = fv.v
	case "Dt/Dt":
		d, ok := isoDate(fv.v)
		if !ok {
			b.fail(fv.line, fv.path, fmt.Sprintf("%q is not an ISO date", clip(fv.v)))
		}
		b.date = d
	case "Dt/DtTm":
		t, ok := isoDateTime(fv.v)
		if !ok {
			b.fail(fv.line, fv.path, fmt.Sprintf("%q is not an ISO date and time", clip(fv.v)))
		}
		b.date = dateOf(t)
	}
}

// finishBal keeps OPBD (else PRCD) as the opening and CLBD as the closing
// balance; interim and available balances are not needed for the checks.
func (p *camtParser) finishBal() {
	b, st := p.bal, p.st
	p.bal = nil
	isOpening := b.code == "OPBD" || b.code == "PRCD" && st.opening != "OPBD"
	if !isOpening && b.code != "CLBD" {
		return
	}
	switch {
	case !b.hasAmt && !b.set:
		b.fail(b.line, p.path()+"/Bal/Amt", "balance without an amount")
	case b.ind != "CRDT" && b.ind != "DBIT":
		b.fail(b.line, p.path()+"/Bal/CdtDbtInd", fmt.Sprintf("credit/debit indicator %q is not CRDT or DBIT", clip(b.ind)))
	case st.acctCcy != "" && b.amt.Currency != st.acctCcy:
		b.fail(b.line, p.path()+"/Bal/Amt", fmt.Sprintf("balance in %s on a %s account", b.amt.Currency, st.acctCcy))
	}
	if b.set {
		p.errs.add(b.errLine, b.errField, b.errReason)
		return
	}
	if b.ind == "DBIT" {
		b.amt.Minor = -b.amt.Minor
	}
	bal := Balance{Money: b.amt, Date: b.date, Valid: true}
	if isOpening {
		st.s.OpeningBalance, st.opening = bal, b.code
	} else {
		st.s.ClosingBalance = bal
	}
}
