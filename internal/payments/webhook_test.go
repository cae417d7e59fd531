package payments_test

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestNoCardDataInTables runs every test card through the service and then
// searches a full data dump of the database for the card numbers and CVV.
func TestNoCardDataInTables(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	cards := []string{"4111111111111111", "5555555555554444", "378282246310005", "4000000000003220",
		"4000000000000002", "4000000000009995", "4000000000000119", "4000000000000259"}
	for _, c := range cards {
		r := createReq(c, 4321, "USD")
		r.Card.CVV = "987"
		p, err := h.svc.Create(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == payments.StatusAuthorized {
			_, _, _ = h.svc.Capture(ctx, p.ID, payments.CaptureRequest{})
			_, _, _ = h.svc.Refund(ctx, p.ID, payments.RefundRequest{Amount: 1, Reason: "test"})
		}
		_, _ = h.svc.Sync(ctx, p.ID)
	}
	// A bad Luhn number must not leak through the error path either.
	_, err := h.svc.Create(ctx, createReq("4111111111111112", 1, "USD"))
	if err == nil || strings.Contains(err.Error(), "4111111111111112") {
		t.Fatalf("invalid card error leaks the number: %v", err)
	}
	dump := pgDump(t, h)
	for _, c := range append(cards, "987") {
		if c == "987" {
			if cvvRE.MatchString(dump) {
				t.Errorf("CVV found in the dump")
			}
			continue
		}
		if strings.Contains(dump, c) {
			t.Errorf("card number %s…%s found in the database dump", c[:4], c[len(c)-4:])
		}
	}
	if !strings.Contains(dump, "411111******1111") {
		t.Fatalf("dump does not contain the masked card: the scan looked at the wrong data")
	}
}

// cvvRE finds the test CVV as a JSON value, whatever key holds it.
var cvvRE = regexp.MustCompile(`:\s*"987"`)

func pgDump(t *testing.T, h *harness) string {
	t.Helper()
	var name string
	if err := h.db.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	conf := pgtest.Config(t)
	cmd := exec.Command("pg_dump", "--data-only", "-h", conf.Host, "-p", conf.Port, "-U", conf.User, name)
	if conf.Password != "" {
		cmd.Env = append(cmd.Environ(), "PGPASSWORD="+conf.Password)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump (make services-up installs it): %v", err)
	}
	return string(out)
}
