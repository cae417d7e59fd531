package postgres

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Keyset cursors: the opaque page tokens of every list ordered newest first
// by (created_at, id) or by a serial id. Clients only hand them back.

// ErrBadCursor is a page token this package did not make.
var ErrBadCursor = errors.New("bad cursor")

// EncodeTimeCursor makes the token of a page that ended at (at, id), id a UUID.
func EncodeTimeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

// DecodeTimeCursor reads a token made by EncodeTimeCursor.
func DecodeTimeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || !IsUUID(id) {
		return time.Time{}, "", ErrBadCursor
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}

// EncodeIDCursor makes the token of a page that ended at serial id.
func EncodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// DecodeIDCursor reads a token made by EncodeIDCursor.
func DecodeIDCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}
