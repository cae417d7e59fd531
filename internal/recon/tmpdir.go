package recon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
)

// tmpPrefix names the private directories UseTempDir makes, so that a scan
// of the root never touches anything else that lives there.
const tmpPrefix = "payops-"

// trashPrefix names a stale directory on its way out (see claimTempDir);
// trashSeq with the pid makes each such name unique.
const trashPrefix = ".payops-trash-"

var trashSeq atomic.Int64

// UseTempDir gives this process a private directory under Config.TmpDir
// for its temporary files (spooled uploads, excelize's spilled worksheets)
// and removes what processes that have ended left there: a process killed
// mid-parse (by the OOM killer, say) cannot clean up, so the next start
// does. Each directory holds a lock (flock) for as long as its process
// lives, which is how a live one (another api or worker sharing the root)
// is told from a dead one. role names the process in the directory's name.
// It returns the directory.
func (s *Service) UseTempDir(role string) (string, error) {
	dir, lock, err := claimTempDir(s.cfg.TmpDir, role)
	if err != nil {
		return "", err
	}
	s.tmpDir, s.tmpLock = dir, lock
	return dir, nil
}

// TempDir is the process's private temporary directory, or "" (the
// system's) when UseTempDir was not called.
func (s *Service) TempDir() string { return s.tmpDir }

// claimTempDir makes the directory and returns it with its lock file, which
// must stay open (and so locked) for the process's life; the kernel
// releases it however the process ends.
func claimTempDir(root, role string) (string, *os.File, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, fmt.Errorf("temporary directory: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", nil, fmt.Errorf("temporary directory: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		switch {
		case !e.IsDir():
		case strings.HasPrefix(e.Name(), trashPrefix):
			// Left by a cleaner that ended mid-way: nothing uses it.
			_ = os.RemoveAll(p)
		case strings.HasPrefix(e.Name(), tmpPrefix):
			lock, err := tryLock(filepath.Join(p, ".lock"))
			if err != nil {
				continue // alive, or already taken by another cleaner
			}
			// Its process is gone. Processes starting together may find the
			// same stale directory, so it is first renamed away (only one
			// rename wins) and then removed, best effort: a leftover is
			// removed by the next start, and never stops this one.
			trash := filepath.Join(root, fmt.Sprintf("%s%d-%d", trashPrefix, os.Getpid(), trashSeq.Add(1)))
			rerr := os.Rename(p, trash)
			_ = lock.Close()
			if rerr == nil {
				_ = os.RemoveAll(trash)
			}
		}
	}
	// Made under a hidden name and renamed once locked, so that no scan
	// sees it unlocked.
	staging, err := os.MkdirTemp(root, "."+tmpPrefix+role+"-")
	if err != nil {
		return "", nil, fmt.Errorf("temporary directory: %w", err)
	}
	lock, err := tryLock(filepath.Join(staging, ".lock"))
	if err != nil {
		_ = os.RemoveAll(staging)
		return "", nil, fmt.Errorf("lock temporary directory: %w", err)
	}
	dir := filepath.Join(root, strings.TrimPrefix(filepath.Base(staging), "."))
	if err := os.Rename(staging, dir); err != nil {
		_ = lock.Close()
		_ = os.RemoveAll(staging)
		return "", nil, fmt.Errorf("temporary directory: %w", err)
	}
	return dir, lock, nil
}

// tryLock opens (creating) path and takes an exclusive flock on it without
// waiting; it fails when another open file holds it.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is in use", path)
		}
		return nil, err
	}
	return f, nil
}
