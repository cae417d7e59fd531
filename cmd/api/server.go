package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/console"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
)

// apiVersion is the version of the admin API contract in the spec.
const apiVersion = "0.1.0"

// readyTimeout bounds each dependency check of /readyz, so a hung
// dependency makes the probe fail rather than hang.
const readyTimeout = 2 * time.Second

// services is everything handlers may need, wired once in serve. Later
// resources add their service here (payments, recon, disputes). For the
// openapi command every field but log is nil: handlers are registered but
// never run.
type services struct {
	log   *slog.Logger
	db    *sqlx.DB // for transactions that span stores (a change and its audit row)
	keys  *auth.Store
	audit *audit.Store
	// idempotency keeps the answers of POSTs sent with an Idempotency-Key.
	idempotency *idempotency.Store
	// payments runs the payment lifecycle (usePayments wires it).
	payments paymentService
	// inbox receives APO's notifications, stores them and has them
	// processed (usePayments wires it).
	inbox inboxService
	// disputes runs chargebacks (nil for the openapi command).
	disputes *disputes.Service
	// recon reconciles APO reports (nil for the openapi command).
	recon *recon.Service
	// bank keeps bank accounts and their statements (nil for the openapi
	// command).
	bank *bank.Service
	// journals books settlement batches and exports them (nil for the
	// openapi command).
	journals *journal.Service
	// payouts are APO's payouts matched to bank credits (nil for the
	// openapi command).
	payouts *payout.Service
	// uploadDir is the process's private temporary directory (under
	// RECON_TMP_DIR), where uploads are spooled; "" for the system's.
	uploadDir string
	// enqueueRun hands a started reconciliation run to the worker.
	enqueueRun func(ctx context.Context, runID int64) error
	// queueUI is asynqmon, served at /ops/queues for admins.
	queueUI http.Handler
	// checks are the dependencies /readyz pings, in the order reported.
	checks       []readinessCheck
	readyTimeout time.Duration
	// collectors are read from the database when /metrics is scraped.
	collectors []prometheus.Collector
	// console is the web console, mounted at /console/ (nil for the
	// openapi command and for tests of the API alone).
	console http.Handler
}

// readinessCheck is one dependency /readyz pings, or, when degraded is
// set, a condition it reads instead (apoCheck).
type readinessCheck struct {
	name     string
	ping     func(context.Context) error
	degraded func() string // "" when fine, else what operators must fix
}

// newServices wires the stores over db and the readiness checks of db and
// rdb.
func newServices(log *slog.Logger, db *sqlx.DB, rdb *redis.Client) *services {
	return &services{
		log:         log,
		db:          db,
		keys:        auth.NewStore(db),
		audit:       audit.NewStore(db),
		idempotency: idempotency.NewStore(db),
		checks: []readinessCheck{
			{name: "postgres", ping: db.PingContext},
			{name: "redis", ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
		readyTimeout: readyTimeout,
		collectors:   []prometheus.Collector{recon.NewCollector(db), inbox.NewCollector(db)},
	}
}

// usePayments wires the payments service and the inbox of its
// notifications (which decides how a stored one reaches processing: the
// worker's queue in serve, a goroutine of this process in tests).
func (s *services) usePayments(pay *payments.Service, in *inbox.Service) {
	s.payments = pay
	s.inbox = in
}

// newHandler builds the HTTP handler of the api process: the Huma API on a
// standard ServeMux, wrapped in request-id, access-log, metrics, security
// header and panic-recovery middleware so every path, /healthz and /docs
// included, gets them. It returns the API as well, for the spec.
func newHandler(svc *services) (http.Handler, huma.API) {
	mux := http.NewServeMux()
	api := humago.New(mux, apiConfig())
	// Huma binds middleware at registration, so it must come first.
	api.UseMiddleware(authenticate(api, svc.log, svc.keys))
	addRoutes(api, svc)
	// Each handler has its own registry beside the process-wide default
	// one, so that two handlers (tests) never register a metric twice.
	reg := prometheus.NewRegistry()
	hist := newHTTPDuration()
	reg.MustRegister(hist)
	reg.MustRegister(svc.collectors...)
	mountOps(mux, svc, prometheus.Gatherers{prometheus.DefaultGatherer, reg})
	mountDocs(mux)
	if svc.console != nil {
		mux.Handle(console.Prefix+"/", svc.console)
	}

	var h http.Handler = mux
	h = httpx.TextQuery(h)
	h = instrument(hist, h) // sees the mux's r.Pattern: nothing between may copy the request
	h = secureHeaders(h)
	h = httpx.Recover(svc.log, h)
	h = httpx.AccessLog(svc.log, h)
	h = httpx.RequestID(h)
	return h, api
}

// unmarshalText is JSON decoding that refuses what is not text: a body that
// is not UTF-8 (encoding/json would quietly turn it into U+FFFD) and a string
// holding NUL (\u0000), which PostgreSQL refuses in text columns, so the
// client would get a 500 for its own bad input. Huma answers the error with
// a 4xx problem.
func unmarshalText(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("body is not UTF-8")
	}
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case 0:
			return errors.New("body holds a NUL byte")
		case '\\':
			if i+5 < len(data) && string(data[i+1:i+6]) == "u0000" {
				return errors.New(`a string holds NUL (\u0000), which is not text`)
			}
			i++ // the escaped character, so \\u0000 is text
		}
	}
	return json.Unmarshal(data, v)
}

// apiConfig is Huma's default configuration (spec at /openapi.json and
// /openapi.yaml) without its docs page, with our description and security scheme,
// minus the $schema links Huma adds to every response body by default:
// clients of an admin API gain nothing from them.
func apiConfig() huma.Config {
	cfg := huma.DefaultConfig("payops", apiVersion)
	cfg.DocsPath = "" // Huma's page loads its script from a CDN; mountDocs serves ours
	cfg.CreateHooks = nil
	cfg.Transformers = append(cfg.Transformers, hideErrorValues, groupErrors)
	textJSON := huma.DefaultJSONFormat
	textJSON.Unmarshal = unmarshalText
	cfg.Formats = map[string]huma.Format{"application/json": textJSON, "json": textJSON}
	cfg.Info.Description = "Card payments through Antom's APO gateway: authorization, capture, cancel, " +
		"refund, disputes and nightly reconciliation.\n\n" +
		"Authenticate with an API key: `Authorization: Bearer pk_…`. A missing, unknown or revoked key " +
		"gets 401; a key whose role lacks the operation's permission gets 403. Roles: `viewer` (read all), " +
		"`finance` (viewer + reconciliation actions), `operator` (viewer + capture, cancel, refund, sync " +
		"and dispute actions), `checkout` (create payments only), `admin` (everything, including API keys " +
		"and the audit log). Every change is recorded in the audit log.\n\n" +
		"Errors are RFC 9457 problem documents (`application/problem+json`); a 422 lists every error of " +
		"the request in `errors`, each with its `location` (`body.amount.value`, `query.limit`). Lists are " +
		"keyset-paginated: pass a response's `next_cursor` as `cursor` to get the next page. A query " +
		"parameter an operation does not take is refused (422), never ignored."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {
			Type:         "http",
			Scheme:       "bearer",
			BearerFormat: "pk_ API key",
			Description:  "An API key made with `POST /v1/api-keys` or `api keys create`.",
		},
	}
	return cfg
}
