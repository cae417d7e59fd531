package payments_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
)

// TestEachReadsEveryPaymentOnce: batches follow each other by key, also
// across payments created at the same instant, and stop on fn's error or
// the context.
func TestEachReadsEveryPaymentOnce(t *testing.T) {
	t.Parallel()
	_, db := newSearchService(t)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		// Three share each instant, so batch edges fall between ties.
		p := mustInsert(t, db, payments.Payment{CreatedAt: base.Add(time.Duration(i/3) * time.Second)})
		want = append([]string{p.ID}, want...) // newest first; ties by id, descending
	}
	mustInsert(t, db, payments.Payment{Amount: money.Money{Minor: 5, Currency: "EUR"}}) // filtered out
	st := payments.NewStore(db)
	f := payments.Filter{Currency: "USD", Cursor: "ignored", Limit: 1}
	for _, batch := range []int{1, 2, 3, 7, 1000} {
		var got []string
		if err := st.Each(ctx, f, batch, func(p payments.Payment) error { got = append(got, p.ID); return nil }); err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("batch %d: got %v, want %v", batch, got, want)
		}
	}

	stop := errors.New("stop")
	n := 0
	err := st.Each(ctx, f, 2, func(payments.Payment) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("fn's error: %v after %d payments, want stop after 3", err, n)
	}

	cctx, cancel := context.WithCancel(ctx)
	n = 0
	err = st.Each(cctx, f, 2, func(payments.Payment) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Fatalf("cancelled: %v after %d payments, want context.Canceled after 3", err, n)
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	svc, db := newSearchService(t)
	ctx := context.Background()
	card := payments.Card{Brand: "VISA", BIN: "411111", Last4: "1111", Masked: "411111******1111",
		Token: "pm-token-7f3a9c", ExpiryMonth: "12", ExpiryYear: "30"}
	usd := mustInsert(t, db, payments.Payment{ReferenceOrderID: "order-42", BuyerReference: "cust-7",
		BuyerEmail: "ada@example.com", Amount: money.Money{Minor: 4200, Currency: "USD"}, Status: payments.StatusCaptured,
		CapturedMinor: 4200, RefundedMinor: 1005, Card: card, APOPaymentID: "apo-1",
		Acquirer: payments.Acquirer{Name: "Acme Acquiring"}, CreatedAt: base.Add(time.Second)})
	formula := mustInsert(t, db, payments.Payment{ReferenceOrderID: `=HYPERLINK("https://evil.example","x")`,
		BuyerReference: "+cust", BuyerEmail: "@ada", Amount: money.Money{Minor: 1339, Currency: "JPY"},
		NeedsReview: true, Card: card, Acquirer: payments.Acquirer{Name: "-acq"}, CreatedAt: base.Add(2 * time.Second)})
	mustInsert(t, db, payments.Payment{ReferenceOrderID: "order-failed", Status: payments.StatusFailed,
		Card: card, CreatedAt: base.Add(3 * time.Second)})

	// The filter leaves out the newest payment; Cursor and Limit are ignored.
	var out bytes.Buffer
	if err := svc.WriteCSV(ctx, payments.Filter{CreatedTo: base.Add(3 * time.Second), Cursor: "ignored", Limit: 1}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), card.Token) || strings.Contains(out.String(), "token") {
		t.Fatalf("the card token is in the CSV:\n%s", out.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "created_at", "status", "amount", "currency", "captured", "refunded", "reference_order_id",
			"buyer_reference", "buyer_email", "card_brand", "card_masked", "card_last4", "acquirer", "apo_payment_id",
			"needs_review"},
		{formula.ID, "2026-03-10T12:00:02Z", "AUTHORIZED", "1339", "JPY", "0", "0",
			`'=HYPERLINK("https://evil.example","x")`, "'+cust", "'@ada", "VISA", "411111******1111", "1111", "'-acq", "",
			"true"},
		{usd.ID, "2026-03-10T12:00:01Z", "CAPTURED", "42.00", "USD", "42.00", "10.05", "order-42", "cust-7",
			"ada@example.com", "VISA", "411111******1111", "1111", "Acme Acquiring", "apo-1", "false"},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d:\n%s", len(rows), len(want), out.String())
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}

	// Another filter, and a bad one, which writes nothing.
	out.Reset()
	if err := svc.WriteCSV(ctx, payments.Filter{Currency: "JPY"}, &out); err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(&out).ReadAll(); len(rows) != 2 || rows[1][0] != formula.ID {
		t.Fatalf("JPY only: %q", rows)
	}
	out.Reset()
	var ie *payments.InvalidError
	if err := svc.WriteCSV(ctx, payments.Filter{AmountMin: 1}, &out); !errors.As(err, &ie) || out.Len() != 0 {
		t.Fatalf("bad filter: %v, wrote %q", err, out.String())
	}
}
