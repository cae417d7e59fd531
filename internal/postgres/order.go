package postgres

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// KeyType is the type of an Order's key, which its cursors carry.
type KeyType int

// The types a sort key may have.
const (
	KeyTime KeyType = iota // timestamptz; Cursor takes a time.Time
	KeyInt                 // bigint; Cursor takes an int64
	KeyText                // text; Cursor takes a string
)

// Order is the order of a keyset-paged list: by Key, ties broken by the
// row's unique ID in the same direction, so that a page ends at an exact
// (key, id) and the next starts right after it even when many rows share
// a key (equal amounts, one status). Its cursors carry that (key, id).
type Order struct {
	Key   string  // a non-null column or expression of the row; "" orders by ID alone
	Type  KeyType // of Key
	ID    string  // the unique column that breaks ties; "id" when empty
	IntID bool    // ID is a bigint (a serial id); else a UUID
	Desc  bool
}

func (o Order) id() string {
	if o.ID == "" {
		return "id"
	}
	return o.ID
}

// By is the ORDER BY list of o.
func (o Order) By() string {
	dir := " ASC"
	if o.Desc {
		dir = " DESC"
	}
	if o.Key == "" {
		return o.id() + dir
	}
	return o.Key + dir + ", " + o.id() + dir
}

// After is the condition on the rows after cursor in o; arg adds a value
// to the query's arguments and returns its placeholder. A cursor o did not
// make is ErrBadCursor.
func (o Order) After(cursor string, arg func(any) string) (string, error) {
	key, id, err := o.decode(cursor)
	if err != nil {
		return "", err
	}
	cmp, bound := ">", ">="
	if o.Desc {
		cmp, bound = "<", "<="
	}
	if o.Key == "" {
		return o.id() + " " + cmp + " " + arg(id), nil
	}
	k, i := arg(key), arg(id)
	// The bound on the key alone repeats what the row comparison says, for
	// an index whose key is not followed by the id (currency, amount …):
	// it can start the scan at the cursor instead of filtering up to it.
	return fmt.Sprintf("%s %s %s AND (%s, %s) %s (%s, %s)", o.Key, bound, k, o.Key, o.id(), cmp, k, i), nil
}

// Cursor is the token of a page that ended at the row with this key and id
// (time.Time, int64 or string as o's Type; int64 or a UUID string as its
// IntID). A time cursor is EncodeTimeCursor's and an id-only cursor on a
// serial id EncodeIDCursor's, so tokens issued before a list could be
// sorted still read.
func (o Order) Cursor(key, id any) string {
	ids := fmt.Sprint(id)
	if o.Key == "" {
		return base64.RawURLEncoding.EncodeToString([]byte(ids))
	}
	var ks string
	switch v := key.(type) {
	case time.Time:
		ks = v.UTC().Format(time.RFC3339Nano)
	default:
		ks = fmt.Sprint(v)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(ks + "|" + ids))
}

// decode reads a token made by o.Cursor into arguments for After.
func (o Order) decode(c string) (key, id any, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, nil, ErrBadCursor
	}
	s := string(b)
	if o.Key != "" {
		i := strings.LastIndexByte(s, '|') // an id holds no "|"; a text key may
		if i < 0 {
			return nil, nil, ErrBadCursor
		}
		if key, err = o.decodeKey(s[:i]); err != nil {
			return nil, nil, err
		}
		s = s[i+1:]
	}
	if o.IntID {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, nil, ErrBadCursor
		}
		return key, n, nil
	}
	if !IsUUID(s) {
		return nil, nil, ErrBadCursor
	}
	return key, s, nil
}

func (o Order) decodeKey(s string) (any, error) {
	switch o.Type {
	case KeyTime:
		if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return at, nil
		}
	case KeyInt:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	case KeyText:
		// PostgreSQL refuses text that is not UTF-8 or holds NUL: a forged
		// cursor must not become a server error.
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
			return s, nil
		}
	}
	return nil, ErrBadCursor
}
