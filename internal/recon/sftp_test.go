package recon

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sftpServer is a loopback SSH server offering the sftp subsystem over the
// local file system, read-only, for one user and password.
type sftpServer struct {
	addr    string
	hostKey ssh.Signer
	ln      net.Listener
	wg      sync.WaitGroup
}

func startSFTP(t *testing.T, user, password string) *sftpServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PasswordCallback: func(c ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
		if c.User() == user && string(p) == password {
			return nil, nil
		}
		return nil, errors.New("denied")
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sftpServer{addr: ln.Addr().String(), hostKey: signer, ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *sftpServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range requests {
				ok := r.Type == "subsystem" && len(r.Payload) > 4 && string(r.Payload[4:]) == "sftp"
				_ = r.Reply(ok, nil)
			}
		}()
		srv, err := sftp.NewServer(ch, sftp.ReadOnly())
		if err != nil {
			_ = ch.Close()
			return
		}
		_ = srv.Serve()
		_ = srv.Close()
	}
}

// knownHosts writes a known_hosts file trusting key for addr.
func knownHosts(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullSFTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, db, dir := newTestService(t)
	lg := buildLedger([]time.Time{thu}, 4)
	seedLedger(t, db, lg)
	remote := filepath.Join(dir, "remote", "v1", "settlements")
	write(t, remote, buildFiles(lg, svc.cal, nil, nil), fileOpts{})

	srv := startSFTP(t, "payops", "s3cret")
	cfg := SFTPConfig{Addr: srv.addr, User: "payops", Password: "s3cret", RemoteDir: remote,
		KnownHostsFile: knownHosts(t, srv.addr, srv.hostKey.PublicKey()), Timeout: 2 * time.Minute}
	if strings.Contains(cfg.String(), "s3cret") {
		t.Errorf("String shows the password: %s", cfg)
	}

	res, err := svc.PullSFTP(ctx, cfg)
	if err != nil || res.Seen != 3 || len(res.Ingested) != 3 {
		t.Fatalf("first pull: %+v %v", res, err)
	}
	for _, f := range res.Ingested {
		if f.Origin != OriginSFTP || f.Status != FileIngested || f.CustomerID != testCustomer || f.ReportDate.IsZero() ||
			!strings.HasPrefix(f.SourcePath, "sftp://"+srv.addr+"/") {
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
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	bad := cfg
	bad.KnownHostsFile = knownHosts(t, srv.addr, otherSigner.PublicKey())
	if _, err := svc.PullSFTP(ctx, bad); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("unknown host key: %v", err)
	}
	wrong := cfg
	wrong.Password = "nope"
	if _, err := svc.PullSFTP(ctx, wrong); err == nil || strings.Contains(err.Error(), "nope") {
		t.Errorf("wrong password: %v", err)
	}
	var inv *InvalidError
	if _, err := svc.PullSFTP(ctx, SFTPConfig{Addr: srv.addr, User: "payops"}); !errors.As(err, &inv) {
		t.Errorf("no known_hosts file: %v", err)
	}
}
