package users

import (
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP as every authenticator app understands it (RFC 6238 defaults):
// 30-second steps, 6 digits, HMAC-SHA-1. SHA-256 would be no safer in
// practice (HOTP's security rests on the HMAC, not on collision resistance)
// and several apps silently ignore the algorithm parameter and show wrong
// codes. A code is accepted one step either side of now (clock drift of up
// to 30 s), and never twice: the last accepted step is stored.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpDigits = otp.DigitsSix
	// totpSecretBytes is RFC 4226's recommended 160 bits.
	totpSecretBytes = 20
)

// newEnrolment issues a TOTP secret for email.
func newEnrolment(issuer, email string) (Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: email, Period: totpPeriod, SecretSize: totpSecretBytes,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp secret: %w", err)
	}
	return Enrolment{Secret: Secret(key.Secret()), URL: Secret(key.URL())}, nil
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchCode returns the time step, within the skew of now and after the
// step last (the last one accepted; -1 for none), whose code is code, and
// false when none is or the secret is unreadable. Every candidate step is
// computed and compared in constant time.
func matchCode(secret, code string, now time.Time, last int64) (int64, bool) {
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	opts := hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	var (
		found int64
		ok    bool
	)
	cur := totpStep(now)
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > last && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}
