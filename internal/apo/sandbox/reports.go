package sandbox

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report files follow apo-reference.md §6, in either generation of §6.2:
// GenerationAPO (A, the default) or GenerationNewest (B). What the
// reference leaves open, the sandbox settles as follows:
//
//   - Sign convention (UNCONFIRMED per the reference): amounts carry the
//     direction of the money for the merchant. CAPTURE and
//     DISPUTE_REVERSAL are positive; REFUND and DISPUTE (a chargeback) are
//     NEGATIVE in transactionAmountValue and settlementAmountValue; every
//     fee is NEGATIVE in feeAmountValue. PAYMENT, AUTHORIZATION and CANCEL
//     move no money and show the authorized amount, positive.
//   - settlementAmountValue is the transaction amount converted to the
//     settlement currency (× quotePrice, rounded half away from zero to
//     the settlement currency's exponent), before fees. A line's net is
//     settlementAmountValue + feeAmountValue.
//   - Fees: CAPTURE lines pay the acquirer's rate (basis points of the
//     settlement amount); other lines pay none ("0.00"). Each batch ends
//     with one SETTLEMENT_FEE line: transaction and settlement amount 0,
//     feeAmountValue = minus the acquirer's fixed batch fee.
//   - Batches: one per acquirer and settlement currency and day; the day's
//     CAPTURE, REFUND, chargeback DISPUTE and DISPUTE_REVERSAL lines settle
//     in it, at <day>T23:59:59Z (settlementTime / settlementInitiatedDate).
//   - The summary has one row per transactionType of the batch
//     (summaryType = transactionType): count = number of item lines,
//     transactionAmountValue = settlementAmountValue = Σ settlementAmountValue
//     of those items (gross), feeAmountValue = Σ feeAmountValue; then a last
//     row of summaryType TOTAL: count = all item lines, transactionAmountValue
//     = gross, feeAmountValue = all fees, settlementAmountValue = gross +
//     fees, the batch's payout. All are in settlementCurrency; transactionCurrency
//     and feeCurrency columns repeat it for parsers that want a currency
//     beside every amount.
//   - Times are ISO 8601 with offset: in UTC in the APO generation, at
//     +08:00 (Antom's own zone) in the newest. Amounts are major units
//     with exactly the currency's decimals (JPY "1339", USD "42.00", KWD
//     "1.234").
//   - Ids (§6.3): in the APO generation a capture's transactionId is its
//     captureId and a refund's its refundId, with the payment's id in
//     originalTransactionId. The newest generation has no
//     originalTransactionId: transactionId is the paymentId for every
//     transaction type (a dispute's too; the batch fee line keeps its own
//     id), and a capture or refund is told apart by its own request id in
//     transactionRequestId (captureRequestId, refundRequestId), the
//     payment's request id being in originalTransactionRequestId in both
//     generations.

// Report generations (apo-reference.md §6.2).
const (
	GenerationAPO    = "apo"    // A: APO / earlier Antom
	GenerationNewest = "newest" // B: newest Antom (PSP, ARN, transaction*Time)
)

// layout is the columns of one generation's files, in order.
type layout struct {
	items   []string // transactionItems and settlementItems
	summary []string // settlementSummary
}

var layouts = map[string]layout{
	GenerationAPO: {
		items: []string{
			"settlementBatchId", "customerId", "acquirer", "acquirerReferenceNo", "referenceMerchantId",
			"transactionType", "transactionId", "originalTransactionId", "transactionRequestId",
			"originalTransactionRequestId", "paymentMethodType", "paymentTime", "settlementTime",
			"transactionAmountValue", "transactionCurrency", "settlementAmountValue", "settlementCurrency",
			"quoteCurrencyPair", "quotePrice", "feeAmountValue", "feeCurrency", "cardBrand", "issuingCountry",
			"funding", "status",
		},
		summary: []string{
			"settlementBatchId", "customerId", "acquirer", "summaryType", "count", "transactionAmountValue",
			"feeAmountValue", "settlementAmountValue", "settlementCurrency", "settlementTime",
			"transactionCurrency", "feeCurrency",
		},
	},
	// §6.2 B in the order listed; summaryType and count belong to the
	// summary only. cardBrand, issuingCountry and funding are kept from the
	// APO generation.
	GenerationNewest: {
		items: []string{
			"settlementBatchId", "customerId", "PSP", "ARN", "referenceMerchantId", "referenceStoreId",
			"transactionType", "transactionId", "transactionRequestId", "originalTransactionRequestId",
			"referenceTransactionId", "orderDescription", "paymentMethodType", "wallet", "status",
			"transactionCreationTime", "transactionUpdateTime", "transactionCompletionTime",
			"settlementInitiatedDate", "productCode", "transactionAmountValue", "transactionCurrency",
			"convertedTransactionAmountValue", "convertedCurrency", "settlementAmountValue", "settlementCurrency",
			"quoteCurrencyPair", "quotePrice", "feeAmountValue", "feeCurrency", "cardBrand", "issuingCountry",
			"funding",
		},
		summary: []string{
			"settlementBatchId", "customerId", "PSP", "summaryType", "count", "settlementInitiatedDate",
			"transactionAmountValue", "transactionCurrency", "settlementAmountValue", "settlementCurrency",
			"feeAmountValue", "feeCurrency",
		},
	},
}

// col is the index of a column in cols, or -1.
func col(cols []string, name string) int { return slices.Index(cols, name) }

// newestZone is the offset of the newest generation's times.
var newestZone = time.FixedZone("+08:00", 8*60*60)

// endMarker is the trailer line of every report file.
const endMarker = "<END>"

// Report kinds, as in file names and ReportFile.Kind.
const (
	KindTransactionItems  = "transactionItems"
	KindSettlementItems   = "settlementItems"
	KindSettlementSummary = "settlementSummary"
)

// AcquirerSettings is how one acquirer settles with the merchant.
type AcquirerSettings struct {
	// FeeBPS is the fee on each capture, in basis points of its settlement
	// amount (0 to 10,000).
	FeeBPS int `json:"feeBps"`
	// BatchFeeMinor is the fixed fee of each settlement batch, in minor
	// units of the settlement currency: its SETTLEMENT_FEE line.
	BatchFeeMinor int64 `json:"batchFeeMinor"`
	// SettlementCurrency overrides Config.SettlementCurrency for this
	// acquirer.
	SettlementCurrency string `json:"settlementCurrency,omitempty"`
}

// defaultAcquirerSettings apply to acquirers Config.Acquirers does not
// name.
var defaultAcquirerSettings = map[string]AcquirerSettings{
	"ADYEN":    {FeeBPS: 260, BatchFeeMinor: 100},
	"CHECKOUT": {FeeBPS: 295, BatchFeeMinor: 100},
	"ALIPAY":   {FeeBPS: 320, BatchFeeMinor: 100},
}

// reportSettings is the validated report part of Config.
type reportSettings struct {
	dir        string
	generation string // default of ReportRequest.Generation
	acquirers  map[string]AcquirerSettings
	fx         map[string]quote // configured quotes; read-only after New
}

func newReportSettings(cfg Config) (reportSettings, error) {
	rs := reportSettings{dir: cfg.ReportsDir, generation: cfg.ReportGeneration, acquirers: map[string]AcquirerSettings{}, fx: map[string]quote{}}
	if rs.generation == "" {
		rs.generation = GenerationAPO
	}
	if _, ok := layouts[rs.generation]; !ok {
		return rs, fmt.Errorf("sandbox: ReportGeneration %q is not %s or %s", cfg.ReportGeneration, GenerationAPO, GenerationNewest)
	}
	known := func(ccy string) bool { _, ok := currencyExponent(ccy); return ok }
	if cfg.SettlementCurrency != "" && !known(cfg.SettlementCurrency) {
		return rs, fmt.Errorf("sandbox: SettlementCurrency %q is not a known ISO 4217 code", cfg.SettlementCurrency)
	}
	for name := range cfg.Acquirers {
		if _, ok := defaultAcquirerSettings[name]; !ok {
			return rs, fmt.Errorf("sandbox: Acquirers: unknown acquirer %q", name)
		}
	}
	for _, a := range acquirers {
		set, ok := cfg.Acquirers[a.Name]
		if !ok {
			set = defaultAcquirerSettings[a.Name]
		}
		if set.FeeBPS < 0 || set.FeeBPS > 10000 || set.BatchFeeMinor < 0 {
			return rs, fmt.Errorf("sandbox: Acquirers[%s]: FeeBPS must be 0-10000 and BatchFeeMinor not negative", a.Name)
		}
		if set.SettlementCurrency == "" {
			set.SettlementCurrency = cfg.SettlementCurrency
		} else if !known(set.SettlementCurrency) {
			return rs, fmt.Errorf("sandbox: Acquirers[%s]: SettlementCurrency %q is not a known ISO 4217 code", a.Name, set.SettlementCurrency)
		}
		rs.acquirers[a.Name] = set
	}
	for pair, price := range cfg.FXRates {
		from, to, ok := strings.Cut(pair, "/")
		if !ok || !known(from) || !known(to) {
			return rs, fmt.Errorf("sandbox: FXRates: %q is not a pair of known currencies like \"JPY/USD\"", pair)
		}
		rat, ok := parseDecimal(price)
		if !ok {
			return rs, fmt.Errorf("sandbox: FXRates[%s]: %q is not a positive decimal", pair, price)
		}
		rs.fx[pair] = quote{pair: pair, price: price, rat: rat}
	}
	return rs, nil
}

// Kinds of report entries.
type entryKind uint8

const (
	entryPayment  entryKind = iota // PAYMENT or AUTHORIZATION
	entryCapture                   // CAPTURE
	entryRefund                    // REFUND
	entryCancel                    // CANCEL
	entryDispute                   // DISPUTE
	entryReversal                  // DISPUTE_REVERSAL
)

// dayEntry points at one event of a day, in the order events happened.
// The line is rendered from live state when a report is written, so it
// shows the latest status.
type dayEntry struct {
	kind entryKind
	p    *payment
	c    *capture
	r    *refund
	d    *dispute
}

// settles reports whether the entry is a line of the settlement report.
func (e dayEntry) settles() bool {
	switch e.kind {
	case entryCapture, entryRefund, entryReversal:
		return true
	case entryDispute:
		return e.d.Type == "CHARGEBACK"
	}
	return false
}

const dayLayout = "20060102"

// addDayEntry files an event under its UTC day. Call with mu held.
func (s *Server) addDayEntry(at time.Time, e dayEntry) {
	day := at.UTC().Format(dayLayout)
	s.st.daily[day] = append(s.st.daily[day], e)
}

// line is one rendered item line, amounts in minor units.
type line struct {
	batchID, acquirer, acqRef, refMerchant string
	txType, txID, origTxID, txReqID        string
	origTxReqID                            string
	paymentID                              string // the payment the line belongs to; "" for the batch fee
	createdAt, paymentTime                 time.Time
	amount                                 money
	settled                                bool
	settle, fee                            money // settlement currency; only when settled
	quotePair, quotePrice                  string
	brand, country, funding, status        string
}

// fileTxID is the line's transactionId as the generation writes it.
func (l *line) fileTxID(generation string) string {
	if generation == GenerationNewest && l.paymentID != "" {
		return l.paymentID
	}
	return l.txID
}

// record renders l as a row of run's item files.
func (l *line) record(run *reportRun) []string {
	cols := run.layout.items
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = l.value(c, run)
	}
	return rec
}

// value is l's cell in column c; a column the table does not know is empty.
func (l *line) value(c string, run *reportRun) string {
	if cell, ok := itemCells[c]; ok {
		return cell(l, run)
	}
	return ""
}

// cell computes one column of an item line.
type cell func(l *line, run *reportRun) string

// itemCells is what each item-file column holds, by every name the
// generations of the format give it. Settlement columns are empty until
// the line is settled.
var itemCells = map[string]cell{
	"settlementBatchId":            func(l *line, _ *reportRun) string { return l.batchID },
	"customerId":                   func(_ *line, run *reportRun) string { return run.s.customerID },
	"acquirer":                     func(l *line, _ *reportRun) string { return l.acquirer },
	"PSP":                          func(l *line, _ *reportRun) string { return l.acquirer },
	"acquirerReferenceNo":          func(l *line, _ *reportRun) string { return l.acqRef },
	"ARN":                          func(l *line, _ *reportRun) string { return l.acqRef },
	"referenceMerchantId":          func(l *line, _ *reportRun) string { return l.refMerchant },
	"transactionType":              func(l *line, _ *reportRun) string { return l.txType },
	"transactionId":                func(l *line, run *reportRun) string { return l.fileTxID(run.generation) },
	"originalTransactionId":        func(l *line, _ *reportRun) string { return l.origTxID },
	"transactionRequestId":         func(l *line, _ *reportRun) string { return l.txReqID },
	"originalTransactionRequestId": func(l *line, _ *reportRun) string { return l.origTxReqID },
	"paymentMethodType": func(l *line, _ *reportRun) string {
		if l.txType == "SETTLEMENT_FEE" {
			return ""
		}
		return "CARD"
	},
	"paymentTime":                     paymentTimeCell,
	"transactionUpdateTime":           paymentTimeCell,
	"transactionCompletionTime":       paymentTimeCell,
	"transactionCreationTime":         func(l *line, run *reportRun) string { return run.time(l.createdAt) },
	"settlementTime":                  settled(settlementTimeCell),
	"settlementInitiatedDate":         settled(settlementTimeCell),
	"transactionAmountValue":          func(l *line, _ *reportRun) string { return formatMajor(l.amount.Value, l.amount.Currency) },
	"transactionCurrency":             func(l *line, _ *reportRun) string { return l.amount.Currency },
	"convertedTransactionAmountValue": settled(converted(func(l *line) string { return formatMajor(l.settle.Value, l.settle.Currency) })),
	"convertedCurrency":               settled(converted(func(l *line) string { return l.settle.Currency })),
	"settlementAmountValue":           settled(func(l *line, _ *reportRun) string { return formatMajor(l.settle.Value, l.settle.Currency) }),
	"settlementCurrency":              settled(func(l *line, _ *reportRun) string { return l.settle.Currency }),
	"quoteCurrencyPair":               func(l *line, _ *reportRun) string { return l.quotePair },
	"quotePrice":                      func(l *line, _ *reportRun) string { return l.quotePrice },
	"feeAmountValue":                  settled(func(l *line, _ *reportRun) string { return formatMajor(l.fee.Value, l.fee.Currency) }),
	"feeCurrency":                     settled(func(l *line, _ *reportRun) string { return l.fee.Currency }),
	"cardBrand":                       func(l *line, _ *reportRun) string { return l.brand },
	"issuingCountry":                  func(l *line, _ *reportRun) string { return l.country },
	"funding":                         func(l *line, _ *reportRun) string { return l.funding },
	"status":                          func(l *line, _ *reportRun) string { return l.status },
}

func paymentTimeCell(l *line, run *reportRun) string { return run.time(l.paymentTime) }

func settlementTimeCell(_ *line, run *reportRun) string { return run.time(run.settlementTime) }

// settled leaves a column empty on a line that is not settled yet.
func settled(c cell) cell {
	return func(l *line, run *reportRun) string {
		if !l.settled {
			return ""
		}
		return c(l, run)
	}
}

// converted leaves a column empty on a line without a currency conversion.
func converted(f func(l *line) string) cell {
	return func(l *line, _ *reportRun) string {
		if l.quotePair == "" {
			return ""
		}
		return f(l)
	}
}

// batchID makes a settlement batch id: the day, the acquirer's number and
// the settlement currency, e.g. "2026112302USD".
func batchID(day string, acq, ccy string) string {
	n := 0
	for i, a := range acquirers {
		if a.Name == acq {
			n = i + 1
		}
	}
	return fmt.Sprintf("%s%02d%s", day, n, ccy)
}

// render turns an entry into its line, settlement figures included. Call
// with mu held.
func (s *Server) render(e dayEntry, day string, quotes map[string]quote) (line, error) {
	p := e.p
	l := line{
		acquirer: p.Card.Acquirer, refMerchant: p.ReferenceMerchID, paymentID: p.ID,
		brand: p.Card.Brand, country: p.Card.IssuingCountry, funding: p.Card.Funding, status: statusSuccess,
	}
	switch e.kind {
	case entryPayment:
		l.txType = "PAYMENT"
		if p.CaptureMode == "MANUAL" {
			l.txType = "AUTHORIZATION"
		}
		l.txID, l.txReqID = p.ID, p.RequestID
		l.paymentTime = p.CreateTime
		if !p.PaymentTime.IsZero() {
			l.paymentTime = p.PaymentTime
		}
		l.amount, l.status, l.acqRef = p.Amount, p.Status, p.Acquirer.AcquirerTransactionID
	case entryCapture:
		l.txType, l.txID, l.origTxID, l.txReqID, l.origTxReqID = "CAPTURE", e.c.ID, p.ID, e.c.RequestID, p.RequestID
		l.paymentTime, l.amount, l.acqRef = e.c.Time, e.c.Amount, e.c.Acquirer.AcquirerTransactionID
	case entryRefund:
		l.txType, l.txID, l.origTxID, l.txReqID, l.origTxReqID = "REFUND", e.r.ID, p.ID, e.r.RequestID, p.RequestID
		l.paymentTime, l.acqRef = e.r.Time, e.r.Acquirer.AcquirerTransactionID
		l.amount = money{Value: -e.r.Amount.Value, Currency: e.r.Amount.Currency}
	case entryCancel:
		l.txType, l.txID, l.txReqID = "CANCEL", p.ID, p.RequestID
		l.paymentTime, l.amount, l.acqRef = p.Cancel.Time, p.Amount, p.Cancel.Acquirer.AcquirerTransactionID
	case entryDispute:
		l.txType, l.txID, l.origTxID, l.origTxReqID = "DISPUTE", e.d.ID, p.ID, p.RequestID
		l.paymentTime, l.acqRef = e.d.Time, e.d.ARN
		l.amount = money{Value: -e.d.Amount.Value, Currency: e.d.Amount.Currency}
	case entryReversal:
		l.txType, l.txID, l.origTxID, l.origTxReqID = "DISPUTE_REVERSAL", e.d.ID, p.ID, p.RequestID
		l.paymentTime, l.acqRef, l.amount = e.d.ReversalTime, e.d.ARN, *e.d.Reversal
	}
	l.createdAt = l.paymentTime
	if e.kind == entryPayment {
		l.createdAt = p.CreateTime
	}
	if !e.settles() {
		return l, nil
	}
	set := s.reports.acquirers[l.acquirer]
	ccy := set.SettlementCurrency
	if ccy == "" {
		ccy = l.amount.Currency
	}
	l.settled = true
	l.batchID = batchID(day, l.acquirer, ccy)
	l.settle = l.amount
	if ccy != l.amount.Currency {
		q, err := s.reports.quoteFor(l.amount.Currency, ccy, quotes)
		if err != nil {
			return l, err
		}
		fromExp, _ := currencyExponent(l.amount.Currency)
		toExp, _ := currencyExponent(ccy)
		l.settle = money{Value: convert(l.amount.Value, fromExp, toExp, q), Currency: ccy}
		l.quotePair, l.quotePrice = q.pair, q.price
	}
	l.fee = money{Currency: ccy}
	if l.txType == "CAPTURE" {
		l.fee.Value = -feeOf(l.settle.Value, set.FeeBPS)
	}
	return l, nil
}

// ReportRequest asks for one day's report files.
type ReportRequest struct {
	// Date is the UTC day, yyyyMMdd.
	Date string `json:"date"`
	// Format is "csv" (default) or "xlsx".
	Format string `json:"format,omitempty"`
	// Generation is "apo" or "newest" (apo-reference.md §6.2); default
	// Config.ReportGeneration.
	Generation string `json:"generation,omitempty"`
	// Faults, when set, damages the files in known ways.
	Faults *ReportFaults `json:"faults,omitempty"`
}

// ReportFile is one file written.
type ReportFile struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Kind     string `json:"kind"` // transactionItems, settlementItems, settlementSummary
	BatchID  string `json:"batchId,omitempty"`
	Currency string `json:"currency,omitempty"`
	Records  int    `json:"records"` // rows between the header and the trailer
	Trailer  bool   `json:"trailer"` // false when a fault left <END> out
}

// ReportResult says what a report run wrote and which faults it injected,
// so a test knows the truth behind every damaged line.
type ReportResult struct {
	Date       string          `json:"date"`
	Dir        string          `json:"dir"`
	Format     string          `json:"format"`
	Generation string          `json:"generation"`
	Files      []ReportFile    `json:"files"`
	Faults     []InjectedFault `json:"faults"`
}

// reportChunk is how many entries are rendered per hold of the state
// lock: enough to amortise the locking, few enough that a huge day keeps
// little in memory and never blocks the gateway for long.
const reportChunk = 2048

// WriteReports writes the transaction details of one UTC day and the
// settlement details and summary of each of its batches under
// <ReportsDir>/<CustomerID>/<yyyyMMdd>/. Lines stream to disk a chunk at
// a time. Each file is written under a temporary name and renamed when
// complete, so a reader never sees half a file.
func (s *Server) WriteReports(req ReportRequest) (*ReportResult, error) {
	if s.reports.dir == "" {
		return nil, fmt.Errorf("sandbox: reports: no ReportsDir configured: %w", ErrState)
	}
	day, err := time.Parse(dayLayout, req.Date)
	if err != nil || len(req.Date) != 8 {
		return nil, fmt.Errorf("sandbox: reports: date %q is not yyyyMMdd: %w", req.Date, ErrInvalid)
	}
	format := req.Format
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "xlsx" {
		return nil, fmt.Errorf("sandbox: reports: format %q is not csv or xlsx: %w", format, ErrInvalid)
	}
	generation := req.Generation
	if generation == "" {
		generation = s.reports.generation
	}
	lay, ok := layouts[generation]
	if !ok {
		return nil, fmt.Errorf("sandbox: reports: generation %q is not %s or %s: %w", generation, GenerationAPO, GenerationNewest, ErrInvalid)
	}
	faults := ReportFaults{}
	if req.Faults != nil {
		faults = *req.Faults
	}
	if err := faults.validate(); err != nil {
		return nil, fmt.Errorf("sandbox: reports: faults: %v: %w", err, ErrInvalid)
	}
	s.reportMu.Lock()
	defer s.reportMu.Unlock()
	dir := filepath.Join(s.reports.dir, s.customerID, req.Date)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: reports: %w", err)
	}
	run := &reportRun{
		s: s, day: req.Date, dir: dir, format: format, generation: generation, layout: lay,
		settlementTime: day.Add(24*time.Hour - time.Second),
		batches:        map[string]*batchOut{},
		quotes:         map[string]quote{},
		res: &ReportResult{Date: req.Date, Dir: dir, Format: format, Generation: generation, Files: []ReportFile{},
			Faults: []InjectedFault{}},
	}
	defer run.cleanup()
	if err := run.write(faults); err != nil {
		return nil, fmt.Errorf("sandbox: reports %s: %w", req.Date, err)
	}
	return run.res, nil
}

// reportRun is one WriteReports in progress.
type reportRun struct {
	s              *Server
	day, dir       string
	format         string
	generation     string
	layout         layout
	settlementTime time.Time
	td             *fileOut
	batches        map[string]*batchOut
	quotes         map[string]quote
	plan           *faultPlan
	res            *ReportResult
	outs           []*fileOut // closed files, renamed at the end
	temps          []string   // temporary files to remove if the run fails
}

// time formats t in the generation's zone.
func (run *reportRun) time(t time.Time) string {
	if run.generation == GenerationNewest && !t.IsZero() {
		return t.In(newestZone).Format(timeLayout)
	}
	return formatTime(t)
}

// batchOut is one settlement batch being written, with its true totals.
type batchOut struct {
	*batchTotals
	out     *fileOut
	feeLine line
}

// batchTotals are one settlement batch's true totals per transaction
// type: what its summary says and, in TOTAL, its payout. The reports and
// the bank statements both compute them with add and addFeeLine.
type batchTotals struct {
	id, acquirer, currency string
	totals                 map[string]*typeTotal
}

type typeTotal struct {
	count             int64
	gross, fee, total int64
}

func newBatchTotals(l *line) *batchTotals {
	return &batchTotals{id: l.batchID, acquirer: l.acquirer, currency: l.settle.Currency, totals: map[string]*typeTotal{}}
}

func (b *batchTotals) add(l *line) {
	t := b.totals[l.txType]
	if t == nil {
		t = &typeTotal{}
		b.totals[l.txType] = t
	}
	t.count++
	t.gross += l.settle.Value
	t.fee += l.fee.Value
	t.total += l.settle.Value + l.fee.Value
}

// addFeeLine ends the batch with its SETTLEMENT_FEE line, settled at at,
// and returns the line.
func (b *batchTotals) addFeeLine(fee int64, at time.Time) line {
	l := line{
		batchID: b.id, acquirer: b.acquirer, txType: "SETTLEMENT_FEE", txID: b.id + "FEE",
		createdAt: at, paymentTime: at, amount: money{Currency: b.currency}, settled: true,
		settle: money{Currency: b.currency}, fee: money{Value: -fee, Currency: b.currency}, status: statusSuccess,
	}
	b.add(&l)
	return l
}

// types returns the batch's transaction types in order.
func (b *batchTotals) types() []string {
	types := make([]string, 0, len(b.totals))
	for t := range b.totals {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// all is the TOTAL row: every line, gross, fees and the payout in total.
func (b *batchTotals) all() typeTotal {
	var all typeTotal
	for _, tt := range b.totals {
		all.count, all.gross, all.fee, all.total = all.count+tt.count, all.gross+tt.gross, all.fee+tt.fee, all.total+tt.total
	}
	return all
}

func (run *reportRun) write(faults ReportFaults) error {
	s := run.s
	s.mu.Lock()
	entries := s.st.daily[run.day]
	n := len(entries)
	settled := 0
	for _, e := range entries {
		if e.settles() {
			settled++
		}
	}
	s.mu.Unlock()

	run.plan = newFaultPlan(faults, s.seed, run.day, n, settled)
	td, err := run.open(KindTransactionItems, fmt.Sprintf("transactionItems_%s_000", run.day), run.layout.items)
	if err != nil {
		return err
	}
	run.td = td

	if err := s.eachLine(entries, run.day, run.quotes, run.item); err != nil {
		return err
	}
	return run.finish()
}

// eachLine renders entries, events of day, a chunk at a time under the
// state lock, and calls fn with each line outside it.
func (s *Server) eachLine(entries []dayEntry, day string, quotes map[string]quote, fn func(*line) error) error {
	n := len(entries)
	lines := make([]line, 0, min(n, reportChunk))
	for from := 0; from < n; from += reportChunk {
		to := min(from+reportChunk, n)
		lines = lines[:0]
		s.mu.Lock()
		for _, e := range entries[from:to] {
			l, err := s.render(e, day, quotes)
			if err != nil {
				s.mu.Unlock()
				return err
			}
			lines = append(lines, l)
		}
		s.mu.Unlock()
		for i := range lines {
			if err := fn(&lines[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// item writes one line to the transaction details and, when it settles,
// to its batch's settlement details.
func (run *reportRun) item(l *line) error {
	if err := run.plan.apply(run, run.td, KindTransactionItems, l); err != nil {
		return err
	}
	if !l.settled {
		return nil
	}
	b := run.batches[l.batchID]
	if b == nil {
		out, err := run.open(KindSettlementItems, fmt.Sprintf("settlementItems_%s_%s_000", l.settle.Currency, l.batchID), run.layout.items)
		if err != nil {
			return err
		}
		out.batchID, out.currency = l.batchID, l.settle.Currency
		b = &batchOut{batchTotals: newBatchTotals(l), out: out}
		run.batches[l.batchID] = b
	}
	b.add(l) // the truth, whatever a fault does to the file
	return run.plan.apply(run, b.out, KindSettlementItems, l)
}

// finish ends every file: fee lines, summaries, trailers, renames.
func (run *reportRun) finish() error {
	ids := make([]string, 0, len(run.batches))
	for id := range run.batches {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Summary rows are known only now; the summary faults pick among all.
	var sums []*summaryOut
	for _, id := range ids {
		b := run.batches[id]
		b.feeLine = b.addFeeLine(run.s.reports.acquirers[b.acquirer].BatchFeeMinor, run.settlementTime)
		if err := b.out.write(b.feeLine.record(run)); err != nil {
			return err
		}
		sum := &summaryOut{batch: b}
		for _, t := range b.types() {
			tt := b.totals[t]
			sum.rows = append(sum.rows, run.summaryRow(b, t, tt.count, tt.gross, tt.fee, tt.gross))
			sum.settle = append(sum.settle, tt.gross)
		}
		all := b.all()
		sum.rows = append(sum.rows, run.summaryRow(b, "TOTAL", all.count, all.gross, all.fee, all.total))
		sum.settle = append(sum.settle, all.total)
		sums = append(sums, sum)
	}
	run.plan.breakSummaries(run, sums)

	omit := func(kind string, first bool) bool {
		return first && run.plan.omitsTrailer(kind)
	}
	if err := run.close(run.td, omit(KindTransactionItems, true)); err != nil {
		return err
	}
	for i, id := range ids {
		if err := run.close(run.batches[id].out, omit(KindSettlementItems, i == 0)); err != nil {
			return err
		}
	}
	for i, sum := range sums {
		b := sum.batch
		out, err := run.open(KindSettlementSummary, fmt.Sprintf("settlementSummary_%s_%s_000", b.currency, b.id), run.layout.summary)
		if err != nil {
			return err
		}
		out.batchID, out.currency = b.id, b.currency
		for _, row := range sum.rows {
			if err := out.write(row); err != nil {
				return err
			}
		}
		if err := run.close(out, omit(KindSettlementSummary, i == 0)); err != nil {
			return err
		}
	}
	// Everything is complete: only now do the files take their names.
	for _, out := range run.outs {
		if err := os.Rename(out.tmp, out.path); err != nil {
			return err
		}
	}
	run.temps = nil
	return nil
}

// summaryRow renders one summary row of batch b.
func (run *reportRun) summaryRow(b *batchOut, summaryType string, count, gross, fee, settle int64) []string {
	cols := run.layout.summary
	rec := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "settlementBatchId":
			rec[i] = b.id
		case "customerId":
			rec[i] = run.s.customerID
		case "acquirer", "PSP":
			rec[i] = b.acquirer
		case "summaryType":
			rec[i] = summaryType
		case "count":
			rec[i] = strconv.FormatInt(count, 10)
		case "transactionAmountValue":
			rec[i] = formatMajor(gross, b.currency)
		case "feeAmountValue":
			rec[i] = formatMajor(fee, b.currency)
		case "settlementAmountValue":
			rec[i] = formatMajor(settle, b.currency)
		case "settlementCurrency", "transactionCurrency", "feeCurrency":
			rec[i] = b.currency
		case "settlementTime", "settlementInitiatedDate":
			rec[i] = run.time(run.settlementTime)
		}
	}
	return rec
}

// summaryOut is the rows of one batch's summary.
type summaryOut struct {
	batch *batchOut
	rows  [][]string
	// settle is each row's settlementAmountValue in minor units, for faults.
	settle []int64
}

// open starts a file with its header row.
func (run *reportRun) open(kind, base string, header []string) (*fileOut, error) {
	name := base + "." + run.format
	path := filepath.Join(run.dir, name)
	// The temporary name keeps the extension (excelize insists) and starts
	// with a dot, which no report name does.
	tmp := filepath.Join(run.dir, ".tmp-"+name)
	w, err := newSheetWriter(run.format, tmp)
	if err != nil {
		return nil, err
	}
	run.temps = append(run.temps, tmp)
	out := &fileOut{kind: kind, name: name, path: path, tmp: tmp, w: w}
	if err := out.write(header); err != nil {
		return nil, err
	}
	return out, nil
}

// close writes the trailer (unless a fault omits it) and closes the file.
func (run *reportRun) close(out *fileOut, omitTrailer bool) error {
	if omitTrailer {
		run.res.Faults = append(run.res.Faults, InjectedFault{Kind: FaultOmitTrailer, File: out.name,
			Detail: "the <END> trailer is missing"})
	} else if err := out.write([]string{endMarker}); err != nil {
		return err
	}
	if err := out.w.close(); err != nil {
		return err
	}
	run.outs = append(run.outs, out)
	run.res.Files = append(run.res.Files, ReportFile{
		Name: out.name, Path: out.path, Kind: out.kind, BatchID: out.batchID, Currency: out.currency,
		Records: out.records, Trailer: !omitTrailer,
	})
	return nil
}

// cleanup removes temporary files of a failed run.
func (run *reportRun) cleanup() {
	for _, p := range run.temps {
		_ = os.Remove(p)
	}
}

// fileOut is one report file being written, counting its lines.
type fileOut struct {
	kind, name, path  string
	tmp               string
	batchID, currency string
	w                 sheetWriter
	lines             int // physical lines (rows) written, header included
	records           int // data rows written
}

func (f *fileOut) write(rec []string) error {
	f.lines++
	if f.lines > 1 && !(len(rec) == 1 && rec[0] == endMarker) {
		f.records++
	}
	return f.w.write(rec)
}

// scheduleDailyReports writes the previous day's reports every day at
// 01:00 UTC (by the Server's clock). It runs in the scheduler goroutine,
// so a huge day delays other deadlines by as long as it takes to write.
func (s *Server) scheduleDailyReports() {
	now := s.now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), 1, 0, 0, 0, time.UTC)
	if !next.After(now) {
		next = next.Add(24 * time.Hour)
	}
	s.sched.at(next, func() {
		day := next.Add(-24 * time.Hour).Format(dayLayout)
		res, err := s.WriteReports(ReportRequest{Date: day})
		if err != nil {
			s.log.Error("daily reports", slog.String("date", day), slog.Any("err", err))
		} else {
			s.log.Info("daily reports", slog.String("date", day), slog.String("dir", res.Dir), slog.Int("files", len(res.Files)))
		}
		s.scheduleDailyReports()
	})
}
