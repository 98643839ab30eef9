package statuspage

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FleetPageRows is how many servers one page of the fleet's table shows;
// ?page= goes through the rest.
const FleetPageRows = 500

// maxFilter bounds the filter text kept from a link.
const maxFilter = 200

// query is what a load of the page asks for, in its query parameters:
// ?server= the fleet server whose card to show, ?state= (in, draining,
// out, held, stale) and ?filter= (text in the name, reply or reason) the
// servers listed, ?sort= their order (name, reply, reason, since, state;
// a leading "-" reverses it) and ?page= which FleetPageRows of them. It
// is comparable: rendered pages are cached by it.
type query struct {
	Server, State, Filter, Sort string
	// Page is 0 for the first.
	Page int
}

// sortKeys are the orders of the fleet's table; the first is the default.
var sortKeys = []string{"state", "name", "reply", "reason", "since"}

// stateFilters are the values ?state= takes.
var stateFilters = []string{"in", "draining", "out", "held", "stale"}

// parseQuery reads a page load's query, dropping what it does not know,
// so that a mistyped link shows the whole fleet rather than an error.
func parseQuery(v url.Values) query {
	q := query{Server: v.Get("server"), Filter: strings.TrimSpace(v.Get("filter"))}
	if len(q.Server) > maxFilter {
		q.Server = ""
	}
	if len(q.Filter) > maxFilter {
		cut := maxFilter
		for cut > 0 && !utf8.RuneStart(q.Filter[cut]) {
			cut--
		}
		q.Filter = q.Filter[:cut]
	}
	if s := v.Get("state"); slices.Contains(stateFilters, s) {
		q.State = s
	}
	if s := v.Get("sort"); slices.Contains(sortKeys, strings.TrimPrefix(s, "-")) && s != sortKeys[0] {
		q.Sort = s
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		q.Page = n
	}
	return q
}

// href is the query as a relative link ("?state=out&sort=name"), "./"
// for none, so that the page also works under a proxy's path prefix.
func (q query) href() string {
	v := make([]string, 0, 5)
	add := func(k, val string) {
		if val != "" {
			v = append(v, k+"="+url.QueryEscape(val))
		}
	}
	add("server", q.Server)
	add("state", q.State)
	add("filter", q.Filter)
	add("sort", q.Sort)
	if q.Page > 1 {
		add("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return "./"
	}
	return "?" + strings.Join(v, "&")
}

// selectRows returns the indexes of the rows the query lists, in its
// order.
func (f *Fleet) selectRows(q query) []int32 {
	sel := make([]int32, 0, len(f.Rows))
	filter := strings.ToLower(q.Filter)
	for i := range f.Rows {
		r := &f.Rows[i]
		switch q.State {
		case "in", "draining", "out":
			if r.State.String() != q.State {
				continue
			}
		case "held":
			if !r.Held {
				continue
			}
		case "stale":
			if !r.Stale {
				continue
			}
		}
		if filter != "" && !r.matches(filter) {
			continue
		}
		sel = append(sel, int32(i))
	}
	key, desc := strings.CutPrefix(q.Sort, "-")
	var by func(a, b *ServerRow) int
	switch key {
	case "name":
		by = nil // the rows' own order
	case "reply":
		by = func(a, b *ServerRow) int { return strings.Compare(a.Reply, b.Reply) }
	case "reason":
		by = func(a, b *ServerRow) int { return strings.Compare(a.Reason, b.Reason) }
	case "since":
		// The latest change first.
		by = func(a, b *ServerRow) int { return b.Since.Compare(a.Since) }
	default:
		// Out of rotation first, then held by the guardrail, then in.
		by = func(a, b *ServerRow) int { return cmp.Compare(rank(b), rank(a)) }
	}
	if by != nil {
		slices.SortStableFunc(sel, func(i, j int32) int { return by(&f.Rows[i], &f.Rows[j]) })
	}
	if desc {
		slices.Reverse(sel)
	}
	return sel
}

// rank orders the rows of the default sort.
func rank(r *ServerRow) int {
	switch {
	case r.State == StateOut:
		return 3
	case r.State == StateDraining:
		return 2
	case r.Held:
		return 1
	}
	return 0
}
