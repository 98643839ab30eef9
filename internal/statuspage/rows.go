package statuspage

import (
	"html/template"
	"strconv"
	"strings"
)

// The long tables (rules, metrics, changes) are written in Go rather than
// in the template for speed: with 100 rules and 100 metrics, the
// template's reflection would be most of the page's cost. Every string is
// escaped with template.HTMLEscape, which is safe both in element content
// and in quoted attribute values, the only places one is put; markup comes
// only from constants here.

// RuleRows renders the rows of a target's rule table.
func (v *view) RuleRows(t Target) template.HTML {
	var b strings.Builder
	b.Grow(len(t.Rules) * 400)
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	for _, r := range t.Rules {
		b.WriteString(`<tr class="state-`)
		esc(r.State)
		b.WriteString(`"><td><span class="rule-name">`)
		esc(r.Name)
		b.WriteString(`</span>`)
		if r.Name != r.Expr {
			b.WriteString(`<br><code class="expr">`)
			esc(r.Expr)
			b.WriteString(`</code>`)
		}
		if r.Error != "" {
			b.WriteString(`<br><span class="err">`)
			esc(r.Error)
			b.WriteString(`</span>`)
		}
		b.WriteString(`</td><td><code>`)
		esc(r.Action)
		b.WriteString(`</code></td><td class="result-`)
		esc(r.Result)
		b.WriteString(`">`)
		esc(r.Result)
		b.WriteString(`</td><td class="state">`)
		esc(r.State)
		b.WriteString(`</td><td>`)
		if r.Since.IsZero() {
			b.WriteString("–")
		} else {
			b.WriteString(Ago(v.Now.Sub(r.Since)))
		}
		b.WriteString(`</td><td>`)
		for i, val := range r.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			esc(val.Name)
			b.WriteByte('=')
			if val.Missing != "" {
				b.WriteString(`<span class="missing">missing (`)
				esc(val.Missing)
				b.WriteString(`)</span>`)
			} else {
				b.WriteString(formatNumber(val.Value))
			}
		}
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String())
}

// MetricRows renders the rows of the metrics table.
func (v *view) MetricRows() template.HTML {
	sparks := make([]Spark, len(v.Metrics))
	size := 0
	for i, m := range v.Metrics {
		sparks[i], _ = v.history.Spark(MetricKey(m.Name), v.Now)
		size += 400 + len(m.Name) + len(m.Query) + len(m.Missing) + len(sparks[i].Path)
	}
	var b strings.Builder
	b.Grow(size)
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	for i, m := range v.Metrics {
		b.WriteString(`<tr><td>`)
		esc(m.Name)
		b.WriteString(`</td><td>`)
		if m.Missing != "" {
			b.WriteString(`<span class="missing">missing: `)
			esc(m.Missing)
			b.WriteString(`</span>`)
		} else if m.Servers > 0 {
			b.WriteString("by server (")
			b.WriteString(strconv.Itoa(m.Servers))
			b.WriteString(" values)")
		} else {
			b.WriteString(formatNumber(m.Value))
		}
		b.WriteString(`</td><td>`)
		if sparks[i].Path != "" || sparks[i].HasLast {
			sparks[i].writeSVG(&b)
		}
		b.WriteString(`</td><td><code>`)
		esc(m.Source)
		b.WriteByte(':')
		esc(m.Query)
		b.WriteString("</code></td></tr>\n")
	}
	return template.HTML(b.String())
}

// ChangeRows renders the rows of the reply changes table.
func (v *view) ChangeRows() template.HTML {
	var b strings.Builder
	b.Grow(len(v.Changes) * 300)
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	for _, c := range v.Changes {
		b.WriteString(`<tr><td>`)
		b.WriteString(c.Time.UTC().Format("15:04:05 UTC"))
		b.WriteString(" (")
		b.WriteString(Ago(v.Now.Sub(c.Time)))
		b.WriteString(` ago)</td><td>`)
		esc(c.Target)
		if c.From == "" {
			b.WriteString(`</td><td class="none">(start)</td><td><code>`)
		} else {
			b.WriteString(`</td><td><code>`)
			esc(c.From)
			b.WriteString(`</code></td><td><code>`)
		}
		esc(c.To)
		b.WriteString(`</code></td><td>`)
		esc(c.Why)
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String())
}
