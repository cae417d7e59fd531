package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/postgres"
)

// Token is a session's bearer credential: 32 random bytes in unpadded
// base64url. Login hands it out once; only its SHA-256 is stored.
type Token = Secret

const (
	tokenBytes = 32
	tokenLen   = 43 // base64.RawURLEncoding.EncodedLen(32)
)

// Service logs console users in and out and administers them. It is safe
// for concurrent use.
type Service struct {
	db       *sqlx.DB
	log      *slog.Logger
	cfg      Config
	throttle *addressThrottle
	hashing  chan struct{} // semaphore of Config.MaxHashing
	// decoy is a hash of a random password under cfg.Argon2: an unknown
	// email is checked against it, so it costs the time a known one does.
	decoy func() string
}

// New returns the service over db, with its per-address throttle in rdb.
// log receives security events (failed logins, locks, throttling), never a
// secret.
func New(db *sqlx.DB, rdb *redis.Client, log *slog.Logger, cfg Config) *Service {
	cfg = cfg.withDefaults()
	s := &Service{db: db, log: log, cfg: cfg,
		throttle: newAddressThrottle(rdb, cfg.AddressBurst, cfg.AddressRefill),
		hashing:  make(chan struct{}, cfg.MaxHashing)}
	s.decoy = sync.OnceValue(func() string {
		h, err := hashPassword(rand.Text(), cfg.Argon2)
		if err != nil {
			// Unreachable (crypto/rand does not fail); a decoy that does not
			// parse still fails the login, only faster.
			return ""
		}
		return h
	})
	return s
}

// Login checks a person's email, password and (unless they are a viewer
// without one) TOTP code, and opens a new session: every login makes a new
// token, so no token that existed before it ever gains its rights.
//
// Every reason a login can fail before the account is known to exist —
// unknown email, wrong password, wrong, missing or replayed code, disabled
// user, second factor required but not enrolled — is the same
// ErrUnauthenticated, and an unknown email costs the same argon2 time as a
// known one. A *LockedError (errors.Is ErrLocked) means LockAfter failures
// in a row; ErrThrottled means the address failed AddressBurst times.
// Both are answered before the password is looked at.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Session, Token, error) {
	now := s.cfg.Now().UTC()
	addr := addressKey(req.RemoteAddr)
	// Redis down: fail open to the per-account lock, which is in the
	// database and still holds, rather than lock every person out.
	if blocked, err := s.throttle.blocked(ctx, addr); err != nil {
		s.log.WarnContext(ctx, "console login throttle unavailable", "err", err)
	} else if blocked {
		s.log.WarnContext(ctx, "console login throttled", "remote_addr", addr)
		return Session{}, "", ErrThrottled
	}
	r, step, rehash, err := s.checkCredentials(ctx, req, now)
	if errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrLocked) {
		if terr := s.throttle.fail(ctx, addr); terr != nil {
			s.log.WarnContext(ctx, "console login throttle unavailable", "err", terr)
		}
	}
	if err != nil {
		return Session{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return Session{}, "", err
	}
	var sess sessionRow
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := store{tx}
		if _, err := st.recordLogin(ctx, r.ID, now, step, rehash); err != nil {
			if errors.Is(err, ErrNotFound) {
				// Another login took this code's step first.
				return ErrUnauthenticated
			}
			return err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("session id: %w", err)
		}
		sess, err = st.insertSession(ctx, sessionRow{ID: id.String(), UserID: r.ID, CreatedAt: now,
			ExpiresAt: now.Add(s.cfg.AbsoluteTimeout), RemoteAddr: limitText(req.RemoteAddr, 100), UserAgent: limitText(req.UserAgent, 512)}, hash)
		if err != nil {
			return err
		}
		return audit.NewStore(tx).Record(ctx, loginEntry(r, req, audit.OutcomeSucceeded, ""))
	})
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			s.log.WarnContext(ctx, "console login failed", "user_id", r.ID, "reason", "replayed code")
		}
		return Session{}, "", err
	}
	s.log.InfoContext(ctx, "console login", "user_id", r.ID, "session_id", sess.ID, "remote_addr", addr)
	return sess.session(), token, nil
}

// checkCredentials is Login's decision: the user, the TOTP step accepted
// (-1 when no code was needed) and, when the stored hash has older
// parameters than Config.Argon2, its replacement.
func (s *Service) checkCredentials(ctx context.Context, req LoginRequest, now time.Time) (userRow, int64, string, error) {
	r, err := store{s.db}.userByEmail(ctx, limitText(req.Email, 254))
	if errors.Is(err, ErrNotFound) {
		_, _, _ = s.checkPassword(ctx, req.Password, s.decoy())
		// Not the email typed: people type passwords into the email field.
		s.log.WarnContext(ctx, "console login failed", "reason", "unknown email")
		return userRow{}, 0, "", ErrUnauthenticated
	}
	if err != nil {
		return userRow{}, 0, "", err
	}
	if r.LockedUntil.Valid && now.Before(r.LockedUntil.Time) {
		return userRow{}, 0, "", &LockedError{RetryAfter: r.LockedUntil.Time.Sub(now)}
	}
	ok, params, err := s.checkPassword(ctx, req.Password, r.PasswordHash)
	if err != nil && !errors.Is(err, errBadHash) {
		return userRow{}, 0, "", err
	}
	if errors.Is(err, errBadHash) {
		s.log.ErrorContext(ctx, "console user has an unreadable password hash", "user_id", r.ID)
	}
	if !ok {
		return userRow{}, 0, "", s.fail(ctx, r, req, now, "password")
	}
	if r.DisabledAt.Valid {
		s.log.WarnContext(ctx, "console login failed", "user_id", r.ID, "reason", "disabled")
		return userRow{}, 0, "", ErrUnauthenticated
	}
	step := int64(-1)
	if NeedsTOTP(r.user().Role) || r.TOTPConfirmedAt.Valid {
		if !r.TOTPSecret.Valid {
			s.log.WarnContext(ctx, "console login failed", "user_id", r.ID, "reason", "second factor not enrolled")
			return userRow{}, 0, "", ErrUnauthenticated
		}
		if step, ok = matchCode(r.TOTPSecret.String, req.Code, now, r.lastStep()); !ok {
			return userRow{}, 0, "", s.fail(ctx, r, req, now, "code")
		}
	}
	var rehash string
	if params != s.cfg.Argon2 {
		if rehash, err = s.hashPassword(ctx, req.Password); err != nil {
			return userRow{}, 0, "", err
		}
	}
	return r, step, rehash, nil
}

// fail counts a failed login of r (locking it from the LockAfter-th) and
// returns ErrUnauthenticated: the failure that locks an account does not
// say so, the next attempt does.
func (s *Service) fail(ctx context.Context, r userRow, req LoginRequest, now time.Time, reason string) error {
	var u userRow
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if u, err = (store{tx}).recordFailure(ctx, r.ID, now, s.cfg.LockAfter, s.cfg.LockFor, s.cfg.LockMax); err != nil {
			return err
		}
		return audit.NewStore(tx).Record(ctx, loginEntry(r, req, audit.OutcomeFailed, reason))
	})
	if err != nil {
		return err
	}
	s.log.WarnContext(ctx, "console login failed", "user_id", r.ID, "reason", reason, "failed_logins", u.FailedLogins)
	if u.LockedUntil.Valid && u.LockedUntil.Time.After(now) {
		s.log.WarnContext(ctx, "console user locked", "user_id", r.ID, "until", u.LockedUntil.Time.UTC())
	}
	return ErrUnauthenticated
}

// checkPassword runs checkPassword under the hashing semaphore.
func (s *Service) checkPassword(ctx context.Context, password Secret, phc string) (bool, Argon2Params, error) {
	if err := s.acquire(ctx); err != nil {
		return false, Argon2Params{}, err
	}
	defer s.release()
	return checkPassword(password.Reveal(), phc)
}

// hashPassword runs hashPassword with Config.Argon2 under the semaphore.
func (s *Service) hashPassword(ctx context.Context, password Secret) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return hashPassword(password.Reveal(), s.cfg.Argon2)
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashing }

// Authenticate returns the user and session of token. It fails with
// ErrUnauthenticated when the token is unknown or malformed, or its session
// revoked, idle for IdleTimeout, past its absolute limit, or its user
// disabled. It slides the idle limit, writing last_seen_at at most once per
// TouchEvery.
func (s *Service) Authenticate(ctx context.Context, token Token) (User, Session, error) {
	hash, ok := hashToken(token)
	if !ok {
		return User{}, Session{}, ErrUnauthenticated
	}
	r, err := store{s.db}.sessionByToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return User{}, Session{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, Session{}, err
	}
	now := s.cfg.Now().UTC()
	switch {
	case r.RevokedAt.Valid, !now.Before(r.ExpiresAt), now.Sub(r.LastSeenAt) >= s.cfg.IdleTimeout, r.User.DisabledAt.Valid:
		return User{}, Session{}, ErrUnauthenticated
	}
	if now.Sub(r.LastSeenAt) >= s.cfg.TouchEvery {
		if err := (store{s.db}).touchSession(ctx, r.ID, now); err != nil {
			return User{}, Session{}, err
		}
		r.LastSeenAt = now
	}
	return r.User.user(), r.session(), nil
}

// Logout ends the session of token. An unknown or ended session is not an
// error: logging out twice is harmless.
func (s *Service) Logout(ctx context.Context, token Token) error {
	hash, ok := hashToken(token)
	if !ok {
		return nil
	}
	_, err := store{s.db}.revokeToken(ctx, hash, s.cfg.Now().UTC())
	return err
}

// Revoke ends the session id (an unknown id is ErrNotFound; an ended one
// stays as it was).
func (s *Service) Revoke(ctx context.Context, sessionID string) error {
	found, err := store{s.db}.revokeSession(ctx, sessionID, s.cfg.Now().UTC())
	if err == nil && !found {
		return ErrNotFound
	}
	return err
}

// RevokeAll ends every live session of userID and says how many there were.
func (s *Service) RevokeAll(ctx context.Context, userID string) (int, error) {
	return store{s.db}.revokeAll(ctx, userID, s.cfg.Now().UTC())
}

// ListSessions returns userID's live sessions (neither revoked nor past
// their absolute limit), newest first.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	rows, err := store{s.db}.listSessions(ctx, userID, s.cfg.Now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, nil
}

// purgeBatch is how many sessions one PurgeSessions statement deletes: a
// backlog goes in short statements that hold few row locks, not one long
// one.
const purgeBatch = 1000

// PurgeSessions deletes the sessions that ended before before, revoked or
// past their absolute limit (one that only went idle goes once its absolute
// limit has passed too), batch by batch until none is left. It says how
// many went, also when it fails part way. A cutoff after now is refused: it
// would end sessions still in use.
func (s *Service) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	if before.After(s.cfg.Now()) {
		return 0, &InvalidError{Field: "before", Reason: "must not be in the future: it would end live sessions"}
	}
	var total int64
	for {
		n, err := store{s.db}.purgeSessions(ctx, before.UTC(), purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// newToken draws a session token and its stored hash.
func newToken() (Token, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("session token: %w", err)
	}
	t := Token(base64.RawURLEncoding.EncodeToString(b))
	h, _ := hashToken(t)
	return t, h, nil
}

// hashToken is the SHA-256 of a well-formed token, and false for anything
// else (so garbage never reaches the database). A plain hash is enough: the
// token has 256 bits of entropy, nothing to guess.
func hashToken(t Token) ([]byte, bool) {
	raw := t.Reveal()
	if len(raw) != tokenLen {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(raw); err != nil {
		return nil, false
	}
	h := sha256.Sum256([]byte(raw))
	return h[:], true
}

// limitText makes client-supplied text storable and bounded: at most n
// bytes, valid UTF-8, no NUL (PostgreSQL refuses both in text).
func limitText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}
