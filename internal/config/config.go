// Package config reads payops' environment (design.md §3). A bad value stops
// the process at start with one line naming the variable.
package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payops/payops/internal/sftppull"
	"github.com/robfig/cron/v3"
)

// Config is the whole environment of the api and worker processes. The
// defaults are design.md §3's; they point at a local stack and the sandbox.
type Config struct {
	DatabaseURL    string           // DATABASE_URL
	DBMaxConns     int              // PAYOPS_DB_MAX_CONNS: connection pool size per process (default 32)
	RedisAddr      string           // REDIS_ADDR
	RedisDB        int              // REDIS_DB
	HTTPAddr       string           // PAYOPS_HTTP_ADDR
	PublicURL      string           // PAYOPS_PUBLIC_URL: base of the notify URLs we give APO
	LogLevel       string           // PAYOPS_LOG_LEVEL: debug, info, warn, error
	APOBaseURL     string           // APO_BASE_URL
	APOClientID    string           // APO_CLIENT_ID
	APOPrivateKey  string           // APO_PRIVATE_KEY_FILE
	APOPublicKey   string           // APO_PUBLIC_KEY_FILE
	APOTimeout     time.Duration    // APO_TIMEOUT: pay, capture, cancel, refund (default 10s)
	APOInquiryTime time.Duration    // APO_INQUIRY_TIMEOUT: inquiries (default 5s)
	InquiryRPS     int              // APO_INQUIRY_RPS
	ReportsDir     string           // RECON_REPORTS_DIR
	ArchiveDir     string           // RECON_ARCHIVE_DIR: every arrived report kept whole, by SHA-256
	SettleDays     int              // RECON_SETTLEMENT_DAYS: T+N working days before a capture is overdue in reports
	ReconAmounts   string           // RECON_AMOUNT_CONVENTION: auto, gross or net (settlement amounts before or after fees)
	ReportsSFTP    *sftppull.Config // RECON_SFTP_ADDR, _USER, _PASSWORD, _KNOWN_HOSTS, _DIR (default /v1/settlements): APO's SFTP; nil = no puller
	ExportDir      string           // RECON_EXPORT_DIR
	TmpDir         string           // RECON_TMP_DIR: root of each process's private temporary directory (uploads, spilled workbook entries)
	ReconSchedule  string           // RECON_SCHEDULE (cron, 5 fields)
	StatementsDir  string           // BANK_STATEMENTS_DIR: where bank statement files are dropped (a bank's file transfer or a mount) scanned by the nightly task before it reconciles (bank.Service.Intake)
	BankArchiveDir string           // BANK_ARCHIVE_DIR: every accepted bank statement file kept whole, by SHA-256
	BankSFTP       *sftppull.Config // BANK_SFTP_ADDR, _USER, _PASSWORD, _KNOWN_HOSTS, _DIR (default: the login's home): the bank's SFTP; nil = no puller
	ReconTZ        *time.Location
	PayoutDays     string        // PAYOUT_DAYS: business days from settlement to payout per currency, "EUR:2,USD:1"; others take RECON_SETTLEMENT_DAYS (parsed in internal/app)
	PayoutHolidays string        // PAYOUT_HOLIDAYS: non-working days of the payout calendars, "2026-12-25,2026-12-26"
	PayoutFeeTol   string        // PAYOUT_FEE_TOLERANCE: minor units a payout may arrive short by, booked as a bank fee, "EUR:500,USD:300"
	PayoutWindow   int           // PAYOUT_WINDOW_DAYS: days between due date and booking for matching by amount (default 5)
	WorkerMetrics  string        // PAYOPS_WORKER_METRICS_ADDR: worker's /metrics listener (default 127.0.0.1:9091)
	AlertURL       string        // ALERT_WEBHOOK_URL: optional outbound alerts (deadlines, needs_review); empty = log only
	AlertSecret    string        // ALERT_WEBHOOK_SECRET: HMAC-SHA256 key of the alerts; required with ALERT_WEBHOOK_URL
	IdempotencyTTL time.Duration // IDEMPOTENCY_KEY_TTL: keys older than this are deleted (default 24h as Stripe; at least 1h)
}

// Error names the variable that is wrong.
type Error struct {
	Var, Value, Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("config: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// Load reads the environment through getenv (os.Getenv in main, a map in
// tests) and validates every value.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL:    r.url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payops?sslmode=disable", "postgres", "postgresql"),
		DBMaxConns:     r.intRange("PAYOPS_DB_MAX_CONNS", 32, 2, 1000),
		RedisAddr:      r.hostport("REDIS_ADDR", "127.0.0.1:6379"),
		RedisDB:        r.intRange("REDIS_DB", 0, 0, 15),
		HTTPAddr:       r.hostport("PAYOPS_HTTP_ADDR", "127.0.0.1:8080"),
		PublicURL:      strings.TrimRight(r.url("PAYOPS_PUBLIC_URL", "http://127.0.0.1:8080", "http", "https"), "/"),
		LogLevel:       r.oneOf("PAYOPS_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		APOBaseURL:     strings.TrimRight(r.url("APO_BASE_URL", "http://127.0.0.1:8090", "http", "https"), "/"),
		APOClientID:    r.nonEmpty("APO_CLIENT_ID", "SANDBOX_PAYOPS"),
		APOPrivateKey:  r.nonEmpty("APO_PRIVATE_KEY_FILE", ".run/keys/merchant_private.pem"),
		APOPublicKey:   r.nonEmpty("APO_PUBLIC_KEY_FILE", ".run/keys/apo_public.pem"),
		APOTimeout:     r.duration("APO_TIMEOUT", 10*time.Second),
		APOInquiryTime: r.duration("APO_INQUIRY_TIMEOUT", 5*time.Second),
		InquiryRPS:     r.intRange("APO_INQUIRY_RPS", 20, 1, 10000),
		ReportsDir:     r.nonEmpty("RECON_REPORTS_DIR", ".run/reports"),
		ExportDir:      r.nonEmpty("RECON_EXPORT_DIR", ".run/exports"),
		ArchiveDir:     r.nonEmpty("RECON_ARCHIVE_DIR", ".run/archive"),
		TmpDir:         r.nonEmpty("RECON_TMP_DIR", ".run/tmp"),
		StatementsDir:  r.nonEmpty("BANK_STATEMENTS_DIR", ".run/bank-statements"),
		BankArchiveDir: r.nonEmpty("BANK_ARCHIVE_DIR", ".run/bank-archive"),
		SettleDays:     r.intRange("RECON_SETTLEMENT_DAYS", 2, 0, 30),
		ReconAmounts:   r.oneOf("RECON_AMOUNT_CONVENTION", "auto", "auto", "gross", "net"),
		ReportsSFTP:    r.sftp("RECON_SFTP", "/v1/settlements"),
		BankSFTP:       r.sftp("BANK_SFTP", "."),
		ReconSchedule:  r.cron("RECON_SCHEDULE", "30 2 * * *"),
		ReconTZ:        r.location("RECON_TZ", "UTC"),
		PayoutDays:     r.get("PAYOUT_DAYS", ""),
		PayoutHolidays: r.get("PAYOUT_HOLIDAYS", ""),
		PayoutFeeTol:   r.get("PAYOUT_FEE_TOLERANCE", ""),
		PayoutWindow:   r.intRange("PAYOUT_WINDOW_DAYS", 5, 0, 60),
		WorkerMetrics:  r.hostport("PAYOPS_WORKER_METRICS_ADDR", "127.0.0.1:9091"),
		AlertSecret:    r.nonEmpty("ALERT_WEBHOOK_SECRET", ""),
		IdempotencyTTL: r.durationAtLeast("IDEMPOTENCY_KEY_TTL", 24*time.Hour, time.Hour),
	}
	if v := r.get("ALERT_WEBHOOK_URL", ""); v != "" {
		c.AlertURL = r.url("ALERT_WEBHOOK_URL", v, "http", "https")
		if c.AlertSecret == "" {
			r.fail("ALERT_WEBHOOK_SECRET", "", "required when ALERT_WEBHOOK_URL is set")
		}
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// reader keeps the first error so Load reads as a list of variables.
type reader struct {
	getenv func(string) string
	err    error
}

func (r *reader) get(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) fail(name, value, reason string) {
	if r.err == nil {
		r.err = &Error{Var: name, Value: value, Reason: reason}
	}
}

func (r *reader) nonEmpty(name, def string) string { return r.get(name, def) }

func (r *reader) url(name, def string, schemes ...string) string {
	v := r.get(name, def)
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		r.fail(name, redactURL(v), "not an absolute URL")
		return v
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return v
		}
	}
	r.fail(name, redactURL(v), "scheme must be one of "+strings.Join(schemes, ", "))
	return v
}

func (r *reader) hostport(name, def string) string {
	v := r.get(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, v, "want host:port")
	}
	return v
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v := r.get(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("want an integer from %d to %d", lo, hi))
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.get(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "want a positive duration such as 10s")
	}
	return d
}

func (r *reader) durationAtLeast(name string, def, lo time.Duration) time.Duration {
	v := r.get(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil || d < lo {
		r.fail(name, v, "want a duration of at least "+shortDuration(lo)+" such as "+shortDuration(def))
	}
	return d
}

// shortDuration prints 1h rather than time.Duration's 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.get(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, v, "want one of "+strings.Join(allowed, ", "))
	return v
}

// fiveFields is a standard crontab line and nothing else: no @descriptors
// and no CRON_TZ= prefix (RECON_TZ sets the zone), which ParseStandard
// accepts but the worker's seconds-first scheduler spec cannot carry.
var fiveFields = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

func (r *reader) cron(name, def string) string {
	v := r.get(name, def)
	if _, err := fiveFields.Parse(v); err != nil || len(strings.Fields(v)) != 5 {
		r.fail(name, v, "want a 5-field cron expression: minute hour day-of-month month day-of-week")
	}
	return v
}

func (r *reader) location(name, def string) *time.Location {
	v := r.get(name, def)
	loc, err := time.LoadLocation(v)
	if err != nil {
		r.fail(name, v, "unknown time zone")
		return time.UTC
	}
	return loc
}

// redactURL hides a password so the error line can be logged.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}

// sftp reads the SFTP puller configured by <prefix>_ADDR, _USER, _PASSWORD,
// _KNOWN_HOSTS and _DIR; nil when _ADDR is unset. Host keys are always
// checked, so a known_hosts file is required with an address.
func (r *reader) sftp(prefix, dir string) *sftppull.Config {
	if r.get(prefix+"_ADDR", "") == "" {
		return nil
	}
	c := &sftppull.Config{Addr: r.hostport(prefix+"_ADDR", ""), User: r.nonEmpty(prefix+"_USER", ""),
		Password: r.nonEmpty(prefix+"_PASSWORD", ""), KnownHostsFile: r.nonEmpty(prefix+"_KNOWN_HOSTS", ""),
		RemoteDir: r.nonEmpty(prefix+"_DIR", dir)}
	if c.User == "" || c.KnownHostsFile == "" {
		r.fail(prefix+"_KNOWN_HOSTS", c.KnownHostsFile, prefix+"_USER and "+prefix+"_KNOWN_HOSTS are required with "+prefix+"_ADDR (host keys are always checked)")
	}
	return c
}
