package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/payops/payops/internal/apo"
)

// HealthOutput is the body of a passing probe.
type HealthOutput struct {
	Body struct {
		Status string            `json:"status" enum:"ok,degraded" example:"ok" doc:"ok, or degraded: serving, but a check names a fault operators must fix (its entry in checks says what and the likely cause). Failures are problem documents"`
		Checks map[string]string `json:"checks,omitempty" doc:"Each dependency checked, with its state: ok, or degraded: <what and the likely cause>"`
	}
}

// apoVerifier is the part of the APO client /readyz reads; *apo.Client
// satisfies it.
type apoVerifier interface{ Verification() apo.Verification }

// apoCheck reports APO replies that cannot be verified (a wrong key pair or
// client id) as a degradation, not a failure: the api still takes
// notifications and serves reads, and being taken out of rotation would fix
// nothing, but without it the only symptom is payments staying PROCESSING.
func apoCheck(c apoVerifier) readinessCheck {
	return readinessCheck{name: "apo", degraded: func() string { return c.Verification().Problem() }}
}

func healthz() func(context.Context, *struct{}) (*HealthOutput, error) {
	return func(context.Context, *struct{}) (*HealthOutput, error) {
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	}
}

// readyz pings every check at once, each under its own timeout, and
// answers 503 naming those that failed ("postgres: unreachable"). The
// underlying errors are logged, not returned: they can hold host names.
// A degradation (apoCheck) leaves the answer 200 with status "degraded".
func readyz(log *slog.Logger, checks []readinessCheck, timeout time.Duration) func(context.Context, *struct{}) (*HealthOutput, error) {
	return func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			if c.ping == nil {
				continue
			}
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				errs[i] = c.ping(cctx)
			})
		}
		wg.Wait()

		out := &HealthOutput{}
		out.Body.Status = "ok"
		out.Body.Checks = map[string]string{}
		var failed []string
		var details []error
		for i, c := range checks {
			if c.degraded != nil {
				out.Body.Checks[c.name] = "ok"
				if problem := c.degraded(); problem != "" {
					// Not logged here: the client logged the run once when it began.
					out.Body.Checks[c.name] = "degraded: " + problem
					out.Body.Status = "degraded"
				}
				continue
			}
			if errs[i] == nil {
				out.Body.Checks[c.name] = "ok"
				continue
			}
			log.WarnContext(ctx, "readiness check failed", "check", c.name, "err", errs[i])
			failed = append(failed, c.name+": unreachable")
			details = append(details, &huma.ErrorDetail{Location: c.name, Message: "unreachable"})
		}
		if len(failed) > 0 {
			return nil, huma.Error503ServiceUnavailable(strings.Join(failed, "; "), details...)
		}
		return out, nil
	}
}
