package githubtest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// GitHub's page sizes.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// paginate returns the requested page of items and sets GitHub's Link
// header (first, prev, next, last) when there is more than one page.
func paginate[T any](c *call, items []T) []T {
	q := c.r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	if last > 1 {
		var links []string
		add := func(p int, rel string) {
			q.Set("page", strconv.Itoa(p))
			q.Set("per_page", strconv.Itoa(perPage))
			u := url.URL{Path: c.r.URL.Path, RawQuery: q.Encode()}
			links = append(links, fmt.Sprintf(`<%s%s>; rel="%s"`, c.s.srv.URL, u.String(), rel))
		}
		if page > 1 {
			add(page-1, "prev")
		}
		if page < last {
			add(page+1, "next")
			add(last, "last")
		}
		if page > 1 {
			add(1, "first")
		}
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * perPage
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(len(items), start+perPage)]
}
