package statuspage

import (
	"html/template"
	"io"
	"strconv"
)

// The long tables (rules, metrics, changes) are written in Go rather than
// in the template for speed: with 100 rules and 100 metrics, the
// template's reflection would be most of the page's cost. They are written
// straight to the page's writer, where the template has written everything
// before them (the template writes as it executes), and the methods the
// template calls return nothing to print: a table returned as a string
// would be copied twice more (through fmt's buffer, then into the page),
// which cost a tenth of a render. Every string is escaped by escape,
// as template.HTMLEscape escapes, which is safe both in element content
// and in quoted attribute values, the only places one is put; markup comes
// only from constants here.

// escape writes s to w with the characters that are special in HTML
// content and quoted attributes (& < > " ' and NUL) replaced as
// template.HTMLEscape replaces them, without allocating: clean runs are
// written as they are.
func escape(w pageWriter, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		case 0:
			rep = "\uFFFD"
		default:
			continue
		}
		_, _ = w.WriteString(s[last:i])
		_, _ = w.WriteString(rep)
		last = i + 1
	}
	_, _ = w.WriteString(s[last:])
}

// pageWriter is what a page is rendered into.
type pageWriter interface {
	io.Writer
	io.StringWriter
	io.ByteWriter
}

// RuleRows writes the rows of a target's rule table to the page.
func (v *view) RuleRows(t Target) template.HTML {
	b := v.out
	esc := func(s string) { escape(b, s) }
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
	return ""
}

// MetricRows writes the rows of the metrics table to the page.
func (v *view) MetricRows() template.HTML {
	b := v.out
	esc := func(s string) { escape(b, s) }
	for _, m := range v.Metrics {
		spark, _ := v.history.Spark(MetricKey(m.Name), v.Now)
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
		if spark.Path != "" || spark.HasLast {
			spark.writeSVG(b)
		}
		b.WriteString(`</td><td><code>`)
		esc(m.Source)
		b.WriteByte(':')
		esc(m.Query)
		b.WriteString("</code></td></tr>\n")
	}
	return ""
}

// ChangeRows writes the rows of the reply changes table to the page.
func (v *view) ChangeRows() template.HTML {
	b := v.out
	esc := func(s string) { escape(b, s) }
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
	return ""
}
