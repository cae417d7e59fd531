package users

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/payops/payops/internal/postgres"
)

// SetTimeZone sets the IANA time zone (such as "Europe/Paris") the console
// shows userID's times in. It is the user's own setting, so it is not
// audited and ends no session.
func (s *Service) SetTimeZone(ctx context.Context, userID, tz string) (User, error) {
	if err := checkTimeZone(tz); err != nil {
		return User{}, err
	}
	r, err := store{s.db}.setTimeZone(ctx, userID, tz)
	return r.user(), err
}

// checkTimeZone accepts a zone name time.LoadLocation finds in the time
// zone database. "" and "Local" load too but name no zone: they mean UTC
// and whatever zone the server happens to run in.
func checkTimeZone(tz string) error {
	if tz == "" || tz == "Local" || len(tz) > 64 {
		return &InvalidError{Field: "time_zone", Reason: "must be an IANA time zone name such as Europe/Paris"}
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return &InvalidError{Field: "time_zone", Reason: fmt.Sprintf("unknown time zone %q", tz)}
	}
	return nil
}

// SaveView saves query as userID's view called name of page, replacing the
// query of a view of that page already called so (names are trimmed of
// surrounding spaces). The query is kept as given once it parses as a URL
// query string. A user has at most MaxViewsPerPage views per page; one more
// is a *ConflictError.
func (s *Service) SaveView(ctx context.Context, userID, page, name, query string) (View, error) {
	name = strings.TrimSpace(name)
	if err := checkView(page, name, query); err != nil {
		return View{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return View{}, fmt.Errorf("view id: %w", err)
	}
	var r viewRow
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		st := store{tx}
		// The user's row lock makes the count and the insert one step: two
		// saves at once cannot both see 49 and leave 51.
		if err := st.lockUser(ctx, userID); err != nil {
			return err
		}
		n, err := st.countOtherViews(ctx, userID, page, name)
		if err != nil {
			return err
		}
		if n >= MaxViewsPerPage {
			return &ConflictError{Rule: fmt.Sprintf("at most %d saved views per page: delete one first", MaxViewsPerPage)}
		}
		r, err = st.upsertView(ctx, viewRow{ID: id.String(), UserID: userID, Page: page, Name: name, Query: query,
			CreatedAt: s.cfg.Now().UTC()})
		return err
	})
	if err != nil {
		return View{}, err
	}
	return r.view(), nil
}

// checkView checks a view's page key, name and query against the bounds of
// console_saved_views, and that the query parses.
func checkView(page, name, query string) error {
	if err := checkPage(page); err != nil {
		return err
	}
	switch {
	case name == "":
		return &InvalidError{Field: "name", Reason: "must not be empty"}
	case !printable(name):
		return &InvalidError{Field: "name", Reason: "must be text without control characters"}
	case utf8.RuneCountInString(name) > MaxViewName:
		return &InvalidError{Field: "name", Reason: fmt.Sprintf("must be at most %d characters", MaxViewName)}
	case len(query) > MaxViewQuery:
		return &InvalidError{Field: "query", Reason: fmt.Sprintf("must be at most %d bytes", MaxViewQuery)}
	case !printable(query):
		return &InvalidError{Field: "query", Reason: "must be text without control characters"}
	}
	if _, err := url.ParseQuery(query); err != nil {
		return &InvalidError{Field: "query", Reason: "must be a URL query string (name=value&…)"}
	}
	return nil
}

// checkPage accepts a console page key: 1 to 32 lowercase letters, digits
// and hyphens. The console names its pages; anything else is a mistake.
func checkPage(page string) error {
	ok := page != "" && len(page) <= 32
	for _, c := range page {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return &InvalidError{Field: "page", Reason: "must be a console page key such as payments"}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters
// (PostgreSQL refuses NUL and invalid UTF-8 in text; the rest has no place
// in a name or a query string).
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// ListViews returns userID's saved views of page, by name.
func (s *Service) ListViews(ctx context.Context, userID, page string) ([]View, error) {
	if err := checkPage(page); err != nil {
		return nil, err
	}
	rows, err := store{s.db}.listViews(ctx, userID, page)
	if err != nil {
		return nil, err
	}
	out := make([]View, len(rows))
	for i, r := range rows {
		out[i] = r.view()
	}
	return out, nil
}

// DeleteView deletes userID's saved view viewID. A view that does not
// exist or is another user's is ErrNotFound, and stays.
func (s *Service) DeleteView(ctx context.Context, userID, viewID string) error {
	found, err := store{s.db}.deleteView(ctx, userID, viewID)
	if err == nil && !found {
		return ErrNotFound
	}
	return err
}
