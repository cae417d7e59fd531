package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
)

// keysData is the API keys page: every key, the create form, and, after a
// change, either the confirmation a revocation asks for or the new key,
// shown this once.
type keysData struct {
	Keys    []auth.Key
	Roles   []auth.Role
	Form    keyInput // what the create form shows again after a refusal
	Problem *problem // why the create form was refused (a plain post)
	Confirm *auth.Key
	Created *createdKey
}

// createdKey is a key just made and its secret, which exists only in this
// answer: payops keeps its hash.
type createdKey struct {
	Key    auth.Key
	Secret string
}

// keyInput is what the audit log keeps of a key creation, as the API's
// apiKeyAuditInput: never the key itself.
type keyInput struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderKeys(w, r, s, http.StatusOK, keysData{Form: keyInput{Role: string(auth.RoleViewer)}})
}

// renderKeys writes the keys page with d and the current list.
func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, s *session, status int, d keysData) error {
	if d.Created == nil {
		list, err := c.d.KeyList.List(r.Context())
		if err != nil {
			return err
		}
		d.Keys = list
	}
	d.Roles = auth.Roles()
	c.render(w, r, status, "keys", view{Title: "API keys", Nav: "keys", S: s, Data: d})
	return nil
}

// createKey makes a key with auth.Keys (the key and its audit row commit
// together, the console user as actor and creator) and answers with a page
// that shows it once, never stored and never in a redirect, a cookie or a
// URL. A resubmission of the form (a reload of that page) creates no
// second key and cannot show the first again: it lands on the list.
func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	in := keyInput{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role")}
	var created createdKey
	a := action{Name: audit.ActionAPIKeyCreate, Input: in, Run: func(ctx context.Context) (string, string, error) {
		key, secret, err := c.d.Keys.Create(ctx, auth.NewKey{Name: in.Name, Role: auth.Role(in.Role), CreatedBy: s.Actor()},
			func(k auth.Key) audit.Entry {
				return adminEntry(ctx, s, audit.ActionAPIKeyCreate, audit.APIKeyTarget(k.ID), keyInput{Name: k.Name, Role: string(k.Role)})
			})
		if err != nil {
			return "", "", err
		}
		created = createdKey{Key: key, Secret: secret.Reveal()}
		return Prefix + "/keys", "API key “" + key.Name + "” was created. Its key was shown once, on the page after " +
			"creating it; payops keeps only a hash. If it was not copied, revoke the key and create another.", nil
	}}
	a.SelfAudited = true
	a.Show = func() {
		c.render(w, r, http.StatusOK, "keys", view{Title: "API key created", Nav: "keys", S: s,
			Data: keysData{Created: &created}})
	}
	err := c.act(w, r, s, a)
	if p, ok := adminRefusal(r, err); ok {
		return c.renderKeys(w, r, s, p.Status, keysData{Form: in, Problem: p})
	}
	return err
}

// previewRevokeKey validates a revocation and answers with its
// confirmation, which names the key: into the page's confirmation slot for
// htmx, or as the keys page with it for a plain post.
func (c *Console) previewRevokeKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	k, err := c.d.KeyList.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if k.Revoked() {
		c.writeProblem(w, r, s, problem{Status: http.StatusConflict, Title: "Already revoked",
			Detail: "The key “" + k.Name + "” no longer signs in. Reload the page to see it."})
		return nil
	}
	d := keysData{Confirm: &k}
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "keys", "confirm", view{S: s, Data: d})
		return nil
	}
	return c.renderKeys(w, r, s, http.StatusOK, d)
}

// revokeKey revokes the key with auth.Keys, its audit row in the same
// transaction, once per form token. Revoking a revoked key changes nothing
// (the domain keeps the first time).
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	target := audit.APIKeyTarget(id)
	a := action{Name: audit.ActionAPIKeyRevoke, Target: target, Run: func(ctx context.Context) (string, string, error) {
		k, err := c.d.KeyList.Get(ctx, id)
		if err != nil {
			return "", "", err
		}
		if err := c.d.Keys.Revoke(ctx, id, adminEntry(ctx, s, audit.ActionAPIKeyRevoke, target, nil)); err != nil {
			return "", "", err
		}
		return Prefix + "/keys", "API key “" + k.Name + "” revoked: it no longer signs in.", nil
	}}
	a.SelfAudited = true
	return c.act(w, r, s, a)
}
