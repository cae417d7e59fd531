package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/payout"
)

// payoutAPI is what the payout handlers need.
type payoutAPI struct {
	edge
	payouts *payout.Service
}

// ---- response types ----

// PayoutLink is a bank credit's part in paying a payout.
type PayoutLink struct {
	EntryID   int64  `json:"entry_id" doc:"The bank entry (see the statement's entries)"`
	Allocated Money  `json:"allocated" doc:"What of the credit went to this payout"`
	Method    string `json:"method" enum:"REFERENCE,AMOUNT,AMOUNT_GROUP" doc:"REFERENCE: the credit names the batch; AMOUNT: the only credit of its amount near the due date, and the reverse; AMOUNT_GROUP: the only credit of the sum of the account's payouts due one day"`
	Duplicate bool   `json:"duplicate" doc:"The credit names a payout other credits had already paid"`
	Fee       Money  `json:"fee" doc:"Kept by an intermediary bank, within the tolerance"`
}

// Payout is an expected payout of a settlement batch.
type Payout struct {
	ID             int64        `json:"id" example:"3"`
	BatchID        string       `json:"batch_id" example:"B20261207EUR"`
	Amount         Money        `json:"amount" doc:"The batch's settlementSummary payout"`
	SettlementDate string       `json:"settlement_date" format:"date"`
	DueDate        string       `json:"due_date" format:"date" doc:"T+N business days of the currency's payout calendar"`
	AccountID      int64        `json:"account_id,omitempty" doc:"The bank account it is paid into; absent when no account takes its currency"`
	Status         string       `json:"status" enum:"EXPECTED,AWAITING_STATEMENT,RECEIVED,RECEIVED_WITH_FEE,RECEIVED_LATE,AMOUNT_MISMATCH,NOT_RECEIVED" doc:"As of today: EXPECTED before its due date (or without an account), AWAITING_STATEMENT when the account's statements do not reach the due date yet"`
	Received       Money        `json:"received" doc:"Sum of its credits' allocations, duplicates aside"`
	Fee            Money        `json:"fee"`
	RunID          int64        `json:"run_id" doc:"The reconciliation run that registered it"`
	Links          []PayoutLink `json:"links" nullable:"false"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

func payoutBody(p payout.Payout) Payout {
	b := Payout{ID: p.ID, BatchID: p.BatchID, Amount: Money{Value: p.Amount, Currency: p.Currency},
		SettlementDate: dateString(p.SettlementDate), DueDate: dateString(p.DueDate), AccountID: p.AccountID,
		Status: string(p.Status), Received: Money{Value: p.Received, Currency: p.Currency},
		Fee: Money{Value: p.Fee, Currency: p.Currency}, RunID: p.RunID, Links: []PayoutLink{},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for _, l := range p.Links {
		b.Links = append(b.Links, PayoutLink{EntryID: l.EntryID, Allocated: Money{Value: l.Amount, Currency: p.Currency},
			Method: string(l.Method), Duplicate: l.Duplicate, Fee: Money{Value: l.Fee, Currency: p.Currency}})
	}
	return b
}

// PayoutLine is a settlement item line of the payout's batch.
type PayoutLine struct {
	FileName        string `json:"file_name"`
	Line            int    `json:"line"`
	TransactionType string `json:"transaction_type" example:"CAPTURE"`
	TransactionID   string `json:"transaction_id"`
	Bucket          string `json:"bucket" enum:",captures,refunds,disputes,fees,reserves,other" doc:"The roll-forward total it adds to"`
	Amount          Money  `json:"amount" doc:"Signed by its effect on the payout"`
	FeeDeducted     Money  `json:"fee_deducted" doc:"What its fee took off the payout"`
}

// PayoutCredit is a bank credit that paid the payout, with its statement.
type PayoutCredit struct {
	BankEntry
	ID            int64  `json:"id"`
	AccountID     int64  `json:"account_id"`
	StatementID   int64  `json:"statement_id"`
	StatementFile string `json:"statement_file"`
}

// PayoutDetail is a payout with its settlement lines and bank credits.
type PayoutDetail struct {
	Payout
	Lines   []PayoutLine   `json:"lines" nullable:"false" doc:"The batch's settlement item lines, as the registering run read them"`
	Credits []PayoutCredit `json:"credits" nullable:"false"`
}

// ---- handlers ----

// ListPayoutsInput filters and pages payouts.
type ListPayoutsInput struct {
	Status    string `query:"status" enum:"EXPECTED,AWAITING_STATEMENT,RECEIVED,RECEIVED_WITH_FEE,RECEIVED_LATE,AMOUNT_MISMATCH,NOT_RECEIVED"`
	Currency  string `query:"currency" pattern:"^[A-Z]{3}$"`
	DueFrom   string `query:"due_from" format:"date"`
	DueTo     string `query:"due_to" format:"date" doc:"Inclusive"`
	BatchID   string `query:"batch_id" maxLength:"200"`
	PaymentID string `query:"payment_id" format:"uuid" doc:"The payouts whose batches settled this payment (its capture, refunds, disputes)"`
	Cursor    string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit     int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// PayoutListOutput is one page of payouts.
type PayoutListOutput struct {
	Body struct {
		Items      []Payout `json:"items" nullable:"false"`
		NextCursor string   `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (h payoutAPI) list(ctx context.Context, in *ListPayoutsInput) (*PayoutListOutput, error) {
	f := payout.Filter{Status: payout.Status(in.Status), Currency: in.Currency, BatchID: in.BatchID,
		PaymentID: in.PaymentID, Cursor: in.Cursor, Limit: in.Limit}
	for _, p := range []struct {
		name, value string
		to          *time.Time
	}{{"due_from", in.DueFrom, &f.DueFrom}, {"due_to", in.DueTo, &f.DueTo}} {
		if p.value == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, p.value)
		if err != nil {
			return nil, queryError(p.name, "want YYYY-MM-DD")
		}
		*p.to = d
	}
	page, err := h.payouts.List(ctx, f)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "query", what: "payout"})
	}
	out := &PayoutListOutput{}
	out.Body.NextCursor = page.Next
	out.Body.Items = make([]Payout, len(page.Items))
	for i, p := range page.Items {
		out.Body.Items[i] = payoutBody(p)
	}
	return out, nil
}

// GetPayoutInput names a payout.
type GetPayoutInput struct {
	ID int64 `path:"id" minimum:"1" doc:"The payout's id"`
}

// PayoutOutput is a payout with what makes it up.
type PayoutOutput struct {
	Body PayoutDetail
}

func (h payoutAPI) get(ctx context.Context, in *GetPayoutInput) (*PayoutOutput, error) {
	d, err := h.payouts.Get(ctx, in.ID)
	if err != nil {
		return nil, httpErrorAt(ctx, h.log, err, at{in: "path", what: "payout"})
	}
	body := PayoutDetail{Payout: payoutBody(d.Payout), Lines: []PayoutLine{}, Credits: []PayoutCredit{}}
	for _, l := range d.Lines {
		body.Lines = append(body.Lines, PayoutLine{FileName: l.FileName, Line: l.LineNo,
			TransactionType: l.TransactionType, TransactionID: l.TransactionID, Bucket: string(l.Bucket),
			Amount: Money{Value: l.Amount, Currency: l.Currency}, FeeDeducted: Money{Value: l.FeeDeducted, Currency: l.Currency}})
	}
	for _, c := range d.Credits {
		body.Credits = append(body.Credits, PayoutCredit{BankEntry: bankEntryBody(c.Entry), ID: c.ID,
			AccountID: c.AccountID, StatementID: c.StatementID, StatementFile: c.FileName})
	}
	return &PayoutOutput{Body: body}, nil
}

// payoutProblem answers the payout package's errors.
func payoutProblem(_ context.Context, _ *slog.Logger, err error, where at) error {
	var invalid *payout.InvalidError
	switch {
	case errors.Is(err, payout.ErrNotFound):
		return huma.Error404NotFound(where.what + " not found")
	case errors.As(err, &invalid):
		return huma.Error422UnprocessableEntity(invalid.Error(), &huma.ErrorDetail{Location: where.in + "." + invalid.Field,
			Message: invalid.Reason})
	}
	return nil
}
