package bank

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/logging/logtest"
	"github.com/payops/payops/internal/sftppull"
	"github.com/payops/payops/internal/sftppull/sftptest"
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
	if err != nil || res.Scanned.Seen != 0 {
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
	if err != nil || len(res.Scanned.Ingested) != 1 || len(res.Scanned.Refused) != 1 {
		t.Fatalf("second night: %+v, %v", res, err)
	}
	if logs.Count("bank intake") != 1 || logs.Count("bank statement refused") != 1 ||
		!strings.Contains(logs.String(), `"files_new":1`) || !strings.Contains(logs.String(), "bad.sta") {
		t.Errorf("logs:\n%s", logs.String())
	}
	res, err = e.svc.Intake(ctx, dir)
	if err != nil || len(res.Scanned.Ingested) != 0 || res.Scanned.Unchanged != 1 {
		t.Fatalf("third night: %+v, %v", res, err)
	}
}

// TestBankPullSFTP: the intake pulls statement files from the bank's SFTP
// server (host key checked) before it scans the drop directory, archives
// them, never reads an unchanged one twice, and refuses a server whose key
// is not the trusted one.
func TestBankPullSFTP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustAccount(t, "Main", sampleIBAN, sampleNumber, nil)
	remote := t.TempDir()
	if err := os.MkdirAll(filepath.Join(remote, "out", ".tmp"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"out/mt940.sta": sample(t, "mt940_two.sta"), "out/camt.xml": sample(t, "camt053_v02.xml"),
		"out/.tmp/partial.xml": []byte("<Doc")} {
		if err := os.WriteFile(filepath.Join(remote, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := sftptest.Start(t, "shop", "pw")
	cfg := sftppull.Config{Addr: srv.Addr, User: "shop", Password: "pw", RemoteDir: filepath.Join(remote, "out"),
		KnownHostsFile: sftptest.KnownHosts(t, srv.Addr, srv.HostKey.PublicKey()), Timeout: time.Minute}
	var logs logtest.Buffer
	e.svc = NewService(e.db, Config{ArchiveDir: e.archive, SFTP: &cfg}, slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx := context.Background()

	res, err := e.svc.Intake(ctx, filepath.Join(t.TempDir(), "drop"))
	if err != nil || res.Pulled.Seen != 2 || len(res.Pulled.Ingested) != 2 {
		t.Fatalf("first pull: %+v %v", res.Pulled, err)
	}
	for _, f := range res.Pulled.Ingested {
		st := f.Statements[0]
		if f.Source != SourceSFTP || st.File.Source != SourceSFTP || !strings.HasPrefix(st.File.SourcePath, "sftp://"+srv.Addr+"/") {
			t.Errorf("pulled file %+v", f)
		}
		if _, err := os.Stat(e.svc.archivePath(mustHex(t, f.SHA256), f.Name)); err != nil {
			t.Errorf("not archived: %v", err)
		}
	}
	if !strings.Contains(logs.String(), `"files_pulled":2`) {
		t.Errorf("logs: %s", logs.String())
	}
	res, err = e.svc.Intake(ctx, filepath.Join(t.TempDir(), "drop"))
	if err != nil || res.Pulled.Unchanged != 2 || len(res.Pulled.Ingested) != 0 {
		t.Fatalf("second pull: %+v %v", res.Pulled, err)
	}

	bad := cfg
	bad.KnownHostsFile = sftptest.KnownHosts(t, srv.Addr, sftptest.NewSigner(t).PublicKey())
	if _, err := e.svc.PullSFTP(ctx, bad); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("unknown host key: %v", err)
	}
	wrong := cfg
	wrong.Password = "nope"
	if _, err := e.svc.PullSFTP(ctx, wrong); err == nil || strings.Contains(err.Error(), "nope") {
		t.Errorf("wrong password: %v", err)
	}
	var inv *InvalidError
	if _, err := e.svc.PullSFTP(ctx, sftppull.Config{Addr: srv.Addr}); !errors.As(err, &inv) {
		t.Errorf("no user or known_hosts: %v", err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
