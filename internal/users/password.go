package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters (RFC 9106).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

// DefaultArgon2 is OWASP's first argon2id configuration (Password Storage
// Cheat Sheet): 19 MiB, 2 passes, 1 lane. It takes about 40 ms on the
// project's 2-core machine; OWASP's equivalent alternatives trade memory for
// passes at the same cost to an attacker. RFC 9106's 64 MiB × 3 passes took
// 0.5 s here and 64 MiB per concurrent login: too much for a small api
// process, for a gain an attacker with the hashes would still have to pay
// 19 MiB per guess to deny. The parameters are stored in each hash (PHC
// string), so they can be raised with Config.Argon2 later; a user's hash is
// upgraded at their next successful login.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltBytes = 16 // RFC 9106 recommends 128 bits
	hashBytes = 32
	// MinPasswordLen is the shortest password accepted, in characters
	// (NIST SP 800-63B asks for at least 8; PCI DSS 4.0 req. 8.3.6 for 12).
	MinPasswordLen = 12
	// maxPasswordBytes bounds the input to argon2, so a megabyte "password"
	// cannot be used to burn CPU; passphrases fit easily.
	maxPasswordBytes = 256
)

// errBadHash is a stored hash this package cannot read; the login fails.
var errBadHash = errors.New("unreadable password hash")

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, base64 without padding.
func hashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// parseHash reads a PHC string made by hashPassword.
func parseHash(phc string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	var p Argon2Params
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 ||
		p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return Argon2Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 {
		return Argon2Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// checkPassword reports whether password matches the PHC string phc, in
// time that does not depend on where they differ, and the parameters phc
// was made with (so the caller can upgrade an old hash).
func checkPassword(password, phc string) (bool, Argon2Params, error) {
	p, salt, want, err := parseHash(phc)
	if err != nil {
		return false, Argon2Params{}, err
	}
	if len(password) > maxPasswordBytes {
		return false, p, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, p, nil
}

// checkPolicy is the minimum password policy: at least MinPasswordLen
// characters, at most maxPasswordBytes bytes, and neither the email nor its
// local part. Generated passwords pass it by construction.
func checkPolicy(password, email string) error {
	switch {
	case !utf8.ValidString(password):
		return &InvalidError{Field: "password", Reason: "must be valid UTF-8"}
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return &InvalidError{Field: "password", Reason: fmt.Sprintf("must be at least %d characters", MinPasswordLen)}
	case len(password) > maxPasswordBytes:
		return &InvalidError{Field: "password", Reason: fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)}
	}
	local, _, _ := strings.Cut(email, "@")
	if strings.EqualFold(password, email) || strings.EqualFold(password, local) {
		return &InvalidError{Field: "password", Reason: "must not be the email address"}
	}
	return nil
}

// newPassword draws a password from crypto/rand: 26 base32 characters, 128
// bits, readable aloud and typeable from a printout.
func newPassword() Secret { return Secret(rand.Text()) }
