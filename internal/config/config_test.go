package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.APOClientID != "SANDBOX_PAYOPS" || c.InquiryRPS != 20 ||
		c.ReconSchedule != "30 2 * * *" || c.ReconTZ != time.UTC || c.APOTimeout != 10*time.Second ||
		c.IdempotencyTTL != 24*time.Hour || c.StatementsDir != ".run/bank-statements" || c.BankArchiveDir != ".run/bank-archive" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestBadValueNamesVariable(t *testing.T) {
	cases := map[string]string{
		"DATABASE_URL":        "mysql://x@y/z",
		"REDIS_ADDR":          "nohost",
		"REDIS_DB":            "16",
		"APO_INQUIRY_RPS":     "0",
		"APO_TIMEOUT":         "-1s",
		"RECON_SCHEDULE":      "every night",
		"RECON_TZ":            "Mars/Olympus",
		"PAYOPS_LOG_LEVEL":    "loud",
		"APO_BASE_URL":        "ftp://x",
		"IDEMPOTENCY_KEY_TTL": "59m",
	}
	for name, val := range cases {
		_, err := Load(env(map[string]string{name: val}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != name {
			t.Errorf("%s=%q: got %v, want a config error naming it", name, val, err)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", name, err)
		}
	}
}

func TestReconSchedule(t *testing.T) {
	for _, v := range []string{"30 2 * * *", "*/15 1-3 * * 1-5", "0 4 1 * *"} {
		if c, err := Load(env(map[string]string{"RECON_SCHEDULE": v})); err != nil || c.ReconSchedule != v {
			t.Errorf("RECON_SCHEDULE=%q: got %q %v", v, c.ReconSchedule, err)
		}
	}
	// Each of these parses as a standard cron elsewhere but is not five
	// fields the worker can put after its seconds field.
	for _, v := range []string{"@daily", "@every 1h", "CRON_TZ=Asia/Tokyo 30 2 * * *", "TZ=UTC 30 2 * * *", "0 30 2 * * *", "30 2 * *"} {
		_, err := Load(env(map[string]string{"RECON_SCHEDULE": v}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != "RECON_SCHEDULE" {
			t.Errorf("RECON_SCHEDULE=%q: got %v, want a config error naming it", v, err)
		}
	}
}

func TestIdempotencyTTL(t *testing.T) {
	for v, want := range map[string]time.Duration{"1h": time.Hour, "72h": 72 * time.Hour, " 36h30m ": 36*time.Hour + 30*time.Minute} {
		c, err := Load(env(map[string]string{"IDEMPOTENCY_KEY_TTL": v}))
		if err != nil || c.IdempotencyTTL != want {
			t.Errorf("IDEMPOTENCY_KEY_TTL=%q: got %v %v, want %v", v, c.IdempotencyTTL, err, want)
		}
	}
	for _, v := range []string{"59m59s", "0", "-24h", "1d", "24"} {
		_, err := Load(env(map[string]string{"IDEMPOTENCY_KEY_TTL": v}))
		want := `config: IDEMPOTENCY_KEY_TTL="` + v + `": want a duration of at least 1h such as 24h`
		if err == nil || err.Error() != want {
			t.Errorf("IDEMPOTENCY_KEY_TTL=%q: got %v, want %s", v, err, want)
		}
	}
}

func TestAlertSecretRequired(t *testing.T) {
	_, err := Load(env(map[string]string{"ALERT_WEBHOOK_URL": "https://alerts.example/hook"}))
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "ALERT_WEBHOOK_SECRET" {
		t.Fatalf("got %v, want an error naming ALERT_WEBHOOK_SECRET", err)
	}
	c, err := Load(env(map[string]string{"ALERT_WEBHOOK_URL": "https://alerts.example/hook", "ALERT_WEBHOOK_SECRET": "s"}))
	if err != nil || c.AlertURL == "" {
		t.Fatalf("got %v %+v", err, c)
	}
}

func TestPasswordNotEchoed(t *testing.T) {
	_, err := Load(env(map[string]string{"DATABASE_URL": "mysql://u:s3cret@h/db"}))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v, want an error without the password", err)
	}
}

func TestReconAmountConvention(t *testing.T) {
	if c, err := Load(env(nil)); err != nil || c.ReconAmounts != "auto" {
		t.Fatalf("default: %q %v", c.ReconAmounts, err)
	}
	for _, v := range []string{"gross", "net"} {
		if c, err := Load(env(map[string]string{"RECON_AMOUNT_CONVENTION": v})); err != nil || c.ReconAmounts != v {
			t.Errorf("%s: got %q %v", v, c.ReconAmounts, err)
		}
	}
	_, err := Load(env(map[string]string{"RECON_AMOUNT_CONVENTION": "both"}))
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "RECON_AMOUNT_CONVENTION" {
		t.Fatalf("got %v, want a config error naming RECON_AMOUNT_CONVENTION", err)
	}
}

// TestSFTPPullers: each puller is off without its address, reads its five
// variables with its own default directory, and refuses an address without
// a user or a known_hosts file, naming the variable.
func TestSFTPPullers(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.ReportsSFTP != nil || c.BankSFTP != nil {
		t.Fatalf("defaults: %+v %+v %v", c.ReportsSFTP, c.BankSFTP, err)
	}
	c, err = Load(env(map[string]string{"RECON_SFTP_ADDR": "isftp.example:22", "RECON_SFTP_USER": "u", "RECON_SFTP_PASSWORD": "p",
		"RECON_SFTP_KNOWN_HOSTS": "/k", "BANK_SFTP_ADDR": "bank.example:2222", "BANK_SFTP_USER": "shop",
		"BANK_SFTP_KNOWN_HOSTS": "/bk", "BANK_SFTP_DIR": "/out"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.ReportsSFTP; r == nil || r.Addr != "isftp.example:22" || r.User != "u" || r.Password != "p" || r.KnownHostsFile != "/k" ||
		r.RemoteDir != "/v1/settlements" {
		t.Errorf("reports puller %#v", r)
	}
	if b := c.BankSFTP; b == nil || b.Addr != "bank.example:2222" || b.User != "shop" || b.KnownHostsFile != "/bk" || b.RemoteDir != "/out" {
		t.Errorf("bank puller %#v", b)
	}
	for _, prefix := range []string{"RECON_SFTP", "BANK_SFTP"} {
		_, err := Load(env(map[string]string{prefix + "_ADDR": "h.example:22", prefix + "_USER": "u"}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != prefix+"_KNOWN_HOSTS" {
			t.Errorf("%s without known_hosts: %v", prefix, err)
		}
	}
}
