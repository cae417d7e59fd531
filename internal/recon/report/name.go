// Package report reads Antom APO settlement and transaction report files
// (apo-reference.md §6): it recognises a file's kind from its name, reads
// CSV or .xlsx content by header name, and turns each record into a typed
// Line with exact minor-unit amounts. It streams: one record is in memory at
// a time, and Limits bound what any file, whatever it claims to be, may cost
// in memory and time (for .xlsx, the zip is checked before excelize opens it).
//
// Assumptions the reference leaves open (§6.2 "not confirmed"), chosen to be
// tolerant without guessing silently:
//
//   - Header names are matched case-insensitively after trimming spaces and a
//     UTF-8 BOM; columns may come in any order; columns this package does not
//     type are kept in Line.Extra. A few names of the newest Antom generation
//     are accepted as aliases (PSP for acquirer, transactionCompletionTime for
//     paymentTime, settlementInitiatedDate for settlementTime) when the older
//     name is absent.
//   - Amounts are decimals in major units ("12.30", "-5", "1339"); a '-' is
//     accepted everywhere because APO's sign convention for refunds and fees is
//     unconfirmed. More decimal places than the currency has are an error
//     unless they are zeros.
//   - Times are ISO 8601, extended or basic ("2024-03-01T10:00:00+08:00",
//     "20240301T100000+0800", "20240301"), with a 'T' or a space between date
//     and time, an optional fraction and an optional offset (Z, ±hh:mm,
//     ±hhmm, ±hh); a time without an offset, and a date alone, are taken as
//     UTC (see parseISO). In .xlsx files a numeric date cell (an Excel serial
//     day number) is accepted too.
//   - The last non-blank record must be the literal <END> (alone, or followed
//     only by empty cells). A file without it is incomplete (ErrIncomplete).
//   - Blank lines carry no record and are skipped; every other line either
//     parses or yields a *LineError naming the file and line.
package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is which of APO's three reports a file is.
type Kind string

// Report kinds.
const (
	TransactionItems  Kind = "TRANSACTION_ITEMS"  // transactionItems_<yyyyMMdd>_<seq>
	SettlementItems   Kind = "SETTLEMENT_ITEMS"   // settlementItems_<ccy>_<batchId>_<seq>
	SettlementSummary Kind = "SETTLEMENT_SUMMARY" // settlementSummary_<ccy>_<batchId>_<seq>
)

// Format is a file's container format.
type Format string

// File formats APO delivers.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// Name is what a report file's name says about it.
type Name struct {
	Kind     Kind
	Format   Format
	Date     time.Time // transaction date (UTC midnight) for TransactionItems; zero otherwise
	Currency string    // settlement currency of settlement files
	BatchID  string    // settlement batch of settlement files
	Seq      int       // 0 … 999: several files of one cycle
}

var (
	txNameRE     = regexp.MustCompile(`^transactionItems_(\d{8})_(\d{3})\.(csv|xlsx)$`)
	settleNameRE = regexp.MustCompile(`^(settlementItems|settlementSummary)_([A-Z]{3})_(.+)_(\d{3})\.(csv|xlsx)$`)
)

// ParseName recognises a report file by its base name (apo-reference.md
// §6.1). The extension is matched case-insensitively; the rest exactly.
func ParseName(base string) (Name, error) {
	b := base
	if i := strings.LastIndexByte(b, '.'); i >= 0 {
		b = b[:i] + strings.ToLower(b[i:])
	}
	if m := txNameRE.FindStringSubmatch(b); m != nil {
		d, err := time.Parse("20060102", m[1])
		if err != nil {
			return Name{}, fmt.Errorf("report file name %q: date %s: %w", base, m[1], err)
		}
		seq, _ := strconv.Atoi(m[2])
		return Name{Kind: TransactionItems, Format: Format(m[3]), Date: d, Seq: seq}, nil
	}
	if m := settleNameRE.FindStringSubmatch(b); m != nil {
		k := SettlementItems
		if m[1] == "settlementSummary" {
			k = SettlementSummary
		}
		seq, _ := strconv.Atoi(m[4])
		return Name{Kind: k, Format: Format(m[5]), Currency: m[2], BatchID: m[3], Seq: seq}, nil
	}
	return Name{}, fmt.Errorf("report file name %q: not transactionItems_<yyyyMMdd>_<seq>, "+
		"settlementItems_<ccy>_<batchId>_<seq> or settlementSummary_<ccy>_<batchId>_<seq> (.csv or .xlsx)", base)
}
