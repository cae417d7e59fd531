package sandbox

import (
	"fmt"
	"strings"
)

// MT940 (SWIFT customer statement), one message per file, without the
// SWIFT block wrappers that file transfers usually strip. Each :61: is
// followed by an :86: in the "/EREF/…/REMI/USTD//…/NAME/…" layout Dutch
// and other banks use, which carries the end-to-end id, the remittance
// information and the counterparty's name separately.

// mt940Width is the longest line of an MT940 field.
const mt940Width = 65

// renderMT940 writes st as an MT940 message. :60F: carries the previous
// day's date, as the closing balance it repeats.
func renderMT940(st *bankStmt) []byte {
	var b strings.Builder
	yymmdd := st.day.Format("060102")
	fmt.Fprintf(&b, ":20:STMT%s\n", st.day.Format(dayLayout))
	fmt.Fprintf(&b, ":25:%s\n", st.iban)
	fmt.Fprintf(&b, ":28C:%05d/001\n", st.sequence()%100000)
	fmt.Fprintf(&b, ":60F:%s\n", mtBalanceField(st.opening, st.day.AddDate(0, 0, -1).Format("060102"), st.currency))
	for i, e := range st.entries {
		mark, v := "C", e.amount
		if v < 0 {
			mark, v = "D", -v
		}
		fmt.Fprintf(&b, ":61:%s%s%s%sNTRFNONREF//%s\n", yymmdd, st.day.Format("0102"), mark, mtAmount(v, st.currency), bankRef(st.day, i))
		info := "/EREF/" + e.e2e + "/REMI/USTD//" + e.remit + "/NAME/" + e.counterparty
		for j, l := range wrapMT940(info) {
			if j == 0 {
				b.WriteString(":86:")
			}
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, ":62F:%s\n-\n", mtBalanceField(st.closing, yymmdd, st.currency))
	return []byte(b.String())
}

// mtBalanceField is "C261204EUR1234,56": mark, date, currency, amount.
func mtBalanceField(minor int64, yymmdd, ccy string) string {
	mark := "C"
	if minor < 0 {
		mark, minor = "D", -minor
	}
	return mark + yymmdd + ccy + mtAmount(minor, ccy)
}

// mtAmount writes minor units with a decimal comma, which is always
// present ("1234,56", "1339,").
func mtAmount(minor int64, ccy string) string {
	s := strings.Replace(formatMajor(minor, ccy), ".", ",", 1)
	if !strings.Contains(s, ",") {
		s += ","
	}
	return s
}

// wrapMT940 cuts text into lines of at most mt940Width characters, the
// first one shorter by the ":86:" tag; a line never starts with ':', '-'
// or '{', which a reader would take for a new field, the end of the
// message or a block.
func wrapMT940(text string) []string {
	var out []string
	width := mt940Width - len(":86:")
	for len(text) > width {
		cut := width
		for cut > 1 && strings.ContainsRune(":-{", rune(text[cut])) {
			cut--
		}
		out = append(out, text[:cut])
		text = text[cut:]
		width = mt940Width
	}
	return append(out, text)
}
