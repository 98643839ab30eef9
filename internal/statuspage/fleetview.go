package statuspage

import (
	"html/template"
	"strconv"
	"strings"
)

// Title is the page's title: the host, and how many targets are out of
// rotation, or the asked server's state.
func (v *view) Title() string {
	host := v.Host
	if host == "" {
		host = "agent"
	}
	var s string
	switch f := v.Fleet; {
	case f != nil && v.Asked != "" && len(v.Targets) > 0:
		s = v.Asked + " " + v.Targets[0].State.String() + " · " + host
	case f != nil:
		s = host + ": " + outOf(f.Draining+f.Out, f.Total(), "server")
	case len(v.Targets) == 1:
		s = host + ": " + [...]string{"in rotation", "draining", "out of rotation"}[v.Targets[0].State]
	default:
		out := 0
		for _, t := range v.Targets {
			if t.State != StateIn {
				out++
			}
		}
		s = host + ": " + outOf(out, len(v.Targets), "service")
	}
	return s + " – HAProxy agent"
}

// outOf says how many of n things are out of rotation: "all 3 services
// in", "1 of 4 servers out".
func outOf(out, n int, noun string) string {
	switch {
	case n == 0:
		return "no " + noun + "s"
	case out == 0 && n == 1:
		return "the " + noun + " in"
	case out == 0:
		return "all " + Count(n, noun) + " in"
	}
	return Thousands(out) + " of " + Count(n, noun) + " out"
}

// Count is n and the noun, plural unless n is 1: "1 server", "2 servers",
// "10,000 servers".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Thousands(n) + " " + noun + "s"
}

// Thousands prints n with a comma every three digits.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// StateHref is the link listing only the servers in that state ("" for
// all), keeping the filter and the order.
func (v *view) StateHref(state string) string {
	q := v.q
	q.State, q.Page = state, 0
	return q.href()
}

// StateOn says whether the list shows only that state ("" for all).
func (v *view) StateOn(state string) bool { return v.q.State == state }

// SortHref is the link ordering the list by key, reversed when it is so
// ordered already.
func (v *view) SortHref(key string) string {
	q := v.q
	q.Page = 0
	cur := q.Sort
	if cur == "" {
		cur = sortKeys[0]
	}
	switch {
	case cur == key:
		q.Sort = "-" + key
	case key == sortKeys[0]:
		q.Sort = ""
	default:
		q.Sort = key
	}
	return q.href()
}

// SortMark is the arrow after the column the list is ordered by.
func (v *view) SortMark(key string) string {
	cur := v.q.Sort
	if cur == "" {
		cur = sortKeys[0]
	}
	switch cur {
	case key:
		return " ▲"
	case "-" + key:
		return " ▼"
	}
	return ""
}

// Query is the page's query, for the filter form.
func (v *view) Query() query { return v.q }

// Listed is how many servers the query lists, over all its pages.
func (v *view) Listed() int { return len(v.sel) }

// Pages says which rows the page shows and links to the pages around.
type Pages struct {
	From, To, Of int
	Prev, Next   string
}

// Pages is the table's page: FleetPageRows rows from the query's page.
func (v *view) Pages() Pages {
	first, last := v.pageRange()
	p := Pages{From: first + 1, To: last, Of: len(v.sel)}
	page := max(v.q.Page, 1)
	if first > 0 {
		q := v.q
		q.Page = page - 1
		if q.Page == 1 {
			q.Page = 0
		}
		p.Prev = q.href()
	}
	if last < len(v.sel) {
		q := v.q
		q.Page = page + 1
		p.Next = q.href()
	}
	return p
}

// pageRange is the indexes in sel of the rows the page shows.
func (v *view) pageRange() (first, last int) {
	page := max(v.q.Page, 1)
	first = min((page-1)*FleetPageRows, len(v.sel))
	return first, min(first+FleetPageRows, len(v.sel))
}

// ReplyFor says for how long a target has had its reply: "for 12m", "for
// over 3h" when it has had it since the agent first saw it, "" unknown.
func (v *view) ReplyFor(t Target) string {
	switch {
	case t.Since.IsZero():
		return ""
	case t.SinceStart:
		return "for ≥ " + Ago(v.Now.Sub(t.Since))
	}
	return "for " + Ago(v.Now.Sub(t.Since))
}

// FleetRows renders the rows of the fleet's table on the query's page.
func (v *view) FleetRows() template.HTML {
	first, last := v.pageRange()
	var b strings.Builder
	b.Grow((last - first) * 300)
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	link := v.q
	for _, i := range v.sel[first:last] {
		r := &v.Fleet.Rows[i]
		b.WriteString(`<tr class="s-`)
		b.WriteString(r.State.String())
		if r.Held {
			b.WriteString(` held`)
		}
		b.WriteString(`"><td class="name"><a href="`)
		link.Server = r.Name
		esc(link.href())
		b.WriteString(`#card">`)
		esc(r.Name)
		b.WriteString(`</a>`)
		if r.Held {
			b.WriteString(` <span class="tag">held</span>`)
		}
		if r.Stale {
			b.WriteString(` <span class="tag">gone</span>`)
		}
		b.WriteString(`</td><td><code class="reply-line">`)
		esc(r.Reply)
		b.WriteString(`</code></td><td>`)
		esc(r.Reason)
		b.WriteString(`</td><td class="since">`)
		switch {
		case r.Since.IsZero():
			b.WriteString("–")
		case r.SinceStart:
			b.WriteString("≥ ")
			b.WriteString(Ago(v.Now.Sub(r.Since)))
		default:
			b.WriteString(Ago(v.Now.Sub(r.Since)))
		}
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String())
}
