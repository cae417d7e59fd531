package apo

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"
)

// Causes of an unverifiable reply: a reply that cannot tell us what APO did
// because it cannot be trusted, or because APO refused to read our request.
// Verification.Cause and the cause label of the metric use these names.
//
// A run of them does not heal by itself: it means the key pair or the client
// id is wrong, and every payment meanwhile stays PROCESSING. Non-200 replies,
// timeouts and connection errors are not counted: they say nothing about
// keys, and they neither add to nor end a run.
const (
	// CauseUnsignedReply: an HTTP 200 reply without the signature or
	// response-time header, whose body names no gateway rejection.
	CauseUnsignedReply = "unsigned_reply"
	// CauseBadReplySignature: a signed reply that does not verify with
	// Config.APOPublicKey.
	CauseBadReplySignature = "bad_reply_signature"
	// CauseSignatureInvalid: APO says our request signature is wrong
	// (SIGNATURE_INVALID, or the INVALID_SIGNATURE and KEY_NOT_FOUND codes
	// that Antom material also uses).
	CauseSignatureInvalid = "signature_invalid"
	// CauseClientInvalid: APO does not know our client id (CLIENT_INVALID).
	CauseClientInvalid = "client_invalid"
)

// Causes returns every cause, in a fixed order.
func Causes() []string {
	return []string{CauseUnsignedReply, CauseBadReplySignature, CauseSignatureInvalid, CauseClientInvalid}
}

// DegradedAfter is how many unverifiable replies in a row make
// Verification.Degraded true. One could be a stray answer from something
// between us and APO; three in a row are a configuration fault.
const DegradedAfter = 3

// Verification is what the client has seen of replies it could not trust.
type Verification struct {
	// Consecutive counts the unverifiable replies since the last verified
	// one. Any verified reply (result S, F or U) other than a gateway
	// rejection sets it back to 0.
	Consecutive int64
	// Cause is the cause of the latest unverifiable reply ("" when
	// Consecutive is 0).
	Cause string
	// Since is when the current run began (zero when Consecutive is 0).
	Since time.Time
	// Total counts every unverifiable reply since the client was made, by
	// cause.
	Total map[string]uint64
	// ClientID is the client id the requests were signed with.
	ClientID string
}

// Degraded reports whether the latest DegradedAfter or more replies in a
// row could not be verified.
func (v Verification) Degraded() bool { return v.Consecutive >= DegradedAfter }

// Problem is one sentence for operators naming the likely cause of a
// degraded client, or "" when the client is not degraded.
func (v Verification) Problem() string {
	if !v.Degraded() {
		return ""
	}
	var likely string
	switch v.Cause {
	case CauseSignatureInvalid:
		likely = "APO rejects our request signatures (SIGNATURE_INVALID): likely a wrong key pair, our private key not being " +
			"the one whose public key is registered with Antom for client id " + v.ClientID + ", or a wrong client id"
	case CauseClientInvalid:
		likely = "APO does not accept client id " + v.ClientID + " (CLIENT_INVALID): likely a wrong client id, or one of " +
			"another environment than the gateway URL"
	case CauseBadReplySignature:
		likely = "APO's reply signatures do not verify: likely a wrong APO public key (one of another environment or " +
			"client id)"
	default:
		likely = "APO's replies carry no signature: likely a wrong key pair or client id that the gateway rejects " +
			"without signing, or something other than APO answering at the gateway URL"
	}
	return "the last " + strconv.FormatInt(v.Consecutive, 10) + " APO replies could not be verified; " + likely +
		"; payments stay PROCESSING until this is fixed"
}

// trust keeps a client's Verification and logs the start and end of a
// degraded run, once each.
type trust struct {
	log      *slog.Logger // nil: no log lines
	clientID string

	mu          sync.Mutex
	consecutive int64
	cause       string
	since       time.Time
	total       map[string]uint64
}

// observe records one reply: cause is "" for a verified reply, else one of
// the Cause constants.
func (t *trust) observe(ctx context.Context, cause, api string, now time.Time) {
	t.mu.Lock()
	if cause == "" {
		was := t.consecutive
		t.consecutive, t.cause, t.since = 0, "", time.Time{}
		t.mu.Unlock()
		if was >= DegradedAfter && t.log != nil {
			t.log.InfoContext(ctx, "APO replies verify again", "api", api, "unverifiable_before", was)
		}
		return
	}
	if t.total == nil {
		t.total = map[string]uint64{}
	}
	t.total[cause]++
	if t.consecutive == 0 {
		t.since = now
	}
	t.consecutive++
	t.cause = cause
	v := t.snapshotLocked()
	t.mu.Unlock()
	// Logged once per run, when it becomes one: the metric and readyz
	// carry it from there without a line per call.
	if v.Consecutive == DegradedAfter && t.log != nil {
		t.log.ErrorContext(ctx, "APO replies cannot be verified", "api", api, "cause", cause,
			"consecutive", v.Consecutive, "likely_cause", v.Problem())
	}
}

func (t *trust) snapshot() Verification {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked()
}

func (t *trust) snapshotLocked() Verification {
	return Verification{Consecutive: t.consecutive, Cause: t.cause, Since: t.since,
		Total: maps.Clone(t.total), ClientID: t.clientID}
}

// rejectionCause maps a gateway rejection's result code to its cause, or
// "" for any other code.
func rejectionCause(code string) string {
	switch code {
	case "SIGNATURE_INVALID", "INVALID_SIGNATURE", "KEY_NOT_FOUND":
		return CauseSignatureInvalid
	case "CLIENT_INVALID":
		return CauseClientInvalid
	}
	return ""
}

// claimedRejection reads the result code out of a reply that could not be
// verified and returns its cause if it names a gateway rejection. The
// unverified body is read for this diagnosis only, never acted on.
func claimedRejection(body []byte) string {
	var r struct {
		Result struct {
			ResultCode string `json:"resultCode"`
		} `json:"result"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	return rejectionCause(r.Result.ResultCode)
}
