package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Keyset is a list query read newest first by (TimeColumn, id), one page at
// a time, so pages stay stable while new rows arrive: the lists of
// payments, disputes, notifications and console users. Ascending reads it
// earliest first instead (disputes by defence deadline).
type Keyset struct {
	From       string // "SELECT <columns> FROM <table>"
	TimeColumn string // created_at, received_at …, or a non-null expression of the row
	Ascending  bool
	where      []string
	args       []any
}

// Where adds a condition; each ? in cond stands for the next of args.
func (k *Keyset) Where(cond string, args ...any) {
	var b strings.Builder
	for _, part := range strings.SplitAfter(cond, "?") {
		if strings.HasSuffix(part, "?") {
			k.args = append(k.args, args[0])
			args = args[1:]
			part = strings.TrimSuffix(part, "?") + "$" + strconv.Itoa(len(k.args))
		}
		b.WriteString(part)
	}
	k.where = append(k.where, b.String())
}

// KeysetPage reads the page of k after cursor ("" is the first page) of at
// most limit rows (limit > 0), converted by conv, and the cursor of the next
// page ("" on the last); key gives an item's (time, id). A cursor that
// EncodeTimeCursor did not make is ErrBadCursor.
func KeysetPage[R, T any](ctx context.Context, db sqlx.QueryerContext, k Keyset, cursor string, limit int,
	conv func(R) T, key func(T) (time.Time, string)) ([]T, string, error) {
	after, order := "<", "DESC"
	if k.Ascending {
		after, order = ">", "ASC"
	}
	if cursor != "" {
		at, id, err := DecodeTimeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		k.Where("("+k.TimeColumn+", id) "+after+" (?, ?)", at, id)
	}
	q := k.From
	if len(k.where) > 0 {
		q += ` WHERE ` + strings.Join(k.where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY %s %s, id %s LIMIT %d`, k.TimeColumn, order, order, limit+1)
	var rows []R
	if err := sqlx.SelectContext(ctx, db, &rows, q, k.args...); err != nil {
		return nil, "", err
	}
	items := make([]T, 0, min(len(rows), limit))
	for _, r := range rows[:min(len(rows), limit)] {
		items = append(items, conv(r))
	}
	var next string
	if len(rows) > limit {
		next = EncodeTimeCursor(key(items[limit-1]))
	}
	return items, next, nil
}

// PageLimit is the page size of a list asked for n rows: 50 unless n is
// 1 to 200.
func PageLimit(n int) int {
	if n <= 0 || n > 200 {
		return 50
	}
	return n
}
