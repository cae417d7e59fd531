package payments_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// base is when the seeded payments of these tests are created, give or
// take their offsets.
var base = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// newSearchService returns a service over a fresh database and that
// database; nothing here calls APO.
func newSearchService(t *testing.T) (*payments.Service, *sqlx.DB) {
	t.Helper()
	db := pgtest.NewDB(t)
	return payments.NewService(db, nil, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)), "http://127.0.0.1:1"), db
}

// mustInsert stores p as given, filling in what every stored payment has:
// an id, a request id, an order id, an amount, a status and times (base
// when CreatedAt is zero).
func mustInsert(t *testing.T, db *sqlx.DB, p payments.Payment) payments.Payment {
	t.Helper()
	p.ID = uuid.Must(uuid.NewV7()).String()
	p.PaymentRequestID = "pay-" + p.ID
	if p.ReferenceOrderID == "" {
		p.ReferenceOrderID = "order-" + p.ID
	}
	if p.Amount == (money.Money{}) {
		p.Amount = money.Money{Minor: 1000, Currency: "USD"}
	}
	if p.Status == "" {
		p.Status = payments.StatusAuthorized
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = base
	}
	p.CaptureMode, p.Version, p.UpdatedAt = payments.CaptureManual, 1, p.CreatedAt
	if err := payments.NewStore(db).Create(context.Background(), p); err != nil {
		t.Fatalf("insert payment: %v", err)
	}
	return p
}

func ids(ps []payments.Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestListSearch(t *testing.T) {
	t.Parallel()
	svc, db := newSearchService(t)
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	ord1 := mustInsert(t, db, payments.Payment{ReferenceOrderID: "ORD-2026-ABC-001", CreatedAt: at(1),
		BuyerEmail: "Ada@Example.com", BuyerReference: "cust-7", Amount: money.Money{Minor: 1000, Currency: "USD"}})
	ord2 := mustInsert(t, db, payments.Payment{ReferenceOrderID: "ord-2026-abc-002", CreatedAt: at(2),
		BuyerEmail: "bob@example.com", BuyerReference: "cust-77", Amount: money.Money{Minor: 2500, Currency: "USD"},
		Status: payments.StatusCaptured})
	literal := mustInsert(t, db, payments.Payment{ReferenceOrderID: "shop_123%off", CreatedAt: at(3),
		BuyerEmail: "ada@example.com.evil", Amount: money.Money{Minor: 1000, Currency: "EUR"}})
	// Matches "_123%" read as wildcards (any character, then 123), not literally.
	decoy := mustInsert(t, db, payments.Payment{ReferenceOrderID: "shopX123Yoff", CreatedAt: at(4),
		Amount: money.Money{Minor: 1339, Currency: "JPY"}})

	for name, c := range map[string]struct {
		f    payments.Filter
		want []payments.Payment
	}{
		"no filter":                {payments.Filter{}, []payments.Payment{decoy, literal, ord2, ord1}},
		"order id part, any case":  {payments.Filter{OrderIDContains: "aBc"}, []payments.Payment{ord2, ord1}},
		"order id part, end":       {payments.Filter{OrderIDContains: "-001"}, []payments.Payment{ord1}},
		"order id wildcards":       {payments.Filter{OrderIDContains: "_123%"}, []payments.Payment{literal}},
		"order id backslash":       {payments.Filter{OrderIDContains: `hop\X123`}, nil},
		"order id and status":      {payments.Filter{OrderIDContains: "abc", Status: payments.StatusCaptured}, []payments.Payment{ord2}},
		"email, any case":          {payments.Filter{BuyerEmail: "ADA@example.COM"}, []payments.Payment{ord1}},
		"email is whole":           {payments.Filter{BuyerEmail: "ada"}, nil},
		"buyer reference is exact": {payments.Filter{BuyerReference: "cust-7"}, []payments.Payment{ord1}},
		"currency":                 {payments.Filter{Currency: "USD"}, []payments.Payment{ord2, ord1}},
		"exact amount":             {payments.Filter{Currency: "USD", AmountMin: 1000, AmountMax: 1000}, []payments.Payment{ord1}},
		"amount at least":          {payments.Filter{Currency: "USD", AmountMin: 1001}, []payments.Payment{ord2}},
		"amount at most":           {payments.Filter{Currency: "USD", AmountMax: 2500}, []payments.Payment{ord2, ord1}},
		"amount in its currency":   {payments.Filter{Currency: "JPY", AmountMin: 1000, AmountMax: 2000}, []payments.Payment{decoy}},
		"amount, other currency":   {payments.Filter{Currency: "GBP", AmountMin: 1}, nil},
	} {
		page, err := svc.List(ctx, c.f)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got, want := ids(page.Items), ids(c.want); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}

	// A search pages like the plain list: one at a time, in order, then the end.
	var walked []string
	f := payments.Filter{OrderIDContains: "2026", Limit: 1}
	for range 3 {
		page, err := svc.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ids(page.Items)...)
		if f.Cursor = page.Next; f.Cursor == "" {
			break
		}
	}
	if want := []string{ord2.ID, ord1.ID}; !slices.Equal(walked, want) {
		t.Fatalf("pages walked %v, want %v", walked, want)
	}
}

// TestFilterValidation: List and Export refuse a bad filter before reading
// anything, naming each bad value by its query parameter.
func TestFilterValidation(t *testing.T) {
	t.Parallel()
	svc, _ := newSearchService(t)
	ctx := context.Background()
	for name, c := range map[string]struct {
		f    payments.Filter
		want []string
	}{
		"unknown status":       {payments.Filter{Status: "PAID"}, []string{"status"}},
		"created range":        {payments.Filter{CreatedFrom: base, CreatedTo: base}, []string{"created_to"}},
		"order id part short":  {payments.Filter{OrderIDContains: "ab"}, []string{"order_id_contains"}},
		"order id part no run": {payments.Filter{OrderIDContains: "a-1_b%2"}, []string{"order_id_contains"}},
		"order id part long":   {payments.Filter{OrderIDContains: strings.Repeat("x", 65)}, []string{"order_id_contains"}},
		"last4":                {payments.Filter{Last4: "12a4"}, []string{"last4"}},
		"currency":             {payments.Filter{Currency: "usd"}, []string{"currency"}},
		"amount needs a ccy":   {payments.Filter{AmountMin: 100}, []string{"currency"}},
		"amount max needs one": {payments.Filter{AmountMax: 100}, []string{"currency"}},
		"negative amounts":     {payments.Filter{Currency: "USD", AmountMin: -1, AmountMax: -2}, []string{"amount_min", "amount_max"}},
		"amount range":         {payments.Filter{Currency: "USD", AmountMin: 200, AmountMax: 100}, []string{"amount_max"}},
		"unknown sort":         {payments.Filter{Sort: "fee"}, []string{"sort"}},
		"unknown direction":    {payments.Filter{Sort: payments.SortAmount, Dir: "up"}, []string{"dir"}},
		"every bad value": {payments.Filter{Status: "PAID", OrderIDContains: "x", Currency: "XXY", AmountMin: 5, AmountMax: 1},
			[]string{"status", "order_id_contains", "currency", "amount_max"}},
	} {
		_, err := svc.List(ctx, c.f)
		if got := fields(err); !slices.Equal(got, c.want) {
			t.Errorf("%s: List fields %v (%v), want %v", name, got, err, c.want)
		}
		called := false
		err = svc.Export(ctx, c.f, func(payments.Payment) error { called = true; return nil })
		if got := fields(err); !slices.Equal(got, c.want) || called {
			t.Errorf("%s: Export fields %v (%v), called %v; want %v", name, got, err, called, c.want)
		}
	}
	var ie *payments.InvalidError
	if _, err := svc.List(ctx, payments.Filter{Cursor: "bm90LWEtY3Vyc29y"}); !errors.As(err, &ie) || ie.Field != "cursor" {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := svc.List(ctx, payments.Filter{OrderIDContains: "abc", Currency: "JPY", AmountMin: 1, AmountMax: 1}); err != nil {
		t.Fatalf("good filter: %v", err)
	}
}
