package users

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payops/payops/internal/auth"
)

// A user starts in UTC, chooses an IANA zone, and every way of reading the
// user (Get, Authenticate) carries it; the change is not audited and ends
// no session.
func TestUserTimeZone(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.create(t, "viewer@example.com", auth.RoleViewer)
	if c.User.TimeZone != "UTC" {
		t.Fatalf("new user's zone %q, want UTC", c.User.TimeZone)
	}
	tok := f.mustLogin(t, c)
	audited := len(f.audited(t, ""))
	u, err := f.svc.SetTimeZone(f.ctx, c.User.ID, "America/Argentina/Buenos_Aires")
	if err != nil || u.TimeZone != "America/Argentina/Buenos_Aires" || u.ID != c.User.ID {
		t.Fatalf("set zone: %+v, %v", u, err)
	}
	if got, _ := f.svc.Get(f.ctx, c.User.ID); got.TimeZone != u.TimeZone {
		t.Fatalf("get: zone %q, want %q", got.TimeZone, u.TimeZone)
	}
	au, _, err := f.svc.Authenticate(f.ctx, tok)
	if err != nil || au.TimeZone != u.TimeZone {
		t.Fatalf("authenticate after setting the zone: %q, %v; want %q and the session still live", au.TimeZone, err, u.TimeZone)
	}
	if n := len(f.audited(t, "")); n != audited {
		t.Errorf("audit rows %d after a time zone change, want %d", n, audited)
	}

	var inv *InvalidError
	for _, bad := range []string{"", "Local", "Mars/Olympus_Mons", "europe/nowhere", "../../etc/passwd", "/etc/localtime",
		"Europe/Paris\x00", strings.Repeat("A", 65)} {
		if _, err := f.svc.SetTimeZone(f.ctx, c.User.ID, bad); !errors.As(err, &inv) || inv.Field != "time_zone" {
			t.Errorf("zone %q: %v, want an invalid time_zone", bad, err)
		}
	}
	if got, _ := f.svc.Get(f.ctx, c.User.ID); got.TimeZone != u.TimeZone {
		t.Fatalf("a refused zone changed the stored one to %q", got.TimeZone)
	}
	_, err = f.svc.SetTimeZone(f.ctx, "0190f0c2-7a1b-7cde-8f00-112233445566", "UTC")
	wantErr(t, "unknown user", err, ErrNotFound)
	_, err = f.svc.SetTimeZone(f.ctx, "nope", "UTC")
	wantErr(t, "malformed user id", err, ErrNotFound)
}

// Views are saved per user and page, listed by name, replaced by name
// (keeping their id), and deleted only by their owner.
func TestUserSavedViews(t *testing.T) {
	f := newFixture(t, Config{})
	a := f.create(t, "a@example.com", auth.RoleViewer).User
	b := f.create(t, "b@example.com", auth.RoleViewer).User
	save := func(userID, page, name, query string) View {
		t.Helper()
		v, err := f.svc.SaveView(f.ctx, userID, page, name, query)
		if err != nil {
			t.Fatalf("save %s/%s: %v", page, name, err)
		}
		return v
	}
	first := save(a.ID, "payments", "  Yesterday's failures ", "status=FAILED&created_from=2026-03-01T00:00:00Z")
	if first.Name != "Yesterday's failures" || first.UserID != a.ID || first.Page != "payments" ||
		!first.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("saved %+v", first)
	}
	save(a.ID, "payments", "Big refunds", "kind=refund&amount_min=100000")
	save(a.ID, "payments", "all", "")
	save(a.ID, "disputes", "Open", "status=OPEN")
	save(b.ID, "payments", "Mine", "status=SUCCEEDED")
	f.clock.Advance(time.Hour)
	again := save(a.ID, "payments", "Yesterday's failures", "status=FAILED&created_from=2026-03-02T00:00:00Z")
	if again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) || again.Query == first.Query {
		t.Fatalf("saving under the same name: %+v, want the query of view %s replaced", again, first.ID)
	}

	list := func(userID, page string) string {
		t.Helper()
		vs, err := f.svc.ListViews(f.ctx, userID, page)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range vs {
			if v.UserID != userID || v.Page != page {
				t.Errorf("listed %+v for %s/%s", v, userID, page)
			}
			names = append(names, v.Name+"?"+v.Query)
		}
		return strings.Join(names, " | ")
	}
	want := "Big refunds?kind=refund&amount_min=100000 | Yesterday's failures?status=FAILED&created_from=2026-03-02T00:00:00Z | all?"
	if got := list(a.ID, "payments"); got != want {
		t.Fatalf("a's payments views\n got %s\nwant %s", got, want)
	}
	if got := list(b.ID, "payments"); got != "Mine?status=SUCCEEDED" {
		t.Fatalf("b's payments views: %s", got)
	}
	if got := list(a.ID, "recon"); got != "" {
		t.Fatalf("a page without views lists %s", got)
	}
	if got := list("nope", "payments"); got != "" {
		t.Fatalf("a malformed user id lists %s", got)
	}

	wantErr(t, "delete another user's view", f.svc.DeleteView(f.ctx, b.ID, first.ID), ErrNotFound)
	if got := list(a.ID, "payments"); got != want {
		t.Fatalf("b's delete touched a's views: %s", got)
	}
	if err := f.svc.DeleteView(f.ctx, a.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", f.svc.DeleteView(f.ctx, a.ID, first.ID), ErrNotFound)
	wantErr(t, "delete a malformed id", f.svc.DeleteView(f.ctx, a.ID, "1"), ErrNotFound)
	if got := list(a.ID, "payments"); strings.Contains(got, "Yesterday") {
		t.Fatalf("after delete: %s", got)
	}
	_, err := f.svc.SaveView(f.ctx, "0190f0c2-7a1b-7cde-8f00-112233445566", "payments", "x", "")
	wantErr(t, "save for an unknown user", err, ErrNotFound)

	// A user's views go with the user.
	if _, err := f.db.Exec(`DELETE FROM console_users WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM console_saved_views WHERE user_id = $1`, b.ID); err != nil || n != 0 {
		t.Fatalf("views of a deleted user: %d (%v)", n, err)
	}
}

func TestUserSavedViewValidates(t *testing.T) {
	f := newFixture(t, Config{})
	u := f.create(t, "a@example.com", auth.RoleViewer).User
	long := strings.Repeat("é", MaxViewName)
	if _, err := f.svc.SaveView(f.ctx, u.ID, "payments", long, "q="+strings.Repeat("x", MaxViewQuery-2)); err != nil {
		t.Fatalf("a view at both bounds: %v", err)
	}
	for _, tc := range []struct{ page, name, query, field string }{
		{"", "n", "", "page"},
		{"Payments", "n", "", "page"},
		{"pay ments", "n", "", "page"},
		{strings.Repeat("p", 33), "n", "", "page"},
		{"payments", "", "", "name"},
		{"payments", "   ", "", "name"},
		{"payments", long + "x", "", "name"},
		{"payments", "tab\there", "", "name"},
		{"payments", "nul\x00", "", "name"},
		{"payments", "bad \xff utf-8", "", "name"},
		{"payments", "n", "q=" + strings.Repeat("x", MaxViewQuery-1), "query"},
		{"payments", "n", "a=1;b=2", "query"},
		{"payments", "n", "a=%zz", "query"},
		{"payments", "n", "a=1\nb=2", "query"},
		{"payments", "n", "a=\xff", "query"},
	} {
		var inv *InvalidError
		_, err := f.svc.SaveView(f.ctx, u.ID, tc.page, tc.name, tc.query)
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("save %q %q %q: %v, want an invalid %s", tc.page, tc.name, tc.query, err, tc.field)
		}
	}
	var inv *InvalidError
	if _, err := f.svc.ListViews(f.ctx, u.ID, "Payments!"); !errors.As(err, &inv) || inv.Field != "page" {
		t.Errorf("list a malformed page: %v", err)
	}
}

// A user keeps at most MaxViewsPerPage views per page, also when saves
// race; replacing one of them is always possible.
func TestUserSavedViewLimit(t *testing.T) {
	f := newFixture(t, Config{})
	u := f.create(t, "a@example.com", auth.RoleViewer).User
	for i := range MaxViewsPerPage - 5 {
		if _, err := f.svc.SaveView(f.ctx, u.ID, "payments", fmt.Sprintf("v%02d", i), "page=1"); err != nil {
			t.Fatal(err)
		}
	}
	// Ten saves at once for the last five places.
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		saved     int
		conflicts int
		start     = make(chan struct{})
	)
	for i := range 10 {
		wg.Go(func() {
			<-start
			_, err := f.svc.SaveView(f.ctx, u.ID, "payments", fmt.Sprintf("race%d", i), "")
			var conflict *ConflictError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				saved++
			case errors.As(err, &conflict):
				conflicts++
			default:
				t.Errorf("racing save: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if saved != 5 || conflicts != 5 {
		t.Fatalf("racing saves: %d saved, %d refused; want 5 and 5", saved, conflicts)
	}
	if vs, _ := f.svc.ListViews(f.ctx, u.ID, "payments"); len(vs) != MaxViewsPerPage {
		t.Fatalf("%d views, want %d", len(vs), MaxViewsPerPage)
	}
	if _, err := f.svc.SaveView(f.ctx, u.ID, "payments", "v00", "page=2"); err != nil {
		t.Fatalf("replacing a view at the limit: %v", err)
	}
	if _, err := f.svc.SaveView(f.ctx, u.ID, "disputes", "v00", ""); err != nil {
		t.Fatalf("another page at the limit: %v", err)
	}
}
