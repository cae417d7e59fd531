package postgres

import (
	"encoding/base64"
	"errors"
	"strconv"
)

// Keyset cursors: the opaque page tokens of the lists. Order.Cursor makes
// those of a Keyset; the ID cursors are those of lists read by a serial id
// alone. Clients only hand them back.

// ErrBadCursor is a page token this package did not make.
var ErrBadCursor = errors.New("bad cursor")

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
