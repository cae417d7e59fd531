package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
)

// Every administrative change writes one audit row, in its transaction,
// whose input is the email and the role; no password, TOTP secret, otpauth
// URL or session token reaches the audit log, the log lines or an error.
func TestUserAuditRowsAndLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t, Config{})
	var secrets []string
	keep := func(c Created) {
		secrets = append(secrets, c.Password.Reveal())
		if c.Enrolment != nil {
			secrets = append(secrets, c.Enrolment.Secret.Reveal(), c.Enrolment.URL.Reveal())
		}
	}
	op := f.create(t, "ops@example.com", auth.RoleOperator)
	vw := f.create(t, "viewer@example.com", auth.RoleViewer)
	keep(op)
	keep(vw)
	tok := f.mustLogin(t, op)
	secrets = append(secrets, tok.Reveal())
	// Failures log: a wrong password that is in fact another user's.
	_, _, err := f.login(op.User.Email, vw.Password, "000000")
	errText := fmt.Sprint(err)
	_, _, err = f.login("nobody@example.com", op.Password, "")
	errText += fmt.Sprint(err)
	pw, err := f.svc.ResetPassword(f.ctx, admin, vw.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	vw.Password = pw
	secrets = append(secrets, pw.Reveal())
	e, err := f.svc.EnrolTOTP(f.ctx, admin, vw.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, e.Secret.Reveal(), e.URL.Reveal())
	if err := f.svc.ConfirmTOTP(f.ctx, admin, vw.User.ID, f.code(t, e.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Disable(f.ctx, admin, vw.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Enable(f.ctx, admin, vw.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, vw.User.ID, auth.RoleFinance); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(f.ctx, op.User.ID, op.Password, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, "correct horse battery staple")

	entries, _, err := audit.NewStore(f.db).List(f.ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		var in map[string]any
		if err := json.Unmarshal(e.Input.(json.RawMessage), &in); err != nil || in["email"] == "" || in["role"] == "" {
			t.Errorf("%s input %s: want email and role", e.Action, e.Input)
		}
		// A failed login says why (which check failed), nothing more.
		failedLogin := e.Action == ActionLogin && e.Outcome == audit.OutcomeFailed
		if wantKeys := map[bool]int{false: 2, true: 3}[failedLogin]; len(in) != wantKeys {
			t.Errorf("%s input %s: want %d keys", e.Action, e.Input, wantKeys)
		}
		if !strings.HasPrefix(e.Target, "console-user:") || (e.Outcome != audit.OutcomeSucceeded && !failedLogin) {
			t.Errorf("audit row %+v", e)
		}
	}
	want := []string{ActionChangePassword, ActionChangeRole, ActionEnable, ActionDisable, ActionConfirmTOTP,
		ActionEnrolTOTP, ActionResetPassword, ActionLogin, ActionLogin, ActionCreate, ActionCreate}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit actions\n got %v\nwant %v", actions, want)
	}
	if entries[0].Actor != "ops@example.com" || entries[0].Role != "operator" {
		t.Errorf("a user's own change is audited as %q/%q", entries[0].Actor, entries[0].Role)
	}

	var dump []string
	if err := f.db.Select(&dump, `SELECT t::text FROM audit_log t UNION ALL SELECT t::text FROM console_sessions t`); err != nil {
		t.Fatal(err)
	}
	mustContainNone(t, "audit log and sessions", strings.Join(dump, "\n"), secrets...)
	var hashes []string
	if err := f.db.Select(&hashes, `SELECT password_hash FROM console_users`); err != nil {
		t.Fatal(err)
	}
	mustContainNone(t, "password hashes", strings.Join(hashes, "\n"), secrets...)
	if f.logs.Count("console login failed") < 2 || f.logs.Count("console login") < 1 {
		t.Errorf("expected login log lines:\n%s", f.logs.String())
	}
	mustContainNone(t, "log lines", f.logs.String(), secrets...)
	mustContainNone(t, "errors", errText, secrets...)
	// Every printed form of a Secret is redacted.
	s := Secret("hunter2hunter2")
	b, _ := json.Marshal(struct{ S Secret }{s})
	mustContainNone(t, "formatted secret", fmt.Sprintf("%v %s %q %x %#v %d", s, s, s, s, s, s)+string(b), "hunter2")
}

// A change whose audit row cannot be written does not happen.
func TestUserChangeNeedsItsAuditRow(t *testing.T) {
	f := newFixture(t, Config{})
	if _, err := f.svc.Create(f.ctx, Actor{}, "lost@example.com", auth.RoleViewer); err == nil {
		t.Fatal("a create without an actor was accepted")
	}
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM console_users`); err != nil || n != 0 {
		t.Fatalf("console_users: %d rows (%v), want 0: the audit row failed", n, err)
	}
	c := f.create(t, "kept@example.com", auth.RoleViewer)
	if _, _, err := f.svc.ChangeRole(f.ctx, Actor{}, c.User.ID, auth.RoleAdmin); err == nil {
		t.Fatal("a role change without an actor was accepted")
	}
	if u, _ := f.svc.Get(f.ctx, c.User.ID); u.Role != auth.RoleViewer {
		t.Fatalf("role %s after a failed change, want viewer", u.Role)
	}
}

func TestUserCreateValidates(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, "Dup@Example.com", auth.RoleViewer)
	_, err := f.svc.Create(f.ctx, admin, "dup@example.COM", auth.RoleAdmin)
	wantErr(t, "same email in another case", err, ErrDuplicate)
	var inv *InvalidError
	for _, tc := range []struct {
		email string
		role  auth.Role
		field string
	}{
		{"", auth.RoleViewer, "email"}, {"Bob <bob@example.com>", auth.RoleViewer, "email"},
		{"no-at-sign", auth.RoleViewer, "email"}, {"x@example.com", "root", "role"},
	} {
		if _, err := f.svc.Create(f.ctx, admin, tc.email, tc.role); !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("create %q %q: %v, want an invalid %s", tc.email, tc.role, err, tc.field)
		}
	}
	_, err = f.svc.Get(f.ctx, "not-a-uuid")
	wantErr(t, "get malformed id", err, ErrNotFound)
}

// List pages newest first through keyset cursors.
func TestUserList(t *testing.T) {
	f := newFixture(t, Config{})
	for i := range 5 {
		f.create(t, fmt.Sprintf("u%d@example.com", i), auth.RoleViewer)
		f.clock.Advance(1)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		us, next, err := f.svc.List(f.ctx, Filter{Cursor: cursor, Limit: 2})
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, u := range us {
			got = append(got, u.Email)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := "u4 u3 u2 u1 u0"; strings.ReplaceAll(strings.Join(got, " "), "@example.com", "") != want {
		t.Fatalf("listed %v, want %s", got, want)
	}
	var inv *InvalidError
	if _, _, err := f.svc.List(f.ctx, Filter{Cursor: "garbage"}); !errors.As(err, &inv) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// The last enabled admin can be neither disabled nor given another role;
// a disabled admin does not count as one. A refused change leaves no audit
// row.
func TestUserLastAdminKept(t *testing.T) {
	f := newFixture(t, Config{})
	a := f.create(t, "a@example.com", auth.RoleAdmin).User
	var conflict *ConflictError
	_, err := f.svc.Disable(f.ctx, admin, a.ID)
	if !errors.As(err, &conflict) || !strings.Contains(conflict.Rule, "last enabled admin") {
		t.Fatalf("disable the only admin: %v, want a conflict", err)
	}
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, a.ID, auth.RoleOperator); !errors.As(err, &conflict) {
		t.Fatalf("demote the only admin: %v, want a conflict", err)
	}
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, a.ID, auth.RoleAdmin); err != nil {
		t.Fatalf("the only admin stays admin: %v", err)
	}
	if u, _ := f.svc.Get(f.ctx, a.ID); u.Disabled() || u.Role != auth.RoleAdmin {
		t.Fatalf("after refused changes: %+v", u)
	}
	if got := strings.Join(f.audited(t, Target(a.ID)), " "); got != ActionChangeRole+" "+ActionCreate {
		t.Fatalf("audit rows on the admin: %s; want only the create and the no-op role change", got)
	}

	b := f.create(t, "b@example.com", auth.RoleAdmin).User
	if _, err := f.svc.Disable(f.ctx, admin, a.ID); err != nil {
		t.Fatalf("disable one of two admins: %v", err)
	}
	if _, err := f.svc.Disable(f.ctx, admin, b.ID); !errors.As(err, &conflict) {
		t.Fatalf("disable b with a disabled: %v, want a conflict", err)
	}
	if _, err := f.svc.Disable(f.ctx, admin, a.ID); err != nil {
		t.Fatalf("disable a disabled admin again: %v", err)
	}
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, a.ID, auth.RoleViewer); err != nil {
		t.Fatalf("demote a disabled admin: %v", err)
	}
	if _, err := f.svc.Enable(f.ctx, admin, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ChangeRole(f.ctx, admin, b.ID, auth.RoleViewer); !errors.As(err, &conflict) {
		t.Fatalf("demote b with a a viewer: %v, want a conflict", err)
	}
}

// Two admins removing each other at once leave one: the changes that can
// take an admin away run one after the other, and the second sees the
// first. Each round races Disable or ChangeRole on one admin against
// Disable or ChangeRole on the other; exactly one wins, and only it leaves
// an audit row.
func TestUserLastAdminUnderConcurrency(t *testing.T) {
	f := newFixture(t, Config{})
	a := f.create(t, "a@example.com", auth.RoleAdmin).User
	b := f.create(t, "b@example.com", auth.RoleAdmin).User
	ids := []string{a.ID, b.ID}
	disable := func(id string) error { _, err := f.svc.Disable(f.ctx, admin, id); return err }
	demote := func(id string) error { _, _, err := f.svc.ChangeRole(f.ctx, admin, id, auth.RoleFinance); return err }
	for round := range 24 {
		// Both kinds of change on either side: (disable, disable),
		// (demote, disable), (disable, demote), (demote, demote).
		changes := []func(string) error{disable, disable}
		if round%2 == 1 {
			changes[0] = demote
		}
		if round%4 >= 2 {
			changes[1] = demote
		}
		audited := len(f.audited(t, ""))
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				<-start
				errs[i] = changes[i](ids[i])
			})
		}
		close(start)
		wg.Wait()
		var conflict *ConflictError
		if (errs[0] == nil) == (errs[1] == nil) || !errors.As(errors.Join(errs...), &conflict) {
			t.Fatalf("round %d: %v and %v; want one change and one conflict", round, errs[0], errs[1])
		}
		var admins int
		if err := f.db.Get(&admins, `SELECT count(*) FROM console_users WHERE role = 'admin' AND disabled_at IS NULL`); err != nil || admins != 1 {
			t.Fatalf("round %d: %d enabled admins (%v), want 1", round, admins, err)
		}
		if n := len(f.audited(t, "")); n != audited+1 {
			t.Fatalf("round %d: %d new audit rows, want the winner's one", round, n-audited)
		}
		// Make the removed admin an enabled admin again.
		removed := ids[0]
		if errs[0] != nil {
			removed = ids[1]
		}
		if _, err := f.svc.Enable(f.ctx, admin, removed); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.ChangeRole(f.ctx, admin, removed, auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
}

// ResetTOTP replaces a confirmed second factor with a pending one, ends the
// user's sessions and is audited in its transaction; the old codes stop
// working and the new secret's first code confirms it at login.
func TestUserResetTOTP(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "ops@example.com", auth.RoleOperator)
	tok := f.mustLogin(t, c)
	if u, _ := f.svc.Get(f.ctx, c.User.ID); !u.HasTOTP() {
		t.Fatal("first login did not confirm the enrolment")
	}
	e, err := f.svc.ResetTOTP(f.ctx, admin, c.User.ID)
	if err != nil || e.Secret == c.Enrolment.Secret || e.Secret.Reveal() == "" {
		t.Fatalf("reset: %v", err)
	}
	if u, _ := f.svc.Get(f.ctx, c.User.ID); u.HasTOTP() || !u.TOTPPending {
		t.Fatalf("after reset: confirmed %v pending %v, want pending", u.HasTOTP(), u.TOTPPending)
	}
	_, _, err = f.svc.Authenticate(f.ctx, tok)
	wantErr(t, "session from before the reset", err, ErrUnauthenticated)
	f.clock.Advance(totpPeriod * time.Second)
	_, _, err = f.login(c.User.Email, c.Password, f.code(t, c.Enrolment.Secret, 0))
	wantErr(t, "old authenticator's code", err, ErrUnauthenticated)
	c.Enrolment = &e
	f.mustLogin(t, c)
	if u, _ := f.svc.Get(f.ctx, c.User.ID); !u.HasTOTP() {
		t.Fatal("the new secret's first code did not confirm it")
	}

	entries, _, err := audit.NewStore(f.db).List(f.ctx, audit.Filter{Action: ActionResetTOTP})
	if err != nil || len(entries) != 1 {
		t.Fatalf("reset-totp audit rows: %d (%v), want 1", len(entries), err)
	}
	if r := entries[0]; r.Target != Target(c.User.ID) || r.Actor != admin.Name || r.Outcome != audit.OutcomeSucceeded {
		t.Fatalf("audit row %+v", r)
	}
	mustContainNone(t, "audit input", string(entries[0].Input.(json.RawMessage)), e.Secret.Reveal(), e.URL.Reveal())

	// Without its audit row the reset does not happen.
	if _, err := f.svc.ResetTOTP(f.ctx, Actor{}, c.User.ID); err == nil {
		t.Fatal("a reset without an actor was accepted")
	}
	f.mustLogin(t, c) // still e's secret
	_, err = f.svc.ResetTOTP(f.ctx, admin, "0190f0c2-7a1b-7cde-8f00-112233445566")
	wantErr(t, "reset an unknown user", err, ErrNotFound)
}
