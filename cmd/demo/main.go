// Command demo drives a realistic day through payops' public API and the APO
// sandbox only: a few hundred payments over every test card and currencies
// with 0, 2 and 3 decimals, 3DS completions and abandonments, manual and
// automatic captures, partial refunds, cancels, two disputes (one defended,
// one accepted) with notification faults on; then the day's reports with a
// handful of injected discrepancies, a reconciliation run and its workbook.
// The reports are in APO's newest generation on odd days of the year and in
// the earlier one on even days, so both are seen as the demo runs day after
// day. It prints a short summary of what the API reports. `make demo` runs it
// against the stack `make run` started.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	api, sandbox, key string
	out               io.Writer
	http              *http.Client
	day               string // order-id prefix: a re-run is a new day of orders, not a mess
	started           time.Time
	rng               *rand.Rand
	generation        string // of the reports the sandbox writes
}

// consoleUserFile is where scripts/run.sh keeps the dev console user's
// credentials.
const consoleUserFile = ".run/console-user.txt"

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	api := fs.String("api", "http://"+or(getenv("PAYOPS_HTTP_ADDR"), "127.0.0.1:8080"), "payops API base URL")
	sb := fs.String("sandbox", or(getenv("APO_BASE_URL"), "http://127.0.0.1:8090"), "APO sandbox base URL")
	keyFile := fs.String("key-file", ".run/admin.key", "file holding an admin API key (last line)")
	n := fs.Int("payments", 300, "how many payments to make")
	exports := fs.String("exports", or(getenv("RECON_EXPORT_DIR"), ".run/exports"), "where to save the workbook")
	generation := fs.String("report-generation", "", "APO report generation, apo or newest; default: newest on odd days of the year, apo on even ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *generation == "" {
		*generation = reportGeneration(time.Now().UTC())
	}
	if *generation != "apo" && *generation != "newest" {
		return fmt.Errorf("-report-generation: %q is not apo or newest", *generation)
	}
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("admin key (start the stack with `make run` first): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	d := &demo{api: strings.TrimRight(*api, "/"), sandbox: strings.TrimRight(*sb, "/"), key: strings.TrimSpace(lines[len(lines)-1]),
		out: out, http: &http.Client{Timeout: 30 * time.Second}, day: time.Now().UTC().Format("0102-150405"), started: time.Now().UTC(),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), generation: *generation}
	if code, _ := d.do(ctx, "GET", d.api+"/readyz", nil, nil, nil); code != 200 {
		return fmt.Errorf("the API at %s is not ready (is `make run` running?)", d.api)
	}
	return d.day1(ctx, *n, *exports)
}

// reportGeneration is the report generation of a day: APO's newest on odd
// days of the year, the earlier one on even days.
func reportGeneration(day time.Time) string {
	if day.YearDay()%2 == 1 {
		return "newest"
	}
	return "apo"
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// do sends a request; JSON bodies are encoded, replies decoded into out.
func (d *demo) do(ctx context.Context, method, url string, body any, out any, hdr map[string]string) (int, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case *multipartBody:
		rd, ctype = bytes.NewReader(b.data), b.contentType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	if strings.HasPrefix(url, d.api) {
		req.Header.Set("Authorization", "Bearer "+d.key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return resp.StatusCode, nil
}

// progress prints a counter: rewritten in place on a terminal; elsewhere
// (a log, a pipe) a line at each quarter, so the output stays readable.
type progress struct {
	out   io.Writer
	tty   bool
	label string
	total int
	done  atomic.Int64
}

func newProgress(out io.Writer, label string, total int) *progress {
	return &progress{out: out, tty: isTerminal(out), label: label, total: total}
}

func (p *progress) tick() {
	n := int(p.done.Add(1))
	if p.tty {
		fmt.Fprintf(p.out, "\r  %-34s %4d/%d", p.label, n, p.total)
		if n == p.total {
			fmt.Fprintln(p.out)
		}
		return
	}
	if n == p.total || n%max(1, p.total/4) == 0 {
		fmt.Fprintf(p.out, "  %-34s %4d/%d\n", p.label, n, p.total)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type payment struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	PaymentID string `json:"payment_id"`
	Amount    struct {
		Value    int64  `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Captured struct {
		Value int64 `json:"value"`
	} `json:"captured_amount"`
	CaptureMode string `json:"capture_mode"`
}

// cards by how often a day sees them.
var cards = []struct {
	number string
	weight int
}{
	{"4111111111111111", 40}, {"5555555555554444", 20}, {"378282246310005", 8}, {"4000000000003220", 12},
	{"4000000000000002", 6}, {"4000000000009995", 4}, {"4000000000000119", 6}, {"4000000000000259", 2},
	{"4111111111111112", 2}, // fails Luhn: payops refuses it before APO
}

var currencies = []struct {
	code string
	max  int64
}{{"USD", 50000}, {"EUR", 40000}, {"JPY", 60000}, {"KWD", 90000}, {"SGD", 30000}}

func (d *demo) pick() string {
	total := 0
	for _, c := range cards {
		total += c.weight
	}
	n := d.rng.IntN(total)
	for _, c := range cards {
		if n < c.weight {
			return c.number
		}
		n -= c.weight
	}
	return cards[0].number
}

// day1 drives one realistic day: checkout under notification faults, the
// buyers at the 3DS page, APO's answers, operations, chargebacks, then the
// day's reports and their reconciliation.
func (d *demo) day1(ctx context.Context, n int, exports string) error {
	fmt.Fprintf(d.out, "payops demo day %s against %s (sandbox %s)\n", d.day, d.api, d.sandbox)
	faults := map[string]any{"notifications": map[string]any{"drop": 0.1, "duplicate": 0.1, "reorder": 0.1}}
	if _, err := d.do(ctx, "POST", d.sandbox+"/sandbox/faults", faults, nil, nil); err != nil {
		return err
	}
	defer func() { _, _ = d.do(context.Background(), "DELETE", d.sandbox+"/sandbox/faults", nil, nil, nil) }()

	pays, rejected := d.checkout(ctx, n)
	challenged, abandoned, err := d.threeDS(ctx, pays)
	if err != nil {
		return err
	}
	if err := d.awaitAnswers(ctx, pays, challenged); err != nil {
		return err
	}
	captured := d.operate(ctx, pays)
	refunds := d.refund(ctx, captured)

	// 5. Two chargebacks: one defended with a document, one accepted. APO has
	// no dispute inquiry, so a dropped dispute notification would be found
	// only by the settlement report: the faults end before the disputes.
	if _, err := d.do(ctx, "DELETE", d.sandbox+"/sandbox/faults", nil, nil, nil); err != nil {
		return err
	}
	disputes, err := d.disputes(ctx, captured)
	if err != nil {
		return err
	}

	// 6. The day's reports, with a handful of injected discrepancies, and the
	// bank's statements of the days its payouts arrive, then reconciliation.
	run, workbook, err := d.reconcile(ctx, exports)
	if err != nil {
		return err
	}
	// 7. The books: the day's payouts matched to the bank, its journals in each layout.
	payouts, journals, err := d.books(ctx, exports)
	if err != nil {
		return err
	}
	if err := d.summary(ctx, rejected, abandoned, refunds, disputes, run, workbook); err != nil {
		return err
	}
	d.booksSummary(payouts, journals)
	return nil
}

// checkout is step 1: authorize n payments, eight at a time. It returns
// them (a refused one stays empty) and how many the API refused.
func (d *demo) checkout(ctx context.Context, n int) ([]payment, int) {
	pays := make([]payment, n)
	rejected := 0
	var mu sync.Mutex
	p := newProgress(d.out, "authorizing payments", n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				mu.Lock()
				card, ccy := d.pick(), currencies[d.rng.IntN(len(currencies))]
				amount := 100 + d.rng.Int64N(ccy.max)
				mode := "MANUAL"
				if d.rng.IntN(10) < 3 {
					mode = "AUTOMATIC"
				}
				mu.Unlock()
				body := map[string]any{
					"amount": map[string]any{"value": amount, "currency": ccy.code}, "capture_mode": mode,
					"order": map[string]any{"reference_order_id": fmt.Sprintf("demo-%s-%04d", d.day, i), "description": "demo order"},
					"buyer": map[string]any{"reference": fmt.Sprintf("buyer-%d", i%50), "email": "buyer@example.com"},
					"env":   map[string]any{"terminal_type": "WEB", "client_ip": "203.0.113.10"},
					"card": map[string]any{"number": card, "cvv": "123", "expiry_month": "12", "expiry_year": "2030",
						"holder_first_name": "Demo", "holder_last_name": "Buyer"},
					"redirect_url": "https://shop.example/return",
				}
				_, err := d.do(ctx, "POST", d.api+"/v1/payments", body, &pays[i], map[string]string{"Idempotency-Key": fmt.Sprintf("demo-%s-%d", d.day, i)})
				if err != nil {
					mu.Lock()
					rejected++
					mu.Unlock()
				}
				p.tick()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return pays, rejected
}

// threeDS is step 2: the buyers at the 3DS page: most authenticate, some
// fail, some walk away. It returns the challenged payments and how many
// were abandoned.
func (d *demo) threeDS(ctx context.Context, pays []payment) ([]payment, int, error) {
	var challenged []payment
	for _, py := range pays {
		if py.Status == "REQUIRES_ACTION" {
			challenged = append(challenged, py)
		}
	}
	p := newProgress(d.out, "buyers at the 3DS page", len(challenged))
	abandoned := 0
	for i, py := range challenged {
		switch {
		case i%8 == 7:
			abandoned++
		default:
			outcome := "success"
			if i%8 == 6 {
				outcome = "fail"
			}
			code, err := d.do(ctx, "POST", d.sandbox+"/sandbox/3ds/"+py.PaymentID, map[string]any{"outcome": outcome}, nil, nil)
			switch {
			case code == http.StatusConflict:
				abandoned++ // the buyer took too long: the challenge expired
			case err != nil:
				return nil, 0, err
			}
		}
		p.tick()
	}
	return challenged, abandoned, nil
}

// awaitAnswers is step 3: wait for notifications and polling to settle what
// is still open, refreshing pays.
func (d *demo) awaitAnswers(ctx context.Context, pays []payment, challenged []payment) error {
	fmt.Fprint(d.out, "  waiting for APO's answers …")
	deadline := time.Now().Add(90 * time.Second)
	for i := range pays {
		if pays[i].ID == "" {
			continue
		}
		for {
			if _, err := d.do(ctx, "GET", d.api+"/v1/payments/"+pays[i].ID, nil, &pays[i], nil); err != nil {
				return err
			}
			open := pays[i].Status == "PROCESSING" || (pays[i].Status == "REQUIRES_ACTION" && !isAbandoned(challenged, pays[i].ID))
			if !open || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	fmt.Fprintln(d.out, " done")
	return nil
}

// operate is step 4: capture (fully or partly) or cancel the manual
// authorizations. It returns the captured payments.
func (d *demo) operate(ctx context.Context, pays []payment) []payment {
	p := newProgress(d.out, "ops: capture, cancel, refund", len(pays))
	var captured []payment
	for i, py := range pays {
		p.tick()
		if py.Status != "AUTHORIZED" || py.CaptureMode != "MANUAL" {
			if py.Status == "CAPTURED" {
				captured = append(captured, py)
			}
			continue
		}
		var op struct {
			Payment payment `json:"payment"`
		}
		switch i % 4 {
		case 0, 1:
			_, _ = d.do(ctx, "POST", d.api+"/v1/payments/"+py.ID+"/captures", map[string]any{}, &op, nil)
		case 2:
			_, _ = d.do(ctx, "POST", d.api+"/v1/payments/"+py.ID+"/captures", map[string]any{"amount": max(1, py.Amount.Value*6/10)}, &op, nil)
		case 3:
			if i%8 == 3 {
				_, _ = d.do(ctx, "POST", d.api+"/v1/payments/"+py.ID+"/cancel", nil, &op, nil)
			}
		}
		if op.Payment.Captured.Value > 0 {
			captured = append(captured, op.Payment)
		}
	}
	return captured
}

// refund ends step 4: refund a third of every third captured payment. It
// returns how many refunds the API took.
func (d *demo) refund(ctx context.Context, captured []payment) int {
	refunds := 0
	for i, py := range captured {
		if i%3 == 0 {
			amt := max(1, py.Captured.Value/3)
			if _, err := d.do(ctx, "POST", d.api+"/v1/payments/"+py.ID+"/refunds", map[string]any{"amount": amt, "reason": "customer returned an item"}, nil, nil); err == nil {
				refunds++
			}
		}
	}
	return refunds
}

// disputeNote describes a dispute for the summary: its reason, amount and
// payment, and what the demo did with it.
func disputeNote(ds dispute, handled []dispute) string {
	var b strings.Builder
	if ds.ReasonCode != "" {
		fmt.Fprintf(&b, "reason %s, ", ds.ReasonCode)
	}
	if ds.Amount != nil {
		fmt.Fprintf(&b, "%d %s (minor units), ", ds.Amount.Value, ds.Amount.Currency)
	}
	fmt.Fprintf(&b, "payment %s", ds.PaymentID)
	switch {
	case len(handled) > 0 && ds.ID == handled[0].ID:
		b.WriteString("; defended with a document")
	case len(handled) > 1 && ds.ID == handled[1].ID:
		b.WriteString("; accepted")
	default:
		b.WriteString("; opened by the dispute test card at its first capture")
	}
	return b.String()
}

// isAbandoned says whether the demo left this buyer at the 3DS page.
func isAbandoned(challenged []payment, id string) bool {
	for i, p := range challenged {
		if p.ID == id {
			return i%8 == 7
		}
	}
	return false
}

type dispute struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	PaymentID  string `json:"payment_id"`
	ReasonCode string `json:"reason_code"`
	Amount     *struct {
		Value    int64  `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	CreatedAt time.Time `json:"created_at"`
}

// disputesSince lists every dispute payops recorded since the demo began,
// oldest first: the two the demo opens and those the dispute test card
// opens by itself at its first capture.
func (d *demo) disputesSince(ctx context.Context) ([]dispute, error) {
	var out []dispute
	cursor := ""
	for {
		var page struct {
			Items      []dispute `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		u := d.api + "/v1/disputes?limit=200"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := d.do(ctx, "GET", u, nil, &page, nil); err != nil {
			return nil, err
		}
		older := false
		for _, it := range page.Items { // newest first
			if it.CreatedAt.Before(d.started) {
				older = true
				break
			}
			out = append(out, it)
		}
		if older || page.NextCursor == "" {
			slices.Reverse(out)
			return out, nil
		}
		cursor = page.NextCursor
	}
}

func (d *demo) disputes(ctx context.Context, captured []payment) ([]dispute, error) {
	if len(captured) < 2 {
		return nil, errors.New("fewer than two captured payments to dispute")
	}
	var out []dispute
	for _, py := range captured[len(captured)-2:] {
		if _, err := d.do(ctx, "POST", d.sandbox+"/sandbox/disputes", map[string]any{"paymentId": py.PaymentID, "reasonCode": "4853"}, nil, nil); err != nil {
			return nil, err
		}
		var found dispute
		deadline := time.Now().Add(60 * time.Second)
		for found.ID == "" && time.Now().Before(deadline) {
			var list struct {
				Items []dispute `json:"items"`
			}
			if _, err := d.do(ctx, "GET", d.api+"/v1/disputes?payment_id="+py.ID, nil, &list, nil); err != nil {
				return nil, err
			}
			if len(list.Items) > 0 {
				found = list.Items[0]
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if found.ID == "" {
			return nil, fmt.Errorf("the dispute on payment %s never reached payops", py.ID)
		}
		out = append(out, found)
	}
	pdf := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	mb, err := newMultipart("file", "delivery-proof.pdf", "application/pdf", pdf)
	if err != nil {
		return nil, err
	}
	if _, err := d.do(ctx, "POST", d.api+"/v1/disputes/"+out[0].ID+"/defense", mb, &out[0], nil); err != nil {
		return nil, err
	}
	if _, err := d.do(ctx, "POST", d.api+"/v1/disputes/"+out[1].ID+"/accept", map[string]any{"reason": "goods not delivered; refund the cardholder"}, &out[1], nil); err != nil {
		return nil, err
	}
	return out, nil
}

type multipartBody struct {
	data        []byte
	contentType string
}

func newMultipart(field, name, ctype string, data []byte) (*multipartBody, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, field, name)}
	h["Content-Type"] = []string{ctype}
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &multipartBody{data: buf.Bytes(), contentType: w.FormDataContentType()}, nil
}

type reconRun struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Counts struct {
		Matched       int64            `json:"matched"`
		Expected      int64            `json:"expected"`
		Discrepancies map[string]int64 `json:"discrepancies"`
	} `json:"counts"`
}

func (d *demo) reconcile(ctx context.Context, exports string) (reconRun, string, error) {
	today := time.Now().UTC()
	var rep struct {
		Files []struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"files"`
		Faults []struct {
			Kind            string `json:"kind"`
			File            string `json:"file"`
			Line            int    `json:"line"`
			TransactionID   string `json:"transactionId"`
			TransactionType string `json:"transactionType"`
		} `json:"faults"`
	}
	faults := map[string]any{"dropLines": 1, "changeAmounts": 1, "duplicateLines": 1, "unknownTransactions": 1}
	if _, err := d.do(ctx, "POST", d.sandbox+"/sandbox/reports", map[string]any{"date": today.Format("20060102"), "generation": d.generation,
		"faults": faults}, &rep, nil); err != nil {
		return reconRun{}, "", err
	}
	fmt.Fprintf(d.out, "  APO reports written (%s generation): %d files, %d discrepancies injected:\n", d.generation, len(rep.Files), len(rep.Faults))
	for _, f := range rep.Faults {
		fmt.Fprintf(d.out, "    %-20s %s:%d  %s %s\n", f.Kind, f.File, f.Line, f.TransactionType, f.TransactionID)
	}
	var ids []int64
	for _, f := range rep.Files {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			return reconRun{}, "", fmt.Errorf("read report %s: %w", f.Name, err)
		}
		mb, err := newMultipart("file", f.Name, "text/csv", data)
		if err != nil {
			return reconRun{}, "", err
		}
		var got struct {
			Files []struct {
				ID int64 `json:"id"`
			} `json:"files"`
		}
		if _, err := d.do(ctx, "POST", d.api+"/v1/recon/reports", mb, &got, nil); err != nil {
			return reconRun{}, "", err
		}
		for _, g := range got.Files {
			ids = append(ids, g.ID)
		}
	}
	if err := d.bankStatements(ctx); err != nil {
		return reconRun{}, "", fmt.Errorf("bank statements: %w", err)
	}
	var run reconRun
	if _, err := d.do(ctx, "POST", d.api+"/v1/recon/runs", map[string]any{"file_ids": ids}, &run, nil); err != nil {
		return reconRun{}, "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for run.Status == "RUNNING" || run.Status == "QUEUED" || run.Status == "" {
		if time.Now().After(deadline) {
			return run, "", fmt.Errorf("reconciliation run %d did not finish in 2 minutes", run.ID)
		}
		time.Sleep(500 * time.Millisecond)
		if _, err := d.do(ctx, "GET", fmt.Sprintf("%s/v1/recon/runs/%d", d.api, run.ID), nil, &run, nil); err != nil {
			return run, "", err
		}
	}
	if err := os.MkdirAll(exports, 0o755); err != nil {
		return run, "", err
	}
	path, _ := filepath.Abs(filepath.Join(exports, fmt.Sprintf("demo-%s-run-%d.xlsx", d.day, run.ID)))
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/recon/runs/%d/export.xlsx", d.api, run.ID), nil)
	req.Header.Set("Authorization", "Bearer "+d.key)
	resp, err := d.http.Do(req)
	if err != nil {
		return run, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return run, "", fmt.Errorf("download workbook: %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return run, "", err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return run, "", err
	}
	return run, path, nil
}

// missingFromEarlierRuns counts the run's MISSING_IN_REPORT discrepancies
// about transactions completed before this demo started.
func (d *demo) missingFromEarlierRuns(ctx context.Context, runID int64) (int, error) {
	n, cursor := 0, ""
	for {
		var page struct {
			Items []struct {
				Details struct {
					CompletedAt time.Time `json:"completed_at"`
				} `json:"details"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		url := fmt.Sprintf("%s/v1/recon/runs/%d/discrepancies?kind=MISSING_IN_REPORT&limit=200", d.api, runID)
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		if _, err := d.do(ctx, "GET", url, nil, &page, nil); err != nil {
			return 0, err
		}
		for _, it := range page.Items {
			if !it.Details.CompletedAt.IsZero() && it.Details.CompletedAt.Before(d.started) {
				n++
			}
		}
		if page.NextCursor == "" {
			return n, nil
		}
		cursor = page.NextCursor
	}
}

func (d *demo) summary(ctx context.Context, rejected, abandoned, refunds int, disputes []dispute, run reconRun, workbook string) error {
	counts := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Items      []payment `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		url := d.api + "/v1/payments?limit=200&created_from=" + time.Now().UTC().Add(-24*time.Hour).Format(time.RFC3339)
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		if _, err := d.do(ctx, "GET", url, nil, &page, nil); err != nil {
			return err
		}
		for _, p := range page.Items {
			counts[p.Status]++
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	fmt.Fprintln(d.out, "\nPayments in the last 24 h, as GET /v1/payments reports them:")
	var statuses []string
	for s := range counts {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	for _, s := range statuses {
		fmt.Fprintf(d.out, "  %-16s %5d\n", s, counts[s])
	}
	fmt.Fprintf(d.out, "  refused at the door (bad card number): %d; 3DS abandoned: %d; refunds made: %d\n", rejected, abandoned, refunds)
	all, err := d.disputesSince(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nDisputes (%d):\n", len(all))
	for _, ds := range all {
		fmt.Fprintf(d.out, "  %s  %-18s %s\n", ds.ID, ds.Status, disputeNote(ds, disputes))
	}
	fmt.Fprintf(d.out, "\nReconciliation run %d: %s %s (%d lines matched, %d expected later)\n", run.ID, run.Status, run.Error,
		run.Counts.Matched, run.Counts.Expected)
	var kinds []string
	for k := range run.Counts.Discrepancies {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(d.out, "  %-22s %5d\n", k, run.Counts.Discrepancies[k])
	}
	if run.Counts.Discrepancies["MISSING_IN_REPORT"] > 0 {
		earlier, err := d.missingFromEarlierRuns(ctx, run.ID)
		if err != nil {
			return err
		}
		if earlier > 0 {
			fmt.Fprintf(d.out, "  (%d of the MISSING_IN_REPORT are transactions of an earlier run today, made with a sandbox\n"+
				"   that has restarted since: this one never saw them, so its reports cannot hold them)\n", earlier)
		}
	}
	fmt.Fprintf(d.out, "\nWorkbook: %s\n", workbook)
	fmt.Fprintf(d.out, "Console: %s/console/ shows this day: Today, payments, disputes, reconciliation and webhooks\n"+
		"  (sign in with the email, password and TOTP secret `make run` printed, kept in %s)\n", d.api, consoleUserFile)
	fmt.Fprintf(d.out, "Open: %s/docs (API), %s/ops/queues (queues; user any, password the admin key), %s/sandbox/state\n", d.api, d.api, d.sandbox)
	return nil
}
