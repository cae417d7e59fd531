package recon

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/recon/report"
)

// This file is what the books (internal/journal) read of a run: each
// settlement line of its batches, read the way the run's roll-forward read
// its batch. A journal built from these lines ties to its Batch by
// construction, so its check that it does catches lines that are not the
// ones the run rolled forward, rather than a second opinion on APO's
// conventions.

// Bucket names the total of a Batch a settlement line's amount counts in.
type Bucket string

// Buckets, one per roll-forward total of Batch.
const (
	BucketNone     Bucket = ""         // moves no money: authorisations, cancels, voids
	BucketCaptures Bucket = "captures" // Batch.Captures
	BucketRefunds  Bucket = "refunds"  // Batch.Refunds
	BucketDisputes Bucket = "disputes" // Batch.Disputes
	BucketFees     Bucket = "fees"     // Batch.Fees (with every line's FeeDeducted)
	BucketReserves Bucket = "reserves" // Batch.Reserves
	BucketOther    Bucket = "other"    // Batch.Other
)

var bucketOf = map[class]Bucket{classCapture: BucketCaptures, classRefund: BucketRefunds, classDispute: BucketDisputes,
	classFee: BucketFees, classReserve: BucketReserves, classNone: BucketNone, classOther: BucketOther}

// FeeColumn is a per-type fee column and its currency column.
type FeeColumn struct{ Amount, Currency string }

// FeeColumns are the per-type fee columns APO's settlement files may carry
// beside feeAmountValue (apo-reference.md §6.2, generation A). The report
// parser keeps them, untyped, among a line's extra columns.
var FeeColumns = [...]FeeColumn{
	{"processingFeeAmountValue", "processingFeeCurrency"},
	{"interchangeFeeAmountValue", "interchangeFeeCurrency"},
	{"schemeFeeAmountValue", "schemeFeeCurrency"},
	{"acquirerMarkupAmountValue", "acquirerMarkupCurrency"},
	{"taxFeeAmountValue", "taxFeeCurrency"},
	{"disputeHandlingFee", "disputeHandlingFeeCurrency"},
	{"disputeReverseFee", "disputeReverseFeeCurrency"},
}

// BatchLine is one settlement item line of a run, as its batch's
// roll-forward read it.
type BatchLine struct {
	BatchID  string // Batch.BatchID
	Currency string // Batch.Currency: the settlement currency (the fee's, on a line without a settlement amount)
	FileName string
	LineNo   int

	TransactionType string
	TransactionID   string
	Bucket          Bucket
	// Amount is what the line adds to its Bucket, signed by its effect on
	// the payout; FeeDeducted is what its feeAmountValue takes off the
	// payout (never negative). Batch.Fees is the sum of the fee lines'
	// Amount less every line's FeeDeducted.
	Amount      int64
	FeeDeducted int64

	Transaction, Settlement, Fee report.Amount // as written
	QuotePair, QuotePrice        string
	// FeeParts holds the line's FeeColumns, in their order, as written;
	// the ones it leaves empty are not Valid. A part without its currency
	// column is in the fee's currency, else the settlement currency.
	FeeParts [len(FeeColumns)]report.Amount
}

// feePartsSQL selects the FeeColumns out of a line's extra columns.
var feePartsSQL = func() string {
	var b strings.Builder
	for _, c := range FeeColumns {
		fmt.Fprintf(&b, ", l.extra->>'%s', l.extra->>'%s'", c.Amount, c.Currency)
	}
	return b.String()
}()

// BatchLines streams the settlement item lines of run's input files to fn,
// each read under the convention its batch fits (Batch.Convention; the
// default reading when it fits none). The line passed to fn is reused.
func (s *Store) BatchLines(ctx context.Context, run Run, fn func(*BatchLine) error) error {
	names := map[int64]string{}
	var ids []int64
	for _, in := range run.Inputs {
		if in.Kind == report.SettlementItems {
			ids = append(ids, in.FileID)
			names[in.FileID] = in.Name
		}
	}
	if len(ids) == 0 {
		return nil
	}
	readings := map[batchKey]convention{}
	for _, b := range run.Batches {
		if c, ok := conventionNamed(b.Convention); ok {
			readings[batchKey{b.BatchID, b.Currency}] = c
		}
	}
	q := `SELECT l.file_id, l.line_no, l.settlement_batch_id, l.transaction_type, l.transaction_id,
			l.transaction_amount_minor, l.transaction_currency, l.settlement_amount_minor, l.settlement_currency,
			l.fee_amount_minor, l.fee_currency, l.quote_currency_pair, COALESCE(l.quote_price::text, '')` + feePartsSQL + `
		FROM report_lines l
		WHERE l.file_id = ANY($1::bigint[])`
	rows, err := s.db.QueryContext(ctx, q, int64Array(ids))
	if err != nil {
		return fmt.Errorf("batch lines of run %d: %w", run.ID, err)
	}
	defer rows.Close()
	var (
		l                      BatchLine
		fileID                 int64
		tMinor, sMinor, fMinor sql.NullInt64
		tCcy, sCcy, fCcy       string
		parts                  [2 * len(FeeColumns)]sql.NullString
	)
	dest := []any{&fileID, &l.LineNo, &l.BatchID, &l.TransactionType, &l.TransactionID, &tMinor, &tCcy, &sMinor, &sCcy,
		&fMinor, &fCcy, &l.QuotePair, &l.QuotePrice}
	for i := range parts {
		dest = append(dest, &parts[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("batch lines of run %d: %w", run.ID, err)
		}
		l.FileName = names[fileID]
		l.Transaction, l.Settlement, l.Fee = amountOf(nullable(tMinor), tCcy), amountOf(nullable(sMinor), sCcy),
			amountOf(nullable(fMinor), fCcy)
		// The batch key of matcher.sumBatch.
		l.Currency = l.Settlement.Currency
		if !l.Settlement.Valid && l.Fee.Valid {
			l.Currency = l.Fee.Currency
		}
		if err := l.readFeeParts(parts[:]); err != nil {
			return err
		}
		c, ok := readings[batchKey{l.BatchID, l.Currency}]
		if !ok {
			c = conventions(ConventionAuto)[0]
		}
		l.read(c)
		if err := fn(&l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("batch lines of run %d: %w", run.ID, err)
	}
	return nil
}

func nullable(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// read sets the line's Bucket, Amount and FeeDeducted as typeAmount and
// rollUp count them under c.
func (l *BatchLine) read(c convention) {
	cl, dir := classify(l.TransactionType)
	l.Bucket, l.Amount, l.FeeDeducted = bucketOf[cl], 0, 0
	if l.Settlement.Valid {
		switch {
		case cl == classNone:
		case c.written || cl == classOther:
			l.Amount = l.Settlement.Minor
		default:
			l.Amount = dir * abs(l.Settlement.Minor)
		}
	}
	feeOnly := !l.Settlement.Valid || l.Settlement.Minor == 0
	if l.Fee.Valid && l.Fee.Minor != 0 && l.Fee.Currency == l.Currency && (!c.net || feeOnly) {
		l.FeeDeducted = abs(l.Fee.Minor)
	}
}

// readFeeParts types the FeeColumns of a line from their text (amount and
// currency, in FeeColumns order). The report parser kept them as written,
// so a value that is not an amount is an error naming the line.
func (l *BatchLine) readFeeParts(parts []sql.NullString) error {
	for i, c := range FeeColumns {
		l.FeeParts[i] = report.Amount{}
		v := strings.TrimSpace(parts[2*i].String)
		if v == "" {
			continue
		}
		ccy := strings.TrimSpace(parts[2*i+1].String)
		switch {
		case ccy != "":
		case l.Fee.Valid:
			ccy = l.Fee.Currency
		default:
			ccy = l.Settlement.Currency
		}
		m, err := money.ParseMajor(v, ccy, true)
		if err == nil {
			err = money.CheckCeiling(m)
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %s: %w", l.FileName, l.LineNo, c.Amount, err)
		}
		l.FeeParts[i] = report.Amount{Money: m, Valid: true}
	}
	return nil
}

// conventionNamed is the convention whose String is name (Batch.Convention).
func conventionNamed(name string) (convention, bool) {
	for _, c := range conventions(ConventionAuto) {
		if c.String() == name {
			return c, true
		}
	}
	return convention{}, false
}
