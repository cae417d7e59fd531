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

	// Reconciliation (recon.go): reads need read, changes finance, as the
	// API's recon routes.
	m.Handle("GET "+Prefix+"/recon", c.page(auth.NeedRead, c.reconRuns))
	m.Handle("POST "+Prefix+"/recon/reports", c.page(auth.NeedFinance, c.reconUpload))
	m.Handle("POST "+Prefix+"/recon/runs", c.page(auth.NeedFinance, c.reconStartRun))
	m.Handle("GET "+Prefix+"/recon/runs/{id}", c.page(auth.NeedRead, c.reconRun))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/status", c.page(auth.NeedRead, c.reconRunStatus))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/workbook.xlsx", c.page(auth.NeedRead, c.reconWorkbook))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/csv/{file}", c.page(auth.NeedRead, c.reconCSV))
	m.Handle("GET "+Prefix+"/recon/discrepancies", c.page(auth.NeedRead, c.reconDiscrepancies))
	m.Handle("POST "+Prefix+"/recon/discrepancies/{id}/status", c.page(auth.NeedFinance, c.reconUpdateDiscrepancy))
}
