package console

// This file holds what the admin pages (auditlog.go, keys.go, users.go)
// share: how their changes are run once per form token and audited, who
// the actor is, and how a refused plain form is shown again.

import (
	"bytes"
	"context"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/http"

	"github.com/pquerna/otp"

	"github.com/payops/payops/internal/audit"
	"github.com/payops/payops/internal/httpx"
	"github.com/payops/payops/internal/users"
)

// adminEntry is the audit row of a change the signed-in admin makes, as the
// API's auditEntry builds it from an API key: the console user's email is
// the actor, and no API key is involved.
func adminEntry(ctx context.Context, s *session, action, target string, input any) audit.Entry {
	return audit.Entry{Actor: s.Actor(), Role: string(s.User.Role), Action: action, Target: target, Input: input,
		Outcome: audit.OutcomeSucceeded, RemoteAddr: httpx.RemoteAddrFromContext(ctx), RequestID: httpx.RequestIDFromContext(ctx)}
}

// usersActor is the signed-in admin as users.Service names the actor of
// a change in its audit rows.
func usersActor(ctx context.Context, s *session) users.Actor {
	return users.Actor{Name: s.Actor(), Role: s.User.Role, RemoteAddr: httpx.RemoteAddrFromContext(ctx),
		RequestID: httpx.RequestIDFromContext(ctx)}
}

// adminRefusal returns the problem to show inside a plain (non-htmx) form that
// was refused for a reason the person can fix, and false for anything else
// (htmx requests, which render.go retargets to the form's error slot, and
// failures, which are shown as a page of their own). The form is then
// rendered again with what was typed and a fresh token.
func adminRefusal(r *http.Request, err error) (*problem, bool) {
	if r.Header.Get("HX-Request") == "true" {
		return nil, false
	}
	p, ok := describe(err)
	if !ok || p.Status >= 500 {
		return nil, false
	}
	return &p, true
}

// readAdminForm reads a small form; an unreadable one is a form problem.
func readAdminForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable; reload the page and try again"}
	}
	return nil
}

// shownSecret is a secret the console shows once: a generated password
// and/or a TOTP enrolment (its base32 secret for typing in, its otpauth URL
// and the same URL as a QR code, drawn here: no image service sees it).
type shownSecret struct {
	Password   string
	TOTPSecret string
	TOTPURL    string
	QR         template.URL // data:image/png;base64,…; "" when it could not be drawn
}

// showEnrolment adds e to sh.
func (sh *shownSecret) showEnrolment(e *users.Enrolment) {
	if e == nil {
		return
	}
	sh.TOTPSecret, sh.TOTPURL = e.Secret.Reveal(), e.URL.Reveal()
	sh.QR = qrCode(sh.TOTPURL)
}

// qrCode draws the otpauth URL as a PNG data URL (the page's CSP allows
// data: images and nothing from elsewhere). The text secret beside it is
// enough to enrol, so a failure to draw only leaves the image out.
func qrCode(otpauth string) template.URL {
	key, err := otp.NewKeyFromURL(otpauth)
	if err != nil {
		return ""
	}
	img, err := key.Image(220, 220)
	if err != nil {
		return ""
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
}
