// Package statement owns the reading of bank account statements into one
// model, whatever layout the bank sends: ISO 20022 camt.053 (XML), SWIFT
// MT940, or a CSV export described by a small mapping file. It also checks
// statements on their own terms (entries add up to the balances, balances
// chain from one statement to the next, no statement day is missing).
//
// It is a leaf: no database, no HTTP, no knowledge of APO or of payouts.
// Every reader is bounded by Limits in bytes, entries and field lengths,
// names the file and line of every problem, and never uses floating point
// for an amount.
package statement

import (
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
)

// Format names the layout a statement was read from.
type Format string

// The formats this package reads.
const (
	Camt053 Format = "camt.053"
	MT940   Format = "MT940"
	CSV     Format = "CSV"
)

// Statement is one account statement: one <Stmt> of a camt.053 document,
// one message (:20: … :62F:) of an MT940 file, or one CSV file. Dates are
// UTC midnights of the calendar date the bank wrote; zero when unknown.
type Statement struct {
	Format Format
	File   string // as the caller named it
	Line   int    // where the statement starts: its <Stmt> element, its :20: field, or the CSV header

	ID        string // camt Stmt/Id; MT940 :20:; CSV: the file name
	Sequence  string // camt ElctrncSeqNb (else LglSeqNb); MT940 :28C: as written ("00012/001")
	Account   Account
	Currency  string    // camt Acct/Ccy, else the balances' currency; MT940 :60F:; CSV column or mapping
	CreatedAt time.Time // camt Stmt/CreDtTm (else GrpHdr/CreDtTm), UTC; zero for MT940 and CSV

	// FromDate and ToDate are the first and last calendar day the
	// statement covers (see docs/bank-statements.md for how each layout
	// says so); one booking day has FromDate == ToDate.
	FromDate, ToDate time.Time

	OpeningBalance Balance
	ClosingBalance Balance

	Entries []Entry
}

// Account identifies the bank account a statement is for. IBAN is set when
// the bank gave a valid IBAN; otherwise Number holds its identification as
// written (an MT940 "BLZ/account", a camt Othr/Id).
type Account struct {
	IBAN   string
	Number string
}

// String returns the IBAN, or the number when there is no IBAN: the key
// statements of one account share.
func (a Account) String() string {
	if a.IBAN != "" {
		return a.IBAN
	}
	return a.Number
}

// Balance is a booked balance, signed (a debit balance is negative). Valid
// is false when the statement did not carry it.
type Balance struct {
	money.Money
	Date  time.Time // the date the bank gave the balance; zero when none
	Valid bool
}

// Booked is the status of an entry that moved the booked balance. camt
// entries carry their own status (BOOK, PDNG, INFO); MT940 and CSV entries
// are always booked.
const Booked = "BOOK"

// Entry is one booking on the account.
type Entry struct {
	Line        int // the line of the <Ntry> element, the :61: field or the CSV record
	BookingDate time.Time
	ValueDate   time.Time
	// Amount is signed in minor units: a credit is positive, a debit
	// negative, whatever the layout's own convention (CdtDbtInd, D/C mark,
	// separate debit and credit columns).
	Amount   money.Money
	Reversal bool   // camt RvslInd, MT940 RC/RD: this entry reverses an earlier one (Amount is already signed for the reversal)
	Status   string // Booked, or camt's PDNG/INFO; only booked entries count towards the balances

	// Refs are the entry's references. For a camt entry with exactly one
	// transaction detail they include that detail's references too.
	Refs

	// Transactions holds a batched camt entry's transaction details (one
	// per TxDtls) when it has more than one, so that each keeps its own
	// end-to-end id and remittance information. Nil otherwise.
	Transactions []Transaction
}

// Transaction is one transaction detail of a batched camt entry.
type Transaction struct {
	Line int // the line of its <TxDtls> element
	// Amount is signed like Entry.Amount; its Currency is "" when the
	// bank gave no amount for the transaction.
	Amount money.Money
	Refs
}

// Refs are the references and texts a statement line carries; any may be
// empty. docs/bank-statements.md lists where each comes from per layout.
type Refs struct {
	EndToEndID          string // the payer's end-to-end id ("NOTPROVIDED" is dropped)
	AccountServicerRef  string // the bank's own reference for the booking
	Reference           string // the account owner's reference (MT940 :61: subfield 7, camt InstrId, KREF+); "NONREF" is dropped
	RemittanceInfo      string // unstructured remittance text, lines joined
	CreditorRef         string // structured creditor reference (ISO 11649 "RF…" or a SCOR reference)
	CounterpartyName    string // the debtor of a credit, the creditor of a debit
	CounterpartyAccount string
	BankTxCode          string // camt "Domain/Family/SubFamily" or proprietary code; MT940 type and GVC ("NTRF/166"); CSV column
	Info                string // additional entry information (camt AddtlNtryInf, MT940 booking text or supplementary details)
}

// day returns the UTC midnight of a calendar date.
func day(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateOf returns the UTC midnight of t's date in t's own location: a bank
// writes the date where it books, and that date is the one that counts.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return day(y, m, d)
}

// ParseAccount classifies an account identification as every reader of
// this package does: a valid IBAN (spaces removed, upper case) or, failing
// that, a number kept as written (trimmed). Whoever configures accounts
// uses it too, so that a configured account and its statements compare
// equal.
func ParseAccount(s string) Account {
	s = strings.TrimSpace(s)
	if iban := strings.ReplaceAll(s, " ", ""); validIBAN(iban) {
		return Account{IBAN: strings.ToUpper(iban)}
	}
	return Account{Number: s}
}

// validIBAN checks an IBAN's form and its ISO 7064 mod-97 check digits.
func validIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = strings.ToUpper(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i < 2 && (c < 'A' || c > 'Z'):
			return false
		case i >= 2 && i < 4 && (c < '0' || c > '9'):
			return false
		case !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'):
			return false
		}
	}
	rem := 0
	for _, c := range s[4:] + s[:4] {
		if c >= 'A' {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem == 1
}
