// Package pgtest gives each test its own freshly migrated PostgreSQL
// database, cloned from a template that is migrated once per set of
// migration files. The server comes from DATABASE_URL (as `make test` sets
// it); a test fails, never skips, when no server answers.
package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/migrations"
)

// DefaultURL is used when DATABASE_URL is unset (design.md §3).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/payops?sslmode=disable"

// NewDB returns a connection to a new migrated database that is dropped
// when the test passes (and kept, with its URL logged, when it fails).
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	c := Config(t)
	// As postgres.Open connects (OneRoundTrip), so that tests send
	// parameters as the binaries do. Only here: NewURL's URL also goes to
	// libpq tools (pg_dump, psql), which refuse lib/pq's own settings.
	c.Options += "&binary_parameters=yes"
	return sqlx.NewDb(pgtestdb.New(t, c, migrator{}), "postgres")
}

// NewURL is NewDB for code that opens its own connections (a subprocess,
// postgres.Open): it returns the new database's URL.
func NewURL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, Config(t), migrator{}).URL()
}

// Config derives pgtestdb's admin connection from DATABASE_URL.
func Config(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv("DATABASE_URL")
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL does not parse: %v", err)
	}
	pw, _ := u.User.Password()
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return pgtestdb.Config{
		DriverName: "postgres",
		Host:       u.Hostname(),
		Port:       port,
		User:       u.User.Username(),
		Password:   pw,
		Database:   "postgres",
		Options:    strings.TrimPrefix(q.Encode(), "?"),
	}
}

// migrator runs the production migrations once per distinct set of files.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := common.NewRecursiveHash()
	if err := h.AddDirs(migrations.FS, "*.sql", "."); err != nil {
		return "", err
	}
	return h.String(), nil
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return postgres.Migrate(ctx, db)
}
