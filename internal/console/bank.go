package console

// Bank (issue 18), its pages: the bank accounts APO pays out into and
// their statements (with what the checks found), a statement with its
// entries, an account with its configuration. Its changes are in
// bank_actions.go. Everything calls bank.Service as the admin API does
// (cmd/api/bank.go).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/bank"
)

// The API's bounds on the same fields and uploads (cmd/api/bank.go, which
// package main keeps to itself): what the API takes, the console takes.
const (
	bankMaxUpload     = 256 << 20 // bytes in one upload of statement files
	bankMaxFiles      = 50        // file parts in one upload
	bankUploadTimeout = 10 * time.Minute
	bankMaxName       = 200
	bankMaxIBAN       = 50
	bankMaxNumber     = 64
	bankMaxRemitters  = 50
)

// The console's own: a mapping fits well within a form (maxForm), and the
// pages' sizes (accounts are few; entries are read a page at a time).
const (
	bankMaxMapping     = 32 << 10
	bankAccountsPage   = 200
	bankStatementsPage = 50
	bankEntriesPage    = 100
)

// ---- reading ----

// bankStatementView is a statement with its findings, for the list.
type bankStatementView struct {
	bank.Statement
	Findings []bank.Finding
}

// bankPageData is the bank page: the accounts, the statements (filtered
// and paged) and, for those who may, the forms.
type bankPageData struct {
	reconPage
	Accounts     []bank.Account
	AccountsNext string
	AccountNames map[int64]string
	// The statements' filters as given.
	AccountID, From, To string
	AccountOptions      []reconOption
	Statements          []bankStatementView
	Next                string
	// Form is what the create form shows again with Confirm, its
	// confirmation (a plain post's preview).
	Form    bankCreateForm
	Confirm *bankConfirm
}

// AccountName is an account's name by id, for the statements list.
func (d bankPageData) AccountName(id int64) string {
	if n, ok := d.AccountNames[id]; ok {
		return n
	}
	return "Account " + strconv.FormatInt(id, 10)
}

func (c *Console) bankPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.bankPageData(r)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "bank", view{Title: "Bank", Nav: "bank", S: s, Data: d})
	return nil
}

// bankPageData reads the bank page's accounts and the statements its URL
// selects.
func (c *Console) bankPageData(r *http.Request) (bankPageData, error) {
	ctx := r.Context()
	q := r.URL.Query()
	d := bankPageData{reconPage: reconPage{Path: Prefix + "/bank", Query: url.Values{}, Now: c.d.Now()},
		AccountID: strings.TrimSpace(q.Get("account_id")), From: strings.TrimSpace(q.Get("from")),
		To: strings.TrimSpace(q.Get("to")), AccountNames: map[int64]string{}}
	for _, k := range []string{"account_id", "from", "to"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Query.Set(k, v)
		}
	}
	accounts, err := c.d.Bank.ListAccounts(ctx, q.Get("accounts_cursor"), bankAccountsPage)
	if err != nil {
		return d, err
	}
	d.Accounts = accounts.Items
	if accounts.Next != "" {
		d.AccountsNext = d.Link("accounts_cursor", accounts.Next)
	}
	for _, a := range d.Accounts {
		d.AccountNames[a.ID] = a.Name
		id := strconv.FormatInt(a.ID, 10)
		d.AccountOptions = append(d.AccountOptions, reconOption{Value: id, Label: a.Name + " (" + a.Currency + ")",
			Selected: id == d.AccountID})
	}
	f := bank.StatementFilter{Cursor: q.Get("cursor"), Limit: bankStatementsPage}
	if d.AccountID != "" {
		if f.AccountID, err = strconv.ParseInt(d.AccountID, 10, 64); err != nil || f.AccountID < 1 {
			return d, &formError{Field: "account_id", Message: "want an account id"}
		}
	}
	if f.From, err = reconDate("from", d.From); err != nil {
		return d, err
	}
	if f.To, err = reconDate("to", d.To); err != nil {
		return d, err
	}
	page, err := c.d.Bank.ListStatements(ctx, f)
	if err != nil {
		return d, err
	}
	ids := make([]int64, len(page.Items))
	for i, st := range page.Items {
		ids[i] = st.ID
	}
	findings, err := c.d.Bank.Findings(ctx, ids)
	if err != nil {
		return d, err
	}
	for _, st := range page.Items {
		d.Statements = append(d.Statements, bankStatementView{Statement: st, Findings: findings[st.ID]})
	}
	if page.Next != "" {
		d.Next = d.Link("cursor", page.Next)
	}
	return d, nil
}

// bankPathID is the {id} of the path; anything but a positive number names
// nothing.
func bankPathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, bank.ErrNotFound
	}
	return id, nil
}

// bankStatementData is a statement's page.
type bankStatementData struct {
	reconPage
	St      bank.Statement
	Account bank.Account
	Entries []bank.Entry
	Next    string
}

func (c *Console) bankStatement(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	id, err := bankPathID(r)
	if err != nil {
		return err
	}
	st, err := c.d.Bank.GetStatement(ctx, id)
	if err != nil {
		return err
	}
	a, err := c.d.Bank.GetAccount(ctx, st.AccountID)
	if err != nil {
		return err
	}
	page, err := c.d.Bank.ListEntries(ctx, id, r.URL.Query().Get("entries_cursor"), bankEntriesPage)
	if err != nil {
		return err
	}
	d := bankStatementData{reconPage: reconPage{Path: Prefix + "/bank/statements/" + strconv.FormatInt(id, 10),
		Query: url.Values{}, Now: c.d.Now()}, St: st, Account: a, Entries: page.Items}
	if page.Next != "" {
		d.Next = d.Link("entries_cursor", page.Next)
	}
	c.render(w, r, http.StatusOK, "bank_statement", view{Title: "Statement " + st.StatementID, Nav: "bank", S: s, Data: d})
	return nil
}

// bankAccountData is an account's page.
type bankAccountData struct {
	reconPage
	A bank.Account
	// Form is what the change form shows: the account's values, or what
	// was posted with Confirm, its confirmation (a plain post's preview).
	Form    bankChangeForm
	Confirm *bankConfirm
}

func (c *Console) bankAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := bankPathID(r)
	if err != nil {
		return err
	}
	a, err := c.d.Bank.GetAccount(r.Context(), id)
	if err != nil {
		return err
	}
	return c.renderBankAccount(w, r, s, bankAccountData{A: a, Form: bankChangeFormOf(a)})
}

func (c *Console) renderBankAccount(w http.ResponseWriter, r *http.Request, s *session, d bankAccountData) error {
	d.reconPage = reconPage{Path: bankAccountPath(d.A.ID), Query: url.Values{}, Now: c.d.Now()}
	c.render(w, r, http.StatusOK, "bank_account", view{Title: d.A.Name, Nav: "bank", S: s, Data: d})
	return nil
}

func bankAccountPath(id int64) string { return Prefix + "/bank/accounts/" + strconv.FormatInt(id, 10) }
