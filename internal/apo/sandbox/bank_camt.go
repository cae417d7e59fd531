package sandbox

import (
	"encoding/xml"
	"strconv"
	"time"
)

// camt.053.001.08 (BankToCustomerStatement), the version SEPA banks moved
// to with the ISO 20022 2019 release: one <Stmt> per document, with the
// elements payops' reader uses (internal/bank/statement). encoding/xml
// writes it: the layout is small and fixed, and escaping is its job.

const camtNamespace = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

type camtDocument struct {
	XMLName xml.Name      `xml:"Document"`
	NS      string        `xml:"xmlns,attr"`
	MsgID   string        `xml:"BkToCstmrStmt>GrpHdr>MsgId"`
	Created string        `xml:"BkToCstmrStmt>GrpHdr>CreDtTm"`
	Stmt    camtStatement `xml:"BkToCstmrStmt>Stmt"`
}

type camtStatement struct {
	ID      string        `xml:"Id"`
	Seq     int64         `xml:"ElctrncSeqNb"`
	Created string        `xml:"CreDtTm"`
	From    string        `xml:"FrToDt>FrDtTm"`
	To      string        `xml:"FrToDt>ToDtTm"`
	IBAN    string        `xml:"Acct>Id>IBAN"`
	Ccy     string        `xml:"Acct>Ccy"`
	Bal     []camtBalance `xml:"Bal"`
	Ntry    []camtEntry   `xml:"Ntry"`
}

type camtAmount struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type camtBalance struct {
	Code string     `xml:"Tp>CdOrPrtry>Cd"`
	Amt  camtAmount `xml:"Amt"`
	Ind  string     `xml:"CdtDbtInd"`
	Date string     `xml:"Dt>Dt"`
}

type camtEntry struct {
	Ref         int        `xml:"NtryRef"`
	Amt         camtAmount `xml:"Amt"`
	Ind         string     `xml:"CdtDbtInd"`
	Status      string     `xml:"Sts>Cd"`
	BookingDate string     `xml:"BookgDt>Dt"`
	ValueDate   string     `xml:"ValDt>Dt"`
	ServicerRef string     `xml:"AcctSvcrRef"`
	Domain      string     `xml:"BkTxCd>Domn>Cd"`
	Family      string     `xml:"BkTxCd>Domn>Fmly>Cd"`
	SubFamily   string     `xml:"BkTxCd>Domn>Fmly>SubFmlyCd"`
	Tx          camtTx     `xml:"NtryDtls>TxDtls"`
}

type camtTx struct {
	EndToEndID string     `xml:"Refs>EndToEndId"`
	Amt        camtAmount `xml:"Amt"`
	Ind        string     `xml:"CdtDbtInd"`
	Debtor     *camtParty `xml:"RltdPties>Dbtr,omitempty"`
	Creditor   *camtParty `xml:"RltdPties>Cdtr,omitempty"`
	Ustrd      string     `xml:"RmtInf>Ustrd"`
}

type camtParty struct {
	Name string `xml:"Pty>Nm"`
}

// camtAmountInd splits a signed amount into its absolute value and
// credit/debit indicator.
func camtAmountInd(minor int64, ccy string) (camtAmount, string) {
	ind := "CRDT"
	if minor < 0 {
		minor, ind = -minor, "DBIT"
	}
	return camtAmount{Ccy: ccy, Value: formatMajor(minor, ccy)}, ind
}

// renderCamt053 writes st as a camt.053 document. The statement is
// created the next morning, as banks send the day's statement.
func renderCamt053(st *bankStmt) ([]byte, error) {
	date := st.day.Format(time.DateOnly)
	created := st.day.Add(30 * time.Hour).Format(time.RFC3339)
	doc := camtDocument{NS: camtNamespace, MsgID: "MSG-" + st.id(), Created: created, Stmt: camtStatement{
		ID: st.id(), Seq: st.sequence(), Created: created,
		From: st.day.Format(time.RFC3339), To: st.day.Add(24*time.Hour - time.Second).Format(time.RFC3339),
		IBAN: st.iban, Ccy: st.currency,
	}}
	for _, b := range []struct {
		code string
		v    int64
	}{{"OPBD", st.opening}, {"CLBD", st.closing}} {
		amt, ind := camtAmountInd(b.v, st.currency)
		doc.Stmt.Bal = append(doc.Stmt.Bal, camtBalance{Code: b.code, Amt: amt, Ind: ind, Date: date})
	}
	for i, e := range st.entries {
		amt, ind := camtAmountInd(e.amount, st.currency)
		ce := camtEntry{Ref: i + 1, Amt: amt, Ind: ind, Status: "BOOK", BookingDate: date, ValueDate: date,
			ServicerRef: bankRef(st.day, i), Domain: e.code[0], Family: e.code[1], SubFamily: e.code[2],
			Tx: camtTx{EndToEndID: e.e2e, Amt: amt, Ind: ind, Ustrd: e.remit}}
		if e.amount < 0 {
			ce.Tx.Creditor = &camtParty{Name: e.counterparty}
		} else {
			ce.Tx.Debtor = &camtParty{Name: e.counterparty}
		}
		doc.Stmt.Ntry = append(doc.Stmt.Ntry, ce)
	}
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(append([]byte(xml.Header), body...), '\n'), nil
}

// bankRef is the bank's own reference of entry i of a day's statement.
func bankRef(day time.Time, i int) string {
	return day.Format("060102") + strconv.Itoa(100001 + i)[1:]
}
