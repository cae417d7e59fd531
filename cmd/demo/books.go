package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/payops/payops/internal/money"
)

// demoChart is the demo merchant's chart of accounts: every journal line
// kind mapped to a GL account, so that each export layout can be written.
//
//go:embed chart.csv
var demoChart []byte

// remitter is the name the sandbox's bank writes on APO's payouts.
const remitter = "ANTOM SETTLEMENT"

// bankStatements has the sandbox's bank write the statements of the days
// from today until today's batches are paid, configures the merchant's
// bank accounts in payops (once) and uploads the statements, so that the
// day's reconciliation run matches the payouts to the bank credits.
func (d *demo) bankStatements(ctx context.Context) error {
	today := time.Now().UTC()
	var res struct {
		Accounts   map[string]string `json:"accounts"`
		Statements []struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"statements"`
	}
	req := map[string]any{"from": today.Format("20060102"), "to": today.AddDate(0, 0, 6).Format("20060102"), "format": "camt.053"}
	if _, err := d.do(ctx, "POST", d.sandbox+"/sandbox/bank-statements", req, &res, nil); err != nil {
		return err
	}
	var have struct {
		Items []struct {
			IBAN string `json:"iban"`
		} `json:"items"`
	}
	if _, err := d.do(ctx, "GET", d.api+"/v1/bank/accounts?limit=200", nil, &have, nil); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, a := range have.Items {
		known[a.IBAN] = true
	}
	for ccy, iban := range res.Accounts {
		if known[iban] {
			continue
		}
		acct := map[string]any{"name": "Payouts " + ccy, "iban": iban, "currency": ccy, "settlement_currency": ccy,
			"remitters": []string{remitter}}
		if _, err := d.do(ctx, "POST", d.api+"/v1/bank/accounts", acct, nil, nil); err != nil {
			return err
		}
	}
	uploaded, again := 0, 0
	for _, st := range res.Statements {
		data, err := os.ReadFile(st.Path)
		if err != nil {
			return fmt.Errorf("read statement %s: %w", st.Name, err)
		}
		mb, err := newMultipart("file", filepath.Base(st.Name), "application/xml", data)
		if err != nil {
			return err
		}
		// A second demo on the same day: the bank's statements of those days
		// are in already, and payops refuses them again (409).
		code, err := d.do(ctx, "POST", d.api+"/v1/bank/statements", mb, nil, nil)
		switch {
		case code == http.StatusConflict:
			again++
		case err != nil:
			return err
		default:
			uploaded++
		}
	}
	fmt.Fprintf(d.out, "  Bank statements written by the sandbox's bank (camt.053, %d accounts): %d uploaded", len(res.Accounts), uploaded)
	if again > 0 {
		fmt.Fprintf(d.out, ", %d already in from an earlier demo today", again)
	}
	fmt.Fprintln(d.out)
	return nil
}

type payoutView struct {
	BatchID string `json:"batch_id"`
	Status  string `json:"status"`
	DueDate string `json:"due_date"`
	Amount  struct {
		Value    int64  `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Links []struct {
		Method string `json:"method"`
	} `json:"links"`
}

// books prints the day's payouts as payops matched them to the bank, and
// writes the day's journals in each accounting layout into exports.
func (d *demo) books(ctx context.Context, exports string) ([]payoutView, []string, error) {
	today := time.Now().UTC().Format(time.DateOnly)
	var payouts struct {
		Items []payoutView `json:"items"`
	}
	// Today's batches fall due in the next days; their credits are on the
	// statements just uploaded.
	if _, err := d.do(ctx, "GET", d.api+"/v1/payouts?limit=200&due_from="+today, nil, &payouts, nil); err != nil {
		return nil, nil, err
	}
	if _, err := d.do(ctx, "PUT", d.api+"/v1/journal-accounts", &multipartBody{data: demoChart, contentType: "text/csv"}, nil, nil); err != nil {
		return nil, nil, fmt.Errorf("chart of accounts: %w", err)
	}
	currencies, err := d.journalCurrencies(ctx, today)
	if err != nil {
		return nil, nil, err
	}
	var files []string
	for _, format := range []string{"generic", "xero", "qbo", "netsuite"} {
		q := url.Values{"period_from": {today}, "period_to": {today}, "format": {format}}
		path, _ := filepath.Abs(filepath.Join(exports, fmt.Sprintf("demo-%s-journals-%s.csv", d.day, format)))
		err := d.download(ctx, d.api+"/v1/journals/export?"+q.Encode(), path)
		if code, ok := err.(statusError); ok && code == http.StatusUnprocessableEntity {
			// A layout without a currency column (Xero's manual journals are
			// in the organisation's base currency): a file per currency.
			for _, ccy := range currencies {
				q.Set("currency", ccy)
				path, _ := filepath.Abs(filepath.Join(exports, fmt.Sprintf("demo-%s-journals-%s-%s.csv", d.day, format, ccy)))
				err := d.download(ctx, d.api+"/v1/journals/export?"+q.Encode(), path)
				if code, ok := err.(statusError); ok && code == http.StatusUnprocessableEntity {
					// NetSuite's import takes two decimals: KWD's three are refused.
					files = append(files, fmt.Sprintf("(%s in %s: refused by the layout, see GET %s)", ccy, format,
						"/v1/journals/export?"+q.Encode()))
					continue
				}
				if err != nil {
					return nil, nil, fmt.Errorf("journal export %s %s: %w", format, ccy, err)
				}
				files = append(files, path)
			}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("journal export %s: %w", format, err)
		}
		files = append(files, path)
	}
	return payouts.Items, files, nil
}

// download saves what GET u answers to path.
func (d *demo) download(ctx context.Context, u, path string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+d.key)
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// booksSummary prints the payouts and the journal files.
func (d *demo) booksSummary(payouts []payoutView, journals []string) {
	fmt.Fprintf(d.out, "\nPayouts of today's batches, matched to the bank (%d):\n", len(payouts))
	for _, p := range payouts {
		how := "no bank credit yet"
		if len(p.Links) > 0 {
			how = "paid by a credit matched by " + p.Links[0].Method
		}
		fmt.Fprintf(d.out, "  %-28s %s %12s due %s  %-18s %s\n", p.BatchID, p.Amount.Currency,
			money.FormatMajor(money.Money{Minor: p.Amount.Value, Currency: p.Amount.Currency}), p.DueDate, p.Status, how)
	}
	fmt.Fprintln(d.out, "Journals of the day (generic CSV, Xero, QuickBooks Online, NetSuite):")
	for _, f := range journals {
		fmt.Fprintf(d.out, "  %s\n", f)
	}
}

// statusError is an error status a download was answered with.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("answered %d", int(e)) }

// journalCurrencies lists the currencies of the journals dated day.
func (d *demo) journalCurrencies(ctx context.Context, day string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	cursor := ""
	for {
		var page struct {
			Items []struct {
				Currency string `json:"currency"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		u := d.api + "/v1/journals?limit=200&period_from=" + day + "&period_to=" + day
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := d.do(ctx, "GET", u, nil, &page, nil); err != nil {
			return nil, err
		}
		for _, j := range page.Items {
			if !seen[j.Currency] {
				seen[j.Currency] = true
				out = append(out, j.Currency)
			}
		}
		if page.NextCursor == "" {
			slices.Sort(out)
			return out, nil
		}
		cursor = page.NextCursor
	}
}
