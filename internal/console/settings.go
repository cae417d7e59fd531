package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/payops/payops/internal/users"
)

// settingsData is the settings page: the user's zone and own sessions.
type settingsData struct {
	Sessions []users.Session
	Current  string   // the id of the session this page was loaded with
	Zones    []string // suggestions for the zone field; any IANA name is taken
}

// commonZones are offered in the zone field; any other IANA name works too.
var commonZones = []string{"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Madrid",
	"Europe/Warsaw", "Europe/Istanbul", "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore",
	"Asia/Hong_Kong", "Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Sydney", "Pacific/Auckland",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
	"America/Mexico_City", "America/Toronto"}

// setTimeZone sets the zone the user's pages show times in.
func (c *Console) setTimeZone(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable"}
	}
	u, err := c.d.Users.SetTimeZone(r.Context(), s.User.ID, strings.TrimSpace(r.PostFormValue("time_zone")))
	if err != nil {
		return err
	}
	c.redirect(w, r, Prefix+"/settings", "Times are now shown in "+u.TimeZone+".")
	return nil
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, s *session) error {
	sessions, err := c.d.Users.ListSessions(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "settings", view{Title: "Settings", Nav: "settings", S: s,
		Data: settingsData{Sessions: sessions, Current: s.Session.ID, Zones: commonZones}})
	return nil
}

// revokeSession ends one of the user's own sessions (a browser left signed
// in elsewhere), or with "all", every other one.
func (c *Console) revokeSession(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable"}
	}
	id := r.PostFormValue("session")
	sessions, err := c.d.Users.ListSessions(r.Context(), s.User.ID)
	if err != nil {
		return err
	}
	n := 0
	for _, sess := range sessions {
		if sess.ID == s.Session.ID || (id != "all" && sess.ID != id) {
			continue
		}
		if err := c.d.Users.Revoke(r.Context(), sess.ID); err != nil {
			return err
		}
		n++
	}
	if n == 0 && id != "all" {
		return users.ErrNotFound
	}
	c.redirect(w, r, Prefix+"/settings", "Signed out "+plural(n, "other session", "other sessions")+".")
	return nil
}

// plural writes n with the noun's right form.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
