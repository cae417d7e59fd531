package recon

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payops/payops/internal/postgres/pgtest"
)

// TestHealth: the last success is the newest SUCCEEDED run; open
// discrepancies count only the latest successful run of each period, and
// only those still OPEN.
func TestHealth(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	h, err := NewStore(db).Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.LastSuccessAt != nil || h.LastPeriod != nil || len(h.OpenDiscrepancies) != len(Kinds) || h.OpenDiscrepancies[AmountMismatch] != 0 {
		t.Fatalf("empty database: %+v", h)
	}

	run := func(period, status string, finished time.Time) int64 {
		var id int64
		db.QueryRowx(`INSERT INTO recon_runs (period, request, input_file_ids, inputs, status, actor, created_at, finished_at)
			VALUES ($1, '{}', '{}', '[]', $2, 'test', $3, $3) RETURNING id`, period, status, finished).Scan(&id)
		return id
	}
	discrepancy := func(runID int64, kind Kind, status string) {
		db.MustExec(`INSERT INTO discrepancies (run_id, kind, fingerprint, content_hash, status, created_at)
			VALUES ($1, $2, gen_random_uuid()::text, 'h', $3, now())`, runID, string(kind), status)
	}
	t0 := time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC)
	old := run("2026-12-01", "SUCCEEDED", t0)
	discrepancy(old, AmountMismatch, "OPEN") // superseded by the rerun below
	rerun := run("2026-12-01", "SUCCEEDED", t0.Add(time.Hour))
	discrepancy(rerun, MissingInLedger, "OPEN")
	discrepancy(rerun, MissingInLedger, "RESOLVED")
	latest := run("2026-12-02", "SUCCEEDED", t0.Add(24*time.Hour))
	discrepancy(latest, MissingInLedger, "OPEN")
	discrepancy(latest, FXMismatch, "OPEN")
	failed := run("2026-12-03", "FAILED", t0.Add(48*time.Hour))
	discrepancy(failed, AmountMismatch, "OPEN")

	h, err = NewStore(db).Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.LastSuccessAt == nil || !h.LastSuccessAt.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("last success %v, want %v", h.LastSuccessAt, t0.Add(24*time.Hour))
	}
	if want := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC); h.LastPeriod == nil || !h.LastPeriod.Equal(want) {
		t.Errorf("last period %v, want %v", h.LastPeriod, want)
	}
	for k, want := range map[Kind]int64{MissingInLedger: 2, FXMismatch: 1, AmountMismatch: 0} {
		if got := h.OpenDiscrepancies[k]; got != want {
			t.Errorf("open %s: %d, want %d", k, got, want)
		}
	}

	// The collector reports the same figures at scrape time.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(db))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetGauge().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"payops_recon_last_success_timestamp_seconds":        float64(t0.Add(24 * time.Hour).Unix()),
		"payops_recon_last_success_period_timestamp_seconds": 1796169600, // 2026-12-02T00:00:00Z
		"payops_recon_open_discrepancies/MISSING_IN_LEDGER":  2,
		"payops_recon_open_discrepancies/FX_MISMATCH":        1,
		"payops_recon_open_discrepancies/AMOUNT_MISMATCH":    0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (reported %v), want %v", name, v, ok, want)
		}
	}
}
