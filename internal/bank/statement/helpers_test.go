package statement

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eur(minor int64) money.Money { return money.Money{Minor: minor, Currency: "EUR"} }

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// lineErrors returns the *LineErrors in err, failing the test when err is
// something else.
func lineErrors(t *testing.T, err error) *LineErrors {
	t.Helper()
	var les *LineErrors
	if !errors.As(err, &les) {
		t.Fatalf("got error %v, want a *LineErrors", err)
	}
	return les
}

// wantLineError checks that err lists exactly one problem, at line and in
// a field containing field, whose reason contains reason.
func wantLineError(t *testing.T, err error, line int, field, reason string) {
	t.Helper()
	les := lineErrors(t, err)
	if len(les.Errs) != 1 || les.Omitted != 0 {
		t.Fatalf("got %d problems (%v), want 1", len(les.Errs)+les.Omitted, err)
	}
	le := les.Errs[0]
	if le.Line != line || !strings.Contains(le.Field, field) || !strings.Contains(le.Reason, reason) {
		t.Fatalf("got %v, want line %d, field ~%q, reason ~%q", le, line, field, reason)
	}
}

// wantFatal checks a refusal of the whole file.
func wantFatal(t *testing.T, stmts []Statement, err error, sentinel error, line int, reason string) {
	t.Helper()
	var le *LineError
	if !errors.Is(err, sentinel) || !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LineError wrapping %v", err, sentinel)
	}
	if stmts != nil {
		t.Fatalf("got %d statements with a fatal error, want none", len(stmts))
	}
	if (line >= 0 && le.Line != line) || !strings.Contains(le.Error(), reason) {
		t.Fatalf("got %v, want line %d and ~%q", le, line, reason)
	}
}
