package main

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/auth"
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
	}

	// Health (health.go).
	huma.Register(api, public(huma.Operation{
		OperationID: "get-healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness probe", Tags: []string{"Health"},
		Description: "Answers 200 while the process runs; it checks no dependency.",
	}), healthz())
	huma.Register(api, public(huma.Operation{
		OperationID: "get-readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness probe", Tags: []string{"Health"},
		Description: "Pings PostgreSQL and Redis, each with a short timeout. 503 names what failed.",
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
}
