package apo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/pan"
)

// MaskPAN keeps what PCI DSS allows us to show of a card number, the first
// six and last four characters, and replaces the rest with '*' (pan.Mask).
// Masking a masked number returns it unchanged.
func MaskPAN(number string) string { return pan.Mask(number) }

// scrubPANs masks the card numbers in free text with the policy every text
// payops keeps goes through (pan.MaskText).
func scrubPANs(s string) string { return pan.MaskText(s) }

// Keys whose values RedactedJSON replaces, compared case-insensitively.
var (
	panKeys    = map[string]bool{"cardno": true}
	secretKeys = map[string]bool{"cvv": true, "cvv2": true, "cvc": true, "cvc2": true, "securitycode": true, "cardpassworddigest": true}
	// A card token pays with the card it stands for: a credential, kept out
	// of call logs like the CVV.
	tokenKeys    = map[string]bool{"cardtoken": true, "acquirercardtoken": true, "paymentmethodid": true}
	documentKeys = map[string]bool{"disputeevidence": true}
)

// RedactedJSON returns a copy of an APO JSON body that is safe to store or
// log: every "cardNo" is masked with MaskPAN, every CVV-like field and card
// token (cardToken, paymentMethodId) becomes "***", card numbers in
// free-text fields (see isFreeText) are masked by pan.MaskText, and base64
// dispute documents ("disputeEvidence") are replaced by a note of their
// length so call logs stay small. Keys are re-ordered (encoding/json sorts
// object keys); numbers are kept exactly. A body that is not JSON becomes a
// JSON object {"unparsedBody": "..."} holding its first 2 KiB with card
// numbers masked.
func RedactedJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.Decode(new(any)) != io.EOF {
		s := string(body)
		if len(s) > 2048 {
			s = s[:2048]
		}
		return mustJSON(map[string]string{"unparsedBody": scrubPANs(strings.ToValidUTF8(s, "?"))})
	}
	return mustJSON(redactValue(v))
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			lk := strings.ToLower(k)
			s, isString := val.(string)
			switch {
			case panKeys[lk] && isString:
				t[k] = MaskPAN(s)
			case (panKeys[lk] || secretKeys[lk] || tokenKeys[lk]) && val != nil:
				t[k] = "***"
			case isFreeText(lk) && isString:
				t[k] = scrubPANs(s)
			case documentKeys[lk] && isString:
				t[k] = "[" + strconv.Itoa(len(s)) + " base64 characters omitted]"
			default:
				t[k] = redactValue(val)
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
		return t
	}
	return v
}

// isFreeText reports keys holding what a person typed or a gateway wrote
// (resultMessage, disputeReasonMsg, refundReason, orderDescription,
// referenceBuyerId, buyerEmail, the cardholder's names, userAgent …), where a
// card number may be echoed. Ids we or APO generate are left alone.
func isFreeText(lowerKey string) bool {
	if freeTextKeys[lowerKey] {
		return true
	}
	for _, suffix := range []string{"message", "msg", "reason", "reasonraw", "description"} {
		if strings.HasSuffix(lowerKey, suffix) {
			return true
		}
	}
	return false
}

// freeTextKeys are free-text fields of APO's bodies whose names the suffixes
// of isFreeText do not catch. buyerPhoneNo is not one: phone numbers run to
// 15 digits and one in ten would pass the Luhn check.
var freeTextKeys = map[string]bool{
	"referencebuyerid": true, "buyeremail": true, "buyername": true, "firstname": true, "middlename": true,
	"lastname": true, "fullname": true, "cardholdername": true, "useragent": true, "goodsname": true,
}

// mustJSON encodes values built from decoded JSON, which cannot fail.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"unparsedBody":"[withheld]"}`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// redactedString renders v as its type name plus its redacted JSON.
func redactedString(name string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return name + "{[withheld]}"
	}
	return name + string(RedactedJSON(b))
}

// formatRedacted implements fmt.Formatter for types carrying card data, so
// that no verb (%v, %+v, %#v, %s, %d, %x …) can reach the clear fields.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s)
		return
	}
	io.WriteString(f, s)
}

// Redacted returns a copy of r with the card masked (cardNo → first six and
// last four, cvv → "***"): what to store as "the request we sent". r itself
// is not modified.
func (r PayRequest) Redacted() PayRequest {
	r.PaymentMethod = r.PaymentMethod.redacted()
	return r
}

// String renders the request as redacted JSON.
func (r PayRequest) String() string { return redactedString("apo.PayRequest", r.Redacted()) }

// GoString is String: %#v must not print the card either.
func (r PayRequest) GoString() string { return r.String() }

// Format makes every fmt verb print the redacted form.
func (r PayRequest) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue gives slog a redacted summary of the request.
func (r PayRequest) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("productCode", r.ProductCode),
		slog.String("paymentRequestId", r.PaymentRequestID),
		slog.Group("paymentAmount", slog.String("currency", r.PaymentAmount.Currency), slog.String("value", r.PaymentAmount.Value)),
		{Key: "paymentMethod", Value: r.PaymentMethod.LogValue()},
	}
	if r.PaymentFactor != nil {
		attrs = append(attrs, slog.Group("paymentFactor",
			slog.Bool("isAuthorization", bool(r.PaymentFactor.IsAuthorization)),
			slog.String("captureMode", r.PaymentFactor.CaptureMode)))
	}
	if r.Order != nil && r.Order.ReferenceOrderID != "" {
		attrs = append(attrs, slog.String("referenceOrderId", r.Order.ReferenceOrderID))
	}
	return slog.GroupValue(attrs...)
}

func (m PaymentMethod) redacted() PaymentMethod {
	if m.PaymentMethodMetaData != nil {
		c := m.PaymentMethodMetaData.redacted()
		m.PaymentMethodMetaData = &c
	}
	return m
}

// String renders the payment method as redacted JSON.
func (m PaymentMethod) String() string { return redactedString("apo.PaymentMethod", m.redacted()) }

// GoString is String: %#v must not print the card either.
func (m PaymentMethod) GoString() string { return m.String() }

// Format makes every fmt verb print the redacted form.
func (m PaymentMethod) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String()) }

// LogValue gives slog a redacted summary of the payment method.
func (m PaymentMethod) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("paymentMethodType", m.PaymentMethodType)}
	if m.PaymentMethodID != "" {
		attrs = append(attrs, slog.String("paymentMethodId", m.PaymentMethodID))
	}
	if m.PaymentMethodMetaData != nil {
		attrs = append(attrs, slog.Attr{Key: "paymentMethodMetaData", Value: m.PaymentMethodMetaData.LogValue()})
	}
	return slog.GroupValue(attrs...)
}

func (c CardMetaData) redacted() CardMetaData {
	c.CardNo = MaskPAN(c.CardNo)
	if c.CVV != "" {
		c.CVV = "***"
	}
	return c
}

// String renders the card data as redacted JSON.
func (c CardMetaData) String() string { return redactedString("apo.CardMetaData", c.redacted()) }

// GoString is String: %#v must not print the card either.
func (c CardMetaData) GoString() string { return c.String() }

// Format makes every fmt verb print the redacted form.
func (c CardMetaData) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue gives slog the masked number, expiry and flags; never the CVV,
// cardholder name or billing address.
func (c CardMetaData) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("cardNo", MaskPAN(c.CardNo)),
		slog.String("expiryMonth", c.ExpiryMonth),
		slog.String("expiryYear", c.ExpiryYear),
		slog.Bool("is3DSAuthentication", bool(c.Is3DSAuthentication)),
		slog.Bool("isCardOnFile", bool(c.IsCardOnFile)),
	}
	if c.CVV != "" {
		attrs = append(attrs, slog.String("cvv", "***"))
	}
	return slog.GroupValue(attrs...)
}
