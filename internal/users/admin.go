package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/postgres"
)

// Audit actions on console users. Their inputs hold the user's email and
// role, never a password, TOTP secret or token.
const (
	ActionCreate         = "console-user.create"
	ActionDisable        = "console-user.disable"
	ActionEnable         = "console-user.enable"
	ActionChangeRole     = "console-user.change-role"
	ActionResetPassword  = "console-user.reset-password"
	ActionChangePassword = "console-user.change-password"
	ActionEnrolTOTP      = "console-user.enrol-totp"
	ActionConfirmTOTP    = "console-user.confirm-totp"
	ActionResetTOTP      = "console-user.reset-totp"
	// ActionLogin is a login of a known account, succeeded or failed (PCI DSS
	// 10.2.1.4 asks for invalid access attempts). An unknown email leaves no
	// row: it names nobody, and people type passwords into the email field.
	ActionLogin = "console-user.login"
)

// loginEntry is the audit row of a login attempt on r, made by r itself.
func loginEntry(r userRow, req LoginRequest, outcome, reason string) audit.Entry {
	return audit.Entry{Actor: r.Email, Role: r.Role, Action: ActionLogin, Target: Target(r.ID),
		Input: loginInput{Email: r.Email, Role: r.Role, Reason: reason}, Outcome: outcome,
		RemoteAddr: limitText(req.RemoteAddr, 100)}
}

// loginInput is what a login's audit row says: never the password or code.
type loginInput struct {
	Email  string `json:"email"`
	Role   string `json:"role"`
	Reason string `json:"reason,omitempty"`
}

// Target is the audit target of the user id.
func Target(id string) string { return "console-user:" + id }

// auditInput is all an audit row says about the user changed.
type auditInput struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (a Actor) entry(action string, r userRow) audit.Entry {
	return audit.Entry{Actor: a.Name, KeyID: a.KeyID, Role: string(a.Role), Action: action, Target: Target(r.ID),
		Input: auditInput{Email: r.Email, Role: r.Role}, Outcome: audit.OutcomeSucceeded,
		RemoteAddr: a.RemoteAddr, RequestID: a.RequestID}
}

// change runs fn in a transaction and writes the audit row of the user it
// returns in the same one: a change the audit log cannot account for must
// not exist, and an audit row must not claim a change that was rolled back.
func (s *Service) change(ctx context.Context, actor Actor, action string, fn func(st store) (userRow, error)) (userRow, error) {
	var r userRow
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if r, err = fn(store{tx}); err != nil {
			return err
		}
		return audit.NewStore(tx).Record(ctx, actor.entry(action, r))
	})
	return r, err
}

// Create makes a console user with a generated password (shown once) and,
// when role needs a second factor, a TOTP enrolment to confirm at the
// first login.
func (s *Service) Create(ctx context.Context, actor Actor, email string, role auth.Role) (Created, error) {
	email, err := checkEmail(email)
	if err != nil {
		return Created{}, err
	}
	if !role.Valid() {
		return Created{}, &InvalidError{Field: "role", Reason: fmt.Sprintf("unknown role %q", role)}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Created{}, fmt.Errorf("console user id: %w", err)
	}
	password := newPassword()
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return Created{}, err
	}
	out := Created{Password: password}
	row := userRow{ID: id.String(), Email: email, Role: string(role), PasswordHash: hash, CreatedBy: actor.Name,
		CreatedAt: s.cfg.Now().UTC()}
	if NeedsTOTP(role) {
		e, err := newEnrolment(s.cfg.Issuer, email)
		if err != nil {
			return Created{}, err
		}
		out.Enrolment = &e
		row.TOTPSecret = sql.NullString{String: e.Secret.Reveal(), Valid: true}
	}
	r, err := s.change(ctx, actor, ActionCreate, func(st store) (userRow, error) { return st.insertUser(ctx, row) })
	if err != nil {
		return Created{}, err
	}
	out.User = r.user()
	return out, nil
}

// checkEmail accepts a bare address (no display name), at most 254 bytes.
func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return "", &InvalidError{Field: "email", Reason: "must be a plain email address (name@example.com)"}
	}
	return email, nil
}

// Get returns the user id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	r, err := store{s.db}.userByID(ctx, id)
	return r.user(), err
}

// List returns a page of users, newest first, and the cursor of the next
// page ("" on the last). Pages are keyset paginated on (created_at, id).
func (s *Service) List(ctx context.Context, f Filter) ([]User, string, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	k := postgres.Keyset{From: `SELECT ` + userColumns + ` FROM console_users`, TimeColumn: "created_at"}
	users, next, err := postgres.KeysetPage(ctx, s.db, k, f.Cursor, limit, userRow.user,
		func(u User) (time.Time, string) { return u.CreatedAt, u.ID })
	if errors.Is(err, postgres.ErrBadCursor) {
		return nil, "", &InvalidError{Field: "cursor", Reason: "not a cursor this list made"}
	}
	if err != nil {
		return nil, "", fmt.Errorf("list console users: %w", err)
	}
	return users, next, nil
}

// Disable stops the user id from logging in and ends their sessions.
// Disabling a disabled user keeps the first time. The last enabled admin
// cannot be disabled (*ConflictError).
func (s *Service) Disable(ctx context.Context, actor Actor, id string) (User, error) {
	now := s.cfg.Now().UTC()
	r, err := s.change(ctx, actor, ActionDisable, func(st store) (userRow, error) {
		r, err := lockedUser(ctx, st, id)
		if err != nil || r.DisabledAt.Valid {
			return r, err
		}
		if err := keepAnAdmin(ctx, st, r); err != nil {
			return r, err
		}
		if r, err = st.setDisabled(ctx, id, sql.NullTime{Time: now, Valid: true}); err != nil {
			return r, err
		}
		_, err = st.revokeAll(ctx, id, now)
		return r, err
	})
	return r.user(), err
}

// lockedUser takes the admin lock and then reads id. Every change that can
// take an enabled admin away starts with it, so two such changes run one
// after the other and the second counts what the first left: two admins
// disabling each other at once leave one, not none. Under READ COMMITTED
// each statement sees what was committed when it started, so the reads
// after the lock are current.
func lockedUser(ctx context.Context, st store, id string) (userRow, error) {
	if err := st.lockAdmins(ctx); err != nil {
		return userRow{}, err
	}
	return st.userByID(ctx, id)
}

// keepAnAdmin refuses to take r out of the enabled admins when no other is
// left: nobody could then manage users from the console, and the way back
// (api users create) needs a shell on a server. Call it after lockedUser.
func keepAnAdmin(ctx context.Context, st store, r userRow) error {
	if auth.Role(r.Role) != auth.RoleAdmin || r.DisabledAt.Valid {
		return nil
	}
	n, err := st.otherEnabledAdmins(ctx, r.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return &ConflictError{Rule: r.Email + " is the last enabled admin: make another user an admin first"}
	}
	return nil
}

// Enable lets the disabled user id log in again.
func (s *Service) Enable(ctx context.Context, actor Actor, id string) (User, error) {
	r, err := s.change(ctx, actor, ActionEnable, func(st store) (userRow, error) {
		return st.setDisabled(ctx, id, sql.NullTime{})
	})
	return r.user(), err
}

// ChangeRole gives the user id a new role and ends their sessions, so no
// session keeps the rights of the old role. When the new role needs a
// second factor the user has not confirmed, it issues a new enrolment
// (returned, to be shown once) that their next login confirms. The last
// enabled admin keeps their role (*ConflictError).
func (s *Service) ChangeRole(ctx context.Context, actor Actor, id string, role auth.Role) (User, *Enrolment, error) {
	if !role.Valid() {
		return User{}, nil, &InvalidError{Field: "role", Reason: fmt.Sprintf("unknown role %q", role)}
	}
	now := s.cfg.Now().UTC()
	var enrol *Enrolment
	r, err := s.change(ctx, actor, ActionChangeRole, func(st store) (userRow, error) {
		r, err := lockedUser(ctx, st, id)
		if err != nil {
			return r, err
		}
		if role != auth.RoleAdmin {
			if err := keepAnAdmin(ctx, st, r); err != nil {
				return r, err
			}
		}
		if r, err = st.setRole(ctx, id, role); err != nil {
			return r, err
		}
		if _, err := st.revokeAll(ctx, id, now); err != nil {
			return r, err
		}
		if !NeedsTOTP(role) || r.TOTPConfirmedAt.Valid {
			return r, nil
		}
		e, err := newEnrolment(s.cfg.Issuer, r.Email)
		if err != nil {
			return r, err
		}
		enrol = &e
		return st.setTOTP(ctx, id, sql.NullString{String: e.Secret.Reveal(), Valid: true})
	})
	if err != nil {
		return User{}, nil, err
	}
	return r.user(), enrol, nil
}

// ResetPassword gives the user id a new generated password (returned, to be
// shown once), lifts any lock and ends their sessions.
func (s *Service) ResetPassword(ctx context.Context, actor Actor, id string) (Secret, error) {
	password := newPassword()
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return "", err
	}
	now := s.cfg.Now().UTC()
	_, err = s.change(ctx, actor, ActionResetPassword, func(st store) (userRow, error) {
		r, err := st.setPassword(ctx, id, hash)
		if err != nil {
			return r, err
		}
		_, err = st.revokeAll(ctx, id, now)
		return r, err
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// ChangePassword is a user replacing their own password: current must be
// right (a wrong one counts as a failed login), next must pass the password
// policy, and every session of the user ends, this one included.
func (s *Service) ChangePassword(ctx context.Context, userID string, current, next Secret) error {
	now := s.cfg.Now().UTC()
	r, err := store{s.db}.userByID(ctx, userID)
	if err != nil {
		return err
	}
	ok, _, err := s.checkPassword(ctx, current, r.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return s.fail(ctx, r, LoginRequest{}, now, "current password")
	}
	if err := checkPolicy(next.Reveal(), r.Email); err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	self := Actor{Name: r.Email, Role: auth.Role(r.Role)}
	_, err = s.change(ctx, self, ActionChangePassword, func(st store) (userRow, error) {
		r, err := st.setPassword(ctx, userID, hash)
		if err != nil {
			return r, err
		}
		_, err = st.revokeAll(ctx, userID, now)
		return r, err
	})
	return err
}

// EnrolTOTP issues the user id a new TOTP secret, pending until
// ConfirmTOTP or their next login takes a valid code. It is how a viewer
// opts in; a confirmed second factor cannot be replaced this way.
func (s *Service) EnrolTOTP(ctx context.Context, actor Actor, id string) (Enrolment, error) {
	var e Enrolment
	_, err := s.change(ctx, actor, ActionEnrolTOTP, func(st store) (userRow, error) {
		r, err := st.userByID(ctx, id)
		if err != nil {
			return r, err
		}
		if r.TOTPConfirmedAt.Valid {
			return r, &InvalidError{Field: "totp", Reason: "already enrolled"}
		}
		if e, err = newEnrolment(s.cfg.Issuer, r.Email); err != nil {
			return r, err
		}
		return st.setTOTP(ctx, id, sql.NullString{String: e.Secret.Reveal(), Valid: true})
	})
	if err != nil {
		return Enrolment{}, err
	}
	return e, nil
}

// ResetTOTP replaces the user id's second factor, confirmed or not, with a
// new secret (returned, to be shown once), pending until their next login
// or ConfirmTOTP takes a valid code, and ends their sessions. It is how an
// admin lets back in someone who lost their authenticator; no session
// opened with the old factor outlives it.
func (s *Service) ResetTOTP(ctx context.Context, actor Actor, id string) (Enrolment, error) {
	now := s.cfg.Now().UTC()
	var e Enrolment
	_, err := s.change(ctx, actor, ActionResetTOTP, func(st store) (userRow, error) {
		r, err := st.userByID(ctx, id)
		if err != nil {
			return r, err
		}
		if e, err = newEnrolment(s.cfg.Issuer, r.Email); err != nil {
			return r, err
		}
		if r, err = st.setTOTP(ctx, id, sql.NullString{String: e.Secret.Reveal(), Valid: true}); err != nil {
			return r, err
		}
		_, err = st.revokeAll(ctx, id, now)
		return r, err
	})
	if err != nil {
		return Enrolment{}, err
	}
	return e, nil
}

// ConfirmTOTP confirms the user id's pending enrolment with a first valid
// code; from then on every login of theirs needs a code.
func (s *Service) ConfirmTOTP(ctx context.Context, actor Actor, id, code string) error {
	now := s.cfg.Now().UTC()
	_, err := s.change(ctx, actor, ActionConfirmTOTP, func(st store) (userRow, error) {
		r, err := st.userByID(ctx, id)
		if err != nil {
			return r, err
		}
		if !r.TOTPSecret.Valid || r.TOTPConfirmedAt.Valid {
			return r, &InvalidError{Field: "totp", Reason: "no enrolment is pending"}
		}
		step, ok := matchCode(r.TOTPSecret.String, code, now, r.lastStep())
		if !ok {
			return r, &InvalidError{Field: "code", Reason: "does not match; check the authenticator's clock"}
		}
		return st.confirmTOTP(ctx, id, now, step)
	})
	return err
}
