package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/auth"
)

func TestLoginSessionAndLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	c := e.client(t)

	resp, _ := e.get(t, c, "/console/settings")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login?next=%2Fconsole%2Fsettings" {
		t.Fatalf("signed out: %d to %q, want 303 to the login form with next", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A wrong code reads like a wrong password: nothing says which.
	resp, body := e.post(t, c, "/console/login", url.Values{"email": {ops.Email}, "password": {ops.Password}, "code": {"000000"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Email, password or code is wrong.") {
		t.Fatalf("wrong code: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, ops.Password) {
		t.Fatal("the login form echoed the password")
	}
	// An operator moves money: no code, no session.
	resp, _ = e.post(t, c, "/console/login", url.Values{"email": {ops.Email}, "password": {ops.Password}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("operator without a code: %d, want 401", resp.StatusCode)
	}

	resp, _ = e.post(t, c, "/console/login", url.Values{"email": {ops.Email}, "password": {ops.Password},
		"code": {e.code(t, ops)}, "next": {"https://evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/today" {
		t.Fatalf("login: %d to %q, want 303 to /console/today (never another site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "payops_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/console/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/console/", cookie)
	}

	resp, body = e.get(t, c, "/console/settings")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, ops.Email) {
		t.Fatalf("settings: %d\n%s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP %q: want scripts from the console only, nothing inline or eval'd", csp)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
		t.Fatal("a page holds inline script or style, which the CSP would block")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q on a signed-in page, want no-store", got)
	}

	resp, _ = e.post(t, c, "/console/logout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// The session is over on the server: its token no longer works even if
	// a copy of the cookie survived.
	c2 := e.client(t)
	c2.Jar.SetCookies(mustURL(t, e.srv.URL+"/console/"), []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/console/"}})
	if resp, _ := e.get(t, c2, "/console/settings"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the logged-out session's token still works: %d", resp.StatusCode)
	}
}

// TestCrossSiteChangeRefused: a form posted from another site is refused
// before it reaches the handler, even with a live session.
func TestCrossSiteChangeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := e.user(t, "ops@example.com", auth.RoleOperator)
	c := e.client(t)
	e.login(t, c, ops)

	resp, body := e.post(t, c, "/console/logout", nil, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Cross-site request refused") {
		t.Fatalf("cross-site logout: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := e.get(t, c, "/console/settings"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the refused request changed something: settings now %d", resp.StatusCode)
	}
}

// TestLoginInBrowser signs in through the form in Chromium, checks the
// login and settings pages for accessibility and saves their screenshots.
func TestLoginInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.user(t, "admin@example.com", auth.RoleAdmin)
	ctx := e.browser(t)

	run(t, ctx, "login page", chromedp.Navigate(e.srv.URL+"/console/login"), chromedp.WaitVisible(chromedp.ID("email")))
	checkAccessibility(t, ctx, "login")
	screenshot(t, ctx, "login")

	e.browserLogin(t, ctx, admin)
	run(t, ctx, "settings", chromedp.Navigate(e.srv.URL+"/console/settings"))
	who := read(t, ctx, "who", chromedp.Text(chromedp.CSS(".who")))
	if !strings.Contains(who, admin.Email) {
		t.Fatalf("header shows %q, want the signed-in email", who)
	}
	checkAccessibility(t, ctx, "settings")
	screenshot(t, ctx, "settings")

	// "/" focuses the search box.
	run(t, ctx, "slash", chromedp.KeyEvent("/"))
	focused := read(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if focused != "search" {
		t.Fatalf("after /, focus is on %q, want the search box", focused)
	}

	run(t, ctx, "logout", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.ID("login")))
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTimeZoneChoice: times show in the zone a user chose, UTC on hover;
// an unknown zone is refused inline and changes nothing.
func TestTimeZoneChoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "fin@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, fin)

	resp, body := e.post(t, c, "/console/settings/time-zone", url.Values{"time_zone": {"Mars/Olympus"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "time_zone") {
		t.Fatalf("unknown zone: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = e.post(t, c, "/console/settings/time-zone", url.Values{"time_zone": {"Asia/Tokyo"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set zone: %d", resp.StatusCode)
	}
	resp, body = e.get(t, c, "/console/settings")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, " JST</time>") || !strings.Contains(body, `title="`) ||
		!strings.Contains(body, "Times are now shown in Asia/Tokyo.") {
		t.Fatalf("settings after the change: %d\n%s", resp.StatusCode, body)
	}
}
