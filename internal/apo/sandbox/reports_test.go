package sandbox

import (
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/carddata"
)

// Cards by the acquirer they route to (routeAcquirer hashes the number).
const (
	cardAlipay   = "4111111111111111"
	cardAlipay2  = "5555555555554444"
	cardCheckout = "378282246310005"
	cardCheckou2 = "6011111111111117"
	cardAdyen    = "5200828282828210"
	cardAdyen2   = "5105105105105100"
)

func TestReportCardsRoute(t *testing.T) {
	for pan, acq := range map[string]string{cardAlipay: "ALIPAY", cardAlipay2: "ALIPAY", cardCheckout: "CHECKOUT",
		cardCheckou2: "CHECKOUT", cardAdyen: "ADYEN", cardAdyen2: "ADYEN"} {
		if got := routeAcquirer(pan).Name; got != acq {
			t.Fatalf("%s routes to %s, the tests expect %s", carddata.Mask(pan), got, acq)
		}
	}
}

// dayIDs names what reportDay did.
type dayIDs map[string]string

// reportDay makes one day of traffic on 2026-11-23 and a payment on the
// next day, and returns the ids involved.
func reportDay(t *testing.T, e *testEnv) dayIDs {
	t.Helper()
	ids := dayIDs{}
	pay := func(name, pan, ccy, value, mode, want string) string {
		req := payReq(name, pan)
		set(req, "paymentAmount", amount(ccy, value))
		set(req, "order.orderAmount", amount(ccy, value))
		set(req, "paymentFactor.captureMode", mode)
		set(req, "order.merchant.referenceMerchantId", "SUB-7")
		r := e.mustPay(req, want)
		ids[name] = r.str("paymentId")
		return ids[name]
	}
	capture := func(name, pid, ccy, value string) {
		r := e.captureReq(name, pid, ccy, value)
		wantResult(t, "capture "+name, r, "S", "SUCCESS")
		ids[name] = r.str("captureId")
	}
	refund := func(name, pid, ccy, value string) {
		r := e.refundReq(name, pid, ccy, value)
		wantResult(t, "refund "+name, r, "S", "SUCCESS")
		ids[name] = r.str("refundId")
	}
	auto := pay("usd-auto", cardAlipay, "USD", "4200", "AUTOMATIC", "S")
	ids["usd-auto-cap"] = e.inquiry(auto).list("transactions")[0].(obj)["transactionId"].(string)
	jpy := pay("jpy", cardCheckout, "JPY", "1339", "MANUAL", "S")
	capture("jpy-cap", jpy, "JPY", "1339")
	refund("jpy-ref", jpy, "JPY", "339")
	half := pay("jpy-half", cardCheckou2, "JPY", "150", "MANUAL", "S")
	capture("jpy-half-cap", half, "JPY", "150")
	refund("jpy-half-ref", half, "JPY", "150")
	kwd := pay("kwd", cardAdyen, "KWD", "1234", "MANUAL", "S")
	capture("kwd-cap", kwd, "KWD", "1234")
	void := pay("kwd-void", cardAdyen2, "KWD", "2000", "MANUAL", "S")
	wantResult(t, "cancel", e.call("cancel", obj{"paymentId": void}), "S", "SUCCESS")
	pay("decline", "4000000000000002", "USD", "10000", "MANUAL", "F")
	disp := pay("disp", cardAlipay2, "USD", "10000", "MANUAL", "S")
	capture("disp-cap", disp, "USD", "10000")
	did, err := e.srv.OpenDispute(disp, &Amount{Currency: "USD", Value: "2500"})
	if err != nil {
		t.Fatal(err)
	}
	ids["dispute"] = did
	if err := e.srv.JudgeDispute(did, "ACCEPT_BY_CUSTOMER", nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	pay("next-day", cardAlipay, "USD", "100", "MANUAL", "S")
	e.clock.Advance(-24 * time.Hour)
	// Paid after the clock's excursion to the next day: the challenge must
	// still be open (PROCESSING) when the day's report is written.
	pay("3ds", "4000000000003220", "USD", "700", "MANUAL", "U")
	return ids
}

func reportEnv(t *testing.T, opts ...func(*Config)) *testEnv {
	dir := t.TempDir()
	return newEnv(t, append([]func(*Config){func(c *Config) { c.ReportsDir = dir }}, opts...)...)
}

// readAll parses every file a run wrote, by name.
func readAll(t *testing.T, res *ReportResult) map[string]sheet {
	t.Helper()
	out := map[string]sheet{}
	for _, f := range res.Files {
		if filepath.Dir(f.Path) != res.Dir || f.Name != filepath.Base(f.Path) {
			t.Fatalf("file %+v not in %s", f, res.Dir)
		}
		out[f.Name] = readSheet(t, f.Path)
	}
	entries, err := os.ReadDir(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// Files of another format may be left from earlier runs; of this
		// format there is exactly what the result names, and no temporary
		// file is left behind.
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left", e.Name())
		}
		if _, ok := out[e.Name()]; !ok && strings.HasSuffix(e.Name(), "."+res.Format) {
			t.Errorf("%s is in the directory but not in the result", e.Name())
		}
	}
	return out
}

func byKey(t *testing.T, s sheet) map[string]sheetRow {
	t.Helper()
	m := map[string]sheetRow{}
	for _, r := range s.rows {
		if _, dup := m[r.key()]; dup {
			t.Fatalf("%s: %s twice", s.name, r.key())
		}
		m[r.key()] = r
	}
	return m
}

func TestReportFiles(t *testing.T) {
	e := reportEnv(t)
	ids := reportDay(t, e)
	res, err := e.srv.WriteReports(ReportRequest{Date: "20261123"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dir != filepath.Join(e.srv.reports.dir, "1022188000000000001", "20261123") || len(res.Faults) != 0 {
		t.Errorf("result %+v", res)
	}
	files := readAll(t, res)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{
		"settlementItems_JPY_2026112302JPY_000.csv", "settlementItems_KWD_2026112301KWD_000.csv", "settlementItems_USD_2026112303USD_000.csv",
		"settlementSummary_JPY_2026112302JPY_000.csv", "settlementSummary_KWD_2026112301KWD_000.csv", "settlementSummary_USD_2026112303USD_000.csv",
		"transactionItems_20261123_000.csv",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v\nwant %v", names, want)
	}
	for _, s := range files {
		if !s.trailer {
			t.Errorf("%s has no <END>", s.name)
		}
		cols := layouts[GenerationAPO].items
		if strings.HasPrefix(s.name, "settlementSummary") {
			cols = layouts[GenerationAPO].summary
		}
		if !slices.Equal(s.header, cols) {
			t.Errorf("%s header %v", s.name, s.header)
		}
	}

	td := byKey(t, files["transactionItems_20261123_000.csv"])
	wantKeys := []string{
		"PAYMENT/" + ids["usd-auto"], "CAPTURE/" + ids["usd-auto-cap"],
		"AUTHORIZATION/" + ids["jpy"], "CAPTURE/" + ids["jpy-cap"], "REFUND/" + ids["jpy-ref"],
		"AUTHORIZATION/" + ids["jpy-half"], "CAPTURE/" + ids["jpy-half-cap"], "REFUND/" + ids["jpy-half-ref"],
		"AUTHORIZATION/" + ids["kwd"], "CAPTURE/" + ids["kwd-cap"], "AUTHORIZATION/" + ids["kwd-void"], "CANCEL/" + ids["kwd-void"],
		"AUTHORIZATION/" + ids["decline"], "AUTHORIZATION/" + ids["disp"], "CAPTURE/" + ids["disp-cap"],
		"DISPUTE/" + ids["dispute"], "DISPUTE_REVERSAL/" + ids["dispute"], "AUTHORIZATION/" + ids["3ds"],
	}
	var gotKeys []string
	for k := range td {
		gotKeys = append(gotKeys, k)
	}
	sort.Strings(gotKeys)
	sort.Strings(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("transaction lines\n%v\nwant\n%v", gotKeys, wantKeys)
	}

	type expect struct {
		key                                     string
		amount, ccy, origID, reqID, origReqID   string
		status, settle, settleCcy, fee, batchID string
	}
	for _, x := range []expect{
		{"PAYMENT/" + ids["usd-auto"], "42.00", "USD", "", "usd-auto", "", "SUCCESS", "", "", "", ""},
		{"CAPTURE/" + ids["usd-auto-cap"], "42.00", "USD", ids["usd-auto"], "usd-auto", "usd-auto", "SUCCESS", "42.00", "USD", "-1.34", "2026112303USD"},
		{"AUTHORIZATION/" + ids["jpy"], "1339", "JPY", "", "jpy", "", "SUCCESS", "", "", "", ""},
		{"CAPTURE/" + ids["jpy-cap"], "1339", "JPY", ids["jpy"], "jpy-cap", "jpy", "SUCCESS", "1339", "JPY", "-40", "2026112302JPY"},
		{"REFUND/" + ids["jpy-ref"], "-339", "JPY", ids["jpy"], "jpy-ref", "jpy", "SUCCESS", "-339", "JPY", "0", "2026112302JPY"},
		{"CAPTURE/" + ids["jpy-half-cap"], "150", "JPY", ids["jpy-half"], "jpy-half-cap", "jpy-half", "SUCCESS", "150", "JPY", "-4", "2026112302JPY"},
		{"CAPTURE/" + ids["kwd-cap"], "1.234", "KWD", ids["kwd"], "kwd-cap", "kwd", "SUCCESS", "1.234", "KWD", "-0.032", "2026112301KWD"},
		{"AUTHORIZATION/" + ids["kwd-void"], "2.000", "KWD", "", "kwd-void", "", "CANCELLED", "", "", "", ""},
		{"CANCEL/" + ids["kwd-void"], "2.000", "KWD", "", "kwd-void", "", "SUCCESS", "", "", "", ""},
		{"AUTHORIZATION/" + ids["decline"], "100.00", "USD", "", "decline", "", "FAIL", "", "", "", ""},
		{"CAPTURE/" + ids["disp-cap"], "100.00", "USD", ids["disp"], "disp-cap", "disp", "SUCCESS", "100.00", "USD", "-3.20", "2026112303USD"},
		{"DISPUTE/" + ids["dispute"], "-25.00", "USD", ids["disp"], "", "disp", "SUCCESS", "-25.00", "USD", "0.00", "2026112303USD"},
		{"DISPUTE_REVERSAL/" + ids["dispute"], "25.00", "USD", ids["disp"], "", "disp", "SUCCESS", "25.00", "USD", "0.00", "2026112303USD"},
		{"AUTHORIZATION/" + ids["3ds"], "7.00", "USD", "", "3ds", "", "PROCESSING", "", "", "", ""},
	} {
		r := td[x.key]
		got := []string{r.get("transactionAmountValue"), r.get("transactionCurrency"), r.get("originalTransactionId"),
			r.get("transactionRequestId"), r.get("originalTransactionRequestId"), r.get("status"),
			r.get("settlementAmountValue"), r.get("settlementCurrency"), r.get("feeAmountValue"), r.get("settlementBatchId")}
		wantVals := []string{x.amount, x.ccy, x.origID, x.reqID, x.origReqID, x.status, x.settle, x.settleCcy, x.fee, x.batchID}
		if !slices.Equal(got, wantVals) {
			t.Errorf("%s:\n got %v\nwant %v", x.key, got, wantVals)
		}
		if r.get("customerId") != "1022188000000000001" || r.get("paymentMethodType") != "CARD" || r.get("referenceMerchantId") != "SUB-7" ||
			r.get("acquirerReferenceNo") == "" || r.get("cardBrand") == "" || r.get("funding") != "CREDIT" || r.get("issuingCountry") == "" {
			t.Errorf("%s: %v", x.key, r.cols)
		}
		if _, err := time.Parse(time.RFC3339, r.get("paymentTime")); err != nil || !strings.HasPrefix(r.get("paymentTime"), "2026-11-23T") {
			t.Errorf("%s paymentTime %q", x.key, r.get("paymentTime"))
		}
		if (x.settle != "") != (r.get("settlementTime") == "2026-11-23T23:59:59+00:00") {
			t.Errorf("%s settlementTime %q", x.key, r.get("settlementTime"))
		}
		if r.get("quoteCurrencyPair") != "" || r.get("quotePrice") != "" {
			t.Errorf("%s has a quote without a currency change", x.key)
		}
	}
	if td["CAPTURE/"+ids["jpy-cap"]].get("acquirer") != "CHECKOUT" || td["CAPTURE/"+ids["kwd-cap"]].get("acquirer") != "ADYEN" {
		t.Error("acquirer column")
	}

	// Settlement details: the settling lines of the day per batch, and a
	// SETTLEMENT_FEE line; the summary adds them up per type.
	usd := files["settlementItems_USD_2026112303USD_000.csv"]
	var usdKeys []string
	for _, r := range usd.rows {
		usdKeys = append(usdKeys, r.key())
		if r.get("settlementBatchId") != "2026112303USD" {
			t.Errorf("batch id %q", r.get("settlementBatchId"))
		}
	}
	if want := []string{"CAPTURE/" + ids["usd-auto-cap"], "CAPTURE/" + ids["disp-cap"], "DISPUTE/" + ids["dispute"],
		"DISPUTE_REVERSAL/" + ids["dispute"], "SETTLEMENT_FEE/2026112303USDFEE"}; !slices.Equal(usdKeys, want) {
		t.Errorf("USD batch lines %v, want %v", usdKeys, want)
	}
	fee := usd.rows[len(usd.rows)-1]
	if fee.get("transactionAmountValue") != "0.00" || fee.get("settlementAmountValue") != "0.00" || fee.get("feeAmountValue") != "-1.00" ||
		fee.get("feeCurrency") != "USD" {
		t.Errorf("fee line %v", fee.cols)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "settlementItems") {
			checkSummary(t, files[name], files[strings.Replace(name, "settlementItems", "settlementSummary", 1)])
		}
	}
	sum := byType(files["settlementSummary_USD_2026112303USD_000.csv"])
	if c := sum["CAPTURE"]; c.get("count") != "2" || c.get("transactionAmountValue") != "142.00" || c.get("feeAmountValue") != "-4.54" ||
		c.get("settlementAmountValue") != "142.00" {
		t.Errorf("USD CAPTURE summary %v", c.cols)
	}
	kwdSum := byType(files["settlementSummary_KWD_2026112301KWD_000.csv"])
	if c := kwdSum["SETTLEMENT_FEE"]; c.get("settlementAmountValue") != "0.000" || c.get("feeAmountValue") != "-0.100" || c.get("count") != "1" {
		t.Errorf("KWD fee summary %v", c.cols)
	}
	if c := kwdSum["TOTAL"]; c.get("settlementAmountValue") == "" || c.get("summaryType") != "TOTAL" {
		t.Errorf("KWD total row %v", c.cols)
	}

	// The next day has its own file; the 23rd's does not mention it.
	next, err := e.srv.WriteReports(ReportRequest{Date: "20261124"})
	if err != nil {
		t.Fatal(err)
	}
	nf := readAll(t, next)["transactionItems_20261124_000.csv"]
	if len(nf.rows) != 1 || nf.rows[0].get("transactionId") != ids["next-day"] {
		t.Errorf("next day %v", nf.rows)
	}
	// An empty day still gets a transactionItems file with header and trailer.
	empty, err := e.srv.WriteReports(ReportRequest{Date: "20261101"})
	if err != nil {
		t.Fatal(err)
	}
	if ef := readAll(t, empty); len(ef) != 1 || len(ef["transactionItems_20261101_000.csv"].rows) != 0 || !ef["transactionItems_20261101_000.csv"].trailer {
		t.Errorf("empty day: %+v", ef)
	}
}

// TestReportNewestGeneration: the newest generation (§6.2 B, §6.3) writes
// the same lines as the APO generation in its own columns: PSP and ARN,
// transactionId = the paymentId for every transaction type with a
// capture's or refund's own request id in transactionRequestId, and times
// at +08:00.
func TestReportNewestGeneration(t *testing.T) {
	e := reportEnv(t)
	ids := reportDay(t, e)
	apoRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123"})
	if err != nil {
		t.Fatal(err)
	}
	apo := readAll(t, apoRes) // before the same names are written again
	newRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Generation: GenerationNewest})
	if err != nil {
		t.Fatal(err)
	}
	if apoRes.Generation != GenerationAPO || newRes.Generation != GenerationNewest {
		t.Fatalf("generations %q, %q", apoRes.Generation, newRes.Generation)
	}
	newest := readAll(t, newRes)
	if len(apo) != len(newest) {
		t.Fatalf("%d files, the APO generation has %d", len(newest), len(apo))
	}
	sameInstant := func(newV, apoV string) bool {
		if newV == "" || apoV == "" {
			return newV == apoV
		}
		a, errA := time.Parse(time.RFC3339, apoV)
		n, errN := time.Parse(time.RFC3339, newV)
		return errA == nil && errN == nil && a.Equal(n) && strings.HasSuffix(newV, "+08:00")
	}
	for name, n := range newest {
		a, ok := apo[name]
		if !ok {
			t.Fatalf("%s is not a file of the APO generation", name)
		}
		cols := layouts[GenerationNewest].items
		if strings.HasPrefix(name, "settlementSummary") {
			cols = layouts[GenerationNewest].summary
			checkSummary(t, newest[strings.Replace(name, "settlementSummary", "settlementItems", 1)], n)
		}
		if !slices.Equal(n.header, cols) || !n.trailer || len(n.rows) != len(a.rows) {
			t.Fatalf("%s: header %v, trailer %v, %d rows (APO generation: %d)", name, n.header, n.trailer, len(n.rows), len(a.rows))
		}
		for i, nr := range n.rows {
			ar := a.rows[i]
			for _, c := range []string{"settlementBatchId", "customerId", "referenceMerchantId", "transactionType",
				"transactionRequestId", "originalTransactionRequestId", "status", "transactionAmountValue",
				"transactionCurrency", "settlementAmountValue", "settlementCurrency", "feeAmountValue", "feeCurrency",
				"summaryType", "count", "cardBrand"} {
				if nr.get(c) != ar.get(c) {
					t.Errorf("%s line %d: %s %q, the APO generation writes %q", name, nr.line, c, nr.get(c), ar.get(c))
				}
			}
			if nr.get("PSP") != ar.get("acquirer") || nr.get("ARN") != ar.get("acquirerReferenceNo") {
				t.Errorf("%s line %d: PSP %q ARN %q, want %q %q", name, nr.line, nr.get("PSP"), nr.get("ARN"), ar.get("acquirer"), ar.get("acquirerReferenceNo"))
			}
			wantID := ar.get("originalTransactionId") // the payment, for captures, refunds and disputes
			if wantID == "" {
				wantID = ar.get("transactionId")
			}
			if nr.get("transactionId") != wantID {
				t.Errorf("%s line %d: transactionId %q, want the payment's %q", name, nr.line, nr.get("transactionId"), wantID)
			}
			if !sameInstant(nr.get("transactionCompletionTime"), ar.get("paymentTime")) ||
				!sameInstant(nr.get("transactionUpdateTime"), ar.get("paymentTime")) ||
				!sameInstant(nr.get("settlementInitiatedDate"), ar.get("settlementTime")) ||
				(nr.get("transactionType") != "" && nr.get("transactionCreationTime") == "") {
				t.Errorf("%s line %d: times %v, APO generation %v", name, nr.line, nr.cols, ar.cols)
			}
		}
	}
	td := newest["transactionItems_20261123_000.csv"]
	var capture, refund sheetRow
	for _, r := range td.rows {
		switch r.get("transactionRequestId") {
		case "jpy-cap":
			capture = r
		case "jpy-ref":
			refund = r
		}
	}
	if capture.get("transactionType") != "CAPTURE" || capture.get("transactionId") != ids["jpy"] || capture.get("originalTransactionRequestId") != "jpy" ||
		refund.get("transactionType") != "REFUND" || refund.get("transactionId") != ids["jpy"] || refund.get("originalTransactionRequestId") != "jpy" {
		t.Errorf("capture %v\nrefund %v", capture.cols, refund.cols)
	}
	if got := capture.get("settlementInitiatedDate"); got != "2026-11-24T07:59:59+08:00" {
		t.Errorf("settlementInitiatedDate %q", got)
	}

	// The default generation is the configured one.
	e2 := reportEnv(t, func(c *Config) { c.ReportGeneration = GenerationNewest })
	res, err := e2.srv.WriteReports(ReportRequest{Date: "20261123"})
	if err != nil || res.Generation != GenerationNewest {
		t.Fatalf("configured newest: %+v %v", res, err)
	}
}

func byType(s sheet) map[string]sheetRow {
	m := map[string]sheetRow{}
	for _, r := range s.rows {
		m[r.get("summaryType")] = r
	}
	return m
}

// checkSummary recomputes a batch's summary from its items.
func checkSummary(t *testing.T, items, summary sheet) {
	t.Helper()
	type tot struct{ count, gross, fee int64 }
	want := map[string]*tot{}
	for _, r := range items.rows {
		ccy := r.get("settlementCurrency")
		tt := want[r.get("transactionType")]
		if tt == nil {
			tt = &tot{}
			want[r.get("transactionType")] = tt
		}
		tt.count++
		tt.gross += minorOf(t, r.get("settlementAmountValue"), ccy)
		tt.fee += minorOf(t, r.get("feeAmountValue"), r.get("feeCurrency"))
	}
	// One row per type (settlement = gross), then the TOTAL row (the payout).
	if len(summary.rows) != len(want)+1 {
		t.Errorf("%s: %d rows for %d types and a total", summary.name, len(summary.rows), len(want))
	}
	var all tot
	for _, tt := range want {
		all.count, all.gross, all.fee = all.count+tt.count, all.gross+tt.gross, all.fee+tt.fee
	}
	for _, r := range summary.rows {
		ccy := r.get("settlementCurrency")
		tt, net := want[r.get("summaryType")], false
		if r.get("summaryType") == "TOTAL" {
			tt, net = &all, true
		}
		if tt == nil {
			t.Errorf("%s: summary of %s, which has no items", summary.name, r.get("summaryType"))
			continue
		}
		gross, fee, settle := minorOf(t, r.get("transactionAmountValue"), ccy), minorOf(t, r.get("feeAmountValue"), ccy), minorOf(t, r.get("settlementAmountValue"), ccy)
		wantSettle := gross
		if net {
			wantSettle = gross + fee
		}
		if r.get("count") != itoa(int(tt.count)) || gross != tt.gross || fee != tt.fee || settle != wantSettle ||
			r.get("transactionCurrency") != ccy || r.get("feeCurrency") != ccy || r.get("settlementTime")+r.get("settlementInitiatedDate") == "" {
			t.Errorf("%s %s: %v, items say count %d gross %d fee %d", summary.name, r.get("summaryType"), r.cols, tt.count, tt.gross, tt.fee)
		}
	}
}

func TestReportCrossCurrency(t *testing.T) {
	e := reportEnv(t, func(c *Config) {
		c.SettlementCurrency = "USD"
		c.Acquirers = map[string]AcquirerSettings{"ADYEN": {FeeBPS: 100, BatchFeeMinor: 50, SettlementCurrency: "SGD"}}
		c.FXRates = map[string]string{"JPY/USD": "0.0065"}
	})
	ids := reportDay(t, e)
	res, err := e.srv.WriteReports(ReportRequest{Date: "20261123"})
	if err != nil {
		t.Fatal(err)
	}
	files := readAll(t, res)
	usd := byKey(t, files["settlementItems_USD_2026112302USD_000.csv"])
	for _, x := range []struct{ key, settle, fee, pair, price string }{
		{"CAPTURE/" + ids["jpy-cap"], "8.70", "-0.26", "JPY/USD", "0.0065"},      // 1339 × 0.0065 = 8.7035
		{"REFUND/" + ids["jpy-ref"], "-2.20", "0.00", "JPY/USD", "0.0065"},       // -339 × 0.0065 = -2.2035
		{"CAPTURE/" + ids["jpy-half-cap"], "0.98", "-0.03", "JPY/USD", "0.0065"}, // 150 × 0.0065 = 0.975: half up
		{"REFUND/" + ids["jpy-half-ref"], "-0.98", "0.00", "JPY/USD", "0.0065"},  // and its refund exactly back
		{"SETTLEMENT_FEE/2026112302USDFEE", "0.00", "-1.00", "", ""},             // CHECKOUT's default batch fee
	} {
		r, ok := usd[x.key]
		if !ok {
			t.Fatalf("no %s in the USD batch", x.key)
		}
		if got := []string{r.get("settlementAmountValue"), r.get("settlementCurrency"), r.get("feeAmountValue"), r.get("quoteCurrencyPair"), r.get("quotePrice")}; !slices.Equal(got, []string{x.settle, "USD", x.fee, x.pair, x.price}) {
			t.Errorf("%s: %v", x.key, got)
		}
	}
	sgd := byKey(t, files["settlementItems_SGD_2026112301SGD_000.csv"])
	// KWD/SGD derived from the built-in rates: 3.25 / 0.74 = 4.39189189…
	if r := sgd["CAPTURE/"+ids["kwd-cap"]]; r.get("quotePrice") != "4.39189189" || r.get("quoteCurrencyPair") != "KWD/SGD" ||
		r.get("settlementAmountValue") != "5.42" || r.get("feeAmountValue") != "-0.05" || r.get("transactionAmountValue") != "1.234" {
		t.Errorf("KWD→SGD line %v", r.cols)
	}
	if r := sgd["SETTLEMENT_FEE/2026112301SGDFEE"]; r.get("feeAmountValue") != "-0.50" {
		t.Errorf("ADYEN batch fee %v", r.cols)
	}
	// USD lines of ALIPAY settle without a quote.
	if r := byKey(t, files["settlementItems_USD_2026112303USD_000.csv"])["CAPTURE/"+ids["usd-auto-cap"]]; r.get("quotePrice") != "" || r.get("settlementAmountValue") != "42.00" {
		t.Errorf("same-currency line %v", r.cols)
	}
	// Every quoted line: settlement = transaction × quote, rounded half away
	// from zero to the settlement currency, checked with exact rationals.
	for name, s := range files {
		if !strings.HasPrefix(name, "settlementItems") {
			continue
		}
		checkSummary(t, s, files[strings.Replace(name, "settlementItems", "settlementSummary", 1)])
		for _, r := range s.rows {
			if r.get("quotePrice") == "" {
				continue
			}
			from, to, _ := strings.Cut(r.get("quoteCurrencyPair"), "/")
			if from != r.get("transactionCurrency") || to != r.get("settlementCurrency") {
				t.Errorf("pair %s on %s→%s", r.get("quoteCurrencyPair"), r.get("transactionCurrency"), r.get("settlementCurrency"))
			}
			tx, _ := new(big.Rat).SetString(r.get("transactionAmountValue"))
			q, _ := new(big.Rat).SetString(r.get("quotePrice"))
			exact := new(big.Rat).Mul(tx, q)
			got, _ := new(big.Rat).SetString(r.get("settlementAmountValue"))
			diff := new(big.Rat).Abs(new(big.Rat).Sub(exact, got))
			unit := map[string]*big.Rat{"USD": big.NewRat(1, 100), "SGD": big.NewRat(1, 100)}[to]
			if diff.Cmp(new(big.Rat).Mul(unit, big.NewRat(1, 2))) > 0 {
				t.Errorf("%s: %s × %s = %s, written %s", r.key(), r.get("transactionAmountValue"), r.get("quotePrice"), exact.FloatString(6), r.get("settlementAmountValue"))
			}
		}
	}
	// The transaction details carry the same settlement figures.
	if r := byKey(t, files["transactionItems_20261123_000.csv"])["CAPTURE/"+ids["jpy-cap"]]; r.get("settlementAmountValue") != "8.70" || r.get("quotePrice") != "0.0065" {
		t.Errorf("transaction details line %v", r.cols)
	}
}

func TestReportConfigErrors(t *testing.T) {
	merchant, apoKey := keys(t)
	base := Config{APOPrivateKey: apoKey, MerchantPublicKey: &merchant.PublicKey}
	for name, mod := range map[string]func(*Config){
		"settlement currency": func(c *Config) { c.SettlementCurrency = "XXX" },
		"acquirer":            func(c *Config) { c.Acquirers = map[string]AcquirerSettings{"STRIPE": {}} },
		"fee":                 func(c *Config) { c.Acquirers = map[string]AcquirerSettings{"ADYEN": {FeeBPS: 10001}} },
		"pair":                func(c *Config) { c.FXRates = map[string]string{"JPYUSD": "1"} },
		"price":               func(c *Config) { c.FXRates = map[string]string{"JPY/USD": "-1"} },
		"daily without dir":   func(c *Config) { c.DailyReports = true },
		"dispute url":         func(c *Config) { c.DisputeNotifyURL = "ftp://x" },
		"report generation":   func(c *Config) { c.ReportGeneration = "B" },
	} {
		cfg := base
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted a bad config", name)
		}
	}
}

func TestReportsEndpoint(t *testing.T) {
	e := reportEnv(t)
	e.authorized("ep-1", cardAlipay)
	status, m := postJSON(t, e.ts.URL+"/sandbox/reports", obj{"date": "20261123", "faults": obj{"dropLines": 1}})
	if status != 200 || m["dir"] == nil || len(m["files"].([]any)) != 1 || len(m["faults"].([]any)) != 1 {
		t.Fatalf("reports: %d %v", status, m)
	}
	f := m["faults"].([]any)[0].(obj)
	if f["kind"] != FaultDropLine || f["file"] != "transactionItems_20261123_000.csv" || f["line"] != float64(2) {
		t.Errorf("fault %v", f)
	}
	for body, want := range map[string]int{
		`{"date":"2026-11-23"}`:                              http.StatusUnprocessableEntity,
		`{"date":"20261123","format":"pdf"}`:                 http.StatusUnprocessableEntity,
		`{"date":"20261123","generation":"A"}`:               http.StatusUnprocessableEntity,
		`{"date":"20261123","faults":{"dropLines":-1}}`:      http.StatusUnprocessableEntity,
		`{"date":"20261123","faults":{"omitTrailer":["x"]}}`: http.StatusUnprocessableEntity,
		`{"date":"20261123","faults":{"nope":1}}`:            http.StatusBadRequest,
	} {
		if status, m := postJSON(t, e.ts.URL+"/sandbox/reports", []byte(body)); status != want {
			t.Errorf("%s: %d %v, want %d", body, status, m, want)
		}
	}
	if status, m := postJSON(t, e.ts.URL+"/sandbox/reports", obj{"date": "20261123", "generation": "newest"}); status != 200 || m["generation"] != "newest" {
		t.Errorf("newest generation: %d %v", status, m)
	}
	noDir := newEnv(t)
	if status, _ := postJSON(t, noDir.ts.URL+"/sandbox/reports", obj{"date": "20261123"}); status != http.StatusConflict {
		t.Errorf("without a reports dir: %d", status)
	}
}

// TestDailyReports: with DailyReports, the previous day's files appear at
// 01:00 UTC.
func TestDailyReports(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.ReportsDir = dir; c.DailyReports = true })
	e.authorized("daily-1", cardAlipay)
	path := filepath.Join(dir, "1022188000000000001", "20261123", "transactionItems_20261123_000.csv")
	e.clock.Advance(15*time.Hour - time.Second) // 00:59:59 on the 24th
	time.Sleep(2 * maxSchedulerNap)
	if _, err := os.Stat(path); err == nil {
		t.Fatal("reports written before 01:00")
	}
	e.clock.Advance(time.Second)
	eventually(t, patience, "the daily reports", func() bool { _, err := os.Stat(path); return err == nil })
	if rows := readSheet(t, path).rows; len(rows) != 1 {
		t.Errorf("daily file has %d lines", len(rows))
	}
	// And again the next day.
	e.clock.Advance(24 * time.Hour)
	next := filepath.Join(dir, "1022188000000000001", "20261124", "transactionItems_20261124_000.csv")
	eventually(t, patience, "the next daily reports", func() bool { _, err := os.Stat(next); return err == nil })
}

// TestReportStreamsInChunks writes a day of several chunks and injects
// faults beyond the first chunk.
func TestReportStreamsInChunks(t *testing.T) {
	e := reportEnv(t)
	id := e.authorized("big", cardAlipay)
	const captures = 3*reportChunk + 17
	e.srv.mu.Lock()
	p := e.srv.st.payments[id]
	p.Amount.Value = captures
	p.NotifyURL = "" // thousands of CAPTURE_RESULTs are not the point here
	for i := range captures {
		e.srv.addCapture(p, "big-"+itoa(i), money{Value: 1, Currency: "USD"}, start, false)
	}
	e.srv.mu.Unlock()
	res, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Faults: &ReportFaults{
		DropLines: FaultCount{Count: 3, Report: KindSettlementItems}, ChangeAmounts: FaultCount{Count: 3},
	}})
	if err != nil {
		t.Fatal(err)
	}
	files := readAll(t, res)
	if n := len(files["transactionItems_20261123_000.csv"].rows); n != captures+1 {
		t.Errorf("%d transaction lines, want %d", n, captures+1)
	}
	if n := len(files["settlementItems_USD_2026112303USD_000.csv"].rows); n != captures-3+1 {
		t.Errorf("%d settlement lines, want %d", n, captures-3+1)
	}
	var far bool
	for _, f := range res.Faults {
		far = far || f.Line > reportChunk+1
	}
	if len(res.Faults) != 6 || !far {
		t.Errorf("faults %+v", res.Faults)
	}
	if s := byType(files["settlementSummary_USD_2026112303USD_000.csv"])["CAPTURE"]; s.get("count") != itoa(captures) {
		t.Errorf("summary keeps the truth: %v", s.cols)
	}
}

func TestReportFaultSeedsAreDeterministic(t *testing.T) {
	run := func() []InjectedFault {
		e := reportEnv(t)
		reportDay(t, e)
		res, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Faults: &ReportFaults{Seed: 9,
			DropLines: FaultCount{Count: 2}, ChangeAmounts: FaultCount{Count: 2, Report: KindSettlementItems}, BreakSummaryTotal: 1}})
		if err != nil {
			t.Fatal(err)
		}
		// Ids differ between servers (each starts its sequence at random);
		// the lines hit and what was done to them do not.
		for i := range res.Faults {
			res.Faults[i].TransactionID, res.Faults[i].TransactionRequestID = "", ""
		}
		return res.Faults
	}
	if a, b := run(), run(); !reflect.DeepEqual(a, b) || len(a) != 5 {
		t.Errorf("same seed, different faults:\n%+v\n%+v", a, b)
	}
}

// TestReportXLSXMatchesCSV: the workbook variant holds the same rows,
// every cell as written in the CSV, and <END> as its last row.
func TestReportXLSXMatchesCSV(t *testing.T) {
	e := reportEnv(t, func(c *Config) { c.SettlementCurrency = "USD" })
	reportDay(t, e)
	csvRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123"})
	if err != nil {
		t.Fatal(err)
	}
	xlsxRes, err := e.srv.WriteReports(ReportRequest{Date: "20261123", Format: "xlsx"})
	if err != nil {
		t.Fatal(err)
	}
	csvFiles, xlsxFiles := readAll(t, csvRes), readAll(t, xlsxRes)
	if len(csvFiles) != len(xlsxFiles) {
		t.Fatalf("%d csv files, %d xlsx files", len(csvFiles), len(xlsxFiles))
	}
	for name, c := range csvFiles {
		x, ok := xlsxFiles[strings.TrimSuffix(name, ".csv")+".xlsx"]
		if !ok || !x.trailer || !slices.Equal(c.header, x.header) || len(c.rows) != len(x.rows) {
			t.Fatalf("%s: xlsx variant differs (found %v)", name, ok)
		}
		for i := range c.rows {
			if !slices.Equal(c.rows[i].raw, x.rows[i].raw) {
				t.Errorf("%s row %d:\n csv %v\nxlsx %v", name, i, c.rows[i].raw, x.rows[i].raw)
			}
		}
	}
}
