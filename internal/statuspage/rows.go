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

// MetricCharts renders every metric as a figure: its value now, its chart
// over the last hour with the thresholds of the rules that read it, and
// where it comes from.
func (v *view) MetricCharts() template.HTML {
	var b strings.Builder
	// A chart of an hour that moves every step is some 3.5 KB.
	b.Grow(len(v.Metrics) * 4000)
	esc := func(s string) { template.HTMLEscape(&b, []byte(s)) }
	var scratch []byte
	for _, m := range v.Metrics {
		b.WriteString(`<figure class="metric"><figcaption><span class="metric-name">`)
		esc(m.Name)
		b.WriteString(`</span> `)
		switch {
		case m.Missing != "":
			b.WriteString(`<span class="missing">missing: `)
			esc(m.Missing)
			b.WriteString(`</span>`)
		case m.Servers > 0:
			b.WriteString(`<span class="now">by server (`)
			b.WriteString(strconv.Itoa(m.Servers))
			b.WriteString(` values)</span>`)
		default:
			b.WriteString(`<span class="now">`)
			b.WriteString(formatNumber(m.Value))
			b.WriteString(` now</span>`)
		}
		b.WriteString(`</figcaption>`)
		sp, ok := v.history.Spark(MetricKey(m.Name), v.Now)
		if ok && !sp.empty() {
			scratch = chart{sp: &sp, axis: MetricAxis(sp, m.Thresholds), thresholds: m.Thresholds,
				label: m.Name + " over the last hour"}.write(&b, scratch)
		} else if m.Servers > 0 {
			b.WriteString(`<p class="none">No chart: each server has its own value; its rules show it.</p>`)
		} else {
			b.WriteString(`<p class="none">No value in the last hour.</p>`)
		}
		if len(m.Thresholds) > 0 {
			b.WriteString(`<ul class="marks">`)
			for _, t := range m.Thresholds {
				for _, r := range t.Rules {
					b.WriteString(`<li>`)
					esc(r)
					b.WriteString(`</li>`)
				}
			}
			b.WriteString(`</ul>`)
		}
		b.WriteString(`<code class="from">`)
		esc(m.Source)
		b.WriteByte(':')
		esc(m.Query)
		b.WriteString("</code></figure>\n")
	}
	return template.HTML(b.String())
}

// WeightChart renders the chart of a target's weight over the last hour,
// its drains and outages shaded; "" when it has none.
func (v *view) WeightChart(t Target) template.HTML {
	if t.WeightKey == "" {
		return ""
	}
	sp, ok := v.history.Spark(t.WeightKey, v.Now)
	if !ok || sp.empty() {
		return ""
	}
	c := chart{sp: &sp, axis: WeightAxis(sp), label: "weight sent to " + t.Name + " over the last hour"}
	if st, ok := v.history.Spark(t.StateKey, v.Now); ok {
		c.state = &st
	}
	var b strings.Builder
	b.WriteString(`<figure class="weight"><figcaption>weight sent, last hour <span class="key"><span class="key-drain"></span>draining <span class="key-outage"></span>out</span></figcaption>`)
	c.write(&b, nil)
	b.WriteString(`</figure>`)
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
