package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/payops/payops/internal/apo"
	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/carddata"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/inbox"
	"github.com/payops/payops/internal/ratelimit"
)

// Audit actions of this resource.

// Limits of the webhook intake. APO's notifications are a few kilobytes
// (a dispute's, the largest, under 4 KiB); 256 KiB leaves ample room and
// bounds what a valid notification can make us store.
const (
	maxWebhookBody     = 256 << 10
	webhookReadTimeout = 10 * time.Second
)

// Replies to APO. Only the exact success body stops APO's resends, so
// anything short of a stored event gets an F result and is sent again.
var (
	webhookBadSignature = WebhookReply{Result: APOResult{ResultCode: "SIGNATURE_INVALID", ResultStatus: "F", ResultMessage: "signature invalid"}}
	webhookNotOurClient = WebhookReply{Result: APOResult{ResultCode: "CLIENT_INVALID", ResultStatus: "F", ResultMessage: "client-id is not this merchant's"}}
	webhookBadTime      = WebhookReply{Result: APOResult{ResultCode: "PARAM_ILLEGAL", ResultStatus: "F", ResultMessage: "request-time outside the accepted window"}}
	webhookTooMany      = WebhookReply{Result: APOResult{ResultCode: "REQUEST_TRAFFIC_EXCEED_LIMIT", ResultStatus: "F", ResultMessage: "too many refused notifications from this address"}}
	webhookNotStored    = WebhookReply{Result: APOResult{ResultCode: "PROCESS_FAIL", ResultStatus: "F", ResultMessage: "notification not stored, send it again"}}
)

// Budget of refused notifications stored per source address: a sender
// whose notifications keep failing (a wrong key at APO's side, or a prober)
// has webhookRefusalBurst of them stored, then one more per
// webhookRefusalEvery; the rest are answered 429 and only counted
// (payops_webhook_refusals_total{kept="limited"}). At 4 KiB each that keeps
// one address to about 6 MiB a day.
const (
	webhookRefusalBurst = 10
	webhookRefusalEvery = time.Minute
	// webhookGateTimeout bounds the Redis call behind the budget; past it
	// the refusal is not stored.
	webhookGateTimeout = 500 * time.Millisecond
)

// refusalGate stores refused notifications within a budget per source
// address, shared through Redis by every api process. IPv6 addresses are
// budgeted by their /64, which one host can fill.
func refusalGate(l *ratelimit.PerKey) inbox.RefusalGate {
	return func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, webhookGateTimeout)
		defer cancel()
		return l.Allow(ctx, sourceKey(httpx.RemoteAddrFromContext(ctx)))
	}
}

// sourceKey is the budget key of a peer address (host:port): the IPv4
// address, or the /64 of an IPv6 one.
func sourceKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr.Is4() || addr.Is4In6() {
		return addr.Unmap().String()
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

// webhookSignatureFailures counts notifications refused for their signature
// (payops_webhook_refusals_total counts every refusal by reason):
// a burst means a key rotation went wrong, or someone is probing the
// endpoint.
var webhookSignatureFailures = promauto.NewCounter(prometheus.CounterOpts{
	Name: "payops_webhook_signature_failures_total",
	Help: "APO notifications refused because their signature did not verify.",
})

// inboxService is what the webhook handlers need; *inbox.Service
// satisfies it.
type inboxService interface {
	Receive(ctx context.Context, method, requestURI string, h http.Header, body []byte) (inbox.Event, error)
	Replay(ctx context.Context, eventID string) (inbox.Event, error)
	List(ctx context.Context, f inbox.Filter) (inbox.Page, error)
}

// APOResult is APO's result block, as the webhook answers it.
type APOResult struct {
	ResultCode    string `json:"resultCode" example:"SUCCESS"`
	ResultStatus  string `json:"resultStatus" enum:"S,F" example:"S"`
	ResultMessage string `json:"resultMessage" example:"success"`
}

// WebhookReply is what the webhook answers APO.
type WebhookReply struct {
	Result APOResult `json:"result"`
}

// WebhookInput is a notification as APO POSTs it. The body is kept raw:
// the signature covers its exact bytes. Resolve captures the method,
// request URI and headers, which the signature covers too.
type WebhookInput struct {
	RawBody    []byte
	method     string
	requestURI string
	header     http.Header
}

// Resolve records what of the request the signature check needs.
func (in *WebhookInput) Resolve(ctx huma.Context) []error {
	in.method = ctx.Method()
	u := ctx.URL()
	in.requestURI = u.RequestURI()
	in.header = http.Header{}
	ctx.EachHeader(func(name, value string) { in.header.Add(name, value) })
	return nil
}

// WebhookOutput is the reply to APO, written byte for byte.
type WebhookOutput struct {
	Status      int
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func webhookOutput(status int, body []byte) *WebhookOutput {
	return &WebhookOutput{Status: status, ContentType: "application/json", Body: body}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// receiveWebhook stores a notification and only then acknowledges it: an
// event answered with success is in the database (design.md §10), and the
// inbox has started its processing. A notification that fails the checks
// (signature, client id, request-time) is refused with 401 and changes
// nothing; the inbox keeps a bounded record of it unless its sender is over
// its budget of refusals, which is answered 429 and only counted.
func receiveWebhook(log *slog.Logger, in inboxService) func(context.Context, *WebhookInput) (*WebhookOutput, error) {
	notStored, tooMany := mustJSON(webhookNotStored), mustJSON(webhookTooMany)
	refusals := map[inbox.RefuseReason]struct {
		msg   string
		reply []byte
	}{
		inbox.RefuseSignature:   {"webhook signature invalid", mustJSON(webhookBadSignature)},
		inbox.RefuseClientID:    {"webhook for another client id", mustJSON(webhookNotOurClient)},
		inbox.RefuseRequestTime: {"webhook request-time outside the window", mustJSON(webhookBadTime)},
	}
	return func(ctx context.Context, req *WebhookInput) (*WebhookOutput, error) {
		// Storing must finish once started, whether or not APO waits.
		ev, err := in.Receive(context.WithoutCancel(ctx), req.method, req.requestURI, req.header, req.RawBody)
		var refused *inbox.RefusedError
		switch {
		case errors.As(err, &refused):
			if refused.Reason == inbox.RefuseSignature {
				webhookSignatureFailures.Inc()
			}
			if refused.Limited {
				// No log line either: a flood would flood the log.
				return webhookOutput(http.StatusTooManyRequests, tooMany), nil
			}
			r := refusals[refused.Reason]
			log.WarnContext(ctx, r.msg, "detail", refused.Detail, "event_id", ev.ID, "stored", refused.Stored,
				"gate_err", refused.GateErr, "remote_addr", httpx.RemoteAddrFromContext(ctx),
				"request_id", httpx.RequestIDFromContext(ctx))
			return webhookOutput(http.StatusUnauthorized, r.reply), nil
		case err != nil:
			log.ErrorContext(ctx, "webhook not stored", "err", err, "request_id", httpx.RequestIDFromContext(ctx))
			return webhookOutput(http.StatusInternalServerError, notStored), nil
		}
		return webhookOutput(http.StatusOK, []byte(apo.NotificationAck)), nil
	}
}

// webhookResponses documents the replies to APO: each is APO's result
// block, not a problem document, because that is what APO reads.
func webhookResponses(api huma.API) map[string]*huma.Response {
	reg := api.OpenAPI().Components.Schemas
	reply := reg.Schema(reflect.TypeFor[WebhookReply](), true, "WebhookReply")
	problem := reg.Schema(reflect.TypeFor[huma.ErrorModel](), true, "ErrorModel")
	content := func(s *huma.Schema, ct string) map[string]*huma.MediaType {
		return map[string]*huma.MediaType{ct: {Schema: s}}
	}
	return map[string]*huma.Response{
		"200": {Description: "Stored. The body is exactly " + "`" + apo.NotificationAck + "`, which stops APO's resends.",
			Content: content(reply, "application/json")},
		"401": {Description: "Refused (result F), nothing changed: `SIGNATURE_INVALID` (the signature does not verify " +
			"with APO's key), `CLIENT_INVALID` (signed for another client id than ours), `PARAM_ILLEGAL` (request-time " +
			"unreadable, more than 48 h old, or more than 1 h ahead: a replay, not one of APO's resends). The first 4 KiB " +
			"of the body, its size and SHA-256 are kept (`GET /v1/webhook-events?verdict=invalid`).",
			Content: content(reply, "application/json")},
		"413": {Description: "Body over 256 KiB.", Content: content(problem, "application/problem+json")},
		"429": {Description: "Refused as for 401, from an address over its budget of refused notifications (10, " +
			"then one a minute): counted, not stored (result F, REQUEST_TRAFFIC_EXCEED_LIMIT).",
			Content: content(reply, "application/json")},
		"500": {Description: "Not stored (result F): APO sends it again.", Content: content(reply, "application/json")},
	}
}

// WebhookEvent is a stored notification as the API shows it.
type WebhookEvent struct {
	ID          string              `json:"id" format:"uuid"`
	NotifyType  string              `json:"notify_type,omitempty" example:"PAYMENT_RESULT"`
	Verdict     string              `json:"verdict" enum:"valid,invalid" doc:"Whether the signature verified"`
	State       string              `json:"state" enum:"PENDING,PROCESSED,FAILED,IGNORED" example:"PROCESSED"`
	Attempts    int                 `json:"attempts" doc:"Processing attempts"`
	Deliveries  int                 `json:"deliveries" doc:"How many times APO delivered it"`
	LastError   string              `json:"last_error,omitempty"`
	PaymentID   string              `json:"payment_id,omitempty" format:"uuid" doc:"payops' id of the payment it concerns"`
	RequestURI  string              `json:"request_uri" example:"/webhooks/apo"`
	Headers     map[string][]string `json:"headers,omitempty" doc:"The headers that prove the notification (signature, client-id, request-time …)"`
	Body        json.RawMessage     `json:"body,omitempty" doc:"The notification as received, redacted (card numbers masked, card tokens withheld)"`
	BodyText    string              `json:"body_text,omitempty" doc:"The body, redacted, when it is not JSON (or is the cut prefix of a refused one)"`
	BodySize    int                 `json:"body_size,omitempty" doc:"Refused notifications: the size in bytes of the body received, of which only the first 4 KiB are kept"`
	BodySHA256  string              `json:"body_sha256,omitempty" doc:"Refused notifications: SHA-256 (hex) of the whole body received"`
	ReceivedAt  time.Time           `json:"received_at"`
	ProcessedAt *time.Time          `json:"processed_at,omitempty"`
}

// webhookEventBody shows an event. Notifications carry masked card data
// only, but the body is redacted anyway: it arrived from outside, and an
// invalid one may hold anything. A valid one may carry the card token APO
// issued (paymentResultInfo.cardToken), a credential no read role may see:
// the redaction withholds it.
func webhookEventBody(e inbox.Event) WebhookEvent {
	out := WebhookEvent{ID: e.ID, NotifyType: e.NotifyType, Verdict: e.Verdict, State: string(e.State),
		Attempts: e.Attempts, Deliveries: e.Deliveries, LastError: carddata.Redact(e.LastError), PaymentID: e.PaymentID,
		RequestURI: carddata.Redact(e.RequestURI), Headers: e.Headers, ReceivedAt: e.ReceivedAt, ProcessedAt: e.ProcessedAt,
		BodySize: e.BodySize, BodySHA256: e.BodySHA256}
	if json.Valid(e.RawBody) {
		out.Body = carddata.RedactJSON(e.RawBody)
	} else {
		out.BodyText = carddata.Redact(string(e.RawBody))
	}
	return out
}

// ListWebhookEventsInput filters and pages stored notifications.
type ListWebhookEventsInput struct {
	Type      string `query:"type" maxLength:"64" example:"PAYMENT_RESULT" doc:"Only this notifyType"`
	Verdict   string `query:"verdict" enum:"valid,invalid" doc:"Only events whose signature did (or did not) verify"`
	State     string `query:"state" enum:"PENDING,PROCESSED,FAILED,IGNORED" doc:"Only events in this processing state"`
	PaymentID string `query:"payment_id" format:"uuid" doc:"Only events about this payment (payops' id)"`
	Cursor    string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit     int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
}

// WebhookEventListOutput is one page of stored notifications.
type WebhookEventListOutput struct {
	Body struct {
		Items      []WebhookEvent `json:"items" nullable:"false"`
		NextCursor string         `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func listWebhookEvents(log *slog.Logger, events inboxService) func(context.Context, *ListWebhookEventsInput) (*WebhookEventListOutput, error) {
	return func(ctx context.Context, in *ListWebhookEventsInput) (*WebhookEventListOutput, error) {
		page, err := events.List(ctx, inbox.Filter{NotifyType: in.Type, Verdict: in.Verdict,
			State: inbox.State(in.State), PaymentID: in.PaymentID, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		out := &WebhookEventListOutput{}
		out.Body.NextCursor = page.Next
		out.Body.Items = make([]WebhookEvent, len(page.Items))
		for i, e := range page.Items {
			out.Body.Items[i] = webhookEventBody(e)
		}
		return out, nil
	}
}

// WebhookEventIDInput names a stored notification.
type WebhookEventIDInput struct {
	ID string `path:"id" format:"uuid" doc:"Id of the stored notification"`
}

// WebhookEventOutput is a stored notification.
type WebhookEventOutput struct {
	Body WebhookEvent
}

// replayWebhookEvent processes a stored notification again, now, and
// answers with its state afterwards. Processing is idempotent, so a replay
// of an applied event changes nothing.
func replayWebhookEvent(log *slog.Logger, store *audit.Store, events inboxService) func(context.Context, *WebhookEventIDInput) (*WebhookEventOutput, error) {
	return func(ctx context.Context, in *WebhookEventIDInput) (*WebhookEventOutput, error) {
		ev, err := events.Replay(context.WithoutCancel(ctx), in.ID)
		outcome := auditOutcome(err)
		if err == nil && ev.State == inbox.Failed {
			outcome = audit.OutcomeFailed
		}
		recordAudit(ctx, log, store, audit.ActionWebhookReplay, audit.WebhookTarget(in.ID), nil, outcome)
		if errors.Is(err, inbox.ErrNotFound) {
			return nil, huma.Error404NotFound("webhook event not found")
		}
		if err != nil {
			return nil, httpError(ctx, log, err)
		}
		return &WebhookEventOutput{Body: webhookEventBody(ev)}, nil
	}
}
