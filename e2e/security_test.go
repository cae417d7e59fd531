package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Permissions of design.md §9, written out here rather than taken from
// internal/auth, so the test checks the running api against the design.
const (
	permRead     = "read"
	permFinance  = "finance"
	permOperate  = "operate"
	permCheckout = "checkout"
	permAdmin    = "admin"
)

// designAllows is design.md §9's role table.
func designAllows(role, perm string) bool {
	switch role {
	case "admin":
		return true
	case "viewer":
		return perm == permRead
	case "finance":
		return perm == permRead || perm == permFinance
	case "operator":
		return perm == permRead || perm == permOperate
	case "checkout":
		return perm == permCheckout
	}
	return false
}

// route is one operation of the role table. Bodies and ids are chosen so
// an allowed call is refused for its input or an unknown id (422, 404) and
// changes nothing; a refused one never gets that far.
type route struct {
	name   string
	method string
	path   string
	body   any
	perm   string
}

// TestSecurity (issue 9): forged notifications change nothing; every role ×
// operation pair gets the answer design.md §9 gives it; hostile list
// filters never reach the database as SQL; an oversized notification is
// refused; and no card number or CVV used is left in any log or table.
func TestSecurity(t *testing.T) {
	t.Parallel()
	lap := laps(t)
	s := StartStack(t, 0.01)

	// Card data used in this test; the CVVs are distinctive so a search
	// for them means something.
	cards := []struct{ pan, cvv string }{
		{"4111111111111111", "8317"},
		{"5555555555554444", "4926"},
		{"378282246310005", "7153"},
		{"4000000000000002", "6048"},
		{"4000000000003220", "5291"},
	}
	var authorized paymentDetail
	for i, c := range cards {
		body := payBody(c.pan, 1500, "USD", "MANUAL")
		body["card"].(map[string]any)["cvv"] = c.cvv
		p, err := s.createPayment(body)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			authorized = p
		}
	}
	// Card data in requests payops refuses with 422 before APO hears of
	// them: a Luhn-invalid number, an expiry in the past, a body missing a
	// field. The problem documents must not echo the card.
	badLuhn := payBody("4111111111111112", 1500, "USD", "MANUAL")
	badLuhn["card"].(map[string]any)["cvv"] = "3864"
	if code, b, err := s.do("POST", "/v1/payments", badLuhn, ""); err != nil || code != 422 {
		t.Errorf("Luhn-invalid card: %d %s %v, want 422", code, tail(b, 200), err)
	} else if bytes.Contains(b, []byte("4111111111111112")) || bytes.Contains(b, []byte("3864")) {
		t.Error("the 422 problem for a Luhn-invalid card echoes card data")
	}
	expired := payBody("5555555555554444", 1500, "USD", "MANUAL")
	expired["card"].(map[string]any)["expiry_year"] = "2019"
	expired["card"].(map[string]any)["cvv"] = "2750"
	noOrder := payBody("378282246310005", 1500, "USD", "MANUAL")
	delete(noOrder, "order")
	noOrder["card"].(map[string]any)["cvv"] = "9406"
	for name, body := range map[string]map[string]any{"expired card": expired, "missing order": noOrder} {
		code, b, err := s.do("POST", "/v1/payments", body, "")
		if err != nil || code != 422 {
			t.Errorf("%s: %d %s %v, want 422", name, code, tail(b, 300), err)
		}
		for _, c := range []string{"5555555555554444", "378282246310005", "2750", "9406"} {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s: the 422 problem echoes card data %s…", name, c[:2])
			}
		}
	}
	lap("payments made")

	t.Run("webhook signatures", func(t *testing.T) { checkWebhookSignatures(t, s, authorized) })
	t.Run("roles", func(t *testing.T) { checkRoles(t, s, authorized.ID) })
	t.Run("hostile filters", func(t *testing.T) { checkHostileFilters(t, s) })
	lap("checks done")

	// Finally: no card number or CVV in any log, table or sandbox state.
	secrets := []struct{ pan, cvv string }{{"4111111111111112", "3864"}, {"5555555555554444", "2750"}, {"378282246310005", "9406"}}
	secrets = append(secrets, cards...)
	var state bytes.Buffer
	_, st, _ := s.do("GET", "/sandbox/state", nil, "-")
	state.Write(st)
	dumps := map[string]string{"pg_dump": pgDump(t, s.envValue("DATABASE_URL")), "sandbox state": state.String()}
	logs, _ := filepath.Glob(filepath.Join(s.dir, "*.log"))
	if len(logs) < 3 {
		t.Fatalf("expected the logs of api, worker and sandbox, found %v", logs)
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		dumps[filepath.Base(l)] = string(b)
	}
	for where, text := range dumps {
		for _, c := range secrets {
			if strings.Contains(text, c.pan) {
				t.Errorf("%s contains card number %s…", where, c.pan[:6])
			}
			// A CVV is 3–4 digits, found anywhere by chance: look for it as
			// a value of its own (a quoted string, or after a cvv-like key).
			cvv := regexp.MustCompile(`(?i)(cvv|cvc|security.?code)\W{0,6}` + c.cvv + `\b|"` + c.cvv + `"`)
			if m := cvv.FindString(text); m != "" {
				t.Errorf("%s contains CVV %s: %q", where, c.cvv, m)
			}
		}
	}
	lap("logs and tables scanned")
}

// checkWebhookSignatures sends forged, altered and unsigned notifications
// about p: each gets 401 with an F result and nothing about p changes.
func checkWebhookSignatures(t *testing.T, s *Stack, p paymentDetail) {
	sender := newAPOSender(t, s)
	// APO's own PAYMENT_RESULT for p lands first, so that anything new in
	// the timeline afterwards is the test's doing.
	var before paymentDetail
	waitFor(t, 2*time.Minute, "APO's notification of the payment processed", func() (bool, string) {
		var err error
		if before, err = s.detail(p.ID); err != nil {
			return false, err.Error()
		}
		return len(before.notificationFacts()) > 0, fmt.Sprintf("%d timeline entries", len(before.Timeline))
	})
	stored, err := s.webhookEvents("")
	if err != nil {
		t.Fatal(err)
	}
	fail, _ := json.Marshal(map[string]any{
		"notifyType":       "PAYMENT_RESULT",
		"result":           map[string]string{"resultCode": "DO_NOT_HONOR", "resultStatus": "F", "resultMessage": "declined"},
		"paymentRequestId": before.PaymentRequestID, "paymentId": before.PaymentID,
		"paymentAmount": map[string]string{"currency": "USD", "value": "1500"}, "paymentMethodType": "CARD",
	})
	// Signed with a key that is not APO's.
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := &apoSender{key: otherKey, url: sender.url}
	forgedHdr, _ := forged.headers(fail)
	// APO's genuine signature over one body, replayed with another.
	genuine := paymentResultS(before)
	genuineHdr, _ := sender.headers(genuine)
	// Genuine signature, another client id in the header.
	otherClient, _ := sender.headers(fail)
	otherClient.Set("client-id", "SANDBOX_SOMEONE")
	unsigned, _ := sender.headers(fail)
	unsigned.Del("signature")
	garbage, _ := sender.headers(fail)
	garbage.Set("signature", "algorithm=RSA256,keyVersion=1,signature=bm90IGEgc2lnbmF0dXJl")

	cases := []struct {
		name string
		body []byte
		hdr  http.Header
	}{
		{"signed with another key", fail, forgedHdr},
		{"genuine signature, altered body", fail, genuineHdr},
		{"genuine signature, other client-id", fail, otherClient},
		{"unsigned", fail, unsigned},
		{"garbage signature", fail, garbage},
	}
	for _, c := range cases {
		code, reply, err := sender.post(c.body, c.hdr)
		var r struct {
			Result struct {
				ResultStatus string `json:"resultStatus"`
				ResultCode   string `json:"resultCode"`
			} `json:"result"`
		}
		_ = json.Unmarshal(reply, &r)
		if err != nil || code != 401 || r.Result.ResultStatus != "F" {
			t.Errorf("%s: %d %s %v, want 401 with an F result", c.name, code, reply, err)
		}
	}
	after, err := s.detail(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != before.Status || after.NeedsReview || len(after.Timeline) != len(before.Timeline) {
		t.Errorf("forged notifications changed the payment: %s → %s, needs_review %v, timeline %d → %d entries",
			before.Status, after.Status, after.NeedsReview, len(before.Timeline), len(after.Timeline))
	}
	// Each refusal is stored, marked invalid, for forensics; none was
	// taken for APO's word.
	evs, err := s.webhookEvents("")
	if err != nil {
		t.Fatal(err)
	}
	invalid := 0
	for _, e := range evs {
		if e.Verdict == "invalid" {
			invalid++
			if e.State != "IGNORED" {
				t.Errorf("a refused notification is %s, want IGNORED", e.State)
			}
		} else if e.apoPaymentID() == before.PaymentID && bytes.Contains(e.Body, []byte("DO_NOT_HONOR")) {
			t.Errorf("a forged notification was stored as valid (%s)", e.State)
		}
	}
	for _, e := range stored {
		if e.Verdict == "invalid" {
			invalid--
		}
	}
	if invalid != len(cases) {
		t.Errorf("%d refused notifications stored for forensics, want %d", invalid, len(cases))
	}
	// The genuine notification is accepted: the refusals above were about
	// the signatures, not the endpoint.
	if acked, code, err := sender.send(genuine); !acked {
		t.Errorf("genuine notification: %d %v, want acknowledged", code, err)
	}
	// Over 1 MiB is refused before it is read whole.
	big := append([]byte(`{"notifyType":"PAYMENT_RESULT","pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	big = append(big, `"}`...)
	bigHdr, _ := sender.headers(big)
	if code, reply, err := sender.post(big, bigHdr); code != 413 {
		t.Errorf("oversized notification: %d %s %v, want 413", code, tail(reply, 200), err)
	}
}

// checkRoles runs every role × operation pair against the api.
func checkRoles(t *testing.T, s *Stack, paymentID string) {
	const unknown = "00000000-0000-7000-8000-000000000000"
	routes := []route{
		{"list payments", "GET", "/v1/payments", nil, permRead},
		{"get payment", "GET", "/v1/payments/" + paymentID, nil, permRead},
		{"create payment", "POST", "/v1/payments", map[string]any{}, permCheckout},
		{"capture", "POST", "/v1/payments/" + unknown + "/captures", map[string]any{}, permOperate},
		{"refund", "POST", "/v1/payments/" + unknown + "/refunds", map[string]any{"amount": 1, "reason": "e2e"}, permOperate},
		{"cancel", "POST", "/v1/payments/" + unknown + "/cancel", nil, permOperate},
		{"sync", "POST", "/v1/payments/" + unknown + "/sync", nil, permOperate},
		{"review", "POST", "/v1/payments/" + unknown + "/review", map[string]any{"status": "FAILED", "reason": "e2e"}, permAdmin},
		{"list webhook events", "GET", "/v1/webhook-events", nil, permRead},
		{"replay webhook event", "POST", "/v1/webhook-events/" + unknown + "/replay", nil, permOperate},
		{"list api keys", "GET", "/v1/api-keys", nil, permAdmin},
		{"create api key", "POST", "/v1/api-keys", map[string]any{"name": "", "role": "nobody"}, permAdmin},
		{"revoke api key", "DELETE", "/v1/api-keys/" + unknown, nil, permAdmin},
		{"audit log", "GET", "/v1/audit-log", nil, permAdmin},
		{"list disputes", "GET", "/v1/disputes", nil, permRead},
		{"get dispute", "GET", "/v1/disputes/" + unknown, nil, permRead},
		{"accept dispute", "POST", "/v1/disputes/" + unknown + "/accept", nil, permOperate},
		{"dispute evidence template", "GET", "/v1/disputes/" + unknown + "/evidence-template", nil, permOperate},
		{"queue UI", "GET", "/ops/queues/", nil, permAdmin},
		{"profiler", "GET", "/debug/pprof/goroutine?debug=1", nil, permAdmin},
	}
	routes = append(routes, reconRoutes(t, s, unknown)...)

	keys := map[string]string{"admin": s.AdminKey}
	for _, role := range []string{"viewer", "finance", "operator", "checkout"} {
		var k struct {
			Key string `json:"key"`
		}
		if code := s.Call("POST", "/v1/api-keys", map[string]any{"name": "e2e-" + role, "role": role}, &k); code != 201 || k.Key == "" {
			t.Fatalf("create %s key: %d", role, code)
		}
		keys[role] = k.Key
	}
	for _, r := range routes {
		for _, who := range []string{"no key", "unknown key", "viewer", "finance", "operator", "checkout", "admin"} {
			key := keys[who]
			switch who {
			case "no key":
				key = "-"
			case "unknown key":
				key = "pk_e2eNotAKeyAtAll0000000000000000"
			}
			code, b, err := s.do(r.method, r.path, r.body, key)
			if err != nil {
				t.Errorf("%s as %s: %v", r.name, who, err)
				continue
			}
			switch {
			case who == "no key" || who == "unknown key":
				if code != 401 {
					t.Errorf("%s %s with %s: %d, want 401", r.method, r.path, who, code)
				}
			case !designAllows(who, r.perm):
				if code != 403 {
					t.Errorf("%s %s as %s (needs %s): %d %s, want 403", r.method, r.path, who, r.perm, code, tail(b, 150))
				}
			case code == 401 || code == 403 || code >= 500:
				t.Errorf("%s %s as %s (needs %s): %d %s, want it allowed", r.method, r.path, who, r.perm, code, tail(b, 150))
			}
		}
	}
	t.Logf("%d operations × 7 callers checked", len(routes))

	// Whatever the table misses: every operation the spec says needs a key
	// refuses a caller without one.
	secured := 0
	for _, op := range specOperations(t, s) {
		if !op.secured {
			continue
		}
		secured++
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.path, unknown)
		if code, b, err := s.do(op.method, path, nil, "-"); err != nil || code != 401 {
			t.Errorf("%s %s without a key: %d %s %v, want 401", op.method, op.path, code, tail(b, 150), err)
		}
	}
	if secured < len(routes)-1 { // the queue UI is not in the spec
		t.Errorf("the spec lists %d secured operations, fewer than the %d of the role table", secured, len(routes)-1)
	}
}

// specOperation is an operation of the api's OpenAPI document.
type specOperation struct {
	method, path string
	secured      bool
}

// specOperations lists the operations of /openapi.json.
func specOperations(t *testing.T, s *Stack) []specOperation {
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code := s.Call("GET", "/openapi.json", nil, &spec); code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	var out []specOperation
	for path, ops := range spec.Paths {
		for method, raw := range ops {
			m := strings.ToUpper(method)
			if m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE" {
				continue
			}
			var op struct {
				Security []map[string][]string `json:"security"`
			}
			_ = json.Unmarshal(raw, &op)
			out = append(out, specOperation{method: m, path: path, secured: len(op.Security) > 0})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

// reconRoutes derives the role-table rows of the reconciliation operations
// the api's spec lists, if any: reading needs read, anything else finance
// (design.md §9).
func reconRoutes(t *testing.T, s *Stack, unknown string) []route {
	var out []route
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range specOperations(t, s) {
		if !strings.HasPrefix(op.path, "/v1/recon") {
			continue
		}
		perm := permFinance
		var body any = map[string]any{}
		if op.method == "GET" {
			perm, body = permRead, nil
		}
		out = append(out, route{name: "recon " + op.method + " " + op.path, method: op.method,
			path: param.ReplaceAllString(op.path, unknown), body: body, perm: perm})
	}
	return out
}

// checkHostileFilters sends SQL-injection strings and oversized values in
// list filters: each is refused (422) or, for free-text filters, matches
// nothing; none is a 500, and the data is intact afterwards.
func checkHostileFilters(t *testing.T, s *Stack) {
	inject := []string{`' OR '1'='1`, `1; DROP TABLE payments; --`, `x' UNION SELECT key_hash FROM api_keys --`, `%' OR 1=1 --`, `\'; SELECT pg_sleep(5); --`}
	huge := strings.Repeat("9", 20000)
	type filter struct {
		path, param string
		freeText    bool // a value that fits is a search, not an error
	}
	filters := []filter{
		{"/v1/payments", "status", false},
		{"/v1/payments", "reference_order_id", true},
		{"/v1/payments", "payment_request_id", true},
		{"/v1/payments", "payment_id", true},
		{"/v1/payments", "acquirer", true},
		{"/v1/payments", "last4", false},
		{"/v1/payments", "needs_review", false},
		{"/v1/payments", "expiring_within", false},
		{"/v1/payments", "created_from", false},
		{"/v1/payments", "cursor", false},
		{"/v1/payments", "limit", false},
		{"/v1/webhook-events", "type", true},
		{"/v1/webhook-events", "state", false},
		{"/v1/webhook-events", "verdict", false},
		{"/v1/webhook-events", "payment_id", false},
		{"/v1/webhook-events", "cursor", false},
		{"/v1/webhook-events", "limit", false},
		{"/v1/audit-log", "actor", true},
		{"/v1/audit-log", "action", true},
		{"/v1/audit-log", "target", true},
		{"/v1/audit-log", "cursor", false},
		{"/v1/disputes", "status", false},
		{"/v1/disputes", "reason", true},
		{"/v1/disputes", "scheme", true},
		{"/v1/disputes", "due_within", false},
		{"/v1/disputes", "cursor", false},
	}
	for _, f := range filters {
		for _, v := range append(append([]string{}, inject...), huge) {
			code, b, err := s.do("GET", f.path+"?"+f.param+"="+url.QueryEscape(v), nil, "")
			if err != nil {
				t.Errorf("%s?%s=%.20q: %v", f.path, f.param, v, err)
				continue
			}
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			_ = json.Unmarshal(b, &page)
			switch {
			case code == 422:
			case code == 200 && f.freeText && len(page.Items) == 0:
			default:
				t.Errorf("%s?%s=%.30q: %d with %d items %s, want 422%s", f.path, f.param, v, code, len(page.Items),
					tail(b, 150), map[bool]string{true: " or an empty page", false: ""}[f.freeText])
			}
		}
	}
	// The data is all still there.
	var list struct {
		Items []payment `json:"items"`
	}
	if code := s.Call("GET", "/v1/payments?limit=200", nil, &list); code != 200 || len(list.Items) < 5 {
		t.Errorf("payments after the hostile filters: %d, %d items", code, len(list.Items))
	}
	var keys struct {
		Items []json.RawMessage `json:"items"`
	}
	if code := s.Call("GET", "/v1/api-keys", nil, &keys); code != 200 || len(keys.Items) < 1 {
		t.Errorf("api keys after the hostile filters: %d, %d items", code, len(keys.Items))
	}
}
