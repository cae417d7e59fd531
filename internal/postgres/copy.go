// COPY … FROM STDIN: streaming rows, already in COPY's text format, over the
// raw lib/pq connection of a transaction, and the text format's encoding.

package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"
)

// RawConn is a connection whose driver connection can be reached
// (*sqlx.Conn, *sql.Conn).
type RawConn interface {
	Raw(func(driverConn any) error) error
}

// copyData is the part of lib/pq's COPY statement that takes a row already
// in COPY's text format.
type copyData interface {
	CopyData(ctx context.Context, line string) (driver.Result, error)
}

// CopyIn runs stmt, a "COPY table (columns…) FROM STDIN" (the form lib/pq
// recognises), on conn, the connection of the current transaction. produce
// is called once and calls add once per row, a row being the columns in
// COPY's text format separated by tabs, without the newline (see
// AppendCopyText, AppendCopyTime and CopyNull; integers need no escaping,
// strconv.AppendInt writes them). add does not keep row, so one buffer can
// be reused for every row.
//
// Rows are handed to the driver as they are: going through database/sql's
// argument conversion costs an interface conversion per column and row,
// which at a million lines was most of the reconciliation ingest time.
// Cancellation of ctx is checked every 8192 rows.
func CopyIn(ctx context.Context, conn RawConn, stmt string, produce func(add func(row []byte) error) error) error {
	return conn.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("driver cannot prepare statements")
		}
		st, err := p.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		cd, ok := st.(copyData)
		if !ok {
			_ = st.Close()
			return errors.New("driver has no COPY support")
		}
		n := 0
		add := func(row []byte) error {
			if n++; n%8192 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			// A background context: lib/pq starts a watcher goroutine per call
			// for a cancellable one; cancellation is checked above instead.
			_, err := cd.CopyData(context.Background(), string(row))
			return err
		}
		perr := produce(add)
		// Closing ends the COPY (and reports its errors) whatever produce
		// did, so the connection stays usable for the rollback.
		cerr := st.Close()
		if perr != nil {
			return perr
		}
		return cerr
	})
}

// CopyNull is NULL in COPY's text format.
const CopyNull = `\N`

// AppendCopyText appends s escaped for COPY's text format: backslash, tab,
// newline and carriage return are written as escapes. s must hold no NUL
// byte and be valid UTF-8 (PostgreSQL text holds neither).
func AppendCopyText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

// AppendCopyTime appends t in UTC for a timestamptz column in COPY's text
// format, or CopyNull for the zero time.
func AppendCopyTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, CopyNull...)
	}
	return t.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999999Z07:00")
}
