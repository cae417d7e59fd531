package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestKeysetPage walks a filtered list page by page: newest first (and
// earliest first when Ascending), ties on the time broken by id, no row
// twice or missed, the filters' placeholders numbered after each other,
// and a forged cursor refused.
func TestKeysetPage(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE listed (id uuid PRIMARY KEY, created_at timestamptz NOT NULL, kind text NOT NULL, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// 8 rows of kind a with n >= 1 (four share one time), plus rows the
	// filters leave out.
	if _, err := db.Exec(`
		INSERT INTO listed
		SELECT md5('r' || g)::uuid, timestamptz '2026-12-01' + (least(g, 5) || ' minutes')::interval,
			CASE WHEN g % 4 = 0 THEN 'b' ELSE 'a' END, g
		FROM generate_series(0, 10) AS g`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID        string    `db:"id"`
		CreatedAt time.Time `db:"created_at"`
		Kind      string    `db:"kind"`
		N         int       `db:"n"`
	}
	same := func(r row) row { return r }
	key := func(r row) (time.Time, string) { return r.CreatedAt, r.ID }
	query := func() postgres.Keyset {
		k := postgres.Keyset{From: `SELECT id, created_at, kind, n FROM listed`, TimeColumn: "created_at"}
		k.Where("kind = ? AND n >= ?", "a", 1)
		k.Where("n <> ?", 99)
		return k
	}
	var want []row
	if err := db.Select(&want, `SELECT id, created_at, kind, n FROM listed WHERE kind = 'a' AND n >= 1
		ORDER BY created_at DESC, id DESC`); err != nil {
		t.Fatal(err)
	}
	if len(want) != 8 {
		t.Fatalf("fixture: %d rows, want 8", len(want))
	}
	var got []row
	cursor, pages := "", 0
	for {
		items, next, err := postgres.KeysetPage(ctx, db, query(), cursor, 3, same, key)
		if err != nil {
			t.Fatal(err)
		}
		got, pages = append(got, items...), pages+1
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d rows; want 3 pages, %d rows", pages, len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("row %d: %s, want %s (order newest first, ties by id)", i, got[i].ID, want[i].ID)
		}
	}

	// Ascending: the same rows earliest first, ties by id, page by page.
	var asc []row
	cursor = ""
	for {
		k := query()
		k.Ascending = true
		items, next, err := postgres.KeysetPage(ctx, db, k, cursor, 3, same, key)
		if err != nil {
			t.Fatal(err)
		}
		asc = append(asc, items...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(asc) != len(want) {
		t.Fatalf("ascending: %d rows, want %d", len(asc), len(want))
	}
	for i := range want {
		if asc[i].ID != want[len(want)-1-i].ID {
			t.Fatalf("ascending row %d: %s, want %s (earliest first, ties by id)", i, asc[i].ID, want[len(want)-1-i].ID)
		}
	}
	if _, _, err := postgres.KeysetPage(ctx, db, query(), "not-a-cursor", 3, same, key); !errors.Is(err, postgres.ErrBadCursor) {
		t.Fatalf("forged cursor: %v, want ErrBadCursor", err)
	}
	for n, want := range map[int]int{0: 50, -1: 50, 1: 1, 200: 200, 201: 50} {
		if got := postgres.PageLimit(n); got != want {
			t.Errorf("PageLimit(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestKeysetPageSortedWithTies pages a list sorted by each kind of key, both
// ways, 10 rows a page, where the 25 rows hold only 3 distinct values of
// each key: the pages put together are the whole list in (key, id) order,
// each row once, for UUID and serial ids and by a serial id alone.
func TestKeysetPageSortedWithTies(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE sorted (id uuid PRIMARY KEY, serial bigint NOT NULL UNIQUE,
		at timestamptz NOT NULL, amount bigint NOT NULL, kind text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`
		INSERT INTO sorted
		SELECT md5('s' || g)::uuid, 1000 - g, timestamptz '2026-12-01' + (g % 3 || ' hours')::interval,
			(g * 7 % 3) * 500 - 500, (ARRAY['b|x', 'a', 'c'])[g % 3 + 1]
		FROM generate_series(1, 25) AS g`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID     string    `db:"id"`
		Serial int64     `db:"serial"`
		At     time.Time `db:"at"`
		Amount int64     `db:"amount"`
		Kind   string    `db:"kind"`
	}
	orders := []struct {
		o   postgres.Order
		key func(row) (any, any)
	}{
		{postgres.Order{Key: "at", Type: postgres.KeyTime}, func(r row) (any, any) { return r.At, r.ID }},
		{postgres.Order{Key: "amount", Type: postgres.KeyInt}, func(r row) (any, any) { return r.Amount, r.ID }},
		{postgres.Order{Key: "kind", Type: postgres.KeyText}, func(r row) (any, any) { return r.Kind, r.ID }},
		{postgres.Order{Key: "kind", Type: postgres.KeyText, ID: "serial", IntID: true},
			func(r row) (any, any) { return r.Kind, r.Serial }},
		{postgres.Order{ID: "serial", IntID: true}, func(r row) (any, any) { return nil, r.Serial }},
	}
	for _, c := range orders {
		for _, desc := range []bool{false, true} {
			o := c.o
			o.Desc = desc
			var want []row
			if err := db.Select(&want, `SELECT id, serial, at, amount, kind FROM sorted ORDER BY `+o.By()); err != nil {
				t.Fatal(err)
			}
			var got []row
			cursor, pages := "", 0
			for {
				k := postgres.Keyset{From: `SELECT id, serial, at, amount, kind FROM sorted`, Order: &o}
				k.Where("amount <> ?", 12345) // a filter's placeholder numbered before the cursor's
				items, next, err := postgres.KeysetPageBy(ctx, db, k, cursor, 10, func(r row) row { return r }, c.key)
				if err != nil {
					t.Fatalf("%s: %v", o.By(), err)
				}
				got, pages = append(got, items...), pages+1
				if next == "" {
					break
				}
				if pages > 3 {
					t.Fatalf("%s: the pager does not end", o.By())
				}
				cursor = next
			}
			if pages != 3 || len(got) != 25 {
				t.Fatalf("%s: %d pages, %d rows; want 3 pages, 25 rows", o.By(), pages, len(got))
			}
			for i := range want {
				if got[i].ID != want[i].ID {
					t.Fatalf("%s: row %d is %+v, want %+v", o.By(), i, got[i], want[i])
				}
			}
		}
	}
}
