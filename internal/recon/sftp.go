package recon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/payops/payops/internal/recon/report"
)

// SFTPConfig says where APO's SFTP server is and how to trust it
// (apo-reference.md §6.1). Its String method never shows the password.
type SFTPConfig struct {
	// Addr is host:port, e.g. "isftp.alipay.com:22". Required.
	Addr string
	// User and Password are the account Antom support issues. Required.
	User, Password string
	// KnownHostsFile holds the server's host key in OpenSSH known_hosts
	// format. Required: a server whose key is not listed there is refused,
	// so a man in the middle cannot feed us reports.
	KnownHostsFile string
	// RemoteDir is the root of APO's <customerId>/<yyyyMMdd>/<file> layout.
	// Default "/v1/settlements".
	RemoteDir string
	// Timeout bounds the TCP connect and SSH handshake. Default 30 s.
	Timeout time.Duration
}

// String describes the configuration without its password.
func (c SFTPConfig) String() string {
	return fmt.Sprintf("sftp://%s@%s%s", c.User, c.Addr, c.RemoteDir)
}

// GoString is String, so %#v cannot print the password either.
func (c SFTPConfig) GoString() string { return c.String() }

// PullSFTP connects to APO's SFTP server, walks RemoteDir and ingests every
// report file not read before (same remote path, size and modification
// time), as ScanDir does for a local directory: each file is archived on
// arrival, since APO deletes its copies after 7 days. A file that cannot
// be fetched is reported in the joined error and the pull goes on.
func (s *Service) PullSFTP(ctx context.Context, cfg SFTPConfig) (ScanResult, error) {
	var res ScanResult
	if cfg.Addr == "" || cfg.User == "" || cfg.KnownHostsFile == "" {
		return res, &InvalidError{Field: "sftp", Reason: "address, user and known_hosts file are required"}
	}
	if cfg.RemoteDir == "" {
		cfg.RemoteDir = "/v1/settlements"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hostKeys, err := knownhosts.New(cfg.KnownHostsFile)
	if err != nil {
		return res, fmt.Errorf("sftp known hosts: %w", err)
	}
	conn, err := (&net.Dialer{Timeout: cfg.Timeout}).DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return res, fmt.Errorf("sftp %s: %w", cfg.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout)) // the handshake only
	sc, chans, reqs, err := ssh.NewClientConn(conn, cfg.Addr, &ssh.ClientConfig{
		User: cfg.User, Auth: []ssh.AuthMethod{ssh.Password(cfg.Password)},
		HostKeyCallback: hostKeys, Timeout: cfg.Timeout,
	})
	if err != nil {
		_ = conn.Close()
		return res, fmt.Errorf("sftp %s: %w", cfg.Addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() }) // cancellation ends transfers
	defer stop()
	fs, err := sftp.NewClient(client)
	if err != nil {
		return res, fmt.Errorf("sftp %s: %w", cfg.Addr, err)
	}
	defer fs.Close()

	root := path.Clean(cfg.RemoteDir)
	var errs []error
	for w := fs.Walk(root); w.Step(); {
		if err := w.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		p, info := w.Path(), w.Stat()
		if p != root && strings.HasPrefix(info.Name(), ".") {
			if info.IsDir() {
				w.SkipDir()
			}
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if _, err := report.ParseName(info.Name()); err != nil {
			res.Ignored = append(res.Ignored, p)
			continue
		}
		res.Seen++
		source := "sftp://" + cfg.Addr + p
		mtime := info.ModTime().UTC().Truncate(time.Microsecond)
		seen, err := NewStore(s.db).SeenSource(ctx, source, info.Size(), mtime)
		if err != nil {
			return res, err
		}
		if seen {
			res.Unchanged++
			continue
		}
		f, err := s.pullOne(ctx, fs, p, strings.TrimPrefix(p, root+"/"), source, mtime)
		var pe *ParseError
		switch {
		case err == nil && f.Duplicate:
			res.Duplicates++
		case err == nil || errors.As(err, &pe):
			res.Ingested = append(res.Ingested, f)
		default:
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return res, errors.Join(errs...)
}

func (s *Service) pullOne(ctx context.Context, fs *sftp.Client, remote, rel, source string, mtime time.Time) (File, error) {
	rf, err := fs.Open(remote)
	if err != nil {
		return File{}, err
	}
	defer rf.Close()
	return s.ingest(ctx, arrival{path: rel, origin: OriginSFTP, source: source, mtime: &mtime}, rf)
}
