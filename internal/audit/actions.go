package audit

import (
	"strconv"
	"strings"
)

// The actions audit rows name. The admin API and the console record the
// same action for the same change, so one query over the log finds it
// whichever door it came through.
const (
	ActionAPIKeyCreate = "api-key.create"
	ActionAPIKeyRevoke = "api-key.revoke"

	ActionBankAccountCreate   = "bank-account.create"
	ActionBankAccountUpdate   = "bank-account.update"
	ActionBankStatementUpload = "bank-statement.upload"

	ActionDisputeAccept = "dispute.accept"
	ActionDisputeDefend = "dispute.defend"

	ActionJournalBuild           = "journal.build"
	ActionJournalAccountsReplace = "journal-accounts.replace"
	ActionJournalPeriodClose     = "journal-period.close"
	ActionJournalPeriodReopen    = "journal-period.reopen"

	ActionPaymentCreate  = "payment.create"
	ActionPaymentCapture = "payment.capture"
	ActionPaymentCancel  = "payment.cancel"
	ActionPaymentRefund  = "payment.refund"
	ActionPaymentSync    = "payment.sync"
	ActionPaymentReview  = "payment.review"
	ActionPaymentExport  = "payment.export" // the console's CSV of a filtered list

	ActionReconUpload       = "recon-report.upload"
	ActionReconRunStart     = "recon-run.start"
	ActionDiscrepancyUpdate = "recon-discrepancy.update"
	ActionDiscrepancyBulk   = "recon-discrepancy.bulk-update"

	ActionWebhookReplay = "webhook-event.replay"
)

// Targets name what an action changed, as "<kind>:<id>".

func APIKeyTarget(id string) string  { return "api-key:" + id }
func DisputeTarget(id string) string { return "dispute:" + id }
func PaymentTarget(id string) string { return "payment:" + id }
func ReconRunTarget(id int64) string { return "recon-run:" + strconv.FormatInt(id, 10) }

// DiscrepancyBulkTarget is a bulk change's target: up to recon.MaxBulk ids
// do not fit the indexed target column, so its input lists the ids.
const DiscrepancyBulkTarget = "recon-discrepancy:bulk"

func DiscrepancyTarget(id int64) string     { return "recon-discrepancy:" + strconv.FormatInt(id, 10) }
func ReconReportTarget(ids []string) string { return "recon-report:" + strings.Join(ids, ",") }
func WebhookTarget(id string) string        { return "webhook-event:" + id }

func BankAccountTarget(id int64) string       { return "bank-account:" + strconv.FormatInt(id, 10) }
func BankStatementTarget(ids []string) string { return "bank-statement:" + strings.Join(ids, ",") }

// JournalAccountsTarget is the chart of accounts, replaced whole.
const JournalAccountsTarget = "journal-accounts:chart"

func JournalPeriodTarget(month string) string { return "journal-period:" + month }
