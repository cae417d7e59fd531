package postgres

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestCursorsRoundTripAndRefuseForgeries(t *testing.T) {
	at := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.FixedZone("x", 3600))
	id := "0190f0c2-7a1b-7cde-8f00-112233445566"
	byTime := Order{Key: "created_at", Type: KeyTime, Desc: true}
	gotAt, gotID, err := byTime.decode(byTime.Cursor(at, id))
	if err != nil || !gotAt.(time.Time).Equal(at) || gotID != id {
		t.Fatalf("time cursor: got %v %q %v", gotAt, gotID, err)
	}
	// A token issued before lists could be sorted (time|uuid) still reads.
	old := base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
	if old != byTime.Cursor(at, id) {
		t.Fatalf("time cursor %q, want the old format %q", byTime.Cursor(at, id), old)
	}
	n, err := DecodeIDCursor(EncodeIDCursor(42))
	if err != nil || n != 42 {
		t.Fatalf("id cursor: got %d %v", n, err)
	}
	bySerial := Order{ID: "d.id", IntID: true}
	if c := bySerial.Cursor(nil, int64(42)); c != EncodeIDCursor(42) {
		t.Fatalf("serial order's cursor %q, want EncodeIDCursor's %q", c, EncodeIDCursor(42))
	}
	byText := Order{Key: "kind", Type: KeyText, ID: "d.id", IntID: true}
	if k, i, err := byText.decode(byText.Cursor("a|b", int64(7))); err != nil || k != "a|b" || i != int64(7) {
		t.Fatalf("text cursor: got %v %v %v", k, i, err)
	}
	byInt := Order{Key: "amount_minor", Type: KeyInt}
	if k, i, err := byInt.decode(byInt.Cursor(int64(-5), id)); err != nil || k != int64(-5) || i != id {
		t.Fatalf("int cursor: got %v %v %v", k, i, err)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		o   Order
		bad string
	}{
		{byTime, "!!"},
		{byTime, EncodeIDCursor(42)},
		{byTime, "MjAyNnxub3QtYS11dWlk"},
		{byInt, byTime.Cursor(at, id)},                      // a time where an amount belongs
		{byInt, enc("12|42")},                               // a serial id where a UUID belongs
		{byText, enc("a\x00b|7")},                           // NUL, which text cannot hold
		{byText, enc("\xff|7")},                             // not UTF-8
		{byText, enc("a|0")},                                // ids are positive
		{byText, enc("no-separator")},                       // no id at all
		{bySerial, "MA"},                                    // 0
		{bySerial, byTime.Cursor(at, id)},                   // another order's token
		{Order{Key: "x", Type: KeyType(9)}, enc("1|" + id)}, // a type no order has
	} {
		if _, _, err := c.o.decode(c.bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%+v decode(%q): got %v, want ErrBadCursor", c.o, c.bad, err)
		}
		if _, err := c.o.After(c.bad, func(any) string { return "$1" }); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%+v After(%q): got %v, want ErrBadCursor", c.o, c.bad, err)
		}
	}
	for _, bad := range []string{"!!", "MA", byTime.Cursor(at, id)} {
		if _, err := DecodeIDCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeIDCursor(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}
