// Package browsertest starts a headless Chromium for the page tests and
// hands them a chromedp context to drive it. It is test support: only
// _test.go files import it (internal/archtest checks that).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser
// (`make test` installs it first, with `scripts/services.sh browser`).
const ChromiumPath = "/usr/bin/chromium"

// EnsureChromium installs Debian's chromium package when it is missing.
// The page tests need it, so a failed install fails the test.
func EnsureChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err == nil {
		return
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s is missing and installing it needs root: run apt-get install -y chromium", ChromiumPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install -y chromium: %v\n%s", err, tail(out, 2000))
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("chromium installed but %s is missing: %v", ChromiumPath, err)
	}
}

// New starts a headless Chromium with a fresh profile under t.TempDir()
// and returns a chromedp context on its first tab, and the browser's
// output for failure messages. Everything it does ends after timeout:
// give it minutes, since a loaded machine starts a browser slowly; no
// test should time anything with it. extra adds flags, such as
// chromedp.ProxyServer. The browser is closed, its processes killed and
// its profile removed when the test ends.
func New(t testing.TB, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (context.Context, *Output) {
	t.Helper()
	EnsureChromium(t)
	profile := filepath.Join(t.TempDir(), "chromium-profile")
	out := &Output{}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
		// Its own process group, so that the cleanup stops its renderer
		// and helper processes too, before the profile is removed; and
		// killed with the test binary, as chromedp does by default.
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	}, extra...)

	deadline, cancelDeadline := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		var proc *os.Process
		if c := chromedp.FromContext(ctx); c != nil && c.Browser != nil {
			proc = c.Browser.Process()
		}
		_ = chromedp.Cancel(ctx) // closes the browser, within the deadline
		cancelCtx()
		cancelAlloc() // waits for the browser process to exit
		cancelDeadline()
		if proc != nil {
			_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
		}
		removeAll(t, profile)
	})
	// Start the browser now, so that a browser that cannot start fails
	// here with its output, and listeners attach to a running tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v\nchromium output:\n%s", err, out)
	}
	return ctx, out
}

// removeAll removes dir, retrying while processes that were just killed
// may still be leaving it.
func removeAll(t testing.TB, dir string) {
	t.Helper()
	var err error
	for range 100 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("remove %s: %v", dir, err)
}

// Output keeps the end of what the browser writes, for failure messages.
// It is safe for concurrent use: the browser writes while a test reads.
type Output struct {
	mu  sync.Mutex
	buf []byte
}

const keep = 64 << 10

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if len(o.buf) > keep {
		o.buf = append([]byte(nil), o.buf[len(o.buf)-keep:]...)
	}
	return len(p), nil
}

// String returns the last 3000 bytes the browser wrote.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(tail(o.buf, 3000))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
