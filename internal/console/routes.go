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

	// Admin pages (admin.go, auditlog.go, keys.go, users.go): the audit log,
	// API keys and console users, admin only as in the API. Changes of keys
	// and users write their audit row in their own transaction.
	m.Handle("GET "+Prefix+"/audit", c.page(auth.NeedAdmin, c.auditLog))
	m.Handle("GET "+Prefix+"/keys", c.page(auth.NeedAdmin, c.keys))
	m.Handle("POST "+Prefix+"/keys", c.page(auth.NeedAdmin, c.createKey))
	m.Handle("POST "+Prefix+"/keys/{id}/revoke/preview", c.page(auth.NeedAdmin, c.previewRevokeKey))
	m.Handle("POST "+Prefix+"/keys/{id}/revoke", c.page(auth.NeedAdmin, c.revokeKey))
	m.Handle("GET "+Prefix+"/users", c.page(auth.NeedAdmin, c.usersPage))
	m.Handle("POST "+Prefix+"/users", c.page(auth.NeedAdmin, c.createUser))
	m.Handle("GET "+Prefix+"/users/{id}", c.page(auth.NeedAdmin, c.userPage))
	// {op} is disable, enable, role or password (users.go, userOps); all
	// but enable are asked first.
	m.Handle("POST "+Prefix+"/users/{id}/{op}/preview", c.page(auth.NeedAdmin, c.previewUserChange))
	m.Handle("POST "+Prefix+"/users/{id}/{op}", c.page(auth.NeedAdmin, c.changeUser))
}
