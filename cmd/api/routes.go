package main

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/idempotency/httpguard"
)

// addRoutes registers every operation. Reading this function tells you the
// entire API and who may call each operation; handlers live in the file
// named after their resource. Authenticated operations are wrapped in
// needs(permission, …), open ones in public(…).
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
	// have to keep the new key to replay it).
	idem := httpguard.New(api, svc.idempotency, svc.log, idempotencyScope)

	// Disputes (disputes.go).
	addDisputeRoutes(api, svc.log, svc.db, svc.disputes)
	addReconRoutes(api, svc) // recon.go

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
	}), createAPIKey(svc.log, svc.db))
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
	}), revokeAPIKey(svc.log, svc.db))

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

// idempotencyScope scopes Idempotency-Key to the API key and the
// operation: one caller's keys never replay another's answers.
func idempotencyScope(ctx huma.Context) (string, bool) {
	a, ok := auth.ActorFromContext(ctx.Context())
	if !ok || a.KeyID == "" {
		return "", false
	}
	return a.KeyID + " " + ctx.Operation().OperationID, true
}
