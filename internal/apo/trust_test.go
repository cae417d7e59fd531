package apo_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/apo/sandbox"
	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/sandboxtest"
)

// TestVerificationCauses: each kind of reply counts under its cause, or
// not at all; a verified reply ends a run.
func TestVerificationCauses(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	const (
		sigInvalid    = `{"result":{"resultCode":"SIGNATURE_INVALID","resultStatus":"F","resultMessage":"bad signature"}}`
		clientInvalid = `{"result":{"resultCode":"CLIENT_INVALID","resultStatus":"F","resultMessage":"client id is not valid"}}`
	)
	tests := []struct {
		name  string
		reply reply
		cause string // "" when the reply must not count
	}{
		{"unsigned S", reply{body: bodyPaySuccess, sign: signNone}, apo.CauseUnsignedReply},
		{"no response-time", reply{body: bodyPaySuccess, sign: signNoTime}, apo.CauseUnsignedReply},
		{"signed with another key", reply{body: bodyPaySuccess, sign: signWrongKey}, apo.CauseBadReplySignature},
		{"unsigned SIGNATURE_INVALID", reply{body: sigInvalid, sign: signNone}, apo.CauseSignatureInvalid},
		{"signed SIGNATURE_INVALID", reply{body: sigInvalid}, apo.CauseSignatureInvalid},
		{"unsigned CLIENT_INVALID", reply{body: clientInvalid, sign: signNone}, apo.CauseClientInvalid},
		{"signed CLIENT_INVALID", reply{body: clientInvalid}, apo.CauseClientInvalid},
		{"CLIENT_INVALID under http 400", reply{status: 400, body: clientInvalid, sign: signNone}, apo.CauseClientInvalid},
		{"http 502", reply{status: 502, body: bodyNotJSON, sign: signNone}, ""},
		{"signed F", reply{body: bodyPayFailed}, ""},
		{"signed non-JSON", reply{body: bodyNotJSON}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, k, constReply(tt.reply))
			c := newClient(t, k, g.srv.URL)
			for range apo.DegradedAfter {
				_, _ = c.Pay(context.Background(), cardPayRequest())
			}
			v := c.Verification()
			if tt.cause == "" {
				if v.Consecutive != 0 || v.Cause != "" || len(v.Total) != 0 || v.Degraded() || v.Problem() != "" {
					t.Fatalf("a reply that says nothing about keys counted: %+v", v)
				}
				return
			}
			if v.Consecutive != apo.DegradedAfter || v.Cause != tt.cause || v.Total[tt.cause] != apo.DegradedAfter ||
				len(v.Total) != 1 || v.Since.IsZero() || !v.Degraded() || v.ClientID != testClientID {
				t.Fatalf("verification %+v, want %d × %s", v, apo.DegradedAfter, tt.cause)
			}
			if p := v.Problem(); !strings.Contains(p, "likely") || !strings.Contains(p, "PROCESSING") {
				t.Errorf("problem %q names no likely cause", p)
			}
		})
	}
}

// TestUnsignedRejectionsAgainstSandbox: APO has another public key on
// record for our client id (the key pair is wrong) and, as the sandbox's
// unsignedRejections fault makes it, answers SIGNATURE_INVALID unsigned.
// Every pay stays unknown; the client turns the run into a degraded
// Verification naming the likely cause and one log line, and the first
// verified reply, once the key is fixed, clears both.
func TestUnsignedRejectionsAgainstSandbox(t *testing.T) {
	t.Parallel()
	gw := sandboxtest.MisregisteredGateway(t)
	logs := &logtest.Buffer{}
	c := sandboxtest.NewClient(t, gw.URL, func(cfg *apo.Config) { cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })

	for i := range apo.DegradedAfter + 2 {
		_, err := c.Pay(context.Background(), sandboxtest.CardPay("unsigned-"+strconv.Itoa(i)))
		if !apo.IsUnknown(err) || !errors.Is(err, apo.ErrSignature) {
			t.Fatalf("pay %d: got %v, want an unknown outcome for an unsigned reply", i, err)
		}
		if v := c.Verification(); v.Degraded() != (i+1 >= apo.DegradedAfter) {
			t.Fatalf("pay %d: degraded %v after %d unverifiable replies", i, v.Degraded(), v.Consecutive)
		}
	}
	for _, cl := range gw.Wrong.Calls() {
		if cl.ResultCode != "SIGNATURE_INVALID" || cl.Fault != "unsigned" {
			t.Fatalf("sandbox call %+v, want an unsigned SIGNATURE_INVALID", cl)
		}
	}
	v := c.Verification()
	if v.Consecutive != apo.DegradedAfter+2 || v.Cause != apo.CauseSignatureInvalid || v.Total[apo.CauseSignatureInvalid] != apo.DegradedAfter+2 {
		t.Fatalf("verification %+v", v)
	}
	if p := v.Problem(); !strings.Contains(p, "wrong key pair") || !strings.Contains(p, sandboxtest.ClientID) {
		t.Errorf("problem %q does not name the key pair and client id", p)
	}
	if n := logs.Count("APO replies cannot be verified"); n != 1 {
		t.Fatalf("%d lines naming the run, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "wrong key pair") {
		t.Errorf("the log line names no likely cause:\n%s", logs)
	}

	gw.Fix()
	if _, err := c.Pay(context.Background(), sandboxtest.CardPay("fixed")); err != nil {
		t.Fatalf("pay once the key is fixed: %v", err)
	}
	v = c.Verification()
	if v.Consecutive != 0 || v.Cause != "" || v.Degraded() || v.Problem() != "" || v.Total[apo.CauseSignatureInvalid] != apo.DegradedAfter+2 {
		t.Fatalf("after a verified reply: %+v", v)
	}
	if n := logs.Count("APO replies verify again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1:\n%s", n, logs)
	}
}

// TestClientInvalidAgainstSandbox: a client id APO does not know is named
// as such, signed or not.
func TestClientInvalidAgainstSandbox(t *testing.T) {
	t.Parallel()
	for _, unsigned := range []bool{false, true} {
		env := sandboxtest.Start(t, sandboxtest.Options{})
		if err := env.Sandbox.SetFaults(sandbox.Faults{UnsignedRejections: unsigned}); err != nil {
			t.Fatal(err)
		}
		c := sandboxtest.NewClient(t, env.URL, func(cfg *apo.Config) { cfg.ClientID = "SANDBOX_SOMEONE_ELSE" })
		for range apo.DegradedAfter {
			if _, err := c.Pay(context.Background(), sandboxtest.CardPay("ci")); err == nil {
				t.Fatal("pay with an unknown client id succeeded")
			}
		}
		v := c.Verification()
		if v.Cause != apo.CauseClientInvalid || !v.Degraded() || !strings.Contains(v.Problem(), "SANDBOX_SOMEONE_ELSE") {
			t.Fatalf("unsigned %v: verification %+v, problem %q", unsigned, v, v.Problem())
		}
	}
}
