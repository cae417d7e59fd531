// Package benchtest is support for benchmarks and memory tests: the rows
// of `make bench`'s table and the process's resident set size as Linux
// reports it.
package benchtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Row prints one line of the bench table and appends it to the file
// BENCH_OUT names (make bench's table), when set.
func Row(what, figure, target, note string) {
	line := fmt.Sprintf("%-44s %-34s %-22s %s\n", what, figure, target, note)
	fmt.Print(line)
	if out := os.Getenv("BENCH_OUT"); out != "" {
		if f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			_, _ = f.WriteString(line)
			f.Close()
		}
	}
}

// ResetPeakRSS restarts the process's peak RSS count (Linux clear_refs,
// value 5), so that PeakRSS afterwards is the measured step's, not the
// setup's.
func ResetPeakRSS(tb testing.TB) {
	tb.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Fatal(err)
	}
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM).
func PeakRSS(tb testing.TB) int64 { tb.Helper(); return status(tb, "VmHWM:") }

// RSS is the process's resident set size in bytes (VmRSS).
func RSS(tb testing.TB) int64 { tb.Helper(); return status(tb, "VmRSS:") }

func status(tb testing.TB, key string) int64 {
	tb.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/self/status", key)
	return 0
}
