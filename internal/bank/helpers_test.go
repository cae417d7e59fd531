package bank

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/bank/statement"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// The account of the sample files: camt.053 and the CSV export name it by
// IBAN, the MT940 file by bank code and number.
const (
	sampleIBAN   = "DE89370400440532013000"
	sampleNumber = "37040044/0532013000"
)

type testEnv struct {
	svc     *Service
	db      *sqlx.DB
	archive string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	db := pgtest.NewDB(t)
	archive := filepath.Join(t.TempDir(), "archive")
	svc := NewService(db, Config{ArchiveDir: archive}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &testEnv{svc: svc, db: db, archive: archive}
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("statement", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustAccount configures an account; iban or number may be "".
func (e *testEnv) mustAccount(t *testing.T, name, iban, number string, mapping []byte) Account {
	t.Helper()
	a, err := e.svc.CreateAccount(context.Background(), NewAccount{Name: name, IBAN: iban, Number: number,
		Currency: "EUR", SettlementCurrency: "EUR", Remitters: []string{"APO PAYMENTS EUROPE B.V."}, CSVMapping: mapping})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *testEnv) ingest(t *testing.T, name string, content []byte) (File, error) {
	t.Helper()
	return e.svc.Ingest(context.Background(), name, strings.NewReader(string(content)))
}

func (e *testEnv) mustIngest(t *testing.T, name string, content []byte) File {
	t.Helper()
	f, err := e.ingest(t, name, content)
	if err != nil {
		t.Fatalf("ingest %s: %v", name, err)
	}
	return f
}

// mustRefuse ingests a file that must be refused with sentinel (nil: bad
// lines) and returns the refusal.
func (e *testEnv) mustRefuse(t *testing.T, name string, content []byte, sentinel error) *RefusedError {
	t.Helper()
	_, err := e.ingest(t, name, content)
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("ingest %s: got %v, want a *RefusedError", name, err)
	}
	if refused.Err != sentinel {
		t.Fatalf("ingest %s: refused for %v, want %v: %v", name, refused.Err, sentinel, err)
	}
	return refused
}

// count returns the rows of a table.
func (e *testEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, "SELECT count(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// archived lists the files of the archive, hidden ones included.
func (e *testEnv) archived(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.archive, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, e.archive+"/"))
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// mtDay is one MT940 message of the sample's number account: balances and
// entries in cents (signed), for the day d ("2026-12-07").
type mtDay struct {
	seq         int
	d           string
	open, close int64
	entries     []int64
}

// mt940 writes the days as one MT940 file, the messages one after the
// other as banks deliver them over EBICS.
func mt940(days ...mtDay) []byte {
	var b strings.Builder
	for _, x := range days {
		d := date(x.d)
		yymmdd := d.Format("060102")
		fmt.Fprintf(&b, ":20:STARTUMSE\r\n:25:%s\r\n:28C:%05d/001\r\n", sampleNumber, x.seq)
		fmt.Fprintf(&b, ":60F:%s%sEUR%s\r\n", mark(x.open), d.AddDate(0, 0, -1).Format("060102"), comma(x.open))
		for i, e := range x.entries {
			fmt.Fprintf(&b, ":61:%s%s%s%sNTRFREF-%d-%d//%s-%04d\r\n", yymmdd, d.Format("0102"), mark(e), comma(e), x.seq, i, yymmdd, i)
			fmt.Fprintf(&b, ":86:/EREF/E2E-%d-%d/REMI/USTD//PAYOUT %d-%d/\r\n", x.seq, i, x.seq, i)
		}
		fmt.Fprintf(&b, ":62F:%s%sEUR%s\r\n-\r\n", mark(x.close), yymmdd, comma(x.close))
	}
	return []byte(b.String())
}

func mark(minor int64) string {
	if minor < 0 {
		return "D"
	}
	return "C"
}

func comma(minor int64) string {
	if minor < 0 {
		minor = -minor
	}
	return fmt.Sprintf("%d,%02d", minor/100, minor%100)
}

// findingsOf returns the kinds of a statement's findings.
func kinds(fs []Finding) []statement.Kind {
	out := make([]statement.Kind, len(fs))
	for i, f := range fs {
		out[i] = f.Kind
	}
	return out
}
