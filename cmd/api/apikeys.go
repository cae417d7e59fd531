package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
)

// apiKeyAuditInput is what the audit log keeps of a key creation: never
// the key itself.
type apiKeyAuditInput struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// APIKey is an API key as the API shows it: never the key or its hash.
type APIKey struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name" example:"checkout-web"`
	Role       auth.Role  `json:"role" enum:"viewer,finance,operator,checkout,admin"`
	Prefix     string     `json:"prefix" example:"pk_Xq3v9a" doc:"First characters of the key, to tell keys apart"`
	CreatedBy  string     `json:"created_by" doc:"Name of the key (or cli) that created it"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" doc:"Set once the key is revoked"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"Last successful authentication, to the minute"`
}

func apiKeyBody(k auth.Key) APIKey {
	return APIKey{
		ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt,
		RevokedAt: optionalTime(k.RevokedAt), LastUsedAt: optionalTime(k.LastUsedAt),
	}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateAPIKeyInput is the body of create-api-key.
type CreateAPIKeyInput struct {
	Body struct {
		Name string    `json:"name" minLength:"1" maxLength:"100" example:"checkout-web" doc:"Who or what uses the key"`
		Role auth.Role `json:"role" enum:"viewer,finance,operator,checkout,admin" doc:"What the key may do"`
	}
}

// CreateAPIKeyOutput carries the new key, the one time it is shown.
type CreateAPIKeyOutput struct {
	CacheControl string `header:"Cache-Control" doc:"no-store: the body holds a secret"`
	Body         struct {
		APIKey
		Key string `json:"key" example:"pk_Xq3v9a…" doc:"The API key. Shown only here: payops keeps a hash"`
	}
}

// createAPIKey creates the key and its audit row in one transaction. The
// operation cannot honour Idempotency-Key replays: replaying the first
// response would mean storing the key.
func createAPIKey(log *slog.Logger, keys *auth.Keys) func(context.Context, *CreateAPIKeyInput) (*CreateAPIKeyOutput, error) {
	return func(ctx context.Context, in *CreateAPIKeyInput) (*CreateAPIKeyOutput, error) {
		actor, _ := auth.ActorFromContext(ctx)
		key, secret, err := keys.Create(ctx, auth.NewKey{Name: in.Body.Name, Role: in.Body.Role, CreatedBy: actor.Name},
			func(key auth.Key) audit.Entry {
				return auditEntry(ctx, audit.ActionAPIKeyCreate, audit.APIKeyTarget(key.ID),
					apiKeyAuditInput{Name: key.Name, Role: string(key.Role)}, audit.OutcomeSucceeded)
			})
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &CreateAPIKeyOutput{CacheControl: "no-store"}
		out.Body.APIKey = apiKeyBody(key)
		out.Body.Key = secret.Reveal()
		return out, nil
	}
}

// APIKeyListOutput is the body of list-api-keys.
type APIKeyListOutput struct {
	Body struct {
		Items []APIKey `json:"items" nullable:"false"`
	}
}

func listAPIKeys(log *slog.Logger, keys *auth.Store) func(context.Context, *struct{}) (*APIKeyListOutput, error) {
	return func(ctx context.Context, _ *struct{}) (*APIKeyListOutput, error) {
		list, err := keys.List(ctx)
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &APIKeyListOutput{}
		out.Body.Items = make([]APIKey, len(list))
		for i, k := range list {
			out.Body.Items[i] = apiKeyBody(k)
		}
		return out, nil
	}
}

// RevokeAPIKeyInput names the key to revoke.
type RevokeAPIKeyInput struct {
	ID string `path:"id" format:"uuid" doc:"Id of the API key"`
}

// revokeAPIKey revokes the key and writes its audit row in one transaction.
func revokeAPIKey(log *slog.Logger, keys *auth.Keys) func(context.Context, *RevokeAPIKeyInput) (*struct{}, error) {
	return func(ctx context.Context, in *RevokeAPIKeyInput) (*struct{}, error) {
		err := keys.Revoke(ctx, in.ID, auditEntry(ctx, audit.ActionAPIKeyRevoke, audit.APIKeyTarget(in.ID), nil, audit.OutcomeSucceeded))
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return nil, nil
	}
}
