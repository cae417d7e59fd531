package postgres

import (
	"errors"
	"testing"
	"time"
)

func TestCursorsRoundTripAndRefuseForgeries(t *testing.T) {
	at := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.FixedZone("x", 3600))
	id := "0190f0c2-7a1b-7cde-8f00-112233445566"
	gotAt, gotID, err := DecodeTimeCursor(EncodeTimeCursor(at, id))
	if err != nil || !gotAt.Equal(at) || gotID != id {
		t.Fatalf("time cursor: got %v %q %v", gotAt, gotID, err)
	}
	n, err := DecodeIDCursor(EncodeIDCursor(42))
	if err != nil || n != 42 {
		t.Fatalf("id cursor: got %d %v", n, err)
	}
	for _, bad := range []string{"!!", EncodeIDCursor(42), "MjAyNnxub3QtYS11dWlk"} {
		if _, _, err := DecodeTimeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeTimeCursor(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
	for _, bad := range []string{"!!", "MA", EncodeTimeCursor(at, id)} {
		if _, err := DecodeIDCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeIDCursor(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}
