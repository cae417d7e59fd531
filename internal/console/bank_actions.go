package console

// Bank's changes (see bank.go for its pages): configuring or changing an
// account (admin, asked first, as the API's admin-only account routes) and
// uploading statement files (finance). Each calls bank.Service as the
// admin API does (cmd/api/bank.go) and records the API's audit action,
// target and input, with the console user as the actor.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/httpx"
)

// ---- configuring accounts ----

// bankConfirm is a change's confirmation: what will be configured, and the
// form (a fresh token, the change in hidden fields) that does it.
type bankConfirm struct {
	Form   string // the id of the form it confirms: its slot is Form+"-confirm"
	Title  string
	Facts  []bankFact
	Action string
	Fields []payField
	Button string
	Token  string
}

type bankFact struct{ Label, Value string }

// bankCreateForm is the create form as posted.
type bankCreateForm struct {
	Name, IBAN, Number, Currency, SettlementCurrency, Remitters, CSVMapping string
}

// bankCreateInput is what the audit row keeps of a configuration: the
// API's create-bank-account body.
type bankCreateInput struct {
	Name               string          `json:"name"`
	IBAN               string          `json:"iban,omitempty"`
	AccountNumber      string          `json:"account_number,omitempty"`
	Currency           string          `json:"currency"`
	SettlementCurrency string          `json:"settlement_currency"`
	Remitters          []string        `json:"remitters,omitempty"`
	CSVMapping         json.RawMessage `json:"csv_mapping,omitempty"`
}

// bankRemitters reads the remitters box: one name or identifier a line,
// blank lines left out.
func bankRemitters(v string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) > bankMaxRemitters {
		return nil, &formError{Field: "remitters", Message: fmt.Sprintf("at most %d, one a line", bankMaxRemitters)}
	}
	return out, nil
}

// bankMapping reads the CSV mapping box: empty, or a JSON document (the
// service checks what it says).
func bankMapping(v string) (json.RawMessage, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, nil
	case len(v) > bankMaxMapping:
		return nil, &formError{Field: "csv_mapping", Message: fmt.Sprintf("at most %d bytes", bankMaxMapping)}
	case !json.Valid([]byte(v)):
		return nil, &formError{Field: "csv_mapping", Message: "not JSON: paste the mapping document (keys in docs/bank-statements.md)"}
	}
	return json.RawMessage(v), nil
}

// bankCurrency reads a currency code, which people type in either case.
func bankCurrency(field, v string) (string, error) {
	v = strings.ToUpper(strings.TrimSpace(v))
	if len(v) != 3 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "", &formError{Field: field, Message: "want a three-letter ISO 4217 code, e.g. EUR"}
	}
	return v, nil
}

// bankReadCreate reads the create form as the API's schema reads its body:
// a value it would refuse before its handler is a form problem here, with
// no audit row either.
func bankReadCreate(w http.ResponseWriter, r *http.Request) (bankCreateForm, bankCreateInput, error) {
	if err := readAdminForm(w, r); err != nil {
		return bankCreateForm{}, bankCreateInput{}, err
	}
	f := bankCreateForm{Name: r.PostFormValue("name"), IBAN: strings.TrimSpace(r.PostFormValue("iban")),
		Number: strings.TrimSpace(r.PostFormValue("account_number")), Currency: r.PostFormValue("currency"),
		SettlementCurrency: r.PostFormValue("settlement_currency"), Remitters: r.PostFormValue("remitters"),
		CSVMapping: r.PostFormValue("csv_mapping")}
	in := bankCreateInput{Name: f.Name, IBAN: f.IBAN, AccountNumber: f.Number}
	var err error
	switch {
	case strings.TrimSpace(f.Name) == "" || len(f.Name) > bankMaxName:
		return f, in, &formError{Field: "name", Message: fmt.Sprintf("want a name of 1 to %d characters", bankMaxName)}
	case len(f.IBAN) > bankMaxIBAN:
		return f, in, &formError{Field: "iban", Message: fmt.Sprintf("at most %d characters", bankMaxIBAN)}
	case len(f.Number) > bankMaxNumber:
		return f, in, &formError{Field: "account_number", Message: fmt.Sprintf("at most %d characters", bankMaxNumber)}
	}
	if in.Currency, err = bankCurrency("currency", f.Currency); err != nil {
		return f, in, err
	}
	if in.SettlementCurrency, err = bankCurrency("settlement_currency", f.SettlementCurrency); err != nil {
		return f, in, err
	}
	f.Currency, f.SettlementCurrency = in.Currency, in.SettlementCurrency
	if in.Remitters, err = bankRemitters(f.Remitters); err != nil {
		return f, in, err
	}
	in.CSVMapping, err = bankMapping(f.CSVMapping)
	return f, in, err
}

// bankCreateConfirm is the confirmation of configuring in.
func bankCreateConfirm(f bankCreateForm, in bankCreateInput) *bankConfirm {
	conf := &bankConfirm{Form: "create-account", Title: "Configure the bank account “" + in.Name + "”?", Action: Prefix + "/bank/accounts",
		Button: "Configure “" + in.Name + "”", Token: view{}.Token()}
	conf.Facts = append(conf.Facts, bankFact{"Name", in.Name})
	if in.IBAN != "" {
		conf.Facts = append(conf.Facts, bankFact{"IBAN", in.IBAN})
	}
	if in.AccountNumber != "" {
		conf.Facts = append(conf.Facts, bankFact{"Account number", in.AccountNumber})
	}
	conf.Facts = append(conf.Facts, bankFact{"Currency", in.Currency}, bankFact{"Settlement currency", in.SettlementCurrency},
		bankFact{"Remitters", bankList(in.Remitters)}, bankFact{"CSV mapping", bankMappingSummary(in.CSVMapping)})
	conf.Fields = []payField{{"name", f.Name}, {"iban", f.IBAN}, {"account_number", f.Number}, {"currency", f.Currency},
		{"settlement_currency", f.SettlementCurrency}, {"remitters", f.Remitters}, {"csv_mapping", f.CSVMapping}}
	return conf
}

func bankList(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, "; ")
}

func bankMappingSummary(m json.RawMessage) string {
	if len(m) == 0 {
		return "none (the bank sends camt.053 or MT940)"
	}
	return fmt.Sprintf("given (%d bytes)", len(m))
}

// bankCreatePreview checks the create form and answers with its
// confirmation: into the form's confirmation slot for htmx, else the bank
// page with it. Nothing changes yet.
func (c *Console) bankCreatePreview(w http.ResponseWriter, r *http.Request, s *session) error {
	f, in, err := bankReadCreate(w, r)
	if err != nil {
		return err
	}
	conf := bankCreateConfirm(f, in)
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "bank", "bank-confirm-swap", view{S: s, Data: conf})
		return nil
	}
	d, err := c.bankPageData(r)
	if err != nil {
		return err
	}
	d.Form, d.Confirm = f, conf
	c.render(w, r, http.StatusOK, "bank", view{Title: "Confirm: configure a bank account", Nav: "bank", S: s, Data: d})
	return nil
}

// bankCreate configures the account once per form token, with the API's
// audit row (its body as the input, the new account as the target).
func (c *Console) bankCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	_, in, err := bankReadCreate(w, r)
	if err != nil {
		return err
	}
	var created bank.Account
	return c.act(w, r, s, action{Name: audit.ActionBankAccountCreate, Target: "bank-account:", Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			a, err := c.d.Bank.CreateAccount(ctx, bank.NewAccount{Name: in.Name, IBAN: in.IBAN, Number: in.AccountNumber,
				Currency: in.Currency, SettlementCurrency: in.SettlementCurrency, Remitters: in.Remitters,
				CSVMapping: in.CSVMapping})
			if err != nil {
				return "", "", err
			}
			created = a
			return bankAccountPath(a.ID), "Bank account “" + a.Name + "” configured.", nil
		},
		Audited: func(error) (string, any) { return audit.BankAccountTarget(created.ID), in },
	})
}

// bankChangeForm is the change form: every changeable field, as the
// account has it or as posted.
type bankChangeForm struct {
	Name, SettlementCurrency, Remitters, CSVMapping string
}

func bankChangeFormOf(a bank.Account) bankChangeForm {
	f := bankChangeForm{Name: a.Name, SettlementCurrency: a.SettlementCurrency, Remitters: strings.Join(a.Remitters, "\n")}
	var b bytes.Buffer
	if len(a.CSVMapping) > 0 && json.Indent(&b, a.CSVMapping, "", "  ") == nil {
		f.CSVMapping = b.String()
	}
	return f
}

// bankChangeInput is what the audit row keeps of a change: the API's
// update-bank-account body, the fields changed only (csv_mapping null
// removes the mapping).
type bankChangeInput struct {
	Name               *string         `json:"name,omitempty"`
	SettlementCurrency *string         `json:"settlement_currency,omitempty"`
	Remitters          *[]string       `json:"remitters,omitempty"`
	CSVMapping         json.RawMessage `json:"csv_mapping,omitempty"`
}

// bankReadChange reads a change form: a field posted is a field to change
// (the confirmation posts only those that differ); an empty csv_mapping
// removes the mapping. Values the API's schema refuses are form problems.
func bankReadChange(w http.ResponseWriter, r *http.Request) (bankChangeForm, bankChangeInput, error) {
	if err := readAdminForm(w, r); err != nil {
		return bankChangeForm{}, bankChangeInput{}, err
	}
	var (
		f  bankChangeForm
		in bankChangeInput
	)
	posted := func(k string) (string, bool) {
		v, ok := r.PostForm[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	if v, ok := posted("name"); ok {
		if f.Name = v; strings.TrimSpace(v) == "" || len(v) > bankMaxName {
			return f, in, &formError{Field: "name", Message: fmt.Sprintf("want a name of 1 to %d characters", bankMaxName)}
		}
		in.Name = &f.Name
	}
	if v, ok := posted("settlement_currency"); ok {
		ccy, err := bankCurrency("settlement_currency", v)
		if err != nil {
			return f, in, err
		}
		f.SettlementCurrency, in.SettlementCurrency = ccy, &ccy
	}
	if v, ok := posted("remitters"); ok {
		rs, err := bankRemitters(v)
		if err != nil {
			return f, in, err
		}
		if rs == nil {
			rs = []string{}
		}
		f.Remitters, in.Remitters = v, &rs
	}
	if v, ok := posted("csv_mapping"); ok {
		m, err := bankMapping(v)
		if err != nil {
			return f, in, err
		}
		if m == nil {
			m = json.RawMessage("null")
		}
		f.CSVMapping, in.CSVMapping = v, m
	}
	return f, in, nil
}

// bankDiff keeps of in the fields that change a, and says each change
// for the confirmation; the fields to post are those kept.
func bankDiff(a bank.Account, f bankChangeForm, in bankChangeInput) (bankChangeInput, []bankFact, []payField) {
	var (
		out    bankChangeInput
		facts  []bankFact
		fields []payField
	)
	if in.Name != nil && strings.TrimSpace(*in.Name) != a.Name {
		out.Name = in.Name
		facts = append(facts, bankFact{"Name", a.Name + " → " + strings.TrimSpace(*in.Name)})
		fields = append(fields, payField{"name", *in.Name})
	}
	if in.SettlementCurrency != nil && *in.SettlementCurrency != a.SettlementCurrency {
		out.SettlementCurrency = in.SettlementCurrency
		facts = append(facts, bankFact{"Settlement currency", a.SettlementCurrency + " → " + *in.SettlementCurrency})
		fields = append(fields, payField{"settlement_currency", *in.SettlementCurrency})
	}
	if in.Remitters != nil && !slices.Equal(*in.Remitters, a.Remitters) && (len(*in.Remitters) > 0 || len(a.Remitters) > 0) {
		out.Remitters = in.Remitters
		facts = append(facts, bankFact{"Remitters", bankList(a.Remitters) + " → " + bankList(*in.Remitters)})
		fields = append(fields, payField{"remitters", f.Remitters})
	}
	if in.CSVMapping != nil && !sameJSON(in.CSVMapping, a.CSVMapping) {
		out.CSVMapping = in.CSVMapping
		was, now := "given", "a new one"
		if len(a.CSVMapping) == 0 {
			was = "none"
		}
		if string(in.CSVMapping) == "null" {
			now = "none (removed)"
		}
		facts = append(facts, bankFact{"CSV mapping", was + " → " + now})
		fields = append(fields, payField{"csv_mapping", f.CSVMapping})
	}
	return out, facts, fields
}

// sameJSON reports whether a posted mapping (JSON null: none) says what the
// stored one says, whatever its layout and key order.
func sameJSON(posted json.RawMessage, stored []byte) bool {
	if string(posted) == "null" || len(stored) == 0 {
		return string(posted) == "null" && len(stored) == 0
	}
	var a, b any
	return json.Unmarshal(posted, &a) == nil && json.Unmarshal(stored, &b) == nil && reflect.DeepEqual(a, b)
}

// bankNothingToChange is the API's refusal of a change that changes
// nothing.
var bankNothingToChange = &formError{Field: "name", Message: "nothing to change: edit a field first"}

// bankChangePreview checks a change against the account as it stands and
// answers with its confirmation, which lists each field's old and new
// value. Nothing changes yet.
func (c *Console) bankChangePreview(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := bankPathID(r)
	if err != nil {
		return err
	}
	f, in, err := bankReadChange(w, r)
	if err != nil {
		return err
	}
	a, err := c.d.Bank.GetAccount(r.Context(), id)
	if err != nil {
		return err
	}
	_, facts, fields := bankDiff(a, f, in)
	if len(fields) == 0 {
		return bankNothingToChange
	}
	conf := &bankConfirm{Form: "change-account", Title: "Change the bank account “" + a.Name + "”?", Facts: facts, Action: bankAccountPath(id),
		Fields: fields, Button: "Save " + plural(len(fields), "change", "changes"), Token: view{}.Token()}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "bank_account", "bank-confirm-swap", view{S: s, Data: conf})
		return nil
	}
	return c.renderBankAccount(w, r, s, bankAccountData{A: a, Form: f, Confirm: conf})
}

// bankChange makes a confirmed change once per form token, with the API's
// audit row (the fields changed, as its body would give them).
func (c *Console) bankChange(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := bankPathID(r)
	if err != nil {
		return err
	}
	_, in, err := bankReadChange(w, r)
	if err != nil {
		return err
	}
	return c.act(w, r, s, action{Name: audit.ActionBankAccountUpdate, Target: audit.BankAccountTarget(id), Input: in,
		Run: func(ctx context.Context) (string, string, error) {
			ch := bank.AccountChange{Name: in.Name, SettlementCurrency: in.SettlementCurrency, Remitters: in.Remitters}
			if in.CSVMapping != nil {
				m := []byte(in.CSVMapping)
				if string(m) == "null" {
					m = nil
				}
				ch.CSVMapping = &m
			}
			if ch == (bank.AccountChange{}) {
				return "", "", bankNothingToChange
			}
			a, err := c.d.Bank.UpdateAccount(ctx, id, ch)
			if err != nil {
				return "", "", err
			}
			return bankAccountPath(id), "Bank account “" + a.Name + "” changed.", nil
		}})
}

// ---- uploading statements ----

// bankSpool reads a statement upload as the API's does: every `file` part,
// any safe base name (banks name their files as they please; the layout
// is told from the content), with the API's limits.
func bankSpool(dir string) httpx.Spool {
	return httpx.Spool{Dir: dir, Pattern: "payops-statement-*", Field: "file", Noun: "statement file",
		MaxBytes: bankMaxUpload, MaxFiles: bankMaxFiles, Name: func(p *multipart.Part) (string, string) { return httpx.PartFileName(p, 255) }}
}

// bankRefusalProblems lists a refused file's problems as the API does:
// "<file>:<line>" and what is wrong there.
func bankRefusalProblems(re *bank.RefusedError) []error {
	var out []error
	for _, p := range re.Problems() {
		out = append(out, &bank.InvalidError{Field: p.Where, Reason: p.Message})
	}
	return out
}

// bankUpload takes several statement files in one multipart form, spools
// them (httpx.Spool, the API's limits) and ingests each through
// bank.Service.Ingest. A refused file's problems come back inline as
// "<file>:<line>"; nothing of it is stored.
func (c *Console) bankUpload(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.upload(w, r, s, upload{timeout: bankUploadTimeout, spool: bankSpool(c.d.UploadDir),
		action: audit.ActionBankStatementUpload, target: audit.BankStatementTarget, ingest: c.bankIngest})
}

// bankIngest ingests each spooled file, filling in the audit record and
// the ids of the statements stored, as the API's upload does. A refused
// file makes the upload a *uploadRejected; the good ones stay
// ingested. Any other error ends the upload.
func (c *Console) bankIngest(ctx context.Context, files []httpx.SpooledFile, rec *reconUploadAudit, ids *[]string) (string, string, error) {
	var (
		problems  []error
		bad, good []string
		stored    int
		dups      int
	)
	for i, f := range files {
		file, err := c.bankIngestOne(ctx, f)
		var refused *bank.RefusedError
		switch {
		case errors.As(err, &refused):
			problems = append(problems, bankRefusalProblems(refused)...)
			rec.Files[i].Status = "REFUSED"
			bad = append(bad, f.Name)
			continue
		case err != nil:
			return "", "", err
		}
		for _, st := range file.Statements {
			if !file.Duplicate {
				*ids = append(*ids, strconv.FormatInt(st.ID, 10))
				stored++
			}
		}
		if file.Duplicate {
			dups++
		}
		rec.Files[i] = reconUploadAuditFile{Name: f.Name, Size: f.Size, SHA256: file.SHA256, Status: "INGESTED", Duplicate: file.Duplicate}
		good = append(good, f.Name)
	}
	if len(problems) > 0 {
		return "", "", &uploadRejected{title: "Statement file(s) refused",
			detail: "Nothing of these files was stored; fix what is listed below and upload them again.",
			Bad:    bad, Good: good, Problems: problems}
	}
	flash := fmt.Sprintf("Uploaded %s: %s stored, %d already here.", plural(len(files), "statement file", "statement files"),
		plural(stored, "statement", "statements"), dups)
	return Prefix + "/bank#statements", flash, nil
}

func (c *Console) bankIngestOne(ctx context.Context, f httpx.SpooledFile) (bank.File, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return bank.File{}, fmt.Errorf("open spooled upload: %w", err)
	}
	defer fh.Close()
	return c.d.Bank.Ingest(ctx, f.Name, fh)
}
