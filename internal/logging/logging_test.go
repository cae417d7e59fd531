package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/payops/payops/internal/carddata"
)

const (
	testPAN   = "4111111111111111"
	panMasked = "411111******1111"
	cvv       = "918"
)

// newTestLogger logs JSON without the time, so that digits in timestamps
// cannot be mistaken for leaked data.
func newTestLogger(buf *bytes.Buffer) *slog.Logger {
	inner := slog.NewJSONHandler(buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(NewRedactingHandler(inner))
}

// assertClean fails if line is not one JSON object or holds card data.
var timeField = regexp.MustCompile(`"time":"[^"]*"`)

func assertClean(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("line is not JSON: %v: %s", err, line)
	}
	// The timestamp's nanoseconds are digits the record did not carry: a
	// short secret such as the CVV can occur in them by chance.
	scan := timeField.ReplaceAllString(line, "")
	for _, bad := range []string{testPAN, "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", cvv} {
		if strings.Contains(scan, bad) {
			t.Errorf("line contains %q: %s", bad, line)
		}
	}
	return m
}

type cardHolder struct {
	Name string
}

type payRequest struct {
	CardNo  string
	CVV     string `json:"cvv"`
	Amount  int64
	Holder  cardHolder
	Note    string
	private string // not encoded, as with slog's own JSON handler
}

type cardValuer struct{ number, cvv string }

func (c cardValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("number", c.number), slog.String("cvv", c.cvv), slog.String("brand", "VISA"))
}

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

func TestHandlerRedacts(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want []string // substrings that must appear
	}{
		{"message", func(l *slog.Logger) { l.Info("charge " + testPAN + " failed") }, []string{panMasked}},
		{"message with typed number", func(l *slog.Logger) { l.Info("card 4111-1111-1111-1111 cvv: " + cvv) },
			[]string{"4111-11**-****-1111", "cvv: [REDACTED]"}},
		{"string attr", func(l *slog.Logger) { l.Info("x", "card", "4111 1111 1111 1111") }, []string{`"card":"4111 11** **** 1111"`}},
		{"int attrs", func(l *slog.Logger) {
			l.Info("x", "i", int64(4111111111111111), "u", uint64(5555555555554444), "f", 4111111111111111.0)
		}, []string{`"i":"411111******1111"`, `"u":"555555******4444"`, `"f":"411111******1111"`}},
		{"masked card number and token attrs", func(l *slog.Logger) {
			l.Info("x", "cardNo", panMasked, "cardToken", "tok_1", "disputeEvidence", "SGVsbG8=")
		}, []string{`"cardNo":"` + panMasked + `"`, `"cardToken":"[REDACTED]"`, `"disputeEvidence":"[8 base64 characters omitted]"`}},
		{"sensitive keys", func(l *slog.Logger) {
			l.Info("x", "cvv", cvv, "CardNumber", testPAN, "security_code", 918, "pan", "typo-4111111111111112")
		}, []string{`"cvv":"[REDACTED]"`, `"CardNumber":"[REDACTED]"`, `"security_code":"[REDACTED]"`, `"pan":"[REDACTED]"`}},
		{"nested group", func(l *slog.Logger) {
			l.Info("x", slog.Group("req", slog.Group("card", slog.String("holder", "A"),
				slog.String("text", "4111-1111-1111-1111"), slog.String("cvv", cvv))))
		}, []string{`"req":{"card":{"holder":"A","text":"4111-11**-****-1111","cvv":"[REDACTED]"}}`}},
		{"sensitive group key", func(l *slog.Logger) { l.Info("x", slog.Group("cardNo", slog.String("a", testPAN))) },
			[]string{`"cardNo":"[REDACTED]"`}},
		{"error", func(l *slog.Logger) {
			l.Error("x", "err", fmt.Errorf("apo: card %s cvv=%s rejected: %w", testPAN, cvv, io.EOF))
		}, []string{`"err":"apo: card 411111******1111 cvv=[REDACTED] rejected: EOF"`}},
		{"struct", func(l *slog.Logger) {
			l.Info("x", "req", payRequest{CardNo: testPAN, CVV: cvv, Amount: 4200, Holder: cardHolder{"A"}, Note: "via 5555555555554444", private: testPAN})
		}, []string{`"CardNo":"[REDACTED]"`, `"cvv":"[REDACTED]"`, `"Amount":4200`, `"Note":"via 555555******4444"`}},
		{"pointer and slice", func(l *slog.Logger) {
			l.Info("x", "reqs", []*payRequest{{CardNo: testPAN, CVV: cvv}})
		}, []string{`"CardNo":"[REDACTED]"`}},
		{"map", func(l *slog.Logger) {
			l.Info("x", "m", map[string]any{"card_number": testPAN, "nested": map[string]any{"securityCode": cvv, "k": []any{testPAN}}})
		}, []string{`"card_number":"[REDACTED]"`, `"securityCode":"[REDACTED]"`, `["411111******1111"]`}},
		{"json.RawMessage", func(l *slog.Logger) {
			l.Info("x", "body", json.RawMessage(`{"paymentMethodMetaData":{"cardNo":"`+testPAN+`","cvv":"`+cvv+`","expiryYear":"30"}}`))
		}, []string{`"body":{"paymentMethodMetaData":{"cardNo":"[REDACTED]","cvv":"[REDACTED]","expiryYear":"30"}}`}},
		{"[]byte json", func(l *slog.Logger) { l.Info("x", "body", []byte(`[{"CVV":"`+cvv+`"}]`)) },
			[]string{`"body":[{"CVV":"[REDACTED]"}]`}},
		{"[]byte text", func(l *slog.Logger) { l.Info("x", "body", []byte("cardNo="+testPAN+"&x=1")) },
			[]string{`"body":"cardNo=[REDACTED]&x=1"`}},
		{"json in a string attr", func(l *slog.Logger) { l.Info("x", "body", `{"a":{"cvv":"`+cvv+`"}}`) },
			[]string{`"body":"{\"a\":{\"cvv\":\"[REDACTED]\"}}"`}},
		{"LogValuer", func(l *slog.Logger) { l.Info("x", "card", cardValuer{testPAN, cvv}) },
			[]string{`"card":{"number":"411111******1111","cvv":"[REDACTED]","brand":"VISA"}`}},
		{"WithAttrs", func(l *slog.Logger) {
			l.With("cardNumber", testPAN, "note", "pan "+testPAN, slog.Group("g", "cvc", cvv)).Info("x")
		}, []string{`"cardNumber":"[REDACTED]"`, `"note":"pan 411111******1111"`, `"g":{"cvc":"[REDACTED]"}`}},
		{"WithGroup chain", func(l *slog.Logger) {
			l.WithGroup("payment").With("cvv", cvv, "id", "p1").WithGroup("card").Info("x", "pan", testPAN, "text", testPAN)
		}, []string{`"payment":{"cvv":"[REDACTED]","id":"p1","card":{"pan":"[REDACTED]","text":"411111******1111"}}`}},
		{"sensitive WithGroup", func(l *slog.Logger) {
			l.WithGroup("cvv").With("value", cvv).Info("x", "again", cvv, slog.Group("", "inline", cvv))
		}, []string{`"cvv":{"value":"[REDACTED]","again":"[REDACTED]","inline":"[REDACTED]"}`}},
		{"panicking and unencodable values", func(l *slog.Logger) {
			var e *nilErr
			l.Info("x", "err", e, "ch", make(chan int))
		}, []string{`"err":"<nil>"`, `"ch":"!unloggable chan int (not JSON-encodable)"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(newTestLogger(&buf))
			line := strings.TrimSuffix(buf.String(), "\n")
			if strings.Count(line, "\n") != 0 || line == "" {
				t.Fatalf("want one line, got %q", buf.String())
			}
			assertClean(t, line)
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("line lacks %s\nline: %s", w, line)
				}
			}
		})
	}
}

// Digit runs that fail the Luhn check are ids and times people need to read.
func TestHandlerKeepsOtherNumbers(t *testing.T) {
	ids := []string{"1700000000000", "ORD-20240115-000123", "20240115000124", "2026-11-23T10:00:00Z"}
	for _, id := range ids {
		if carddata.Redact(id) != id {
			t.Fatalf("precondition: %s is a Luhn-valid run; pick another example", id)
		}
	}
	var buf bytes.Buffer
	newTestLogger(&buf).Info("order "+ids[1], "ts", int64(1700000000000), "order", ids[1], "ref", ids[2], "at", ids[3],
		"amount", 4200, "d", 90*time.Second, "maskedCardNo", panMasked)
	line := buf.String()
	for _, want := range []string{`"ts":1700000000000`, `"msg":"order ORD-20240115-000123"`, `"order":"ORD-20240115-000123"`,
		`"ref":"20240115000124"`, `"at":"2026-11-23T10:00:00Z"`, `"amount":4200`, `"d":90000000000`, `"maskedCardNo":"411111******1111"`} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %s\nline: %s", want, line)
		}
	}
}

// Redacting must not change the record the caller passed, which other
// handlers in a fan-out may still read.
func TestHandlerLeavesRecordAlone(t *testing.T) {
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&buf, nil))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m "+testPAN, 0)
	r.AddAttrs(slog.String("cvv", cvv))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	assertClean(t, buf.String())
	if r.Message != "m "+testPAN {
		t.Errorf("record message changed to %q", r.Message)
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.String() != cvv {
			t.Errorf("record attr changed to %v", a)
		}
		return true
	})
}

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelWarn)
	l.Info("dropped " + testPAN)
	l.Warn("kept", "cardNo", testPAN)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want only the warning, got %q", buf.String())
	}
	m := assertClean(t, lines[0])
	if m["msg"] != "kept" || m["level"] != "WARN" || m["cardNo"] != carddata.Redacted || m["time"] == nil {
		t.Errorf("unexpected line %v", m)
	}
}

// slogtest checks the slog.Handler contract (groups, WithAttrs, WithGroup,
// empty attrs, LogValuer resolution, zero time) through the wrapper.
func TestHandlerContract(t *testing.T) {
	var buf bytes.Buffer
	err := slogtest.TestHandler(NewRedactingHandler(slog.NewJSONHandler(&buf, nil)), func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			ms = append(ms, m)
		}
		return ms
	})
	if err != nil {
		t.Error(err)
	}
}

func TestHandlerPassesInnerErrors(t *testing.T) {
	want := errors.New("disk full")
	l := slog.New(NewRedactingHandler(failingHandler{want}))
	if err := l.Handler().Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)); !errors.Is(err, want) {
		t.Errorf("Handle error = %v, want %v", err, want)
	}
}

type failingHandler struct{ err error }

func (f failingHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (f failingHandler) Handle(context.Context, slog.Record) error { return f.err }
func (f failingHandler) WithAttrs([]slog.Attr) slog.Handler        { return f }
func (f failingHandler) WithGroup(string) slog.Handler             { return f }

// BenchmarkHandler measures the cost of redaction per log line against the
// bare JSON handler, for a typical line: a message, a few scalar attrs, an
// error and a small struct.
func BenchmarkHandler(b *testing.B) {
	type meta struct {
		PaymentID string
		Status    string
		Amount    int64
	}
	line := func(l *slog.Logger) {
		l.Info("payment charged", "payment_id", "pay_01J9Z8", "amount", 4200, "currency", "USD",
			"took", 35*time.Millisecond, "err", errors.New("apo: result U PAYMENT_IN_PROCESS"),
			"meta", meta{"pay_01J9Z8", "SUCCEEDED", 4200})
	}
	b.Run("json", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(io.Discard, nil))
		b.ReportAllocs()
		for b.Loop() {
			line(l)
		}
	})
	b.Run("redacting", func(b *testing.B) {
		l := New(io.Discard, slog.LevelInfo)
		b.ReportAllocs()
		for b.Loop() {
			line(l)
		}
	})
}
