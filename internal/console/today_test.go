package console

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/payops/payops/internal/auth"
	"github.com/payops/payops/internal/payments"
)

// TestToday: the day's figures, each linking to the list behind it, and
// the list it links to holds exactly what the number counted.
func TestToday(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.user(t, "viewer@example.com", auth.RoleViewer)
	e.payCreate(t, payOrder{Order: "TODAY-1", Minor: 1000})
	e.payCreate(t, payOrder{Order: "TODAY-2", Minor: 2000})
	declined, err := e.pay.Create(context.Background(), payOrder{Order: "TODAY-3", Minor: 3000, Card: "4000000000000002"}.request())
	if err != nil || declined.Status != payments.StatusFailed {
		t.Fatalf("declined payment: %v %s", err, declined.Status)
	}
	c := e.client(t)
	e.login(t, c, viewer)

	resp, body := e.get(t, c, "/console/today")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("today: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`href="/console/payments?created_within=24h&amp;status=AUTHORIZED">2</a>`,
		`href="/console/payments?created_within=24h&amp;status=FAILED">1</a>`,
		`href="/console/payments?created_within=24h&amp;status=CAPTURED">0</a>`,
		`href="/console/payments?expiring_within=24h">0</a>`,
		`No nightly run yet.`,
		`Nothing open`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("today lacks %s", want)
		}
	}
	// Every link opens a list the console accepts (no 422 for a parameter
	// the list does not know).
	for _, link := range regexp.MustCompile(`href="(/console/(?:payments|disputes|webhooks|recon)[^"]*)"`).FindAllStringSubmatch(body, -1) {
		href := strings.ReplaceAll(link[1], "&amp;", "&")
		if resp, page := e.get(t, c, href); resp.StatusCode != http.StatusOK {
			t.Errorf("Today links %s, which answers %d:\n%.400s", href, resp.StatusCode, page)
		}
	}
	// The number is the list: the linked list holds the two authorized.
	_, list := e.get(t, c, "/console/payments?created_within=24h&status=AUTHORIZED")
	if !strings.Contains(list, "TODAY-1") || !strings.Contains(list, "TODAY-2") || strings.Contains(list, "TODAY-3") {
		t.Fatalf("the linked list does not hold what the number counted:\n%s", list)
	}
}

// TestTodayInBrowser: the page as people see it, at 1280×800 and on a
// 390-px-wide phone, passes the accessibility check.
func TestTodayInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fin := e.user(t, "fin@example.com", auth.RoleFinance)
	e.payCreate(t, payOrder{Order: "TODAY-B", Minor: 1234, CCY: "JPY"})
	ctx := e.browser(t)
	e.browserLogin(t, ctx, fin)
	run(t, ctx, "today", chromedp.Navigate(e.srv.URL+"/console/today"), chromedp.WaitVisible(chromedp.ID("t-new")))
	checkAccessibility(t, ctx, "today")
	screenshot(t, ctx, "today")
	run(t, ctx, "narrow", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("t-new")))
	if fits := read(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= 390`)); !fits {
		t.Fatal("at 390 px the Today page scrolls sideways")
	}
	checkAccessibility(t, ctx, "today at 390 px")
	screenshot(t, ctx, "today-390")
}
