package disputes

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// AlertConfig configures the outbound alert webhook. The zero value logs
// alerts and sends nothing.
type AlertConfig struct {
	// WebhookURL (ALERT_WEBHOOK_URL) receives each alert as a JSON POST.
	// Empty: alerts are only logged.
	WebhookURL string
	// Secret (ALERT_WEBHOOK_SECRET) keys the HMAC-SHA256 signature sent in
	// X-Payops-Signature. Required when WebhookURL is set.
	Secret string
	// Timeout bounds one delivery. Default 10s.
	Timeout time.Duration
}

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" keyed
// with the shared secret, so the receiver can check the alert is ours.
const SignatureHeader = "X-Payops-Signature"

// Alerter delivers alerts that need a person: every alert is logged at
// warning level and, when a webhook is configured, POSTed to it signed.
// It is safe for concurrent use.
type Alerter struct {
	url    string
	secret []byte
	http   *http.Client
	log    *slog.Logger
}

// NewAlerter checks cfg and returns an Alerter. A bad URL or a URL without
// a secret is an error naming the variable.
func NewAlerter(cfg AlertConfig, log *slog.Logger) (*Alerter, error) {
	a := &Alerter{log: log}
	if cfg.WebhookURL == "" {
		return a, nil
	}
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ALERT_WEBHOOK_URL: not an absolute http(s) URL")
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("ALERT_WEBHOOK_SECRET: required when ALERT_WEBHOOK_URL is set")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	a.url, a.secret = cfg.WebhookURL, []byte(cfg.Secret)
	a.http = &http.Client{
		Timeout: cfg.Timeout,
		// A redirect would re-send the signed body somewhere we were not
		// told to send it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return a, nil
}

// Alert is one thing a person should look at.
type Alert struct {
	// ID is stable for the same alert, so a receiver can drop a repeat
	// (e.g. "dispute-deadline:<dispute id>:24h").
	ID       string
	Kind     string // what happened, e.g. "dispute.deadline", "payment.needs_review"
	Severity string // "warning" or "critical"
	Subject  string // what it is about, e.g. "dispute:<id>"
	Summary  string // one line for a person
	Fields   map[string]string
	At       time.Time
}

// alertBody is the JSON an alert webhook receives.
type alertBody struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Severity string            `json:"severity"`
	Subject  string            `json:"subject"`
	Summary  string            `json:"summary"`
	Fields   map[string]string `json:"fields,omitempty"`
	At       time.Time         `json:"at"`
}

// Send logs the alert and, when a webhook is configured, POSTs it with
// the signature header. Any answer but 2xx is an error, so the caller can
// try again later.
func (a *Alerter) Send(ctx context.Context, al Alert) error {
	attrs := []any{"alert_id", al.ID, "kind", al.Kind, "severity", al.Severity, "subject", al.Subject}
	for k, v := range al.Fields {
		attrs = append(attrs, k, v)
	}
	a.log.WarnContext(ctx, al.Summary, attrs...)
	if a.url == "" {
		return nil
	}
	body, err := json.Marshal(alertBody{ID: al.ID, Kind: al.Kind, Severity: al.Severity, Subject: al.Subject,
		Summary: al.Summary, Fields: al.Fields, At: al.At.UTC()})
	if err != nil {
		return fmt.Errorf("encode alert %s: %w", al.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert %s: %w", al.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "payops-alerts")
	req.Header.Set(SignatureHeader, Sign(a.secret, body))
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("deliver alert %s: %w", al.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("deliver alert %s: webhook answered %s", al.ID, resp.Status)
	}
	return nil
}

// Sign returns the X-Payops-Signature value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
