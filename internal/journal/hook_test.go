package journal

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/payops/payops/internal/postgres/pgtest"
	"github.com/payops/payops/internal/recon"
)

// TestBuildAfterRun books a run's journals through recon's after-run hook,
// as internal/app wires it; a failing hook leaves the run succeeded, and
// executing the run again builds what the failure left out.
func TestBuildAfterRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := NewService(db, recon.NewStore(db))
	rs := recon.NewService(db, recon.Config{ReportsDir: t.TempDir(), ArchiveDir: t.TempDir(), ExportDir: t.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	fail := true
	rs.SetRunHook(func(ctx context.Context, run recon.Run) error {
		if fail {
			return errors.New("journals unavailable")
		}
		_, err := svc.BuildRun(ctx, run.ID)
		return err
	})
	var ids []int64
	for _, f := range dayFiles("20261201") {
		file, err := rs.Ingest(ctx, f.path, strings.NewReader(f.content))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, file.ID)
	}
	run, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil || run.Status != recon.RunSucceeded {
		t.Fatalf("a failing hook undid the run: %+v %v", run, err)
	}
	if js := journals(t, db); len(js) != 0 {
		t.Fatalf("journals without a hook that built them: %v", js)
	}
	fail = false
	if _, err := rs.ExecuteRun(ctx, run.ID); err != nil { // a redelivered task
		t.Fatal(err)
	}
	js := journals(t, db)
	if len(js) != 2 {
		t.Fatalf("journals after the run executed again: %v", js)
	}
	next, err := rs.Run(ctx, recon.RunRequest{FileIDs: ids}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if j := journals(t, db)["B-USD-1"]; j.RunID != next.ID || j.ID != js["B-USD-1"].ID {
		t.Errorf("the next run did not rebuild the journal in place: %+v", j)
	}
}
