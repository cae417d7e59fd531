package users

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/redistest"
)

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fastArgon2 keeps the race-detected tests quick; TestUserPasswordHash
// covers DefaultArgon2.
var fastArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1}

type fixture struct {
	svc   *Service
	db    *sqlx.DB
	clock *clock
	logs  *logtest.Buffer
	ctx   context.Context
}

// admin is the actor of the fixtures' administrative changes.
var admin = Actor{Name: "cli", Role: auth.RoleAdmin}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	t.Parallel()
	db := pgtest.NewDB(t)
	rdb := redistest.Start(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	// A plain JSON handler, not logging.New's redacting one: the tests
	// prove this package never hands a secret to its logger at all.
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A step boundary plus 10 s, so ±1-step checks are unambiguous.
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)}
	cfg.Now = c.Now
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = fastArgon2
	}
	return &fixture{svc: New(db, rdb, log, cfg), db: db, clock: c, logs: logs, ctx: context.Background()}
}

// create makes a user or fails the test.
func (f *fixture) create(t *testing.T, email string, role auth.Role) Created {
	t.Helper()
	c, err := f.svc.Create(f.ctx, admin, email, role)
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return c
}

// code is the TOTP code of secret at the clock's time plus offset steps.
func (f *fixture) code(t *testing.T, secret Secret, offset int64) string {
	t.Helper()
	c, err := hotp.GenerateCodeCustom(secret.Reveal(), uint64(totpStep(f.clock.Now())+offset),
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) login(email string, password Secret, code string) (Session, Token, error) {
	return f.svc.Login(f.ctx, LoginRequest{Email: email, Password: password, Code: code,
		RemoteAddr: "192.0.2.10:51000", UserAgent: "test"})
}

// mustLogin logs c's user in with a fresh code (moving the clock one step
// on, so no code is a replay) or fails the test.
func (f *fixture) mustLogin(t *testing.T, c Created) Token {
	t.Helper()
	var code string
	if c.Enrolment != nil {
		f.clock.Advance(totpPeriod * time.Second)
		code = f.code(t, c.Enrolment.Secret, 0)
	}
	_, tok, err := f.login(c.User.Email, c.Password, code)
	if err != nil {
		t.Fatalf("login %s: %v", c.User.Email, err)
	}
	return tok
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// mustContainNone fails when text holds any of secrets.
func mustContainNone(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%d characters)", what, len(s))
		}
	}
}

// audited lists the actions of the audit rows on target ("" for all),
// newest first.
func (f *fixture) audited(t *testing.T, target string) []string {
	t.Helper()
	entries, _, err := audit.NewStore(f.db).List(f.ctx, audit.Filter{Target: target, Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Action
	}
	return out
}
