package apo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/payops/payops/internal/carddata"
)

// MaskPAN keeps what PCI DSS allows us to show of a card number, the first
// six and last four characters, and replaces the rest with '*'
// (carddata.Mask). Masking a masked number returns it unchanged.
func MaskPAN(number string) string { return carddata.Mask(number) }

// scrubPANs masks the card numbers in free text (carddata.MaskText).
func scrubPANs(s string) string { return carddata.MaskText(s) }

// RedactedJSON returns a copy of an APO JSON body that is safe to store or
// log, by carddata's one policy (carddata.RedactJSON): card security codes
// and card tokens (cardToken, paymentMethodId) become "[REDACTED]", and so
// does a cardNo unless APO already masked it; card numbers anywhere else
// are masked to their first six and last four digits; base64 dispute
// documents ("disputeEvidence") are replaced by a note of their length, so
// call records stay small. Layout and key order are kept. A body that is
// not JSON becomes a JSON object {"unparsedBody": "..."} holding its first
// 2 KiB, redacted as text. The result is always valid UTF-8, as a jsonb
// column needs.
func RedactedJSON(body []byte) []byte {
	if !utf8.Valid(body) {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	if !json.Valid(body) {
		// Redact before cutting: a cut through a card number would leave
		// its first digits as too short a run to be found.
		s := carddata.Redact(string(body))
		if len(s) > 2048 {
			s = strings.ToValidUTF8(s[:2048], "")
		}
		return mustJSON(map[string]string{"unparsedBody": s})
	}
	return carddata.RedactJSON(body)
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

// Redacted returns a copy of r with the card data withheld as carddata's
// policy has it (cardNo masked to its first six and last four, cvv and a
// saved card's token, paymentMethodId, replaced by carddata.Redacted): what
// to store as "the request we sent". r itself is not modified.
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
	if m.PaymentMethodID != "" { // a card token pays with the card: a credential
		m.PaymentMethodID = carddata.Redacted
	}
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
		attrs = append(attrs, slog.String("paymentMethodId", carddata.Redacted))
	}
	if m.PaymentMethodMetaData != nil {
		attrs = append(attrs, slog.Attr{Key: "paymentMethodMetaData", Value: m.PaymentMethodMetaData.LogValue()})
	}
	return slog.GroupValue(attrs...)
}

func (c CardMetaData) redacted() CardMetaData {
	c.CardNo = MaskPAN(c.CardNo)
	if c.CVV != "" {
		c.CVV = carddata.Redacted
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
		attrs = append(attrs, slog.String("cvv", carddata.Redacted))
	}
	return slog.GroupValue(attrs...)
}
