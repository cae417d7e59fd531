package bank

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/postgres"
)

// The reads payout matching (internal/payout) makes of the bank tables. They
// take a queryer so that they run in the reconciliation run's transaction.

// Credit is a booked credit of an account with the statement it came in.
type Credit struct {
	Entry
	AccountID   int64
	StatementID int64
	FileName    string // the statement file's name
}

const creditColumns = `e.id, e.seq, e.line, e.booking_date, e.value_date, e.amount_minor, e.currency, e.reversal,
	e.status, e.end_to_end_id, e.account_servicer_ref, e.reference, e.remittance_info, e.creditor_ref,
	e.counterparty_name, e.counterparty_account, e.bank_tx_code, e.info, e.transactions,
	e.account_id, e.statement_id, s.file_name`

type creditRow struct {
	entryRow
	AccountID   int64  `db:"account_id"`
	StatementID int64  `db:"statement_id"`
	FileName    string `db:"file_name"`
}

func selectCredits(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) ([]Credit, error) {
	var rows []creditRow
	if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
		return nil, err
	}
	out := make([]Credit, 0, len(rows))
	for _, r := range rows {
		e, err := r.entry()
		if err != nil {
			return nil, err
		}
		out = append(out, Credit{Entry: e, AccountID: r.AccountID, StatementID: r.StatementID, FileName: r.FileName})
	}
	return out, nil
}

// CreditsForMatching returns the booked credits (positive, not reversals)
// of the accounts booked from from to to inclusive, in booking order (date,
// then entry id): what a payout can have been paid by. The entries of
// except (those the caller has already accounted for) are left out, unless
// booked on day: a run judges every credit of its own day.
func CreditsForMatching(ctx context.Context, q sqlx.QueryerContext, accountIDs []int64, from, to, day time.Time, except []int64) ([]Credit, error) {
	const query = `SELECT ` + creditColumns + `
		FROM bank_entries e JOIN bank_statements s ON s.id = e.statement_id
		WHERE e.account_id = ANY($1) AND e.status = '` + statement.Booked + `' AND NOT e.reversal
		  AND e.amount_minor > 0 AND e.booking_date BETWEEN $2 AND $3
		  AND (e.booking_date = $4 OR e.id <> ALL (COALESCE($5::bigint[], '{}')))
		ORDER BY e.booking_date, e.id`
	out, err := selectCredits(ctx, q, query, postgres.Array(accountIDs), dateParam(from), dateParam(to), dateParam(day),
		postgres.Array(except))
	if err != nil {
		return nil, fmt.Errorf("bank credits for matching: %w", err)
	}
	return out, nil
}

// CreditsByID returns the entries of ids that exist, in id order.
func CreditsByID(ctx context.Context, q sqlx.QueryerContext, ids []int64) ([]Credit, error) {
	const query = `SELECT ` + creditColumns + `
		FROM bank_entries e JOIN bank_statements s ON s.id = e.statement_id
		WHERE e.id = ANY($1) ORDER BY e.id`
	out, err := selectCredits(ctx, q, query, postgres.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("bank credits by id: %w", err)
	}
	return out, nil
}

// Coverage returns the last day the account's statements cover, zero when
// it has none: a booking on or before it would have been seen.
func Coverage(ctx context.Context, q sqlx.QueryerContext, accountID int64) (time.Time, error) {
	var last *time.Time
	if err := sqlx.GetContext(ctx, q, &last, `SELECT max(to_date) FROM bank_statements WHERE account_id = $1`,
		accountID); err != nil {
		return time.Time{}, fmt.Errorf("coverage of bank account %d: %w", accountID, err)
	}
	if last == nil {
		return time.Time{}, nil
	}
	return dateOf(*last), nil
}

// AccountsForSettlement returns, per APO settlement currency, the account
// its payouts arrive in: the first configured when several take it.
func AccountsForSettlement(ctx context.Context, q sqlx.QueryerContext) (map[string]Account, error) {
	rows, err := q.QueryxContext(ctx, `SELECT `+accountColumns+` FROM bank_accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("bank accounts: %w", err)
	}
	defer rows.Close()
	out := map[string]Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("bank accounts: %w", err)
		}
		if _, ok := out[a.SettlementCurrency]; !ok {
			out[a.SettlementCurrency] = a
		}
	}
	return out, rows.Err()
}
