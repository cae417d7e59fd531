// Command apo-sandbox runs the simulated APO gateway of design.md §7 on a
// local address, with development keys it creates when missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/payops/payops/internal/apo/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apo-sandbox:", err)
		os.Exit(1)
	}
}

// options are the command's settings after flags and environment.
type options struct {
	addr, clientID, apoPrivateKey, merchantPublicKey, keysDir string
	reportsDir, disputeNotifyURL, customerID, publicURL       string
	settlementCurrency, reportGeneration                      string
	remitterName, bankAccountList                             string
	bankAccounts                                              map[string]string
	timeScale                                                 float64
	seed, bankOpening                                         int64
	payoutDays                                                int
	dailyReports                                              bool
}

// parseOptions reads flags; each flag's default comes from its SANDBOX_*
// environment variable when set, so a bad variable is named in the error.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	timeScale, err := strconv.ParseFloat(env("SANDBOX_TIME_SCALE", "1"), 64)
	if err != nil {
		return o, errors.New("SANDBOX_TIME_SCALE: not a number")
	}
	seed, err := strconv.ParseInt(env("SANDBOX_SEED", "0"), 10, 64)
	if err != nil {
		return o, errors.New("SANDBOX_SEED: not an integer")
	}
	daily, err := strconv.ParseBool(env("SANDBOX_DAILY_REPORTS", "true"))
	if err != nil {
		return o, errors.New("SANDBOX_DAILY_REPORTS: not true or false")
	}
	bankOpening, err := strconv.ParseInt(env("SANDBOX_BANK_OPENING", "1000000"), 10, 64)
	if err != nil {
		return o, errors.New("SANDBOX_BANK_OPENING: not an integer")
	}
	payoutDays, err := strconv.Atoi(env("SANDBOX_PAYOUT_DAYS", "2"))
	if err != nil {
		return o, errors.New("SANDBOX_PAYOUT_DAYS: not an integer")
	}
	fs := flag.NewFlagSet("apo-sandbox", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", env("SANDBOX_ADDR", "127.0.0.1:8090"), "listen address (env SANDBOX_ADDR)")
	fs.StringVar(&o.clientID, "client-id", env("SANDBOX_CLIENT_ID", "SANDBOX_PAYOPS"), "the only client id accepted (env SANDBOX_CLIENT_ID)")
	fs.StringVar(&o.apoPrivateKey, "apo-private-key", env("SANDBOX_APO_PRIVATE_KEY", ""), "PEM file of the key that signs responses; overrides --keys-dir (env SANDBOX_APO_PRIVATE_KEY)")
	fs.StringVar(&o.merchantPublicKey, "merchant-public-key", env("SANDBOX_MERCHANT_PUBLIC_KEY", ""), "PEM file of the key that verifies requests; overrides --keys-dir (env SANDBOX_MERCHANT_PUBLIC_KEY)")
	fs.StringVar(&o.keysDir, "keys-dir", env("SANDBOX_KEYS_DIR", ".run/keys"), "directory of the dev key pairs, created when missing (env SANDBOX_KEYS_DIR)")
	fs.Float64Var(&o.timeScale, "time-scale", timeScale, "multiplier of the sandbox's own delays, e.g. 0.001 in tests (env SANDBOX_TIME_SCALE)")
	fs.StringVar(&o.reportsDir, "reports-dir", env("SANDBOX_REPORTS_DIR", ".run/reports"), "where report files are written, as <dir>/<customerId>/<yyyyMMdd>/ (env SANDBOX_REPORTS_DIR)")
	fs.BoolVar(&o.dailyReports, "daily-reports", daily, "write the previous day's reports every day at 01:00 UTC (env SANDBOX_DAILY_REPORTS)")
	fs.StringVar(&o.reportGeneration, "report-generation", env("SANDBOX_REPORT_GENERATION", sandbox.GenerationAPO), "report files' generation when a request names none: apo (the APO / earlier Antom columns) or newest (PSP, ARN, transactionId = paymentId, +08:00 times) (env SANDBOX_REPORT_GENERATION)")
	fs.StringVar(&o.settlementCurrency, "settlement-currency", env("SANDBOX_SETTLEMENT_CURRENCY", ""), "currency every acquirer settles in; empty: each transaction's own (env SANDBOX_SETTLEMENT_CURRENCY)")
	fs.StringVar(&o.disputeNotifyURL, "dispute-notify-url", env("SANDBOX_DISPUTE_NOTIFY_URL", ""), "where dispute notifications are sent; empty: none (env SANDBOX_DISPUTE_NOTIFY_URL)")
	fs.StringVar(&o.customerID, "customer-id", env("SANDBOX_CUSTOMER_ID", ""), "merchant customer id at APO (env SANDBOX_CUSTOMER_ID)")
	fs.Int64Var(&o.seed, "seed", seed, "seed of generated ids; 0 = random (env SANDBOX_SEED)")
	fs.StringVar(&o.publicURL, "public-url", env("SANDBOX_PUBLIC_URL", ""), "public base URL for the 3DS page's normalUrl; default http://<addr> (env SANDBOX_PUBLIC_URL)")
	fs.StringVar(&o.bankAccountList, "bank-accounts", env("SANDBOX_BANK_ACCOUNTS", ""), "the merchant's bank accounts, CCY=IBAN,…; a currency without one gets a German test IBAN (env SANDBOX_BANK_ACCOUNTS)")
	fs.Int64Var(&o.bankOpening, "bank-opening", bankOpening, "every bank account's balance before the first statement day, in major units (env SANDBOX_BANK_OPENING)")
	fs.StringVar(&o.remitterName, "remitter-name", env("SANDBOX_REMITTER_NAME", "ANTOM SETTLEMENT"), "who pays the batches into the bank accounts (env SANDBOX_REMITTER_NAME)")
	fs.IntVar(&o.payoutDays, "payout-days", payoutDays, "a batch of day D is credited on D + N business days, 1-30 (env SANDBOX_PAYOUT_DAYS)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.bankAccounts, err = parseBankAccounts(o.bankAccountList); err != nil {
		return o, fmt.Errorf("--bank-accounts: %w", err)
	}
	if o.payoutDays < 1 || o.payoutDays > 30 {
		return o, errors.New("--payout-days: must be 1-30")
	}
	if o.timeScale <= 0 {
		return o, errors.New("--time-scale: must be positive")
	}
	if o.dailyReports && o.reportsDir == "" {
		return o, errors.New("--reports-dir: needed by --daily-reports")
	}
	if o.reportGeneration != sandbox.GenerationAPO && o.reportGeneration != sandbox.GenerationNewest {
		return o, fmt.Errorf("--report-generation: %q is not %s or %s", o.reportGeneration, sandbox.GenerationAPO, sandbox.GenerationNewest)
	}
	if o.settlementCurrency != "" && !sandbox.KnownCurrency(o.settlementCurrency) {
		return o, fmt.Errorf("--settlement-currency: %q is not an ISO 4217 code the sandbox knows", o.settlementCurrency)
	}
	for name, v := range map[string]string{"--dispute-notify-url": o.disputeNotifyURL, "--public-url": o.publicURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("%s: not an absolute http(s) URL", name)
		}
	}
	return o, nil
}

// parseBankAccounts reads "USD=DE89…,EUR=GB82…"; New checks the IBANs.
func parseBankAccounts(list string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		ccy, iban, ok := strings.Cut(item, "=")
		if !ok || !sandbox.KnownCurrency(ccy) || iban == "" {
			return nil, fmt.Errorf("%q is not CCY=IBAN with a currency the sandbox knows", item)
		}
		if _, dup := out[ccy]; dup {
			return nil, fmt.Errorf("%s is given twice", ccy)
		}
		out[ccy] = iban
	}
	return out, nil
}

// run starts the sandbox and serves until ctx is cancelled, then shuts
// down gracefully. Logs are JSON lines on stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseOptions(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	apoKey, merchantKey, err := loadKeys(o.keysDir, o.apoPrivateKey, o.merchantPublicKey)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	listenURL := "http://" + ln.Addr().String()
	if o.publicURL == "" {
		o.publicURL = listenURL
	}
	sb, err := sandbox.New(sandbox.Config{
		ClientID:           o.clientID,
		APOPrivateKey:      apoKey,
		MerchantPublicKey:  merchantKey,
		CustomerID:         o.customerID,
		TimeScale:          o.timeScale,
		Seed:               o.seed,
		Logger:             log,
		BaseURL:            o.publicURL,
		DisputeNotifyURL:   o.disputeNotifyURL,
		ReportsDir:         o.reportsDir,
		DailyReports:       o.dailyReports,
		ReportGeneration:   o.reportGeneration,
		SettlementCurrency: o.settlementCurrency,
		BankAccounts:       o.bankAccounts,
		BankOpening:        o.bankOpening,
		RemitterName:       o.remitterName,
		PayoutDays:         o.payoutDays,
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("config: %w", err)
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("apo-sandbox listening",
		slog.String("url", listenURL),
		slog.String("public_url", o.publicURL),
		slog.String("client_id", o.clientID),
		slog.Float64("time_scale", o.timeScale),
		slog.String("reports_dir", o.reportsDir),
		slog.Bool("daily_reports", o.dailyReports),
		slog.String("report_generation", o.reportGeneration),
		slog.String("settlement_currency", o.settlementCurrency),
		slog.String("dispute_notify_url", o.disputeNotifyURL),
	)
	select {
	case err := <-served:
		_ = sb.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// First stop taking calls, then give the notifications already due
	// their attempt; retries not yet due are abandoned.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = sb.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := sb.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: notifications not drained: %w", err)
	}
	st := sb.NotificationStats()
	log.Info("apo-sandbox stopped",
		slog.Int("notifications_delivered", st.Delivered),
		slog.Int("notifications_abandoned", st.Abandoned),
	)
	return nil
}
