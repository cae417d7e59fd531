package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/payops/payops/internal/users"
)

// session is the signed-in person a request acts for.
type session struct {
	User    users.User
	Session users.Session
	Zone    *time.Location // the user's chosen zone for times on pages
	Flash   string         // the confirmation a redirect after a change left
}

// Actor is the user as audit rows and domain services name them.
func (s *session) Actor() string { return s.User.Email }

// maxLoginForm bounds the login form: an email, a password and a code.
const maxLoginForm = 16 << 10

func (c *Console) cookieName() string {
	if c.d.Secure {
		// __Host-: the browser takes it only over TLS, for this host, for
		// path /, so a sibling subdomain cannot plant or shadow it.
		return "__Host-payops_session"
	}
	return "payops_session"
}

func (c *Console) cookiePath() string {
	if c.d.Secure {
		return "/"
	}
	return Prefix + "/"
}

func (c *Console) setCookie(w http.ResponseWriter, token users.Token, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: token.Reveal(), Path: c.cookiePath(), Expires: expires,
		HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
}

func (c *Console) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: "", Path: c.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: c.d.Secure, SameSite: http.SameSiteLaxMode})
}

// session returns the request's signed-in user, or users.ErrUnauthenticated.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || ck.Value == "" {
		return nil, users.ErrUnauthenticated
	}
	u, sess, err := c.d.Users.Authenticate(r.Context(), users.Token(ck.Value))
	if err != nil {
		return nil, err
	}
	return &session{User: u, Session: sess, Zone: zoneOf(u)}, nil
}

// zoneOf is the zone u chose for times on pages; UTC when none or unknown.
func zoneOf(u users.User) *time.Location {
	if loc, err := time.LoadLocation(u.TimeZone); err == nil && u.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// loginForm is what the login page shows again after a failed attempt:
// the email and where to go, never the password or the code.
type loginForm struct {
	Email string
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.session(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: loginForm{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks email, password and code (users.Login), opens a new session
// and sets its cookie. Every failure that could tell whether an account
// exists reads the same.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		c.problem(w, r, http.StatusBadRequest, "Unreadable form", "The sign-in form could not be read.")
		return
	}
	form := loginForm{Email: strings.TrimSpace(r.PostFormValue("email")), Next: safeNext(r.PostFormValue("next"))}
	sess, token, err := c.d.Users.Login(r.Context(), users.LoginRequest{
		Email:      form.Email,
		Password:   users.Secret(r.PostFormValue("password")),
		Code:       strings.TrimSpace(r.PostFormValue("code")),
		RemoteAddr: remoteAddr(r),
		UserAgent:  r.UserAgent(),
	})
	if err != nil {
		status, msg := loginFailure(err)
		if status == http.StatusInternalServerError {
			c.d.Log.ErrorContext(r.Context(), "console login", "err", err)
		}
		form.Error = msg
		c.render(w, r, status, "login", view{Title: "Sign in", Data: form})
		return
	}
	c.setCookie(w, token, sess.ExpiresAt)
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

// loginFailure is the status and message of a failed login.
func loginFailure(err error) (int, string) {
	var locked *users.LockedError
	switch {
	case errors.Is(err, users.ErrUnauthenticated):
		return http.StatusUnauthorized, "Email, password or code is wrong."
	case errors.As(err, &locked):
		return http.StatusTooManyRequests, "Too many failed sign-ins for this account. Try again in " +
			locked.RetryAfter.Round(time.Second).String() + "."
	case errors.Is(err, users.ErrThrottled):
		return http.StatusTooManyRequests, "Too many failed sign-ins from your network. Wait a minute and try again."
	}
	return http.StatusInternalServerError, "Signing in failed on our side. Try again; if it persists, tell your admin."
}

// logout ends the session server-side and drops the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookieName()); err == nil && ck.Value != "" {
		if err := c.d.Users.Logout(r.Context(), users.Token(ck.Value)); err != nil {
			c.showError(w, r, nil, err)
			return
		}
	}
	c.clearCookie(w)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
