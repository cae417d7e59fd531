package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// savedView is a user's named filter set for a list page, as the page
// links it.
type savedView struct {
	ID, Name, Href string
}

// viewPages are the list pages views may be saved for, and where each is.
var viewPages = map[string]string{"payments": Prefix + "/payments"}

// savedViews lists the user's views of page.
func (c *Console) savedViews(ctx context.Context, s *session, page string) ([]savedView, error) {
	vs, err := c.d.Users.ListViews(ctx, s.User.ID, page)
	if err != nil {
		return nil, err
	}
	out := make([]savedView, len(vs))
	for i, v := range vs {
		out[i] = savedView{ID: v.ID, Name: v.Name, Href: viewPages[page] + "?" + v.Query}
	}
	return out, nil
}

// saveView keeps the filters the user has set under a name (saving a name
// again replaces it), so the same filters every morning are one click.
func (c *Console) saveView(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &formError{Field: "form", Message: "unreadable"}
	}
	page := r.PostFormValue("page")
	base, ok := viewPages[page]
	if !ok {
		return &formError{Field: "page", Message: "views are kept for the payments list only"}
	}
	q, err := url.ParseQuery(r.PostFormValue("query"))
	if err != nil {
		return &formError{Field: "query", Message: "not a query string"}
	}
	q.Del("cursor") // a view is its filters, not a page of them
	v, err := c.d.Users.SaveView(r.Context(), s.User.ID, page, strings.TrimSpace(r.PostFormValue("name")), q.Encode())
	if err != nil {
		return err
	}
	c.redirect(w, r, base+"?"+v.Query, "Saved the view “"+v.Name+"”.")
	return nil
}

// deleteView removes one of the user's own views.
func (c *Console) deleteView(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.d.Users.DeleteView(r.Context(), s.User.ID, r.PathValue("id")); err != nil {
		return err
	}
	c.redirect(w, r, Prefix+"/payments", "Deleted the saved view.")
	return nil
}
