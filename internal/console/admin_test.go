package console

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/users"
)

// TestAdminPagesRefuseOtherRoles: every admin page and every admin change
// is 403 for each role but admin, and a refused change changes nothing.
func TestAdminPagesRefuseOtherRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	key, _, err := auth.NewKeys(e.db).Create(ctx, auth.NewKey{Name: "ci", Role: auth.RoleViewer, CreatedBy: "cli"},
		func(k auth.Key) audit.Entry {
			return audit.Entry{Actor: "cli", Role: "admin", Action: audit.ActionAPIKeyCreate, Target: audit.APIKeyTarget(k.ID),
				Outcome: audit.OutcomeSucceeded}
		})
	if err != nil {
		t.Fatal(err)
	}
	e.user(t, "target@example.com", auth.RoleOperator)
	target := userID(t, e, "target@example.com")

	pages := []string{"/console/audit", "/console/keys", "/console/users", "/console/users/" + target}
	changes := []struct {
		path string
		form url.Values
	}{
		{"/console/keys", url.Values{"name": {"stolen"}, "role": {"admin"}}},
		{"/console/keys/" + key.ID + "/revoke/preview", nil},
		{"/console/keys/" + key.ID + "/revoke", nil},
		{"/console/users", url.Values{"email": {"mole@example.com"}, "role": {"admin"}}},
		{"/console/users/" + target + "/disable/preview", nil},
		{"/console/users/" + target + "/disable", nil},
		{"/console/users/" + target + "/enable", nil},
		{"/console/users/" + target + "/role/preview", url.Values{"role": {"admin"}}},
		{"/console/users/" + target + "/role", url.Values{"role": {"admin"}}},
		{"/console/users/" + target + "/password/preview", nil},
		{"/console/users/" + target + "/password", nil},
		{"/console/users/" + target + "/totp/preview", nil},
		{"/console/users/" + target + "/totp", nil},
	}
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleFinance, auth.RoleOperator, auth.RoleCheckout} {
		p := e.user(t, string(role)+"@example.com", role)
		c := e.client(t)
		e.login(t, c, p)
		for _, path := range pages {
			if resp, body := e.get(t, c, path); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
				t.Errorf("%s GET %s: %d, want 403", role, path, resp.StatusCode)
			}
		}
		for i, ch := range changes {
			form := url.Values{"token": {"forged-" + string(role) + "-" + string(rune('a'+i))}}
			for k, v := range ch.form {
				form[k] = v
			}
			if resp, _ := e.post(t, c, ch.path, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", role, ch.path, resp.StatusCode)
			}
		}
		// The layout offers none of the admin pages.
		_, body := e.get(t, c, "/console/settings")
		if strings.Contains(body, `href="/console/keys"`) || strings.Contains(body, `href="/console/audit"`) {
			t.Errorf("%s: the navigation links to admin pages", role)
		}
	}

	keys, err := auth.NewStore(e.db).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Revoked() {
		t.Fatalf("keys after refused changes: %+v, want the one key, not revoked", keys)
	}
	u, err := e.users.Get(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if u.Disabled() || u.Role != auth.RoleOperator {
		t.Fatalf("target after refused changes: %+v", u)
	}
	if _, _, err := e.users.List(ctx, users.Filter{}); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{audit.ActionAPIKeyCreate, audit.ActionAPIKeyRevoke, users.ActionCreate, users.ActionDisable} {
		rows := auditRows(t, e, audit.Filter{Action: action})
		for _, r := range rows {
			if r.Actor != "cli" && r.Actor != "test" {
				t.Errorf("a refused change left an audit row: %+v", r)
			}
		}
	}
}

// TestAdminKeys: an admin creates a key, sees it once (only in the answer
// to the create, no-store), finds it listed without it, and revokes it
// through a confirmation that names it; both changes are audited with the
// admin's email as the actor, and neither form can be replayed.
func TestAdminKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	c := e.client(t)
	e.login(t, c, admin)

	resp, body := e.get(t, c, "/console/keys")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No API keys yet") {
		t.Fatalf("empty keys page: %d\n%s", resp.StatusCode, body)
	}

	// A refused form comes back with what was typed and the reason inline.
	resp, body = e.post(t, c, "/console/keys", url.Values{"name": {"x"}, "role": {"root"}, "token": {"bad-role"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !containsAll(body, `id="create-key-error"`, `unknown role`, `value="x"`) {
		t.Fatalf("invalid role: %d\n%s", resp.StatusCode, body)
	}

	form := url.Values{"name": {"ci-bot"}, "role": {"operator"}, "token": {"create-1"}}
	resp, body = e.post(t, c, "/console/keys", form)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d, Cache-Control %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	secret := regexp.MustCompile(`pk_[A-Za-z0-9_-]{43}`).FindString(body)
	if secret == "" || !strings.Contains(body, "shown only this once") {
		t.Fatalf("the create answer does not show the key once:\n%s", body)
	}
	for _, ck := range resp.Cookies() {
		if strings.Contains(ck.Value, secret) || strings.Contains(ck.Value, url.QueryEscape(secret)) {
			t.Fatalf("the key is in cookie %s", ck.Name)
		}
	}
	// It is a real key of the admin's making.
	actor, err := auth.NewStore(e.db).Authenticate(ctx, secret)
	if err != nil || actor.Name != "ci-bot" || actor.Role != auth.RoleOperator {
		t.Fatalf("the shown key authenticates as %+v, %v", actor, err)
	}
	key, err := auth.NewStore(e.db).Get(ctx, actor.KeyID)
	if err != nil || key.CreatedBy != admin.Email {
		t.Fatalf("key %+v, %v: want created by %s", key, err, admin.Email)
	}

	// A resubmission (a reload of the result page) makes no second key and
	// shows nothing again.
	resp, body = e.post(t, c, "/console/keys", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/keys" || strings.Contains(body, secret) {
		t.Fatalf("resubmitted create: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, body = e.get(t, c, "/console/keys")
	if !strings.Contains(body, "Already done: API key “ci-bot” was created") {
		t.Fatalf("the resubmission's answer does not say it was done before:\n%s", body)
	}
	if strings.Contains(body, secret) || !strings.Contains(body, key.Prefix+"…") || !strings.Contains(body, key.ID) {
		t.Fatalf("keys list: want the key's prefix and id, never the key:\n%s", body)
	}
	if keys, _ := auth.NewStore(e.db).List(ctx); len(keys) != 1 {
		t.Fatalf("%d keys after a resubmitted create, want 1", len(keys))
	}
	checkKeyCreateAudit(t, e, c, admin, key, secret)
	revokeKeyStep(t, e, c, admin, key, secret)
}

// checkKeyCreateAudit: the refused and the made creation are audited by
// the admin, and no row, nor the audit page, holds the key.
func checkKeyCreateAudit(t *testing.T, e *env, c *http.Client, admin person, key auth.Key, secret string) {
	t.Helper()
	rows := auditRows(t, e, audit.Filter{Action: audit.ActionAPIKeyCreate})
	if len(rows) != 2 {
		t.Fatalf("create audit rows: %+v, want the rejected one and the created one", rows)
	}
	created, rejected := rows[0], rows[1]
	if created.Actor != admin.Email || created.Role != "admin" || created.KeyID != "" || created.Outcome != audit.OutcomeSucceeded ||
		created.Target != audit.APIKeyTarget(key.ID) || created.RequestID == "" || created.RemoteAddr == "" {
		t.Fatalf("create audit row %+v", created)
	}
	if got := string(created.Input.(json.RawMessage)); got != `{"name": "ci-bot", "role": "operator"}` && got != `{"name":"ci-bot","role":"operator"}` {
		t.Fatalf("create audit input %s", got)
	}
	if rejected.Actor != admin.Email || rejected.Outcome != audit.OutcomeRejected {
		t.Fatalf("refused create audit row %+v", rejected)
	}
	for _, r := range auditRows(t, e, audit.Filter{}) {
		if strings.Contains(string(r.Input.(json.RawMessage)), secret[3:12]) {
			t.Fatalf("audit row %d holds the key: %s", r.ID, r.Input)
		}
	}
	if _, body := e.get(t, c, "/console/audit"); strings.Contains(body, secret) || !strings.Contains(body, "api-key.create") {
		t.Fatal("the audit page shows the key, or not its creation")
	}
}

// revokeKeyStep revokes key through its confirmation, once.
func revokeKeyStep(t *testing.T, e *env, c *http.Client, admin person, key auth.Key, secret string) {
	t.Helper()
	ctx := context.Background()
	// Revoking asks first, naming the key; htmx gets only the panel.
	resp, body := e.post(t, c, "/console/keys/"+key.ID+"/revoke/preview", nil, "HX-Request: true")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "<html") || !strings.Contains(body, "Revoke key “ci-bot”") {
		t.Fatalf("htmx revoke preview: %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.post(t, c, "/console/keys/"+key.ID+"/revoke/preview", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") || !strings.Contains(body, "Revoke key “ci-bot”") {
		t.Fatalf("plain revoke preview: %d\n%s", resp.StatusCode, body)
	}
	if keys, _ := auth.NewStore(e.db).List(ctx); keys[0].Revoked() {
		t.Fatal("the preview revoked the key")
	}
	token := formToken(t, body, "revoke-confirm")
	resp, _ = e.post(t, c, "/console/keys/"+key.ID+"/revoke", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/keys" {
		t.Fatalf("revoke: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := auth.NewStore(e.db).Authenticate(ctx, secret); err == nil {
		t.Fatal("the revoked key still signs in")
	}
	_, body = e.get(t, c, "/console/keys")
	if !strings.Contains(body, "API key “ci-bot” revoked") || !strings.Contains(body, "badge-revoked") {
		t.Fatalf("keys after revoke:\n%s", body)
	}
	// The same confirmation sent again is answered, not redone.
	resp, _ = e.post(t, c, "/console/keys/"+key.ID+"/revoke", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resubmitted revoke: %d", resp.StatusCode)
	}
	rows := auditRows(t, e, audit.Filter{Action: audit.ActionAPIKeyRevoke})
	if len(rows) != 1 || rows[0].Actor != admin.Email || rows[0].Target != audit.APIKeyTarget(key.ID) || rows[0].Outcome != audit.OutcomeSucceeded {
		t.Fatalf("revoke audit rows %+v, want one by %s", rows, admin.Email)
	}
	// A revoked key cannot be asked about again.
	if resp, _ := e.post(t, c, "/console/keys/"+key.ID+"/revoke/preview", nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("preview of a revoked key: %d, want 409", resp.StatusCode)
	}
	if resp, _ := e.post(t, c, "/console/keys/not-a-key/revoke/preview", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("preview of an unknown key: %d, want 404", resp.StatusCode)
	}
}

// TestAdminUsers: an admin creates a user (the first password and TOTP
// secret shown once), disables them (their sessions end), enables them,
// resets their password and changes a role; every change is audited by
// the admin's email and shows no secret anywhere else.
func TestAdminUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	c := e.client(t)
	e.login(t, c, admin)

	form := url.Values{"email": {"new@example.com"}, "role": {"operator"}, "token": {"user-1"}}
	resp, body := e.post(t, c, "/console/users", form)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create user: %d, Cache-Control %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	shown := onceValues(t, body)
	if len(shown) != 3 || !strings.HasPrefix(shown[2], "otpauth://totp/") || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("created user page shows %q, want password, TOTP secret and otpauth URL, and a QR code\n%s", shown, body)
	}
	newbie := person{Email: "new@example.com", Password: shown[0], Secret: shown[1], Role: auth.RoleOperator}
	id := userID(t, e, newbie.Email)

	resp, body = e.post(t, c, "/console/users", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/users/"+id || strings.Contains(body, newbie.Password) {
		t.Fatalf("resubmitted create: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = e.get(t, c, "/console/users")
	if !strings.Contains(body, newbie.Email) || !strings.Contains(body, "awaiting first code") {
		t.Fatalf("users list:\n%s", body)
	}
	for _, secret := range []string{newbie.Password, newbie.Secret} {
		if strings.Contains(body, secret) {
			t.Fatal("the users list shows a secret of the new user")
		}
	}
	rows := auditRows(t, e, audit.Filter{Action: users.ActionCreate, Target: users.Target(id)})
	if len(rows) != 1 || rows[0].Actor != admin.Email || rows[0].Role != "admin" || rows[0].RequestID == "" {
		t.Fatalf("create audit rows %+v, want one by %s", rows, admin.Email)
	}
	_, auditPage := e.get(t, c, "/console/audit")
	for _, secret := range []string{newbie.Password, newbie.Secret} {
		if strings.Contains(string(rows[0].Input.(json.RawMessage)), secret) || strings.Contains(auditPage, secret) {
			t.Fatal("the audit log holds a secret of the new user")
		}
	}

	newbie = disableAndResetStep(t, e, c, newbie, id)
	resetTOTPStep(t, e, c, newbie, id)
	changeRoleStep(t, e, c)
	lastAdminStep(t, e, c, admin)

	for _, action := range []string{users.ActionDisable, users.ActionEnable, users.ActionResetPassword, users.ActionResetTOTP} {
		rows := auditRows(t, e, audit.Filter{Action: action, Target: users.Target(id)})
		if len(rows) != 1 || rows[0].Actor != admin.Email || rows[0].Outcome != audit.OutcomeSucceeded {
			t.Errorf("%s audit rows %+v, want one by %s", action, rows, admin.Email)
		}
	}
	if resp, _ := e.post(t, c, "/console/users/"+id+"/promote", url.Values{"token": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown change: %d, want 404", resp.StatusCode)
	}
}

// disableAndResetStep: disabling newbie ends their session and keeps them
// out, enabling lets them back, and a password reset shows the new one
// once and kills the old. It returns newbie with the new password.
func disableAndResetStep(t *testing.T, e *env, c *http.Client, newbie person, id string) person {
	t.Helper()
	ctx := context.Background()
	// The new user signs in with what was shown; disabling them ends that
	// session at once.
	cu := e.client(t)
	e.login(t, cu, newbie)
	resp, body := e.post(t, c, "/console/users/"+id+"/disable/preview", nil, "HX-Request: true")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Disable new@example.com") || !strings.Contains(body, "1 live session ends") {
		t.Fatalf("disable preview: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = e.post(t, c, "/console/users/"+id+"/disable", url.Values{"token": {formToken(t, body, "confirm-form")}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/users/"+id {
		t.Fatalf("disable: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := e.get(t, cu, "/console/settings"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the disabled user's session still works: %d", resp.StatusCode)
	}
	// (No code: a disabled user is refused before it is checked, and the
	// test saves its codes for the sign-ins that succeed.)
	resp, _ = e.post(t, e.client(t), "/console/login", url.Values{"email": {newbie.Email}, "password": {newbie.Password}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user signed in: %d", resp.StatusCode)
	}
	_, body = e.get(t, c, "/console/users/"+id)
	if !strings.Contains(body, "is disabled and signed out everywhere") || !strings.Contains(body, "badge-disabled") {
		t.Fatalf("user page after disable:\n%s", body)
	}
	if resp, _ := e.post(t, c, "/console/users/"+id+"/disable/preview", nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("disable preview of a disabled user: %d, want 422", resp.StatusCode)
	}

	resp, _ = e.post(t, c, "/console/users/"+id+"/enable", url.Values{"token": {"enable-1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	if u, _ := e.users.Get(ctx, id); u.Disabled() {
		t.Fatal("enable left the user disabled")
	}

	// Reset password: asked first, the new password shown once, the old
	// one dead.
	resp, body = e.post(t, c, "/console/users/"+id+"/password/preview", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Reset the password of new@example.com") {
		t.Fatalf("password preview: %d\n%s", resp.StatusCode, body)
	}
	resetForm := url.Values{"token": {formToken(t, body, "confirm-form")}}
	resp, body = e.post(t, c, "/console/users/"+id+"/password", resetForm)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reset password: %d\n%s", resp.StatusCode, body)
	}
	shown := onceValues(t, body)
	if len(shown) != 1 || shown[0] == newbie.Password {
		t.Fatalf("reset shows %q, want one new password", shown)
	}
	if resp, _ := e.post(t, e.client(t), "/console/login", url.Values{"email": {newbie.Email}, "password": {newbie.Password}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password still signs in: %d", resp.StatusCode)
	}
	// The new password signs the enabled user in.
	newbie.Password = shown[0]
	e.login(t, e.client(t), newbie)
	if resp, body := e.post(t, c, "/console/users/"+id+"/password", resetForm); resp.StatusCode != http.StatusSeeOther || strings.Contains(body, newbie.Password) {
		t.Fatalf("resubmitted reset: %d", resp.StatusCode)
	}
	return newbie
}

// resetTOTPStep: resetting newbie's second factor shows the new secret
// once and ends their sessions; they sign in with a code from it.
func resetTOTPStep(t *testing.T, e *env, c *http.Client, newbie person, id string) {
	t.Helper()
	cu := e.client(t)
	e.login(t, cu, newbie)
	resp, body := e.post(t, c, "/console/users/"+id+"/totp/preview", nil, "HX-Request: true")
	if resp.StatusCode != http.StatusOK || !containsAll(body, "Reset the second factor of new@example.com", "2 live sessions end") {
		t.Fatalf("totp preview: %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.post(t, c, "/console/users/"+id+"/totp", url.Values{"token": {formToken(t, body, "confirm-form")}})
	shown := onceValues(t, body)
	if resp.StatusCode != http.StatusOK || len(shown) != 2 || shown[0] == newbie.Secret || !strings.HasPrefix(shown[1], "otpauth://") {
		t.Fatalf("reset second factor: %d, shows %q\n%s", resp.StatusCode, shown, body)
	}
	if resp, _ := e.get(t, cu, "/console/settings"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session opened with the old second factor still works: %d", resp.StatusCode)
	}
	newbie.Secret = shown[0]
	e.login(t, e.client(t), newbie)
}

// lastAdminStep: the only admin cannot disable themself; the domain's
// refusal is shown on the user's page, and nothing changed.
func lastAdminStep(t *testing.T, e *env, c *http.Client, admin person) {
	t.Helper()
	id := userID(t, e, admin.Email)
	_, body := e.post(t, c, "/console/users/"+id+"/disable/preview", nil)
	if !strings.Contains(body, "This is your own account") {
		t.Fatalf("disabling yourself does not say so:\n%s", body)
	}
	resp, body := e.post(t, c, "/console/users/"+id+"/disable", url.Values{"token": {formToken(t, body, "confirm-form")}})
	if resp.StatusCode != http.StatusConflict || !containsAll(body, `id="change-error"`, "last enabled admin", "<html") {
		t.Fatalf("disabling the last admin: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := e.get(t, c, "/console/users"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the last admin was signed out: %d", resp.StatusCode)
	}
	rows := auditRows(t, e, audit.Filter{Action: users.ActionDisable, Target: users.Target(id)})
	if len(rows) != 1 || rows[0].Outcome != audit.OutcomeRejected || rows[0].Actor != admin.Email {
		t.Fatalf("refused disable audit rows %+v, want one rejected by %s", rows, admin.Email)
	}
}

// changeRoleStep: a viewer made finance gets a second factor, shown once.
func changeRoleStep(t *testing.T, e *env, c *http.Client) {
	t.Helper()
	ctx := context.Background()
	e.user(t, "viewer@example.com", auth.RoleViewer)
	vid := userID(t, e, "viewer@example.com")
	resp, body := e.post(t, c, "/console/users/"+vid+"/role/preview", url.Values{"role": {"finance"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Make viewer@example.com finance") || !strings.Contains(body, "needs a second factor") {
		t.Fatalf("role preview: %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.post(t, c, "/console/users/"+vid+"/role", url.Values{"token": {formToken(t, body, "confirm-form")}, "role": {"finance"}})
	shown := onceValues(t, body)
	if resp.StatusCode != http.StatusOK || len(shown) != 2 || !strings.HasPrefix(shown[1], "otpauth://") {
		t.Fatalf("role change to finance: %d, shows %q\n%s", resp.StatusCode, shown, body)
	}
	if u, _ := e.users.Get(ctx, vid); u.Role != auth.RoleFinance || !u.TOTPPending {
		t.Fatalf("after role change: %+v", u)
	}
	if resp, _ := e.post(t, c, "/console/users/"+vid+"/role/preview", url.Values{"role": {"finance"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("role preview to the same role: %d, want 422", resp.StatusCode)
	}
	if rows := auditRows(t, e, audit.Filter{Action: users.ActionChangeRole, Target: users.Target(vid)}); len(rows) != 1 || rows[0].Actor != "admin@example.com" {
		t.Errorf("change-role audit rows %+v", rows)
	}
}

// TestAdminAuditLog: filters in the URL, keyset pages with a next link
// that keeps them, a time range, and inputs shown redacted.
func TestAdminAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	c := e.client(t)
	e.login(t, c, admin)

	for i := range 55 {
		if err := e.audit.Record(ctx, audit.Entry{Actor: "batch", Role: "operator", Action: audit.ActionPaymentSync,
			Target: audit.PaymentTarget("p" + string(rune('a'+i%26))), Outcome: audit.OutcomeSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.audit.Record(ctx, audit.Entry{Actor: "checkout-web", Role: "checkout", Action: audit.ActionPaymentCreate,
		Target: audit.PaymentTarget("card"), Outcome: audit.OutcomeSucceeded,
		Input: map[string]any{"card": map[string]string{"number": "4111111111111111", "cvv": "123"}}}); err != nil {
		t.Fatal(err)
	}

	resp, body := e.get(t, c, "/console/audit?actor=batch")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit: %d\n%s", resp.StatusCode, body)
	}
	if n := strings.Count(body, "<tr>") - 1; n != audit.DefaultLimit || strings.Contains(body, "checkout-web") {
		t.Fatalf("first page of batch: %d rows, want %d of batch only", n, audit.DefaultLimit)
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	if next == nil || !strings.Contains(next[1], "actor=batch") || !strings.Contains(next[1], "cursor=") {
		t.Fatalf("next link %v: want the filter and a cursor", next)
	}
	_, body = e.get(t, c, html.UnescapeString(next[1]))
	if n := strings.Count(body, "<tr>") - 1; n != 5 || strings.Contains(body, `rel="next"`) {
		t.Fatalf("second page: %d rows, want 5 and no next link", n)
	}

	_, body = e.get(t, c, "/console/audit?action=payment.create")
	if !strings.Contains(body, "checkout-web") || strings.Contains(body, "4111111111111111") || strings.Contains(body, `"123"`) {
		t.Fatalf("payment.create row: want it with its card data redacted\n%s", body)
	}

	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(auditTimeLayout)
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format(auditTimeLayout)
	if _, body := e.get(t, c, "/console/audit?actor=batch&from="+tomorrow); !strings.Contains(body, "No entries match") {
		t.Fatal("from tomorrow: want no rows")
	}
	if _, body := e.get(t, c, "/console/audit?actor=batch&to="+yesterday); !strings.Contains(body, "No entries match") {
		t.Fatal("to yesterday: want no rows")
	}
	if _, body := e.get(t, c, "/console/audit?actor=checkout-web&from="+yesterday+"&to="+tomorrow); strings.Count(body, "<tr>")-1 != 1 {
		t.Fatal("yesterday to tomorrow: want the one row")
	}
	if resp, body := e.get(t, c, "/console/audit?from=soon"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must be a date and time") {
		t.Fatalf("unreadable from: %d", resp.StatusCode)
	}
	if resp, body := e.get(t, c, "/console/audit?cursor=garbage"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "stale") {
		t.Fatalf("bad cursor: %d", resp.StatusCode)
	}
	// The admin's own sign-in is there, under their email.
	if _, body := e.get(t, c, "/console/audit?actor="+url.QueryEscape(admin.Email)); !strings.Contains(body, users.ActionLogin) {
		t.Fatal("the admin's sign-in is not in the log")
	}
}

// TestAdminInBrowser drives the admin pages in Chromium: the audit log,
// creating a key (seen once) and revoking it through its confirmation,
// creating a user; each page passes axe and is kept as a screenshot.
func TestAdminInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	e.user(t, "ops@example.com", auth.RoleOperator)
	ctx := e.browser(t)
	run(t, ctx, "a 1280x800 window", chromedp.EmulateViewport(1280, 800))
	e.browserLogin(t, ctx, admin)

	run(t, ctx, "audit page", chromedp.Navigate(e.srv.URL+"/console/audit"), chromedp.WaitVisible(chromedp.ID("audit-filter")))
	if got := read(t, ctx, "audit rows", chromedp.Text(chromedp.CSS("table.grid tbody"))); !strings.Contains(got, users.ActionLogin) {
		t.Fatalf("audit page rows %q: want the admin's sign-in", got)
	}
	checkAccessibility(t, ctx, "audit")
	screenshot(t, ctx, "admin-audit")

	// Create a key: it is shown once, on the page after.
	run(t, ctx, "create key",
		chromedp.Navigate(e.srv.URL+"/console/keys"),
		chromedp.WaitVisible(chromedp.ID("key-name")),
		chromedp.SendKeys(chromedp.ID("key-name"), "checkout-web"),
		chromedp.SetValue(chromedp.ID("key-role"), "checkout"),
		chromedp.Submit(chromedp.ID("create-key")),
		chromedp.WaitVisible(chromedp.CSS(".once .id")),
	)
	secret := read(t, ctx, "the key", chromedp.Text(chromedp.CSS(".once .id")))
	if !strings.HasPrefix(secret, "pk_") {
		t.Fatalf("shown key %q", secret)
	}
	checkAccessibility(t, ctx, "key created")
	screenshot(t, ctx, "admin-key-created")

	run(t, ctx, "back to keys", chromedp.Click(chromedp.CSS(`main a[href="/console/keys"]`)), chromedp.WaitVisible(chromedp.CSS("table.grid")))
	page := read(t, ctx, "keys page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(page, secret) || !strings.Contains(page, "checkout-web") {
		t.Fatal("the keys list shows the key, or not its name")
	}
	// Revoke it: the confirmation (htmx) names it, the confirm button revokes.
	run(t, ctx, "ask to revoke",
		chromedp.Click(chromedp.CSS(`form[id^="revoke-"] button`)),
		chromedp.WaitVisible(chromedp.ID("revoke-confirm")),
	)
	question := read(t, ctx, "confirmation", chromedp.Text(chromedp.ID("confirm")))
	if !strings.Contains(question, "Revoke key “checkout-web”") {
		t.Fatalf("confirmation %q does not name the key", question)
	}
	checkAccessibility(t, ctx, "keys with confirmation")
	screenshot(t, ctx, "admin-keys-confirm")
	run(t, ctx, "revoke",
		chromedp.Click(chromedp.CSS(`#revoke-confirm button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if flash := read(t, ctx, "flash", chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "revoked") {
		t.Fatalf("after revoke the page says %q", flash)
	}
	if !read(t, ctx, "revoked badge", chromedp.Evaluate[bool](`!!document.querySelector("table.grid .badge-revoked")`)) {
		t.Fatal("the key is not shown revoked")
	}
	checkAccessibility(t, ctx, "keys")
	screenshot(t, ctx, "admin-keys")

	// Create a user: the first password and TOTP secret are shown once.
	run(t, ctx, "create user",
		chromedp.Navigate(e.srv.URL+"/console/users"),
		chromedp.WaitVisible(chromedp.ID("user-email")),
		chromedp.SendKeys(chromedp.ID("user-email"), "finance@example.com"),
		chromedp.SetValue(chromedp.ID("user-role"), "finance"),
		chromedp.Submit(chromedp.ID("create-user")),
		chromedp.WaitVisible(chromedp.CSS(".once img.qr")),
	)
	if n := read(t, ctx, "secrets", chromedp.Evaluate[int](`document.querySelectorAll(".once .id").length`)); n != 3 {
		t.Fatalf("created user page shows %d secrets, want password, TOTP secret and URL", n)
	}
	checkAccessibility(t, ctx, "user created")
	screenshot(t, ctx, "admin-user-created")

	run(t, ctx, "users", chromedp.Click(chromedp.CSS(`main a[href="/console/users"]`)), chromedp.WaitVisible(chromedp.CSS("table.grid")))
	if list := read(t, ctx, "users list", chromedp.Text(chromedp.CSS("table.grid"))); !strings.Contains(list, "finance@example.com") {
		t.Fatalf("users list %q lacks the new user", list)
	}
	checkAccessibility(t, ctx, "users")
	screenshot(t, ctx, "admin-users")

	// A user's page, with a change asked for.
	run(t, ctx, "user page",
		chromedp.Click(chromedp.CSS(`table.grid a[href^="/console/users/"]`)),
		chromedp.WaitVisible(chromedp.ID("role-form")),
		chromedp.Click(chromedp.CSS(`#disable-form button`)),
		chromedp.WaitVisible(chromedp.ID("confirm-form")),
	)
	checkAccessibility(t, ctx, "user")
	screenshot(t, ctx, "admin-user")
}

// ---- helpers ----

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// userID is the id of the console user with email.
func userID(t *testing.T, e *env, email string) string {
	t.Helper()
	list, _, err := e.users.List(context.Background(), users.Filter{Limit: users.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if u.Email == email {
			return u.ID
		}
	}
	t.Fatalf("no user %s", email)
	return ""
}

// auditRows lists the audit rows f selects, newest first.
func auditRows(t *testing.T, e *env, f audit.Filter) []audit.Entry {
	t.Helper()
	f.Limit = audit.MaxLimit
	rows, _, err := e.audit.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// formToken is the token field of the form with id in body.
func formToken(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no form %s in\n%s", id, body)
	}
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body[i:])
	if m == nil {
		t.Fatalf("form %s has no token", id)
	}
	return html.UnescapeString(m[1])
}

// onceValues are the values a page shows once (the copyable ids inside
// the .once panel), in order.
func onceValues(t *testing.T, body string) []string {
	t.Helper()
	i := strings.Index(body, `class="confirm once"`)
	if i < 0 {
		return nil
	}
	end := strings.Index(body[i:], "</section>")
	var out []string
	for _, m := range regexp.MustCompile(`data-copy="([^"]+)"`).FindAllStringSubmatch(body[i:i+end], -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}
