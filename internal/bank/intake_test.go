package bank

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payops/payops/internal/logging/logtest"
)

// TestBankIntake: the nightly pass creates a drop directory that is not
// there yet, ingests what arrives in it once, and logs a summary line
// naming what it did and the file it refused.
func TestBankIntake(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var logs logtest.Buffer
	e.svc = NewService(e.db, Config{ArchiveDir: e.archive}, slog.New(slog.NewJSONHandler(&logs, nil)))
	e.mustAccount(t, "Main", sampleIBAN, sampleNumber, nil)
	dir := filepath.Join(t.TempDir(), "drop", "bank")
	ctx := context.Background()

	res, err := e.svc.Intake(ctx, dir)
	if err != nil || res.Seen != 0 {
		t.Fatalf("first night: %+v, %v", res, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("drop directory not created: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mt940.sta"), sample(t, "mt940_two.sta"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.sta"), []byte(":20:X\r\n:25:nowhere\r\n-"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	res, err = e.svc.Intake(ctx, dir)
	if err != nil || len(res.Ingested) != 1 || len(res.Refused) != 1 {
		t.Fatalf("second night: %+v, %v", res, err)
	}
	if logs.Count("bank intake") != 1 || logs.Count("bank statement refused") != 1 ||
		!strings.Contains(logs.String(), `"files_new":1`) || !strings.Contains(logs.String(), "bad.sta") {
		t.Errorf("logs:\n%s", logs.String())
	}
	res, err = e.svc.Intake(ctx, dir)
	if err != nil || len(res.Ingested) != 0 || res.Unchanged != 1 {
		t.Fatalf("third night: %+v, %v", res, err)
	}
}
