package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/postgres"
)

// store holds every SQL statement on console_users, console_sessions and
// console_saved_views.
// Its handle is a *sqlx.DB or a *sqlx.Tx, so a change can share a
// transaction with its audit row. Times come from the caller's clock, never
// from now(), so tests can move them.
type store struct{ db sqlx.ExtContext }

// userRow is a console_users row; it holds the secrets User leaves out.
type userRow struct {
	ID              string         `db:"id"`
	Email           string         `db:"email"`
	Role            string         `db:"role"`
	PasswordHash    string         `db:"password_hash"`
	TOTPSecret      sql.NullString `db:"totp_secret"`
	TOTPConfirmedAt sql.NullTime   `db:"totp_confirmed_at"`
	TOTPLastStep    sql.NullInt64  `db:"totp_last_step"`
	DisabledAt      sql.NullTime   `db:"disabled_at"`
	CreatedBy       string         `db:"created_by"`
	CreatedAt       time.Time      `db:"created_at"`
	LastLoginAt     sql.NullTime   `db:"last_login_at"`
	FailedLogins    int            `db:"failed_logins"`
	LockedUntil     sql.NullTime   `db:"locked_until"`
	TimeZone        string         `db:"time_zone"`
}

const userColumns = `id, email, role, password_hash, totp_secret, totp_confirmed_at, totp_last_step,
	disabled_at, created_by, created_at, last_login_at, failed_logins, locked_until, time_zone`

func (r userRow) user() User {
	return User{
		ID:              r.ID,
		Email:           r.Email,
		Role:            auth.Role(r.Role),
		TOTPConfirmedAt: nullTime(r.TOTPConfirmedAt),
		TOTPPending:     r.TOTPSecret.Valid && !r.TOTPConfirmedAt.Valid,
		DisabledAt:      nullTime(r.DisabledAt),
		CreatedBy:       r.CreatedBy,
		CreatedAt:       r.CreatedAt.UTC(),
		LastLoginAt:     nullTime(r.LastLoginAt),
		FailedLogins:    r.FailedLogins,
		LockedUntil:     nullTime(r.LockedUntil),
		TimeZone:        r.TimeZone,
	}
}

// lastStep is the last accepted TOTP step, -1 for none.
func (r userRow) lastStep() int64 {
	if !r.TOTPLastStep.Valid {
		return -1
	}
	return r.TOTPLastStep.Int64
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (s store) insertUser(ctx context.Context, r userRow) (userRow, error) {
	const q = `
		INSERT INTO console_users (id, email, role, password_hash, totp_secret, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING ` + userColumns
	var out userRow
	err := sqlx.GetContext(ctx, s.db, &out, q, r.ID, r.Email, r.Role, r.PasswordHash, r.TOTPSecret, r.CreatedBy, r.CreatedAt)
	if postgres.IsUniqueViolation(err) {
		return userRow{}, ErrDuplicate
	}
	if err != nil {
		return userRow{}, fmt.Errorf("insert console user: %w", err)
	}
	return out, nil
}

func (s store) userByEmail(ctx context.Context, email string) (userRow, error) {
	const q = `SELECT ` + userColumns + ` FROM console_users WHERE lower(email) = lower($1)`
	return s.getUser(ctx, q, email)
}

func (s store) userByID(ctx context.Context, id string) (userRow, error) {
	if !postgres.IsUUID(id) {
		return userRow{}, ErrNotFound
	}
	const q = `SELECT ` + userColumns + ` FROM console_users WHERE id = $1`
	return s.getUser(ctx, q, id)
}

func (s store) getUser(ctx context.Context, q string, args ...any) (userRow, error) {
	var r userRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return userRow{}, ErrNotFound
		}
		return userRow{}, fmt.Errorf("console user: %w", err)
	}
	return r, nil
}

// updateUser runs UPDATE console_users SET set WHERE id = $1 [AND cond]
// and returns the row; no row is ErrNotFound.
func (s store) updateUser(ctx context.Context, set, cond, id string, args ...any) (userRow, error) {
	if !postgres.IsUUID(id) {
		return userRow{}, ErrNotFound
	}
	q := `UPDATE console_users SET ` + set + ` WHERE id = $1`
	if cond != "" {
		q += ` AND ` + cond
	}
	return s.getUser(ctx, q+` RETURNING `+userColumns, append([]any{id}, args...)...)
}

// recordFailure counts a failed login of id at now and, from the
// lockAfter-th failure in a row, locks the account for lockFor doubled per
// further failure, at most lockMax. One statement, so concurrent failures
// each count.
func (s store) recordFailure(ctx context.Context, id string, now time.Time, lockAfter int, lockFor, lockMax time.Duration) (userRow, error) {
	return s.updateUser(ctx, `
		failed_logins = failed_logins + 1,
		locked_until = CASE WHEN failed_logins + 1 >= $3
			THEN $2::timestamptz + make_interval(secs => least($4 * power(2, least(failed_logins + 1 - $3, 30)), $5))
			ELSE locked_until END`, "",
		id, now, lockAfter, lockFor.Seconds(), lockMax.Seconds())
}

// recordLogin marks a successful login of id at now: the failure count and
// lock are cleared and, when rehash is not "", the password hash upgraded.
// With a TOTP step (>= 0) it also stores the step, confirming a pending
// enrolment, and updates only while the stored step is older: of two logins
// racing with one code exactly one succeeds, the other gets ErrNotFound.
func (s store) recordLogin(ctx context.Context, id string, now time.Time, step int64, rehash string) (userRow, error) {
	const set = `failed_logins = 0, locked_until = NULL, last_login_at = $2,
		password_hash = COALESCE(NULLIF($3, ''), password_hash)`
	if step < 0 {
		return s.updateUser(ctx, set, "", id, now, rehash)
	}
	return s.updateUser(ctx, set+`, totp_last_step = $4, totp_confirmed_at = COALESCE(totp_confirmed_at, $2)`,
		`totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $4)`, id, now, rehash, step)
}

// confirmTOTP confirms id's pending enrolment with the code of step, under
// the same replay rule as recordLogin.
func (s store) confirmTOTP(ctx context.Context, id string, now time.Time, step int64) (userRow, error) {
	return s.updateUser(ctx, `totp_last_step = $3, totp_confirmed_at = $2`,
		`totp_secret IS NOT NULL AND totp_confirmed_at IS NULL AND (totp_last_step IS NULL OR totp_last_step < $3)`,
		id, now, step)
}

// setTOTP issues a new pending secret to id (nil removes the second factor).
func (s store) setTOTP(ctx context.Context, id string, secret sql.NullString) (userRow, error) {
	return s.updateUser(ctx, `totp_secret = $2, totp_confirmed_at = NULL, totp_last_step = NULL`, "", id, secret)
}

func (s store) setDisabled(ctx context.Context, id string, at sql.NullTime) (userRow, error) {
	return s.updateUser(ctx, `disabled_at = $2`, "", id, at)
}

func (s store) setRole(ctx context.Context, id string, role auth.Role) (userRow, error) {
	return s.updateUser(ctx, `role = $2`, "", id, string(role))
}

func (s store) setTimeZone(ctx context.Context, id, tz string) (userRow, error) {
	return s.updateUser(ctx, `time_zone = $2`, "", id, tz)
}

// lockAdmins takes the transaction-scoped lock that every change which can
// take an enabled admin away holds while it counts the others.
func (s store) lockAdmins(ctx context.Context) error {
	const q = `SELECT pg_advisory_xact_lock(hashtextextended('console-users:admins', 0))`
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("lock console admins: %w", err)
	}
	return nil
}

// otherEnabledAdmins counts the enabled admins other than id.
func (s store) otherEnabledAdmins(ctx context.Context, id string) (int, error) {
	const q = `SELECT count(*) FROM console_users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1`
	var n int
	if err := sqlx.GetContext(ctx, s.db, &n, q, id); err != nil {
		return 0, fmt.Errorf("count console admins: %w", err)
	}
	return n, nil
}

// setPassword replaces id's hash and lifts any lock: a new password is a
// fresh start.
func (s store) setPassword(ctx context.Context, id, hash string) (userRow, error) {
	return s.updateUser(ctx, `password_hash = $2, failed_logins = 0, locked_until = NULL`, "", id, hash)
}

// sessionRow is a console_sessions row.
type sessionRow struct {
	ID         string       `db:"id"`
	UserID     string       `db:"user_id"`
	CreatedAt  time.Time    `db:"created_at"`
	LastSeenAt time.Time    `db:"last_seen_at"`
	ExpiresAt  time.Time    `db:"expires_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
	RemoteAddr string       `db:"remote_addr"`
	UserAgent  string       `db:"user_agent"`
}

const sessionColumns = `id, user_id, created_at, last_seen_at, expires_at, revoked_at, remote_addr, user_agent`

func (r sessionRow) session() Session {
	return Session{
		ID:         r.ID,
		UserID:     r.UserID,
		CreatedAt:  r.CreatedAt.UTC(),
		LastSeenAt: r.LastSeenAt.UTC(),
		ExpiresAt:  r.ExpiresAt.UTC(),
		RevokedAt:  nullTime(r.RevokedAt),
		RemoteAddr: r.RemoteAddr,
		UserAgent:  r.UserAgent,
	}
}

func (s store) insertSession(ctx context.Context, r sessionRow, tokenHash []byte) (sessionRow, error) {
	const q = `
		INSERT INTO console_sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, remote_addr, user_agent)
		VALUES ($1, $2, $3, $4, $4, $5, $6, $7)
		RETURNING ` + sessionColumns
	var out sessionRow
	if err := sqlx.GetContext(ctx, s.db, &out, q, r.ID, tokenHash, r.UserID, r.CreatedAt, r.ExpiresAt,
		r.RemoteAddr, r.UserAgent); err != nil {
		return sessionRow{}, fmt.Errorf("insert console session: %w", err)
	}
	return out, nil
}

// sessionUserRow is a session with its user, read in one round trip.
type sessionUserRow struct {
	sessionRow
	User userRow `db:"u"`
}

// sessionByToken returns the session whose token hashes to tokenHash, with
// its user, or ErrNotFound.
func (s store) sessionByToken(ctx context.Context, tokenHash []byte) (sessionUserRow, error) {
	const q = `
		SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, s.remote_addr, s.user_agent,
		       u.id AS "u.id", u.email AS "u.email", u.role AS "u.role", u.password_hash AS "u.password_hash",
		       u.totp_secret AS "u.totp_secret", u.totp_confirmed_at AS "u.totp_confirmed_at",
		       u.totp_last_step AS "u.totp_last_step", u.disabled_at AS "u.disabled_at",
		       u.created_by AS "u.created_by", u.created_at AS "u.created_at", u.last_login_at AS "u.last_login_at",
		       u.failed_logins AS "u.failed_logins", u.locked_until AS "u.locked_until", u.time_zone AS "u.time_zone"
		FROM console_sessions s JOIN console_users u ON u.id = s.user_id
		WHERE s.token_hash = $1`
	var r sessionUserRow
	if err := sqlx.GetContext(ctx, s.db, &r, q, tokenHash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sessionUserRow{}, ErrNotFound
		}
		return sessionUserRow{}, fmt.Errorf("get console session: %w", err)
	}
	return r, nil
}

func (s store) touchSession(ctx context.Context, id string, at time.Time) error {
	const q = `UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`
	if _, err := s.db.ExecContext(ctx, q, id, at); err != nil {
		return fmt.Errorf("touch console session: %w", err)
	}
	return nil
}

// revokeSession ends the session id; revoking a revoked session keeps its
// first time. It reports whether the session exists.
func (s store) revokeSession(ctx context.Context, id string, at time.Time) (bool, error) {
	if !postgres.IsUUID(id) {
		return false, nil
	}
	const q = `UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`
	return s.revoke(ctx, q, id, at)
}

// revokeToken is revokeSession for the session with tokenHash.
func (s store) revokeToken(ctx context.Context, tokenHash []byte, at time.Time) (bool, error) {
	const q = `UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE token_hash = $1`
	return s.revoke(ctx, q, tokenHash, at)
}

func (s store) revoke(ctx context.Context, q string, key any, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, q, key, at)
	if err != nil {
		return false, fmt.Errorf("revoke console session: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// revokeAll ends every live session of userID and says how many.
func (s store) revokeAll(ctx context.Context, userID string, at time.Time) (int, error) {
	if !postgres.IsUUID(userID) {
		return 0, nil
	}
	const q = `UPDATE console_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`
	res, err := s.db.ExecContext(ctx, q, userID, at)
	if err != nil {
		return 0, fmt.Errorf("revoke console sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// listSessions returns userID's sessions that are neither revoked nor past
// their absolute limit at now, newest first.
func (s store) listSessions(ctx context.Context, userID string, now time.Time) ([]sessionRow, error) {
	if !postgres.IsUUID(userID) {
		return nil, nil
	}
	const q = `SELECT ` + sessionColumns + ` FROM console_sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`
	var rows []sessionRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, userID, now); err != nil {
		return nil, fmt.Errorf("list console sessions: %w", err)
	}
	return rows, nil
}

// purgeSessions deletes at most limit sessions that ended (were revoked or
// reached their absolute limit) before before, and says how many.
func (s store) purgeSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	// least() skips a NULL revoked_at; the expression is the one
	// console_sessions_ended_idx holds. = ANY(ARRAY(…)) deletes the ids by
	// primary key: "IN (subquery)" was planned as a join that scanned the
	// whole table for every batch.
	const q = `DELETE FROM console_sessions WHERE id = ANY(ARRAY(
		SELECT id FROM console_sessions WHERE least(expires_at, revoked_at) < $1 LIMIT $2))`
	res, err := s.db.ExecContext(ctx, q, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge console sessions: %w", err)
	}
	return res.RowsAffected()
}

// viewRow is a console_saved_views row.
type viewRow struct {
	ID        string    `db:"id"`
	UserID    string    `db:"user_id"`
	Page      string    `db:"page"`
	Name      string    `db:"name"`
	Query     string    `db:"query"`
	CreatedAt time.Time `db:"created_at"`
}

const viewColumns = `id, user_id, page, name, query, created_at`

func (r viewRow) view() View {
	return View{ID: r.ID, UserID: r.UserID, Page: r.Page, Name: r.Name, Query: r.Query, CreatedAt: r.CreatedAt.UTC()}
}

// lockUser locks id's row against other writers of its views until the
// transaction ends, or returns ErrNotFound. FOR NO KEY UPDATE does not wait
// for, nor hold up, the key-share locks of inserts that reference the user
// (sessions, views).
func (s store) lockUser(ctx context.Context, id string) error {
	if !postgres.IsUUID(id) {
		return ErrNotFound
	}
	const q = `SELECT id FROM console_users WHERE id = $1 FOR NO KEY UPDATE`
	var got string
	if err := sqlx.GetContext(ctx, s.db, &got, q, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return fmt.Errorf("lock console user: %w", err)
	}
	return nil
}

// countOtherViews counts userID's views of page not named name.
func (s store) countOtherViews(ctx context.Context, userID, page, name string) (int, error) {
	const q = `SELECT count(*) FROM console_saved_views WHERE user_id = $1 AND page = $2 AND name <> $3`
	var n int
	if err := sqlx.GetContext(ctx, s.db, &n, q, userID, page, name); err != nil {
		return 0, fmt.Errorf("count saved views: %w", err)
	}
	return n, nil
}

// upsertView saves r, or replaces the query of the user's view of the same
// page and name (keeping its id and created_at, so links to it still work).
func (s store) upsertView(ctx context.Context, r viewRow) (viewRow, error) {
	const q = `
		INSERT INTO console_saved_views (id, user_id, page, name, query, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, page, name) DO UPDATE SET query = EXCLUDED.query
		RETURNING ` + viewColumns
	var out viewRow
	if err := sqlx.GetContext(ctx, s.db, &out, q, r.ID, r.UserID, r.Page, r.Name, r.Query, r.CreatedAt); err != nil {
		return viewRow{}, fmt.Errorf("save view: %w", err)
	}
	return out, nil
}

// listViews returns userID's views of page by name.
func (s store) listViews(ctx context.Context, userID, page string) ([]viewRow, error) {
	if !postgres.IsUUID(userID) {
		return nil, nil
	}
	const q = `SELECT ` + viewColumns + ` FROM console_saved_views WHERE user_id = $1 AND page = $2 ORDER BY name, id`
	var rows []viewRow
	if err := sqlx.SelectContext(ctx, s.db, &rows, q, userID, page); err != nil {
		return nil, fmt.Errorf("list saved views: %w", err)
	}
	return rows, nil
}

// deleteView deletes userID's view id and reports whether there was one:
// another user's view is not found, never deleted.
func (s store) deleteView(ctx context.Context, userID, id string) (bool, error) {
	if !postgres.IsUUID(userID) || !postgres.IsUUID(id) {
		return false, nil
	}
	const q = `DELETE FROM console_saved_views WHERE id = $1 AND user_id = $2`
	res, err := s.db.ExecContext(ctx, q, id, userID)
	if err != nil {
		return false, fmt.Errorf("delete saved view: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
