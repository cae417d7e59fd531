package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Keyset is a list query read one page at a time in a fixed order, so
// pages stay stable while new rows arrive: the lists of payments,
// disputes, notifications and console users. Most read newest first by
// (TimeColumn, id); Ascending reads earliest first instead (disputes by
// defence deadline). A list its user sorts sets Order instead.
type Keyset struct {
	From       string // "SELECT <columns> FROM <table>"
	TimeColumn string // created_at, received_at …, or a non-null expression of the row
	Ascending  bool
	Order      *Order // when set, the order instead of TimeColumn and Ascending
	where      []string
	args       []any
}

// Where adds a condition; each ? in cond stands for the next of args.
func (k *Keyset) Where(cond string, args ...any) {
	var b strings.Builder
	for _, part := range strings.SplitAfter(cond, "?") {
		if strings.HasSuffix(part, "?") {
			part = strings.TrimSuffix(part, "?") + k.arg(args[0])
			args = args[1:]
		}
		b.WriteString(part)
	}
	k.where = append(k.where, b.String())
}

// arg adds v to the query's arguments and returns its placeholder.
func (k *Keyset) arg(v any) string {
	k.args = append(k.args, v)
	return "$" + strconv.Itoa(len(k.args))
}

func (k Keyset) order() Order {
	if k.Order != nil {
		return *k.Order
	}
	return Order{Key: k.TimeColumn, Type: KeyTime, Desc: !k.Ascending}
}

// KeysetPage reads the page of k after cursor ("" is the first page) of at
// most limit rows (limit > 0), converted by conv, and the cursor of the next
// page ("" on the last); key gives an item's (time, id). A cursor that k's
// order did not make is ErrBadCursor.
func KeysetPage[R, T any](ctx context.Context, db sqlx.QueryerContext, k Keyset, cursor string, limit int,
	conv func(R) T, key func(T) (time.Time, string)) ([]T, string, error) {
	return KeysetPageBy(ctx, db, k, cursor, limit, conv, func(item T) (any, any) {
		at, id := key(item)
		return at, id
	})
}

// KeysetPageBy is KeysetPage for any Order: key gives an item's sort key
// and id, of the types Order.Cursor takes. A cursor the order did not make
// is ErrBadCursor.
func KeysetPageBy[R, T any](ctx context.Context, db sqlx.QueryerContext, k Keyset, cursor string, limit int,
	conv func(R) T, key func(T) (any, any)) ([]T, string, error) {
	o := k.order()
	if cursor != "" {
		cond, err := o.After(cursor, k.arg)
		if err != nil {
			return nil, "", err
		}
		k.where = append(k.where, cond)
	}
	q := k.From
	if len(k.where) > 0 {
		q += ` WHERE ` + strings.Join(k.where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY %s LIMIT %d`, o.By(), limit+1)
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
		next = o.Cursor(key(items[limit-1]))
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
