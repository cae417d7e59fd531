package auth

import (
	"context"
	"testing"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/postgres/pgtest"
)

// A key change and its audit row commit together or not at all.
func TestKeysChangeWithTheirAuditRow(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	keys := NewKeys(db)
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, q); err != nil {
			t.Fatal(err)
		}
		return n
	}
	entry := func(action string) func(Key) audit.Entry {
		return func(k Key) audit.Entry {
			return audit.Entry{Actor: "cli", Role: string(RoleAdmin), Action: action, Target: "api-key:" + k.ID,
				Outcome: audit.OutcomeSucceeded}
		}
	}

	k, _, err := keys.Create(ctx, NewKey{Name: "ops", Role: RoleOperator, CreatedBy: "cli"}, entry("api_key.create"))
	if err != nil {
		t.Fatal(err)
	}
	if got := count(`SELECT count(*) FROM audit_log WHERE target = 'api-key:` + k.ID + `'`); got != 1 {
		t.Fatalf("audit rows of the new key: %d, want 1", got)
	}

	// An audit row that cannot be written takes the key with it.
	before := count(`SELECT count(*) FROM api_keys`)
	if _, _, err := keys.Create(ctx, NewKey{Name: "lost", Role: RoleViewer, CreatedBy: "cli"}, entry("")); err == nil {
		t.Fatal("an audit row without an action was accepted")
	}
	if got := count(`SELECT count(*) FROM api_keys`); got != before {
		t.Fatalf("api_keys went from %d to %d although its audit row failed", before, got)
	}

	if err := keys.Revoke(ctx, k.ID, entry("api_key.revoke")(k)); err != nil {
		t.Fatal(err)
	}
	if got := count(`SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`); got != 1 {
		t.Fatalf("revoked keys: %d, want 1", got)
	}
	if err := keys.Revoke(ctx, "0190f0c2-7a1b-7cde-8f00-112233445566", entry("api_key.revoke")(k)); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	if got := count(`SELECT count(*) FROM audit_log WHERE action = 'api_key.revoke'`); got != 1 {
		t.Fatalf("revoke audit rows: %d, want 1 (the failed revoke must leave none)", got)
	}
}
