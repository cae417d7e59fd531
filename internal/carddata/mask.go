// Card numbers: the Luhn check, Mask for a value known to be a card number
// and MaskText for the card numbers inside free text.

package carddata

import "strings"

// Card number lengths: ISO/IEC 7812 numbers have 12 to 19 digits, which is
// also what payops accepts as a card number.
const (
	MinLen = 12
	MaxLen = 19
)

// Mask masks a value known to be a card number (a cardNo field, a number
// typed in the card form): the first six and last four characters are kept
// and the rest become '*'. A value shorter than MinLen is masked entirely,
// since six and four would show nearly all of it. Masking a masked number
// returns it unchanged.
func Mask(number string) string {
	r := []rune(number)
	if len(r) < MinLen {
		return strings.Repeat("*", len(r))
	}
	return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
}

// MaskText masks the card numbers in free text, keeping everything else:
//
//   - Every run of 12 to 19 digits that passes the Luhn check and does not
//     start with 0 is masked down to its first six and last four digits
//     ("411111******1111"). Digits may be grouped with single spaces or
//     dashes as people type them ("4111 1111 1111 1111" becomes
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
//
// About one random digit run in ten passes the Luhn check, so some order ids
// or long integers will be masked too; that is the price of never letting a
// card number through. It allocates only when it changes something.
func MaskText(s string) string {

	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	if digits < MinLen {
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
			if n > MaxLen {
				break
			}
			if n < MinLen || b == a && groups[a].inUUID || !Luhn(s[groups[a].start:groups[b].end]) {
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

// Luhn reports whether the digits of s pass the Luhn mod-10 check; other
// characters are skipped, so "4111 1111 1111 1111" passes. It says nothing
// about length: callers check that.
func Luhn(s string) bool {
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
