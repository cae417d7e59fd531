// Package archtest checks the import rules of style.md §2.2, so a package
// that reaches across a boundary fails `make test` instead of review.
package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/payops/payops"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string // transitive
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rule forbids importers matching `from` to import anything with a prefix in `deny`.
type rule struct {
	from string // import path, or prefix ending in "/"
	deny []string
}

var rules = []rule{
	{"cmd/api", []string{"jobs", "github.com/go-co-op/gocron"}},
	{"cmd/worker", []string{"github.com/danielgtaylor/huma"}},
	{"jobs", []string{"internal/postgres", "github.com/danielgtaylor/huma", "cmd/", "github.com/lib/pq", "github.com/jmoiron/sqlx"}},
	// Notifications flow api/worker → inbox → payments | disputes: payments
	// never reaches disputes (not even through a setter: it has none),
	// and neither reaches back up to the inbox (TestInboxHasNoImporters).
	{"internal/payments", []string{"internal/recon", "internal/disputes", "internal/inbox", "internal/app", "github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	// Domain packages are given their configuration; they read neither the
	// environment's config nor each other.
	{"internal/recon", []string{"internal/disputes", "internal/inbox", "internal/journal", "internal/app", "internal/config", "github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	// Journals read reconciliation (journal → recon), never the reverse,
	// and know nothing of the ledger or disputes beyond what recon gives.
	{"internal/journal", []string{"internal/payments", "internal/disputes", "internal/inbox", "internal/app", "internal/config",
		"github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	{"internal/disputes", []string{"internal/recon", "internal/inbox", "internal/app", "internal/config", "github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	{"internal/inbox", []string{"internal/recon", "internal/app", "internal/config", "github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	// Bank statements stand beside reconciliation: they know neither APO's
	// reports nor the ledger (matching payouts will join them from above).
	{"internal/bank", []string{"internal/recon", "internal/payments", "internal/disputes", "internal/inbox", "internal/app",
		"internal/config", "github.com/danielgtaylor/huma", "cmd/", "jobs"}},
	// The wiring package builds services; it serves nothing and schedules
	// nothing.
	{"internal/app", []string{"github.com/danielgtaylor/huma", "cmd/", "jobs", "github.com/go-co-op/gocron"}},
	// The console is an edge like cmd/api: it calls domain services and
	// holds no SQL, no queue and no API framework of its own.
	{"internal/console", []string{"internal/postgres", "github.com/jmoiron/sqlx", "github.com/lib/pq", "database/sql",
		"github.com/hibiken/asynq", "github.com/danielgtaylor/huma", "internal/app", "cmd/", "jobs"}},
	{"internal/postgres", []string{"internal/payments", "internal/recon", "internal/disputes", "internal/journal", "internal/auth", "internal/audit", "internal/bank"}},
	{"migrations", []string{module, "github.com/"}},
}

func local(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func matches(path, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern || strings.HasPrefix(path, pattern+"/")
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		from := local(p.ImportPath)
		for _, imp := range p.Imports {
			to := imp
			if strings.HasPrefix(imp, module) {
				to = local(imp)
			}
			for _, r := range rules {
				if from != r.from && !strings.HasPrefix(from, r.from+"/") {
					continue
				}
				for _, d := range r.deny {
					if matches(to, d) || (d == module && strings.HasPrefix(imp, module)) {
						t.Errorf("%s imports %s (style.md §2.2 forbids %s → %s)", from, imp, r.from, d)
					}
				}
			}
		}
		// internal/apo is the provider client only: nothing of this module
		// but two leaves of the standard library, internal/carddata (the
		// card data policy, so the client redacts as everything else does)
		// and internal/timing (the request's step timer).
		leaves := map[string]bool{module + "/internal/carddata": true, module + "/internal/timing": true}
		if from == "internal/apo" || from == "internal/carddata" || from == "internal/timing" {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module) && !(from == "internal/apo" && leaves[imp]) {
					t.Errorf("%s imports %s; it may use the standard library only", from, imp)
				}
			}
		}
		// internal/browsertest (headless Chromium and chromedp) is test
		// support: _test.go files may import it, no package's code may.
		for _, imp := range p.Imports {
			if imp == module+"/internal/browsertest" {
				t.Errorf("%s imports %s; only tests may", from, imp)
			}
		}
		// lib/pq and goose belong to internal/postgres alone (tests aside).
		if from != "internal/postgres" {
			for _, imp := range p.Imports {
				if imp == "github.com/lib/pq" || strings.HasPrefix(imp, "github.com/pressly/goose") {
					t.Errorf("%s imports %s; only internal/postgres may", from, imp)
				}
			}
		}
	}
}

// TestQueueStaysInTasks: a domain package touches asynq only in tasks.go,
// so the queue stays a detail of how work is scheduled.
func TestQueueStaysInTasks(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range listPackages(t) {
		from := local(p.ImportPath)
		if from != "internal/payments" && from != "internal/recon" && from != "internal/disputes" && from != "internal/idempotency" &&
			from != "internal/inbox" {
			continue
		}
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				if strings.Contains(imp.Path.Value, "hibiken/asynq") && f != "tasks.go" {
					t.Errorf("%s/%s imports asynq; keep queue code in tasks.go", from, f)
				}
			}
		}
	}
}

// TestInboxHasNoImporters: internal/inbox is the top of the domains (it
// knows payments and disputes through interfaces it declares), so under
// internal/ only the wiring package, internal/app, may import it; the
// binaries and the jobs that enqueue its sweep are above it. Tests are not
// counted: a domain's tests may drive the production path through it.
func TestInboxHasNoImporters(t *testing.T) {
	const inbox = module + "/internal/inbox"
	for _, p := range listPackages(t) {
		from := local(p.ImportPath)
		if !strings.HasPrefix(from, "internal/") || from == "internal/app" || from == "internal/console" || matches(from, "internal/inbox") {
			continue
		}
		for _, imp := range p.Imports {
			if matches(imp, inbox) {
				t.Errorf("%s imports %s; only internal/app, internal/console and cmd/* may (inbox → payments | disputes points one way)", from, imp)
			}
		}
	}
}

// TestWorkerDoesNotLinkHuma: the worker and its jobs stay free of the HTTP
// framework even through a dependency (style.md §2.2 forbids the import; a
// package that brings Huma along would break the rule just the same).
func TestWorkerDoesNotLinkHuma(t *testing.T) {
	for _, p := range listPackages(t) {
		from := local(p.ImportPath)
		if from != "cmd/worker" && from != "jobs" {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/danielgtaylor/huma") {
				t.Errorf("%s depends on %s (through an import); the worker must not link Huma", from, d)
				break
			}
		}
	}
}

// TestCmdIsWiringOnly: the binaries wire and translate; SQL and the
// transactions that compose stores belong to the domain packages. A string
// that reads as a SQL statement, or a call that runs SQL or opens a
// transaction, in a non-test file under cmd/ fails here.
func TestCmdIsWiringOnly(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(local(p.ImportPath), "cmd/") {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range wiringViolations(fset, file) {
				t.Errorf("%s/%s: %s; move it into the domain package that owns the table", local(p.ImportPath), f, v)
			}
		}
	}
}

var (
	sqlStatement = regexp.MustCompile(`(?is)^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s.*\b(FROM|INTO|SET|AS)\b`)
	// Calls that run SQL or open a transaction (sqlx and database/sql names,
	// and postgres.InTx*); PingContext (a readiness probe) is wiring.
	sqlCalls = map[string]bool{"ExecContext": true, "QueryContext": true, "QueryxContext": true, "QueryRowContext": true,
		"QueryRowxContext": true, "GetContext": true, "SelectContext": true, "NamedExecContext": true, "BeginTxx": true,
		"BeginTx": true, "InTx": true, "InTxRelearnable": true, "Exec": true, "Query": true, "Get": true, "Select": true}
)

func wiringViolations(fset *token.FileSet, file *ast.File) []string {
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if s, err := strconv.Unquote(n.Value); err == nil && sqlStatement.MatchString(s) {
					out = append(out, fmt.Sprintf("line %d: a SQL statement", fset.Position(n.Pos()).Line))
				}
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sqlCalls[sel.Sel.Name] && sqlReceiver(sel.X) {
				out = append(out, fmt.Sprintf("line %d: %s runs SQL", fset.Position(n.Pos()).Line, sel.Sel.Name))
			}
		}
		return true
	})
	return out
}

// sqlReceiver reports whether x names a database handle, a transaction or
// the postgres package (db, tx, conn, postgres …), so that Get or Select
// on an unrelated value is not mistaken for SQL.
func sqlReceiver(x ast.Expr) bool {
	var name string
	switch x := x.(type) {
	case *ast.Ident:
		name = x.Name
	case *ast.SelectorExpr:
		name = x.Sel.Name
	default:
		return false
	}
	switch strings.ToLower(name) {
	case "db", "tx", "conn", "postgres", "sqlx", "pool":
		return true
	}
	return false
}

// The check above finds what it claims to.
func TestWiringViolationsFinds(t *testing.T) {
	src := `package main
func f() {
	_ = "SELECT id FROM payments WHERE id = $1"
	_ = "Select a file to upload"
	_, _ = db.ExecContext(ctx, q)
	_ = postgres.InTx(ctx, db, nil)
	_ = s.db.GetContext(ctx, &n, q)
	_ = form.Get("x")
	_ = db.PingContext(ctx)
}`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := wiringViolations(fset, file)
	want := []string{"line 3: a SQL statement", "line 5: ExecContext runs SQL", "line 6: InTx runs SQL", "line 7: GetContext runs SQL"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestNotificationCodeStaysWithItsOwner: payments and disputes each apply
// their own notifications for the inbox; neither calls the other's
// (disputes may read payments, never apply a payment notification).
func TestNotificationCodeStaysWithItsOwner(t *testing.T) {
	owners := map[string][]string{
		"internal/disputes": {"ApplyPaymentResult", "ApplyCaptureResult", "ApplyRefundResult"},
		"internal/payments": {"HandleDisputeNotification"},
	}
	fset := token.NewFileSet()
	for _, p := range listPackages(t) {
		forbidden, ok := owners[local(p.ImportPath)]
		if !ok {
			continue
		}
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && slices.Contains(forbidden, sel.Sel.Name) {
					t.Errorf("%s/%s:%d uses %s, the other domain's notification code; the inbox routes notifications",
						local(p.ImportPath), f, fset.Position(sel.Pos()).Line, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
