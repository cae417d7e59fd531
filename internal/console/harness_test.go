package console

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jmoiron/sqlx"
	"github.com/pquerna/otp/totp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/browsertest"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/redistest"
	"github.com/payops/payops/internal/sandboxtest"
	"github.com/payops/payops/internal/users"
)

// env is the console over real services: a fresh PostgreSQL database,
// Redis, the APO sandbox over HTTP, and an httptest server in front, with
// the request-id middleware the api puts before it.
type env struct {
	srv      *httptest.Server
	db       *sqlx.DB
	sb       *sandboxtest.Env
	users    *users.Service
	pay      *payments.Service
	disputes *disputes.Service
	recon    *recon.Service
	bank     *bank.Service
	payouts  *payout.Service // runs check payouts only where a test sets it (payouts_test.go)
	inbox    *inbox.Service
	audit    *audit.Store
	logs     *logtest.Buffer
	runs     sync.WaitGroup

	mu    sync.Mutex
	steps map[string]int64 // TOTP secret → last step used, so no code is replayed
}

// fastArgon2 keeps logins quick under the race detector; users' own tests
// cover the real parameters.
var fastArgon2 = users.Argon2Params{Memory: 64, Time: 1, Threads: 1}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{db: pgtest.NewDB(t), logs: &logtest.Buffer{}, steps: map[string]int64{}}
	rdb := redistest.Start(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	log := logging.New(e.logs, slog.LevelDebug)
	e.sb = sandboxtest.Start(t, sandboxtest.Options{Recorder: payments.NewCallRecorder(e.db)})
	e.pay = payments.NewService(e.db, e.sb.Client, nil, log, "http://127.0.0.1:1")
	e.disputes = disputes.NewService(e.db, e.sb.Client, e.pay, nil, log)
	e.inbox = inbox.NewService(e.db, e.sb.Client, e.pay, e.disputes, nil, log)
	dir := t.TempDir()
	e.recon = recon.NewService(e.db, recon.Config{ReportsDir: filepath.Join(dir, "reports"),
		ArchiveDir: filepath.Join(dir, "archive"), ExportDir: filepath.Join(dir, "exports"),
		TmpDir: filepath.Join(dir, "tmp")}, log)
	if _, err := e.recon.UseTempDir("console-test"); err != nil {
		t.Fatal(err)
	}
	e.bank = bank.NewService(e.db, bank.Config{ArchiveDir: filepath.Join(dir, "bank")}, log)
	e.payouts = payout.NewService(e.db, payout.Config{Default: recon.Calendar{Days: 1}}, e.recon)
	e.users = users.New(e.db, rdb, log, users.Config{Argon2: fastArgon2})
	e.audit = audit.NewStore(e.db)
	c, err := New(Deps{
		Log: log, Users: e.users, Payments: e.pay, Disputes: e.disputes, Recon: e.recon, Inbox: e.inbox,
		Audit: e.audit, Keys: auth.NewKeys(e.db), KeyList: auth.NewStore(e.db), Idempotency: idempotency.NewStore(e.db),
		Payouts: e.payouts, Bank: e.bank,
		EnqueueRun: func(_ context.Context, id int64) error {
			e.runs.Add(1)
			go func() {
				defer e.runs.Done()
				_, _ = e.recon.ExecuteRun(context.Background(), id)
			}()
			return nil
		},
		UploadDir: e.recon.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", c)
	e.srv = httptest.NewServer(httpx.RequestID(mux))
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.runs.Wait) // runs first: no run outlives the database
	return e
}

// person is a console user the test made, with its credentials.
type person struct {
	Email, Password, Secret string
	Role                    auth.Role
}

// user creates a console user of role.
func (e *env) user(t *testing.T, email string, role auth.Role) person {
	t.Helper()
	c, err := e.users.Create(context.Background(), users.Actor{Name: "test", Role: auth.RoleAdmin}, email, role)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	p := person{Email: email, Password: c.Password.Reveal(), Role: role}
	if c.Enrolment != nil {
		p.Secret = c.Enrolment.Secret.Reveal()
	}
	return p
}

// code is a TOTP code for p's secret that has not been used yet: the
// current step's, or a later one (users accepts one step ahead); past that
// it waits for the clock.
func (e *env) code(t *testing.T, p person) string {
	t.Helper()
	if p.Secret == "" {
		return ""
	}
	for {
		e.mu.Lock()
		now := time.Now()
		step := now.Unix() / 30
		last, used := e.steps[p.Secret]
		if !used || last < step {
			e.steps[p.Secret] = step
			e.mu.Unlock()
			return mustCode(t, p.Secret, now)
		}
		if last == step {
			e.steps[p.Secret] = step + 1
			e.mu.Unlock()
			return mustCode(t, p.Secret, now.Add(30*time.Second))
		}
		e.mu.Unlock()
		time.Sleep(time.Second)
	}
}

func mustCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a browser-less HTTP client with its own cookie jar that does
// not follow redirects, so tests see each answer.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs p in on c and fails the test unless it is sent on.
func (e *env) login(t *testing.T, c *http.Client, p person) {
	t.Helper()
	resp, body := e.post(t, c, "/console/login", url.Values{"email": {p.Email}, "password": {p.Password}, "code": {e.code(t, p)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: status %d\n%s", p.Email, resp.StatusCode, body)
	}
}

// get fetches path with c.
func (e *env) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, c, req)
}

// post sends form to path with c, as a same-origin browser form would.
func (e *env) post(t *testing.T, c *http.Client, path string, form url.Values, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	return e.do(t, c, req)
}

func (e *env) do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// ---- the browser ----

// browser is headless Chromium on a fresh profile, in a 1280×800 window
// (the size issue 17 asks pages to be readable at).
func (e *env) browser(t *testing.T) context.Context {
	t.Helper()
	ctx, _ := browsertest.New(t, 5*time.Minute, chromedp.WindowSize(1280, 800))
	return ctx
}

// browserLogin signs p in through the login form, landing on settings.
func (e *env) browserLogin(t *testing.T, ctx context.Context, p person) {
	t.Helper()
	run(t, ctx, "login as "+p.Email,
		chromedp.Navigate(e.srv.URL+"/console/login?next=%2Fconsole%2Fsettings"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), p.Email),
		chromedp.SendKeys(chromedp.ID("password"), p.Password),
		chromedp.SendKeys(chromedp.ID("code"), e.code(t, p)),
		chromedp.Submit(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("header.top")),
	)
}

// run runs steps in the browser and fails the test with what.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// read runs one action that answers a value (text, an evaluation) and
// fails the test with what.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as <Test>-<name>.png under the test's
// artifact directory (kept under .run/test-output/_artifacts by make test,
// which passes -artifacts).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := read(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	file := strings.ReplaceAll(t.Name(), "/", "_") + "-" + name + ".png"
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), file), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

//go:embed testdata/axe-core-4.14.1/axe.min.js
var axeSource string

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core (an embedded copy, injected through the
// DevTools protocol, which the page's CSP does not govern) on the page as
// it stands and fails the test on any serious or critical violation.
func checkAccessibility(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	read(t, ctx, "load axe on "+page, chromedp.Evaluate[bool](axeSource+";true"))
	raw := read(t, ctx, "axe on "+page, chromedp.Evaluate[string](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("axe result %q: %v", raw, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: accessibility: %s (%s): %s at %v", page, v.ID, v.Impact, v.Help, targets(v))
		}
	}
}

func targets(v axeViolation) string {
	var out []string
	for _, n := range v.Nodes {
		out = append(out, fmt.Sprint(n.Target...))
	}
	return strings.Join(out, "; ")
}
