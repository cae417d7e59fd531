package payments

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/carddata"
)

// CardInput is a card as the buyer typed it. Number and CVV pass through to
// APO and are never stored, logged or printed: every printing path of this
// type masks them.
type CardInput struct {
	Number      string
	CVV         string
	ExpiryMonth string // "1".."12" or "01".."12"
	ExpiryYear  string // "27" or "2027"
	HolderFirst string
	HolderLast  string
	Token       string // a cardToken from an earlier payment, instead of Number
}

// String masks the card.
func (c CardInput) String() string {
	return fmt.Sprintf("card{%s exp %s/%s}", maskPAN(c.Number), c.ExpiryMonth, c.ExpiryYear)
}

// GoString masks the card in %#v.
func (c CardInput) GoString() string { return c.String() }

// Format masks the card for every fmt verb (%v, %+v, %s …).
func (c CardInput) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue masks the card in slog output.
func (c CardInput) LogValue() slog.Value { return slog.StringValue(c.String()) }

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

// normalizePAN removes the spaces and dashes people type.
func normalizePAN(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
}

// maskPAN masks a typed card number as carddata.Mask does, spaces and dashes
// removed first.
func maskPAN(number string) string { return carddata.Mask(normalizePAN(number)) }

// maskFreeText masks card numbers typed into the fields of a payment
// request that are free text, with the one policy every stored text follows
// (carddata.MaskText), before anything is stored or sent: a number belongs in
// card.number only. Reference order id and phone stay as typed: the first
// is the merchant's key for the order, and a long phone number passes the
// Luhn check one time in ten.
func (r *CreateRequest) maskFreeText() {
	for _, f := range []*string{&r.OrderDescription, &r.BuyerReference, &r.BuyerEmail, &r.UserAgent,
		&r.Card.HolderFirst, &r.Card.HolderLast} {
		*f = carddata.MaskText(*f)
	}
}

// brandOf names the scheme from the BIN; APO's answer replaces it.
func brandOf(pan string) string {
	switch {
	case strings.HasPrefix(pan, "4"):
		return "VISA"
	case strings.HasPrefix(pan, "34"), strings.HasPrefix(pan, "37"):
		return "AMEX"
	case len(pan) >= 2 && pan[0] == '5' && pan[1] >= '1' && pan[1] <= '5':
		return "MASTERCARD"
	case len(pan) >= 4 && pan[:4] >= "2221" && pan[:4] <= "2720":
		return "MASTERCARD"
	case strings.HasPrefix(pan, "35"):
		return "JCB"
	case strings.HasPrefix(pan, "6011"), strings.HasPrefix(pan, "65"):
		return "DISCOVER"
	}
	return "UNKNOWN"
}

// expiry normalises month and year to APO's two digits each and checks the
// card has not expired at now (a card is valid through its expiry month).
func expiry(month, year string, now time.Time) (string, string, error) {
	m, err := strconv.Atoi(month)
	if err != nil || m < 1 || m > 12 || len(month) > 2 {
		return "", "", &InvalidError{Field: "card.expiry_month", Reason: "want 1 to 12"}
	}
	if !allDigits(year) || (len(year) != 2 && len(year) != 4) {
		return "", "", &InvalidError{Field: "card.expiry_year", Reason: "want YY or YYYY"}
	}
	y, _ := strconv.Atoi(year)
	if y < 100 {
		y += 2000
	}
	if y > now.Year()+25 {
		return "", "", &InvalidError{Field: "card.expiry_year", Reason: "too far in the future"}
	}
	if y < now.Year() || (y == now.Year() && time.Month(m) < now.Month()) {
		return "", "", &InvalidError{Field: "card.expiry_year", Reason: "card has expired"}
	}
	return fmt.Sprintf("%02d", m), fmt.Sprintf("%02d", y%100), nil
}
