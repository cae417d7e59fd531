// Redaction: free text (Redact) and JSON documents (RedactJSON).

package carddata

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Redact returns s with card data removed, for free text such as log
// messages, error texts and stored payloads:
//
//   - Card numbers are masked by MaskText, the one policy for every
//     text payops keeps: a Luhn-valid run of 12 to 19 digits, typed with or
//     without single spaces or dashes, keeps its first six and last four
//     digits ("4111 11** **** 1111"); UUIDs are identifiers and kept.
//   - The value after a sensitive key in key=value or key: value form
//     ("cvv=123&cardNo=…", `cvv: 123`, "Security Code: 123", a truncated
//     JSON fragment) becomes [REDACTED].
//   - Text that is a whole JSON document is redacted as RedactJSON does, so
//     sensitive keys are found at any depth.
func Redact(s string) string {
	if t := strings.TrimSpace(s); len(t) > 1 && (t[0] == '{' || t[0] == '[') {
		if b := []byte(s); json.Valid(b) {
			return string(RedactJSON(b))
		}
	}
	// Mask first: a card number right after a sensitive key ("cvv=4111 1111 …")
	// would otherwise lose only its first group to the key rule.
	return redactKeyValues(MaskText(s))
}

// RedactJSON returns a redacted copy of the JSON document b, by the policy
// of the package comment: in objects at any depth, the value of a card
// security code or card token field becomes the string "[REDACTED]", and so
// does that of a card number field unless it is a string already masked
// (IsMasked); a base64 document field becomes a note of its length; card
// numbers inside other strings, keys and integer numbers are masked as
// Redact does (a masked number becomes a string); a string that itself
// holds a JSON document is redacted recursively. Layout, key order and
// everything else are kept byte for byte. Input that is not valid JSON is
// redacted as text with Redact. b is never modified.
func RedactJSON(b []byte) []byte {
	if !json.Valid(b) {
		return []byte(redactKeyValues(MaskText(string(b))))
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
		w.space()
		switch k := keyKind(jsonString(key)); {
		case k != kindOther && w.in[w.pos] == '"':
			w.out = append(w.out, redactJSONField(k, w.str())...)
		case k == kindNumber || k == kindSecret:
			kept := len(w.out)
			w.value() // walk it only to find where it ends; drop what it wrote
			w.out = append(w.out[:kept], `"`+Redacted+`"`...)
		default: // other fields, and a document that is not a string
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

// redactJSONField returns the token to write for raw, the string value of a
// field of kind k (see Field).
func redactJSONField(k kind, raw []byte) []byte {
	s := jsonString(raw)
	if r := fieldValue(k, s); r != s {
		return quote(r)
	}
	return raw
}

// redactJSONKey masks card numbers in an object key; key names themselves are
// judged by keyKind.
func redactJSONKey(raw []byte) []byte {
	s := jsonString(raw)
	r := MaskText(s)
	if r == s {
		return raw
	}
	return quote(r)
}

// redactJSONNumber masks an integer literal that is a card number, turning it
// into a string because the mask is not a number.
func redactJSONNumber(lit []byte) []byte {
	if len(lit) < MinLen {
		return lit // also true, false and null
	}
	s := string(lit)
	r := MaskText(s)
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
