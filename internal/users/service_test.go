package users

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
)

// An operator logs in with password and TOTP; the first valid code confirms
// the enrolment Create issued, and the token authenticates.
func TestUserLoginWithPasswordAndTOTP(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "Ops.Agent@example.com", auth.RoleOperator)
	if c.Enrolment == nil || len(c.Password.Reveal()) < MinPasswordLen {
		t.Fatalf("created %+v: want a password and an enrolment", c)
	}
	u, err := url.Parse(c.Enrolment.URL.Reveal())
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("issuer") != "payops" ||
		u.Query().Get("secret") != c.Enrolment.Secret.Reveal() || !strings.Contains(u.Path, "Ops.Agent@example.com") {
		t.Fatalf("otpauth URL %q (%v)", c.Enrolment.URL.Reveal(), err)
	}
	if !c.User.TOTPPending || c.User.HasTOTP() {
		t.Fatalf("new operator: pending %v confirmed %v, want pending", c.User.TOTPPending, c.User.HasTOTP())
	}

	// A role that needs TOTP cannot log in on its password alone, before
	// or after the enrolment is confirmed.
	_, _, err = f.login(c.User.Email, c.Password, "")
	wantErr(t, "password only, enrolment pending", err, ErrUnauthenticated)

	sess, tok, err := f.login("ops.agent@EXAMPLE.com", c.Password, f.code(t, c.Enrolment.Secret, 0))
	if err != nil {
		t.Fatalf("login with password and code: %v", err)
	}
	if len(tok.Reveal()) != tokenLen || sess.UserID != c.User.ID || sess.RemoteAddr != "192.0.2.10:51000" ||
		!sess.ExpiresAt.Equal(f.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("session %+v, token of %d characters", sess, len(tok.Reveal()))
	}
	user, got, err := f.svc.Authenticate(f.ctx, tok)
	if err != nil || got.ID != sess.ID || user.ID != c.User.ID || user.Role != auth.RoleOperator || !user.HasTOTP() {
		t.Fatalf("authenticate: %+v %+v %v", user, got, err)
	}
	f.clock.Advance(totpPeriod * time.Second)
	_, _, err = f.login(c.User.Email, c.Password, "")
	wantErr(t, "password only, enrolled", err, ErrUnauthenticated)
}

// Unknown email, wrong password, wrong code, missing code and a disabled
// user all fail with the very same error, so a caller cannot tell which.
func TestUserLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t, Config{LockAfter: 100})
	c := f.create(t, "finance@example.com", auth.RoleFinance)
	d := f.create(t, "gone@example.com", auth.RoleViewer)
	if _, err := f.svc.Disable(f.ctx, admin, d.User.ID); err != nil {
		t.Fatal(err)
	}
	good := f.code(t, c.Enrolment.Secret, 0)
	wrong := "000000"
	if wrong == good {
		wrong = "111111"
	}
	cases := map[string]LoginRequest{
		"unknown email":  {Email: "nobody@example.com", Password: c.Password, Code: good},
		"wrong password": {Email: c.User.Email, Password: "not the password at all", Code: good},
		"wrong code":     {Email: c.User.Email, Password: c.Password, Code: wrong},
		"missing code":   {Email: c.User.Email, Password: c.Password},
		"disabled":       {Email: d.User.Email, Password: d.Password},
		"garbage email":  {Email: "\x00\xff" + strings.Repeat("x", 1000), Password: c.Password},
	}
	for name, req := range cases {
		req.RemoteAddr = "192.0.2.1"
		_, tok, err := f.svc.Login(f.ctx, req)
		if !errors.Is(err, ErrUnauthenticated) || err.Error() != ErrUnauthenticated.Error() || tok != "" {
			t.Errorf("%s: got %q, token %d chars; want exactly %q", name, err, len(tok), ErrUnauthenticated)
		}
	}
}

// A code accepted once is refused after, even within its 90-second window,
// and so is any earlier code; the next step's code works.
func TestUserReplayedCodeRefused(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "admin@example.com", auth.RoleAdmin)
	code := f.code(t, c.Enrolment.Secret, 0)
	if _, _, err := f.login(c.User.Email, c.Password, code); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.login(c.User.Email, c.Password, code)
	wantErr(t, "same code again", err, ErrUnauthenticated)
	_, _, err = f.login(c.User.Email, c.Password, f.code(t, c.Enrolment.Secret, -1))
	wantErr(t, "previous step's code", err, ErrUnauthenticated)
	f.clock.Advance(20 * time.Second) // still inside the first code's skew window
	_, _, err = f.login(c.User.Email, c.Password, code)
	wantErr(t, "same code 20 s later", err, ErrUnauthenticated)
	// The next step's code is new: one step of clock drift is accepted.
	if _, _, err := f.login(c.User.Email, c.Password, f.code(t, c.Enrolment.Secret, 0)); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	// Two steps ahead is outside the skew.
	_, _, err = f.login(c.User.Email, c.Password, f.code(t, c.Enrolment.Secret, 2))
	wantErr(t, "code two steps ahead", err, ErrUnauthenticated)
}

// Five failures in a row lock the account for a minute, each further one
// doubles it; the lock is in the row, and a good login clears it.
func TestUserLockout(t *testing.T) {
	f := newFixture(t, Config{AddressBurst: 1000})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	for i := range 5 {
		_, _, err := f.login(c.User.Email, "wrong password!!", "")
		wantErr(t, "failure "+string(rune('1'+i)), err, ErrUnauthenticated)
	}
	_, _, err := f.login(c.User.Email, c.Password, "")
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) || locked.RetryAfter != time.Minute {
		t.Fatalf("right password while locked: %v, want locked for 1m", err)
	}
	u, _ := f.svc.Get(f.ctx, c.User.ID)
	if u.FailedLogins != 5 || !u.LockedUntil.Equal(f.clock.Now().Add(time.Minute)) {
		t.Fatalf("stored: %d failures, locked until %v", u.FailedLogins, u.LockedUntil)
	}
	f.clock.Advance(time.Minute)
	_, _, err = f.login(c.User.Email, "wrong password!!", "")
	wantErr(t, "sixth failure", err, ErrUnauthenticated)
	_, _, err = f.login(c.User.Email, c.Password, "")
	if !errors.As(err, &locked) || locked.RetryAfter != 2*time.Minute {
		t.Fatalf("after the sixth failure: %v, want locked for 2m", err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, _, err := f.login(c.User.Email, c.Password, ""); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if u, _ := f.svc.Get(f.ctx, c.User.ID); u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		t.Fatalf("a good login left %d failures, lock %v", u.FailedLogins, u.LockedUntil)
	}
	if f.logs.Count("console user locked") != 2 {
		t.Errorf("lock log lines: %d, want 2\n%s", f.logs.Count("console user locked"), f.logs.String())
	}
}

// An address that failed AddressBurst times is refused before any
// password is checked, even with the right one; other addresses are not.
func TestUserAddressThrottle(t *testing.T) {
	f := newFixture(t, Config{AddressBurst: 3, AddressRefill: time.Hour})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	try := func(addr string, pw Secret) error {
		_, _, err := f.svc.Login(f.ctx, LoginRequest{Email: c.User.Email, Password: pw, RemoteAddr: addr})
		return err
	}
	for i := range 3 {
		// Unknown emails count as much as wrong passwords.
		_, _, err := f.svc.Login(f.ctx, LoginRequest{Email: "spray" + string(rune('a'+i)) + "@example.com",
			Password: "guess guess guess", RemoteAddr: "198.51.100.7:4000"})
		wantErr(t, "spray", err, ErrUnauthenticated)
	}
	wantErr(t, "right password from the throttled address", try("198.51.100.7:4001", c.Password), ErrThrottled)
	if err := try("203.0.113.9:4000", c.Password); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// An IPv6 subscriber is one /64, whatever host it picks.
	for i := range 3 {
		_ = try("[2001:db8:1:2::"+string(rune('a'+i))+"]:443", "guess guess guess")
	}
	wantErr(t, "another host of the same /64", try("[2001:db8:1:2:ffff::1]:443", c.Password), ErrThrottled)
	if f.logs.Count("console login throttled") != 2 {
		t.Errorf("throttle log lines: %d, want 2", f.logs.Count("console login throttled"))
	}
}

func TestUserAddressKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1:80": "192.0.2.1", "192.0.2.1": "192.0.2.1", "[::ffff:192.0.2.1]:1": "192.0.2.1",
		"[2001:db8::1]:443": "2001:db8::/64", "2001:db8:0:0:9::1": "2001:db8::/64", "[fe80::1%eth0]:1": "fe80::/64",
		"not an address": "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// A session ends after 30 idle minutes, and 12 hours after login however
// busy; last_seen_at is written at most once a minute.
func TestUserSessionExpiry(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	tok := f.mustLogin(t, c)
	login := f.clock.Now()

	f.clock.Advance(30 * time.Second)
	_, s, err := f.svc.Authenticate(f.ctx, tok)
	if err != nil || !s.LastSeenAt.Equal(login) {
		t.Fatalf("30 s later: last seen %v, %v; want unchanged %v (no write within a minute)", s.LastSeenAt, err, login)
	}
	f.clock.Advance(29 * time.Minute) // 29.5 min after the last write
	if _, s, err = f.svc.Authenticate(f.ctx, tok); err != nil || !s.LastSeenAt.Equal(f.clock.Now()) {
		t.Fatalf("29.5 min idle: %v, last seen %v", err, s.LastSeenAt)
	}
	f.clock.Advance(30 * time.Minute)
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "30 min idle", err, ErrUnauthenticated)

	// Busy all day: every 20 minutes until the absolute limit.
	tok = f.mustLogin(t, c)
	start := f.clock.Now()
	for f.clock.Now().Before(start.Add(12*time.Hour - 20*time.Minute)) {
		f.clock.Advance(20 * time.Minute)
		if _, _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
			t.Fatalf("%v after login: %v", f.clock.Now().Sub(start), err)
		}
	}
	f.clock.Advance(start.Add(12 * time.Hour).Sub(f.clock.Now()))
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "12 h after login", err, ErrUnauthenticated)
	if ss, _ := f.svc.ListSessions(f.ctx, c.User.ID); len(ss) != 0 {
		t.Fatalf("live sessions after both expired: %+v", ss)
	}

	for _, bad := range []Token{"", "short", Token(strings.Repeat("!", tokenLen)), Token(strings.Repeat("A", tokenLen))} {
		_, _, err := f.svc.Authenticate(f.ctx, bad)
		wantErr(t, "malformed or unknown token", err, ErrUnauthenticated)
	}
}

// Every login makes a new session and token; ending one leaves the other.
func TestUserSessionRotationAndRevocation(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "ops@example.com", auth.RoleOperator)
	first := f.mustLogin(t, c)
	_, s1, _ := f.svc.Authenticate(f.ctx, first)
	second := f.mustLogin(t, c)
	_, s2, err := f.svc.Authenticate(f.ctx, second)
	if err != nil || first == second || s1.ID == s2.ID {
		t.Fatalf("second login reused the session: %v, %q vs %q", err, s1.ID, s2.ID)
	}
	// The token from before the second login is still its own session,
	// not the new one.
	if _, again, _ := f.svc.Authenticate(f.ctx, first); again.ID != s1.ID {
		t.Fatalf("first token now authenticates session %s, want %s", again.ID, s1.ID)
	}
	third := f.mustLogin(t, c)
	if ss, _ := f.svc.ListSessions(f.ctx, c.User.ID); len(ss) != 3 || ss[2].ID != s1.ID {
		t.Fatalf("sessions %+v, want three, newest first", ss)
	}

	if err := f.svc.Logout(f.ctx, first); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, first)
	wantErr(t, "after logout", err, ErrUnauthenticated)
	if err := f.svc.Logout(f.ctx, first); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if err := f.svc.Revoke(f.ctx, s2.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, second)
	wantErr(t, "after revoke", err, ErrUnauthenticated)
	wantErr(t, "revoke unknown", f.svc.Revoke(f.ctx, "0190f0c2-7a1b-7cde-8f00-112233445566"), ErrNotFound)
	wantErr(t, "revoke malformed", f.svc.Revoke(f.ctx, "nope"), ErrNotFound)
	if _, _, err := f.svc.Authenticate(f.ctx, third); err != nil {
		t.Fatalf("third session after revoking the others: %v", err)
	}
	if n, err := f.svc.RevokeAll(f.ctx, c.User.ID); err != nil || n != 1 {
		t.Fatalf("revoke all: %d, %v; want 1", n, err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, third)
	wantErr(t, "after revoke all", err, ErrUnauthenticated)
}

// A viewer logs in with a password alone until it confirms a second
// factor, after which its code is required.
func TestUserViewerOptionalTOTP(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	if c.Enrolment != nil {
		t.Fatal("a viewer got an enrolment it did not ask for")
	}
	f.mustLogin(t, c)
	e, err := f.svc.EnrolTOTP(f.ctx, Actor{Name: c.User.Email, Role: auth.RoleViewer}, c.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.mustLogin(t, c) // pending: still password only
	self := Actor{Name: c.User.Email, Role: auth.RoleViewer}
	var inv *InvalidError
	if err := f.svc.ConfirmTOTP(f.ctx, self, c.User.ID, "12345"); !errors.As(err, &inv) {
		t.Fatalf("confirm with a bad code: %v", err)
	}
	code := f.code(t, e.Secret, 0)
	if err := f.svc.ConfirmTOTP(f.ctx, self, c.User.ID, code); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.login(c.User.Email, c.Password, "")
	wantErr(t, "password only after enrolling", err, ErrUnauthenticated)
	_, _, err = f.login(c.User.Email, c.Password, code)
	wantErr(t, "the confirming code again", err, ErrUnauthenticated)
	c.Enrolment = &e
	f.mustLogin(t, c)
	if _, err := f.svc.EnrolTOTP(f.ctx, self, c.User.ID); !errors.As(err, &inv) {
		t.Fatalf("re-enrolling over a confirmed factor: %v", err)
	}
}

// A role change ends the user's sessions; moving to a role that needs
// TOTP issues an enrolment that the next login must confirm.
func TestUserRoleChangeRevokesSessions(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	tok := f.mustLogin(t, c)
	u, e, err := f.svc.ChangeRole(f.ctx, admin, c.User.ID, auth.RoleOperator)
	if err != nil || u.Role != auth.RoleOperator || e == nil || !u.TOTPPending {
		t.Fatalf("change role: %+v, enrolment %v, %v", u, e != nil, err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session from before the role change", err, ErrUnauthenticated)
	_, _, err = f.login(c.User.Email, c.Password, "")
	wantErr(t, "operator without its code", err, ErrUnauthenticated)
	c.Enrolment = e
	tok = f.mustLogin(t, c)
	if u, _, err := f.svc.Authenticate(f.ctx, tok); err != nil || u.Role != auth.RoleOperator {
		t.Fatalf("as operator: %+v, %v", u, err)
	}
	// Back to viewer: sessions end, the confirmed factor stays required.
	if _, e, err := f.svc.ChangeRole(f.ctx, admin, c.User.ID, auth.RoleViewer); err != nil || e != nil {
		t.Fatalf("back to viewer: enrolment %v, %v", e, err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session from before the second change", err, ErrUnauthenticated)
	f.mustLogin(t, c)
	var inv *InvalidError
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, c.User.ID, "root"); !errors.As(err, &inv) {
		t.Fatalf("unknown role: %v", err)
	}
	_, _, err = f.svc.ChangeRole(f.ctx, admin, "0190f0c2-7a1b-7cde-8f00-112233445566", auth.RoleAdmin)
	wantErr(t, "unknown user", err, ErrNotFound)
}

// A disabled user cannot log in and loses its sessions; enabled, it can.
func TestUserDisabled(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "finance@example.com", auth.RoleFinance)
	tok := f.mustLogin(t, c)
	u, err := f.svc.Disable(f.ctx, admin, c.User.ID)
	if err != nil || !u.Disabled() {
		t.Fatalf("disable: %+v, %v", u, err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session of a disabled user", err, ErrUnauthenticated)
	f.clock.Advance(totpPeriod * time.Second)
	_, _, err = f.login(c.User.Email, c.Password, f.code(t, c.Enrolment.Secret, 0))
	wantErr(t, "disabled login", err, ErrUnauthenticated)
	if u, err := f.svc.Enable(f.ctx, admin, c.User.ID); err != nil || u.Disabled() {
		t.Fatalf("enable: %+v, %v", u, err)
	}
	f.mustLogin(t, c)
}

// A password reset ends sessions and replaces the password; a user's own
// change follows the policy and ends sessions too.
func TestUserPasswordResetAndChange(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	tok := f.mustLogin(t, c)
	pw, err := f.svc.ResetPassword(f.ctx, admin, c.User.ID)
	if err != nil || pw == c.Password {
		t.Fatalf("reset: %v", err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session after reset", err, ErrUnauthenticated)
	_, _, err = f.login(c.User.Email, c.Password, "")
	wantErr(t, "old password", err, ErrUnauthenticated)
	c.Password = pw
	tok = f.mustLogin(t, c)

	var inv *InvalidError
	for _, next := range []Secret{"short", "VIEWER@example.com", "viewer"} {
		if err := f.svc.ChangePassword(f.ctx, c.User.ID, pw, next); !errors.As(err, &inv) || inv.Field != "password" {
			t.Errorf("change to a weak password: %v", err)
		}
	}
	wantErr(t, "wrong current password",
		f.svc.ChangePassword(f.ctx, c.User.ID, "not my password", "a long enough passphrase"), ErrUnauthenticated)
	if err := f.svc.ChangePassword(f.ctx, c.User.ID, pw, "a long enough passphrase"); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session after change", err, ErrUnauthenticated)
	c.Password = "a long enough passphrase"
	f.mustLogin(t, c)
}

// Every login of a known account leaves an audit row (PCI DSS 10.2.1.4:
// invalid attempts too), written by the account itself, with why it failed
// and never the password or code; an unknown email names nobody and leaves
// none.
func TestUserLoginsAudited(t *testing.T) {
	f := newFixture(t, Config{LockAfter: 100})
	c := f.create(t, "ops@example.com", auth.RoleOperator)
	good := f.code(t, c.Enrolment.Secret, 0)
	for _, req := range []LoginRequest{
		{Email: c.User.Email, Password: "not the password at all", Code: good},
		{Email: "nobody@example.com", Password: c.Password, Code: good},
	} {
		req.RemoteAddr = "192.0.2.7"
		if _, _, err := f.svc.Login(f.ctx, req); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("login %s: %v", req.Email, err)
		}
	}
	f.mustLogin(t, c)

	rows, _, err := audit.NewStore(f.db).List(f.ctx, audit.Filter{Action: ActionLogin, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range rows {
		in, _ := r.Input.(json.RawMessage)
		if r.Actor != c.User.Email || r.Target != Target(c.User.ID) {
			t.Errorf("login row by %q on %q, want the account itself", r.Actor, r.Target)
		}
		var m map[string]string
		if err := json.Unmarshal(in, &m); err != nil {
			t.Fatalf("input %s: %v", in, err)
		}
		outcomes = append(outcomes, r.Outcome+" "+m["email"]+" "+m["role"]+" "+m["reason"])
		mustContainNone(t, "login audit row", string(in)+r.Actor, c.Password.Reveal(), good, c.Enrolment.Secret.Reveal())
	}
	slices.Sort(outcomes)
	want := []string{audit.OutcomeFailed + " ops@example.com operator password", audit.OutcomeSucceeded + " ops@example.com operator "}
	if !slices.Equal(outcomes, want) {
		t.Fatalf("login audit rows %q, want %q", outcomes, want)
	}
}

// PurgeSessions deletes the sessions revoked or past their absolute limit
// before the cutoff, however many (in batches), and nothing else.
func TestUserPurgeSessions(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	t0 := f.clock.Now()
	session := func() Session {
		t.Helper()
		_, s, err := f.svc.Authenticate(f.ctx, f.mustLogin(t, c))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	expiring := session() // absolute limit t0+12h
	f.clock.Advance(time.Hour)
	revoked := session()
	if err := f.svc.Revoke(f.ctx, revoked.ID); err != nil { // at t0+1h
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	live := session() // absolute limit t0+14h
	old := 2*purgeBatch + 5
	if _, err := f.db.Exec(`
		INSERT INTO console_sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)
		SELECT gen_random_uuid(), sha256(i::text::bytea), $1, $2, $2, $3 FROM generate_series(1, $4) i`,
		c.User.ID, t0.Add(-13*time.Hour), t0.Add(-time.Hour), old); err != nil {
		t.Fatal(err)
	}

	purge := func(before time.Time, want int64) {
		t.Helper()
		if n, err := f.svc.PurgeSessions(f.ctx, before); err != nil || n != want {
			t.Fatalf("purge before %v: %d (%v), want %d", before.Sub(t0), n, err, want)
		}
	}
	purge(t0.Add(30*time.Minute), int64(old))
	purge(t0.Add(30*time.Minute), 0)
	purge(f.clock.Now(), 1) // the revoked one
	f.clock.Advance(11 * time.Hour)
	purge(f.clock.Now(), 1) // t0+13h: the one past its absolute limit
	var left []string
	if err := f.db.Select(&left, `SELECT id FROM console_sessions`); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != live.ID {
		t.Fatalf("sessions left %v, want only %s (not %s or %s)", left, live.ID, expiring.ID, revoked.ID)
	}
	var inv *InvalidError
	if _, err := f.svc.PurgeSessions(f.ctx, f.clock.Now().Add(time.Second)); !errors.As(err, &inv) {
		t.Fatalf("a cutoff in the future: %v, want refused", err)
	}
}

// TestUserPurgeSessionsTask: the hourly task deletes sessions that ended
// more than KeepEnded ago and keeps the rest, live or recently ended.
func TestUserPurgeSessionsTask(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	login := func() Session {
		t.Helper()
		_, s, err := f.svc.Authenticate(f.ctx, f.mustLogin(t, c))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := login()
	if err := f.svc.Revoke(f.ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(KeepEnded + time.Hour)
	recent := login()
	if err := f.svc.Revoke(f.ctx, recent.ID); err != nil {
		t.Fatal(err)
	}
	live := login()
	if err := f.svc.HandlePurgeSessionsTask(f.ctx, NewPurgeSessionsTask(f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := f.db.Select(&left, `SELECT id::text FROM console_sessions ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0] != recent.ID || left[1] != live.ID {
		t.Fatalf("sessions left %v, want the recently revoked %s and the live %s", left, recent.ID, live.ID)
	}
}
