package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/payops/payops/internal/audit"
)

// AuditEntry is one audit log row as the API shows it.
type AuditEntry struct {
	ID         int64           `json:"id"`
	Actor      string          `json:"actor" doc:"Name of the API key, or cli"`
	KeyID      string          `json:"key_id,omitempty" format:"uuid" doc:"Id of the API key; absent for cli"`
	Role       string          `json:"role"`
	Action     string          `json:"action" example:"api-key.create"`
	Target     string          `json:"target" example:"api-key:0190a0c0-0000-7000-8000-000000000000"`
	Input      json.RawMessage `json:"input" doc:"The request's input, with card data and secrets redacted"`
	Outcome    string          `json:"outcome" example:"succeeded"`
	RemoteAddr string          `json:"remote_addr"`
	RequestID  string          `json:"request_id"`
	CreatedAt  time.Time       `json:"created_at"`
}

// ListAuditLogInput filters and pages the audit log.
type ListAuditLogInput struct {
	Actor  string `query:"actor" doc:"Only rows of this actor (API key name, or cli)"`
	Action string `query:"action" doc:"Only rows of this action, e.g. api-key.create"`
	Target string `query:"target" doc:"Only rows about this target, e.g. payment:<id>"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// AuditLogOutput is one page of the audit log.
type AuditLogOutput struct {
	Body struct {
		Items      []AuditEntry `json:"items" nullable:"false"`
		NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func listAuditLog(log *slog.Logger, store *audit.Store) func(context.Context, *ListAuditLogInput) (*AuditLogOutput, error) {
	return func(ctx context.Context, in *ListAuditLogInput) (*AuditLogOutput, error) {
		before, err := audit.ParseCursor(in.Cursor)
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		entries, next, err := store.List(ctx, audit.Filter{
			Actor: in.Actor, Action: in.Action, Target: in.Target, Before: before, Limit: in.Limit,
		})
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &AuditLogOutput{}
		out.Body.NextCursor = next.String()
		out.Body.Items = make([]AuditEntry, len(entries))
		for i, e := range entries {
			input, _ := e.Input.(json.RawMessage) // List always sets raw JSON
			out.Body.Items[i] = AuditEntry{
				ID: e.ID, Actor: e.Actor, KeyID: e.KeyID, Role: e.Role, Action: e.Action, Target: e.Target,
				Input: input, Outcome: e.Outcome, RemoteAddr: e.RemoteAddr, RequestID: e.RequestID, CreatedAt: e.CreatedAt,
			}
		}
		return out, nil
	}
}
