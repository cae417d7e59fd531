package auth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretFormat(t *testing.T) {
	t.Parallel()
	s, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	raw := s.Reveal()
	if len(raw) != keyLen || !strings.HasPrefix(raw, "pk_") {
		t.Fatalf("key %d bytes, want %d starting pk_", len(raw), keyLen)
	}
	if _, ok := hashKey(raw); !ok {
		t.Fatal("hashKey rejects a fresh key")
	}
	if p := keyPrefix(s); !strings.HasPrefix(raw, p) || len(p) != prefixLen {
		t.Fatalf("prefix %q is not a %d-byte prefix of the key", p, prefixLen)
	}
	other, _ := newSecret()
	if other == s {
		t.Fatal("two keys are equal")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s, _ := newSecret()
	raw := s.Reveal()
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("made", "key", s)
	j, _ := json.Marshal(map[string]any{"key": s})
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ Key Secret }{s}), logged.String(), string(j),
	}
	for _, out := range outs {
		if strings.Contains(out, raw) || strings.Contains(out, raw[prefixLen:]) {
			t.Errorf("output reveals the key: %s", out)
		}
	}
}

func TestHashKeyRejectsMalformed(t *testing.T) {
	t.Parallel()
	s, _ := newSecret()
	raw := s.Reveal()
	for _, bad := range []string{
		"", "pk_", raw[:len(raw)-1], raw + "A", "sk_" + raw[3:],
		raw[:len(raw)-1] + "!", // not base64url
		raw[:len(raw)-1] + "B", // non-canonical trailing bits (Strict decoding)
	} {
		if _, ok := hashKey(bad); ok && bad != raw {
			t.Errorf("hashKey(%q) accepted", bad)
		}
	}
}
