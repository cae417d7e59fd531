package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/postgres/pgtest"
)

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := NewStore(db)
	e := Entry{
		Actor: "ops-key", KeyID: "0190a0c0-0000-7000-8000-000000000001", Role: "operator",
		Action: "payment.refund", Target: "payment:p1",
		Input:   map[string]any{"amount": 500, "reason": "customer asked", "card": map[string]any{"cvv": "123", "number": "4111111111111111"}},
		Outcome: OutcomeSucceeded, RemoteAddr: "127.0.0.1:5555", RequestID: "req-1",
	}
	if err := s.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, Entry{Actor: "cli", Role: "admin", Action: "api-key.create", Outcome: OutcomeSucceeded}); err != nil {
		t.Fatal(err)
	}
	got, next, err := s.List(ctx, Filter{Actor: "ops-key"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !next.IsZero() {
		t.Fatalf("got %d entries, next %v", len(got), next)
	}
	g := got[0]
	if g.ID == 0 || g.CreatedAt.IsZero() || g.Actor != e.Actor || g.KeyID != e.KeyID || g.Role != e.Role ||
		g.Action != e.Action || g.Target != e.Target || g.Outcome != e.Outcome ||
		g.RemoteAddr != e.RemoteAddr || g.RequestID != e.RequestID {
		t.Fatalf("got %+v", g)
	}
	in := string(g.Input.(json.RawMessage))
	if strings.Contains(in, "4111111111111111") || strings.Contains(in, `"123"`) {
		t.Fatalf("input not redacted: %s", in)
	}
	var decoded map[string]any
	if err := json.Unmarshal([]byte(in), &decoded); err != nil || decoded["reason"] != "customer asked" {
		t.Fatalf("input %s lost its fields: %v", in, err)
	}

	cli, _, err := s.List(ctx, Filter{Action: "api-key.create"})
	if err != nil || len(cli) != 1 || cli[0].KeyID != "" || string(cli[0].Input.(json.RawMessage)) != "{}" {
		t.Fatalf("cli entry %+v, %v", cli, err)
	}
}

func TestRecordValidates(t *testing.T) {
	t.Parallel()
	s := NewStore(pgtest.NewDB(t))
	ctx := context.Background()
	ok := Entry{Actor: "a", Role: "admin", Action: "x.y", Outcome: OutcomeSucceeded}
	for _, bad := range []Entry{
		{Role: "admin", Action: "x.y", Outcome: OutcomeSucceeded},
		{Actor: "a", Role: "admin", Outcome: OutcomeSucceeded},
		{Actor: "a", Role: "admin", Action: "x.y"},
	} {
		var inv *InvalidError
		if err := s.Record(ctx, bad); !errors.As(err, &inv) {
			t.Errorf("Record(%+v): err %v, want *InvalidError", bad, err)
		}
	}
	bad := ok
	bad.Input = json.RawMessage(`{"unterminated"`)
	if err := s.Record(ctx, bad); err == nil {
		t.Error("invalid raw JSON input accepted")
	}
}

// TestRecordInTx proves the audit row shares the fate of the transaction
// it was written in.
func TestRecordInTx(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	e := Entry{Actor: "a", Role: "admin", Action: "x.y", Outcome: OutcomeSucceeded}
	boom := errors.New("boom")
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		if err := NewStore(tx).Record(ctx, e); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error { return NewStore(tx).Record(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	got, _, err := NewStore(db).List(ctx, Filter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d rows (%v), want 1: the rolled-back row must be gone", len(got), err)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := NewStore(db)
	// Rows in one transaction share created_at, so the id must break ties;
	// rows in separate statements differ in created_at.
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for i := range 5 {
			if err := NewStore(tx).Record(ctx, Entry{Actor: "a", Role: "admin", Action: "x.tx", Target: fmt.Sprint(i), Outcome: OutcomeSucceeded}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 12; i++ {
		actor := "a"
		if i%2 == 0 {
			actor = "b"
		}
		if err := s.Record(ctx, Entry{Actor: actor, Role: "admin", Action: "x.one", Target: fmt.Sprint(i), Outcome: OutcomeSucceeded}); err != nil {
			t.Fatal(err)
		}
	}

	var seen []string
	var cur Cursor
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		// Round-trip the cursor through its string form, as clients do.
		parsed, err := ParseCursor(cur.String())
		if err != nil || parsed != cur {
			t.Fatalf("cursor round trip: %v -> %v (%v)", cur, parsed, err)
		}
		page, next, err := s.List(ctx, Filter{Before: parsed, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seen = append(seen, e.Target)
		}
		if next.IsZero() {
			break
		}
		cur = next
	}
	want := "11 10 9 8 7 6 5 4 3 2 1 0"
	if got := strings.Join(seen, " "); got != want {
		t.Fatalf("pages gave %q, want %q", got, want)
	}

	onlyB, _, err := s.List(ctx, Filter{Actor: "b", Action: "x.one", Limit: 2})
	if err != nil || len(onlyB) != 2 || onlyB[0].Target != "10" || onlyB[1].Target != "8" {
		t.Fatalf("filtered page %+v, %v", onlyB, err)
	}
	byTarget, _, err := s.List(ctx, Filter{Target: "3"})
	if err != nil || len(byTarget) != 1 || byTarget[0].Action != "x.tx" {
		t.Fatalf("by target %+v, %v", byTarget, err)
	}
}

func TestParseCursor(t *testing.T) {
	t.Parallel()
	c := Cursor{CreatedAt: time.Date(2026, 11, 23, 1, 2, 3, 456789000, time.UTC), ID: 42}
	got, err := ParseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("round trip %v -> %v, %v", c, got, err)
	}
	if got, err := ParseCursor(""); err != nil || !got.IsZero() {
		t.Fatalf(`ParseCursor("") = %v, %v`, got, err)
	}
	outOfRange := base64.RawURLEncoding.EncodeToString([]byte("-9223372036854775808.1")) // found by FuzzListQuery
	for _, bad := range []string{"!!", "bm9kb3Q", "MTIzLjA", "YS5i", outOfRange} {       // "nodot", "123.0", "a.b"
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q): err %v, want ErrBadCursor", bad, err)
		}
	}
}
