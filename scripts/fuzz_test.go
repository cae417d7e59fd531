package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo stands in for `go test -fuzz`: each call appends a line to
// $CALLS, then acts out $MODE. "race" prints what go1.26's coordinator
// prints when its deadline race fails a target (go.dev/issue/75804).
const fakeGo = `#!/usr/bin/env bash
echo call >> "$CALLS"
n=$(wc -l < "$CALLS")
race() { printf -- "--- FAIL: FuzzA (5.01s)\n$1    context deadline exceeded\nFAIL\nexit status 1\nFAIL\texample/pkg\t5.0s\n"; exit 1; }
case "$MODE" in
  pass) echo ok ;;
  race-then-pass) [ "$n" = 1 ] && race; echo ok ;;
  # The target's own log lines come first when it logged (pgtestdb does).
  race-after-log-then-pass) [ "$n" = 1 ] && race '    a_test.go:7: testdbconf: postgres://x\n'; echo ok ;;
  # A target that fails on a deadline of its own has more to say.
  own-deadline) printf -- '--- FAIL: FuzzA (5.01s)\n    context deadline exceeded\n    a_test.go:9: query: context deadline exceeded\nFAIL\n'; exit 1 ;;
  race-always) race ;;
  crasher)
    mkdir -p pkg/testdata/fuzz/FuzzA && echo 'go test fuzz v1' > pkg/testdata/fuzz/FuzzA/0123abcd
    printf -- '--- FAIL: FuzzA (0.20s)\n    --- FAIL: FuzzA (0.00s)\n        a_test.go:9: boom\n    Failing input written to testdata/fuzz/FuzzA/0123abcd\n'
    exit 1 ;;
  crasher-at-deadline)
    # A failure that names the deadline but also wrote an input is real.
    mkdir -p pkg/testdata/fuzz/FuzzA && echo 'go test fuzz v1' > pkg/testdata/fuzz/FuzzA/0123abcd
    race ;;
esac
`

// runFuzzScript runs a copy of fuzz.sh in a throwaway tree holding one fuzz
// target, with fakeGo as the go command. It returns the exit code, the
// output and how many times go was called.
func runFuzzScript(t *testing.T, mode string) (int, string, int) {
	t.Helper()
	root := t.TempDir()
	script, err := os.ReadFile("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"scripts/fuzz.sh": string(script),
		"fakego":          fakeGo,
		"pkg/a_test.go":   "package pkg\n\nimport \"testing\"\n\nfunc FuzzA(f *testing.F) {}\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	calls := filepath.Join(root, "calls")
	cmd := exec.Command("bash", filepath.Join(root, "scripts/fuzz.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GO="+filepath.Join(root, "fakego"), "MODE="+mode, "CALLS="+calls, "FUZZTIME=1s")
	out, _ := cmd.CombinedOutput()
	n := 0
	if b, err := os.ReadFile(calls); err == nil {
		n = strings.Count(string(b), "call\n")
	}
	return cmd.ProcessState.ExitCode(), string(out), n
}

func TestFuzzScriptRetriesOnlyTheCoordinatorRace(t *testing.T) {
	cases := []struct {
		mode      string
		wantRC    int
		wantCalls int
		wantOut   string
	}{
		{"pass", 0, 1, "ok    FuzzA ./pkg"},
		{"race-then-pass", 0, 2, "retry FuzzA ./pkg"},
		{"race-after-log-then-pass", 0, 2, "retry FuzzA ./pkg"},
		{"race-always", 1, 3, "fuzz: FAILED FuzzA (./pkg)"},
		{"own-deadline", 1, 1, "fuzz: FAILED FuzzA (./pkg)"},
		{"crasher", 1, 1, "failing input kept: pkg/testdata/fuzz/FuzzA/0123abcd"},
		{"crasher-at-deadline", 1, 1, "failing input kept: pkg/testdata/fuzz/FuzzA/0123abcd"},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			rc, out, calls := runFuzzScript(t, c.mode)
			if rc != c.wantRC || calls != c.wantCalls || !strings.Contains(out, c.wantOut) {
				t.Fatalf("rc %d, %d go calls, want rc %d, %d calls and %q in:\n%s", rc, calls, c.wantRC, c.wantCalls, c.wantOut, out)
			}
		})
	}
}
