package logging

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Redacted replaces the whole value of a sensitive key (a card number or a
// card security code field).
const Redacted = "[REDACTED]"

// PAN lengths: ISO/IEC 7812 card numbers have 12 to 19 digits.
const (
	minPAN = 12
	maxPAN = 19
)

// sensitiveKeys are the field names whose values are dropped whatever they
// hold, spelled as normalize spells them. A CVV is three or four digits, so it
// can only be recognised by the name of its field; card numbers are caught by
// their field names too, in case one fails the Luhn check (a typo is still a
// card number). Masked displays such as APO's maskedCardNo are not in the list:
// they may be kept.
var sensitiveKeys = map[string]bool{
	"cardno": true, "cardnum": true, "cardnumber": true, "pan": true,
	"primaryaccountnumber": true,
	"cvv":                  true, "cvv2": true, "cvc": true, "cvc2": true, "csc": true,
	"securitycode": true, "cardsecuritycode": true,
}

// IsSensitiveKey reports whether a field named key holds a card number or a
// card security code and must be dropped: cardNo, card_number, Card-Number,
// PAN, cvv, CVV2, cvc, securityCode and similar. Case, '_', '-', '.' and spaces
// are ignored.
func IsSensitiveKey(key string) bool {
	if len(key) < 3 || len(key) > 40 {
		return false
	}
	var buf [40]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return sensitiveKeys[string(buf[:n])] // this conversion does not allocate
}

// Redact returns s with card data removed, for free text such as log
// messages, error texts and stored payloads:
//
//   - Every run of 12 to 19 digits that passes the Luhn check and does not
//     start with 0 is masked down to its first six and last four digits
//     ("411111******1111"). Digits may be grouped with single spaces or dashes
//     as people type them ("4111 1111 1111 1111" becomes
//     "4111 11** **** 1111"), and a card number is found even when other
//     digit groups surround it. A run of more than 19 digits with no
//     separator is an identifier, not a card number, and is left alone.
//   - A canonical UUID (8-4-4-4-12 hex digits in any case, not part of a
//     longer run of hex digits) is an identifier too: request ids such as
//     "pay-01937a2e-8c4f-7d31-b0e2-5f6a7b8c9d0e" are kept. Its hyphens
//     separate digit groups instead of joining them, and a digit run inside
//     it is never a card number on its own. So one number never spans two
//     groups of a UUID, and as a group holds at most 12 characters, the most
//     a UUID can hide is a 12-digit run that is its whole last group; a 13
//     to 19 digit number never fits, and neither does one typed with spaces.
//     Only the digit run at either end of a UUID can still join a number
//     written right next to it, so a card number glued to a UUID is judged
//     as without the exemption ("4111 1111 1111-1111abcd-…" is masked).
//   - The value after a sensitive key in key=value or key: value form
//     ("cvv=123&cardNo=…", `cvv: 123`, "Security Code: 123", a truncated
//     JSON fragment) becomes [REDACTED].
//   - Text that is a whole JSON document is redacted as RedactJSON does, so
//     sensitive keys are found at any depth.
//
// About one random digit run in ten passes the Luhn check, so some order ids
// or long integers will be masked too; that is the price of never letting a
// card number through. Timestamps and ids that fail the check are kept.
func Redact(s string) string {
	if t := strings.TrimSpace(s); len(t) > 1 && (t[0] == '{' || t[0] == '[') {
		if b := []byte(s); json.Valid(b) {
			return string(RedactJSON(b))
		}
	}
	// Mask first: a card number right after a sensitive key ("cvv=4111 1111 …")
	// would otherwise lose only its first group to the key rule.
	return redactKeyValues(maskPANs(s))
}

// RedactJSON returns a redacted copy of the JSON document b: the value of
// every sensitive key (see IsSensitiveKey), in objects at any depth, becomes
// the string "[REDACTED]"; card numbers inside strings, keys and integer
// numbers are masked as Redact does (a masked number becomes a string); a
// string that itself holds a JSON document is redacted recursively. Layout,
// key order and everything else are kept byte for byte. Input that is not
// valid JSON is redacted as text with Redact. b is never modified.
func RedactJSON(b []byte) []byte {
	if !json.Valid(b) {
		return []byte(redactKeyValues(maskPANs(string(b))))
	}
	w := jsonWalker{in: b, out: make([]byte, 0, len(b)+16)}
	w.value()
	w.space()
	return w.out
}

// jsonWalker copies a JSON document that json.Valid accepted, redacting on the
// way. Because the input is known to be valid it needs no error handling.
type jsonWalker struct {
	in  []byte
	pos int
	out []byte
}

func (w *jsonWalker) value() {
	w.space()
	switch w.in[w.pos] {
	case '{':
		w.object()
	case '[':
		w.array()
	case '"':
		w.out = append(w.out, redactJSONString(w.str())...)
	default: // number, true, false or null
		start := w.pos
		for w.pos < len(w.in) && !strings.ContainsRune(" \t\r\n,]}", rune(w.in[w.pos])) {
			w.pos++
		}
		w.out = append(w.out, redactJSONNumber(w.in[start:w.pos])...)
	}
}

func (w *jsonWalker) object() {
	w.out = append(w.out, '{')
	w.pos++
	w.space()
	if w.in[w.pos] == '}' {
		w.out = append(w.out, '}')
		w.pos++
		return
	}
	for {
		w.space()
		key := w.str()
		w.out = append(w.out, redactJSONKey(key)...)
		w.space()
		w.out = append(w.out, ':') // the colon
		w.pos++
		if IsSensitiveKey(jsonString(key)) {
			w.space()
			kept := w.out
			w.value() // walk it only to find where it ends; drop what it wrote
			w.out = append(kept, `"`+Redacted+`"`...)
		} else {
			w.value()
		}
		w.space()
		c := w.in[w.pos] // ',' or '}'
		w.out = append(w.out, c)
		w.pos++
		if c == '}' {
			return
		}
	}
}

func (w *jsonWalker) array() {
	w.out = append(w.out, '[')
	w.pos++
	w.space()
	if w.in[w.pos] == ']' {
		w.out = append(w.out, ']')
		w.pos++
		return
	}
	for {
		w.value()
		w.space()
		c := w.in[w.pos] // ',' or ']'
		w.out = append(w.out, c)
		w.pos++
		if c == ']' {
			return
		}
	}
}

// space copies insignificant whitespace.
func (w *jsonWalker) space() {
	for w.pos < len(w.in) {
		switch w.in[w.pos] {
		case ' ', '\t', '\r', '\n':
			w.out = append(w.out, w.in[w.pos])
			w.pos++
		default:
			return
		}
	}
}

// str returns the raw string token at pos, quotes included, and moves past it.
func (w *jsonWalker) str() []byte {
	start := w.pos
	w.pos++
	for w.in[w.pos] != '"' {
		if w.in[w.pos] == '\\' {
			w.pos++ // skip the escaped character
		}
		w.pos++
	}
	w.pos++
	return w.in[start:w.pos]
}

// jsonString decodes a raw JSON string token.
func jsonString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // cannot fail: the document is valid
	return s
}

// redactJSONString redacts the text of a raw string token and returns the
// token to write: raw itself when nothing changed, so layout and escapes are
// kept.
func redactJSONString(raw []byte) []byte {
	s := jsonString(raw)
	r := Redact(s)
	if r == s {
		return raw
	}
	return quote(r)
}

// redactJSONKey masks card numbers in an object key; key names themselves are
// judged by IsSensitiveKey.
func redactJSONKey(raw []byte) []byte {
	s := jsonString(raw)
	r := maskPANs(s)
	if r == s {
		return raw
	}
	return quote(r)
}

// redactJSONNumber masks an integer literal that is a card number, turning it
// into a string because the mask is not a number.
func redactJSONNumber(lit []byte) []byte {
	if len(lit) < minPAN {
		return lit // also true, false and null
	}
	s := string(lit)
	r := maskPANs(s)
	if r == s {
		return lit
	}
	return quote(r)
}

// quote encodes s as a JSON string without the HTML escaping of json.Marshal,
// as slog's JSON handler does.
func quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// maskPANs masks the card numbers in s as Redact describes. It allocates only
// when it changes something.
func maskPANs(s string) string {
	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	if digits < minPAN {
		return s
	}
	var out []byte // a copy of s, made on the first change
	var groupsBuf [24]group
	uuid := span{-1, -1} // the last canonical UUID found
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// Collect a sequence of digit groups joined by single spaces or
		// dashes, but not by the hyphens inside a UUID.
		groups := groupsBuf[:0]
		j := i
		for {
			start := j
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			inUUID := start >= uuid.start && start < uuid.end
			if !inUUID {
				if u := uuidAround(s, start, j); u >= 0 {
					uuid, inUUID = span{u, u + uuidLen}, true
				}
			}
			groups = append(groups, group{span{start, j}, inUUID})
			if inUUID && j < uuid.end {
				break // s[j] is inside the UUID: a hex letter or one of its hyphens
			}
			if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
				j++
				continue
			}
			break
		}
		out = maskSequence(s, groups, out)
		i = j
	}
	if out == nil {
		return s
	}
	return string(out)
}

// span is a half-open byte range of a string.
type span struct{ start, end int }

// group is a run of digits; inUUID marks one inside a canonical UUID.
type group struct {
	span
	inUUID bool
}

// uuidLen is the length of a canonical UUID: 8-4-4-4-12 hex digits.
const uuidLen = 36

// uuidAround returns where the canonical UUID holding the digit run
// s[start:end] begins, or -1 if the run is not inside one. The run's hex
// group (its digits widened by the hex letters around them) is 8, 4 or 12
// long, which tells where the UUID could begin.
func uuidAround(s string, start, end int) int {
	// Most digit runs are set off by spaces or punctuation: rule them out
	// before looking around.
	if end-start > 12 || (start == 0 || !isUUIDByte(s[start-1])) && (end == len(s) || !isUUIDByte(s[end])) {
		return -1
	}
	g, e := start, end
	for g > 0 && e-g <= 12 && isHex(s[g-1]) {
		g--
	}
	for e < len(s) && e-g <= 12 && isHex(s[e]) {
		e++
	}
	hyphenBefore, hyphenAfter := g > 0 && s[g-1] == '-', e < len(s) && s[e] == '-'
	switch {
	case e-g == 8 && hyphenAfter:
		if uuidAt(s, g) {
			return g
		}
	case e-g == 4 && hyphenBefore && hyphenAfter: // the second, third or fourth group
		for _, off := range [...]int{9, 14, 19} {
			if uuidAt(s, g-off) {
				return g - off
			}
		}
	case e-g == 12 && hyphenBefore:
		if uuidAt(s, g-24) {
			return g - 24
		}
	}
	return -1
}

// uuidAt reports whether a canonical UUID begins at s[u] and is not part of
// a longer run of hex digits.
func uuidAt(s string, u int) bool {
	if u < 0 || u+uuidLen > len(s) || u > 0 && isHex(s[u-1]) || u+uuidLen < len(s) && isHex(s[u+uuidLen]) {
		return false
	}
	if s[u+8] != '-' || s[u+13] != '-' || s[u+18] != '-' || s[u+23] != '-' {
		return false
	}
	for k := range uuidLen {
		if c := s[u+k]; !isHex(c) && k != 8 && k != 13 && k != 18 && k != 23 {
			return false
		}
	}
	return true
}

// maskSequence finds every run of whole consecutive groups that is a card
// number and masks it in out (copying s into out first if out is nil).
// Overlapping finds are merged and masked as one stretch, which still shows
// no more of any card number than its first six and last four digits. A
// single group inside a UUID is part of an identifier, not a number.
func maskSequence(s string, groups []group, out []byte) []byte {
	regionStart, regionEnd := -1, -1
	flush := func() {
		if regionStart < 0 {
			return
		}
		if out == nil {
			out = []byte(s)
		}
		maskRegion(out, regionStart, regionEnd)
		regionStart, regionEnd = -1, -1
	}
	for a := range groups {
		if s[groups[a].start] == '0' { // no card number starts with 0 (ISO/IEC 7812 MII)
			continue
		}
		n := 0
		for b := a; b < len(groups); b++ {
			n += groups[b].end - groups[b].start
			if n > maxPAN {
				break
			}
			if n < minPAN || b == a && groups[a].inUUID || !luhn(s[groups[a].start:groups[b].end]) {
				continue
			}
			start, end := groups[a].start, groups[b].end
			if regionStart >= 0 && start > regionEnd {
				flush()
			}
			if regionStart < 0 {
				regionStart = start
			}
			regionEnd = max(regionEnd, end)
		}
	}
	flush()
	return out
}

// maskRegion replaces the digits of b[start:end] with '*', except the first
// six and the last four.
func maskRegion(b []byte, start, end int) {
	total := 0
	for i := start; i < end; i++ {
		if isDigit(b[i]) {
			total++
		}
	}
	k := 0
	for i := start; i < end; i++ {
		if !isDigit(b[i]) {
			continue
		}
		if k >= 6 && k < total-4 {
			b[i] = '*'
		}
		k++
	}
}

// luhn reports whether the digits of s (other characters are skipped) pass
// the Luhn mod-10 check.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isUUIDByte reports whether c can sit beside a digit run inside a UUID.
func isUUIDByte(c byte) bool { return c == '-' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isKeyChar(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

// redactKeyValues replaces the value that follows a sensitive key (one word,
// or two separated by a space) written as key=value or key: value, optionally quoted (also with backslash-escaped
// quotes, as in JSON embedded in a string) or bracketed (card[cvv]=…).
func redactKeyValues(s string) string {
	if !strings.ContainsAny(s, "=:") {
		return s
	}
	var b strings.Builder
	last := 0       // s[last:] has not been written to b yet
	prevStart := -1 // the previous word, when only one space separates it
	for i := 0; i < len(s); {
		if !isKeyChar(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isKeyChar(s[i]) {
			i++
		}
		// Two words make a key too: "Security Code: 123", "card number=…".
		sensitive := IsSensitiveKey(s[start:i]) || prevStart >= 0 && IsSensitiveKey(s[prevStart:i])
		prevStart = -1
		if i+1 < len(s) && s[i] == ' ' && isKeyChar(s[i+1]) {
			prevStart = start
		}
		if !sensitive {
			continue
		}
		vs, ve, ok := valueAfterKey(s, i)
		if !ok {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:vs])
		b.WriteString(Redacted)
		last, i = ve, ve
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueAfterKey finds the value that follows a key ending at i: closing
// quotes or brackets, spaces, '=' or ':', spaces, an optional opening quote,
// then the value up to its closing quote or, unquoted, up to a delimiter.
func valueAfterKey(s string, i int) (start, end int, ok bool) {
	for i < len(s) && strings.IndexByte(`"'\]`, s[i]) >= 0 {
		i++
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || (s[i] != '=' && s[i] != ':') {
		return 0, 0, false
	}
	i++
	for i < len(s) && s[i] == ' ' {
		i++
	}
	var q byte
	if i < len(s) && s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'') {
		i++
	}
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		q = s[i]
		i++
	}
	start = i
	if q != 0 {
		for i < len(s) && s[i] != q {
			i++
		}
		end = i
		if end > start && s[end-1] == '\\' { // an escaped closing quote: \"
			end--
		}
	} else {
		for i < len(s) && strings.IndexByte(" \t\r\n&,;}])\"'\\", s[i]) < 0 {
			i++
		}
		end = i
	}
	return start, end, end > start
}
