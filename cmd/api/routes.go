package main

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
)

// addRoutes registers every operation. Reading this file tells you the
// entire API and who may call each operation: addRoutes and the three
// resource functions it calls below (addDisputeRoutes, addReconRoutes,
// addBankRoutes, addJournalRoutes, addPayoutRoutes) are the only places an operation is registered. Handlers live in the file
// named after their resource. Authenticated operations are wrapped in
// needs(permission, …), open ones in public(…); changes in idem.Wrap
// (Idempotency-Key). Handlers audit with recordAudit and answer errors
// with httpError (edge.go, errors.go).
func addRoutes(api huma.API, svc *services) {
	api.OpenAPI().Tags = []*huma.Tag{
		{Name: "Health", Description: "Probes for the process supervisor and load balancer; no API key needed."},
		{Name: "API keys", Description: "Bearer keys and their roles. Keys are stored as hashes and shown once."},
		{Name: "Audit log", Description: "Who changed what, when, from where, with which (redacted) input."},
		{Name: "Payments", Description: "Card payments through APO: authorize (with 3DS), capture, cancel, refund, " +
			"and everything learned about each. Card numbers and CVVs are passed to APO and never stored or shown."},
		{Name: "Webhooks", Description: "APO's signed notifications: the intake APO calls, and the stored events."},
	}
	// Every POST but create-api-key honours Idempotency-Key (that one would
	// have to keep the new key to replay it). One guard and one audit log
	// serve every operation (edge.go).
	e := newEdge(api, svc.log, svc.audit, svc.idempotency)
	idem := e.idem

	// Disputes, reconciliation and bank statements: registered below, in this file, in
	// functions of their own so that their tests can register them alone.
	addDisputeRoutes(api, e, svc.disputes)
	addReconRoutes(api, e, svc.recon, svc.enqueueRun)
	addBankRoutes(api, e, svc.bank, svc.uploadDir)
	addJournalRoutes(api, e, svc.journals)
	addPayoutRoutes(api, e, svc.payouts)

	// Health (health.go).
	huma.Register(api, public(huma.Operation{
		OperationID: "get-healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness probe", Tags: []string{"Health"},
		Description: "Answers 200 while the process runs; it checks no dependency.",
	}), healthz())
	huma.Register(api, public(huma.Operation{
		OperationID: "get-readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness probe", Tags: []string{"Health"},
		Description: "Pings PostgreSQL and Redis, each with a short timeout. 503 names what failed. 200 with status `degraded` when APO's replies cannot be verified (a wrong key pair or client id): `checks.apo` names the likely cause.",
		Errors:      []int{http.StatusServiceUnavailable},
	}), readyz(svc.log, svc.checks, svc.readyTimeout))

	// API keys (apikeys.go).
	huma.Register(api, needs(auth.NeedAdmin, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/api-keys",
		Summary: "Create an API key", Tags: []string{"API keys"}, DefaultStatus: http.StatusCreated,
		Description: "Returns the new key in `key`. It is shown only in this response: payops stores a hash.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), createAPIKey(svc.log, auth.NewKeys(svc.db)))
	huma.Register(api, needs(auth.NeedAdmin, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/api-keys",
		Summary: "List API keys", Tags: []string{"API keys"},
		Description: "Every key, revoked ones included, newest first. Keys themselves are never shown.",
	}), listAPIKeys(svc.log, svc.keys))
	huma.Register(api, needs(auth.NeedAdmin, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/api-keys/{id}",
		Summary: "Revoke an API key", Tags: []string{"API keys"}, DefaultStatus: http.StatusNoContent,
		Description: "The key stops working at once. Revoking a revoked key is a no-op.",
		Errors:      []int{http.StatusNotFound},
	}), revokeAPIKey(svc.log, auth.NewKeys(svc.db)))

	// Audit log (auditlog.go).
	huma.Register(api, needs(auth.NeedAdmin, huma.Operation{
		OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/audit-log",
		Summary: "List the audit log", Tags: []string{"Audit log"},
		Description: "Every change made through the API or the command line, newest first.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), listAuditLog(svc.log, svc.audit))

	// Payments (payments.go).
	huma.Register(api, needs(auth.NeedCheckout, idem.Wrap(huma.Operation{
		OperationID: "create-payment", Method: http.MethodPost, Path: "/v1/payments",
		Summary: "Create a payment", Tags: []string{"Payments"}, DefaultStatus: http.StatusCreated,
		Description: "Stores the payment, then asks APO to authorize it. The answer's `status` is " +
			"`AUTHORIZED` (or `CAPTURED` with capture_mode AUTOMATIC once APO captured), `FAILED` with APO's " +
			"result code, `REQUIRES_ACTION` with `normal_url` (send the buyer there for 3DS), or `PROCESSING` " +
			"when APO's answer is not final yet: notifications and inquiries settle it.",
		Errors: []int{http.StatusUnprocessableEntity},
	})), createPayment(svc.log, svc.audit, svc.payments))
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-payments", Method: http.MethodGet, Path: "/v1/payments",
		Summary: "List payments", Tags: []string{"Payments"},
		Description: "Newest first, keyset-paginated. Filters combine with AND.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), listPayments(svc.log, svc.payments))
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-payment", Method: http.MethodGet, Path: "/v1/payments/{id}",
		Summary: "Get a payment", Tags: []string{"Payments"},
		Description: "The payment with its transactions and its timeline: every answer, notification and " +
			"inquiry result, applied or only recorded.",
		Errors: []int{http.StatusNotFound},
	}), getPayment(svc.log, svc.payments))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "capture-payment", Method: http.MethodPost, Path: "/v1/payments/{id}/captures",
		Summary: "Capture a payment", Tags: []string{"Payments"},
		Description: "Captures `amount` (default: all not yet captured) of an AUTHORIZED payment. Several partial " +
			"captures may follow each other up to the authorized amount; `final` releases the rest.",
		Errors: []int{http.StatusNotFound},
	})), capturePayment(svc.log, svc.audit, svc.payments))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "cancel-payment", Method: http.MethodPost, Path: "/v1/payments/{id}/cancel",
		Summary: "Cancel a payment", Tags: []string{"Payments"},
		Description: "Voids an AUTHORIZED payment that has no capture. After a capture, refund instead (409).",
		Errors:      []int{http.StatusNotFound},
	})), cancelPayment(svc.log, svc.audit, svc.payments))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "refund-payment", Method: http.MethodPost, Path: "/v1/payments/{id}/refunds",
		Summary: "Refund a payment", Tags: []string{"Payments"},
		Description: "Refunds part of what was captured. Refunds never exceed captured minus refunded, even " +
			"when requests race (409).",
		Errors: []int{http.StatusNotFound},
	})), refundPayment(svc.log, svc.audit, svc.payments))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "sync-payment", Method: http.MethodPost, Path: "/v1/payments/{id}/sync",
		Summary: "Ask APO where a payment stands", Tags: []string{"Payments"},
		Description: "Runs inquiryPayment (and inquiryRefund for refunds still in progress) now and applies " +
			"the answers. 502/503 when APO cannot answer; nothing changes then.",
		Errors: []int{http.StatusNotFound, http.StatusBadGateway, http.StatusServiceUnavailable},
	})), syncPayment(svc.log, svc.audit, svc.payments))
	huma.Register(api, needs(auth.NeedAdmin, idem.Wrap(huma.Operation{
		OperationID: "review-payment", Method: http.MethodPost, Path: "/v1/payments/{id}/review",
		Summary: "Resolve a payment that needs review", Tags: []string{"Payments"},
		Description: "Sets the status of a payment whose sources disagreed (`needs_review`), with a mandatory " +
			"reason that lands in the timeline and the audit log.",
		Errors: []int{http.StatusNotFound},
	})), reviewPayment(svc.log, svc.audit, svc.payments))

	// Webhooks (webhooks.go).
	huma.Register(api, public(huma.Operation{
		OperationID: "receive-apo-notification", Method: http.MethodPost, Path: "/webhooks/apo",
		Summary: "Receive an APO notification", Tags: []string{"Webhooks"},
		Description: "Where APO sends payment, capture, refund and dispute notifications. The RSA signature " +
			"over method, path, client-id, request-time and the raw body is verified with APO's public key; " +
			"the event is stored (deduplicated) before the answer, then processed.",
		MaxBodyBytes: maxWebhookBody, BodyReadTimeout: webhookReadTimeout,
		Responses: webhookResponses(api),
	}), receiveWebhook(svc.log, svc.inbox))
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-webhook-events", Method: http.MethodGet, Path: "/v1/webhook-events",
		Summary: "List stored notifications", Tags: []string{"Webhooks"},
		Description: "Every notification received, invalid ones included, newest first. Bodies are redacted.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), listWebhookEvents(svc.log, svc.inbox))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "replay-webhook-event", Method: http.MethodPost, Path: "/v1/webhook-events/{id}/replay",
		Summary: "Process a stored notification again", Tags: []string{"Webhooks"},
		Description: "Processes the event now and answers its state afterwards. Applying an event twice " +
			"changes nothing; an event with an invalid signature cannot be replayed (409).",
		Errors: []int{http.StatusNotFound},
	})), replayWebhookEvent(svc.log, svc.audit, svc.inbox))
}

// addDisputeRoutes registers the dispute operations. POSTs are guarded by
// Idempotency-Key like every other admin POST; both are also idempotent by
// nature (accepting twice, or sending the same document twice, changes
// nothing). Handlers are in disputes.go.
func addDisputeRoutes(api huma.API, e edge, d *disputes.Service) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Disputes",
		Description: "Chargebacks and other card disputes APO notifies: their deadlines, the payment facts a " +
			"defence needs, and accepting or defending them through APO."})
	log, audits, idem := e.log, e.audits, e.idem

	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-disputes", Method: http.MethodGet, Path: "/v1/disputes",
		Summary: "List disputes", Tags: []string{"Disputes"},
		Description: "Newest first, keyset-paginated. `due_within` lists OPEN disputes whose defence is due " +
			"within the duration (overdue ones included), e.g. `48h` or `7d`.",
		Errors: []int{http.StatusUnprocessableEntity},
	}), listDisputes(log, d))
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-dispute", Method: http.MethodGet, Path: "/v1/disputes/{id}",
		Summary: "Get a dispute", Tags: []string{"Disputes"},
		Description: "The dispute, its history (every notification and action), and what a defence needs " +
			"about the payment: amounts, card facts, 3DS, AVS/CVV, acquirer, transactions and timeline.",
		Errors: []int{http.StatusNotFound},
	}), getDispute(log, d))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "accept-dispute", Method: http.MethodPost, Path: "/v1/disputes/{id}/accept",
		Summary: "Accept a dispute", Tags: []string{"Disputes"},
		Description: "Concedes the dispute through APO's acceptDispute. The disputed amount then counts as " +
			"lost: refunds of the payment are held to captured − lost. APO's refusal is 409 with its result " +
			"code (`TIME_EXCEEDS_LIMIT` once the defence window has closed); when APO's answer is unknown the " +
			"answer is 503 and repeating the request is safe.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	})), acceptDispute(log, audits, d))
	huma.Register(api, needs(auth.NeedOperate, idem.Wrap(huma.Operation{
		OperationID: "defend-dispute", Method: http.MethodPost, Path: "/v1/disputes/{id}/defense",
		Summary: "Defend a dispute", Tags: []string{"Disputes"},
		Description: "Uploads one defence document (multipart/form-data, field `file`): a PDF, JPEG or PNG of " +
			"at most 750,000 bytes, recognised by its content. payops stores it with its SHA-256 and sends " +
			"it to APO's supplyDefenseDocument. Sending the same document again changes nothing; another " +
			"document after a defence is 409. APO's refusal is 409 with its result code (`TIME_EXCEEDS_LIMIT` " +
			"after the due time); an unknown outcome is 503 and repeating the request is safe.",
		MaxBodyBytes: maxDefenseBody,
		// The body is parsed by the handler (see DefendDisputeInput); Huma
		// would otherwise try to decode multipart as a document.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{
			Required: true,
			Content: map[string]*huma.MediaType{"multipart/form-data": {
				Schema: &huma.Schema{
					Type: "object", Required: []string{"file"},
					Properties: map[string]*huma.Schema{"file": {Type: "string", Format: "binary",
						Description: "The defence document: PDF, JPEG or PNG, ≤ 750,000 bytes"}},
				},
				Encoding: map[string]*huma.Encoding{"file": {ContentType: "application/pdf, image/jpeg, image/png"}},
			}},
		},
		Middlewares: huma.Middlewares{keepContentType},
		Errors: []int{http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity,
			http.StatusServiceUnavailable},
	})), defendDispute(log, audits, d))
	huma.Register(api, needs(auth.NeedOperate, huma.Operation{
		OperationID: "get-dispute-evidence-template", Method: http.MethodGet, Path: "/v1/disputes/{id}/evidence-template",
		Summary: "Download APO's defence template", Tags: []string{"Disputes"},
		Description: "Fetches the dispute's defence template from APO (downloadDisputeEvidence, " +
			"DISPUTE_EVIDENCE_TEMPLATE) and returns the file: PDF or Word, as APO provides it.",
		Responses: map[string]*huma.Response{"200": {Description: "The template file", Content: map[string]*huma.MediaType{
			"application/pdf":    {Schema: binaryFile},
			"application/msword": {Schema: binaryFile},
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document": {Schema: binaryFile},
		}}},
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}), getEvidenceTemplate(log, d))
}

// addReconRoutes registers the reconciliation operations. Actions need
// finance (admin passes everything), reads need read. The POSTs and the
// PATCH are guarded by Idempotency-Key; each writes an audit row. Handlers
// are in recon.go.
func addReconRoutes(api huma.API, e edge, rs *recon.Service, enqueue func(ctx context.Context, runID int64) error) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Reconciliation",
		Description: "APO's transaction and settlement reports matched against the payments ledger: report " +
			"uploads, runs with their counts, totals and batch roll-forward, the discrepancies they find with " +
			"their owner workflow, and Excel/CSV exports for finance."})
	idem := e.idem
	h := reconAPI{edge: e, api: api, recon: rs, enqueue: enqueue}

	upload := idem.Wrap(huma.Operation{
		OperationID: "upload-recon-reports", Method: http.MethodPost, Path: "/v1/recon/reports",
		Summary: "Upload APO report files", Tags: []string{"Reconciliation"}, DefaultStatus: http.StatusCreated,
		Description: "multipart/form-data with one or more `file` parts, each an APO report named as APO names " +
			"it (`transactionItems_<yyyyMMdd>_<seq>`, `settlementItems_<ccy>_<batchId>_<seq>` or " +
			"`settlementSummary_<ccy>_<batchId>_<seq>`, `.csv` or `.xlsx`), at most 256 MiB in all (413 beyond). " +
			"Each file is archived with its SHA-256 and its lines staged. The same content uploaded again is not " +
			"ingested twice: the answer is the earlier file with `duplicate: true`. A file without the `<END>` " +
			"trailer is kept as `INCOMPLETE` and not reconciled. A bad file name refuses the whole upload before " +
			"anything is kept; a file with bad lines is recorded `FAILED` and the answer is 422 listing each bad " +
			"line as `<file>:<line>` (other files of the upload are ingested; uploading them again is harmless).",
		MaxBodyBytes: maxReportUpload, BodyReadTimeout: reportUploadTimeout,
		Errors: []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	})
	// After the guard, so the handler reads the body the guard hands on.
	upload.Middlewares = append(upload.Middlewares, keepUploadBody)
	huma.Register(api, needs(auth.NeedFinance, upload), h.uploadReports)
	// Declared after registration: with a request body in the operation,
	// Huma would read the whole upload into memory itself, and the handler
	// streams it to disk instead.
	api.OpenAPI().Paths["/v1/recon/reports"].Post.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {
			Schema: &huma.Schema{
				Type: "object", Required: []string{"file"},
				Properties: map[string]*huma.Schema{"file": {Type: "array", Items: binaryFile,
					Description: "One or more report files; each part's filename is the APO file name"}},
			},
			Encoding: map[string]*huma.Encoding{"file": {ContentType: "text/csv, " + xlsxContentType}},
		}},
	}

	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "start-recon-run", Method: http.MethodPost, Path: "/v1/recon/runs",
		Summary: "Start a reconciliation run", Tags: []string{"Reconciliation"}, DefaultStatus: http.StatusAccepted,
		Description: "Reconciles either every ingested file of `date` (that day's transaction items, the " +
			"settlement files of batches settled that day, and their summaries) or exactly `file_ids`. A `date` " +
			"with no report files is accepted when payouts fall due or bank credits are booked on it: the run " +
			"then judges those (docs/payouts.md); otherwise 422. The run " +
			"is recorded and handed to the worker; the answer is the `QUEUED` run. Poll `GET " +
			"/v1/recon/runs/{id}` for its progress. 503 when the run could not be queued (it is then `FAILED`).",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	})), h.startRun)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-recon-runs", Method: http.MethodGet, Path: "/v1/recon/runs",
		Summary: "List reconciliation runs", Tags: []string{"Reconciliation"},
		Description: "Newest first, keyset-paginated.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), h.listRuns)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-recon-run", Method: http.MethodGet, Path: "/v1/recon/runs/{id}",
		Summary: "Get a reconciliation run", Tags: []string{"Reconciliation"},
		Description: "The run: its inputs with their hashes, status and progress, counts, totals per " +
			"discrepancy kind and currency, batch roll-forward, timings, and what changed since the previous " +
			"run of the same period.",
		Errors: []int{http.StatusNotFound},
	}), h.getRun)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-recon-discrepancies", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/discrepancies",
		Summary: "List a run's discrepancies", Tags: []string{"Reconciliation"},
		Description: "In id order, keyset-paginated. Filters combine with AND.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}), h.listDiscrepancies)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-current-recon-discrepancies", Method: http.MethodGet, Path: "/v1/recon/discrepancies",
		Summary: "List the current discrepancies of every period", Tags: []string{"Reconciliation"},
		Description: "The discrepancies as they stand now, without knowing a run id: those of the latest " +
			"`SUCCEEDED` run of each period (a later run of a period supersedes the earlier ones, carrying each " +
			"discrepancy it finds again with its status, and leaving out those it no longer finds), so each " +
			"discrepancy is listed once, in its latest state. `status=OPEN` is finance's worklist. In id order, " +
			"keyset-paginated; filters combine with AND. A `run_id` must name its period's latest run (422 " +
			"otherwise; `GET /v1/recon/runs/{id}/discrepancies` lists what any run found).",
		Errors: []int{http.StatusUnprocessableEntity},
	}), h.currentDiscrepancies)
	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "update-recon-discrepancy", Method: http.MethodPatch, Path: "/v1/recon/discrepancies/{id}",
		Summary: "Resolve, ignore or reopen a discrepancy", Tags: []string{"Reconciliation"},
		Description: "The owner workflow: an `OPEN` discrepancy is closed as `RESOLVED` or `IGNORED`, and a closed " +
			"one is reopened with `OPEN`; every change takes a mandatory note, kept with the actor (and carried to " +
			"later runs that find the same, unchanged discrepancy) and written to the audit log. Any other change " +
			"(closing a closed one, opening an open one) is 409. Only a discrepancy of its period's latest run can " +
			"change (409 naming the current one otherwise), and not while a run of its period is in progress (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.updateDiscrepancy)
	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "bulk-update-recon-discrepancies", Method: http.MethodPost, Path: "/v1/recon/discrepancies/bulk",
		Summary: "Resolve, ignore or reopen many discrepancies at once", Tags: []string{"Reconciliation"},
		Description: "The owner workflow of `PATCH /v1/recon/discrepancies/{id}` over either `ids` or a `filter` of the " +
			"current discrepancies (as `GET /v1/recon/discrepancies` selects them, plus its amount and age filters), with " +
			"one mandatory note. All or nothing: when any selected discrepancy may not change as the PATCH would " +
			"refuse it (closed already, a superseded run's row, a run of its period in progress), nothing changes and " +
			"the 409 names the first few. At most " + strconv.Itoa(recon.MaxBulk) + " discrepancies at once (422 " +
			"beyond). `dry_run: true` previews the selection, its count and amounts per currency, without changing " +
			"anything; the change answers the same figures for what it changed, with the ids. Each change is audited " +
			"as one entry listing the ids.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.bulkDiscrepancies)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "export-recon-run-xlsx", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/export.xlsx",
		Summary: "Download a run's workbook", Tags: []string{"Reconciliation"},
		Description: "A Summary sheet (run, inputs, counts and totals per kind, batch roll-forward) and one " +
			"sheet per discrepancy kind. Only a `SUCCEEDED` run can be exported (409 otherwise).",
		Responses: downloadResponse("The workbook, as recon-run-<id>.xlsx", xlsxContentType),
		Errors:    []int{http.StatusNotFound, http.StatusConflict},
	}), h.exportXLSX)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "export-recon-run-csv", Method: http.MethodGet, Path: "/v1/recon/runs/{id}/export/{file}",
		Summary: "Download a run's discrepancies of one kind as CSV", Tags: []string{"Reconciliation"},
		Description: "`file` is the discrepancy kind with `.csv`, e.g. `/v1/recon/runs/7/export/AMOUNT_MISMATCH.csv`. " +
			"Only a `SUCCEEDED` run can be exported (409 otherwise).",
		Responses: downloadResponse("The discrepancies, as recon-run-<id>-<kind>.csv", "text/csv"),
		Errors:    []int{http.StatusNotFound, http.StatusConflict},
	}), h.exportCSV)
}

// addBankRoutes registers the bank account and statement operations.
// Configuring an account needs admin: an account's IBAN, currency and
// remitters decide which statements are accepted and which credits count
// as APO's payouts, so the people who reconcile (finance) do not also set
// what their reconciliation takes as given. Uploads need finance and reads
// read, as for APO's reports. The POSTs and the PATCH are guarded by
// Idempotency-Key; each writes an audit row. Handlers are in bank.go.
func addBankRoutes(api huma.API, e edge, b *bank.Service, uploadDir string) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Bank",
		Description: "The bank accounts APO pays out into, and their statements (camt.053, MT940, or CSV with a " +
			"mapping) kept in custody like APO's reports: archived by SHA-256, never ingested twice, refused whole " +
			"on a bad line, and checked (entries against balances, balances and days from one statement to the next)."})
	idem := e.idem
	h := bankAPI{edge: e, bank: b, uploadDir: uploadDir}

	huma.Register(api, needs(auth.NeedAdmin, idem.Wrap(huma.Operation{
		OperationID: "create-bank-account", Method: http.MethodPost, Path: "/v1/bank/accounts",
		Summary: "Configure a bank account", Tags: []string{"Bank"}, DefaultStatus: http.StatusCreated,
		Description: "A statement belongs to the account whose IBAN it names, or, when it names no IBAN, whose " +
			"account number. Each IBAN and number is configured once (409 otherwise). A bank that sends neither " +
			"camt.053 nor MT940 needs `csv_mapping`.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.createAccount)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-bank-accounts", Method: http.MethodGet, Path: "/v1/bank/accounts",
		Summary: "List bank accounts", Tags: []string{"Bank"},
		Description: "In id order, keyset-paginated.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}), h.listAccounts)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-bank-account", Method: http.MethodGet, Path: "/v1/bank/accounts/{id}",
		Summary: "Get a bank account", Tags: []string{"Bank"},
		Errors: []int{http.StatusNotFound},
	}), h.getAccount)
	huma.Register(api, needs(auth.NeedAdmin, idem.Wrap(huma.Operation{
		OperationID: "update-bank-account", Method: http.MethodPatch, Path: "/v1/bank/accounts/{id}",
		Summary: "Change a bank account", Tags: []string{"Bank"},
		Description: "Changes the name, the settlement currency, the remitters or the CSV mapping (`null` removes it); " +
			"fields left out stay. The IBAN, number and currency cannot change: the statements ingested are of them.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	})), h.updateAccount)

	upload := idem.Wrap(huma.Operation{
		OperationID: "upload-bank-statements", Method: http.MethodPost, Path: "/v1/bank/statements",
		Summary: "Upload bank statement files", Tags: []string{"Bank"}, DefaultStatus: http.StatusCreated,
		Description: "multipart/form-data with one or more `file` parts, each a statement file as the bank delivers " +
			"it, at most 256 MiB in all (413 beyond) and 64 MiB each. The layout is read from the content: camt.053 " +
			"(XML), MT940, or CSV read with the mapping of the account it turns out to be of. Each file is archived " +
			"with its SHA-256 and its statements, entries and findings stored. The same content uploaded again is " +
			"not ingested twice: the answer is its statements as stored then, with `duplicate: true`. A file with a " +
			"bad line, a statement of an account not configured (or in another currency), or a statement ingested " +
			"before from another file is refused whole, nothing of it stored: the answer is 422 listing each " +
			"problem as `<file>:<line>` (other files of the upload are ingested; uploading them again is harmless).",
		MaxBodyBytes: maxStatementUpload, BodyReadTimeout: statementUploadTimeout,
		Errors: []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	})
	// After the guard, so the handler reads the body the guard hands on.
	upload.Middlewares = append(upload.Middlewares, keepUploadBody)
	huma.Register(api, needs(auth.NeedFinance, upload), h.uploadStatements)
	// Declared after registration, as for report uploads: Huma would
	// otherwise read the whole upload into memory itself.
	api.OpenAPI().Paths["/v1/bank/statements"].Post.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {
			Schema: &huma.Schema{
				Type: "object", Required: []string{"file"},
				Properties: map[string]*huma.Schema{"file": {Type: "array", Items: binaryFile,
					Description: "One or more statement files"}},
			},
			Encoding: map[string]*huma.Encoding{"file": {ContentType: "application/xml, text/plain, text/csv"}},
		}},
	}
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "list-bank-statements", Method: http.MethodGet, Path: "/v1/bank/statements",
		Summary: "List bank statements", Tags: []string{"Bank"},
		Description: "Newest first (as ingested), keyset-paginated. `from` and `to` keep the statements whose " +
			"period overlaps them. Filters combine with AND.",
		Errors: []int{http.StatusUnprocessableEntity},
	}), h.listStatements)
	huma.Register(api, needs(auth.NeedRead, huma.Operation{
		OperationID: "get-bank-statement", Method: http.MethodGet, Path: "/v1/bank/statements/{id}",
		Summary: "Get a bank statement", Tags: []string{"Bank"},
		Description: "The statement with its findings and a page of its entries (`entries_cursor`, `entries_limit`).",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}), h.getStatement)
}

// addJournalRoutes registers the journal, chart-of-accounts and period
// operations. Finance reads, builds and exports journals and closes
// periods. The chart is finance's too: it is the finance team's own GL
// mapping, kept in their spreadsheets, and it changes only how journals are
// exported, never what reconciliation takes as given (unlike a bank
// account, which admin configures); replacing it is audited. Reopening a
// closed period is admin only: the person who closes the books does not
// also unlock them. Changes are audited; the POSTs honour Idempotency-Key.
// Handlers are in journals.go.
func addJournalRoutes(api huma.API, e edge, j *journal.Service) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Journals",
		Description: "A balanced double-entry journal per settlement batch, built after every succeeded " +
			"reconciliation run; the chart of accounts that books them; exports in generic CSV, Xero, QuickBooks " +
			"Online and NetSuite layouts; and period close (docs/journal-exports.md)."})
	idem := e.idem
	h := journalsAPI{edge: e, api: api, journals: j}

	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "list-journals", Method: http.MethodGet, Path: "/v1/journals",
		Summary: "List journals", Tags: []string{"Journals"},
		Description: "Newest first, keyset-paginated, without their lines. Adjustments are listed with their own " +
			"date and `adjusts_journal_id`. Filters combine with AND.",
		Errors: []int{http.StatusUnprocessableEntity},
	}), h.list)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "export-journals", Method: http.MethodGet, Path: "/v1/journals/export",
		Summary: "Export the journals of a period", Tags: []string{"Journals"},
		Description: "Streams one CSV file in the layout `format` names (`generic`, `xero`, `qbo`, `netsuite`; " +
			"columns in docs/journal-exports.md) holding every journal dated in the period, adjustments included. " +
			"Nothing is written unless all of it can be: 409 names each batch of the period that could not be " +
			"journaled, 422 each line kind the chart does not map (or maps without what the layout needs), or what " +
			"the layout cannot hold.",
		Responses: downloadResponse("The journals, as journals-<from>-<to>-<format>.csv", csvContentType),
		Errors:    []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}), h.export)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "get-journal", Method: http.MethodGet, Path: "/v1/journals/{id}",
		Summary: "Get a journal with its lines", Tags: []string{"Journals"},
		Errors: []int{http.StatusNotFound},
	}), h.get)
	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "build-journals", Method: http.MethodPost, Path: "/v1/journals/build",
		Summary: "Build the journals of a run", Tags: []string{"Journals"},
		Description: "Every succeeded run builds its journals by itself; this rebuilds them, for a run whose build " +
			"failed. Idempotent: building a run again changes nothing (`UNCHANGED`). In a closed month a change is " +
			"booked as an adjustment in the first open month (`ADJUSTED`).",
		Errors: []int{http.StatusUnprocessableEntity},
	})), h.build)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "list-journal-accounts", Method: http.MethodGet, Path: "/v1/journal-accounts",
		Summary: "Get the chart of accounts", Tags: []string{"Journals"},
	}), h.accounts)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "replace-journal-accounts", Method: http.MethodPut, Path: "/v1/journal-accounts",
		Summary: "Replace the chart of accounts", Tags: []string{"Journals"},
		Description: "The body is the mapping file (text/csv). It replaces the whole chart at once, or, with any " +
			"bad line, nothing (422 naming the line). Idempotent as a PUT.",
		MaxBodyBytes: maxChartUpload,
		Errors:       []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}), h.putAccounts)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "list-journal-periods", Method: http.MethodGet, Path: "/v1/journal-periods",
		Summary: "List accounting periods", Tags: []string{"Journals"},
		Description: "Every month closed once or holding journals, newest first. A month not listed is open.",
	}), h.periods)
	huma.Register(api, needs(auth.NeedFinance, idem.Wrap(huma.Operation{
		OperationID: "close-journal-period", Method: http.MethodPost, Path: "/v1/journal-periods/{month}/close",
		Summary: "Close a period", Tags: []string{"Journals"},
		Description: "After this, nothing changes the journals dated in the month: a later run that would is " +
			"booked as an adjustment dated the first day of the first open month, linked back. A run saving " +
			"journals of the month and the close are serialised. 409 if already closed.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.closePeriod)
	huma.Register(api, needs(auth.NeedAdmin, idem.Wrap(huma.Operation{
		OperationID: "reopen-journal-period", Method: http.MethodPost, Path: "/v1/journal-periods/{month}/reopen",
		Summary: "Reopen a closed period", Tags: []string{"Journals"},
		Description: "Admin only, with a mandatory reason. Journals adjusted while the month was closed stay " +
			"adjusted: later changes to them are adjustments too, so nothing is booked twice. 409 if open.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	})), h.reopenPeriod)
}

// addPayoutRoutes registers the payout reads. Finance and admin read them:
// a payout page joins APO's batches to the merchant's bank lines, which is
// finance's material, like the discrepancies it feeds. Handlers are in
// payouts.go.
func addPayoutRoutes(api huma.API, e edge, p *payout.Service) {
	api.OpenAPI().Tags = append(api.OpenAPI().Tags, &huma.Tag{Name: "Payouts",
		Description: "APO's payouts, one per settlement batch, matched to the bank credits that paid them: by the " +
			"batch id the credit names, else by amount when the candidate is unique. Their breaks are reconciliation " +
			"discrepancies (PAYOUT_NOT_RECEIVED, PAYOUT_AMOUNT_MISMATCH, PAYOUT_LATE, BANK_CREDIT_UNEXPLAINED, " +
			"PAYOUT_DUPLICATED)."})
	h := payoutAPI{edge: e, payouts: p}
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "list-payouts", Method: http.MethodGet, Path: "/v1/payouts",
		Summary: "List payouts", Tags: []string{"Payouts"},
		Description: "In id order, keyset-paginated; filters combine with AND. `payment_id` traces a payment to the " +
			"payouts (and, through their links, the bank lines) that paid it.",
		Errors: []int{http.StatusUnprocessableEntity},
	}), h.list)
	huma.Register(api, needs(auth.NeedFinance, huma.Operation{
		OperationID: "get-payout", Method: http.MethodGet, Path: "/v1/payouts/{id}",
		Summary: "Get a payout", Tags: []string{"Payouts"},
		Description: "The payout with its batch's settlement lines (captures, refunds, disputes, fees, reserves) and " +
			"the bank credits that paid it, each with its statement.",
		Errors: []int{http.StatusNotFound},
	}), h.get)
}
