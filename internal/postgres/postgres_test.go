package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/migrations"
)

// TestMigrationsDownUp proves every Down block works and Up is repeatable.
func TestMigrationsDownUp(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("after down: %d tables left, want 0", n)
	}
	if err := postgres.Migrate(ctx, db.DB); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if err := postgres.Migrate(ctx, db.DB); err != nil {
		t.Fatalf("up is not idempotent: %v", err)
	}
}

// TestMigrateAppliesLowerNumberedNewcomer: a database that has every
// migration but a newer one numbered inside an earlier owner's range (as
// 00011 arrived after 00030) gets it on the next start instead of refusing
// to start.
func TestMigrateAppliesLowerNumberedNewcomer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`DROP INDEX idempotency_keys_created_idx; DELETE FROM goose_db_version WHERE version_id = 11`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db.DB); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_indexes WHERE indexname = 'idempotency_keys_created_idx'`); err != nil || n != 1 {
		t.Fatalf("index after migrate: %d %v", n, err)
	}
}

// TestConcurrentMigrate: replicas starting together must not trip over each other.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- postgres.Migrate(ctx, db.DB) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

func TestInTxAndErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent(id))`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		if _, err := tx.Exec(`INSERT INTO parent VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM parent`); err != nil || n != 0 {
		t.Fatalf("rolled back tx left %d rows (err %v)", n, err)
	}
	if err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO parent VALUES (1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO parent VALUES (1)`)
	if !postgres.IsUniqueViolation(err) {
		t.Fatalf("duplicate: got %v", err)
	}
	_, err = db.Exec(`INSERT INTO child VALUES (1, 99)`)
	if err == nil || postgres.IsUniqueViolation(err) || postgres.IsUniqueViolation(nil) {
		t.Fatalf("a foreign key violation or no error is not a duplicate: got %v", err)
	}
}

func TestInTxPanicRollsBack(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Exec(`CREATE TABLE p (id int)`); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = postgres.InTx(context.Background(), db, func(tx *sqlx.Tx) error {
			if _, err := tx.Exec(`INSERT INTO p VALUES (1)`); err != nil {
				return err
			}
			panic("handler bug")
		})
	}()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM p`); err != nil || n != 0 {
		t.Fatalf("panic left %d rows (err %v)", n, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err == nil {
		t.Fatal("open of a closed port succeeded")
	}
}

// TestWarmKeepsWarmConnections: Warm leaves n connections open and idle,
// each of which has planned against every table (so a request that follows
// finds one ready), and SetPool keeps every idle connection it opened.
func TestWarmKeepsWarmConnections(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	postgres.SetPool(db, 4)
	if err := postgres.Warm(context.Background(), db, 4); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.OpenConnections != 4 || st.Idle != 4 {
		t.Fatalf("after Warm: %d open, %d idle; want 4 and 4", st.OpenConnections, st.Idle)
	}
	var tables int
	if err := db.Get(&tables, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`); err != nil || tables == 0 {
		t.Fatalf("%d tables, %v", tables, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := postgres.Warm(ctx, db, 2); err == nil {
		t.Fatal("Warm with a cancelled context succeeded")
	}
}

// TestWarmRehearsesOnEveryConnection: each warmed connection runs every
// rehearsal once, in a transaction Warm rolls back, and a rehearsal's
// error is Warm's.
func TestWarmRehearsesOnEveryConnection(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	postgres.SetPool(db, 3)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE rehearsed (pid int)`); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		pids = map[int]int{}
	)
	write := func(ctx context.Context, tx *sqlx.Tx) error {
		var pid int
		if err := tx.GetContext(ctx, &pid, `INSERT INTO rehearsed SELECT pg_backend_pid() RETURNING pid`); err != nil {
			return err
		}
		mu.Lock()
		pids[pid]++
		mu.Unlock()
		return nil
	}
	if err := postgres.Warm(ctx, db, 3, write); err != nil {
		t.Fatal(err)
	}
	if len(pids) != 3 {
		t.Fatalf("rehearsed on backends %v; want 3 backends once each", pids)
	}
	for pid, n := range pids {
		if n != 1 {
			t.Fatalf("backend %d rehearsed %d times", pid, n)
		}
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM rehearsed`); err != nil || left != 0 {
		t.Fatalf("%d rehearsal rows kept (%v)", left, err)
	}
	boom := errors.New("boom")
	if err := postgres.Warm(ctx, db, 3, func(context.Context, *sqlx.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Warm with a failing rehearsal: %v", err)
	}
}

// TestOneRoundTrip: binary_parameters is set on either form of DSN,
// overriding an explicit setting and keeping the rest; a URL that does not
// parse is refused without quoting its password; and a jsonb document goes
// through as JSONB (text), where a []byte in binary would be refused.
func TestOneRoundTrip(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/db?sslmode=disable":                          "postgres://u:p@h:5432/db?binary_parameters=yes&sslmode=disable",
		"postgresql://h/db?binary_parameters=no":                            "postgresql://h/db?binary_parameters=yes",
		"host=127.0.0.1 dbname=payops sslmode=disable":                      "host=127.0.0.1 dbname=payops sslmode=disable binary_parameters=yes",
		"host=127.0.0.1 dbname=payops binary_parameters=no sslmode=disable": "host=127.0.0.1 dbname=payops binary_parameters=no sslmode=disable binary_parameters=yes",
	} {
		got, err := postgres.OneRoundTrip(in)
		if err != nil || got != want {
			t.Errorf("OneRoundTrip(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := postgres.OneRoundTrip("postgres://u:s3cret@h:bad port/db"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a bad URL: %v", err)
	}

	db := pgtest.NewDB(t)
	ctx := context.Background()
	var got string
	if err := db.GetContext(ctx, &got, `SELECT ($1::jsonb)->>'a'`, postgres.JSONB(`{"a":"b"}`)); err != nil || got != "b" {
		t.Fatalf("JSONB parameter: %q, %v", got, err)
	}
	var null bool
	if err := db.GetContext(ctx, &null, `SELECT $1::jsonb IS NULL`, postgres.JSONB(nil)); err != nil || !null {
		t.Fatalf("empty JSONB is not NULL: %v, %v", null, err)
	}
	if _, err := db.ExecContext(ctx, `SELECT $1::jsonb`, []byte(`{"a":"b"}`)); err == nil {
		t.Fatal("a []byte jsonb parameter went through: the tests do not run with binary_parameters")
	}
	var back postgres.JSONB
	if err := db.GetContext(ctx, &back, `SELECT '{"a": 1}'::jsonb`); err != nil || string(back) != `{"a": 1}` {
		t.Fatalf("scan JSONB: %q, %v", back, err)
	}
}

// TestInTxRelearnable: inside, the commit does not wait for the flush; the
// setting ends with the transaction, so the connection's next transaction
// is synchronous again; and the transaction still commits or rolls back.
func TestInTxRelearnable(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	postgres.SetPool(db, 1) // one connection: the next transaction reuses it
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE relearnable (n int)`); err != nil {
		t.Fatal(err)
	}
	err := postgres.InTxRelearnable(ctx, db, func(tx *sqlx.Tx) error {
		var s string
		if err := tx.Get(&s, `SHOW synchronous_commit`); err != nil || s != "off" {
			t.Errorf("inside: synchronous_commit %q, %v", s, err)
		}
		_, err := tx.Exec(`INSERT INTO relearnable VALUES (1)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := postgres.InTxRelearnable(ctx, db, func(tx *sqlx.Tx) error {
		_, _ = tx.Exec(`INSERT INTO relearnable VALUES (2)`)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rollback returned %v", err)
	}
	var s string
	var n int
	if err := db.Get(&s, `SHOW synchronous_commit`); err != nil || s != "on" {
		t.Errorf("after: synchronous_commit %q, %v", s, err)
	}
	if err := db.Get(&n, `SELECT sum(n) FROM relearnable`); err != nil || n != 1 {
		t.Errorf("rows sum to %d (%v); want the first transaction's only", n, err)
	}
}
