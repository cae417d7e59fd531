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
		c.ReconSchedule != "30 2 * * *" || c.ReconTZ != time.UTC || c.APOTimeout != 10*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestBadValueNamesVariable(t *testing.T) {
	cases := map[string]string{
		"DATABASE_URL":     "mysql://x@y/z",
		"REDIS_ADDR":       "nohost",
		"REDIS_DB":         "16",
		"APO_INQUIRY_RPS":  "0",
		"APO_TIMEOUT":      "-1s",
		"RECON_SCHEDULE":   "every night",
		"RECON_TZ":         "Mars/Olympus",
		"PAYOPS_LOG_LEVEL": "loud",
		"APO_BASE_URL":     "ftp://x",
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
