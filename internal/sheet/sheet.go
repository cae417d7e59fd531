// Package sheet keeps text from outside (report files, merchants' order
// ids, buyers' emails) inert in the spreadsheets our exports are opened in:
// the reconciliation workbook and CSVs, and the console's payment CSV. It
// uses the standard library only, so any package may import it.
package sheet

import "strings"

// Safe neutralises spreadsheet formula injection: text starting with = + -
// @ (or a tab or carriage return) is prefixed with a single quote, as OWASP
// recommends, so no spreadsheet evaluates it. Apply it to text cells only:
// a negative amount written by the exporter itself must stay a number.
func Safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
