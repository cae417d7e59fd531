package sandbox

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Faults is what POST /sandbox/faults sets: misbehaviour per gateway API
// and for notifications. Shares are probabilities in [0, 1]. Draws come
// from a generator seeded with Config.Seed (or Seed here), so a sequence
// of calls made one after another meets the same faults on every run;
// concurrent calls draw in arrival order.
type Faults struct {
	// Seed, when not 0, reseeds the fault draws.
	Seed int64 `json:"seed,omitempty"`
	// APIs maps an API name (pay, inquiryPayment, capture, cancel, refund,
	// inquiryRefund, acceptDispute, supplyDefenseDocument,
	// downloadDisputeEvidence) or "*" (every other API) to its faults.
	APIs map[string]APIFaults `json:"apis,omitempty"`
	// Notifications sets notification misbehaviour.
	Notifications NotificationFaults `json:"notifications,omitzero"`
	// UnsignedRejections answers the gateway's own rejections
	// (CLIENT_INVALID, SIGNATURE_INVALID and the other checks made before
	// an API runs) without the signature and response-time headers. Antom
	// documents that the answer to a request rejected for its signature
	// may carry no signature; whether the real gateway ever signs one is
	// not documented, so by default the sandbox signs them, as it signs
	// every answer.
	UnsignedRejections bool `json:"unsignedRejections,omitempty"`
}

// APIFaults is the misbehaviour of one gateway API. At most one of the
// four failures hits a call: Error5xx + Hang + Reset + Unknown ≤ 1.
type APIFaults struct {
	// LatencyMs is added to every call before it is handled.
	LatencyMs int `json:"latencyMs,omitempty"`
	// Error5xx is the share of calls answered with an unsigned HTTP
	// Status (default 500).
	Error5xx float64 `json:"error5xx,omitempty"`
	// Status is the 5xx status of Error5xx; default 500.
	Status int `json:"status,omitempty"`
	// Hang is the share of calls held without an answer for HangMs
	// (default 30,000) or until the client gives up, then dropped.
	Hang float64 `json:"hang,omitempty"`
	// HangMs is how long a hang lasts; default 30,000.
	HangMs int `json:"hangMs,omitempty"`
	// Reset is the share of calls whose connection is reset without an
	// answer.
	Reset float64 `json:"reset,omitempty"`
	// Unknown is the share of calls answered with a signed U
	// UNKNOWN_EXCEPTION.
	Unknown float64 `json:"unknown,omitempty"`
	// Applied is the share of those failures that hit after the operation
	// ran and changed state (real gateways fail both ways); the rest hit
	// before, and nothing happened. The call log (Calls) records which.
	Applied float64 `json:"applied,omitempty"`
}

// NotificationFaults is notification misbehaviour; at most one hits a
// notification: Drop + Duplicate + Reorder + Delay ≤ 1.
type NotificationFaults struct {
	// Drop is the share of notifications never sent.
	Drop float64 `json:"drop,omitempty"`
	// Duplicate is the share whose first attempt is sent twice.
	Duplicate float64 `json:"duplicate,omitempty"`
	// Reorder is the share held back until the next notification has been
	// sent (at most 2 s).
	Reorder float64 `json:"reorder,omitempty"`
	// Delay is the share whose first attempt waits DelayMs.
	Delay float64 `json:"delay,omitempty"`
	// DelayMs is the wait of Delay; default 1,000.
	DelayMs int `json:"delayMs,omitempty"`
}

func (f NotificationFaults) delayMs() int {
	if f.DelayMs == 0 {
		return 1000
	}
	return f.DelayMs
}

// Fault names in Call.Fault.
const (
	faultStatus  = "http_5xx"
	faultHang    = "hang"
	faultReset   = "reset"
	faultUnknown = "unknown"
	faultGone    = "client_gone"
	// faultUnsigned marks a gateway rejection sent unsigned
	// (Faults.UnsignedRejections); nothing ran either way.
	faultUnsigned = "unsigned"
)

// faultAPIs are the names Faults.APIs accepts besides "*".
var faultAPIs = func() map[string]bool {
	m := map[string]bool{}
	for name := range apis {
		m[name] = true
	}
	return m
}()

// validate checks shares and names.
func (f Faults) validate() error {
	share := func(what string, v float64) error {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s: %v is not a share between 0 and 1", what, v)
		}
		return nil
	}
	names := make([]string, 0, len(f.APIs))
	for name := range f.APIs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := f.APIs[name]
		if name != "*" && !faultAPIs[name] {
			return fmt.Errorf("apis: unknown API %q", name)
		}
		for what, v := range map[string]float64{"error5xx": a.Error5xx, "hang": a.Hang, "reset": a.Reset, "unknown": a.Unknown, "applied": a.Applied} {
			if err := share("apis."+name+"."+what, v); err != nil {
				return err
			}
		}
		if sum := a.Error5xx + a.Hang + a.Reset + a.Unknown; sum > 1 {
			return fmt.Errorf("apis.%s: error5xx + hang + reset + unknown = %v is more than 1", name, sum)
		}
		if a.Status != 0 && (a.Status < 500 || a.Status > 599) {
			return fmt.Errorf("apis.%s.status: %d is not a 5xx status", name, a.Status)
		}
		if a.LatencyMs < 0 || a.HangMs < 0 {
			return fmt.Errorf("apis.%s: latencyMs and hangMs must not be negative", name)
		}
	}
	n := f.Notifications
	for what, v := range map[string]float64{"drop": n.Drop, "duplicate": n.Duplicate, "reorder": n.Reorder, "delay": n.Delay} {
		if err := share("notifications."+what, v); err != nil {
			return err
		}
	}
	if sum := n.Drop + n.Duplicate + n.Reorder + n.Delay; sum > 1 {
		return fmt.Errorf("notifications: drop + duplicate + reorder + delay = %v is more than 1", sum)
	}
	if n.DelayMs < 0 {
		return errors.New("notifications.delayMs must not be negative")
	}
	return nil
}

// faultInjector draws the faults of gateway calls.
type faultInjector struct {
	mu   sync.Mutex
	cfg  Faults
	seed uint64
	rng  *mrand.Rand
}

func newFaultInjector(seed uint64) *faultInjector {
	return &faultInjector{seed: seed, rng: newFaultRand(seed)}
}

func newFaultRand(seed uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(seed, seed^0xc2b2ae3d27d4eb4f))
}

// decision is the fault one call meets.
type decision struct {
	kind    string // "" or a fault* constant
	applied bool
	latency time.Duration
	hang    time.Duration
	status  int
}

// draw decides the fault of one call to api.
func (fi *faultInjector) draw(api string) decision {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	a, ok := fi.cfg.APIs[api]
	if !ok {
		if a, ok = fi.cfg.APIs["*"]; !ok {
			return decision{}
		}
	}
	d := decision{latency: time.Duration(a.LatencyMs) * time.Millisecond}
	if a.Error5xx+a.Hang+a.Reset+a.Unknown == 0 {
		return d
	}
	r := fi.rng.Float64()
	for _, c := range []struct {
		kind  string
		share float64
	}{{faultStatus, a.Error5xx}, {faultHang, a.Hang}, {faultReset, a.Reset}, {faultUnknown, a.Unknown}} {
		if r < c.share {
			d.kind = c.kind
			break
		}
		r -= c.share
	}
	if d.kind == "" {
		return d
	}
	d.applied = fi.rng.Float64() < a.Applied
	d.status = a.Status
	if d.status == 0 {
		d.status = http.StatusInternalServerError
	}
	d.hang = time.Duration(a.HangMs) * time.Millisecond
	if a.HangMs == 0 {
		d.hang = 30 * time.Second
	}
	return d
}

// unsignedRejections reports whether gateway rejections go out unsigned.
func (fi *faultInjector) unsignedRejections() bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.cfg.UnsignedRejections
}

// SetFaults replaces the fault configuration (API and notification
// faults together). A non-zero f.Seed reseeds the draws.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("sandbox: faults: %w: %w", err, ErrInvalid)
	}
	apisCopy := make(map[string]APIFaults, len(f.APIs))
	for k, v := range f.APIs {
		apisCopy[k] = v
	}
	f.APIs = apisCopy
	fi := s.faults
	fi.mu.Lock()
	fi.cfg = f
	if f.Seed != 0 {
		fi.seed = uint64(f.Seed)
		fi.rng = newFaultRand(fi.seed)
	}
	fi.mu.Unlock()
	n := s.notifier
	n.mu.Lock()
	n.faults = f.Notifications
	if f.Seed != 0 {
		n.rng = mrand.New(mrand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x5bd1e995))
	}
	n.mu.Unlock()
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	_ = s.SetFaults(Faults{})
}

// CurrentFaults returns the fault configuration in force.
func (s *Server) CurrentFaults() Faults {
	fi := s.faults
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.cfg
	f.APIs = make(map[string]APIFaults, len(fi.cfg.APIs))
	for k, v := range fi.cfg.APIs {
		f.APIs[k] = v
	}
	return f
}

// handleGetFaults serves GET /sandbox/faults.
func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.CurrentFaults())
}

// handleSetFaults serves POST /sandbox/faults with a Faults body, which
// replaces the configuration.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !readControl(w, r, &f) {
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, s.CurrentFaults())
}

// handleClearFaults serves DELETE /sandbox/faults.
func (s *Server) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeJSON(w, s.CurrentFaults())
}
