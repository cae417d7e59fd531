package recon

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/recon/report"
)

// This file holds a run's SQL. Matching is a streaming hash join: one
// statement joins the run's report lines with the ledger by APO's id (the
// hash table is built inside PostgreSQL, over payment_transactions) and
// streams the result; Go keeps only compact sets (matched transaction ids,
// per-batch sums) and the few lines that need attention, and asks the
// database again only for those (fallback matches, details of what is
// missing, duplicate lines). Measured on the 2-core build machine at 200,000
// lines: materialising the join in a temporary table and running every step
// as SQL over it took 3.6 s to match, this path 1.2 s; at a million lines it
// matches in about 7 s with a peak RSS near 200 MiB (bench_test.go), where a
// Go-side hash table of the whole ledger costs as much time and holds the
// ledger in memory.
//
// Cross-domain access, justified: these statements read payments and
// payment_transactions (owned by internal/payments) in bulk. Going through
// payments.Store would mean one lookup per line — a million round trips for
// a million-line file — where a join costs one statement. They only read,
// except for addSettlementEvents, which appends settlement facts to the
// payments timeline (payment_events) in the same bulk way; those rows are
// append-only, deduplicated by the table's (payment_id, fact_key) key, and
// change no payment state, so they need none of payments' row locks.

// FilesForDate returns the ingested files a run of date d reads: transaction
// items of that day, settlement items of batches settled that day, and the
// summaries of those batches (or of that day). When a file name arrived more
// than once with different content, the latest arrival wins.
func (s *Store) FilesForDate(ctx context.Context, d time.Time) ([]File, error) {
	const q = `
		WITH items AS (
			SELECT DISTINCT ON (customer_id, name) ` + fileColumns + `
			FROM report_files
			WHERE status = 'INGESTED' AND report_date = $1 AND kind IN ('TRANSACTION_ITEMS', 'SETTLEMENT_ITEMS')
			ORDER BY customer_id, name, id DESC),
		summaries AS (
			SELECT DISTINCT ON (customer_id, name) ` + fileColumns + `
			FROM report_files
			WHERE status = 'INGESTED' AND kind = 'SETTLEMENT_SUMMARY'
			  AND (report_date = $1 OR (report_date IS NULL
			       AND batch_id IN (SELECT batch_id FROM items WHERE kind = 'SETTLEMENT_ITEMS')))
			ORDER BY customer_id, name, id DESC)
		SELECT * FROM items UNION ALL SELECT * FROM summaries
		ORDER BY kind DESC, name, id`
	var rows []fileRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, day(d)); err != nil {
		return nil, fmt.Errorf("files for %s: %w", d.Format(time.DateOnly), err)
	}
	out := make([]File, len(rows))
	for i, r := range rows {
		out[i] = r.file()
	}
	return out, nil
}

// FilesByID returns the listed files in id order.
func (s *Store) FilesByID(ctx context.Context, ids []int64) ([]File, error) {
	var rows []fileRow
	q := `SELECT ` + fileColumns + ` FROM report_files WHERE id = ANY($1::bigint[]) ORDER BY id`
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, int64Array(ids)); err != nil {
		return nil, fmt.Errorf("files by id: %w", err)
	}
	out := make([]File, len(rows))
	for i, r := range rows {
		out[i] = r.file()
	}
	return out, nil
}

// SettlementFilesBetween returns ingested settlement item files with a
// report date in [from, to], latest arrival per name: the lines that show
// whether a capture was settled before its due date.
func (s *Store) SettlementFilesBetween(ctx context.Context, from, to time.Time) ([]int64, error) {
	const q = `
		SELECT id FROM (
			SELECT DISTINCT ON (customer_id, name) id FROM report_files
			WHERE status = 'INGESTED' AND kind = 'SETTLEMENT_ITEMS' AND report_date BETWEEN $1 AND $2
			ORDER BY customer_id, name, id DESC) f
		ORDER BY id`
	var ids []int64
	if err := sqlx.SelectContext(ctx, s.db, &ids, q, from, to); err != nil {
		return nil, fmt.Errorf("settlement files: %w", err)
	}
	return ids, nil
}

// ItemFilesBetween returns the ingested item files of one kind with a
// report date in [from, to], latest arrival per name, in id order: where
// lateLines looks for lines that arrived late.
func (s *Store) ItemFilesBetween(ctx context.Context, kind report.Kind, from, to time.Time) ([]File, error) {
	const q = `
		SELECT * FROM (
			SELECT DISTINCT ON (customer_id, name) ` + fileColumns + ` FROM report_files
			WHERE status = 'INGESTED' AND kind = $1 AND report_date BETWEEN $2 AND $3
			ORDER BY customer_id, name, id DESC) f
		ORDER BY id`
	var rows []fileRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, string(kind), day(from), day(to)); err != nil {
		return nil, fmt.Errorf("item files: %w", err)
	}
	out := make([]File, len(rows))
	for i, r := range rows {
		out[i] = r.file()
	}
	return out, nil
}

// linesNaming returns the item lines of the files that carry one of the
// APO ids (as transactionId or originalTransactionId) or request ids (as
// transactionRequestId or originalTransactionRequestId).
func (s *Store) linesNaming(ctx context.Context, fileIDs []int64, apoIDs, requestIDs []string) ([]itemRow, error) {
	q := `SELECT ` + itemColumns + ` FROM report_lines l
		WHERE l.file_id = ANY($1::bigint[]) AND (
			l.transaction_id IN (SELECT jsonb_array_elements_text($2::jsonb))
			OR l.original_transaction_id IN (SELECT jsonb_array_elements_text($2::jsonb))
			OR l.transaction_request_id IN (SELECT jsonb_array_elements_text($3::jsonb))
			OR l.original_transaction_request_id IN (SELECT jsonb_array_elements_text($3::jsonb)))`
	return s.queryItems(ctx, "lines naming transactions", q, int64Array(fileIDs), jsonStrings(apoIDs), jsonStrings(requestIDs))
}

// SetContextFiles records the files a run read beyond its inputs (its
// window, and where it looked for late lines) in
// recon_runs.context_file_ids: a file that arrives later and is not among
// them may heal the run's MISSING_IN_REPORT breaks.
func (s *Store) SetContextFiles(ctx context.Context, runID int64, ids []int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE recon_runs SET context_file_ids = $2::bigint[] WHERE id = $1`,
		runID, int64Array(ids)); err != nil {
		return fmt.Errorf("run %d context files: %w", runID, err)
	}
	return nil
}

// RecordHealing notes, on each MISSING_IN_REPORT of the previous run that
// this run healed because a late line holds its transaction, the file and
// line that did (details.healed_by).
func (s *Store) RecordHealing(ctx context.Context, runID, prevID int64, notes []healNote) error {
	if prevID == 0 || len(notes) == 0 {
		return nil
	}
	b, err := json.Marshal(notes)
	if err != nil {
		return fmt.Errorf("encode healing notes: %w", err)
	}
	const q = `
		UPDATE discrepancies p SET details = COALESCE(p.details, '{}'::jsonb) || jsonb_build_object('healed_by',
			jsonb_build_object('file', x.file, 'file_id', x.file_id, 'line', x.line, 'report_date', x.report_date,
				'reason', 'the line arrived late, in a later file'))
		FROM jsonb_to_recordset($3::jsonb) AS x(fingerprint text, file_id bigint, file text, line integer, report_date text)
		WHERE p.run_id = $2 AND p.healed_by_run_id = $1 AND p.fingerprint = x.fingerprint`
	if _, err := s.db.ExecContext(ctx, q, runID, prevID, string(b)); err != nil {
		return fmt.Errorf("record healing: %w", err)
	}
	return nil
}

// DatesWithNewInputs returns the dates to reconcile: those that have
// ingested files no succeeded run has read yet (a summary without a date
// of its own takes the date of its batch's settlement items), and those
// whose latest succeeded run has an OPEN MISSING_IN_REPORT that a file it
// did not read may heal: a line of that file, in the scope lateLines
// searches (lateDays), names the missing transaction's APO id, payment or
// request id, and is of its type. The run read every such file that existed then (inputs,
// context_file_ids), so only files that arrived since are looked at, and
// a re-run reads them, so they do not bring the date back. The lines are
// joined by equality on each id in turn, so that each join hashes.
func (s *Store) DatesWithNewInputs(ctx context.Context) ([]time.Time, error) {
	const q = `
		WITH latest AS (
			SELECT DISTINCT ON (period) id, period, input_file_ids || context_file_ids AS read
			FROM recon_runs WHERE status = 'SUCCEEDED' ORDER BY period, id DESC),
		open AS (
			SELECT r.period, r.read, d.report_kind, d.transaction_type, (d.details->>'due_on')::date AS due,
				NULLIF(d.transaction_id, '') AS apo_id, NULLIF(d.original_transaction_id, '') AS payment_apo_id,
				NULLIF(d.transaction_request_id, '') AS request_id
			FROM latest r JOIN discrepancies d ON d.run_id = r.id
			WHERE d.kind = 'MISSING_IN_REPORT' AND d.status = 'OPEN' AND d.details ? 'due_on'),
		files AS (
			SELECT DISTINCT f.id, f.kind, f.report_date FROM report_files f
			JOIN open o ON f.kind = o.report_kind AND f.report_date BETWEEN o.due - 1 AND o.due + $1::integer
				AND NOT (f.id = ANY(o.read))
			WHERE f.status = 'INGESTED' AND NOT EXISTS (SELECT 1 FROM report_files g WHERE g.status = 'INGESTED'
				AND g.customer_id = f.customer_id AND g.name = f.name AND g.id > f.id)),
		lines AS MATERIALIZED (
			SELECT f.id AS file_id, f.kind, f.report_date, ` + ledgerTypeSQL + ` AS ledger_type, l.transaction_id,
				l.original_transaction_id, l.transaction_request_id
			FROM files f JOIN report_lines l ON l.file_id = f.id),
		hits AS (
			SELECT o.*, x.file_id, x.kind, x.report_date, x.ledger_type FROM open o JOIN lines x ON x.transaction_id = o.apo_id
			UNION ALL
			SELECT o.*, x.file_id, x.kind, x.report_date, x.ledger_type FROM open o JOIN lines x ON x.transaction_id = o.payment_apo_id
			UNION ALL
			SELECT o.*, x.file_id, x.kind, x.report_date, x.ledger_type FROM open o JOIN lines x ON x.original_transaction_id = o.payment_apo_id
			UNION ALL
			SELECT o.*, x.file_id, x.kind, x.report_date, x.ledger_type FROM open o JOIN lines x ON x.transaction_request_id = o.request_id)
		SELECT DISTINCT d FROM (
			SELECT COALESCE(f.report_date, (SELECT max(i.report_date) FROM report_files i
				WHERE i.kind = 'SETTLEMENT_ITEMS' AND i.status = 'INGESTED' AND i.batch_id = f.batch_id)) AS d
			FROM report_files f
			WHERE f.status = 'INGESTED'
			  AND NOT EXISTS (SELECT 1 FROM recon_runs r WHERE r.status = 'SUCCEEDED' AND r.input_file_ids @> ARRAY[f.id])
			UNION ALL
			SELECT h.period FROM hits h
			WHERE h.kind = h.report_kind AND h.ledger_type = h.transaction_type AND NOT (h.file_id = ANY(h.read))
			  AND h.report_date BETWEEN h.due + CASE WHEN h.report_kind = 'SETTLEMENT_ITEMS' THEN 1 ELSE -1 END
			                        AND h.due + $1::integer
		) x WHERE d IS NOT NULL ORDER BY d`
	var ds []time.Time
	if err := sqlx.SelectContext(ctx, s.db, &ds, q, lateDays); err != nil {
		return nil, fmt.Errorf("dates with new inputs: %w", err)
	}
	for i := range ds {
		ds[i] = day(ds[i])
	}
	return ds, nil
}

// LockPeriod serialises runs of one period until the transaction ends, so
// each run's diff is against a finished predecessor.
func (s *Store) LockPeriod(ctx context.Context, period time.Time) error {
	if _, err := s.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('recon-period:' || $1::text, 0))`,
		period.Format(time.DateOnly)); err != nil {
		return fmt.Errorf("lock period: %w", err)
	}
	return nil
}

// PreviousRun returns the latest succeeded run of the period before id, or 0.
func (s *Store) PreviousRun(ctx context.Context, period time.Time, before int64) (int64, error) {
	var id int64
	const q = `SELECT COALESCE(max(id), 0) FROM recon_runs WHERE period = $1 AND status = 'SUCCEEDED' AND id < $2`
	if err := sqlx.GetContext(ctx, s.db, &id, q, period, before); err != nil {
		return 0, fmt.Errorf("previous run: %w", err)
	}
	return id, nil
}

// Prepare sets the run transaction up: UTC dates, and enough memory for the
// hash joins over a million lines to stay in memory.
func (s *Store) Prepare(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `SET LOCAL TimeZone = 'UTC'; SET LOCAL work_mem = '256MB'`); err != nil {
		return fmt.Errorf("prepare run: %w", err)
	}
	return nil
}

// ledgerTypeSQL is the ledger transaction type a line's transactionType
// stands for (apo-reference.md §6.3); NULL for fee, reserve, dispute and
// other lines, which match nothing in the ledger.
const ledgerTypeSQL = `CASE
	WHEN l.transaction_type IN ('PAYMENT', 'AUTHORIZATION') THEN 'AUTHORIZATION'
	WHEN l.transaction_type = 'CAPTURE' THEN 'CAPTURE'
	WHEN l.transaction_type = 'REFUND' THEN 'REFUND'
	WHEN l.transaction_type IN ('CANCEL', 'VOID') THEN 'CANCEL' END`

// uuid16 is a uuid in binary form: small, comparable map keys.
type uuid16 [16]byte

// parseUUID reads the canonical text form (8-4-4-4-12 hex digits).
func parseUUID(b []byte) (uuid16, bool) {
	var u uuid16
	if len(b) != 36 {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if b[i] != '-' {
				return u, false
			}
			continue
		}
		h, ok := unhex(b[i])
		l, ok2 := unhex(b[i+1])
		if !ok || !ok2 {
			return u, false
		}
		u[j] = h<<4 | l
		j++
		i++
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (u uuid16) String() string {
	var b [36]byte
	const digits = "0123456789abcdef"
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(b[:])
}

// uuidArray writes ids as a PostgreSQL array literal for $n::uuid[].
func uuidArray(ids []uuid16) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id.String())
	}
	b.WriteByte('}')
	return b.String()
}

// ledgerRef is the ledger transaction a line matched.
type ledgerRef struct {
	Valid     bool
	ID        uuid16
	PaymentID uuid16
	Amount    money.Money
	Status    string // PROCESSING, SUCCEEDED, FAILED
}

// itemRow is one item line of a run's files, with the ledger transaction
// its APO id names (if any).
type itemRow struct {
	FileID                int64
	LineNo                int
	TransactionType       string
	TransactionID         string
	OriginalTransactionID string
	TransactionRequestID  string
	// OriginalTransactionRequestID is the payment's request id on capture
	// and refund lines of the newest generation.
	OriginalTransactionRequestID string
	SettlementBatchID            string
	PaymentTime                  time.Time // paymentTime, or transactionCompletionTime (newest generation); zero when absent
	Txn, Settle, Fee             report.Amount
	Status                       string
	QuotePair, QuotePrice        string
	Tx                           ledgerRef
	KnownPayment                 uuid16 // set when a line names a payment of ours but matches none of its transactions
}

// pos packs a line's place into one sortable number.
func (r *itemRow) pos() int64 { return r.FileID<<32 | int64(r.LineNo) }

const itemColumns = `l.file_id, l.line_no, l.transaction_type, l.transaction_id, l.original_transaction_id,
	l.transaction_request_id, l.original_transaction_request_id, l.settlement_batch_id, l.payment_time,
	l.transaction_amount_minor, l.transaction_currency, l.settlement_amount_minor, l.settlement_currency,
	l.fee_amount_minor, l.fee_currency, l.status, l.quote_currency_pair, COALESCE(l.quote_price::text, '')`

// itemScanner scans itemColumns (and optionally the matched ledger columns)
// into one reused row; uuids go through RawBytes so that they cost no
// allocation.
type itemScanner struct {
	r                      itemRow
	paidAt                 sql.NullTime
	tMinor, sMinor, fMinor sql.NullInt64
	tCcy, sCcy, fCcy       string
	txID, payID            sql.RawBytes
	ourMinor               sql.NullInt64
	ourCcy, ourStatus      sql.NullString
}

func (sc *itemScanner) dest(withLedger bool) []any {
	r := &sc.r
	d := []any{&r.FileID, &r.LineNo, &r.TransactionType, &r.TransactionID, &r.OriginalTransactionID,
		&r.TransactionRequestID, &r.OriginalTransactionRequestID, &r.SettlementBatchID, &sc.paidAt, &sc.tMinor,
		&sc.tCcy, &sc.sMinor, &sc.sCcy, &sc.fMinor, &sc.fCcy, &r.Status, &r.QuotePair, &r.QuotePrice}
	if withLedger {
		d = append(d, &sc.txID, &sc.payID, &sc.ourMinor, &sc.ourCcy, &sc.ourStatus)
	}
	return d
}

func (sc *itemScanner) row(withLedger bool) *itemRow {
	r := &sc.r
	amount := func(n sql.NullInt64, ccy string) report.Amount {
		if !n.Valid || ccy == "" {
			return report.Amount{}
		}
		return report.Amount{Money: money.Money{Minor: n.Int64, Currency: ccy}, Valid: true}
	}
	r.Txn, r.Settle, r.Fee = amount(sc.tMinor, sc.tCcy), amount(sc.sMinor, sc.sCcy), amount(sc.fMinor, sc.fCcy)
	r.PaymentTime = time.Time{}
	if sc.paidAt.Valid {
		r.PaymentTime = sc.paidAt.Time.UTC()
	}
	r.Tx, r.KnownPayment = ledgerRef{}, uuid16{}
	if withLedger && sc.txID != nil {
		id, ok1 := parseUUID(sc.txID)
		pay, ok2 := parseUUID(sc.payID)
		if ok1 && ok2 {
			r.Tx = ledgerRef{Valid: true, ID: id, PaymentID: pay,
				Amount: money.Money{Minor: sc.ourMinor.Int64, Currency: sc.ourCcy.String}, Status: sc.ourStatus.String}
		}
	}
	return r
}

// streamItems streams the item lines of the files, each with the ledger
// transaction of its class that carries the line's APO id (captureId,
// refundId, paymentId). The row passed to fn is reused: copy it to keep it.
func (s *Store) streamItems(ctx context.Context, fileIDs []int64, fn func(*itemRow) error) error {
	q := `SELECT ` + itemColumns + `, ta.id, ta.payment_id, ta.amount_minor, ta.currency::text, ta.status
		FROM report_lines l
		LEFT JOIN payment_transactions ta
			ON l.transaction_id <> '' AND ta.apo_id = l.transaction_id AND ta.type = ` + ledgerTypeSQL + `
		WHERE l.file_id = ANY($1::bigint[])`
	rows, err := s.db.QueryContext(ctx, q, int64Array(fileIDs))
	if err != nil {
		return fmt.Errorf("stream report lines: %w", err)
	}
	defer rows.Close()
	var sc itemScanner
	dest := sc.dest(true)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("stream report lines: %w", err)
		}
		if err := fn(sc.row(true)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stream report lines: %w", err)
	}
	return nil
}

// itemsAt returns the lines at the given positions (see itemRow.pos) of
// the files, without ledger columns: the few lines a run needs again.
func (s *Store) itemsAt(ctx context.Context, fileIDs []int64, positions []int64) ([]itemRow, error) {
	q := `SELECT ` + itemColumns + ` FROM report_lines l
		WHERE l.file_id = ANY($1::bigint[]) AND ((l.file_id << 32) | l.line_no::bigint) = ANY($2::bigint[])`
	return s.queryItems(ctx, "report lines at positions", q, int64Array(fileIDs), int64Array(positions))
}

// queryItems runs q, which selects itemColumns, and returns its lines
// without ledger columns; what names the query in errors.
func (s *Store) queryItems(ctx context.Context, what, q string, args ...any) ([]itemRow, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var (
		sc  itemScanner
		out []itemRow
	)
	dest := sc.dest(false)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, *sc.row(false))
	}
	return out, rows.Err()
}

// ledgerTx is a ledger transaction with what fallback matching and
// MISSING_IN_REPORT need to know of it.
type ledgerTx struct {
	Ref              ledgerRef
	Type             string
	RequestID        string
	APOID            string
	APOPaymentID     string
	PaymentRequestID string
	CompletedAt      *time.Time
}

const ledgerTxColumns = `t.id, t.payment_id, t.amount_minor, t.currency::text, t.status, t.type, t.request_id,
	t.apo_id, COALESCE(p.apo_payment_id, ''), p.payment_request_id, t.completed_at`

func (s *Store) ledgerTxs(ctx context.Context, q string, args ...any) ([]ledgerTx, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out       []ledgerTx
		id, pay   sql.RawBytes
		minor     int64
		ccy, stat string
	)
	for rows.Next() {
		var t ledgerTx
		if err := rows.Scan(&id, &pay, &minor, &ccy, &stat, &t.Type, &t.RequestID, &t.APOID, &t.APOPaymentID,
			&t.PaymentRequestID, &t.CompletedAt); err != nil {
			return nil, err
		}
		t.Ref.ID, _ = parseUUID(id)
		t.Ref.PaymentID, _ = parseUUID(pay)
		t.Ref.Valid, t.Ref.Amount, t.Ref.Status = true, money.Money{Minor: minor, Currency: ccy}, stat
		if t.CompletedAt != nil {
			u := t.CompletedAt.UTC()
			t.CompletedAt = &u
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// lookupChunk bounds the ids one lookup statement carries.
const lookupChunk = 10_000

// chunked runs fn over ids in slices of at most lookupChunk.
func chunked[T any](ids []T, fn func([]T) error) error {
	for start := 0; start < len(ids); start += lookupChunk {
		if err := fn(ids[start:min(start+lookupChunk, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// jsonStrings encodes ids for an `IN (SELECT jsonb_array_elements_text($n::jsonb))` parameter.
func jsonStrings(ids []string) string {
	b, _ := json.Marshal(ids) // a []string always marshals
	return string(b)
}

// txsByRequestID returns ledger transactions by our request ids.
func (s *Store) txsByRequestID(ctx context.Context, ids []string) ([]ledgerTx, error) {
	var out []ledgerTx
	err := chunked(ids, func(part []string) error {
		q := `SELECT ` + ledgerTxColumns + ` FROM payment_transactions t JOIN payments p ON p.id = t.payment_id
			WHERE t.request_id IN (SELECT jsonb_array_elements_text($1::jsonb))`
		txs, err := s.ledgerTxs(ctx, q, jsonStrings(part))
		out = append(out, txs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("transactions by request id: %w", err)
	}
	return out, nil
}

// txsOfPayments returns the transactions of one type (CAPTURE, REFUND) of
// the payments with these APO payment ids or our payment request ids,
// oldest first.
func (s *Store) txsOfPayments(ctx context.Context, typ string, apoPaymentIDs, paymentRequestIDs []string) ([]ledgerTx, error) {
	var out []ledgerTx
	q := `SELECT ` + ledgerTxColumns + ` FROM payments p JOIN payment_transactions t ON t.payment_id = p.id
		WHERE t.type = $1 AND (p.apo_payment_id IN (SELECT jsonb_array_elements_text($2::jsonb))
		   OR p.payment_request_id IN (SELECT jsonb_array_elements_text($3::jsonb)))
		ORDER BY t.created_at, t.id`
	err := chunked(apoPaymentIDs, func(part []string) error {
		txs, err := s.ledgerTxs(ctx, q, typ, jsonStrings(part), jsonStrings([]string{}))
		out = append(out, txs...)
		return err
	})
	if err == nil {
		err = chunked(paymentRequestIDs, func(part []string) error {
			txs, err := s.ledgerTxs(ctx, q, typ, jsonStrings([]string{}), jsonStrings(part))
			out = append(out, txs...)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%s transactions of payments: %w", strings.ToLower(typ), err)
	}
	// A payment named both ways comes twice; keep each transaction once, in
	// the statement's order.
	seen := map[uuid16]bool{}
	uniq := out[:0]
	for _, t := range out {
		if !seen[t.Ref.ID] {
			seen[t.Ref.ID] = true
			uniq = append(uniq, t)
		}
	}
	return uniq, nil
}

// paymentCancel is a payment a cancel line names, with its cancel if any.
type paymentCancel struct {
	PaymentID        uuid16
	APOPaymentID     string
	PaymentRequestID string
	Cancel           ledgerRef
}

// cancelsOfPayments returns the payments with these APO payment ids or our
// payment request ids, each with its latest cancel (a succeeded one first).
func (s *Store) cancelsOfPayments(ctx context.Context, apoIDs, requestIDs []string) ([]paymentCancel, error) {
	const q = `
		SELECT p.id, COALESCE(p.apo_payment_id, ''), p.payment_request_id, c.id, c.amount_minor, c.currency::text, c.status
		FROM payments p
		LEFT JOIN LATERAL (
			SELECT t.id, t.amount_minor, t.currency, t.status FROM payment_transactions t
			WHERE t.payment_id = p.id AND t.type = 'CANCEL'
			ORDER BY (t.status = 'SUCCEEDED') DESC, t.created_at DESC, t.id DESC LIMIT 1) c ON true
		WHERE p.apo_payment_id IN (SELECT jsonb_array_elements_text($1::jsonb))
		   OR p.payment_request_id IN (SELECT jsonb_array_elements_text($2::jsonb))`
	rows, err := s.db.QueryContext(ctx, q, jsonStrings(apoIDs), jsonStrings(requestIDs))
	if err != nil {
		return nil, fmt.Errorf("cancels of payments: %w", err)
	}
	defer rows.Close()
	var out []paymentCancel
	for rows.Next() {
		var (
			pc        paymentCancel
			pid, cid  sql.RawBytes
			minor     sql.NullInt64
			ccy, stat sql.NullString
		)
		if err := rows.Scan(&pid, &pc.APOPaymentID, &pc.PaymentRequestID, &cid, &minor, &ccy, &stat); err != nil {
			return nil, fmt.Errorf("cancels of payments: %w", err)
		}
		pc.PaymentID, _ = parseUUID(pid)
		if id, ok := parseUUID(cid); ok {
			pc.Cancel = ledgerRef{Valid: true, ID: id, PaymentID: pc.PaymentID,
				Amount: money.Money{Minor: minor.Int64, Currency: ccy.String}, Status: stat.String}
		}
		out = append(out, pc)
	}
	return out, rows.Err()
}

// Ledger transaction types a report must hold: transaction details list
// every successful transaction of their day, settlement details the money
// movements only.
var (
	transactionTypes = []string{"AUTHORIZATION", "CAPTURE", "REFUND", "CANCEL"}
	settledTypes     = []string{"CAPTURE", "REFUND"}
)

// streamCompleted streams the ids of our SUCCEEDED transactions of the
// given types completed on the given UTC dates: what the reports of those
// dates must hold.
func (s *Store) streamCompleted(ctx context.Context, types []string, dates []time.Time, fn func(uuid16) error) error {
	if len(dates) == 0 {
		return nil
	}
	from, to := dates[0], dates[len(dates)-1].AddDate(0, 0, 1)
	const q = `
		SELECT t.id FROM payment_transactions t
		WHERE t.type = ANY($4::text[]) AND t.status = 'SUCCEEDED'
		  AND t.completed_at >= $1 AND t.completed_at < $2
		  AND (t.completed_at AT TIME ZONE 'UTC')::date = ANY($3::date[])`
	rows, err := s.db.QueryContext(ctx, q, from, to, dateArray(dates), postgres.Array(types))
	if err != nil {
		return fmt.Errorf("completed transactions: %w", err)
	}
	defer rows.Close()
	var raw sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("completed transactions: %w", err)
		}
		id, ok := parseUUID(raw)
		if !ok {
			return fmt.Errorf("completed transactions: bad id %q", raw)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ledgerTxsByID returns ledger transactions by id.
func (s *Store) ledgerTxsByID(ctx context.Context, ids []uuid16) ([]ledgerTx, error) {
	var out []ledgerTx
	err := chunked(ids, func(part []uuid16) error {
		q := `SELECT ` + ledgerTxColumns + ` FROM payment_transactions t JOIN payments p ON p.id = t.payment_id
			WHERE t.id = ANY($1::uuid[])`
		txs, err := s.ledgerTxs(ctx, q, uuidArray(part))
		out = append(out, txs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger transactions: %w", err)
	}
	return out, nil
}

// summaryLine is one line of a settlement summary file.
type summaryLine struct {
	FileID      int64  `db:"file_id"`
	FileName    string `db:"file_name"`
	LineNo      int    `db:"line_no"`
	BatchID     string `db:"settlement_batch_id"`
	Currency    string `db:"settlement_currency"`
	SummaryType string `db:"summary_type"`
	Minor       int64  `db:"settlement_amount_minor"`
	Count       *int64 `db:"count"`
}

// summaryLines returns the lines of the listed summary files.
func (s *Store) summaryLines(ctx context.Context, fileIDs []int64) ([]summaryLine, error) {
	const q = `
		SELECT l.file_id, f.name AS file_name, l.line_no, l.settlement_batch_id, l.settlement_currency, l.summary_type,
			l.settlement_amount_minor, l.count
		FROM report_lines l JOIN report_files f ON f.id = l.file_id
		WHERE l.file_id = ANY($1::bigint[]) ORDER BY l.file_id, l.line_no`
	var out []summaryLine
	if err := sqlx.SelectContext(ctx, s.db, &out, q, int64Array(fileIDs)); err != nil {
		return nil, fmt.Errorf("summary lines: %w", err)
	}
	return out, nil
}

// discrepancyJSON is a discrepancy computed in Go, in the shape
// InsertDiscrepancies sends to jsonb_to_recordset.
type discrepancyJSON struct {
	Kind                  string          `json:"kind"`
	Fingerprint           string          `json:"fingerprint"`
	ContentHash           string          `json:"content_hash"`
	ReportKind            string          `json:"report_kind"`
	TransactionType       string          `json:"transaction_type"`
	TransactionID         string          `json:"transaction_id"`
	TransactionRequestID  string          `json:"transaction_request_id"`
	OriginalTransactionID string          `json:"original_transaction_id"`
	SettlementBatchID     string          `json:"settlement_batch_id"`
	PaymentID             string          `json:"payment_id"`
	LedgerTransactionID   string          `json:"ledger_transaction_id"`
	OurMinor              *int64          `json:"our_amount_minor"`
	OurCurrency           string          `json:"our_currency"`
	ReportMinor           *int64          `json:"report_amount_minor"`
	ReportCurrency        string          `json:"report_currency"`
	FileID                int64           `json:"file_id"`
	FileName              string          `json:"file_name"`
	LineNo                int             `json:"line_no"`
	Details               json.RawMessage `json:"details"`
}

// InsertDiscrepancies records discrepancies computed in Go (FX, batch
// totals), a few thousand per statement.
func (s *Store) InsertDiscrepancies(ctx context.Context, runID int64, ds []Discrepancy, now time.Time) error {
	const chunk = 2000
	q := discrepancyInsert + `
		SELECT $1, x.kind, x.fingerprint, x.content_hash, x.report_kind, x.transaction_type, x.transaction_id,
			x.transaction_request_id, x.original_transaction_id, x.settlement_batch_id, NULLIF(x.payment_id, '')::uuid,
			NULLIF(x.ledger_transaction_id, '')::uuid, x.our_amount_minor, x.our_currency, x.report_amount_minor,
			x.report_currency, NULLIF(x.file_id, 0), x.file_name, NULLIF(x.line_no, 0), x.details, $2
		FROM jsonb_to_recordset($3::jsonb) AS x(kind text, fingerprint text, content_hash text, report_kind text,
			transaction_type text, transaction_id text, transaction_request_id text, original_transaction_id text,
			settlement_batch_id text, payment_id text, ledger_transaction_id text, our_amount_minor bigint,
			our_currency text, report_amount_minor bigint, report_currency text, file_id bigint, file_name text,
			line_no integer, details jsonb)
		ON CONFLICT (run_id, fingerprint) DO NOTHING`
	for start := 0; start < len(ds); start += chunk {
		part := ds[start:min(start+chunk, len(ds))]
		rows := make([]discrepancyJSON, len(part))
		for i, d := range part {
			rows[i] = discrepancyJSON{Kind: string(d.Kind), Fingerprint: d.Fingerprint, ContentHash: contentHash(d),
				ReportKind: string(d.ReportKind), TransactionType: d.TransactionType, TransactionID: d.TransactionID,
				TransactionRequestID: d.TransactionRequestID, OriginalTransactionID: d.OriginalTransactionID,
				SettlementBatchID: d.SettlementBatchID, PaymentID: d.PaymentID,
				LedgerTransactionID: d.LedgerTransactionID, OurCurrency: d.Ours.Currency,
				ReportCurrency: d.Report.Currency, FileID: d.FileID, FileName: d.FileName, LineNo: d.Line,
				Details: d.Details}
			if d.Ours.Valid {
				rows[i].OurMinor = &d.Ours.Minor
			}
			if d.Report.Valid {
				rows[i].ReportMinor = &d.Report.Minor
			}
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("encode discrepancies: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, q, runID, now, string(b)); err != nil {
			return fmt.Errorf("insert discrepancies: %w", err)
		}
	}
	return nil
}

// discrepancyInsert is the column list every discrepancy insert fills.
const discrepancyInsert = `INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, report_kind,
	transaction_type, transaction_id, transaction_request_id, original_transaction_id, settlement_batch_id,
	payment_id, ledger_transaction_id, our_amount_minor, our_currency, report_amount_minor, report_currency,
	file_id, file_name, line_no, details, created_at)`

// settledLine is a matched settlement item, for the payments timeline.
type settledLine struct {
	Pos             int64
	PaymentID, TxID uuid16
}

// addSettlementEvents appends a "settled" fact to the payments timeline for
// each matched settlement item (source settlement, applied false:
// settlement confirms money movement, it changes no status). The pairs are
// COPYed into a temporary table that one INSERT joins with the lines; the
// fact key names batch, type and APO id (and our transaction where the
// line's id is its payment's, as in the newest generation, where a
// payment's captures share it), so re-runs add nothing. conn must
// be the connection of the store's transaction. See the file comment for
// why recon writes this table.
func (s *Store) addSettlementEvents(ctx context.Context, conn postgres.RawConn, fileIDs []int64, lines []settledLine, now time.Time) (int64, error) {
	if len(lines) == 0 {
		return 0, nil
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TEMP TABLE recon_settled (file_id bigint, line_no integer,
		payment_id uuid, tx_id uuid) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("settlement events: %w", err)
	}
	err := postgres.CopyIn(ctx, conn, `COPY recon_settled (file_id, line_no, payment_id, tx_id) FROM STDIN`,
		func(add func([]byte) error) error {
			var b []byte
			for _, l := range lines {
				b = strconv.AppendInt(b[:0], l.Pos>>32, 10)
				b = append(b, '\t')
				b = strconv.AppendInt(b, l.Pos&0xffffffff, 10)
				b = append(append(b, '\t'), l.PaymentID.String()...)
				b = append(append(b, '\t'), l.TxID.String()...)
				if err := add(b); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("settlement events: %w", err)
	}
	const q = `
		INSERT INTO payment_events (payment_id, transaction_id, source, kind, fact_key, status_before, status_after,
			applied, note, payload, created_at)
		SELECT x.payment_id, x.tx_id, 'settlement', 'settled',
			'settlement|' || l.settlement_batch_id || '|' || l.transaction_type || '|' || l.transaction_id ||
				CASE WHEN l.transaction_id = p.apo_payment_id AND l.transaction_type IN ('CAPTURE', 'REFUND')
				     THEN '|' || x.tx_id::text ELSE '' END,
			p.status, p.status, false,
			l.transaction_type || ' in settlement batch ' || l.settlement_batch_id || ' (' || f.name || ':' || l.line_no || ')',
			jsonb_strip_nulls(jsonb_build_object('batch', l.settlement_batch_id, 'file', f.name, 'line', l.line_no,
				'settlement_amount_minor', l.settlement_amount_minor, 'settlement_currency', NULLIF(l.settlement_currency, ''),
				'fee_amount_minor', l.fee_amount_minor, 'fee_currency', NULLIF(l.fee_currency, ''))),
			$2
		FROM recon_settled x
		JOIN report_lines l ON l.file_id = x.file_id AND l.line_no = x.line_no AND l.file_id = ANY($1::bigint[])
		JOIN report_files f ON f.id = x.file_id
		JOIN payments p ON p.id = x.payment_id
		ON CONFLICT (payment_id, fact_key) DO NOTHING`
	res, err := s.db.ExecContext(ctx, q, int64Array(fileIDs), now)
	if err != nil {
		return 0, fmt.Errorf("settlement events: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ApplyDiff compares the run's discrepancies with the previous run's:
// unchanged ones keep their status, note and actor; changed ones are
// reopened; those of the previous run that are gone are marked healed by
// this run.
func (s *Store) ApplyDiff(ctx context.Context, runID, prevID int64) (Diff, error) {
	d := Diff{PreviousRunID: prevID}
	if prevID != 0 {
		const carry = `
			UPDATE discrepancies d SET
				change = CASE WHEN p.content_hash = d.content_hash THEN 'SAME' ELSE 'CHANGED' END,
				status = CASE WHEN p.content_hash = d.content_hash THEN p.status ELSE 'OPEN' END,
				note = CASE WHEN p.content_hash = d.content_hash THEN p.note ELSE '' END,
				actor = CASE WHEN p.content_hash = d.content_hash THEN p.actor ELSE '' END,
				resolved_at = CASE WHEN p.content_hash = d.content_hash THEN p.resolved_at END
			FROM discrepancies p
			WHERE d.run_id = $1 AND p.run_id = $2 AND p.fingerprint = d.fingerprint`
		if _, err := s.db.ExecContext(ctx, carry, runID, prevID); err != nil {
			return Diff{}, fmt.Errorf("carry discrepancies: %w", err)
		}
		const heal = `
			UPDATE discrepancies p SET healed_by_run_id = $1
			WHERE p.run_id = $2 AND NOT EXISTS (SELECT 1 FROM discrepancies d WHERE d.run_id = $1 AND d.fingerprint = p.fingerprint)`
		res, err := s.db.ExecContext(ctx, heal, runID, prevID)
		if err != nil {
			return Diff{}, fmt.Errorf("heal discrepancies: %w", err)
		}
		d.Healed, _ = res.RowsAffected()
	}
	const count = `
		SELECT count(*) FILTER (WHERE change = 'NEW') AS new, count(*) FILTER (WHERE change = 'CHANGED') AS changed,
			count(*) FILTER (WHERE change = 'SAME') AS same
		FROM discrepancies WHERE run_id = $1`
	var c struct {
		New     int64 `db:"new"`
		Changed int64 `db:"changed"`
		Same    int64 `db:"same"`
	}
	if err := sqlx.GetContext(ctx, s.db, &c, count, runID); err != nil {
		return Diff{}, fmt.Errorf("count diff: %w", err)
	}
	d.New, d.Changed, d.Same = c.New, c.Changed, c.Same
	return d, nil
}

// Totals sums the run's discrepancies per kind and currency. The sums are
// numeric (PostgreSQL's sum of bigint), so they cannot overflow; one beyond
// the int64 range is returned at the range's bound and marked Saturated.
func (s *Store) Totals(ctx context.Context, runID int64) ([]Total, error) {
	const q = `
		SELECT kind, COALESCE(NULLIF(report_currency, ''), our_currency) AS currency, count(*) AS count,
			COALESCE(sum(report_amount_minor), 0)::text AS report_minor,
			COALESCE(sum(our_amount_minor), 0)::text AS our_minor
		FROM discrepancies WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`
	var rows []struct {
		Kind        string `db:"kind"`
		Currency    string `db:"currency"`
		Count       int64  `db:"count"`
		ReportMinor string `db:"report_minor"`
		OurMinor    string `db:"our_minor"`
	}
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, runID); err != nil {
		return nil, fmt.Errorf("totals: %w", err)
	}
	out := make([]Total, len(rows))
	for i, r := range rows {
		t := Total{Kind: Kind(r.Kind), Currency: r.Currency, Count: r.Count}
		var repSat, ourSat bool
		var err error
		if t.ReportMinor, repSat, err = saturatedInt(r.ReportMinor); err != nil {
			return nil, fmt.Errorf("totals: %w", err)
		}
		if t.OurMinor, ourSat, err = saturatedInt(r.OurMinor); err != nil {
			return nil, fmt.Errorf("totals: %w", err)
		}
		t.Saturated = repSat || ourSat
		out[i] = t
	}
	return out, nil
}

// saturatedInt reads an integer written in decimal, clamping it to the
// int64 range; saturated says it was clamped.
func saturatedInt(s string) (n int64, saturated bool, err error) {
	n, err = strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return n, true, nil // ParseInt returns the bound of the side it left
	}
	return n, false, err
}
