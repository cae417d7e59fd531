package recon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/recon/report"
)

// PaymentFindings is what reconciliation knows of one payment, for its page
// in the console: the settlement lines matched to its transactions and the
// current discrepancies that name it.
type PaymentFindings struct {
	// Settled are the settlement item lines runs matched to the payment's
	// transactions, oldest first, as each run recorded them on the
	// payment's timeline (addSettlementEvents).
	Settled []SettledLine
	// Findings are the discrepancies naming the payment in the latest
	// succeeded run of each period (as CurrentDiscrepancies has them), by
	// period then id; a superseded run's rows are no longer the period's
	// state.
	Findings []Discrepancy
}

// SettledLine is one settlement item line matched to a payment's
// transaction.
type SettledLine struct {
	BatchID         string
	SettlementDate  *time.Time // the settlement file's date; nil when neither its path nor content said
	TransactionType string
	TransactionID   string // our payment_transactions id, "" when the line was matched to the payment only
	Settlement      report.Amount
	Fee             report.Amount
	FileName        string
	Line            int
	RecordedAt      time.Time
}

// paymentFindingsLimit bounds each list: a payment has a handful of
// settlement lines and findings; more means something is badly wrong,
// and the discrepancies page lists them all.
const paymentFindingsLimit = 200

// PaymentFindings returns what reconciliation holds about payment
// paymentID (our id). An unknown or malformed id has none.
func (s *Service) PaymentFindings(ctx context.Context, paymentID string) (PaymentFindings, error) {
	var out PaymentFindings
	if _, ok := parseUUID([]byte(paymentID)); !ok {
		return out, &InvalidError{Field: "payment_id", Reason: "not a payment id"}
	}
	// Reads the settlement facts recon appended to payment_events (see
	// store_match.go's file comment for why recon touches that table);
	// their key leads with payment_id, and the report_files lookup is by
	// name in a table of a few files a day.
	const settledQ = `
		SELECT e.payload->>'batch' AS batch, f.report_date, split_part(e.fact_key, '|', 3) AS transaction_type,
			COALESCE(e.transaction_id::text, '') AS transaction_id,
			(e.payload->>'settlement_amount_minor')::bigint AS settlement_minor, COALESCE(e.payload->>'settlement_currency', '') AS settlement_currency,
			(e.payload->>'fee_amount_minor')::bigint AS fee_minor, COALESCE(e.payload->>'fee_currency', '') AS fee_currency,
			COALESCE(e.payload->>'file', '') AS file_name, COALESCE((e.payload->>'line')::integer, 0) AS line_no, e.created_at
		FROM payment_events e
		LEFT JOIN LATERAL (
			SELECT report_date FROM report_files
			WHERE name = e.payload->>'file' AND batch_id = e.payload->>'batch' AND kind = 'SETTLEMENT_ITEMS'
			ORDER BY id DESC LIMIT 1) f ON true
		WHERE e.payment_id = $1 AND e.source = 'settlement'
		ORDER BY e.created_at, e.id
		LIMIT $2`
	var rows []struct {
		Batch              string     `db:"batch"`
		ReportDate         *time.Time `db:"report_date"`
		TransactionType    string     `db:"transaction_type"`
		TransactionID      string     `db:"transaction_id"`
		SettlementMinor    *int64     `db:"settlement_minor"`
		SettlementCurrency string     `db:"settlement_currency"`
		FeeMinor           *int64     `db:"fee_minor"`
		FeeCurrency        string     `db:"fee_currency"`
		FileName           string     `db:"file_name"`
		Line               int        `db:"line_no"`
		CreatedAt          time.Time  `db:"created_at"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, settledQ, paymentID, paymentFindingsLimit); err != nil {
		return out, fmt.Errorf("payment %s settlement lines: %w", paymentID, err)
	}
	for _, r := range rows {
		l := SettledLine{BatchID: r.Batch, TransactionType: r.TransactionType, TransactionID: r.TransactionID,
			Settlement: amountOf(r.SettlementMinor, r.SettlementCurrency), Fee: amountOf(r.FeeMinor, r.FeeCurrency),
			FileName: r.FileName, Line: r.Line, RecordedAt: r.CreatedAt.UTC()}
		if r.ReportDate != nil {
			d := day(*r.ReportDate)
			l.SettlementDate = &d
		}
		out.Settled = append(out.Settled, l)
	}

	q := discrepancyQuery{}
	q.current(CurrentFilter{})
	q.add("d.payment_id = %s", paymentID)
	sqlText := `SELECT ` + discrepancyColumns + ` FROM ` + discrepancyFrom + ` WHERE ` + strings.Join(q.where, " AND ") +
		fmt.Sprintf(` ORDER BY r.period, d.id LIMIT %d`, paymentFindingsLimit)
	var drows []discrepancyRow
	if err := sqlx.SelectContext(ctx, s.db, &drows, sqlText, q.args...); err != nil {
		return out, fmt.Errorf("payment %s findings: %w", paymentID, err)
	}
	for _, r := range drows {
		out.Findings = append(out.Findings, r.discrepancy())
	}
	return out, nil
}
