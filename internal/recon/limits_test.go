package recon

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestOversizedFilesAreCleanRefusals: a file beyond report.Limits is
// recorded FAILED with the reason, nothing of it is staged, and the error is
// the *ParseError the API answers 422 with.
func TestOversizedFilesAreCleanRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, dir := newTestService(t)
	svc.cfg.TmpDir = filepath.Join(dir, "tmp")
	tmp, err := svc.UseTempDir("test")
	if err != nil {
		t.Fatal(err)
	}

	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("xl/sharedStrings.xml")
	_, _ = w.Write(bytes.Repeat([]byte("A"), 64<<20))
	_ = zw.Close()

	good := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,c1,1.00,USD\n"
	cases := map[string]struct {
		body []byte
		want string
	}{
		"transactionItems_20240307_000.xlsx": {bomb.Bytes(), "packs"},
		"transactionItems_20240307_001.xlsx": {[]byte(good + "<END>\n"), "not an .xlsx workbook"},
		"transactionItems_20240307_002.csv":  {[]byte(good + "CAPTURE,\"" + strings.Repeat("x", 2<<20) + "\",1.00,USD\n<END>\n"), "line 3: a record longer than 1 MiB"},
	}
	for name, c := range cases {
		f, err := svc.Ingest(ctx, name, bytes.NewReader(c.body))
		var pe *ParseError
		if !errors.As(err, &pe) || f.Status != FileFailed || !strings.Contains(err.Error(), c.want) || !strings.Contains(f.Error, c.want) {
			t.Errorf("%s: %+v %v, want a FAILED file saying %q", name, f, err, c.want)
			continue
		}
		var staged int
		if err := db.GetContext(ctx, &staged, `SELECT count(*) FROM report_lines WHERE file_id = $1`, f.ID); err != nil || staged != 0 {
			t.Errorf("%s: staged %d lines (%v)", name, staged, err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 1 || left[0].Name() != ".lock" {
		t.Errorf("temporary directory holds %v", left)
	}
}

// TestTempDirsOfEndedProcessesAreRemoved: what a killed process left in its
// private directory goes at the next start; a live process's directory
// (its lock held) and anything not ours stay.
func TestTempDirsOfEndedProcessesAreRemoved(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	live := NewService(nil, Config{TmpDir: root}, log)
	liveDir, err := live.UseTempDir("api")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(liveDir, "payops-report-1"), []byte("in use"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A process that died mid-parse: its directory, with a spilled entry,
	// and its lock released by the kernel.
	dead := filepath.Join(root, "payops-worker-123")
	if err := os.MkdirAll(dead, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{".lock", "excelize-1"} {
		if err := os.WriteFile(filepath.Join(dead, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(root, "someone-elses")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}

	next := NewService(nil, Config{TmpDir: root}, log)
	nextDir, err := next.UseTempDir("worker")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead process's directory is still there (%v)", err)
	}
	for _, p := range []string{filepath.Join(liveDir, "payops-report-1"), other, nextDir} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if nextDir == liveDir || next.TempDir() != nextDir {
		t.Errorf("directories %s and %s", liveDir, nextDir)
	}
}

// TestTempDirsClaimedTogether: processes that start together find the same
// stale directories; each starts, and every stale directory goes (before
// the fix, one removing while another locked made "directory not empty").
func TestTempDirsClaimedTogether(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i := range 20 {
		dead := filepath.Join(root, fmt.Sprintf("payops-worker-%d", i))
		if err := os.MkdirAll(dead, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{".lock", "excelize-1", "excelize-2"} {
			if err := os.WriteFile(filepath.Join(dead, n), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	const n = 8
	var wg sync.WaitGroup
	dirs := make([]string, n)
	locks := make([]*os.File, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], locks[i], errs[i] = claimTempDir(root, "api")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		defer locks[i].Close()
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != n {
		t.Fatalf("left in the root: %v; want only the %d live directories", left, n)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, ".lock")); err != nil {
			t.Errorf("live directory %s: %v", d, err)
		}
	}
}
