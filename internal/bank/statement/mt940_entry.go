package statement

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// entry reads a :61: statement line. Its first line holds subfields 1–8,
// a second line the supplementary details.
func (p *mtParser) entry(f *mtField) error {
	st := p.st
	st.last = nil
	if p.items++; p.items > p.lim.MaxEntries {
		return fatal(p.file, f.line, ":61:", fmt.Sprintf("more than %d entries", p.lim.MaxEntries), ErrTooLarge)
	}
	if st.ccy == "" {
		p.errs.add(f.line, ":61:", "no valid :60F: opening balance before the entry, so its currency is unknown")
		return nil
	}
	e, reason := parse61(f.lines[0], st.ccy)
	if reason == "" && len(f.lines) > 1 {
		e.Info = strings.TrimSpace(strings.Join(f.lines[1:], ""))
	}
	if reason == "" && (len(e.Reference) > p.lim.MaxField || len(e.AccountServicerRef) > p.lim.MaxField || len(e.Info) > p.lim.MaxField) {
		reason = fmt.Sprintf("a reference longer than %d bytes", p.lim.MaxField)
	}
	if reason != "" {
		p.errs.add(f.line, ":61:", reason)
		return nil
	}
	e.Line = f.line
	st.s.Entries = append(st.s.Entries, e)
	st.last = &st.s.Entries[len(st.s.Entries)-1]
	return nil
}

// parse61 reads subfields 1–8 of a :61: line:
// 6!n[4!n]2a[1!a]15d1!a3!c16x[//16x], e.g. "2612011201C1500,00NTRFNONREF//B6B01".
func parse61(s, ccy string) (Entry, string) {
	var e Entry
	value, ok := yymmdd(prefix(s, 6))
	if !ok {
		return e, fmt.Sprintf("value date %q is not YYMMDD", prefix(s, 6))
	}
	e.ValueDate, e.BookingDate, e.Status = value, value, Booked
	s = s[6:]
	if len(s) >= 4 && digits(s[:4]) {
		b, ok := entryDate(s[:4], value)
		if !ok {
			return e, fmt.Sprintf("entry date %q is not MMDD", s[:4])
		}
		e.BookingDate, s = b, s[4:]
	}
	var debit bool
	switch {
	case strings.HasPrefix(s, "RC"), strings.HasPrefix(s, "RD"):
		e.Reversal, debit, s = true, s[1] == 'C', s[2:] // RC reverses a credit: a debit
	case strings.HasPrefix(s, "C"), strings.HasPrefix(s, "D"):
		debit, s = s[0] == 'D', s[1:]
	default:
		return e, fmt.Sprintf("debit/credit mark %q is not C, D, RC or RD", prefix(s, 2))
	}
	if len(s) > 0 && s[0] >= 'A' && s[0] <= 'Z' {
		s = s[1:] // the funds code, the currency's third letter
	}
	n := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != ',' && r != '.' }) // a point is read to be refused
	if n < 0 {
		n = len(s)
	}
	amt, ok := commaDecimal(s[:n])
	if !ok {
		return e, fmt.Sprintf("amount %q is not digits with a decimal comma", clip(s[:n]))
	}
	var reason string
	if e.Amount, reason = amountOf(amt, ccy, debit); reason != "" {
		return e, reason
	}
	s = s[n:]
	if len(s) < 4 || !strings.ContainsRune("SNF", rune(s[0])) {
		return e, fmt.Sprintf("transaction type %q is not S, N or F and three characters", prefix(s, 4))
	}
	e.BankTxCode = s[:4]
	ref, bank, _ := strings.Cut(s[4:], "//")
	e.Reference, e.AccountServicerRef = dropNone(strings.TrimSpace(ref)), strings.TrimSpace(bank)
	return e, ""
}

// prefix returns at most the first n bytes of s.
func prefix(s string, n int) string {
	return s[:min(n, len(s))]
}

// dropNone drops the placeholders banks write for "no reference".
func dropNone(s string) string {
	if s == "NONREF" || s == "NOTPROVIDED" {
		return ""
	}
	return s
}

// entryDate places an MMDD entry date in the year that puts it nearest its
// value date: an entry booked on 31 December with value 2 January belongs
// to the year before.
func entryDate(mmdd string, value time.Time) (time.Time, bool) {
	var best time.Time
	for _, y := range []int{value.Year() - 1, value.Year(), value.Year() + 1} {
		t, err := time.Parse("20060102", fmt.Sprintf("%04d%s", y, mmdd))
		if err != nil {
			return time.Time{}, false // 0230 fails in every year; 0229 only outside leap years
		}
		if best.IsZero() || absDays(t, value) < absDays(best, value) {
			best = t
		}
	}
	return best, true
}

func absDays(a, b time.Time) time.Duration {
	if d := a.Sub(b); d >= 0 {
		return d
	}
	return b.Sub(a)
}

// info reads the :86: that follows a :61:; one elsewhere (information on
// the whole statement) is not needed here.
func (p *mtParser) info(f *mtField) {
	e := p.st.last
	if p.prev != "61" || e == nil {
		return
	}
	text := strings.Join(f.lines, "") // SWIFT wraps at 65 characters; the breaks are not part of the text
	apply86(e, text)
	for _, v := range []string{e.RemittanceInfo, e.CounterpartyName, e.CounterpartyAccount, e.EndToEndID, e.Info} {
		if len(v) > p.lim.MaxField {
			p.errs.add(f.line, ":86:", fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
			p.st.s.Entries = p.st.s.Entries[:len(p.st.s.Entries)-1]
			p.st.last = nil
			return
		}
	}
}

// apply86 reads the information to the account owner into e: the German
// banks' structured layout ("166?00…?20…"), the "/EREF/…/REMI/…" layout,
// or, failing both, the whole text as remittance information.
func apply86(e *Entry, text string) {
	switch {
	case len(text) >= 4 && digits(text[:3]) && text[3] == '?':
		applyDK(e, text)
	case strings.HasPrefix(text, "/") && slashCode.MatchString(text):
		applySlash(e, text)
	default:
		e.RemittanceInfo = strings.TrimSpace(text)
	}
}

// applyDK reads the Deutsche Kreditwirtschaft layout (DFÜ-Abkommen Anlage
// 3): a three-digit business transaction code (GVC), then subfields
// "?NN": 00 booking text, 20–29 and 60–63 purpose, 30 the counterparty's
// bank code or BIC, 31 its account or IBAN, 32–33 its name. In the purpose,
// SEPA identifiers ("EREF+", "SVWZ+") each open a subfield and run on
// into the next ones that lack an identifier.
func applyDK(e *Entry, text string) {
	e.BankTxCode += "/" + text[:3]
	var purpose []string
	var name strings.Builder
	for _, sf := range dkSubfields(text[3:]) {
		switch {
		case sf.code == "00":
			e.Info = sf.value
		case sf.code >= "20" && sf.code <= "29", sf.code >= "60" && sf.code <= "63":
			purpose = append(purpose, sf.value)
		case sf.code == "31":
			e.CounterpartyAccount = strings.TrimSpace(sf.value)
		case sf.code == "32", sf.code == "33":
			name.WriteString(sf.value)
		}
	}
	e.CounterpartyName = strings.TrimSpace(name.String())
	sepa := sepaFields(purpose)
	if len(sepa) == 0 {
		e.RemittanceInfo = strings.TrimSpace(strings.Join(purpose, ""))
		return
	}
	e.EndToEndID = dropNone(sepa["EREF"])
	if e.Reference == "" {
		e.Reference = dropNone(sepa["KREF"])
	}
	e.RemittanceInfo = sepa["SVWZ"]
	if e.RemittanceInfo == "" {
		e.RemittanceInfo = sepa[""]
	}
	if e.CounterpartyAccount == "" {
		e.CounterpartyAccount = sepa["IBAN"]
	}
}

type dkSubfield struct{ code, value string }

// dkSubfields splits "?00text?20text…" at each '?' followed by two digits.
func dkSubfields(s string) []dkSubfield {
	var out []dkSubfield
	for len(s) >= 3 && s[0] == '?' && digits(s[1:3]) {
		code := s[1:3]
		s = s[3:]
		end := 0
		for end < len(s) && !(s[end] == '?' && end+2 < len(s) && digits(s[end+1:end+3])) {
			end++
		}
		out = append(out, dkSubfield{code: code, value: s[:end]})
		s = s[end:]
	}
	return out
}

// sepaIDs are the identifiers that open a SEPA purpose subfield.
var sepaIDs = map[string]bool{
	"EREF": true, "KREF": true, "MREF": true, "CRED": true, "DEBT": true, "SVWZ": true,
	"ABWA": true, "ABWE": true, "IBAN": true, "BIC": true, "COAM": true, "OAMT": true,
}

// sepaFields joins the purpose subfields by SEPA identifier; text before
// the first identifier is kept under "". It returns nil when no subfield
// starts with an identifier.
func sepaFields(purpose []string) map[string]string {
	out := map[string]string{}
	key, found := "", false
	for _, p := range purpose {
		if id, rest, ok := strings.Cut(p, "+"); ok && sepaIDs[id] {
			key, found, p = id, true, rest
		}
		out[key] += p
	}
	if !found {
		return nil
	}
	for k, v := range out {
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// slashCode finds the codes of the "/CODE/value" layout of :86: (Dutch
// and other banks' structured MT940); a value runs to the next code.
var slashCode = regexp.MustCompile(`/(EREF|REMI|NAME|IBAN|CNTP|ORDP|BENM|MARF|CSID|TRTP|BIC|PREF|RTRN|BUSP|PURP|ADDR|ULTC|ULTD)/`)

// applySlash reads the end-to-end id (EREF), the remittance information
// (REMI, unstructured "USTD//text" or a structured creditor reference
// "STRD/CUR/ref"), and the counterparty (NAME and IBAN, or CNTP as
// account/BIC/name/city). Other codes are only used to end a value.
func applySlash(e *Entry, text string) {
	vals := map[string]string{}
	locs := slashCode.FindAllStringSubmatchIndex(text, -1)
	for i, l := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		code := text[l[2]:l[3]]
		if _, dup := vals[code]; !dup {
			vals[code] = strings.Trim(text[l[1]:end], "/ ")
		}
	}
	e.EndToEndID = dropNone(vals["EREF"])
	remi := vals["REMI"]
	switch {
	case strings.HasPrefix(remi, "USTD//"):
		e.RemittanceInfo = strings.TrimSpace(remi[len("USTD//"):])
	case strings.HasPrefix(remi, "STRD/CUR/"):
		e.CreditorRef = strings.TrimSpace(remi[len("STRD/CUR/"):])
	case remi == "" && vals["EREF"] == "":
		e.RemittanceInfo = strings.TrimSpace(text)
	default:
		e.RemittanceInfo = remi
	}
	e.CounterpartyName, e.CounterpartyAccount = vals["NAME"], vals["IBAN"]
	if cntp := strings.Split(vals["CNTP"], "/"); len(cntp) >= 3 {
		if e.CounterpartyAccount == "" {
			e.CounterpartyAccount = cntp[0]
		}
		if e.CounterpartyName == "" {
			e.CounterpartyName = cntp[2]
		}
	}
}
