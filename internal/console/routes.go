package console

import (
	"net/http"

	"github.com/payops/payops/internal/auth"
)

// routes registers every page and action and the role each needs; reading
// this file tells you the whole console. Pages are GET; every change is a
// POST from a form carrying a token (action.go), refused cross-site
// (guard.go).
func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	m.HandleFunc("POST "+Prefix+"/login", c.login)
	m.HandleFunc("POST "+Prefix+"/logout", c.logout)
	m.Handle("GET "+Prefix+"/{$}", http.RedirectHandler(Prefix+"/today", http.StatusSeeOther))

	// Settings (settings.go): every user's own.
	m.Handle("GET "+Prefix+"/settings", c.page(auth.NeedRead, c.settings))
	m.Handle("POST "+Prefix+"/settings/sessions/revoke", c.page(auth.NeedRead, c.revokeSession))
	m.Handle("POST "+Prefix+"/settings/time-zone", c.page(auth.NeedRead, c.setTimeZone))
}
