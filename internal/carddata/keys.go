// Field names: which fields hold card data, and what is kept of their values.

package carddata

import (
	"strconv"
	"unicode/utf8"
)

// Redacted replaces the whole value of a card number, security code or card
// token field.
const Redacted = "[REDACTED]"

// kind is what a field's name says its value is.
type kind uint8

const (
	kindOther    kind = iota
	kindNumber        // a card number: withheld unless already masked
	kindSecret        // a card security code or a card token: always withheld
	kindDocument      // a base64 document: replaced by a note of its length
)

// keyKinds are the field names that say what their value is, spelled as
// normalizeKey spells them. A CVV is three or four digits, so it can only be
// recognised by the name of its field; card numbers are caught by their
// field names too, in case one fails the Luhn check (a typo is still a card
// number). A card token (APO's cardToken, the paymentMethodId a saved card
// is paid with) is a payment credential: whoever holds it can pay with the
// card. Masked displays such as APO's maskedCardNo are not in the list: they
// may be kept.
var keyKinds = map[string]kind{
	"cardno": kindNumber, "cardnum": kindNumber, "cardnumber": kindNumber, "pan": kindNumber,
	"primaryaccountnumber": kindNumber,

	"cvv": kindSecret, "cvv2": kindSecret, "cvc": kindSecret, "cvc2": kindSecret, "csc": kindSecret,
	"securitycode": kindSecret, "cardsecuritycode": kindSecret, "cardpassworddigest": kindSecret,

	"cardtoken": kindSecret, "acquirercardtoken": kindSecret, "paymentmethodid": kindSecret,

	"disputeevidence": kindDocument,
}

// keyKind returns what a field named key holds. Case, '_', '-', '.' and
// spaces are ignored.
func keyKind(key string) kind {
	if len(key) < 3 || len(key) > 40 {
		return kindOther
	}
	var buf [40]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return keyKinds[string(buf[:n])] // this conversion does not allocate
}

// IsSensitiveKey reports whether a field named key holds a card number, a
// card security code or a card token, so that its value is withheld: cardNo,
// card_number, Card-Number, PAN, cvv, CVV2, cvc, securityCode, cardToken,
// paymentMethodId and similar. Case, '_', '-', '.' and spaces are ignored.
func IsSensitiveKey(key string) bool {
	k := keyKind(key)
	return k == kindNumber || k == kindSecret
}

// IsMasked reports whether s already is a masked card number display, one
// that Mask leaves unchanged: at most its first six and last four characters
// shown and '*' between them ("411111******1111", "************1111"), or
// '*' only when it is shorter than MinLen.
func IsMasked(s string) bool {
	if s == "" {
		return false
	}
	n := utf8.RuneCountInString(s)
	i := 0
	for _, r := range s {
		if r != '*' && (n < MinLen || i >= 6 && i < n-4) {
			return false
		}
		i++
	}
	return true
}

// Field returns what may be kept of value, the text of a field named key
// (a JSON member, a log attribute, a report column): Redacted for a card
// security code or card token field, and for a card number field unless
// value is already masked; a note of its length for a base64 document; for
// any other field, value redacted as free text (Redact).
func Field(key, value string) string { return fieldValue(keyKind(key), value) }

// fieldValue is Field for a field of kind k.
func fieldValue(k kind, value string) string {
	switch k {
	case kindNumber:
		if IsMasked(value) {
			return value
		}
		return Redacted
	case kindSecret:
		return Redacted
	case kindDocument:
		return omitted(value)
	}
	return Redact(value)
}

// omitted is what is kept of a base64 document.
func omitted(doc string) string {
	return "[" + strconv.Itoa(len(doc)) + " base64 characters omitted]"
}
