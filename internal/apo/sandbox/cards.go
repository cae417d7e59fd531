package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/payops/payops/internal/carddata"
)

// behaviour is what a test card makes the sandbox do (design.md §7). It is
// kept in state instead of the card number, so a saved card token can
// replay the same outcome without the PAN being stored.
type behaviour string

const (
	cardApprove   behaviour = "APPROVE"               // authorized at once, frictionless 3DS
	cardChallenge behaviour = "CHALLENGE"             // U PAYMENT_IN_PROCESS with normalUrl
	cardDecline   behaviour = "DO_NOT_HONOR"          // F DO_NOT_HONOR
	cardNoFunds   behaviour = "NO_FUNDS"              // F USER_BALANCE_NOT_ENOUGH
	cardDelayed   behaviour = "DELAYED_SUCCESS"       // U without URL, SUCCESS after a delay
	cardDispute   behaviour = "DISPUTE_AFTER_CAPTURE" // authorized; dispute opened after the first capture
)

// testCards are the magic numbers of design.md §7. Any other Luhn-valid
// number is approved.
var testCards = map[string]behaviour{
	"4111111111111111": cardApprove,
	"5555555555554444": cardApprove,
	"378282246310005":  cardApprove,
	"4000000000003220": cardChallenge,
	"4000000000000002": cardDecline,
	"4000000000009995": cardNoFunds,
	"4000000000000119": cardDelayed,
	"4000000000000259": cardDispute,
}

// behaviourOf returns the outcome a Luhn-valid card number asks for.
func behaviourOf(pan string) behaviour {
	if b, ok := testCards[pan]; ok {
		return b
	}
	return cardApprove
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cardBrand guesses the scheme from the number's leading digits.
func cardBrand(pan string) string {
	switch {
	case strings.HasPrefix(pan, "4"):
		return "VISA"
	case strings.HasPrefix(pan, "34"), strings.HasPrefix(pan, "37"):
		return "AMEX"
	case len(pan) >= 2 && pan[:2] >= "51" && pan[:2] <= "55",
		len(pan) >= 4 && pan[:4] >= "2221" && pan[:4] <= "2720":
		return "MASTERCARD"
	case strings.HasPrefix(pan, "6011"), strings.HasPrefix(pan, "65"):
		return "DISCOVER"
	case strings.HasPrefix(pan, "35"):
		return "JCB"
	case strings.HasPrefix(pan, "62"):
		return "UNIONPAY"
	}
	return "UNKNOWN"
}

// cardFacts is everything the sandbox keeps about a card. The PAN and CVV
// are not among them; Fingerprint is an HMAC under a per-process random key,
// so it identifies a card again without being reversible.
type cardFacts struct {
	Masked         string    `json:"cardNo"`
	BIN            string    `json:"cardBin"`
	LastFour       string    `json:"lastFour"`
	Brand          string    `json:"cardBrand"`
	Funding        string    `json:"funding"`
	IssuingCountry string    `json:"issuingCountry"`
	ExpiryMonth    string    `json:"expiryMonth"`
	ExpiryYear     string    `json:"expiryYear"`
	Token          string    `json:"cardToken,omitempty"`
	Behaviour      behaviour `json:"testBehaviour"`
	Acquirer       string    `json:"acquirer"`
	Fingerprint    string    `json:"-"`
}

// issuingCountries are handed out by card fingerprint for numbers that are
// not test cards, so the same card always reports the same country.
var issuingCountries = []string{"US", "GB", "SG", "DE", "JP", "FR", "AU", "HK"}

// cardFactsOf derives the storable facts of a card. fpKey is the server's
// per-process HMAC key.
func cardFactsOf(fpKey []byte, pan, month, year string) cardFacts {
	mac := hmac.New(sha256.New, fpKey)
	mac.Write([]byte(pan))
	sum := mac.Sum(nil)
	country := "US"
	if _, test := testCards[pan]; !test {
		country = issuingCountries[int(sum[1])%len(issuingCountries)]
	}
	f := cardFacts{
		Masked:         carddata.Mask(pan), // as APO's displayable cardNo
		Brand:          cardBrand(pan),
		Funding:        "CREDIT",
		IssuingCountry: country,
		ExpiryMonth:    month,
		ExpiryYear:     year,
		Behaviour:      behaviourOf(pan),
		Acquirer:       routeAcquirer(pan).Name,
		Fingerprint:    hex.EncodeToString(sum),
	}
	// A number too short to be a card keeps no digits at all: its BIN and
	// last four together would give most of it away.
	if len(pan) >= carddata.MinLen {
		f.BIN, f.LastFour = pan[:6], pan[len(pan)-4:]
	}
	return f
}

// cardToken derives the saved-card token for a fingerprint. It looks like
// the doc examples ("ALIPAY…==") and, being an HMAC, reveals nothing.
func cardToken(fpKey []byte, fingerprint string) string {
	mac := hmac.New(sha256.New, fpKey)
	mac.Write([]byte("card-token:" + fingerprint))
	return "ALIPAY" + base64.StdEncoding.EncodeToString(mac.Sum(nil)[:22])
}

// routeAcquirer picks the acquirer by a plain hash of the card number, so a
// card always goes to the same acquirer across runs (as APO routing rules
// would). Only the acquirer's name is kept.
func routeAcquirer(pan string) acquirerProfile {
	sum := sha256.Sum256([]byte(pan))
	return acquirers[int(sum[0])%len(acquirers)]
}
