// Package e2e starts the real binaries (cmd/apo-sandbox, cmd/api,
// cmd/worker) as processes on free loopback ports and drives them over HTTP
// only, as an operator's tooling would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payops/payops/internal/postgres/pgtest"
)

var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	// These tests mostly wait on processes (about 1.2 of 2 cores busy), so
	// more of them run at once than the default of one per CPU.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "4")
	}
	dir, err := os.MkdirTemp("", "payops-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + "/"}
	// Tests run the binaries with the race detector; benchmarks measure
	// them as they ship.
	if flag.Lookup("test.bench").Value.String() == "" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/api", "../cmd/worker", "../cmd/apo-sandbox", "../cmd/demo")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// Stack is sandbox + api + worker (+ a private Redis) for one test.
type Stack struct {
	t           testing.TB
	dir         string
	API         string // http://127.0.0.1:port
	Sandbox     string
	AdminKey    string
	env         []string
	procs       map[string]*proc
	RedisAddr   string
	redis       *exec.Cmd
	DatabaseURL string
}

// Ports for the stacks' processes come from below Linux's ephemeral range
// (32768-60999), each handed out once per test binary. A port the kernel
// picked (":0") and we closed again can be picked again at once, for
// another stack's listener or a client connection's source port, and a
// process that then fails to bind leaves its address answered by someone
// else's: an api once talked to another stack's sandbox.
var ports struct {
	sync.Mutex
	next int
}

const portsFrom, portsTo = 20000, 32000

func freePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.next == 0 {
		ports.next = portsFrom + rand.IntN(portsTo-portsFrom) // apart from an earlier run's lingering sockets
	}
	for range portsTo - portsFrom {
		p := ports.next
		if ports.next++; ports.next == portsTo {
			ports.next = portsFrom
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatalf("no free port in %d-%d", portsFrom, portsTo)
	return 0
}

// StartStack boots everything against a fresh database and waits until the
// API is ready. timeScale speeds up the sandbox's delays and schedules.
func StartStack(t testing.TB, timeScale float64) *Stack {
	t.Helper()
	return startStack(t, timeScale, true, "")
}

// startStack boots a stack, with or without its worker, against dbURL or,
// when it is empty, a fresh database on the shared server.
func startStack(t testing.TB, timeScale float64, worker bool, dbURL string) *Stack {
	t.Helper()
	s := &Stack{t: t, dir: t.TempDir(), procs: map[string]*proc{}}
	redisPort := freePort(t)
	s.RedisAddr = fmt.Sprintf("127.0.0.1:%d", redisPort)
	s.redis = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", fmt.Sprint(redisPort), "--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.redis.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = s.redis.Process.Kill(); _ = s.redis.Wait() })

	apiPort, sbPort, metricsPort := freePort(t), freePort(t), freePort(t)
	s.API = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	s.Sandbox = fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	keys := filepath.Join(s.dir, "keys")
	s.DatabaseURL = dbURL
	if dbURL == "" {
		s.DatabaseURL = pgtest.NewURL(t)
	}
	s.env = append(os.Environ(),
		"DATABASE_URL="+s.DatabaseURL,
		"REDIS_ADDR="+s.RedisAddr,
		"PAYOPS_HTTP_ADDR="+strings.TrimPrefix(s.API, "http://"),
		"PAYOPS_PUBLIC_URL="+s.API,
		"PAYOPS_WORKER_METRICS_ADDR="+fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"APO_BASE_URL="+s.Sandbox,
		"APO_PRIVATE_KEY_FILE="+filepath.Join(keys, "merchant_private.pem"),
		"APO_PUBLIC_KEY_FILE="+filepath.Join(keys, "apo_public.pem"),
		"RECON_REPORTS_DIR="+filepath.Join(s.dir, "reports"),
		"RECON_EXPORT_DIR="+filepath.Join(s.dir, "exports"),
		"RECON_ARCHIVE_DIR="+filepath.Join(s.dir, "archive"),
		"APO_TIMEOUT=3s", "APO_INQUIRY_TIMEOUT=2s",
		// Several stacks share the machine's PostgreSQL (100 connections).
		"PAYOPS_DB_MAX_CONNS=8",
	)
	s.Start("apo-sandbox", "--addr", strings.TrimPrefix(s.Sandbox, "http://"), "--keys-dir", keys,
		"--time-scale", fmt.Sprint(timeScale), "--reports-dir", filepath.Join(s.dir, "reports"),
		"--dispute-notify-url", s.API+"/webhooks/apo", "--seed", "7")
	s.WaitHTTP(s.Sandbox+"/sandbox/state", 200)
	s.Run("api", "migrate")
	s.AdminKey = strings.TrimSpace(s.Run("api", "keys", "create", "--name", "e2e-admin", "--role", "admin"))
	s.Start("api", "serve")
	if worker {
		s.Start("worker")
	}
	s.WaitHTTP(s.API+"/readyz", 200)
	if worker {
		// The stack is ready when the worker is: it applies notifications.
		s.WaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", metricsPort), 200)
	}
	// An address answered is not proof that our process answered it.
	for name, p := range s.procs {
		if !running(p.cmd.Process.Pid) {
			t.Fatalf("%s exited during start-up:\n%s", name, tail([]byte(s.Logs(name)), 2000))
		}
	}
	return s
}

// running reports whether pid is a live process (not exited, not a zombie
// waiting to be reaped).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// Start runs a binary in the background; its output goes to a log file
// that is printed when the test fails.
func (s *Stack) Start(name string, args ...string) {
	s.t.Helper()
	s.StartAs(name, name, nil, args...)
}

// StartAs runs binary bin as process name (its log file and Kill9 handle),
// with extra environment variables on top of the stack's.
func (s *Stack) StartAs(name, bin string, extraEnv []string, args ...string) {
	s.t.Helper()
	logPath := filepath.Join(s.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = append(slices.Clone(s.env), extraEnv...), f, f
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath}
	s.procs[name] = p
	s.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		f.Close()
		if s.t.Failed() {
			b, _ := os.ReadFile(logPath)
			s.t.Logf("---- %s log (tail) ----\n%s", name, tail(b, 4000))
		}
	})
}

// Kill9 kills a process without letting it clean up.
func (s *Stack) Kill9(name string) {
	s.t.Helper()
	p := s.procs[name]
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
}

// Run runs a binary to completion and returns the last line of its stdout.
func (s *Stack) Run(name string, args ...string) string {
	s.t.Helper()
	// Commands log JSON lines to stdout too; the result is the last line.
	lines := strings.Split(strings.TrimSpace(s.RunOutput(name, args...)), "\n")
	return lines[len(lines)-1]
}

// RunOutput runs a binary to completion and returns all of its stdout.
func (s *Stack) RunOutput(name string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("%s %v: %v\n%s%s", name, args, err, out.String(), errb.String())
	}
	return out.String()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WaitHTTP polls url until it answers want.
func (s *Stack) WaitHTTP(url string, want int) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not answer %d in 2m (last: %v)", url, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Call sends a JSON request with the admin key (or key, when given) and
// decodes a JSON answer into out when out is not nil.
func (s *Stack) Call(method, path string, body any, out any, hdr ...string) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	base := s.API
	if strings.HasPrefix(path, "/sandbox/") {
		base = s.Sandbox
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, tail(b, 300), err)
		}
	}
	return resp.StatusCode
}

// Logs returns everything a process wrote so far.
func (s *Stack) Logs(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
	return string(b)
}

// lines counts log lines containing substr.
func lines(log, substr string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	return n
}

func TestStackBoots(t *testing.T) {
	t.Parallel()
	s := StartStack(t, 0.001)
	var keys struct {
		Items []struct {
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"items"`
	}
	if code := s.Call("GET", "/v1/api-keys", nil, &keys); code != 200 || len(keys.Items) != 1 || keys.Items[0].Role != "admin" {
		t.Fatalf("api keys: %d %+v", code, keys)
	}
	if code := s.Call("GET", "/v1/api-keys", nil, nil, "Authorization", "Bearer pk_nope"); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	// The stack waits for the api; the worker may still be starting.
	waitFor(t, 2*time.Minute, "the worker to log that it started", func() (bool, string) {
		return lines(s.Logs("worker"), `"worker started"`) == 1, tail([]byte(s.Logs("worker")), 2000)
	})
}

func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }
