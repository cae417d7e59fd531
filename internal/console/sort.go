package console

import (
	"net/url"
)

// Sortable tables (issue 17): a column header is a link that sorts the
// list by it (sort=<column>&dir=asc|desc, the filters kept and the cursor
// dropped, so the page starts over), and the header of the current order
// carries aria-sort and an arrow. The domain knows the orders and their
// first directions; an unknown one is its *InvalidError.

// listSort is a table's order as its headers show it.
type listSort struct {
	path    string
	query   url.Values // the filters, without cursor, sort and dir
	By, Dir string     // the order shown: the URL's, else the default
	// first is each column's first direction when it is clicked (the
	// domain's DefaultDir); captions names each direction of each column.
	first    func(col string) string
	captions map[string][2]string // column → {ascending, descending}
	target   string               // the id of the element a header click swaps; "" loads the page
}

// newListSort reads the order of a list at path from its canonical query
// q (the filters, with sort and dir as the URL gave them).
func newListSort(path string, q url.Values, defaultSort string, first func(string) string,
	captions map[string][2]string, target string) listSort {
	s := listSort{path: path, query: dropParams(q, "sort", "dir", "cursor"), first: first, captions: captions,
		target: target, By: q.Get("sort"), Dir: q.Get("dir")}
	if s.By == "" {
		s.By = defaultSort
	}
	if s.Dir == "" {
		s.Dir = first(s.By)
	}
	return s
}

// Href is the list sorted by col: the other way round when it is the
// current column, else col's first direction.
func (s listSort) Href(col string) string {
	dir := s.first(col)
	if col == s.By {
		dir = map[string]string{"asc": "desc", "desc": "asc"}[s.Dir]
	}
	q := dropParams(s.query)
	q.Set("sort", col)
	q.Set("dir", dir)
	return s.path + "?" + q.Encode()
}

// Aria is the aria-sort of col's header: "ascending" or "descending" when
// the list is sorted by it, else "" (no attribute).
func (s listSort) Aria(col string) string {
	if col != s.By {
		return ""
	}
	if s.Dir == "asc" {
		return "ascending"
	}
	return "descending"
}

// Arrow is the mark of col's header: ▲ ascending, ▼ descending, or none.
func (s listSort) Arrow(col string) string {
	return map[string]string{"ascending": "▲", "descending": "▼"}[s.Aria(col)]
}

// Caption says the order in words: "newest first".
func (s listSort) Caption() string {
	c := s.captions[s.By]
	if s.Dir == "asc" {
		return c[0]
	}
	return c[1]
}

// sortHead is what a sortable column's header shows (templates/_sort.html).
type sortHead struct {
	Label, Class      string
	Href, Aria, Arrow string
	Target            string // the element a click swaps (htmx), or "" to load the page
}

// Head is col's header, labelled label, with class on its cell.
func (s listSort) Head(col, label, class string) sortHead {
	return sortHead{Label: label, Class: class, Href: s.Href(col), Aria: s.Aria(col), Arrow: s.Arrow(col), Target: s.target}
}
