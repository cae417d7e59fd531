package recon

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/xuri/excelize/v2"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon/report"
)

// This file is the test-only generator: a ledger of payments written
// straight into the payments tables, and APO-format report files (header,
// major units, <END> trailer) describing that ledger, with injectable
// faults.

const testCustomer = "2188120000000000"

// genTx is one ledger transaction.
type genTx struct {
	id, paymentID      string
	typ                string // AUTHORIZATION, CAPTURE, REFUND, CANCEL
	requestID, apoID   string
	amount             money.Money
	status             string
	completedAt        time.Time
	payAPOID, payReqID string
}

// genPayment is one ledger payment.
type genPayment struct {
	id, requestID, apoID string
	amount               money.Money
	status               string
	captured, refunded   int64
	createdAt            time.Time
	txs                  []*genTx
}

type ledger struct{ pays []*genPayment }

// buildLedger makes perDay payments per day: USD, EUR and JPY, captured
// (some refunded in part), one cancelled in five, the last one failed.
func buildLedger(days []time.Time, perDay int) *ledger {
	lg := &ledger{}
	for _, d := range days {
		for i := 0; i < perDay; i++ {
			var amt money.Money
			switch i % 4 {
			case 0, 1:
				amt = money.Money{Minor: 1000 + 137*int64(i), Currency: "USD"}
			case 2:
				amt = money.Money{Minor: 2000 + 71*int64(i), Currency: "EUR"}
			default:
				amt = money.Money{Minor: 1500 + 10*int64(i), Currency: "JPY"}
			}
			tag := fmt.Sprintf("%s_%03d", d.Format("20060102"), i)
			p := &genPayment{id: detUUID("pay" + tag), requestID: "payreq_" + tag, apoID: "2024apo_pay_" + tag,
				amount: amt, createdAt: d.Add(9*time.Hour + time.Duration(i)*time.Minute)}
			add := func(typ, req, apoID string, a money.Money, status string, at time.Time) {
				p.txs = append(p.txs, &genTx{id: detUUID(typ + req), paymentID: p.id, typ: typ, requestID: req, apoID: apoID,
					amount: a, status: status, completedAt: at, payAPOID: p.apoID, payReqID: p.requestID})
			}
			at := func(h int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Minute) }
			switch {
			case i == perDay-1:
				p.status = "FAILED"
				add("AUTHORIZATION", p.requestID, p.apoID, amt, "FAILED", at(9))
			case i%5 == 4:
				p.status = "CANCELLED"
				add("AUTHORIZATION", p.requestID, p.apoID, amt, "SUCCEEDED", at(9))
				add("CANCEL", "cancelreq_"+tag, "", amt, "SUCCEEDED", at(10))
			default:
				p.status, p.captured = "CAPTURED", amt.Minor
				add("AUTHORIZATION", p.requestID, p.apoID, amt, "SUCCEEDED", at(9))
				add("CAPTURE", "capreq_"+tag, "2024cap_"+tag, amt, "SUCCEEDED", at(10))
				if i%3 == 0 {
					r := money.Money{Minor: amt.Minor / 4, Currency: amt.Currency}
					p.refunded = r.Minor
					add("REFUND", "refreq_"+tag, "2024ref_"+tag, r, "SUCCEEDED", at(11))
				}
			}
			lg.pays = append(lg.pays, p)
		}
	}
	return lg
}

// detUUID derives an id from a name, so that every database built from the
// same ledger has the same ids (and fingerprints compare across them).
func detUUID(name string) string { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(name)).String() }

// seedLedger writes the ledger into payments and payment_transactions with
// COPY (the generator stands in for the payments package here, as the
// benchmark needs a million rows fast).
func seedLedger(t testing.TB, db *sqlx.DB, lg *ledger) {
	t.Helper()
	ctx := context.Background()
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		ps, err := tx.PrepareContext(ctx, `COPY payments (id, payment_request_id, apo_payment_id, reference_order_id,
			amount_minor, currency, capture_mode, status, captured_minor, refunded_minor, created_at, updated_at) FROM STDIN`)
		if err != nil {
			return err
		}
		for _, p := range lg.pays {
			if _, err := ps.ExecContext(ctx, p.id, p.requestID, p.apoID, "order-"+p.requestID, p.amount.Minor,
				p.amount.Currency, "MANUAL", p.status, p.captured, p.refunded, p.createdAt, p.createdAt); err != nil {
				return err
			}
		}
		if _, err := ps.ExecContext(ctx); err != nil {
			return err
		}
		_ = ps.Close()
		ts, err := tx.PrepareContext(ctx, `COPY payment_transactions (id, payment_id, type, request_id, apo_id,
			amount_minor, currency, status, created_at, updated_at, completed_at) FROM STDIN`)
		if err != nil {
			return err
		}
		for _, p := range lg.pays {
			for _, x := range p.txs {
				if _, err := ts.ExecContext(ctx, x.id, x.paymentID, x.typ, x.requestID, x.apoID, x.amount.Minor,
					x.amount.Currency, x.status, x.completedAt, x.completedAt, x.completedAt); err != nil {
					return err
				}
			}
		}
		if _, err := ts.ExecContext(ctx); err != nil {
			return err
		}
		return ts.Close()
	})
	if err != nil {
		t.Fatalf("seed ledger: %v", err)
	}
}

// row is one report record by header name.
type row map[string]string

// genFile is one report file to write.
type genFile struct {
	dir       string // <yyyyMMdd> under the customer directory
	name      string
	kind      report.Kind
	header    []string
	rows      []row
	noTrailer bool
}

// generation is APO's report generation (apo-reference.md §6.2, §6.3).
type generation int

const (
	// genA is APO's and earlier Antom's: a capture or refund line carries
	// its own id (captureId, refundId) in transactionId and the payment's
	// in originalTransactionId; acquirer, paymentTime, settlementTime.
	genA generation = iota
	// genB is the newest Antom generation: transactionId is the paymentId
	// for every transaction type, a capture or refund line carries its own
	// request id (transactionRequestId) and the payment's
	// (originalTransactionRequestId); PSP, ARN, wallet,
	// transactionCreation/Update/CompletionTime with +08:00 offsets,
	// settlementInitiatedDate; no originalTransactionId.
	genB
)

// genOpts say how buildFilesGen writes a ledger's reports.
type genOpts struct {
	gen generation
	// captureWithPaymentRequest: capture lines carry the payment's request
	// id (paymentRequestId) as transactionRequestId instead of the
	// capture's, as some docs say the newest transaction details do
	// (apo-reference.md §6.3). genB only.
	captureWithPaymentRequest bool
}

// Newest-generation headers, in the documented order (§6.2 B). The list
// in the docs is truncated after quotePrice; the fee columns follow there
// as in the earlier generation.
var (
	tdHeaderB = []string{"settlementBatchId", "customerId", "PSP", "ARN", "referenceMerchantId", "referenceStoreId",
		"transactionType", "transactionId", "transactionRequestId", "originalTransactionRequestId",
		"referenceTransactionId", "orderDescription", "paymentMethodType", "wallet", "status",
		"transactionCreationTime", "transactionUpdateTime", "transactionCompletionTime", "productCode",
		"transactionAmountValue", "transactionCurrency", "convertedTransactionAmountValue", "convertedCurrency",
		"settlementAmountValue", "settlementCurrency", "quoteCurrencyPair", "quotePrice"}
	sdHeaderB = []string{"settlementBatchId", "customerId", "PSP", "ARN", "referenceMerchantId", "referenceStoreId",
		"transactionType", "transactionId", "transactionRequestId", "originalTransactionRequestId",
		"referenceTransactionId", "paymentMethodType", "wallet", "transactionCreationTime", "transactionUpdateTime",
		"transactionCompletionTime", "settlementInitiatedDate", "productCode", "transactionAmountValue",
		"transactionCurrency", "convertedTransactionAmountValue", "convertedCurrency", "settlementAmountValue",
		"settlementCurrency", "quoteCurrencyPair", "quotePrice", "feeAmountValue", "feeCurrency"}
	ssHeaderB = []string{"settlementBatchId", "customerId", "PSP", "summaryType", "count", "settlementInitiatedDate",
		"settlementAmountValue", "settlementCurrency"}
)

// cst is the +08:00 offset the newest generation writes its times in.
var cst = time.FixedZone("+08:00", 8*3600)

func (o genOpts) headers() (td, sd, ss []string) {
	if o.gen == genB {
		return tdHeaderB, sdHeaderB, ssHeaderB
	}
	return tdHeader, sdHeader, ssHeader
}

var (
	tdHeader = []string{"customerId", "acquirer", "transactionType", "transactionId", "originalTransactionId",
		"transactionRequestId", "paymentTime", "transactionAmountValue", "transactionCurrency",
		"settlementAmountValue", "settlementCurrency", "quoteCurrencyPair", "quotePrice", "status", "cardBrand",
		"paymentMethodType"}
	sdHeader = []string{"settlementBatchId", "customerId", "acquirer", "transactionType", "transactionId",
		"originalTransactionId", "transactionRequestId", "paymentTime", "settlementTime", "transactionAmountValue",
		"transactionCurrency", "settlementAmountValue", "settlementCurrency", "quoteCurrencyPair", "quotePrice",
		"feeAmountValue", "feeCurrency"}
	ssHeader = []string{"settlementBatchId", "customerId", "acquirer", "summaryType", "count",
		"settlementAmountValue", "settlementCurrency"}
)

// The cross-currency quote: EUR transactions settle in USD.
const (
	eurUSD     = "1.0845"
	eurUSDPair = "EUR/USD"
)

func major(minor int64, ccy string) string {
	return money.FormatMajor(money.Money{Minor: minor, Currency: ccy})
}

// settleCcy is the settlement currency of a transaction currency.
func settleCcy(ccy string) string {
	if ccy == "EUR" {
		return "USD"
	}
	return ccy
}

// toSettle converts a transaction amount to its settlement currency,
// rounding half up as APO would.
func toSettle(m money.Money) int64 {
	if m.Currency != "EUR" {
		return m.Minor
	}
	return (m.Minor*10845 + 5000) / 10000
}

// txRowGen writes a ledger transaction as a transaction details line of
// the generation, with the ids of apo-reference.md §6.3.
func txRowGen(x *genTx, o genOpts) row {
	r := row{"customerId": testCustomer, "transactionType": x.typ,
		"transactionAmountValue": major(x.amount.Minor, x.amount.Currency),
		"transactionCurrency":    x.amount.Currency, "paymentMethodType": "CARD",
		"settlementAmountValue": major(toSettle(x.amount), settleCcy(x.amount.Currency)),
		"settlementCurrency":    settleCcy(x.amount.Currency)}
	if x.amount.Currency == "EUR" {
		r["quoteCurrencyPair"], r["quotePrice"] = eurUSDPair, eurUSD
	}
	r["status"] = "SUCCESS"
	if x.status == "FAILED" {
		r["status"] = "FAIL"
	}
	if x.typ == "AUTHORIZATION" {
		r["transactionType"] = "PAYMENT"
	}
	if o.gen == genB {
		r["PSP"], r["ARN"], r["wallet"], r["productCode"] = "ANTOM", "7400000"+x.id[:8], "", "CASHIER_PAYMENT"
		r["transactionCreationTime"] = x.completedAt.Add(-2 * time.Second).In(cst).Format(time.RFC3339)
		r["transactionUpdateTime"] = x.completedAt.In(cst).Format(time.RFC3339)
		r["transactionCompletionTime"] = x.completedAt.In(cst).Format(time.RFC3339)
		r["convertedTransactionAmountValue"], r["convertedCurrency"] = r["settlementAmountValue"], r["settlementCurrency"]
		r["transactionId"] = x.payAPOID
		switch x.typ {
		case "AUTHORIZATION", "CANCEL":
			r["transactionRequestId"] = x.payReqID
		case "CAPTURE":
			r["transactionRequestId"], r["originalTransactionRequestId"] = x.requestID, x.payReqID
			if o.captureWithPaymentRequest {
				r["transactionRequestId"] = x.payReqID
			}
		default:
			r["transactionRequestId"], r["originalTransactionRequestId"] = x.requestID, x.payReqID
		}
		return r
	}
	r["acquirer"], r["cardBrand"] = "ANTOM", "VISA"
	r["paymentTime"] = x.completedAt.Format(time.RFC3339)
	switch x.typ {
	case "AUTHORIZATION", "CANCEL":
		r["transactionId"], r["transactionRequestId"] = x.payAPOID, x.payReqID
	default:
		r["transactionId"], r["originalTransactionId"], r["transactionRequestId"] = x.apoID, x.payAPOID, x.requestID
	}
	return r
}

// buildFiles describes the ledger as APO would: transaction items per
// completion day, and per settlement date one batch per settlement
// currency (captures and refunds due that day, a settlement fee and a
// reserve withholding) with its summary. Summaries are computed from the
// final item rows (after itemFaults), as APO's own files agree with each
// other; summaryFaults then break them on purpose.
func buildFiles(lg *ledger, cal Calendar, itemFaults map[string]func([]row) []row, summaryFaults map[string]func([]row) []row) []*genFile {
	return buildFilesGen(lg, cal, genOpts{}, itemFaults, summaryFaults)
}

// buildFilesGen is buildFiles in a given generation.
func buildFilesGen(lg *ledger, cal Calendar, o genOpts, itemFaults map[string]func([]row) []row,
	summaryFaults map[string]func([]row) []row) []*genFile {
	tdH, sdH, ssH := o.headers()
	byDay := map[string]*genFile{}
	type bkey struct{ date, ccy string }
	batches := map[bkey]*genFile{}
	var order []*genFile
	for _, p := range lg.pays {
		for _, x := range p.txs {
			d := x.completedAt.Format("20060102")
			f := byDay[d]
			if f == nil {
				f = &genFile{dir: d, name: "transactionItems_" + d + "_000.csv", kind: report.TransactionItems, header: tdH}
				byDay[d] = f
				order = append(order, f)
			}
			f.rows = append(f.rows, txRowGen(x, o))
			if x.status != "SUCCEEDED" || (x.typ != "CAPTURE" && x.typ != "REFUND") {
				continue
			}
			due := cal.Due(x.completedAt).Format("20060102")
			sc := settleCcy(x.amount.Currency)
			k := bkey{due, sc}
			b := batches[k]
			if b == nil {
				id := "B" + due + sc
				b = &genFile{dir: due, name: "settlementItems_" + sc + "_" + id + "_000.csv", kind: report.SettlementItems, header: sdH}
				batches[k] = b
			}
			r := txRowGen(x, o)
			delete(r, "status")
			delete(r, "cardBrand")
			delete(r, "paymentMethodType")
			r["settlementBatchId"] = "B" + due + sc
			if o.gen == genB {
				r["settlementInitiatedDate"] = due[:4] + "-" + due[4:6] + "-" + due[6:]
			} else {
				r["settlementTime"] = due[:4] + "-" + due[4:6] + "-" + due[6:] + " 02:00:00"
			}
			settle := toSettle(x.amount)
			fee := settle * 3 / 100
			if x.typ == "REFUND" {
				r["settlementAmountValue"] = "-" + major(settle, sc)
				fee = 0
			}
			if fee > 0 {
				r["feeAmountValue"], r["feeCurrency"] = "-"+major(fee, sc), sc
			}
			b.rows = append(b.rows, r)
		}
	}
	var keys []bkey
	for k := range batches {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].date+keys[i].ccy < keys[j].date+keys[j].ccy })
	for _, k := range keys {
		b := batches[k]
		id := "B" + k.date + k.ccy
		unit := int64(100)
		if k.ccy == "JPY" {
			unit = 1
		}
		b.rows = append(b.rows,
			row{"settlementBatchId": id, "customerId": testCustomer, "transactionType": "SETTLEMENT_FEE",
				"transactionId": "fee_" + id, "settlementAmountValue": "-" + major(5*unit, k.ccy), "settlementCurrency": k.ccy},
			row{"settlementBatchId": id, "customerId": testCustomer, "transactionType": "RESERVE_WITHHOLDING",
				"transactionId": "rsv_" + id, "settlementAmountValue": "-" + major(10*unit, k.ccy), "settlementCurrency": k.ccy})
		if fault := itemFaults[b.name]; fault != nil {
			b.rows = fault(b.rows)
		}
		order = append(order, b, summarise(b, id, k.ccy, summaryFaults))
		order[len(order)-1].header = ssH
	}
	for _, f := range order {
		if fault := itemFaults[f.name]; fault != nil && f.kind == report.TransactionItems {
			f.rows = fault(f.rows)
		}
	}
	return order
}

// summarise computes a batch's summary from its (final) items.
func summarise(b *genFile, id, ccy string, faults map[string]func([]row) []row) *genFile {
	var net, reserve, reserves int64
	parse := func(v string) int64 {
		if v == "" {
			return 0
		}
		m, err := money.ParseMajor(v, ccy, true)
		if err != nil {
			panic(fmt.Sprintf("generator wrote a bad amount %q: %v", v, err))
		}
		return m.Minor
	}
	for _, r := range b.rows {
		// The generator writes debits negative, so the net is the plain sum.
		net += parse(r["settlementAmountValue"]) + parse(r["feeAmountValue"])
		if r["transactionType"] == "RESERVE_WITHHOLDING" {
			reserve += parse(r["settlementAmountValue"])
			reserves++
		}
	}
	s := &genFile{dir: b.dir, name: "settlementSummary_" + ccy + "_" + id + "_000.csv", kind: report.SettlementSummary,
		header: ssHeader, rows: []row{
			{"settlementBatchId": id, "customerId": testCustomer, "summaryType": "TOTAL",
				"count": strconv.Itoa(len(b.rows)), "settlementAmountValue": major(net, ccy), "settlementCurrency": ccy},
		}}
	if reserves > 0 {
		s.rows = append(s.rows, row{"settlementBatchId": id, "customerId": testCustomer, "summaryType": "RESERVE_WITHHOLDING",
			"count": strconv.FormatInt(reserves, 10), "settlementAmountValue": major(reserve, ccy), "settlementCurrency": ccy})
	}
	if fault := faults[s.name]; fault != nil {
		s.rows = fault(s.rows)
	}
	return s
}

// fileOpts vary how files are written, none of which may change a result.
type fileOpts struct {
	bom, crlf bool
	shuffle   *rand.Rand // permute the columns
	unknown   bool       // add columns APO might add (one needing quotes)
	xlsx      bool       // write .xlsx with numeric amount cells instead of CSV
}

// write puts the files under dir/<customer>/<yyyyMMdd>/ and returns their
// relative paths.
func write(t testing.TB, dir string, files []*genFile, o fileOpts) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		header := append([]string{}, f.header...)
		if o.unknown {
			header = append(header, "futureColumn", "remarks")
		}
		if o.shuffle != nil {
			o.shuffle.Shuffle(len(header), func(i, j int) { header[i], header[j] = header[j], header[i] })
		}
		name := f.name
		if o.xlsx {
			name = strings.TrimSuffix(name, ".csv") + ".xlsx"
		}
		rel := filepath.Join(testCustomer, f.dir, name)
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		records := [][]string{header}
		for i, r := range f.rows {
			rec := make([]string, len(header))
			for j, h := range header {
				switch {
				case h == "futureColumn":
					rec[j] = "v" + strconv.Itoa(i)
				case h == "remarks":
					rec[j] = `note, with "quotes"`
				default:
					rec[j] = r[h]
				}
			}
			records = append(records, rec)
		}
		if !f.noTrailer {
			records = append(records, []string{"<END>"})
		}
		if o.xlsx {
			writeXLSX(t, p, records)
		} else {
			writeCSV(t, p, records, o)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

func writeCSV(t testing.TB, p string, records [][]string, o fileOpts) {
	t.Helper()
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(fh)
	if o.bom {
		bw.WriteString("\ufeff")
	}
	w := csv.NewWriter(bw)
	w.UseCRLF = o.crlf
	if err := w.WriteAll(records); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeXLSX writes numbers as numeric cells, as spreadsheet tools do.
func writeXLSX(t testing.TB, p string, records [][]string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	amountCol := map[int]bool{}
	for j, h := range records[0] {
		amountCol[j] = strings.HasSuffix(h, "AmountValue")
	}
	for i, rec := range records {
		vals := make([]any, len(rec))
		for j, v := range rec {
			vals[j] = v
			if i > 0 && len(rec) == len(records[0]) && amountCol[j] && v != "" {
				fv, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				vals[j] = fv
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
}

// ---- faults: functions over a file's rows ----

func match(field, value string) func(row) bool {
	return func(r row) bool { return r[field] == value }
}

// txOf selects the line of a generated payment's transaction in either
// generation: its transactionType and the payment's "<yyyyMMdd>_<nnn>"
// tag, which every id of it ends with.
func txOf(typ, tag string) func(row) bool {
	return func(r row) bool {
		return r["transactionType"] == typ &&
			(strings.HasSuffix(r["transactionId"], "_"+tag) || strings.HasSuffix(r["transactionRequestId"], "_"+tag))
	}
}

func dropRow(pred func(row) bool) func([]row) []row {
	return func(rows []row) []row {
		for i, r := range rows {
			if pred(r) {
				return append(rows[:i:i], rows[i+1:]...)
			}
		}
		panic("dropRow: no row matched")
	}
}

func setField(pred func(row) bool, field, value string) func([]row) []row {
	return func(rows []row) []row {
		for _, r := range rows {
			if pred(r) {
				r[field] = value
				return rows
			}
		}
		panic("setField: no row matched")
	}
}

func dupRow(pred func(row) bool) func([]row) []row {
	return func(rows []row) []row {
		for i, r := range rows {
			if pred(r) {
				c := row{}
				for k, v := range r {
					c[k] = v
				}
				return append(rows[:i+1:i+1], append([]row{c}, rows[i+1:]...)...)
			}
		}
		panic("dupRow: no row matched")
	}
}

func addRow(r row) func([]row) []row {
	return func(rows []row) []row { return append(rows, r) }
}

func chain(fs ...func([]row) []row) func([]row) []row {
	return func(rows []row) []row {
		for _, f := range fs {
			rows = f(rows)
		}
		return rows
	}
}

// ---- moving lines between files, as APO's timing does ----

func findFile(files []*genFile, name string) *genFile {
	for _, f := range files {
		if f.name == name {
			return f
		}
	}
	return nil
}

func cloneRow(r row) row {
	c := row{}
	for k, v := range r {
		c[k] = v
	}
	return c
}

// takeRow removes the row pred selects from the named file and returns it.
func takeRow(files []*genFile, name string, pred func(row) bool) row {
	f := findFile(files, name)
	for i, r := range f.rows {
		if pred(r) {
			f.rows = append(f.rows[:i:i], f.rows[i+1:]...)
			return r
		}
	}
	panic("takeRow: no row matched in " + name)
}

// lineOf is the physical line of the row pred selects in the named file
// (the header is line 1).
func lineOf(files []*genFile, name string, pred func(row) bool) int {
	for i, r := range findFile(files, name).rows {
		if pred(r) {
			return i + 2
		}
	}
	panic("lineOf: no row matched in " + name)
}

// moveRow moves a transaction details line to a later day's file.
func moveRow(files []*genFile, from, to string, pred func(row) bool) {
	f := findFile(files, to)
	f.rows = append(f.rows, takeRow(files, from, pred))
}

// settleIn puts a copy of the settlement line pred selects in file from
// into batch batchID settled on date (yyyyMMdd), creating the batch's
// files when it has none, and recomputes the summaries. With move, the
// line leaves from. It returns the files, with any new ones.
func settleIn(files []*genFile, o genOpts, from string, pred func(row) bool, batchID, date string, move bool) []*genFile {
	var r row
	if move {
		r = takeRow(files, from, pred)
	} else {
		for _, x := range findFile(files, from).rows {
			if pred(x) {
				r = cloneRow(x)
				break
			}
		}
		if r == nil {
			panic("settleIn: no row matched in " + from)
		}
	}
	ccy := r["settlementCurrency"]
	r["settlementBatchId"] = batchID
	if o.gen == genB {
		r["settlementInitiatedDate"] = date[:4] + "-" + date[4:6] + "-" + date[6:]
	} else {
		r["settlementTime"] = date[:4] + "-" + date[4:6] + "-" + date[6:] + " 02:00:00"
	}
	name := "settlementItems_" + ccy + "_" + batchID + "_000.csv"
	to := findFile(files, name)
	if to == nil {
		_, sdH, _ := o.headers()
		to = &genFile{dir: date, name: name, kind: report.SettlementItems, header: sdH}
		files = append(files, to)
	}
	to.rows = append(to.rows, r)
	files = resummarise(files, o, name)
	if move {
		files = resummarise(files, o, from)
	}
	return files
}

// resummarise recomputes the summary of the settlement items file name.
func resummarise(files []*genFile, o genOpts, name string) []*genFile {
	b := findFile(files, name)
	parts := strings.Split(strings.TrimSuffix(name, ".csv"), "_") // settlementItems, ccy, batch, seq
	s := summarise(b, parts[2], parts[1], nil)
	_, _, s.header = o.headers()
	for i, f := range files {
		if f.name == s.name {
			files[i] = s
			return files
		}
	}
	return append(files, s)
}
