package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// HealthOutput is the body of a passing probe.
type HealthOutput struct {
	Body struct {
		Status string            `json:"status" example:"ok" doc:"Always ok: failures are problem documents"`
		Checks map[string]string `json:"checks,omitempty" doc:"Each dependency checked, with its state"`
	}
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
func readyz(log *slog.Logger, checks []readinessCheck, timeout time.Duration) func(context.Context, *struct{}) (*HealthOutput, error) {
	return func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
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
