// Package sftppull walks a remote directory over SFTP for the file
// intakes that fetch from a provider's server: APO's reports
// (internal/recon) and banks' statements (internal/bank). It connects with
// a password, always checks the server's host key, and hands each regular
// file to the caller, who decides whether it is new and ingests it.
package sftppull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Config says where an SFTP server is and how to trust it. Its String
// method never shows the password.
type Config struct {
	// Addr is host:port, e.g. "isftp.alipay.com:22". Required.
	Addr string
	// User and Password are the account the provider issues. Required.
	User, Password string
	// KnownHostsFile holds the server's host key in OpenSSH known_hosts
	// format. Required: a server whose key is not listed there is refused,
	// so a man in the middle cannot feed us files.
	KnownHostsFile string
	// RemoteDir is the root walked. Callers set their default.
	RemoteDir string
	// Timeout bounds the TCP connect and SSH handshake. Default 30 s.
	Timeout time.Duration
}

// String describes the configuration without its password.
func (c Config) String() string {
	return fmt.Sprintf("sftp://%s@%s%s", c.User, c.Addr, c.RemoteDir)
}

// GoString is String, so %#v cannot print the password either.
func (c Config) GoString() string { return c.String() }

// ErrIncomplete is a configuration without an address, a user or a
// known_hosts file.
var ErrIncomplete = errors.New("sftp: address, user and known_hosts file are required")

// File is a regular file found under the remote directory.
type File struct {
	Path    string // remote, absolute
	Rel     string // under RemoteDir, with forward slashes
	Source  string // "sftp://<addr><path>": the file's identity across pulls
	Size    int64
	ModTime time.Time // UTC, truncated to microseconds (what PostgreSQL keeps)
	client  *sftp.Client
}

// Open opens the file for reading.
func (f File) Open() (io.ReadCloser, error) { return f.client.Open(f.Path) }

// Walk connects to the server and calls visit with each regular file under
// cfg.RemoteDir, skipping hidden files and directories (a leading '.':
// transfers in progress). An error visit returns is collected and the walk
// goes on; Walk returns them joined with those of the walk itself.
// Cancelling ctx closes the connection, ending any transfer.
func Walk(ctx context.Context, cfg Config, visit func(context.Context, File) error) error {
	if cfg.Addr == "" || cfg.User == "" || cfg.KnownHostsFile == "" {
		return ErrIncomplete
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hostKeys, err := knownhosts.New(cfg.KnownHostsFile)
	if err != nil {
		return fmt.Errorf("sftp known hosts: %w", err)
	}
	conn, err := (&net.Dialer{Timeout: cfg.Timeout}).DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("sftp %s: %w", cfg.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout)) // the handshake only
	sc, chans, reqs, err := ssh.NewClientConn(conn, cfg.Addr, &ssh.ClientConfig{
		User: cfg.User, Auth: []ssh.AuthMethod{ssh.Password(cfg.Password)},
		HostKeyCallback: hostKeys, Timeout: cfg.Timeout,
	})
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("sftp %s: %w", cfg.Addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()
	fs, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("sftp %s: %w", cfg.Addr, err)
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
		f := File{Path: p, Rel: strings.TrimPrefix(p, root+"/"), Source: "sftp://" + cfg.Addr + p, Size: info.Size(),
			ModTime: info.ModTime().UTC().Truncate(time.Microsecond), client: fs}
		if err := visit(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
