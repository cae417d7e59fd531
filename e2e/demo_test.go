package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestDemoDay runs `make demo`'s driver against a stack and checks that its
// summary matches what the API reports and that the workbook opens.
func TestDemoDay(t *testing.T) {
	t.Parallel()
	// Time scale 0.1: the 3DS challenge stays open 84 s, long enough for the
	// demo's buyers on a loaded machine.
	s := StartStack(t, 0.1)
	keyFile := filepath.Join(s.dir, "admin.key")
	if err := os.WriteFile(keyFile, []byte(s.AdminKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exports := filepath.Join(s.dir, "demo-exports")
	cmd := exec.Command(filepath.Join(binDir, "demo"), "--api", s.API, "--sandbox", s.Sandbox, "--key-file", keyFile,
		"--payments", "60", "--exports", exports)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errb.String())
	}
	summary := out.String()
	// The summary's counts by status equal the API's.
	re := regexp.MustCompile(`(?m)^  (AUTHORIZED|CAPTURED|FAILED|CANCELLED|REQUIRES_ACTION|PROCESSING|EXPIRED)\s+(\d+)$`)
	matches := re.FindAllStringSubmatch(summary, -1)
	if len(matches) == 0 {
		t.Fatalf("no status counts in the summary:\n%s", summary)
	}
	total := 0
	for _, m := range matches {
		n, _ := strconv.Atoi(m[2])
		total += n
		var page struct {
			Items []payment `json:"items"`
		}
		s.Call("GET", "/v1/payments?limit=200&status="+m[1], nil, &page)
		if len(page.Items) != n {
			t.Errorf("summary says %d %s, the API lists %d", n, m[1], len(page.Items))
		}
	}
	if total < 50 {
		t.Errorf("only %d payments in the summary for 60 attempted", total)
	}
	wb := regexp.MustCompile(`Workbook: (\S+)`).FindStringSubmatch(summary)
	if wb == nil {
		t.Fatalf("no workbook in the summary:\n%s", summary)
	}
	f, err := excelize.OpenFile(wb[1])
	if err != nil {
		t.Fatalf("workbook does not open: %v", err)
	}
	defer f.Close()
	if !strings.EqualFold(f.GetSheetList()[0], "Summary") {
		t.Fatalf("sheets %v, want Summary first", f.GetSheetList())
	}
	for _, pan := range []string{"4111111111111111", "5555555555554444", "378282246310005", "4000000000003220"} {
		for _, name := range []string{"api", "worker", "apo-sandbox"} {
			if strings.Contains(s.Logs(name), pan) {
				t.Errorf("%s log contains a card number", name)
			}
		}
		if strings.Contains(summary, pan) {
			t.Errorf("demo output contains a card number")
		}
	}
}
