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

	// Today (today.go): the day at a glance, each number a link.
	m.Handle("GET "+Prefix+"/today", c.page(auth.NeedRead, c.today))

	// Settings (settings.go): every user's own.
	m.Handle("GET "+Prefix+"/settings", c.page(auth.NeedRead, c.settings))
	m.Handle("POST "+Prefix+"/settings/sessions/revoke", c.page(auth.NeedRead, c.revokeSession))
	m.Handle("POST "+Prefix+"/settings/time-zone", c.page(auth.NeedRead, c.setTimeZone))
	// Saved views (views.go): each user's own named filters of a list.
	m.Handle("POST "+Prefix+"/views", c.page(auth.NeedRead, c.saveView))
	m.Handle("POST "+Prefix+"/views/{id}/delete", c.page(auth.NeedRead, c.deleteView))

	// Payments (payments.go, payments_actions.go): the same Need as each
	// route of cmd/api/routes.go; a preview needs what its action needs.
	m.Handle("GET "+Prefix+"/payments", c.page(auth.NeedRead, c.paymentList))
	m.Handle("GET "+Prefix+"/payments/export.csv", c.page(auth.NeedRead, c.paymentExport))
	m.Handle("GET "+Prefix+"/payments/{id}", c.page(auth.NeedRead, c.paymentDetail))
	m.Handle("POST "+Prefix+"/payments/{id}/capture/preview", c.page(auth.NeedOperate, c.paymentCapturePreview))
	m.Handle("POST "+Prefix+"/payments/{id}/capture", c.page(auth.NeedOperate, c.paymentCapture))
	m.Handle("POST "+Prefix+"/payments/{id}/cancel/preview", c.page(auth.NeedOperate, c.paymentCancelPreview))
	m.Handle("POST "+Prefix+"/payments/{id}/cancel", c.page(auth.NeedOperate, c.paymentCancel))
	m.Handle("POST "+Prefix+"/payments/{id}/refund/preview", c.page(auth.NeedOperate, c.paymentRefundPreview))
	m.Handle("POST "+Prefix+"/payments/{id}/refund", c.page(auth.NeedOperate, c.paymentRefund))
	m.Handle("POST "+Prefix+"/payments/{id}/sync", c.page(auth.NeedOperate, c.paymentSync))
	m.Handle("POST "+Prefix+"/payments/{id}/review/preview", c.page(auth.NeedAdmin, c.paymentReviewPreview))
	m.Handle("POST "+Prefix+"/payments/{id}/review", c.page(auth.NeedAdmin, c.paymentReview))

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
	// {op} is disable, enable, role, password or totp (users.go, userOps);
	// all but enable are asked first.
	m.Handle("POST "+Prefix+"/users/{id}/{op}/preview", c.page(auth.NeedAdmin, c.previewUserChange))
	m.Handle("POST "+Prefix+"/users/{id}/{op}", c.page(auth.NeedAdmin, c.changeUser))

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
	// Reconciliation (recon.go, recon_actions.go): reads need read, changes
	// finance, as the API's recon routes.
	m.Handle("GET "+Prefix+"/recon", c.page(auth.NeedRead, c.reconRuns))
	m.Handle("POST "+Prefix+"/recon/reports", c.page(auth.NeedFinance, c.reconUpload))
	m.Handle("POST "+Prefix+"/recon/runs", c.page(auth.NeedFinance, c.reconStartRun))
	m.Handle("GET "+Prefix+"/recon/runs/{id}", c.page(auth.NeedRead, c.reconRun))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/status", c.page(auth.NeedRead, c.reconRunStatus))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/workbook.xlsx", c.page(auth.NeedRead, c.reconWorkbook))
	m.Handle("GET "+Prefix+"/recon/runs/{id}/csv/{file}", c.page(auth.NeedRead, c.reconCSV))
	m.Handle("GET "+Prefix+"/recon/discrepancies", c.page(auth.NeedRead, c.reconDiscrepancies))
	m.Handle("POST "+Prefix+"/recon/discrepancies/{id}/status", c.page(auth.NeedFinance, c.reconUpdateDiscrepancy))
	m.Handle("POST "+Prefix+"/recon/discrepancies/bulk/preview", c.page(auth.NeedFinance, c.reconBulkPreview))
	m.Handle("POST "+Prefix+"/recon/discrepancies/bulk", c.page(auth.NeedFinance, c.reconBulk))

	// Journals (journals.go): finance reads, exports, replaces the chart and
	// closes periods; only an admin reopens one, as the API's journal routes.
	m.Handle("GET "+Prefix+"/journals", c.page(auth.NeedFinance, c.journalList))
	m.Handle("GET "+Prefix+"/journals/export", c.page(auth.NeedFinance, c.journalExport))
	m.Handle("GET "+Prefix+"/journals/{id}", c.page(auth.NeedFinance, c.journalDetail))
	m.Handle("GET "+Prefix+"/journals/accounts", c.page(auth.NeedFinance, c.journalAccounts))
	m.Handle("GET "+Prefix+"/journals/accounts.csv", c.page(auth.NeedFinance, c.journalAccountsCSV))
	m.Handle("POST "+Prefix+"/journals/accounts", c.page(auth.NeedFinance, c.journalChartUpload))
	m.Handle("GET "+Prefix+"/journals/periods", c.page(auth.NeedFinance, c.journalPeriods))
	m.Handle("POST "+Prefix+"/journals/periods/{month}/close/preview", c.page(auth.NeedFinance, c.journalClosePreview))
	m.Handle("POST "+Prefix+"/journals/periods/{month}/close", c.page(auth.NeedFinance, c.journalClose))
	m.Handle("POST "+Prefix+"/journals/periods/{month}/reopen", c.page(auth.NeedAdmin, c.journalReopen))
	// Payouts (payouts.go): finance reads them, as the API's payout routes.
	m.Handle("GET "+Prefix+"/payouts", c.page(auth.NeedFinance, c.payoutList))
	m.Handle("GET "+Prefix+"/payouts/{id}", c.page(auth.NeedFinance, c.payoutDetail))
	// Bank (bank.go), as the API's bank routes: reads need read, statement
	// uploads finance, configuring an account admin (asked first).
	m.Handle("GET "+Prefix+"/bank", c.page(auth.NeedRead, c.bankPage))
	m.Handle("POST "+Prefix+"/bank/accounts/preview", c.page(auth.NeedAdmin, c.bankCreatePreview))
	m.Handle("POST "+Prefix+"/bank/accounts", c.page(auth.NeedAdmin, c.bankCreate))
	m.Handle("GET "+Prefix+"/bank/accounts/{id}", c.page(auth.NeedRead, c.bankAccount))
	m.Handle("POST "+Prefix+"/bank/accounts/{id}/preview", c.page(auth.NeedAdmin, c.bankChangePreview))
	m.Handle("POST "+Prefix+"/bank/accounts/{id}", c.page(auth.NeedAdmin, c.bankChange))
	m.Handle("POST "+Prefix+"/bank/statements", c.page(auth.NeedFinance, c.bankUpload))
	m.Handle("GET "+Prefix+"/bank/statements/{id}", c.page(auth.NeedRead, c.bankStatement))
}
