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
	FeeOnly         int64 // the part of Fees on lines with no settlement amount (fee-only lines)
	ForeignFees     int64 // lines whose fee is in another currency
	Saturated       bool  // a sum left the int64 range (see addSat)
}

type fileInfo struct {
	kind  report.Kind
	name  string
	batch string
	day   int32 // report date in days since 1970-01-01 (0 when unknown): orders settlement files
	inRun bool
}

// ord places a line among every line that may hold the same transaction:
// earlier report date first, then arrival (file id), then line number. The
// first holder is the original; every later one in the run is a duplicate,
// so a payout repeated in a later settlement period is flagged in that
// period's run and never in the earlier one's.
type ord struct {
	day int32
	pos int64
}

func (a ord) less(b ord) bool { return a.day < b.day || (a.day == b.day && a.pos < b.pos) }

// holder is one line holding a ledger transaction.
type holder struct {
	ord   ord
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
	// seen maps each matched transaction to the first line (in ord) holding
	// it, in the run or in its window (earlier settlement files). It
	// answers "is this transaction in the report" and "is this line a
	// duplicate".
	seen  map[seenKey]holder
	multi map[seenKey]*dupGroup // transactions held by more than one line
	// The same for in-run lines matched to nothing, keyed by their ids.
	idSeen  map[string]int64
	idMulti map[string][]int64

	attention []*itemRow // in-run lines with a mismatch, and every line not matched by id
	fx        []posDiscrepancy
	settled   []settledLine
	batches   map[[3]string]*batchTypeSum
	counts    Counts
}

// dupGroup is every line holding one transaction.
type dupGroup struct {
	tx ledgerRef
	hs []holder
}

type posDiscrepancy struct {
	pos int64
	d   Discrepancy
	// unnamed is set when the line's ids do not name its transaction
	// (see lineIdentity): the fingerprint gets the identity once matching
	// is done; alt is the one to use if nothing matches.
	unnamed bool
	alt     string
}

func newMatcher(files []File, inRun map[int64]bool) *matcher {
	m := &matcher{files: map[int64]fileInfo{}, seen: map[seenKey]holder{}, multi: map[seenKey]*dupGroup{},
		idSeen: map[string]int64{}, idMulti: map[string][]int64{}, batches: map[[3]string]*batchTypeSum{},
		counts: Counts{Lines: map[report.Kind]int64{}, LinesByType: map[string]int64{}, Discrepancies: map[Kind]int64{}}}
	m.addFiles(files, inRun)
	return m
}

// addFiles makes files known to the matcher before their lines stream.
func (m *matcher) addFiles(files []File, inRun map[int64]bool) {
	for _, f := range files {
		fi := fileInfo{kind: f.Kind, name: f.Name, batch: f.BatchID, inRun: inRun[f.ID]}
		if !f.ReportDate.IsZero() {
			fi.day = int32(day(f.ReportDate).Unix() / 86400)
		}
		m.files[f.ID] = fi
	}
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
				pd := posDiscrepancy{pos: r.pos(), d: d}
				if id := lineIdentity(r); id != "" {
					pd.unnamed, pd.alt = true, id
				}
				m.fx = append(m.fx, pd)
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
	h := holder{ord: ord{fi.day, r.pos()}, inRun: fi.inRun}
	if first, ok := m.seen[k]; !ok {
		m.seen[k] = h
	} else {
		g := m.multi[k]
		if g == nil {
			g = &dupGroup{tx: r.Tx, hs: []holder{first}}
			m.multi[k] = g
		}
		g.hs = append(g.hs, h)
		if h.ord.less(first.ord) {
			m.seen[k] = h
		}
	}
	if !fi.inRun {
		return
	}
	m.counts.Matched++
	if len(lineBreaks(r)) > 0 {
		cp := *r
		m.attention = append(m.attention, &cp)
	}
	if k.settlement {
		m.settled = append(m.settled, settledLine{Pos: h.ord.pos, PaymentID: r.Tx.PaymentID, TxID: r.Tx.ID})
	}
}

// registerIDs records an in-run line matched to nothing, for duplicates.
func (m *matcher) registerIDs(r *itemRow, fi fileInfo) {
	k := strings.Join([]string{string(fi.kind), r.TransactionType, r.TransactionID, r.TransactionRequestID,
		lineIdentity(r)}, "|")
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
	ccy := r.Settle.Currency
	if !r.Settle.Valid && r.Fee.Valid {
		ccy = r.Fee.Currency // a fee-only line
	}
	k := [3]string{r.SettlementBatchID, ccy, r.TransactionType}
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
		if r.Fee.Currency == ccy {
			fee := absSat(r.Fee.Minor, &b.Saturated)
			b.Fees = addSat(b.Fees, fee, &b.Saturated)
			if !r.Settle.Valid || r.Settle.Minor == 0 {
				b.FeeOnly = addSat(b.FeeOnly, fee, &b.Saturated)
			}
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

// fallbacks matches the lines APO's own ids did not, by every other
// identifier a line carries. The order, per transaction type (design.md
// §8; apo-reference.md §6.3):
//
//   - PAYMENT/AUTHORIZATION: paymentId (the streamed join), then our
//     paymentRequestId (transactionRequestId).
//   - CAPTURE: captureId (the join: APO's settlement details and older
//     transaction details put it in transactionId), then our
//     captureRequestId (transactionRequestId), then the payment: its
//     paymentId (originalTransactionId, or transactionId in the newest
//     generation, where transactionId is the paymentId for every type) or
//     its paymentRequestId (originalTransactionRequestId, or
//     transactionRequestId where the newest transaction details carry the
//     payment's request id on capture lines). Among that payment's
//     captures, see byPayment.
//   - REFUND: refundId (the join), then refundRequestId, then the payment
//     as for captures.
//   - CANCEL/VOID: the payment by paymentId or paymentRequestId, then its
//     cancel.
//
// A line matched to a transaction another line already holds is a
// duplicate; one that names a payment of ours but none of its
// transactions is MISSING_IN_LEDGER with the payment named.
func (m *matcher) fallbacks(ctx context.Context, st *Store) error {
	if err := m.byRequestID(ctx, st); err != nil {
		return err
	}
	for _, typ := range []string{"CAPTURE", "REFUND"} {
		if err := m.byPayment(ctx, st, typ); err != nil {
			return err
		}
	}
	if err := m.cancels(ctx, st); err != nil {
		return err
	}
	// What is still unmatched takes part in duplicate detection by ids.
	for _, r := range m.attention {
		if fi := m.files[r.FileID]; !r.Tx.Valid && fi.inRun {
			m.registerIDs(r, fi)
		}
	}
	m.fillFX()
	return nil
}

// byRequestID matches the unmatched lines whose transactionRequestId is the
// request id of one of our transactions of the line's type.
func (m *matcher) byRequestID(ctx context.Context, st *Store) error {
	var reqs []string
	for _, r := range m.attention {
		if !r.Tx.Valid && r.TransactionRequestID != "" {
			reqs = append(reqs, r.TransactionRequestID)
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	txs, err := st.txsByRequestID(ctx, uniqStrings(reqs))
	if err != nil {
		return err
	}
	byReq := map[string]ledgerTx{}
	for _, t := range txs {
		byReq[t.RequestID] = t
	}
	for _, r := range m.sortedAttention() {
		if t, ok := byReq[r.TransactionRequestID]; ok && !r.Tx.Valid && t.Type == ledgerType(r.TransactionType) {
			m.assign(r, t.Ref)
		}
	}
	return nil
}

// cancels matches the unmatched CANCEL lines to the cancel of the payment
// they name (by paymentId, else by either request id). A line naming a
// payment of ours without a cancel keeps the payment for its
// MISSING_IN_LEDGER.
func (m *matcher) cancels(ctx context.Context, st *Store) error {
	unmatched := func(r *itemRow) bool { return !r.Tx.Valid && ledgerType(r.TransactionType) == "CANCEL" }
	var apoIDs, payReqs []string
	for _, r := range m.attention {
		if unmatched(r) {
			apoIDs = append(apoIDs, paymentOf(r))
			payReqs = append(payReqs, r.TransactionRequestID, r.OriginalTransactionRequestID)
		}
	}
	if len(apoIDs) == 0 {
		return nil
	}
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
	for _, r := range m.sortedAttention() {
		if !unmatched(r) {
			continue
		}
		pc, ok := byAPO[paymentOf(r)]
		for _, req := range []string{r.TransactionRequestID, r.OriginalTransactionRequestID} {
			if !ok && req != "" {
				pc, ok = byReq[req]
			}
		}
		if !ok {
			continue
		}
		r.KnownPayment = pc.PaymentID
		if pc.Cancel.Valid {
			m.assign(r, pc.Cancel)
		}
	}
	return nil
}

// sortedAttention returns the retained lines in ord, so that an earlier
// line is matched first and a later one repeating it is the duplicate.
func (m *matcher) sortedAttention() []*itemRow {
	out := append([]*itemRow(nil), m.attention...)
	sort.Slice(out, func(i, j int) bool { return m.ordOf(out[i]).less(m.ordOf(out[j])) })
	return out
}

func (m *matcher) ordOf(r *itemRow) ord { return ord{m.files[r.FileID].day, r.pos()} }

// byPayment matches the CAPTURE or REFUND lines (typ) still unmatched to
// the transactions of the payment they name:
//
//  1. every pair of such a line and a transaction of its payment that no
//     line of the report kind holds yet, closest first: the same amount and
//     currency before a different one, then the nearest in time (the
//     line's completion time against ours), then the earlier line; each
//     line and transaction paired once. A payment with one capture thus
//     pairs it whatever differs, and an amount changed in the report is an
//     AMOUNT_MISMATCH, not a line we do not know plus a capture missing.
//  2. a line left over repeats a transaction already held: the nearest in
//     time of the same amount, or the payment's only one
//     (DUPLICATE_IN_REPORT).
//
// A transaction whose APO id differs from an id the line carries as its
// own (a captureId or refundId in transactionId) is a different one and
// never paired. A line still unmatched names its payment in its
// MISSING_IN_LEDGER.
func (m *matcher) byPayment(ctx context.Context, st *Store, typ string) error {
	var (
		rows           []*itemRow
		apoIDs, reqIDs []string
	)
	for _, r := range m.sortedAttention() {
		if !r.Tx.Valid && ledgerType(r.TransactionType) == typ {
			rows = append(rows, r)
			apoIDs = append(apoIDs, paymentOf(r))
			reqIDs = append(reqIDs, r.OriginalTransactionRequestID, r.TransactionRequestID)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	txs, err := st.txsOfPayments(ctx, typ, uniqStrings(apoIDs), uniqStrings(reqIDs))
	if err != nil {
		return err
	}
	pays := newPaymentTxs(txs)
	cands := make(map[*itemRow][]ledgerTx, len(rows))
	for _, r := range rows {
		cands[r] = pays.candidates(r)
	}
	m.pairClosest(rows, cands)
	m.pairRepeats(rows, cands)
	return nil
}

// paymentTxs are our transactions of one type, by the payment they belong
// to, and the payments by the ids a line may name them with.
type paymentTxs struct {
	byAPO, byReq map[string]uuid16
	ofPay        map[uuid16][]ledgerTx
}

func newPaymentTxs(txs []ledgerTx) paymentTxs {
	p := paymentTxs{byAPO: map[string]uuid16{}, byReq: map[string]uuid16{}, ofPay: map[uuid16][]ledgerTx{}}
	for _, t := range txs {
		if t.APOPaymentID != "" {
			p.byAPO[t.APOPaymentID] = t.Ref.PaymentID
		}
		p.byReq[t.PaymentRequestID] = t.Ref.PaymentID
		p.ofPay[t.Ref.PaymentID] = append(p.ofPay[t.Ref.PaymentID], t)
	}
	return p
}

// payment returns the payment the line names: by its paymentId, else by
// either request id it carries.
func (p paymentTxs) payment(r *itemRow) (uuid16, bool) {
	if id, ok := p.byAPO[paymentOf(r)]; ok {
		return id, true
	}
	for _, req := range []string{r.OriginalTransactionRequestID, r.TransactionRequestID} {
		if id, ok := p.byReq[req]; ok && req != "" {
			return id, true
		}
	}
	return uuid16{}, false
}

// candidates are the transactions of the line's payment that it may stand
// for: all of them, less those whose APO id differs from the line's own.
// The line learns its payment.
func (p paymentTxs) candidates(r *itemRow) []ledgerTx {
	pay, ok := p.payment(r)
	if !ok {
		return nil
	}
	r.KnownPayment = pay
	own := ownID(r)
	var out []ledgerTx
	for _, t := range p.ofPay[pay] {
		if own == "" || t.APOID == "" || t.APOID == own {
			out = append(out, t)
		}
	}
	return out
}

// taken reports whether a line of r's report kind already holds t.
func (m *matcher) taken(r *itemRow, t ledgerTx) bool {
	_, ok := m.seen[seenKey{m.files[r.FileID].kind == report.SettlementItems, t.Ref.ID}]
	return ok
}

func sameAmount(r *itemRow, t ledgerTx) bool {
	a, ok := comparable(r)
	return ok && a.Currency == t.Ref.Amount.Currency && abs(a.Minor) == t.Ref.Amount.Minor
}

// pairClosest is byPayment's step 1: every pair of a line and a candidate
// nobody holds, closest first (same amount, then nearest in time, then the
// earlier line, then the earlier transaction), each line and transaction
// paired once.
func (m *matcher) pairClosest(rows []*itemRow, cands map[*itemRow][]ledgerTx) {
	type pair struct {
		r       *itemRow
		t       ledgerTx
		differs bool
		gap     time.Duration
		n       int // the transaction's place among its payment's
	}
	var pairs []pair
	for _, r := range rows {
		for i, t := range cands[r] {
			if !m.taken(r, t) {
				pairs = append(pairs, pair{r: r, t: t, differs: !sameAmount(r, t), gap: gap(r, t), n: i})
			}
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool {
		a, b := pairs[i], pairs[j]
		switch {
		case a.differs != b.differs:
			return !a.differs
		case a.gap != b.gap:
			return a.gap < b.gap
		case a.r != b.r:
			return m.ordOf(a.r).less(m.ordOf(b.r))
		}
		return a.n < b.n
	})
	for _, p := range pairs {
		if !p.r.Tx.Valid && !m.taken(p.r, p.t) {
			m.assign(p.r, p.t.Ref)
		}
	}
}

// pairRepeats is byPayment's step 2: a line left over repeats a
// transaction already held, the nearest in time of the same amount, or the
// payment's only one.
func (m *matcher) pairRepeats(rows []*itemRow, cands map[*itemRow][]ledgerTx) {
	for _, r := range rows {
		if r.Tx.Valid {
			continue
		}
		cs := cands[r]
		if t, ok := nearest(r, cs, func(t ledgerTx) bool { return sameAmount(r, t) }); ok {
			m.assign(r, t.Ref)
		} else if len(cs) == 1 {
			m.assign(r, cs[0].Ref)
		}
	}
}

// gap is how far the line's time is from our transaction's completion;
// zero when either is unknown.
func gap(r *itemRow, t ledgerTx) time.Duration {
	if r.PaymentTime.IsZero() || t.CompletedAt == nil {
		return 0
	}
	return r.PaymentTime.Sub(*t.CompletedAt).Abs()
}

// nearest returns the transaction among cs passing ok whose completion is
// nearest the line's time; ties (or a line without a time) go to the
// earliest created, the order cs comes in.
func nearest(r *itemRow, cs []ledgerTx, ok func(ledgerTx) bool) (ledgerTx, bool) {
	var (
		best  ledgerTx
		found bool
		least time.Duration
	)
	for _, t := range cs {
		if !ok(t) {
			continue
		}
		if g := gap(r, t); !found || g < least {
			best, found, least = t, true, g
		}
	}
	return best, found
}

// ownID is the id a CAPTURE or REFUND line carries for the transaction
// itself (a captureId or refundId), or "" when its transactionId is the
// payment's (the newest generation, and newest transaction details).
func ownID(r *itemRow) string {
	if r.OriginalTransactionID != "" && r.TransactionID != r.OriginalTransactionID {
		return r.TransactionID
	}
	return ""
}

// fillFX names our transaction on FX discrepancies of lines that only a
// fallback matched (the check runs as lines stream past).
func (m *matcher) fillFX() {
	byPos := map[int64]ledgerRef{}
	for _, r := range m.attention {
		if r.Tx.Valid && m.files[r.FileID].inRun {
			byPos[r.pos()] = r.Tx
		}
	}
	for i := range m.fx {
		f := &m.fx[i]
		t, ok := byPos[f.pos]
		if ok && f.d.LedgerTransactionID == "" {
			f.d.PaymentID, f.d.LedgerTransactionID = t.PaymentID.String(), t.ID.String()
		}
		switch {
		case f.unnamed && f.d.LedgerTransactionID != "":
			f.d.Fingerprint += "|tx:" + f.d.LedgerTransactionID
		case f.unnamed:
			f.d.Fingerprint += "|" + f.alt
		}
	}
}

// assign matches a retained line to a transaction found by a fallback.
func (m *matcher) assign(r *itemRow, t ledgerRef) {
	r.Tx = t
	// Reuse matched's bookkeeping; the row is already retained, so it
	// must not be appended to attention again.
	before := len(m.attention)
	m.matched(r, m.files[r.FileID])
	m.attention = m.attention[:before]
}

// present reports whether a report kind's lines (in the run or its
// window) hold a ledger transaction.
func (m *matcher) present(settlement bool, id uuid16) bool {
	_, ok := m.seen[seenKey{settlement, id}]
	return ok
}

// duplicate is an in-run line that repeats an earlier one (in ord) of the
// same report kind.
type duplicate struct {
	occurrence int       // 2 for the first repeat
	tx         ledgerRef // the transaction both stand for, when matched
	first      ord       // the line it repeats
}

// duplicates returns every duplicate line by position.
func (m *matcher) duplicates() map[int64]duplicate {
	dups := map[int64]duplicate{}
	for _, g := range m.multi {
		hs := append([]holder(nil), g.hs...)
		sort.Slice(hs, func(i, j int) bool { return hs[i].ord.less(hs[j].ord) })
		for i, h := range hs[1:] {
			if h.inRun {
				dups[h.ord.pos] = duplicate{occurrence: i + 2, tx: g.tx, first: hs[0].ord}
			}
		}
	}
	for _, ps := range m.idMulti {
		ps = append([]int64(nil), ps...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for i, p := range ps[1:] {
			dups[p] = duplicate{occurrence: i + 2, first: ord{pos: ps[0]}}
		}
	}
	return dups
}

// matchedDuplicates counts the duplicates among matched lines: counted as
// matched when streamed, they are duplicates, not matches.
func (m *matcher) matchedDuplicates(dups map[int64]duplicate) int64 {
	var n int64
	for _, d := range dups {
		if d.tx.Valid {
			n++
		}
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
		fi := m.files[r.FileID]
		x := lineDiscrepancy(DuplicateInReport, r, fi, d.occurrence)
		if firstFile := d.first.pos >> 32; firstFile != r.FileID {
			// Repeats a line of another file: say where the first one is
			// (an earlier settlement batch when money was paid out twice).
			ff := m.files[firstFile]
			details := map[string]any{}
			_ = json.Unmarshal(x.Details, &details) // written by lineDiscrepancy just above
			details["first_file"], details["first_line"] = ff.name, d.first.pos&0xffffffff
			if ff.batch != "" && ff.batch != r.SettlementBatchID {
				details["first_batch"] = ff.batch
			}
			x.Details, _ = json.Marshal(details)
		}
		out = append(out, x)
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

// lineIdentity tells apart the CAPTURE and REFUND lines whose ids name
// only their payment (the newest generation, where transactionId is the
// paymentId, with a request id that may be the payment's too): two
// captures of one payment would otherwise share a fingerprint. It is ""
// for lines that carry an id of their own, so their fingerprints are as
// they always were. Fingerprints of matched lines use our transaction's id
// instead (stable across corrections of the amount).
func lineIdentity(r *itemRow) string {
	if lt := ledgerType(r.TransactionType); (lt != "CAPTURE" && lt != "REFUND") || ownID(r) != "" {
		return ""
	}
	a, _ := comparable(r)
	id := "amt:" + strconv.FormatInt(a.Minor, 10) + a.Currency
	if !r.PaymentTime.IsZero() {
		id += "@" + r.PaymentTime.UTC().Format(time.RFC3339Nano)
	}
	return id
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
	if id := lineIdentity(r); id != "" {
		if r.Tx.Valid {
			id = "tx:" + r.Tx.ID.String()
		}
		d.Fingerprint += "|" + id
	}
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
		switch lt := strings.ToLower(ledgerType(r.TransactionType)); lt {
		case "cancel":
			details["reason"] = "payment known, no cancel recorded"
		default: // its captures or refunds are all held by other lines, or carry other ids
			details["reason"] = "payment known, none of its " + lt + "s is this line"
		}
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
	if r.Fee.Valid && r.Fee.Currency == r.Settle.Currency {
		l.FeeMinor = r.Fee.Minor
	}
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
	FeeMinor              int64 // the line's fee, when in the settlement currency
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
