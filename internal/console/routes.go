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

	// Disputes (disputes.go, disputes_defence.go): the API's needs for the same reads and changes.
	m.Handle("GET "+Prefix+"/disputes", c.page(auth.NeedRead, c.disputeList))
	m.Handle("GET "+Prefix+"/disputes/{id}", c.page(auth.NeedRead, c.disputeDetail))
	m.Handle("GET "+Prefix+"/disputes/{id}/template", c.page(auth.NeedOperate, c.disputeTemplate))
	m.Handle("POST "+Prefix+"/disputes/{id}/accept/preview", c.page(auth.NeedOperate, c.disputeAcceptPreview))
	m.Handle("POST "+Prefix+"/disputes/{id}/accept", c.page(auth.NeedOperate, c.disputeAccept))
	m.Handle("POST "+Prefix+"/disputes/{id}/defend/preview", c.page(auth.NeedOperate, c.disputeDefendPreview))
	m.Handle("POST "+Prefix+"/disputes/{id}/defend", c.page(auth.NeedOperate, c.disputeDefend))

	// Webhooks (webhooks.go).
	m.Handle("GET "+Prefix+"/webhooks", c.page(auth.NeedRead, c.webhookList))
	m.Handle("POST "+Prefix+"/webhooks/replay", c.page(auth.NeedOperate, c.webhookReplayBulk))
	m.Handle("POST "+Prefix+"/webhooks/{id}/replay", c.page(auth.NeedOperate, c.webhookReplay))
}
