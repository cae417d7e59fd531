package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/httpx"
)

const (
	// maxStatementUpload bounds one upload of statement files, every file
	// and the multipart framing together; beyond it the answer is 413 and
	// nothing is ingested. One file is bounded by statement.DefaultLimits
	// (64 MiB) as well.
	maxStatementUpload = 256 << 20
	// maxStatementFiles bounds the file parts of one upload (each is
	// spooled to a temporary file first).
	maxStatementFiles = 50
	// statementUploadTimeout bounds reading an upload's body, as for APO
	// reports.
	statementUploadTimeout = 10 * time.Minute
)

// bankAPI is what the bank handlers need.
type bankAPI struct {
	edge
	bank *bank.Service
	// uploadDir is where uploads are spooled: the process's private
	// temporary directory, which the next start empties if this process
	// dies first ("" for the system's).
	uploadDir string
}

// ---- response types ----

// BankAccount is a configured bank account.
type BankAccount struct {
	ID                 int64           `json:"id" example:"1"`
	Name               string          `json:"name" example:"Main EUR account"`
	IBAN               string          `json:"iban,omitempty" example:"DE89370400440532013000" doc:"Upper case, without spaces"`
	AccountNumber      string          `json:"account_number,omitempty" example:"37040044/0532013000" doc:"The identification statements give when they give no IBAN"`
	Currency           string          `json:"currency" example:"EUR"`
	SettlementCurrency string          `json:"settlement_currency" example:"EUR" doc:"The APO settlement currency whose payouts arrive in this account"`
	Remitters          []string        `json:"remitters" nullable:"false" doc:"Names and identifiers that mark APO's credits"`
	CSVMapping         json.RawMessage `json:"csv_mapping,omitempty" doc:"How the bank's CSV export is read (keys in docs/bank-statements.md)"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
}

func bankAccountBody(a bank.Account) BankAccount {
	remitters := a.Remitters
	if remitters == nil {
		remitters = []string{}
	}
	return BankAccount{ID: a.ID, Name: a.Name, IBAN: a.IBAN, AccountNumber: a.Number, Currency: a.Currency,
		SettlementCurrency: a.SettlementCurrency, Remitters: remitters, CSVMapping: a.CSVMapping,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// BankBalance is a booked balance.
type BankBalance struct {
	Amount Money  `json:"amount" doc:"Signed: a debit balance is negative"`
	Date   string `json:"date,omitempty" format:"date" doc:"The date the bank gave it"`
}

// BankStatementFile is the file a statement was read from.
type BankStatementFile struct {
	Name       string `json:"name"`
	SHA256     string `json:"sha256" doc:"Of the whole file, hex; the archive keeps it under this name"`
	Size       int64  `json:"size" doc:"Bytes"`
	Line       int    `json:"line" doc:"Where the statement starts in it"`
	Source     string `json:"source" enum:"upload,dir,sftp"`
	SourcePath string `json:"source_path,omitempty" doc:"A scanned file's path under the drop directory"`
}

// BankFinding is what the checks found about a statement.
type BankFinding struct {
	ID                  int64     `json:"id"`
	Kind                string    `json:"kind" enum:"STATEMENT_SUM_MISMATCH,STATEMENT_BALANCE_BREAK,STATEMENT_DAY_MISSING"`
	Line                int       `json:"line" doc:"The statement's first line, or the entry's where a sum could not be added up"`
	PreviousStatementID int64     `json:"previous_statement_id,omitempty" doc:"The statement before, for a break or a missing day"`
	Expected            *Money    `json:"expected,omitempty" doc:"Sum: closing − opening; break: the previous closing balance"`
	Actual              *Money    `json:"actual,omitempty" doc:"Sum: the booked entries; break: this opening balance"`
	MissingFrom         string    `json:"missing_from,omitempty" format:"date" doc:"First day no statement covers"`
	MissingTo           string    `json:"missing_to,omitempty" format:"date" doc:"Last day no statement covers"`
	Detail              string    `json:"detail"`
	CreatedAt           time.Time `json:"created_at"`
}

// BankStatement is a stored bank statement.
type BankStatement struct {
	ID             int64             `json:"id" example:"12"`
	AccountID      int64             `json:"account_id"`
	Format         string            `json:"format" enum:"camt.053,MT940,CSV"`
	StatementID    string            `json:"statement_id" example:"STARTUMSE" doc:"The bank's: camt Stmt/Id, MT940 :20:, a CSV export's file name"`
	Sequence       string            `json:"sequence,omitempty" example:"00245/001" doc:"camt ElctrncSeqNb (else LglSeqNb), MT940 :28C:"`
	FromDate       string            `json:"from_date" format:"date" doc:"First day it covers"`
	ToDate         string            `json:"to_date" format:"date" doc:"Last day it covers"`
	Currency       string            `json:"currency" example:"EUR"`
	OpeningBalance *BankBalance      `json:"opening_balance,omitempty" doc:"Absent when the statement carries none"`
	ClosingBalance *BankBalance      `json:"closing_balance,omitempty" doc:"Absent when the statement carries none"`
	BankCreatedAt  *time.Time        `json:"bank_created_at,omitempty" doc:"When the bank made it (camt.053 only)"`
	EntryCount     int               `json:"entry_count" doc:"Number of entries"`
	File           BankStatementFile `json:"file"`
	Status         string            `json:"status" enum:"OK,FINDINGS,UNCHECKED" doc:"OK: its entries add up and its balance and days chain from the statement before; FINDINGS: see findings; UNCHECKED: it carries no balances"`
	Findings       []BankFinding     `json:"findings,omitempty" doc:"When one statement is read, and in an upload's answer: its findings (absent when it has none). Absent in lists"`
	CreatedAt      time.Time         `json:"created_at"`
}

func bankBalance(b statement.Balance) *BankBalance {
	if !b.Valid {
		return nil
	}
	return &BankBalance{Amount: moneyBody(b.Money), Date: dateString(b.Date)}
}

func bankStatementBody(s bank.Statement) BankStatement {
	b := BankStatement{ID: s.ID, AccountID: s.AccountID, Format: string(s.Format), StatementID: s.StatementID,
		Sequence: s.Sequence, FromDate: dateString(s.FromDate), ToDate: dateString(s.ToDate), Currency: s.Currency,
		OpeningBalance: bankBalance(s.Opening), ClosingBalance: bankBalance(s.Closing),
		EntryCount: s.Entries, Status: string(s.Status), CreatedAt: s.CreatedAt,
		File: BankStatementFile{Name: s.File.Name, SHA256: s.File.SHA256, Size: s.File.Size, Line: s.Line,
			Source: string(s.File.Source), SourcePath: s.File.SourcePath}}
	if !s.BankCreatedAt.IsZero() {
		t := s.BankCreatedAt
		b.BankCreatedAt = &t
	}
	for _, f := range s.Findings {
		bf := BankFinding{ID: f.ID, Kind: string(f.Kind), Line: f.Line, PreviousStatementID: f.PreviousStatementID,
			Expected: optionalMoney(f.Expected.Minor, f.Expected.Currency), Actual: optionalMoney(f.Actual.Minor, f.Actual.Currency),
			MissingFrom: dateString(f.MissingFrom), MissingTo: dateString(f.MissingTo), Detail: f.Detail, CreatedAt: f.CreatedAt}
		b.Findings = append(b.Findings, bf)
	}
	return b
}

// BankRefs are the references and texts of an entry or a transaction.
type BankRefs struct {
	EndToEndID          string `json:"end_to_end_id,omitempty" doc:"The payer's end-to-end id"`
	AccountServicerRef  string `json:"account_servicer_ref,omitempty" doc:"The bank's own reference"`
	Reference           string `json:"reference,omitempty" doc:"The account owner's reference"`
	RemittanceInfo      string `json:"remittance_info,omitempty" doc:"Unstructured remittance text"`
	CreditorRef         string `json:"creditor_ref,omitempty" doc:"Structured creditor reference"`
	CounterpartyName    string `json:"counterparty_name,omitempty" doc:"The debtor of a credit, the creditor of a debit"`
	CounterpartyAccount string `json:"counterparty_account,omitempty"`
	BankTxCode          string `json:"bank_tx_code,omitempty" example:"PMNT/RCDT/ESCT"`
	Info                string `json:"info,omitempty" doc:"Additional entry information"`
}

// BankTransaction is one transaction detail of a batched entry.
type BankTransaction struct {
	Line   int    `json:"line"`
	Amount *Money `json:"amount,omitempty" doc:"Signed like its entry; absent when the bank gave none"`
	BankRefs
}

// BankEntry is one booking of a statement.
type BankEntry struct {
	Seq          int               `json:"seq" doc:"Position in the statement, from 1"`
	Line         int               `json:"line" doc:"Line of the file"`
	BookingDate  string            `json:"booking_date,omitempty" format:"date"`
	ValueDate    string            `json:"value_date,omitempty" format:"date"`
	Amount       Money             `json:"amount" doc:"Signed: a credit is positive, a debit negative"`
	Reversal     bool              `json:"reversal" doc:"It reverses an earlier booking (the amount is already signed for it)"`
	Status       string            `json:"status" example:"BOOK" doc:"BOOK, or camt.053's PDNG / INFO; only booked entries move the balance"`
	Transactions []BankTransaction `json:"transactions,omitempty" doc:"A batched camt.053 entry's transaction details"`
	BankRefs
}

func bankEntryBody(e bank.Entry) BankEntry {
	b := BankEntry{Seq: e.Seq, Line: e.Line, BookingDate: dateString(e.BookingDate), ValueDate: dateString(e.ValueDate),
		Amount: moneyBody(e.Amount), Reversal: e.Reversal, Status: e.Status, BankRefs: BankRefs(e.Refs)}
	for _, t := range e.Transactions {
		b.Transactions = append(b.Transactions, BankTransaction{Line: t.Line,
			Amount: optionalMoney(t.Amount.Minor, t.Amount.Currency), BankRefs: BankRefs(t.Refs)})
	}
	return b
}

// ---- accounts ----

// BankAccountOutput is an account.
type BankAccountOutput struct {
	Body BankAccount
}

// CreateBankAccountInput configures an account.
type CreateBankAccountInput struct {
	Body struct {
		Name               string          `json:"name" minLength:"1" maxLength:"200" example:"Main EUR account"`
		IBAN               string          `json:"iban,omitempty" maxLength:"50" example:"DE89 3704 0044 0532 0130 00" doc:"With or without spaces; its check digits are checked. Give the IBAN, the account number, or both"`
		AccountNumber      string          `json:"account_number,omitempty" maxLength:"64" example:"37040044/0532013000" doc:"The account's identification exactly as statements write it when they give no IBAN (MT940 :25: \"bank code/account\", camt.053 Othr/Id)"`
		Currency           string          `json:"currency" pattern:"^[A-Z]{3}$" example:"EUR" doc:"Statements in another currency are refused"`
		SettlementCurrency string          `json:"settlement_currency" pattern:"^[A-Z]{3}$" example:"EUR" doc:"The APO settlement currency whose payouts arrive in this account"`
		Remitters          []string        `json:"remitters,omitempty" maxItems:"50" example:"[\"APO PAYMENTS EUROPE B.V.\"]" doc:"Names and identifiers that mark APO's credits, each 1 to 140 characters"`
		CSVMapping         json.RawMessage `json:"csv_mapping,omitempty" doc:"For a bank that sends neither camt.053 nor MT940: the JSON mapping of its CSV export (keys in docs/bank-statements.md). It must name the account (account) or its column (columns.account): that is how a CSV file is told to be this account's"`
	}
}

func (h bankAPI) createAccount(ctx context.Context, in *CreateBankAccountInput) (*BankAccountOutput, error) {
	b := in.Body
	a, err := h.bank.CreateAccount(ctx, bank.NewAccount{Name: b.Name, IBAN: b.IBAN, Number: b.AccountNumber,
		Currency: b.Currency, SettlementCurrency: b.SettlementCurrency, Remitters: b.Remitters,
		CSVMapping: mappingOf(b.CSVMapping)})
	recordAudit(ctx, h.log, h.audits, audit.ActionBankAccountCreate, audit.BankAccountTarget(a.ID), b, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "bank account"})
	}
	return &BankAccountOutput{Body: bankAccountBody(a)}, nil
}

// mappingOf is a mapping as the client sent it; JSON null is none.
func mappingOf(raw json.RawMessage) []byte {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// UpdateBankAccountInput changes an account.
type UpdateBankAccountInput struct {
	ID   int64 `path:"id" minimum:"1" doc:"The account's id"`
	Body struct {
		Name               *string         `json:"name,omitempty" minLength:"1" maxLength:"200"`
		SettlementCurrency *string         `json:"settlement_currency,omitempty" pattern:"^[A-Z]{3}$"`
		Remitters          *[]string       `json:"remitters,omitempty" maxItems:"50" doc:"The whole new list"`
		CSVMapping         json.RawMessage `json:"csv_mapping,omitempty" doc:"A new mapping, or null to remove it"`
	}
}

func (h bankAPI) updateAccount(ctx context.Context, in *UpdateBankAccountInput) (*BankAccountOutput, error) {
	b := in.Body
	ch := bank.AccountChange{Name: b.Name, SettlementCurrency: b.SettlementCurrency, Remitters: b.Remitters}
	if b.CSVMapping != nil {
		m := mappingOf(b.CSVMapping)
		ch.CSVMapping = &m
	}
	var (
		a   bank.Account
		err error
	)
	if ch == (bank.AccountChange{}) {
		err = huma.Error422UnprocessableEntity("nothing to change", &huma.ErrorDetail{Location: "body",
			Message: "give name, settlement_currency, remitters or csv_mapping"})
	} else {
		a, err = h.bank.UpdateAccount(ctx, in.ID, ch)
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionBankAccountUpdate, audit.BankAccountTarget(in.ID), b, auditOutcome(err))
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "bank account"})
	}
	return &BankAccountOutput{Body: bankAccountBody(a)}, nil
}

// BankAccountIDInput names an account.
type BankAccountIDInput struct {
	ID int64 `path:"id" minimum:"1" doc:"The account's id"`
}

func (h bankAPI) getAccount(ctx context.Context, in *BankAccountIDInput) (*BankAccountOutput, error) {
	a, err := h.bank.GetAccount(ctx, in.ID)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "bank account"})
	}
	return &BankAccountOutput{Body: bankAccountBody(a)}, nil
}

// ListBankAccountsInput pages the accounts.
type ListBankAccountsInput struct {
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// BankAccountListOutput is one page of accounts.
type BankAccountListOutput struct {
	Body struct {
		Items      []BankAccount `json:"items" nullable:"false"`
		NextCursor string        `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h bankAPI) listAccounts(ctx context.Context, in *ListBankAccountsInput) (*BankAccountListOutput, error) {
	page, err := h.bank.ListAccounts(ctx, in.Cursor, in.Limit)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "bank account"})
	}
	out := &BankAccountListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]BankAccount, len(page.Items))
	for i, a := range page.Items {
		out.Body.Items[i] = bankAccountBody(a)
	}
	return out, nil
}

// ---- statements ----

// UploadBankStatementsInput declares no body: the handler streams the
// multipart upload itself (keepUploadBody), so that a large file goes to
// disk, not memory.
type UploadBankStatementsInput struct{}

// BankFile is what an uploaded file became.
type BankFile struct {
	Name       string          `json:"name"`
	SHA256     string          `json:"sha256" doc:"Of the whole file, hex"`
	Size       int64           `json:"size" doc:"Bytes"`
	Format     string          `json:"format" enum:"camt.053,MT940,CSV" doc:"As read from its content"`
	Duplicate  bool            `json:"duplicate" doc:"The same content had been ingested before: its statements are those stored then, and nothing was stored again"`
	Statements []BankStatement `json:"statements" nullable:"false" doc:"In file order, with their findings"`
}

// BankFilesOutput is the files of an upload.
type BankFilesOutput struct {
	Body struct {
		Files []BankFile `json:"files" nullable:"false" doc:"In upload order"`
	}
}

// statementSpool reads an upload of statement files of at most limit
// bytes (0: maxStatementUpload) into dir, names and total size checked
// before anything is ingested. Names are any safe base name: the layout is
// told from the content, and banks name their files as they please.
func statementSpool(dir string, limit int64) httpx.Spool {
	if limit <= 0 {
		limit = maxStatementUpload
	}
	return httpx.Spool{Dir: dir, Pattern: "payops-statement-*", Field: "file", Noun: "statement file",
		MaxBytes: limit, MaxFiles: maxStatementFiles,
		Name: func(p *multipart.Part) (string, string) { return httpx.PartFileName(p, 255) }}
}

func (h bankAPI) uploadStatements(ctx context.Context, _ *UploadBankStatementsInput) (*BankFilesOutput, error) {
	up, _ := ctx.Value(uploadBodyKey{}).(uploadBody)
	files, err := statementSpool(h.uploadDir, up.limit).Read(up.contentType, up.body)
	defer httpx.RemoveSpooled(files)
	rec := uploadAudit{Files: make([]uploadAuditFile, len(files))}
	for i, f := range files {
		rec.Files[i] = uploadAuditFile{Name: f.Name, Size: f.Size}
	}
	if err != nil {
		recordAudit(ctx, h.log, h.audits, audit.ActionBankStatementUpload, audit.BankStatementTarget(nil), rec, auditOutcome(err))
		return nil, httpErrorAt(ctx, h.log, err, at{in: "body", what: "file"})
	}
	var (
		out           = &BankFilesOutput{}
		ids           []string
		problems      []error
		refused, good []string
	)
	for i, f := range files {
		file, err := h.ingest(ctx, f)
		if err != nil {
			// Every error goes through the one mapping: a refused file is a
			// 422 whose details name its lines, and joins the upload's
			// problem; anything else ends the upload.
			p := httpErrorAt(ctx, h.log, err, at{in: "body", what: "file"})
			var model *huma.ErrorModel
			if !errors.As(p, &model) || model.Status != http.StatusUnprocessableEntity {
				recordAudit(ctx, h.log, h.audits, audit.ActionBankStatementUpload, audit.BankStatementTarget(ids), rec, auditOutcome(err))
				return nil, p
			}
			for _, d := range model.Errors {
				problems = append(problems, d)
			}
			rec.Files[i].Status = "REFUSED"
			refused = append(refused, f.Name)
			continue
		}
		body := BankFile{Name: file.Name, SHA256: file.SHA256, Size: file.Size, Format: string(file.Format),
			Duplicate: file.Duplicate, Statements: make([]BankStatement, len(file.Statements))}
		for j, s := range file.Statements {
			body.Statements[j] = bankStatementBody(s)
			if !file.Duplicate {
				ids = append(ids, strconv.FormatInt(s.ID, 10))
			}
		}
		out.Body.Files = append(out.Body.Files, body)
		rec.Files[i] = uploadAuditFile{Name: f.Name, Size: f.Size, SHA256: file.SHA256, Status: "INGESTED", Duplicate: file.Duplicate}
		good = append(good, f.Name)
	}
	if len(problems) > 0 {
		recordAudit(ctx, h.log, h.audits, audit.ActionBankStatementUpload, audit.BankStatementTarget(ids), rec, audit.OutcomeRejected)
		msg := "statement file(s) refused whole, nothing of them stored: " + strings.Join(refused, ", ")
		if len(good) > 0 {
			msg += "; ingested: " + strings.Join(good, ", ") + " (uploading them again is harmless)"
		}
		return nil, huma.Error422UnprocessableEntity(msg, problems...)
	}
	recordAudit(ctx, h.log, h.audits, audit.ActionBankStatementUpload, audit.BankStatementTarget(ids), rec, audit.OutcomeSucceeded)
	return out, nil
}

func (h bankAPI) ingest(ctx context.Context, f httpx.SpooledFile) (bank.File, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return bank.File{}, fmt.Errorf("open spooled upload: %w", err)
	}
	defer fh.Close()
	return h.bank.Ingest(ctx, f.Name, fh)
}

// ListBankStatementsInput filters and pages statements.
type ListBankStatementsInput struct {
	AccountID int64  `query:"account_id" minimum:"1" doc:"Only this account's"`
	From      string `query:"from" format:"date" example:"2026-12-01" doc:"Only statements covering a day from this date on"`
	To        string `query:"to" format:"date" example:"2026-12-31" doc:"Only statements covering a day up to this date"`
	Cursor    string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit     int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// BankStatementListOutput is one page of statements.
type BankStatementListOutput struct {
	Body struct {
		Items      []BankStatement `json:"items" nullable:"false"`
		NextCursor string          `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h bankAPI) listStatements(ctx context.Context, in *ListBankStatementsInput) (*BankStatementListOutput, error) {
	f := bank.StatementFilter{AccountID: in.AccountID, Cursor: in.Cursor, Limit: in.Limit}
	for _, p := range []struct {
		name, value string
		to          *time.Time
	}{{"from", in.From, &f.From}, {"to", in.To, &f.To}} {
		if p.value == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, p.value)
		if err != nil {
			return nil, queryError(p.name, "want YYYY-MM-DD")
		}
		*p.to = d
	}
	page, err := h.bank.ListStatements(ctx, f)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "bank statement"})
	}
	out := &BankStatementListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]BankStatement, len(page.Items))
	for i, s := range page.Items {
		out.Body.Items[i] = bankStatementBody(s)
	}
	return out, nil
}

// GetBankStatementInput names a statement and a page of its entries.
type GetBankStatementInput struct {
	ID            int64  `path:"id" minimum:"1" doc:"The statement's id"`
	EntriesCursor string `query:"entries_cursor" maxLength:"200" doc:"entries_next_cursor of the previous answer"`
	EntriesLimit  int    `query:"entries_limit" minimum:"1" maximum:"1000" default:"100" doc:"Entries per page"`
}

// BankStatementDetail is a statement with its findings and a page of its
// entries.
type BankStatementDetail struct {
	BankStatement
	Entries           []BankEntry `json:"entries" nullable:"false" doc:"A page of the entries, in statement order"`
	EntriesNextCursor string      `json:"entries_next_cursor,omitempty" doc:"Pass as entries_cursor for the next page of entries; absent on the last"`
}

// BankStatementOutput is a statement.
type BankStatementOutput struct {
	Body BankStatementDetail
}

func (h bankAPI) getStatement(ctx context.Context, in *GetBankStatementInput) (*BankStatementOutput, error) {
	s, err := h.bank.GetStatement(ctx, in.ID)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "bank statement"})
	}
	page, err := h.bank.ListEntries(ctx, in.ID, in.EntriesCursor, in.EntriesLimit)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "bank statement"})
	}
	out := &BankStatementOutput{Body: BankStatementDetail{BankStatement: bankStatementBody(s),
		Entries: make([]BankEntry, len(page.Items)), EntriesNextCursor: page.Next}}
	for i, e := range page.Items {
		out.Body.Entries[i] = bankEntryBody(e)
	}
	return out, nil
}
