package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/payops/payops/internal/auth"
)

// TestSavedViews: a user keeps the filters of the payments list under a
// name, sees them as a link (without a page cursor), and only their own;
// deleting one removes it.
func TestSavedViews(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	other := e.user(t, "other@example.com", auth.RoleFinance)
	c := e.client(t)
	e.login(t, c, viewer)

	resp, body := e.get(t, c, "/console/payments?status=FAILED&currency=EUR")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="save-view"`) {
		t.Fatalf("filtered list offers no save form: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = e.post(t, c, "/console/views", url.Values{"page": {"payments"}, "name": {"Morning failures"},
		"query": {"status=FAILED&currency=EUR&cursor=abc"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/payments?currency=EUR&status=FAILED" {
		t.Fatalf("save: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = e.get(t, c, "/console/payments")
	if !strings.Contains(body, `href="/console/payments?currency=EUR&amp;status=FAILED">Morning failures</a>`) {
		t.Fatalf("the saved view is not listed as a link:\n%s", body)
	}
	if resp, _ := e.post(t, c, "/console/views", url.Values{"page": {"payments"}, "name": {""}, "query": {"a=b"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a view without a name: %d, want 422", resp.StatusCode)
	}

	c2 := e.client(t)
	e.login(t, c2, other)
	if _, body := e.get(t, c2, "/console/payments"); strings.Contains(body, "Morning failures") {
		t.Fatal("another user sees the view")
	}
	id := regexp.MustCompile(`/console/views/([0-9a-f-]+)/delete`).FindStringSubmatch(body)
	if id == nil {
		t.Fatal("no delete form for the view")
	}
	if resp, _ := e.post(t, c2, "/console/views/"+id[1]+"/delete", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another user deleting the view: %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.post(t, c, "/console/views/"+id[1]+"/delete", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, body := e.get(t, c, "/console/payments"); strings.Contains(body, "Morning failures") {
		t.Fatal("the deleted view is still listed")
	}
}
