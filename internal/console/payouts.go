package console

// Payouts (issue 18), its pages: the payouts APO owes, one per settlement
// batch, filtered and paged; a payout's detail with its batch's settlement
// lines (each linked to its payment), the bank credits that paid it (each
// with its statement) and the discrepancies about it (each linked to the
// reconciliation page). Reads only, for finance, as the admin API's
// payout routes (cmd/api/payouts.go); everything calls payout.Service.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
)

// payoutMaxLines bounds the settlement lines a payout page lists: a busy
// batch holds thousands, which the run's workbook lists in full.
const payoutMaxLines = 500

// payoutFilterKeys are the list's filters, in the URL.
var payoutFilterKeys = []string{"status", "currency", "due_from", "due_to", "payment_id", "batch_id"}

// payoutListData is the payouts page.
type payoutListData struct {
	reconPage
	// The filters as given.
	Status, Currency, DueFrom, DueTo, PaymentID, BatchID string
	Statuses                                             []reconOption
	Items                                                []payout.Payout
	Next                                                 string
	// Problem is what is wrong with the filters; the page then lists
	// nothing.
	Problem *problem
}

func (c *Console) payoutList(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := payoutListData{reconPage: reconPage{Path: Prefix + "/payouts", Query: url.Values{}, Now: c.d.Now()},
		Status: strings.TrimSpace(q.Get("status")), Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))),
		DueFrom: strings.TrimSpace(q.Get("due_from")), DueTo: strings.TrimSpace(q.Get("due_to")),
		PaymentID: strings.TrimSpace(q.Get("payment_id")), BatchID: strings.TrimSpace(q.Get("batch_id"))}
	for _, k := range payoutFilterKeys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Query.Set(k, v)
		}
	}
	d.Statuses = reconOptions(payout.Statuses, d.Status)
	page, err := c.payoutPage(r, d, q.Get("cursor"))
	if err != nil {
		p, ok := describe(err)
		if !ok || r.Header.Get("HX-Request") == "true" {
			return err
		}
		d.Problem = &p
		c.render(w, r, p.Status, "payouts", view{Title: "Payouts", Nav: "payouts", S: s, Data: d})
		return nil
	}
	d.Items = page.Items
	if page.Next != "" {
		d.Next = d.Link("cursor", page.Next)
	}
	c.render(w, r, http.StatusOK, "payouts", view{Title: "Payouts", Nav: "payouts", S: s, Data: d})
	return nil
}

// payoutPage reads the filters of d and lists their page from cursor.
func (c *Console) payoutPage(r *http.Request, d payoutListData, cursor string) (payout.Page[payout.Payout], error) {
	f := payout.Filter{Currency: d.Currency, BatchID: d.BatchID, PaymentID: d.PaymentID, Cursor: cursor, Limit: reconPageSize}
	var err error
	if f.Status, err = reconOneOf("status", d.Status, payout.Statuses); err != nil {
		return payout.Page[payout.Payout]{}, err
	}
	if f.DueFrom, err = reconDate("due_from", d.DueFrom); err != nil {
		return payout.Page[payout.Payout]{}, err
	}
	if f.DueTo, err = reconDate("due_to", d.DueTo); err != nil {
		return payout.Page[payout.Payout]{}, err
	}
	if len(f.BatchID) > 200 {
		return payout.Page[payout.Payout]{}, &formError{Field: "batch_id", Message: "at most 200 characters"}
	}
	return c.d.Payouts.List(r.Context(), f)
}

// payoutData is a payout's page.
type payoutData struct {
	reconPage
	P       payout.Payout
	Account *bank.Account // the account it is paid into; nil when none takes its currency
	Lines   []payoutLineView
	// AllLines is how many settlement lines the batch has; Lines holds the
	// first payoutMaxLines.
	AllLines int
	Credits  []payoutCreditView
	Findings []reconDiscrepancyView
}

// payoutLineView is a settlement line with the payment it names ("" for
// none of ours: a fee, a reserve, a transaction we never made).
type payoutLineView struct {
	recon.BatchLine
	PaymentID string
}

// payoutCreditView is a bank credit with its part in paying the payout.
type payoutCreditView struct {
	bank.Credit
	Link payout.Link
}

// FindingLink is where a discrepancy is worked: its row on the
// discrepancies page, as the payment page links it.
func (payoutData) FindingLink(d reconDiscrepancyView) string { return paymentData{}.FindingLink(d) }

// Received reports whether a credit paid the payout.
func (d payoutData) Received() bool { return len(d.Credits) > 0 }

func (c *Console) payoutDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return payout.ErrNotFound
	}
	p, err := c.d.Payouts.Get(ctx, id)
	if err != nil {
		return err
	}
	d := payoutData{reconPage: reconPage{Path: Prefix + "/payouts/" + strconv.FormatInt(id, 10), Now: c.d.Now()},
		P: p.Payout, AllLines: len(p.Lines)}
	lines := p.Lines[:min(len(p.Lines), payoutMaxLines)]
	pays, err := c.d.Payouts.LinePayments(ctx, lines)
	if err != nil {
		return err
	}
	for _, l := range lines {
		d.Lines = append(d.Lines, payoutLineView{BatchLine: l, PaymentID: pays[l.TransactionID]})
	}
	links := map[int64]payout.Link{}
	for _, l := range p.Links {
		links[l.EntryID] = l
	}
	for _, cr := range p.Credits {
		d.Credits = append(d.Credits, payoutCreditView{Credit: cr, Link: links[cr.ID]})
	}
	found, err := c.d.Payouts.Discrepancies(ctx, p)
	if err != nil {
		return err
	}
	d.Findings = reconDiscrepancyViews(found)
	if p.AccountID != 0 {
		a, err := c.d.Bank.GetAccount(ctx, p.AccountID)
		if err != nil {
			return err
		}
		d.Account = &a
	}
	title := "Payout " + formatMoney(p.Amount, p.Currency) + " · " + p.BatchID
	c.render(w, r, http.StatusOK, "payout", view{Title: title, Nav: "payouts", S: s, Data: d})
	return nil
}
