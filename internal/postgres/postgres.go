// Package postgres is the one place that knows about lib/pq and goose:
// opening the database, migrating it, running transactions and classifying
// PostgreSQL errors for the domain stores.
package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/payops/payops/migrations"
)

// Open connects to DATABASE_URL's dsn (OneRoundTrip) and checks that the
// server answers. The pool is sized for a small service; SetPool adjusts it.
func Open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	dsn, err := OneRoundTrip(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	SetPool(db, 32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return db, nil
}

// OneRoundTrip returns dsn (a postgres:// URL or key=value settings) with
// lib/pq's binary_parameters on: a statement with parameters then goes in
// one round trip (parse, bind and execute together) instead of two (a parse
// and describe first). Pay runs about twenty such statements across the api
// and the worker; halving their waits on PostgreSQL cut its p50 by a third
// and its p99 by half on a busy 2-core host (docs/benchmarks.md). The cost:
// []byte parameters go in binary, which suits bytea; jsonb parameters go
// as JSONB, which sends text. An explicit binary_parameters is overridden.
func OneRoundTrip(dsn string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " binary_parameters=yes", nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Not err: url.Error quotes the URL, password and all.
		return "", errors.New("open postgres: DATABASE_URL is not a valid URL")
	}
	q := u.Query()
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Migrate applies every pending migration. A PostgreSQL session lock lets
// several replicas start at once: one migrates, the others wait for it.
func Migrate(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration locker: %w", err)
	}
	// Each owner numbers its migrations in its own range (migrations.go), so
	// a new payments migration (00011) lands below a recon one (00030) that
	// databases already have: it must still be applied.
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise (also on panic, which is re-raised).
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InTxRelearnable is InTx for a transaction whose every write can be learnt
// again from a durable source: its commit does not wait for the WAL flush
// (synchronous_commit off for this transaction alone). A database crash
// can lose the last fraction of a second of such commits, and nothing else:
// the next synchronous commit on the server flushes them, and whatever is
// lost is recomputed from where it came from. It takes a flush stall off
// the paths that apply APO's answers (pay's reply, notifications,
// inquiries), which are re-learnt by inquiry and redelivery.
func InTxRelearnable(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	return InTx(ctx, db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO off"); err != nil {
			return fmt.Errorf("set synchronous_commit: %w", err)
		}
		return fn(tx)
	})
}

// codeUniqueViolation is the SQLSTATE of a duplicate key, the one code the
// stores act on.
const codeUniqueViolation = "23505"

func hasCode(err error, code string) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && string(pe.Code) == code
}

// IsUniqueViolation reports a duplicate key (SQLSTATE 23505).
func IsUniqueViolation(err error) bool { return hasCode(err, codeUniqueViolation) }

// Array adapts a Go slice for use as a PostgreSQL array parameter or scan
// target, so domain stores need not import the driver.
func Array(a any) interface {
	driver.Valuer
	sql.Scanner
} {
	return pq.Array(a)
}

// SetPool sizes db's connection pool: at most n open, and all of them kept
// when idle (until ConnMaxIdleTime). Keeping fewer idle than open closes a
// connection each time a burst ends and opens a new one (a PostgreSQL
// backend start, several milliseconds and more on a busy host) in the next:
// that churn was most of pay's p99.
func SetPool(db *sqlx.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
}

// IsUUID reports whether s can be bound to a uuid column; stores check it
// first so a malformed id is "not found", not a 22P02 error.
func IsUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// UTC returns t in UTC, or nil: timestamptz columns scan in the session's zone.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// JSONB is a jsonb column's document. It goes to PostgreSQL as text: with
// binary_parameters (Open) a plain []byte parameter goes in binary, which
// jsonb takes only with a version byte before the text. Empty is SQL NULL
// (jsonb rejects empty input); a scan keeps a copy of the driver's bytes.
type JSONB []byte

// Value implements driver.Valuer.
func (j JSONB) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSONB) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = bytes.Clone(v)
	case string:
		*j = JSONB(v)
	default:
		return fmt.Errorf("scan %T into JSONB", src)
	}
	return nil
}

// Rehearsal runs a request path's statements on tx, which Warm rolls back.
type Rehearsal func(ctx context.Context, tx *sqlx.Tx) error

// Warm opens n of db's connections at once and has each plan a read and a
// write of every table in its schema (EXPLAIN: nothing runs), then run each
// rehearsal in a transaction it rolls back, so the first requests a process
// serves do not pay for new PostgreSQL backends and their cold caches.
// Without it, pay's slowest answers were its first ones, 300–500 ms of
// connection starts and first-time planning; with planning alone, its first
// second still ran at twice the backends' steady CPU (what only executing a
// statement loads: index support functions, foreign-key check plans,
// extension libraries). It stops at the first error and returns it; a cold
// pool still works, so callers log it.
func Warm(ctx context.Context, db *sqlx.DB, n int, rehearsals ...Rehearsal) error {
	conns := make([]*sqlx.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := db.Connx(ctx)
		if err != nil {
			return fmt.Errorf("warm pool: %w", err)
		}
		conns = append(conns, c)
	}
	var tables []string
	if err := conns[0].SelectContext(ctx, &tables,
		`SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`); err != nil {
		return fmt.Errorf("warm pool: %w", err)
	}
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			for _, t := range tables {
				for _, q := range []string{"EXPLAIN SELECT * FROM " + t, "EXPLAIN INSERT INTO " + t + " DEFAULT VALUES"} {
					if _, err := c.ExecContext(ctx, q); err != nil {
						errs <- fmt.Errorf("warm pool: %s: %w", q, err)
						return
					}
				}
			}
			errs <- rehearse(ctx, c, rehearsals)
		}()
	}
	var first error
	for range conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rehearse runs rehearsals on c in one transaction and rolls it back.
func rehearse(ctx context.Context, c *sqlx.Conn, rehearsals []Rehearsal) error {
	if len(rehearsals) == 0 {
		return nil
	}
	tx, err := c.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("warm pool: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, r := range rehearsals {
		if err := r(ctx, tx); err != nil {
			return fmt.Errorf("warm pool: %w", err)
		}
	}
	return nil
}
