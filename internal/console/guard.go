package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/users"
)

// contentSecurityPolicy allows the console's own scripts, styles, images
// and fonts and nothing else: no inline script or style (htmx is told not
// to inject its indicator style, templates/layout.html), no eval, no
// framing, forms post only to us.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// guard sets the headers every console answer carries and refuses a
// state change that a browser reports as sent from another site (Go's
// CrossOriginProtection reads Sec-Fetch-Site, then Origin against Host).
// SameSite=Lax cookies already keep the session off most cross-site
// requests; this also covers a sibling subdomain, which Lax counts as
// same-site.
func (c *Console) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.d.Log.WarnContext(r.Context(), "console: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		c.problem(w, r, http.StatusForbidden, "Cross-site request refused",
			"This change was sent from another site. Open the console and try again from there.")
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if c.d.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		protected.ServeHTTP(w, r)
	})
}

// cacheAssets lets browsers keep assets for a day: their names carry a
// version where it matters (htmx), and a changed stylesheet is picked up
// the next day at worst or on reload.
func cacheAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

// handler is a console page or action: it runs for a signed-in user whose
// role allows it. A returned error is rendered (render.go, showError).
type handler func(w http.ResponseWriter, r *http.Request, s *session) error

// page wraps h: the request must carry a live session whose user's role
// allows need. Without one, a page load goes to the login form (and back
// here after), an htmx request is told to go there, any other request is
// 401. A role that does not allow need is 403, and so is a forged request
// for an action the page did not offer.
func (c *Console) page(need auth.Need, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if errors.Is(err, users.ErrUnauthenticated) {
			c.clearCookie(w)
			c.toLogin(w, r)
			return
		}
		if err != nil {
			c.showError(w, r, nil, err)
			return
		}
		if !auth.Allows(s.User.Role, need) {
			c.d.Log.WarnContext(r.Context(), "console: role refused", "user_id", s.User.ID, "role", s.User.Role,
				"need", need, "method", r.Method, "path", r.URL.Path)
			c.problem(w, r, http.StatusForbidden, "Not allowed",
				"Your role ("+string(s.User.Role)+") cannot do this. Ask an admin if you need to.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		s.Flash = c.takeFlash(w, r)
		if err := h(w, r, s); err != nil {
			c.showError(w, r, s, err)
		}
	})
}

// toLogin sends a request without a session to the login form, keeping
// where it was going for a page load.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	target := Prefix + "/login"
	if r.Method == http.MethodGet {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	switch {
	case r.Header.Get("HX-Request") == "true":
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		http.Redirect(w, r, target, http.StatusSeeOther)
	default:
		c.problem(w, r, http.StatusUnauthorized, "Signed out", "Your session ended. Sign in again.")
	}
}

// safeNext is where to go after login: a console path only, so the login
// form cannot be used to send someone to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, Prefix+"/login") {
		return Prefix + "/today"
	}
	return next
}
