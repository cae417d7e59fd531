// Package logging builds the service's structured loggers: a slog.Handler
// that applies carddata's redaction policy to every log line (card numbers
// masked, card security codes and card tokens withheld). The policy itself
// belongs to internal/carddata.
package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strconv"

	"github.com/payops/payops/internal/carddata"
)

// New returns a JSON logger writing to w at level and above, with every line
// passed through NewRedactingHandler.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// NewRedactingHandler wraps inner so that no card data reaches it. The message,
// attribute keys and values, group names, and attributes added with WithAttrs
// are redacted; values are resolved (LogValuer) first:
//
//   - strings: as carddata.Field has it for their key (a card number field
//     keeps only a masked display, a security code or card token field
//     nothing, other text has its card numbers masked);
//   - error texts and integers: card numbers masked as by carddata.Redact;
//   - any other value of a sensitive key (carddata.IsSensitiveKey), at any
//     depth, including a whole group and everything logged under a
//     WithGroup of such a name: replaced by "[REDACTED]";
//   - json.RawMessage and []byte holding JSON: redacted as by
//     carddata.RedactJSON and logged as JSON; other []byte: logged as
//     redacted text (not base64);
//   - any other value (structs, maps, slices, pointers): encoded to JSON as
//     slog's JSON handler would do, then redacted as by carddata.RedactJSON,
//     so struct fields and map keys are judged by name. A value that cannot be encoded
//     to JSON is replaced by a note naming its type rather than printed with
//     %+v, which would show a security code field unredacted.
func NewRedactingHandler(inner slog.Handler) slog.Handler {
	return &handler{inner: inner}
}

// handler is the redacting slog.Handler.
type handler struct {
	inner slog.Handler
	// drop is set under a WithGroup whose name is a sensitive key: every
	// value logged from then on belongs to that key.
	drop bool
}

// Enabled defers to the inner handler.
func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle redacts a copy of r and passes it on; r itself is not changed.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, carddata.Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a, h.drop))
		return true
	})
	return h.inner.Handle(ctx, nr)
}

// WithAttrs redacts attrs before the inner handler stores them.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = redactAttr(a, h.drop)
	}
	return &handler{inner: h.inner.WithAttrs(out), drop: h.drop}
}

// WithGroup opens a group on the inner handler; a sensitive group name makes
// every later value under it redacted.
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{inner: h.inner.WithGroup(carddata.MaskText(name)), drop: h.drop || carddata.IsSensitiveKey(name)}
}

// redactAttr returns a redacted copy of a; drop replaces every value.
func redactAttr(a slog.Attr, drop bool) slog.Attr {
	v := a.Value.Resolve()
	key := carddata.MaskText(a.Key)
	if key != "" && drop {
		return slog.String(key, carddata.Redacted)
	}
	if key != "" && v.Kind() == slog.KindString {
		// The field rule: a card number field keeps only a masked display, a
		// security code or token field nothing, any other its redacted text.
		s := v.String()
		if r := carddata.Field(key, s); r != s {
			return slog.String(key, r)
		}
		return slog.Attr{Key: key, Value: v}
	}
	if key != "" && carddata.IsSensitiveKey(key) {
		return slog.String(key, carddata.Redacted)
	}
	if v.Kind() == slog.KindGroup {
		// Rebuilt even when unchanged: cheaper than comparing, and groups are rare.
		in := v.Group()
		out := make([]slog.Attr, len(in))
		for i, ga := range in {
			out[i] = redactAttr(ga, drop)
		}
		return slog.Attr{Key: key, Value: slog.GroupValue(out...)}
	}
	if drop { // an inline value with an empty key under a sensitive group
		if a.Equal(slog.Attr{}) {
			return a // handlers ignore the empty attr; keep it so
		}
		return slog.String(key, carddata.Redacted)
	}
	return slog.Attr{Key: key, Value: redactValue(v)}
}

// redactValue redacts a resolved, non-group value.
func redactValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := carddata.Redact(s); r != s {
			return slog.StringValue(r)
		}
	case slog.KindInt64:
		if n := v.Int64(); n >= 1e11 || n <= -1e11 { // 12 digits or more
			return maskNumber(v, strconv.FormatInt(n, 10))
		}
	case slog.KindUint64:
		if n := v.Uint64(); n >= 1e11 {
			return maskNumber(v, strconv.FormatUint(n, 10))
		}
	case slog.KindFloat64:
		// A float64 holds every 16-digit card number exactly, and the JSON
		// handler prints integral floats of this size without an exponent.
		if f := math.Abs(v.Float64()); f >= 1e11 && f < 1e20 && f == math.Trunc(f) {
			return maskNumber(v, strconv.FormatFloat(v.Float64(), 'f', -1, 64))
		}
	case slog.KindAny:
		return redactAny(v)
	}
	return v // bool, duration, time, short numbers
}

// maskNumber returns v unchanged unless its decimal text is a card number,
// in which case the masked text replaces it.
func maskNumber(v slog.Value, text string) slog.Value {
	if r := carddata.MaskText(text); r != text {
		return slog.StringValue(r)
	}
	return v
}

// redactAny redacts a KindAny value, which the JSON handler would print with
// json.Marshal (or Error for errors).
func redactAny(v slog.Value) (out slog.Value) {
	x := v.Any()
	defer func() {
		// Error and MarshalJSON methods can panic, most often on a nil
		// pointer receiver; slog's own handlers print "<nil>" then. The
		// panic value itself is not printed: it could hold the data.
		if r := recover(); r != nil {
			if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
				out = slog.StringValue("<nil>")
				return
			}
			out = slog.StringValue(fmt.Sprintf("!PANIC while logging a %T", x))
		}
	}()
	switch x := x.(type) {
	case nil:
		return v
	case json.RawMessage:
		return redactBytes(x)
	case []byte:
		return redactBytes(x)
	case error:
		if _, ok := x.(json.Marshaler); !ok {
			return slog.StringValue(carddata.Redact(x.Error()))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as slog's JSON handler
	if err := enc.Encode(x); err != nil {
		return slog.StringValue(fmt.Sprintf("!unloggable %T (not JSON-encodable)", x))
	}
	return slog.AnyValue(json.RawMessage(carddata.RedactJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))))
}

// redactBytes logs JSON bytes as redacted JSON and anything else as
// redacted text.
func redactBytes(b []byte) slog.Value {
	if json.Valid(b) {
		return slog.AnyValue(json.RawMessage(carddata.RedactJSON(b)))
	}
	return slog.StringValue(carddata.Redact(string(b)))
}
