// Package console is the web console people use to do their day: ops staff
// capture, cancel, refund and defend disputes; finance reconciles; admins
// manage users, keys and read the audit log. The admin API stays the
// contract for machines; this is the same domain services behind pages.
//
// It is served by the api process under /console/. Pages are Go templates
// (html/template, which escapes by context) rendered on the server, with
// htmx for partial updates; every asset is embedded (assets/), so a page
// makes no request outside the process.
//
// Who owns what:
//   - console.go wires Deps into one http.Handler (routes.go lists every
//     page and action, and the role each needs).
//   - session.go is login, logout and the session cookie (users owns the
//     sessions themselves); guard.go the headers, the cross-origin check
//     and the role check every request passes.
//   - render.go renders pages and turns domain errors into messages;
//     action.go is what every change shares: one submission per form
//     token (idempotency) and its audit row, like the API's edge.
//   - one file per area (payments.go, disputes.go, recon.go, …) holds its
//     handlers; templates/<area>*.html its pages.
//
// The console holds no SQL: every read and change is a domain service
// call, with the same validation, idempotency, audit trail (the actor is
// the console user's email) and role rules as the API.
package console

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/bank"
	"github.com/payops/payops/internal/disputes"
	"github.com/payops/payops/internal/idempotency"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/journal"
	"github.com/payops/payops/internal/payments"
	"github.com/payops/payops/internal/payout"
	"github.com/payops/payops/internal/recon"
	"github.com/payops/payops/internal/users"
)

// Prefix is where the console is mounted.
const Prefix = "/console"

//go:embed all:templates
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Deps are the domain services the console calls. cmd/api builds them
// once for the API and the console alike.
type Deps struct {
	Log         *slog.Logger
	Users       *users.Service
	Payments    *payments.Service
	Disputes    *disputes.Service
	Recon       *recon.Service
	Payouts     *payout.Service // payouts and the bank credits that paid them (payouts.go)
	Bank        *bank.Service   // bank accounts and statements (bank.go)
	Inbox       *inbox.Service
	Journals    *journal.Service
	Audit       *audit.Store
	Keys        *auth.Keys  // creates and revokes API keys with their audit row
	KeyList     *auth.Store // lists API keys
	Idempotency *idempotency.Store
	// EnqueueRun hands a started reconciliation run to the worker.
	EnqueueRun func(ctx context.Context, runID int64) error
	// UploadDir is where uploads are spooled before a domain service reads
	// them (a private directory emptied at start, like the API's).
	UploadDir string
	// Secure is set when the console is reached over TLS: cookies are then
	// Secure and named with the __Host- prefix.
	Secure bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	d     Deps
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the console's handler, to be mounted at Prefix+"/".
func New(d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{d: d, pages: pages, mux: http.NewServeMux()}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	c.mux.Handle("GET "+Prefix+"/assets/", cacheAssets(http.StripPrefix(Prefix+"/assets/", http.FileServerFS(assets))))
	c.routes()
	return c, nil
}

// ServeHTTP runs every request through the guard: headers, cross-origin
// refusal of changes, then the page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.guard(c.mux).ServeHTTP(w, r)
}
