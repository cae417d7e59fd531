package console

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/recon"
)

// sortAmounts gives the sort tests' payments only three amounts (10, 20
// and 30 USD), so that amount ties are broken by id.
func sortAmounts(i int) int64 { return int64(1000 * (1 + i*7%3)) }

// sortByAmount is ps by amount then id, the list's order, largest first
// when desc.
func sortByAmount(ps []payments.Payment, desc bool) []string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b payments.Payment) int {
		c := cmp.Or(cmp.Compare(a.Amount.Minor, b.Amount.Minor), cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

var sortRowRE = regexp.MustCompile(`<tr>\s*<td>.*?</td>\s*<td class="nowrap"><a href="/console/payments/([0-9a-f-]{36})"`)

// TestPaymentsSortLinksAndExport: a sorted list's headers keep the
// filters and turn the order round, its pages follow the order with ties
// on the amount, the CSV export follows it too, and an unknown order is a
// problem shown on the page.
func TestPaymentsSortLinksAndExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	c := e.client(t)
	e.login(t, c, viewer)
	ps := e.payCreateMany(t, "sorted", 30, sortAmounts)
	e.payCreate(t, payOrder{Order: "other-1", Minor: 999_00})

	path := "/console/payments?order_id=sorted&sort=amount&dir=asc&limit=25"
	var listed []string
	for pages := 0; path != ""; pages++ {
		if pages > 2 {
			t.Fatal("the pager does not end")
		}
		resp, body := e.get(t, c, path)
		payExpect(t, path, resp, body, http.StatusOK)
		for _, m := range sortRowRE.FindAllStringSubmatch(body, -1) {
			listed = append(listed, m[1])
		}
		if pages == 0 {
			mustContain(t, "the sorted list", body, `aria-sort="ascending"`, "Payments, smallest amount first",
				// The current column turns round; another starts at its first direction; filters stay.
				`href="/console/payments?dir=desc&amp;limit=25&amp;order_id=sorted&amp;sort=amount"`,
				`href="/console/payments?dir=desc&amp;limit=25&amp;order_id=sorted&amp;sort=created"`,
				`href="/console/payments?dir=asc&amp;limit=25&amp;order_id=sorted&amp;sort=status"`,
				`<input type="hidden" name="sort" value="amount"`,
				`href="/console/payments/export.csv?dir=asc&amp;order_id=sorted&amp;sort=amount"`)
			if strings.Count(body, "aria-sort=") != 1 || !strings.Contains(body, `id="save-view"`) {
				t.Errorf("want aria-sort on one header only and the filter savable")
			}
		}
		path = ""
		if m := regexp.MustCompile(`<a href="([^"]+)"[^>]*>Next page</a>`).FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if want := sortByAmount(ps, false); !slices.Equal(listed, want) {
		t.Fatalf("pages listed\n%v\nwant smallest amount first, ties by id\n%v", listed, want)
	}

	resp, body := e.get(t, c, "/console/payments/export.csv?order_id=sorted&sort=amount&dir=desc")
	payExpect(t, "export", resp, body, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, r := range rows[1:] {
		exported = append(exported, r[0])
	}
	if want := sortByAmount(ps, true); !slices.Equal(exported, want) {
		t.Fatalf("CSV rows\n%v\nwant the list's order, largest first\n%v", exported, want)
	}

	// Only an order is no filter: nothing to save, no "no match" wording.
	_, body = e.get(t, c, "/console/payments?sort=status")
	if strings.Contains(body, `id="save-view"`) || !strings.Contains(body, `aria-sort="ascending"`) {
		t.Error("an order alone counts as a filter, or status does not start A to Z")
	}
	for bad, field := range map[string]string{"sort=fee": "sort", "sort=amount&dir=up": "dir"} {
		resp, body = e.get(t, c, "/console/payments?"+bad)
		payExpect(t, bad, resp, body, http.StatusUnprocessableEntity, "<code>"+field+"</code>")
	}
}

// TestPaymentsSortInBrowser: clicking the Amount header sorts the rows by
// amount, marks the header (aria-sort and its arrow) and puts the order
// in the URL; a second click turns it round; the next page follows the
// order, and reloading its URL shows the same page.
func TestPaymentsSortInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	ps := e.payCreateMany(t, "sorted", 30, sortAmounts)
	e.payCreate(t, payOrder{Order: "other-1", Minor: 999_00})
	ctx := e.browser(t)
	e.browserLogin(t, ctx, ops)

	rowsJS := `Array.from(document.querySelectorAll("#results tbody tr td:nth-child(2) a")).map(a => a.pathname.split("/").pop())`
	ariaJS := `Array.from(document.querySelectorAll("#results th[aria-sort]")).map(th => th.textContent.trim() + "=" + th.getAttribute("aria-sort")).join(",")`
	run(t, ctx, "the filtered list", chromedp.Navigate(e.srv.URL+"/console/payments?order_id=sorted&limit=25"),
		chromedp.WaitVisible(chromedp.ID("results")))
	if a := read(t, ctx, "aria-sort", chromedp.Evaluate[string](ariaJS)); a != "Created▼=descending" {
		t.Fatalf("by default the headers say %q, want Created descending", a)
	}
	amountHead := chromedp.CSS(`#results thead a[href*="sort=amount"]`)
	sortedBy := func(what, aria string) {
		t.Helper()
		read(t, ctx, what, chromedp.Poll[bool](`document.querySelector("#results th[aria-sort]") &&
			document.querySelector("#results th[aria-sort]").textContent.includes("Amount") &&
			document.querySelector("#results th[aria-sort]").getAttribute("aria-sort") === "`+aria+`"`,
			chromedp.WithPollingTimeout(time.Minute)))
	}
	run(t, ctx, "click Amount", chromedp.Click(amountHead))
	sortedBy("sorted by amount", "descending")
	if a := read(t, ctx, "aria-sort", chromedp.Evaluate[string](ariaJS)); a != "Amount▼=descending" {
		t.Fatalf("after the click the headers say %q, want Amount descending alone", a)
	}
	if got, want := read(t, ctx, "rows", chromedp.Evaluate[[]string](rowsJS)), sortByAmount(ps, true)[:25]; !slices.Equal(got, want) {
		t.Fatalf("rows after sorting by amount\n%v\nwant largest first\n%v", got, want)
	}
	run(t, ctx, "click Amount again", chromedp.Click(amountHead))
	sortedBy("turned round", "ascending")
	want := sortByAmount(ps, false)
	if got := read(t, ctx, "rows", chromedp.Evaluate[[]string](rowsJS)); !slices.Equal(got, want[:25]) {
		t.Fatalf("rows smallest first\n%v\nwant\n%v", got, want[:25])
	}
	if q := read(t, ctx, "url", chromedp.Evaluate[string](`location.search`)); q != "?dir=asc&limit=25&order_id=sorted&sort=amount" {
		t.Fatalf("the URL after sorting is %q, want the filters and the order", q)
	}
	checkAccessibility(t, ctx, "payments sorted by amount")
	screenshot(t, ctx, "payments-by-amount")

	run(t, ctx, "next page", chromedp.Click(chromedp.CSS(`nav.pager a[href*="cursor="]`)))
	read(t, ctx, "the next page", chromedp.Poll[bool](`location.search.includes("cursor=")`, chromedp.WithPollingTimeout(time.Minute)))
	sortedBy("the next page's order", "ascending")
	if got := read(t, ctx, "rows", chromedp.Evaluate[[]string](rowsJS)); !slices.Equal(got, want[25:]) {
		t.Fatalf("next page\n%v\nwant the rest, smallest first\n%v", got, want[25:])
	}
	next := read(t, ctx, "url", chromedp.Evaluate[string](`location.href`))
	run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("results")))
	if u := read(t, ctx, "url", chromedp.Evaluate[string](`location.href`)); u != next {
		t.Fatalf("after reload the URL is %q, want %q", u, next)
	}
	sortedBy("the reloaded page", "ascending")
	if got := read(t, ctx, "rows", chromedp.Evaluate[[]string](rowsJS)); !slices.Equal(got, want[25:]) {
		t.Fatalf("the reloaded page\n%v\nwant the same rows\n%v", got, want[25:])
	}

	// A filter change keeps the order.
	run(t, ctx, "filter", chromedp.SetValue(chromedp.ID("filter-currency"), "USD"),
		chromedp.Click(chromedp.CSS("#payment-filters button[type=submit]")))
	read(t, ctx, "filtered", chromedp.Poll[bool](`location.search.includes("currency=USD")`, chromedp.WithPollingTimeout(time.Minute)))
	sortedBy("the filtered order", "ascending")
	if got := read(t, ctx, "rows", chromedp.Evaluate[[]string](rowsJS)); !slices.Equal(got, want[:25]) {
		t.Fatalf("rows after filtering\n%v\nwant the first page smallest first\n%v", got, want[:25])
	}
}

// TestReconDiscrepanciesSorted: the discrepancies page sorts by amount
// and kind as the service does, marks the header, keeps the filters in
// its links and the order in its filter form, and refuses an unknown
// order with a problem.
func TestReconDiscrepanciesSorted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "finance@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)
	e.reconReconciled(t, c)
	idRE := regexp.MustCompile(`<tr id="d(\d+)">`)
	for _, o := range []struct{ sort, dir, aria string }{
		{recon.SortAmount, "desc", "descending"}, {recon.SortKind, "asc", "ascending"}, {recon.SortAge, "asc", "ascending"},
	} {
		page, err := e.recon.CurrentDiscrepancies(context.Background(),
			recon.CurrentFilter{Status: recon.StatusOpen, Sort: o.sort, Dir: o.dir, Limit: 50})
		if err != nil || len(page.Items) < 3 {
			t.Fatalf("%s: %d discrepancies (%v), want several", o.sort, len(page.Items), err)
		}
		var want []string
		for _, d := range page.Items {
			want = append(want, fmt.Sprint(d.ID))
		}
		resp, body := e.get(t, c, "/console/recon/discrepancies?status=OPEN&sort="+o.sort+"&dir="+o.dir)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", o.sort, resp.StatusCode)
		}
		var got []string
		for _, m := range idRE.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sorted by %s %s the page lists\n%v\nwant\n%v", o.sort, o.dir, got, want)
		}
		mustContain(t, "the sorted page", body, `aria-sort="`+o.aria+`"`,
			`<input type="hidden" name="sort" value="`+o.sort+`">`, `<input type="hidden" name="dir" value="`+o.dir+`">`)
	}
	_, body := e.get(t, c, "/console/recon/discrepancies?status=OPEN&sort=amount&dir=desc")
	mustContain(t, "the headers", body,
		`href="/console/recon/discrepancies?dir=asc&amp;sort=amount&amp;status=OPEN"`, // turned round
		`href="/console/recon/discrepancies?dir=asc&amp;sort=kind&amp;status=OPEN"`,
		`href="/console/recon/discrepancies?dir=desc&amp;sort=age&amp;status=OPEN"`,
		"Discrepancies, largest amount first")
	_, body = e.get(t, c, "/console/recon/discrepancies?sort=kind")
	if strings.Contains(body, "Clear filters") {
		t.Error("an order alone counts as a filter")
	}
	resp, body := e.get(t, c, "/console/recon/discrepancies?sort=created")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "<code>sort</code>") {
		t.Fatalf("unknown order: %d, want 422 naming sort:\n%s", resp.StatusCode, body)
	}
}
