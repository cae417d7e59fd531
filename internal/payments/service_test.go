package payments_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/money"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/sandboxtest"
)

var _ payments.Provider = (*apo.Client)(nil)

type harness struct {
	db  *sqlx.DB
	env *sandboxtest.Env
	svc *payments.Service
}

func newHarness(t *testing.T) *harness { return newHarnessScaled(t, 0) }

// newHarnessScaled sets the sandbox's time scale: 1 keeps the delayed card
// PROCESSING for a real 30 s, for tests that need it unresolved.
func newHarnessScaled(t *testing.T, scale float64) *harness {
	t.Helper()
	db := pgtest.NewDB(t)
	env := sandboxtest.Start(t, sandboxtest.Options{Recorder: payments.NewCallRecorder(db), TimeScale: scale})
	svc := payments.NewService(db, env.Client, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)), "http://127.0.0.1:1")
	return &harness{db: db, env: env, svc: svc}
}

func createReq(card string, minor int64, ccy string) payments.CreateRequest {
	return payments.CreateRequest{
		ReferenceOrderID: "order-" + card[len(card)-4:], OrderDescription: "test order",
		Amount: money.Money{Minor: minor, Currency: ccy}, BuyerReference: "buyer-1",
		TerminalType: "WEB", ClientIP: "203.0.113.7", RedirectURL: "https://shop.example/return",
		Card: payments.CardInput{Number: card, CVV: "123", ExpiryMonth: "12", ExpiryYear: "2030",
			HolderFirst: "Ada", HolderLast: "Lovelace"},
		Actor: "test",
	}
}

func (h *harness) create(t *testing.T, req payments.CreateRequest) payments.Payment {
	t.Helper()
	p, err := h.svc.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

func i64(n int64) *int64 { return &n }

func TestAuthorizeCaptureRefund(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	if p.Status != payments.StatusAuthorized || p.APOPaymentID == "" || p.Card.Last4 != "1111" || p.Acquirer.Name == "" {
		t.Fatalf("after pay: %+v", p)
	}
	if p.AuthExpiry == nil || p.AuthExpiry.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("auth expiry %v, want about 7 days ahead", p.AuthExpiry)
	}
	p, c1, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Amount: i64(400), Actor: "op"})
	if err != nil || c1.Status != payments.TxSucceeded || p.CapturedMinor != 400 || p.Status != payments.StatusAuthorized {
		t.Fatalf("partial capture: %v %+v %+v", err, c1, p)
	}
	p, c2, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Actor: "op"})
	if err != nil || c2.Amount.Minor != 600 || p.CapturedMinor != 1000 || p.Status != payments.StatusCaptured {
		t.Fatalf("second capture: %v %+v %+v", err, c2, p)
	}
	for _, amt := range []int64{300, 200} {
		if p, _, err = h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: amt, Reason: "customer asked", Actor: "op"}); err != nil {
			t.Fatalf("refund %d: %v", amt, err)
		}
	}
	if p.RefundedMinor != 500 {
		t.Fatalf("refunded %d, want 500", p.RefundedMinor)
	}
	_, _, err = h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 501, Reason: "too much", Actor: "op"})
	var ce *payments.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("refund beyond captured: got %v, want a conflict", err)
	}
	d, err := h.svc.GetDetail(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Transactions) != 5 { // authorization, 2 captures, 2 refunds; the refused refund stored nothing
		t.Fatalf("%d transactions, want 5", len(d.Transactions))
	}
	var calls int
	if err := h.db.Get(&calls, `SELECT count(*) FROM apo_calls`); err != nil || calls != 5 {
		t.Fatalf("apo_calls %d (err %v), want 5", calls, err)
	}
}

func TestDeclinesAndActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		card   string
		status payments.Status
		code   string
	}{
		{"4000000000000002", payments.StatusFailed, "DO_NOT_HONOR"},
		{"4000000000009995", payments.StatusFailed, "USER_BALANCE_NOT_ENOUGH"},
		{"4000000000003220", payments.StatusRequiresAction, "PAYMENT_IN_PROCESS"},
		{"4000000000000119", payments.StatusProcessing, "PAYMENT_IN_PROCESS"},
		{"5555555555554444", payments.StatusAuthorized, "SUCCESS"},
		{"378282246310005", payments.StatusAuthorized, "SUCCESS"},
	}
	for _, c := range cases {
		p := h.create(t, createReq(c.card, 2500, "EUR"))
		if p.Status != c.status || p.ResultCode != c.code {
			t.Errorf("%s: got %s %s, want %s %s", c.card[len(c.card)-4:], p.Status, p.ResultCode, c.status, c.code)
		}
		if c.status == payments.StatusRequiresAction && p.NormalURL == "" {
			t.Errorf("3DS card: no normal url")
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bad := map[string]func(*payments.CreateRequest){
		"card.number":            func(r *payments.CreateRequest) { r.Card.Number = "4111111111111112" },
		"card.expiry_year":       func(r *payments.CreateRequest) { r.Card.ExpiryYear = "2020" },
		"amount.currency":        func(r *payments.CreateRequest) { r.Amount.Currency = "XXY" },
		"amount.value":           func(r *payments.CreateRequest) { r.Amount.Minor = 0 },
		"buyer":                  func(r *payments.CreateRequest) { r.BuyerReference = "" },
		"env.client_ip":          func(r *payments.CreateRequest) { r.ClientIP = "nope" },
		"env.os_type":            func(r *payments.CreateRequest) { r.TerminalType = "WAP" },
		"card.holder_first_name": func(r *payments.CreateRequest) { r.Card.HolderFirst = "Zoë" },
	}
	for field, mod := range bad {
		r := createReq("4111111111111111", 100, "USD")
		mod(&r)
		_, err := h.svc.Create(context.Background(), r)
		var ie *payments.InvalidError
		if !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	var n int
	if err := h.db.Get(&n, `SELECT count(*) FROM payments`); err != nil || n != 0 {
		t.Fatalf("invalid input stored %d payments (err %v)", n, err)
	}
}

func TestAutomaticCaptureAndCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	r := createReq("4111111111111111", 700, "JPY")
	r.CaptureMode = payments.CaptureAutomatic
	p := h.create(t, r)
	p, err := h.svc.Sync(ctx, p.ID)
	if err != nil || p.Status != payments.StatusCaptured || p.CapturedMinor != 700 {
		t.Fatalf("automatic capture after sync: %v %+v", err, p)
	}

	p = h.create(t, createReq("4111111111111111", 5000, "KWD"))
	if p, _, err = h.svc.Cancel(ctx, p.ID, "op"); err != nil || p.Status != payments.StatusCancelled {
		t.Fatalf("cancel: %v %+v", err, p)
	}
	p = h.create(t, createReq("4111111111111111", 5000, "USD"))
	if _, _, err = h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Amount: i64(1)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.svc.Cancel(ctx, p.ID, "op")
	var ce *payments.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("cancel after capture: got %v, want conflict", err)
	}
}

func TestConcurrentRefundsAndCaptures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	var wg sync.WaitGroup
	results := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{Amount: i64(600)})
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 2 captures of 600/1000 succeeded, want 1", ok)
	}
	p, _, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{})
	if err != nil || p.CapturedMinor != 1000 {
		t.Fatalf("capture rest: %v %+v", err, p)
	}
	refunds := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 100, Reason: "r" + strconv.Itoa(i)})
			refunds <- err
		}()
	}
	wg.Wait()
	close(refunds)
	ok = 0
	for err := range refunds {
		if err == nil {
			ok++
		}
	}
	p, _ = h.svc.Get(ctx, p.ID)
	if ok != 10 || p.RefundedMinor != 1000 {
		t.Fatalf("%d refunds succeeded, refunded %d; want 10 and 1000", ok, p.RefundedMinor)
	}
}

func TestUnknownOutcomeIsNotFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dead, err := apo.New(apo.Config{BaseURL: "http://127.0.0.1:1", ClientID: sandboxtest.ClientID,
		PrivateKey: h.env.MerchantKey, APOPublicKey: &h.env.APOKey.PublicKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	svc := payments.NewService(h.db, dead, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)), "http://127.0.0.1:1")
	p, err := svc.Create(context.Background(), createReq("4111111111111111", 100, "USD"))
	if err != nil || p.Status != payments.StatusProcessing || p.ResultCode != "UNKNOWN" {
		t.Fatalf("unreachable APO: %v %+v, want PROCESSING/UNKNOWN", err, p)
	}
}

func TestLostDisputeLimitsRefunds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	p := h.create(t, createReq("4111111111111111", 1000, "USD"))
	if _, _, err := h.svc.Capture(ctx, p.ID, payments.CaptureRequest{}); err != nil {
		t.Fatal(err)
	}
	// An open dispute is under dispute, not lost: refunds are not held by it.
	open := payments.DisputeUpdate{OpenMinor: 700, DisputeID: "D-1", Kind: "DISPUTE_CREATED", FactKey: "created"}
	lost := payments.DisputeUpdate{LostMinor: 700, DisputeID: "D-1", Kind: "DISPUTE_JUDGED", FactKey: "judged"}
	for _, u := range []payments.DisputeUpdate{open, lost, lost} { // the last is a replay: no change
		if err := h.svc.ApplyDispute(ctx, p.ID, u); err != nil {
			t.Fatal(err)
		}
		if u.OpenMinor > 0 {
			if got, _ := h.svc.Get(ctx, p.ID); got.DisputedMinor != 700 || got.DisputeLostMinor != 0 {
				t.Fatalf("open dispute: disputed %d lost %d", got.DisputedMinor, got.DisputeLostMinor)
			}
		}
	}
	_, _, err := h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 301, Reason: "goodwill"})
	var ce *payments.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Rule, "lost to disputes") {
		t.Fatalf("refund over captured − lost: got %v", err)
	}
	if _, _, err := h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 300, Reason: "goodwill"}); err != nil {
		t.Fatalf("refund within captured − lost: %v", err)
	}
	d, _ := h.svc.GetDetail(ctx, p.ID)
	entries := 0
	for _, e := range d.Events {
		if strings.HasPrefix(e.Kind, "dispute:") {
			entries++
		}
	}
	if d.Payment.DisputedMinor != 0 || d.Payment.DisputeLostMinor != 700 || entries != 2 {
		t.Fatalf("disputed %d lost %d with %d timeline entries", d.Payment.DisputedMinor, d.Payment.DisputeLostMinor, entries)
	}
}
