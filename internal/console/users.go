package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/users"
)

// usersData is the console users page: a page of users and the create
// form, or, right after a creation, the new user's first password and
// TOTP enrolment, shown this once.
type usersData struct {
	Users   []users.User
	Next    string // the next page's link; "" on the last page
	First   string // the first page's link, when this is a later one
	Roles   []auth.Role
	Now     time.Time
	Form    userInput // what the create form shows again after a refusal
	Problem *problem  // why the create form was refused (a plain post)
	Created *users.User
	Shown   *shownSecret
}

// userInput is what a failed change's audit row keeps (the domain's own
// rows say the same: the user's email and role, never a secret), and what
// identifies a form's request for its token.
type userInput struct {
	Email string `json:"email,omitempty"`
	Role  string `json:"role,omitempty"`
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderUsers(w, r, s, http.StatusOK, usersData{Form: userInput{Role: string(auth.RoleViewer)}})
}

// renderUsers writes the users page with d and the page of users the URL's
// cursor names.
func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, d usersData) error {
	if d.Created == nil {
		cursor := r.URL.Query().Get("cursor")
		list, next, err := c.d.Users.List(r.Context(), users.Filter{Cursor: cursor})
		if err != nil {
			return err
		}
		d.Users = list
		if next != "" {
			d.Next = Prefix + "/users" + queryString("cursor", next)
		}
		if cursor != "" {
			d.First = Prefix + "/users"
		}
	}
	d.Roles, d.Now = auth.Roles(), c.d.Now()
	c.render(w, r, status, "users", view{Title: "Users", Nav: "users", S: s, Data: d})
	return nil
}

// createUser makes a console user (users.Create writes its audit row in
// the same transaction, the console user as actor) and answers with its
// generated first password and, for every role but viewer, its TOTP
// enrolment: shown once, never stored, never in a redirect. A resubmission
// of the form makes no second user and shows nothing again.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	in := userInput{Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role")}
	var (
		created users.User
		shown   shownSecret
	)
	a := action{Name: users.ActionCreate, Input: in, Run: func(ctx context.Context) (string, string, error) {
		out, err := c.d.Users.Create(ctx, usersActor(ctx, s), in.Email, auth.Role(in.Role))
		if err != nil {
			return "", "", err
		}
		created, shown.Password = out.User, out.Password.Reveal()
		shown.showEnrolment(out.Enrolment)
		return Prefix + "/users/" + out.User.ID, "User " + out.User.Email + " was created. Their first password was shown " +
			"once, on the page after creating them; if it was not handed over, reset it.", nil
	}}
	a.SelfAudited = true
	a.Show = func() {
		c.render(w, r, http.StatusOK, "users", view{Title: "User created", Nav: "users", S: s,
			Data: usersData{Created: &created, Shown: &shown}})
	}
	err := c.act(w, r, s, a)
	if p, ok := adminRefusal(r, err); ok {
		return c.renderUsers(w, r, s, p.Status, usersData{Form: in, Problem: p})
	}
	return err
}

// userData is one console user's page: who they are, and the changes an
// admin can make, each behind a confirmation (userConfirm) but enabling.
type userData struct {
	User     users.User
	Sessions int  // live sessions
	Self     bool // the signed-in admin's own account
	Roles    []auth.Role
	Now      time.Time
	Confirm  *userConfirm
	Shown    *shownSecret // a secret the change just made, shown once
	Problem  *problem     // why a confirmed change was refused (a plain post)
}

// userConfirm is the question a change asks before it is made.
type userConfirm struct {
	Op     string    // the path segment of the change: "disable", "role", "password"
	Role   auth.Role // the new role, for "role"
	Title  string    // "Disable ops@example.com?"
	Effect string    // what happens, in a sentence or two
	Button string    // names the change: "Disable ops@example.com"
}

func (c *Console) userPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.userData(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.renderUser(w, r, s, http.StatusOK, d, "")
}

// userData loads the user id and their live sessions.
func (c *Console) userData(ctx context.Context, s *session, id string) (userData, error) {
	u, err := c.d.Users.Get(ctx, id)
	if err != nil {
		return userData{}, err
	}
	sessions, err := c.d.Users.ListSessions(ctx, id)
	if err != nil {
		return userData{}, err
	}
	return userData{User: u, Sessions: len(sessions), Self: u.ID == s.User.ID}, nil
}

// renderUser writes the user's page, with flash saying what just happened.
func (c *Console) renderUser(w http.ResponseWriter, r *http.Request, s *session, status int, d userData, flash string) error {
	d.Roles, d.Now = auth.Roles(), c.d.Now()
	c.render(w, r, status, "user", view{Title: d.User.Email, Nav: "users", S: s, Data: d, Flash: flash})
	return nil
}

// userOp is one change an admin makes to a console user, through the
// users.Service method of the same name, which writes its audit row
// (action) in the change's transaction.
type userOp struct {
	action string
	// ask is the confirmation the change asks for first; nil for a change
	// that takes nothing away (enable).
	ask func(d userData, role auth.Role) userConfirm
	// run makes the change and says what happened; a secret it made is
	// returned to be shown once.
	run func(ctx context.Context, c *Console, a users.Actor, u users.User, role auth.Role) (string, *shownSecret, error)
}

// userOps are the changes, by the last segment of their path. run's
// message says what happened, for the page after it.
var userOps = map[string]userOp{
	"disable": {action: users.ActionDisable, ask: askDisable,
		run: func(ctx context.Context, c *Console, a users.Actor, u users.User, _ auth.Role) (string, *shownSecret, error) {
			_, err := c.d.Users.Disable(ctx, a, u.ID)
			return u.Email + " is disabled and signed out everywhere.", nil, err
		}},
	"enable": {action: users.ActionEnable,
		run: func(ctx context.Context, c *Console, a users.Actor, u users.User, _ auth.Role) (string, *shownSecret, error) {
			_, err := c.d.Users.Enable(ctx, a, u.ID)
			return u.Email + " can sign in again.", nil, err
		}},
	"role": {action: users.ActionChangeRole, ask: askRole,
		run: func(ctx context.Context, c *Console, a users.Actor, u users.User, role auth.Role) (string, *shownSecret, error) {
			_, enrol, err := c.d.Users.ChangeRole(ctx, a, u.ID, role)
			msg := u.Email + " is now " + string(role) + " and was signed out."
			if err != nil || enrol == nil {
				return msg, nil, err
			}
			sh := &shownSecret{}
			sh.showEnrolment(enrol)
			return msg + " The new role needs a second factor.", sh, nil
		}},
	"password": {action: users.ActionResetPassword, ask: askPassword,
		run: func(ctx context.Context, c *Console, a users.Actor, u users.User, _ auth.Role) (string, *shownSecret, error) {
			pw, err := c.d.Users.ResetPassword(ctx, a, u.ID)
			if err != nil {
				return "", nil, err
			}
			return "The password of " + u.Email + " was reset and they were signed out.", &shownSecret{Password: pw.Reveal()}, nil
		}},
	"totp": {action: users.ActionResetTOTP, ask: askTOTP,
		run: func(ctx context.Context, c *Console, a users.Actor, u users.User, _ auth.Role) (string, *shownSecret, error) {
			e, err := c.d.Users.ResetTOTP(ctx, a, u.ID)
			if err != nil {
				return "", nil, err
			}
			sh := &shownSecret{}
			sh.showEnrolment(&e)
			return "The second factor of " + u.Email + " was reset and they were signed out.", sh, nil
		}},
}

func askDisable(d userData, _ auth.Role) userConfirm {
	effect := d.User.Email + " can no longer sign in, and " + plural(d.Sessions, "live session ends", "live sessions end") +
		" now. Their audit history stays; enabling them later restores access with the same password and second factor."
	if d.Self {
		effect = "This is your own account: you will be signed out at once and cannot sign back in. " + effect
	}
	return userConfirm{Op: "disable", Title: "Disable " + d.User.Email + "?", Effect: effect, Button: "Disable " + d.User.Email}
}

func askRole(d userData, role auth.Role) userConfirm {
	effect := d.User.Email + " becomes " + string(role) + " (now " + string(d.User.Role) + "), and " +
		plural(d.Sessions, "live session ends", "live sessions end") + " now, so no session keeps the old role's rights."
	if users.NeedsTOTP(role) && !d.User.HasTOTP() {
		effect += " The new role needs a second factor: a new authenticator secret is shown once on the next page, and " +
			"their next sign-in confirms it."
	}
	if d.Self {
		effect = "This is your own account: you will be signed out at once. " + effect
	}
	return userConfirm{Op: "role", Role: role, Title: "Make " + d.User.Email + " " + string(role) + "?", Effect: effect,
		Button: "Make " + d.User.Email + " " + string(role)}
}

func askPassword(d userData, _ auth.Role) userConfirm {
	effect := "A new password is generated and shown once on the next page; the current one stops working, " +
		plural(d.Sessions, "live session ends", "live sessions end") + ", and a lock after failed sign-ins is lifted. " +
		"The second factor stays as it is."
	if d.Self {
		effect = "This is your own account: you will be signed out at once. " + effect
	}
	return userConfirm{Op: "password", Title: "Reset the password of " + d.User.Email + "?", Effect: effect,
		Button: "Reset the password of " + d.User.Email}
}

func askTOTP(d userData, _ auth.Role) userConfirm {
	effect := "A new authenticator secret is shown once on the next page; codes from the current one stop working, " +
		plural(d.Sessions, "live session ends", "live sessions end") + ", and their next sign-in confirms the new one. " +
		"The password stays as it is."
	if d.Self {
		effect = "This is your own account: you will be signed out at once. " + effect
	}
	return userConfirm{Op: "totp", Title: "Reset the second factor of " + d.User.Email + "?", Effect: effect,
		Button: "Reset the second factor of " + d.User.Email}
}

// previewUserChange validates a change and answers with its confirmation:
// into the page's confirmation slot for htmx, or as the user's page with it
// for a plain post.
func (c *Console) previewUserChange(w http.ResponseWriter, r *http.Request, s *session) error {
	op, ok := userOps[r.PathValue("op")]
	if !ok || op.ask == nil {
		return users.ErrNotFound
	}
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	d, err := c.userData(r.Context(), s, r.PathValue("id"))
	if err != nil {
		return err
	}
	role, err := askable(r, d.User, r.PathValue("op"))
	if err != nil {
		return err
	}
	confirm := op.ask(d, role)
	d.Confirm = &confirm
	if r.Header.Get("HX-Request") == "true" {
		c.renderBlock(w, r, http.StatusOK, "user", "confirm", view{S: s, Data: d})
		return nil
	}
	return c.renderUser(w, r, s, http.StatusOK, d, "")
}

// askable refuses to ask for a change that would change nothing, and
// reads the new role of a role change. (The change itself, made anyway,
// is a no-op in users with its audit row, as in the API for keys.)
func askable(r *http.Request, u users.User, op string) (auth.Role, error) {
	switch op {
	case "role":
		role, err := auth.ParseRole(r.PostFormValue("role"))
		if err != nil {
			return "", err
		}
		if role == u.Role {
			return "", &users.InvalidError{Field: "role", Reason: u.Email + " already is " + string(role)}
		}
		return role, nil
	case "disable":
		if u.Disabled() {
			return "", &users.InvalidError{Field: "user", Reason: u.Email + " is already disabled"}
		}
	}
	return "", nil
}

// changeUser makes a confirmed change once per form token. A change that
// made a secret (a password, a TOTP enrolment) answers with the user's page
// showing it once; a resubmission lands on that page without it.
func (c *Console) changeUser(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("op")
	op, ok := userOps[name]
	if !ok {
		return users.ErrNotFound
	}
	if err := readAdminForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := c.d.Users.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	in := userInput{Email: u.Email}
	if name == "role" {
		in.Role = r.PostFormValue("role")
	}
	loc := Prefix + "/users/" + u.ID
	var (
		msg   string
		shown *shownSecret
	)
	a := action{Name: op.action, Target: users.Target(u.ID), Input: in, Run: func(ctx context.Context) (string, string, error) {
		var err error
		if msg, shown, err = op.run(ctx, c, usersActor(ctx, s), u, auth.Role(in.Role)); err != nil {
			return "", "", err
		}
		if shown == nil {
			return loc, msg, nil
		}
		// What a resubmission is told: the secret is not kept to show again.
		return loc, msg + " Its new secret was shown once, on the page after the change; if it was lost, do it again.", nil
	}}
	a.SelfAudited = true
	a.Show = func() {
		if shown == nil {
			c.redirect(w, r, loc, msg)
			return
		}
		d, err := c.userData(ctx, s, u.ID)
		if err != nil {
			// The change is made and its secret lost with this page: say so.
			c.showError(w, r, s, err)
			return
		}
		d.Shown = shown
		_ = c.renderUser(w, r, s, http.StatusOK, d, msg)
	}
	err = c.act(w, r, s, a)
	// A refusal (the last enabled admin cannot be disabled or demoted) is
	// shown on the user's page, where the confirmation was.
	if p, ok := adminRefusal(r, err); ok {
		d, derr := c.userData(ctx, s, u.ID)
		if derr != nil {
			return derr
		}
		d.Problem = p
		return c.renderUser(w, r, s, p.Status, d, "")
	}
	return err
}
