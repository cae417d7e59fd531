package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestCopyIn streams rows through COPY inside a transaction and reads them
// back: every character the text format escapes, NULLs, times in other
// zones, and the same buffer reused for every row.
func TestCopyIn(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE copied (n bigint, s text, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		N  *int64
		S  *string
		At *time.Time
	}
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	at := time.Date(2026, 11, 23, 10, 30, 0, 123456789, time.FixedZone("PST", -8*3600))
	at = at.Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	rows := []row{
		{num(1), str("plain"), &at},
		{num(-2), str("tab\there, new\nline, cr\r, back\\slash, \\N, unicode é ✓"), nil},
		{nil, str(""), &at},
		{num(1 << 62), nil, nil},
	}

	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.CopyIn(ctx, conn, `COPY copied (n, s, at) FROM STDIN`, func(add func([]byte) error) error {
		var b []byte
		for _, r := range rows {
			b = b[:0]
			if r.N != nil {
				b = strconv.AppendInt(b, *r.N, 10)
			} else {
				b = append(b, postgres.CopyNull...)
			}
			b = append(b, '\t')
			if r.S != nil {
				b = postgres.AppendCopyText(b, *r.S)
			} else {
				b = append(b, postgres.CopyNull...)
			}
			b = append(b, '\t')
			var zero time.Time
			if r.At != nil {
				zero = *r.At
			}
			b = postgres.AppendCopyTime(b, zero) // the zero time is NULL
			if err := add(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	var got []row
	if err := db.Select(&got, `SELECT n, s, at FROM copied ORDER BY n NULLS LAST`); err != nil {
		t.Fatal(err)
	}
	want := []row{rows[1], rows[0], rows[3], rows[2]}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !eqPtr(g.N, w.N) || !eqPtr(g.S, w.S) || (g.At == nil) != (w.At == nil) || g.At != nil && !g.At.Equal(*w.At) {
			t.Errorf("row %d: got %s, want %s", i, show(g.N, g.S, g.At), show(w.N, w.S, w.At))
		}
	}
}

// TestCopyInErrors: a failing producer or a row the server rejects ends the
// COPY with that error, and the connection still rolls back cleanly.
func TestCopyInErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE copied (n bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for name, tt := range map[string]struct {
		rows    []string
		produce error
		check   func(error) bool
	}{
		"producer fails": {rows: []string{"1"}, produce: boom, check: func(err error) bool { return errors.Is(err, boom) }},
		"bad row":        {rows: []string{"1", "x"}, check: func(err error) bool { return err != nil && !errors.Is(err, boom) }},
		"null in not null": {rows: []string{postgres.CopyNull}, check: func(err error) bool {
			return err != nil
		}},
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := db.Connx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx, err := conn.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = postgres.CopyIn(ctx, conn, `COPY copied (n) FROM STDIN`, func(add func([]byte) error) error {
				for _, r := range tt.rows {
					if err := add([]byte(r)); err != nil {
						return err
					}
				}
				return tt.produce
			})
			if !tt.check(err) {
				t.Fatalf("copy: got %v", err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatalf("rollback after a failed COPY: %v", err)
			}
			var n int
			if err := conn.GetContext(ctx, &n, `SELECT count(*) FROM copied`); err != nil || n != 0 {
				t.Fatalf("after rollback: %d rows (%v), want 0 and a usable connection", n, err)
			}
		})
	}
}

// TestCopyInCancelled stops a long COPY when its context is cancelled.
func TestCopyInCancelled(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Exec(`CREATE TABLE copied (n bigint)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := db.Connx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	sent := 0
	err = postgres.CopyIn(ctx, conn, `COPY copied (n) FROM STDIN`, func(add func([]byte) error) error {
		var b []byte
		for i := range int64(1 << 20) {
			if i == 100 {
				cancel()
			}
			if err := add(strconv.AppendInt(b[:0], i, 10)); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || sent >= 1<<20 {
		t.Fatalf("got %v after %d rows, want context.Canceled within 8192 rows", err, sent)
	}
}

func TestAppendCopyText(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"plain ✓":          "plain ✓",
		"a\tb\nc\rd\\e":    `a\tb\nc\rd\\e`,
		`\N`:               `\\N`,
		"\x01 other bytes": "\x01 other bytes",
	} {
		if got := string(postgres.AppendCopyText([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendCopyText(%q) = %q, want %q", in, got, "x"+want)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("", 3600))
	for tm, want := range map[time.Time]string{
		{}: `\N`,
		at: "2026-01-02 02:04:05.0000006Z",
	} {
		if got := string(postgres.AppendCopyTime(nil, tm)); got != want {
			t.Errorf("AppendCopyTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func eqPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func show(n *int64, s *string, at *time.Time) string {
	f := func(ok bool, v string) string {
		if !ok {
			return "NULL"
		}
		return strconv.Quote(v)
	}
	var ns, ss, ts string
	if n != nil {
		ns = strconv.FormatInt(*n, 10)
	}
	if s != nil {
		ss = *s
	}
	if at != nil {
		ts = at.String()
	}
	return "(" + f(n != nil, ns) + ", " + f(s != nil, ss) + ", " + f(at != nil, ts) + ")"
}
