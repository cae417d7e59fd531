package recon

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/recon/report"
)

// This file is the matching engine of a run (the SQL it uses is in
// store_match.go). Lines stream past once; what is kept per line is at most
// a map entry keyed by the ledger transaction it matched, so memory grows
// with the number of distinct transactions (tens of bytes each), not with
// the lines' content.

// ledgerType is the ledger transaction type a line's transactionType stands
// for (apo-reference.md §6.3), or "" for lines that match nothing in the
// ledger: fees, reserves and collateral (checked through batch totals) and
// disputes (disputes live in another package; until it offers a lookup they
// are only rolled forward, not flagged as missing).
func ledgerType(txType string) string {
	switch txType {
	case "PAYMENT", "AUTHORIZATION":
		return "AUTHORIZATION"
	case "CAPTURE":
		return "CAPTURE"
	case "REFUND":
		return "REFUND"
	case "CANCEL", "VOID":
		return "CANCEL"
	}
	return ""
}

// Report statuses meaning a final outcome. A line without a status (APO's
// older generation lists successful transactions only) counts as success;
// other values (PROCESSING …) are not compared.
func reportSuccess(s string) bool {
	switch s {
	case "", "SUCCESS", "SUCCEEDED", "S", "SETTLED", "COMPLETED":
		return true
	}
	return false
}

func reportFailure(s string) bool {
	switch s {
	case "FAIL", "FAILED", "F", "FAILURE":
		return true
	}
	return false
}

// batchTypeSum is one transaction type's settlement items in one batch.
type batchTypeSum struct {
	BatchID         string
	Currency        string
	TransactionType string
	Lines           int64
	Magnitude       int64 // Σ|settlement amount|
	Signed          int64 // Σ settlement amount as written
	Fees            int64 // Σ|fee| in the settlement currency
	ForeignFees     int64 // lines whose fee is in another currency
	Saturated       bool  // a sum left the int64 range (see addSat)
}

type fileInfo struct {
	kind  report.Kind
	name  string
	inRun bool
}

// seenKey names a ledger transaction within one report kind: a capture is
// expected once in the transaction items and once in the settlement items.
type seenKey struct {
	settlement bool
	tx         uuid16
}

// matcher is a run's matching state.
type matcher struct {
	files map[int64]fileInfo
	// seen maps each matched transaction to the first in-run line holding
	// it, or -1 when only window lines (earlier settlement files) do. It
	// answers "is this transaction in the report" and "is this line a
	// duplicate".
	seen  map[seenKey]int64
	multi map[seenKey]*dupGroup // transactions held by more than one in-run line
	// The same for in-run lines matched to nothing, keyed by their ids.
	idSeen  map[string]int64
	idMulti map[string][]int64

	attention []*itemRow // in-run lines with a mismatch, and every line not matched by id
	fx        []posDiscrepancy
	settled   []settledLine
	batches   map[[3]string]*batchTypeSum
	counts    Counts
}

// dupGroup is every in-run line holding one transaction.
type dupGroup struct {
	tx  ledgerRef
	pos []int64
}

type posDiscrepancy struct {
	pos int64
	d   Discrepancy
}

func newMatcher(files []File, inRun map[int64]bool) *matcher {
	m := &matcher{files: map[int64]fileInfo{}, seen: map[seenKey]int64{}, multi: map[seenKey]*dupGroup{},
		idSeen: map[string]int64{}, idMulti: map[string][]int64{}, batches: map[[3]string]*batchTypeSum{},
		counts: Counts{Lines: map[report.Kind]int64{}, LinesByType: map[string]int64{}, Discrepancies: map[Kind]int64{}}}
	for _, f := range files {
		m.files[f.ID] = fileInfo{kind: f.Kind, name: f.Name, inRun: inRun[f.ID]}
	}
	return m
}

// add takes one streamed line.
func (m *matcher) add(r *itemRow) {
	fi := m.files[r.FileID]
	sd := fi.kind == report.SettlementItems
	lt := ledgerType(r.TransactionType)
	if fi.inRun {
		m.counts.Lines[fi.kind]++
		m.counts.LinesByType[string(fi.kind)+"/"+r.TransactionType]++
		if lt == "" {
			m.counts.RollForwardOnly++
		}
		if sd {
			m.sumBatch(r)
		}
		if r.QuotePrice != "" && r.Txn.Valid && r.Settle.Valid && r.Txn.Currency != r.Settle.Currency {
			if d, bad := checkFX(fxOf(r, fi)); bad {
				m.fx = append(m.fx, posDiscrepancy{r.pos(), d})
			}
		}
	}
	switch {
	case r.Tx.Valid:
		m.matched(r, fi)
	case lt != "":
		cp := *r // the streamed row is reused
		m.attention = append(m.attention, &cp)
	case fi.inRun:
		m.registerIDs(r, fi)
	}
}

// matched records a line matched to a ledger transaction.
func (m *matcher) matched(r *itemRow, fi fileInfo) {
	k := seenKey{fi.kind == report.SettlementItems, r.Tx.ID}
	first, ok := m.seen[k]
	if !fi.inRun {
		if !ok {
			m.seen[k] = -1
		}
		return
	}
	m.counts.Matched++
	pos := r.pos()
	switch {
	case !ok || first == -1:
		m.seen[k] = pos
	default:
		g := m.multi[k]
		if g == nil {
			g = &dupGroup{tx: r.Tx, pos: []int64{first}}
			m.multi[k] = g
		}
		g.pos = append(g.pos, pos)
	}
	if len(lineBreaks(r)) > 0 {
		cp := *r
		m.attention = append(m.attention, &cp)
	}
	if k.settlement {
		m.settled = append(m.settled, settledLine{Pos: pos, PaymentID: r.Tx.PaymentID, TxID: r.Tx.ID})
	}
}

// registerIDs records an in-run line matched to nothing, for duplicates.
func (m *matcher) registerIDs(r *itemRow, fi fileInfo) {
	k := strings.Join([]string{string(fi.kind), r.TransactionType, r.TransactionID, r.TransactionRequestID}, "|")
	first, ok := m.idSeen[k]
	if !ok {
		m.idSeen[k] = r.pos()
		return
	}
	if _, many := m.idMulti[k]; !many {
		m.idMulti[k] = []int64{first}
	}
	m.idMulti[k] = append(m.idMulti[k], r.pos())
}

func (m *matcher) sumBatch(r *itemRow) {
	k := [3]string{r.SettlementBatchID, r.Settle.Currency, r.TransactionType}
	b := m.batches[k]
	if b == nil {
		b = &batchTypeSum{BatchID: k[0], Currency: k[1], TransactionType: k[2]}
		m.batches[k] = b
	}
	b.Lines++
	if r.Settle.Valid {
		b.Magnitude = addSat(b.Magnitude, absSat(r.Settle.Minor, &b.Saturated), &b.Saturated)
		b.Signed = addSat(b.Signed, r.Settle.Minor, &b.Saturated)
	}
	if r.Fee.Valid && r.Fee.Minor != 0 {
		if r.Fee.Currency == r.Settle.Currency {
			b.Fees = addSat(b.Fees, absSat(r.Fee.Minor, &b.Saturated), &b.Saturated)
		} else {
			b.ForeignFees++
		}
	}
}

// batchSums returns the per-batch, per-type sums in a stable order.
func (m *matcher) batchSums() []batchTypeSum {
	out := make([]batchTypeSum, 0, len(m.batches))
	for _, b := range m.batches {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.BatchID != b.BatchID {
			return a.BatchID < b.BatchID
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return a.TransactionType < b.TransactionType
	})
	return out
}

// fallbacks matches the lines ids alone did not:
//   - by our request id (transactionRequestId), for any class;
//   - a CAPTURE line without a known captureId (newest report generation,
//     or APO's automatic capture before we learned its id) to a capture of
//     the original payment with the same amount, pairing equal amounts in
//     order so two identical captures match two lines, not one twice;
//   - a CANCEL or VOID line, which names the payment (paymentId or
//     paymentRequestId), to that payment's cancel.
func (m *matcher) fallbacks(ctx context.Context, st *Store) error {
	var reqs []string
	for _, r := range m.attention {
		if !r.Tx.Valid && r.TransactionRequestID != "" {
			reqs = append(reqs, r.TransactionRequestID)
		}
	}
	if len(reqs) > 0 {
		txs, err := st.txsByRequestID(ctx, uniqStrings(reqs))
		if err != nil {
			return err
		}
		byReq := map[string]ledgerTx{}
		for _, t := range txs {
			byReq[t.RequestID] = t
		}
		for _, r := range m.attention {
			if t, ok := byReq[r.TransactionRequestID]; ok && !r.Tx.Valid && t.Type == ledgerType(r.TransactionType) {
				m.assign(r, t.Ref)
			}
		}
	}

	var capRows []*itemRow
	var payIDs []string
	for _, r := range m.attention {
		if !r.Tx.Valid && ledgerType(r.TransactionType) == "CAPTURE" {
			capRows = append(capRows, r)
			payIDs = append(payIDs, paymentOf(r))
		}
	}
	if len(capRows) > 0 {
		caps, err := st.capturesOfPayments(ctx, uniqStrings(payIDs))
		if err != nil {
			return err
		}
		type capKey struct {
			payment string
			amount  int64
		}
		free := map[capKey][]ledgerRef{}
		for _, c := range caps {
			k := capKey{c.APOPaymentID, c.Ref.Amount.Minor}
			free[k] = append(free[k], c.Ref)
		}
		sort.Slice(capRows, func(i, j int) bool { return capRows[i].pos() < capRows[j].pos() })
		for _, r := range capRows {
			a, _ := comparable(r)
			if !a.Valid {
				continue
			}
			sd := m.files[r.FileID].kind == report.SettlementItems
			k := capKey{paymentOf(r), abs(a.Minor)}
			for i, c := range free[k] {
				if _, taken := m.seen[seenKey{sd, c.ID}]; taken {
					continue
				}
				m.assign(r, c)
				free[k] = append(free[k][:i:i], free[k][i+1:]...)
				break
			}
		}
	}

	var apoIDs, payReqs []string
	for _, r := range m.attention {
		if !r.Tx.Valid && ledgerType(r.TransactionType) == "CANCEL" {
			apoIDs = append(apoIDs, paymentOf(r))
			if r.TransactionRequestID != "" {
				payReqs = append(payReqs, r.TransactionRequestID)
			}
		}
	}
	if len(apoIDs) > 0 {
		pcs, err := st.cancelsOfPayments(ctx, uniqStrings(apoIDs), uniqStrings(payReqs))
		if err != nil {
			return err
		}
		byAPO, byReq := map[string]paymentCancel{}, map[string]paymentCancel{}
		for _, pc := range pcs {
			if pc.APOPaymentID != "" {
				byAPO[pc.APOPaymentID] = pc
			}
			byReq[pc.PaymentRequestID] = pc
		}
		for _, r := range m.attention {
			if r.Tx.Valid || ledgerType(r.TransactionType) != "CANCEL" {
				continue
			}
			pc, ok := byAPO[paymentOf(r)]
			if !ok && r.TransactionRequestID != "" {
				pc, ok = byReq[r.TransactionRequestID]
			}
			if !ok {
				continue
			}
			r.KnownPayment = pc.PaymentID
			if pc.Cancel.Valid {
				m.assign(r, pc.Cancel)
			}
		}
	}
	// What is still unmatched takes part in duplicate detection by ids.
	for _, r := range m.attention {
		if fi := m.files[r.FileID]; !r.Tx.Valid && fi.inRun {
			m.registerIDs(r, fi)
		}
	}
	return nil
}

// assign matches a retained line to a transaction found by a fallback.
func (m *matcher) assign(r *itemRow, t ledgerRef) {
	r.Tx = t
	fi := m.files[r.FileID]
	k := seenKey{fi.kind == report.SettlementItems, t.ID}
	if !fi.inRun {
		if _, ok := m.seen[k]; !ok {
			m.seen[k] = -1
		}
		return
	}
	// Reuse matched's bookkeeping; the row is already retained, so it
	// must not be appended to attention again.
	before := len(m.attention)
	m.matched(r, fi)
	m.attention = m.attention[:before]
}

// present reports whether a report kind's lines (in the run or its
// window) hold a ledger transaction.
func (m *matcher) present(settlement bool, id uuid16) bool {
	_, ok := m.seen[seenKey{settlement, id}]
	return ok
}

// duplicate is an in-run line that repeats an earlier one (in file and
// line order) of the same report kind.
type duplicate struct {
	occurrence int       // 2 for the first repeat
	tx         ledgerRef // the transaction both stand for, when matched
}

// duplicates returns every duplicate line by position.
func (m *matcher) duplicates() map[int64]duplicate {
	dups := map[int64]duplicate{}
	mark := func(ps []int64, tx ledgerRef) {
		ps = append([]int64(nil), ps...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for i, p := range ps[1:] {
			dups[p] = duplicate{occurrence: i + 2, tx: tx}
		}
	}
	for _, g := range m.multi {
		mark(g.pos, g.tx)
	}
	for _, ps := range m.idMulti {
		mark(ps, ledgerRef{})
	}
	return dups
}

// matchedDuplicates counts the duplicates among matched lines: counted as
// matched when streamed, they are duplicates, not matches.
func (m *matcher) matchedDuplicates() int64 {
	var n int64
	for _, g := range m.multi {
		n += int64(len(g.pos) - 1)
	}
	return n
}

// discrepancies turns what the matcher holds into discrepancies; dupRows
// are the duplicate lines, read again (the stream does not keep them).
func (m *matcher) discrepancies(dups map[int64]duplicate, dupRows []itemRow) []Discrepancy {
	var out []Discrepancy
	for _, r := range m.attention {
		fi := m.files[r.FileID]
		if _, dup := dups[r.pos()]; !fi.inRun || dup {
			continue
		}
		if !r.Tx.Valid {
			if ledgerType(r.TransactionType) != "" {
				out = append(out, lineDiscrepancy(MissingInLedger, r, fi, 0))
			}
			continue
		}
		for _, k := range lineBreaks(r) {
			out = append(out, lineDiscrepancy(k, r, fi, 0))
		}
	}
	for _, f := range m.fx {
		if _, dup := dups[f.pos]; !dup {
			out = append(out, f.d)
		}
	}
	for i := range dupRows {
		r := &dupRows[i]
		d := dups[r.pos()]
		r.Tx = d.tx
		out = append(out, lineDiscrepancy(DuplicateInReport, r, m.files[r.FileID], d.occurrence))
	}
	return out
}

// lineBreaks says what is wrong with a matched line: its amount is compared
// by magnitude (APO's sign convention is unconfirmed) with ours when the
// currencies agree; its status with ours when it states a final outcome.
func lineBreaks(r *itemRow) []Kind {
	var out []Kind
	if a, _ := comparable(r); a.Valid {
		switch {
		case a.Currency != r.Tx.Amount.Currency:
			out = append(out, CurrencyMismatch)
		case abs(a.Minor) != r.Tx.Amount.Minor:
			out = append(out, AmountMismatch)
		}
	}
	if (reportSuccess(r.Status) && r.Tx.Status != "SUCCEEDED") || (reportFailure(r.Status) && r.Tx.Status == "SUCCEEDED") {
		out = append(out, StatusMismatch)
	}
	return out
}

// comparable is the line's amount to compare with ours: the transaction
// amount, or the settlement amount when the line has none.
func comparable(r *itemRow) (report.Amount, bool) {
	if r.Txn.Valid {
		return r.Txn, true
	}
	return r.Settle, r.Settle.Valid
}

// paymentOf is the APO paymentId a capture or cancel line names.
func paymentOf(r *itemRow) string {
	if r.OriginalTransactionID != "" {
		return r.OriginalTransactionID
	}
	return r.TransactionID
}

func lineDiscrepancy(k Kind, r *itemRow, fi fileInfo, occurrence int) Discrepancy {
	d := Discrepancy{Kind: k, ReportKind: fi.kind, TransactionType: r.TransactionType, TransactionID: r.TransactionID,
		TransactionRequestID: r.TransactionRequestID, OriginalTransactionID: r.OriginalTransactionID,
		SettlementBatchID: r.SettlementBatchID, FileID: r.FileID, FileName: fi.name, Line: r.LineNo}
	d.Fingerprint = strings.Join([]string{string(k), string(fi.kind), r.TransactionType, r.TransactionID,
		r.TransactionRequestID}, "|")
	details := map[string]any{}
	if r.Status != "" {
		details["report_status"] = r.Status
	}
	if occurrence > 0 {
		d.Fingerprint += "|#" + strconv.Itoa(occurrence)
		details["occurrence"] = occurrence
	}
	if a, ok := comparable(r); ok {
		d.Report = a
	}
	if r.Tx.Valid {
		d.PaymentID, d.LedgerTransactionID = r.Tx.PaymentID.String(), r.Tx.ID.String()
		d.Ours = report.Amount{Money: r.Tx.Amount, Valid: true}
		details["our_status"] = r.Tx.Status
	} else if r.KnownPayment != (uuid16{}) {
		d.PaymentID = r.KnownPayment.String()
		details["reason"] = "payment known, no " + strings.ToLower(ledgerType(r.TransactionType)) + " recorded"
	}
	if len(details) > 0 {
		d.Details, _ = json.Marshal(details) // maps of strings and ints always marshal (keys sorted)
	}
	return d
}

// missingDiscrepancy reports a ledger transaction absent from a report.
func missingDiscrepancy(kind report.Kind, t ledgerTx, due time.Time) Discrepancy {
	d := Discrepancy{Kind: MissingInReport, ReportKind: kind, TransactionType: t.Type, TransactionID: t.APOID,
		TransactionRequestID: t.RequestID, OriginalTransactionID: t.APOPaymentID,
		PaymentID: t.Ref.PaymentID.String(), LedgerTransactionID: t.Ref.ID.String(),
		Ours:        report.Amount{Money: t.Ref.Amount, Valid: true},
		Fingerprint: string(MissingInReport) + "|" + string(kind) + "|" + t.Ref.ID.String()}
	details := map[string]any{"due_on": due.Format(time.DateOnly)}
	if t.CompletedAt != nil {
		details["completed_at"] = t.CompletedAt.Format(time.RFC3339Nano)
	}
	d.Details, _ = json.Marshal(details)
	return d
}

func fxOf(r *itemRow, fi fileInfo) fxLine {
	l := fxLine{FileID: r.FileID, FileName: fi.name, LineNo: r.LineNo, ReportKind: string(fi.kind),
		TransactionType: r.TransactionType, TransactionID: r.TransactionID, TransactionRequestID: r.TransactionRequestID,
		OriginalTransactionID: r.OriginalTransactionID, SettlementBatchID: r.SettlementBatchID,
		TxnMinor: r.Txn.Minor, TxnCurrency: r.Txn.Currency, SettleMinor: r.Settle.Minor,
		SettleCurrency: r.Settle.Currency, QuotePair: r.QuotePair, QuotePrice: r.QuotePrice}
	if r.Tx.Valid {
		l.PaymentID, l.TxID = r.Tx.PaymentID.String(), r.Tx.ID.String()
	}
	return l
}

// fxLine is a cross-currency line, as the FX check reads it.
type fxLine struct {
	FileID                int64
	FileName              string
	LineNo                int
	ReportKind            string
	TransactionType       string
	TransactionID         string
	TransactionRequestID  string
	OriginalTransactionID string
	SettlementBatchID     string
	PaymentID             string
	TxID                  string
	TxnMinor              int64
	TxnCurrency           string
	SettleMinor           int64
	SettleCurrency        string
	QuotePair             string
	QuotePrice            string
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func uniqStrings(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
