package recon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payops/payops/internal/sftppull"
	"github.com/payops/payops/internal/sftppull/sftptest"
)

func TestPullSFTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, dir := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	remote := filepath.Join(dir, "remote", "v1", "settlements")
	write(t, remote, buildFiles(lg, svc.cal, nil, nil), fileOpts{})

	srv := sftptest.Start(t, "payops", "s3cret")
	cfg := sftppull.Config{Addr: srv.Addr, User: "payops", Password: "s3cret", RemoteDir: remote,
		KnownHostsFile: sftptest.KnownHosts(t, srv.Addr, srv.HostKey.PublicKey()), Timeout: 2 * time.Minute}
	if strings.Contains(cfg.String(), "s3cret") {
		t.Errorf("String shows the password: %s", cfg)
	}

	res, err := svc.PullSFTP(ctx, cfg)
	if err != nil || res.Seen != 3 || len(res.Ingested) != 3 {
		t.Fatalf("first pull: %+v %v", res, err)
	}
	for _, f := range res.Ingested {
		if f.Origin != OriginSFTP || f.Status != FileIngested || f.CustomerID != testCustomer || f.ReportDate.IsZero() ||
			!strings.HasPrefix(f.SourcePath, "sftp://"+srv.Addr+"/") {
			t.Errorf("pulled file %+v", f)
		}
		if _, err := os.Stat(f.ArchivePath); err != nil {
			t.Errorf("not archived: %v", err)
		}
	}
	again, err := svc.PullSFTP(ctx, cfg)
	if err != nil || again.Unchanged != 3 || len(again.Ingested) != 0 {
		t.Fatalf("second pull: %+v %v", again, err)
	}
	if r, err := svc.Run(ctx, RunRequest{Date: thu}, "test"); err != nil || len(r.Inputs) != 1 {
		t.Fatalf("run over pulled files: %+v %v", r, err)
	}

	// The nightly task pulls too, when SFTP is configured.
	late := "transactionType,transactionId,transactionAmountValue,transactionCurrency\nCAPTURE,late,1.00,USD\n<END>\n"
	if err := os.WriteFile(filepath.Join(remote, testCustomer, "20240307", "transactionItems_20240307_001.csv"), []byte(late), 0o644); err != nil {
		t.Fatal(err)
	}
	svc.cfg.SFTP = &cfg
	nightly, err := svc.Nightly(ctx, fri)
	if err != nil || len(nightly.Pulled.Ingested) != 1 || nightly.Pulled.Unchanged != 3 || len(nightly.Runs) != 2 {
		t.Fatalf("nightly with sftp: pulled %+v, runs %d, %v", nightly.Pulled, len(nightly.Runs), err)
	}

	// Host-key checking: a server whose key is not the listed one is refused.
	bad := cfg
	bad.KnownHostsFile = sftptest.KnownHosts(t, srv.Addr, sftptest.NewSigner(t).PublicKey())
	if _, err := svc.PullSFTP(ctx, bad); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("unknown host key: %v", err)
	}
	wrong := cfg
	wrong.Password = "nope"
	if _, err := svc.PullSFTP(ctx, wrong); err == nil || strings.Contains(err.Error(), "nope") {
		t.Errorf("wrong password: %v", err)
	}
	var inv *InvalidError
	if _, err := svc.PullSFTP(ctx, sftppull.Config{Addr: srv.Addr, User: "payops"}); !errors.As(err, &inv) {
		t.Errorf("no known_hosts file: %v", err)
	}
}
