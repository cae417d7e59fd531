package users

import (
	"errors"
	"strings"
	"testing"

	"github.com/payops/payops/internal/auth"
)

// The stored form is a PHC string carrying its parameters; checking is
// exact and reads the parameters back.
func TestUserPasswordHash(t *testing.T) {
	t.Parallel()
	phc, err := hashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(phc, "$") != 5 {
		t.Fatalf("hash %q, want a PHC argon2id string with m=19456,t=2,p=1", phc)
	}
	again, _ := hashPassword("correct horse battery", DefaultArgon2)
	if again == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	ok, p, err := checkPassword("correct horse battery", phc)
	if !ok || err != nil || p != DefaultArgon2 {
		t.Fatalf("right password: %v %+v %v", ok, p, err)
	}
	if ok, _, _ := checkPassword("correct horse batterY", phc); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, _, _ := checkPassword(strings.Repeat("x", maxPasswordBytes+1), phc); ok {
		t.Fatal("over-long password accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA",
		"$argon2id$v=18$m=64,t=1,p=1$AA$AA", "$argon2id$v=19$m=64,t=1,p=1$!!$AA", strings.Replace(phc, "$v=19", "", 1)} {
		if _, _, err := checkPassword("x", bad); !errors.Is(err, errBadHash) {
			t.Errorf("checkPassword(%q): %v, want errBadHash", bad, err)
		}
	}
}

func TestUserPasswordPolicy(t *testing.T) {
	t.Parallel()
	for pw, ok := range map[string]bool{
		"short":                     false,
		"elevenchars":               false,
		"twelve chars":              true,
		"ANNA@example.com":          false,
		"anna":                      false,
		"\xff\xfe invalid utf8 xxx": false,
		strings.Repeat("ü", 12):     true,
		strings.Repeat("x", 257):    false,
		string(newPassword()):       true,
	} {
		if err := checkPolicy(pw, "anna@example.com"); (err == nil) != ok {
			t.Errorf("policy(%q) = %v, want ok %v", pw, err, ok)
		}
	}
}

// Raising Config.Argon2 upgrades a user's hash at their next login.
func TestUserPasswordHashUpgradedAtLogin(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	stronger := Argon2Params{Memory: 128, Time: 2, Threads: 1}
	f.svc.cfg.Argon2 = stronger
	f.mustLogin(t, c)
	var phc string
	if err := f.db.Get(&phc, `SELECT password_hash FROM console_users WHERE id = $1`, c.User.ID); err != nil {
		t.Fatal(err)
	}
	if p, _, _, err := parseHash(phc); err != nil || p != stronger {
		t.Fatalf("hash after login has %+v (%v), want %+v", p, err, stronger)
	}
	f.mustLogin(t, c)
}

// An unknown email is checked against a decoy hash with the configured
// parameters, so it costs what a known email costs.
func TestUserUnknownEmailCostsAHash(t *testing.T) {
	f := newFixture(t, Config{Argon2: Argon2Params{Memory: 96, Time: 3, Threads: 1}})
	if p, _, _, err := parseHash(f.svc.decoy()); err != nil || p != f.svc.cfg.Argon2 {
		t.Fatalf("decoy hash parameters %+v (%v), want %+v", p, err, f.svc.cfg.Argon2)
	}
}
