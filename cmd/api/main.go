// Command api is the payops HTTP service: the admin API under /v1, health
// and readiness probes, the API docs and the OpenAPI spec (design.md §2).
//
//	api [serve]                          run the HTTP server (default)
//	api migrate                          apply pending database migrations and exit
//	api openapi                          print the OpenAPI 3.1 spec as YAML (no database needed)
//	api keys create --name N --role R    create an API key and print it once
//	api users create --email E --role R  create a console user; print its password and TOTP secret once
//
// Configuration comes from the environment (design.md §3).
package main

import (
	// Console users choose a time zone; the binary carries the zone data so
	// that works on a host without /usr/share/zoneinfo.
	_ "time/tzdata"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/config"
	"github.com/payops/payops/internal/logging"
	"github.com/payops/payops/internal/postgres"
	"github.com/payops/payops/internal/users"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// once the process is asked to stop.
const shutdownTimeout = 15 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  api [serve]                          run the HTTP server
  api migrate                          apply pending database migrations
  api openapi                          print the OpenAPI spec (YAML)
  api keys create --name N --role R    create an API key and print it once
  api users create --email E --role R  create a console user; print its password and TOTP secret once`

// run is the whole program with its inputs made explicit, so tests can
// drive it: args without the program name, the environment as a function,
// and where output goes. It returns when the command is done or, for
// serve, when ctx is cancelled and the server has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "openapi":
		if len(args) > 0 {
			return fmt.Errorf("openapi takes no arguments\n%s", usage)
		}
		return printSpec(stdout)
	case "serve", "migrate", "keys", "users":
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("config: PAYOPS_LOG_LEVEL=%q: %w", cfg.LogLevel, err)
	}

	switch cmd {
	case "migrate":
		if len(args) > 0 {
			return fmt.Errorf("migrate takes no arguments\n%s", usage)
		}
		return migrate(ctx, cfg, logging.New(stdout, level))
	case "keys":
		// stdout carries only the new key, so scripts can capture it;
		// failures come back as the returned error.
		return keysCommand(ctx, cfg, args, stdout)
	case "users":
		return usersCommand(ctx, cfg, args, stdout)
	}
	if len(args) > 0 {
		return fmt.Errorf("serve takes no arguments\n%s", usage)
	}
	return serve(ctx, cfg, logging.New(stdout, level))
}

// printSpec writes the OpenAPI document. Handlers are registered with nil
// dependencies, which is safe: they never run.
func printSpec(w io.Writer) error {
	_, api := newHandler(&services{log: slog.New(slog.DiscardHandler)})
	b, err := api.OpenAPI().YAML()
	if err != nil {
		return fmt.Errorf("render openapi: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	postgres.SetPool(db, cfg.DBMaxConns)
	defer db.Close()
	start := time.Now()
	if err := postgres.Migrate(ctx, db.DB); err != nil {
		return err
	}
	log.InfoContext(ctx, "database migrated", "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// keysCommand runs "keys create". The command line has no API key of its
// own: whoever runs it holds the database credentials, which is admin
// power, so the audit row says actor "cli" with role admin.
func keysCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("keys: want subcommand create\n%s", usage)
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "name of the key (who or what uses it)")
	role := fs.String("role", "", "role: "+rolesList())
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("keys create: %w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys create: unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("keys create: --role: want one of %s", rolesList())
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	postgres.SetPool(db, cfg.DBMaxConns)
	defer db.Close()

	_, secret, err := auth.NewKeys(db).Create(ctx, auth.NewKey{Name: *name, Role: r, CreatedBy: cliActor},
		func(k auth.Key) audit.Entry {
			return audit.Entry{Actor: cliActor, Role: string(auth.RoleAdmin), Action: audit.ActionAPIKeyCreate,
				Target: audit.APIKeyTarget(k.ID), Input: apiKeyAuditInput{Name: k.Name, Role: string(k.Role)},
				Outcome: audit.OutcomeSucceeded}
		})
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	_, err = fmt.Fprintln(stdout, secret.Reveal())
	return err
}

// usersCommand runs "users create": like keys create, the command line
// acts as admin with actor "cli". It prints the new user's first password
// and, for a role that needs a second factor, the TOTP secret and its
// otpauth:// URL (for a QR code); the first login with a valid code
// confirms the enrolment. Nothing else keeps them.
func usersCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("users: want subcommand create\n%s", usage)
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the user's email address, which they log in with")
	role := fs.String("role", "", "role: "+rolesList())
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("users create: %w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("users create: unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("users create: --role: want one of %s", rolesList())
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	postgres.SetPool(db, cfg.DBMaxConns)
	defer db.Close()
	// Creating a user never reaches Redis (only logins are throttled
	// there); the client connects lazily, so it is only a placeholder.
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	defer rdb.Close()

	svc := users.New(db, rdb, slog.New(slog.DiscardHandler), users.Config{})
	c, err := svc.Create(ctx, users.Actor{Name: cliActor, Role: auth.RoleAdmin}, *email, r)
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	return printCreatedUser(stdout, c)
}

// printCreatedUser writes what the new user needs to log in, one
// "name: value" per line so scripts (make run) can pick the lines out.
func printCreatedUser(w io.Writer, c users.Created) error {
	lines := [][2]string{{"email", c.User.Email}, {"role", string(c.User.Role)}, {"password", c.Password.Reveal()}}
	if c.Enrolment != nil {
		lines = append(lines, [2]string{"totp-secret", c.Enrolment.Secret.Reveal()},
			[2]string{"totp-url", c.Enrolment.URL.Reveal()})
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%-12s %s\n", l[0]+":", l[1]); err != nil {
			return err
		}
	}
	return nil
}

// cliActor is the audit actor of changes made from the command line.
const cliActor = "cli"

func rolesList() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// serve runs the HTTP server until ctx is cancelled, then drains in-flight
// requests for up to shutdownTimeout. PostgreSQL must answer at start (a
// wrong DATABASE_URL should stop the process, not hide behind /readyz);
// Redis is connected lazily and reported by /readyz.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	postgres.SetPool(db, cfg.DBMaxConns)
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	defer rdb.Close()

	svc := newServices(log, db, rdb)
	a, err := wireDomains(svc, cfg, db, log)
	if err != nil {
		return err
	}
	// Before listening: /readyz answers only once the pool is ready for a
	// pay and for APO's notifications.
	warmed := time.Now()
	if err := postgres.Warm(ctx, db, cfg.DBMaxConns, a.Payments.Rehearse, a.Inbox.Rehearse); err != nil {
		log.WarnContext(ctx, "database pool not warmed; first requests will be slower", "err", err)
	} else {
		log.InfoContext(ctx, "database pool warmed", "connections", cfg.DBMaxConns, "duration_ms", time.Since(warmed).Milliseconds())
	}
	handler, _ := newHandler(svc)
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Listening before serving makes a taken port an immediate error.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.InfoContext(ctx, "api listening", "addr", ln.Addr().String(), "docs", cfg.PublicURL+"/docs")

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("api shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("api stopped")
	return nil
}
