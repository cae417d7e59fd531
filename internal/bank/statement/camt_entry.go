package statement

import (
	"fmt"
	"strings"
	"time"

	"github.com/payops/payops/internal/money"
)

// camtEntry is an <Ntry> being read.
type camtEntry struct {
	depth  int
	e      Entry
	amt    money.Money
	hasAmt bool
	ind    string // CdtDbtInd: CRDT or DBIT
	btc    bankTxCode
	txs    []Transaction
	firstErr
}

// camtTx is a <TxDtls> being read.
type camtTx struct {
	depth   int
	t       Transaction
	amt     money.Money
	amtRank int    // which amount element amt came from; see txAmountRank
	ind     string // its own CdtDbtInd (.001.03 and later), else the entry's
	btc     bankTxCode
	ustrd   []string
	dbtr    party
	cdtr    party
}

type party struct{ name, account string }

// txAmountRank orders the amounts a transaction detail may carry: its own
// Amt (.001.03 and later), else the transaction amount, else the
// instructed amount (which may be in another currency).
var txAmountRank = map[string]int{"Amt": 3, "AmtDtls/TxAmt/Amt": 2, "AmtDtls/InstdAmt/Amt": 1}

// bankTxCode collects a BkTxCd: the ISO domain/family/sub-family codes, or
// the bank's proprietary code.
type bankTxCode struct{ domain, family, sub, prtry string }

func (b *bankTxCode) set(rel, v string) bool {
	switch rel {
	case "BkTxCd/Domn/Cd":
		b.domain = v
	case "BkTxCd/Domn/Fmly/Cd":
		b.family = v
	case "BkTxCd/Domn/Fmly/SubFmlyCd":
		b.sub = v
	case "BkTxCd/Prtry/Cd":
		b.prtry = v
	default:
		return false
	}
	return true
}

func (b bankTxCode) String() string {
	if b.domain == "" {
		return b.prtry
	}
	return strings.Join([]string{b.domain, b.family, b.sub}, "/")
}

// dateValue reads a DateAndDateTimeChoice child ("…/Dt" or "…/DtTm").
func dateValue(fv camtValue) (time.Time, string) {
	if strings.HasSuffix(fv.rel, "/DtTm") {
		t, ok := isoDateTime(fv.v)
		if !ok {
			return time.Time{}, fmt.Sprintf("%q is not an ISO date and time", clip(fv.v))
		}
		return dateOf(t), ""
	}
	d, ok := isoDate(fv.v)
	if !ok {
		return time.Time{}, fmt.Sprintf("%q is not an ISO date", clip(fv.v))
	}
	return d, ""
}

// entryField reads the entry's own elements. Any value beyond MaxField
// fails the entry: no camt text type is that long, so such a value is a
// broken or hostile file, not a statement line to book.
func (p *camtParser) entryField(fv camtValue) {
	n := p.ntry
	if fv.long {
		n.fail(fv.line, fv.path, fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		return
	}
	if n.btc.set(fv.rel, fv.v) {
		return
	}
	var reason string
	switch fv.rel {
	case "Amt":
		n.amt, reason = amountOf(fv.v, fv.ccy, false)
		n.hasAmt = reason == ""
	case "CdtDbtInd":
		n.ind = fv.v
	case "RvslInd":
		switch fv.v {
		case "true", "1":
			n.e.Reversal = true
		case "false", "0":
		default:
			reason = fmt.Sprintf("%q is not a boolean", clip(fv.v))
		}
	case "Sts", "Sts/Cd", "Sts/Prtry":
		if fv.v != "" { // v.02 writes the code in <Sts>, later versions in <Sts><Cd>
			n.e.Status = fv.v
		}
	case "BookgDt/Dt", "BookgDt/DtTm":
		n.e.BookingDate, reason = dateValue(fv)
	case "ValDt/Dt", "ValDt/DtTm":
		n.e.ValueDate, reason = dateValue(fv)
	case "AcctSvcrRef":
		n.e.AccountServicerRef = fv.v
	case "AddtlNtryInf":
		n.e.Info = fv.v
	}
	if reason != "" {
		n.fail(fv.line, fv.path, reason)
	}
}

// txField reads a transaction detail's elements. Debtor and creditor
// names sit in Dbtr/Nm up to .001.07 and in Dbtr/Pty/Nm from .001.08 on.
func (p *camtParser) txField(fv camtValue) {
	tx := p.tx
	if fv.long {
		p.ntry.fail(fv.line, fv.path, fmt.Sprintf("longer than %d bytes", p.lim.MaxField))
		return
	}
	if tx.btc.set(fv.rel, fv.v) {
		return
	}
	rel := strings.Replace(strings.Replace(fv.rel, "Dbtr/Pty/", "Dbtr/", 1), "Cdtr/Pty/", "Cdtr/", 1)
	switch rel {
	case "Refs/EndToEndId":
		if fv.v != "NOTPROVIDED" {
			tx.t.EndToEndID = fv.v
		}
	case "Refs/AcctSvcrRef":
		tx.t.AccountServicerRef = fv.v
	case "Refs/InstrId":
		tx.t.Reference = fv.v
	case "Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt":
		if rank := txAmountRank[rel]; rank > tx.amtRank {
			m, reason := amountOf(fv.v, fv.ccy, false)
			if reason != "" {
				p.ntry.fail(fv.line, fv.path, reason)
			}
			tx.amt, tx.amtRank = m, rank
		}
	case "CdtDbtInd":
		tx.ind = fv.v
	case "RltdPties/Dbtr/Nm":
		tx.dbtr.name = fv.v
	case "RltdPties/Cdtr/Nm":
		tx.cdtr.name = fv.v
	case "RltdPties/DbtrAcct/Id/IBAN", "RltdPties/DbtrAcct/Id/Othr/Id":
		tx.dbtr.account = fv.v
	case "RltdPties/CdtrAcct/Id/IBAN", "RltdPties/CdtrAcct/Id/Othr/Id":
		tx.cdtr.account = fv.v
	case "RmtInf/Ustrd":
		tx.ustrd = append(tx.ustrd, fv.v)
	case "RmtInf/Strd/CdtrRefInf/Ref":
		tx.t.CreditorRef = fv.v
	case "AddtlTxInf":
		tx.t.Info = fv.v
	}
}

// finishTx signs the transaction's amount and picks its counterparty: the
// debtor of a credit and the creditor of a debit, the other way round for
// a reversal (a reversed debit comes back as a credit from its creditor).
func (p *camtParser) finishTx() {
	tx, n := p.tx, p.ntry
	p.tx = nil
	ind := tx.ind
	if ind == "" {
		ind = n.ind
	}
	if tx.amtRank > 0 {
		tx.t.Amount = tx.amt
		if ind == "DBIT" {
			tx.t.Amount.Minor = -tx.t.Amount.Minor
		}
	}
	cp, other := tx.cdtr, tx.dbtr
	if (ind == "CRDT") != n.e.Reversal {
		cp, other = tx.dbtr, tx.cdtr
	}
	if cp == (party{}) {
		cp = other
	}
	tx.t.CounterpartyName, tx.t.CounterpartyAccount = cp.name, cp.account
	tx.t.RemittanceInfo = strings.Join(tx.ustrd, " ")
	if len(tx.t.RemittanceInfo) > p.lim.MaxField {
		n.fail(tx.t.Line, p.path()+"/TxDtls/RmtInf/Ustrd", fmt.Sprintf("remittance information longer than %d bytes", p.lim.MaxField))
	}
	tx.t.BankTxCode = tx.btc.String()
	n.txs = append(n.txs, tx.t)
}

func (p *camtParser) finishEntry() {
	n, st := p.ntry, p.st
	p.ntry = nil
	switch {
	case !n.hasAmt:
		n.fail(n.e.Line, p.path()+"/Ntry/Amt", "entry without a valid amount")
	case n.ind != "CRDT" && n.ind != "DBIT":
		n.fail(n.e.Line, p.path()+"/Ntry/CdtDbtInd", fmt.Sprintf("credit/debit indicator %q is not CRDT or DBIT", clip(n.ind)))
	case st.acctCcy != "" && n.amt.Currency != st.acctCcy:
		n.fail(n.e.Line, p.path()+"/Ntry/Amt", fmt.Sprintf("entry in %s on a %s account", n.amt.Currency, st.acctCcy))
	}
	if n.set {
		p.errs.add(n.errLine, n.errField, n.errReason)
		return
	}
	e := n.e
	e.Amount = n.amt
	if n.ind == "DBIT" {
		e.Amount.Minor = -e.Amount.Minor
	}
	if e.Status == "" {
		e.Status = Booked // the element is mandatory; a statement books what it lists
	}
	if e.BookingDate.IsZero() {
		e.BookingDate = e.ValueDate
	}
	e.BankTxCode = n.btc.String()
	switch len(n.txs) {
	case 0:
	case 1:
		e.Refs = mergeRefs(e.Refs, n.txs[0].Refs)
	default:
		e.Transactions = n.txs
	}
	st.s.Entries = append(st.s.Entries, e)
}

// mergeRefs fills the entry's empty references from its only transaction
// detail; what the entry says itself (the bank's reference, its code)
// wins.
func mergeRefs(e, t Refs) Refs {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&e.EndToEndID, t.EndToEndID},
		{&e.AccountServicerRef, t.AccountServicerRef},
		{&e.Reference, t.Reference},
		{&e.RemittanceInfo, t.RemittanceInfo},
		{&e.CreditorRef, t.CreditorRef},
		{&e.CounterpartyName, t.CounterpartyName},
		{&e.CounterpartyAccount, t.CounterpartyAccount},
		{&e.BankTxCode, t.BankTxCode},
		{&e.Info, t.Info},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	return e
}
