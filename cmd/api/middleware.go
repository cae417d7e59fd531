package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/timing"
)

// securityScheme names the bearer API-key scheme in the spec.
const securityScheme = "bearer"

// Operation metadata keys read by authenticate.
const (
	metaNeed   = "payops.need"
	metaPublic = "payops.public"
)

// needs marks op as requiring perm: callers must present an API key whose
// role auth.Allows for perm. It also documents the requirement in the spec
// (bearer security, the roles that qualify, 401 and 403 responses). Every
// authenticated operation in routes.go is wrapped in needs.
func needs(perm auth.Need, op huma.Operation) huma.Operation {
	if !perm.Valid() {
		panic(fmt.Sprintf("operation %s: unknown permission %q", op.OperationID, perm))
	}
	op.Metadata = withMeta(op.Metadata, metaNeed, perm)
	// A filter misspelt or unknown is an error, not a silent "everything".
	op.RejectUnknownQueryParameters = true
	op.Security = []map[string][]string{{securityScheme: {}}}
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	var roles []string
	for _, r := range auth.Roles() {
		if auth.Allows(r, perm) {
			roles = append(roles, "`"+string(r)+"`")
		}
	}
	note := "Requires permission `" + string(perm) + "` (roles " + strings.Join(roles, ", ") + ")."
	op.Description = strings.TrimSpace(op.Description + "\n\n" + note)
	return op
}

// public marks op as open to anyone: probes, and the webhook whose body
// carries its own signature.
func public(op huma.Operation) huma.Operation {
	op.Metadata = withMeta(op.Metadata, metaPublic, true)
	return op
}

func withMeta(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

// authenticator resolves a raw API key to its actor. *auth.Store fits.
type authenticator interface {
	Authenticate(ctx context.Context, raw string) (auth.Actor, error)
}

// authenticate is the Huma middleware that enforces needs: 401 for a
// missing, unknown or revoked key, 403 for a role without the permission.
// An operation that declared neither needs nor public requires admin, so a
// forgotten declaration fails closed (and TestEveryOperationDeclaresAccess
// catches it first). On success the actor is in the request context
// (auth.ActorFromContext).
func authenticate(api huma.API, log *slog.Logger, keys authenticator) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if isPublic, _ := op.Metadata[metaPublic].(bool); isPublic {
			next(ctx)
			return
		}
		need, ok := op.Metadata[metaNeed].(auth.Need)
		if !ok {
			need = auth.NeedAdmin
		}
		rctx := ctx.Context()
		raw, ok := bearerToken(ctx.Header("Authorization"))
		if !ok {
			unauthorized(api, ctx, "missing bearer API key in the Authorization header")
			return
		}
		authenticated := timing.Track(rctx, "auth")
		actor, err := keys.Authenticate(rctx, raw)
		authenticated()
		if errors.Is(err, auth.ErrUnauthenticated) {
			// The reason (malformed, unknown, revoked) is for our logs only.
			log.InfoContext(rctx, "authentication failed", "reason", err.Error(),
				"operation", op.OperationID, "request_id", httpx.RequestIDFromContext(rctx))
			unauthorized(api, ctx, "invalid or revoked API key")
			return
		}
		if err != nil {
			log.ErrorContext(rctx, "authentication error", "err", err,
				"operation", op.OperationID, "request_id", httpx.RequestIDFromContext(rctx))
			writeInternalError(api, ctx)
			return
		}
		httpx.Annotate(rctx, slog.String("api_key_id", actor.KeyID))
		if !auth.Allows(actor.Role, need) {
			_ = huma.WriteErr(api, ctx, http.StatusForbidden,
				fmt.Sprintf("role %s lacks permission %s for %s", actor.Role, need, op.OperationID))
			return
		}
		next(huma.WithContext(ctx, auth.WithActor(rctx, actor)))
	}
}

func unauthorized(api huma.API, ctx huma.Context, detail string) {
	ctx.SetHeader("WWW-Authenticate", `Bearer realm="payops"`)
	_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, detail)
}

// bearerToken extracts the credentials of an "Authorization: Bearer …"
// header. The scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
