package rules

import "strings"

// history reads the history and history_source keys of a metric's mapping
// form. A scrape or host metric has no past values of its own: history
// names the PromQL query that backtests read instead, from a prometheus
// source.
func (p *parser) history(f *File, m *Metric, src *Source, d metricDoc) bool {
	h, hs, ctx := d.history, d.historySource, d.ctx
	if !h.given() {
		if hs.given() {
			p.errorf(hs.key, ctx, "history_source without history: name the PromQL query that gives the metric's past values")
			return false
		}
		return true
	}
	if HasQuery(src) {
		p.errorf(h.key, ctx, "history is for %s metrics: a %s metric's query is its own history", selectKinds(), src.Kind)
		return false
	}
	text, ok := p.scalar(h, ctx)
	if !ok {
		return false
	}
	off := len(h.val.Value) - len(strings.TrimLeft(h.val.Value, " \t"))
	if !p.instantQuery(h.val, off, text, ctx, "history query") {
		return false
	}
	name, ok := p.historySource(f, d)
	if !ok {
		return false
	}
	m.History, m.HistorySource = strings.TrimSpace(text), name
	return true
}

// historySource names the prometheus source a metric's history is read
// from: history_source, or else the file's only prometheus source.
func (p *parser) historySource(f *File, d metricDoc) (string, bool) {
	h, hs, ctx := d.history, d.historySource, d.ctx
	var proms []string
	for _, s := range f.Sources {
		if HasQuery(s) {
			proms = append(proms, s.Name)
		}
	}
	switch {
	case hs.given():
		name, ok := p.scalar(hs, ctx)
		if !ok {
			return "", false
		}
		switch s := f.Source(name); {
		case s == nil:
			p.errorf(hs.val, ctx, "history_source: undeclared source %q (prometheus sources: %s)", name, listOrNone(proms))
			return "", false
		case !HasQuery(s):
			p.errorf(hs.val, ctx, "history_source: %q is a %s source; history is read from a prometheus source (%s)", name, s.Kind, listOrNone(proms))
			return "", false
		}
		return name, true
	case len(proms) == 1:
		return proms[0], true
	case len(proms) == 0:
		p.errorf(h.key, ctx, "history needs a prometheus source to read it from, and the file declares none")
	default:
		p.errorf(h.key, ctx, "history_source is required: the file has several prometheus sources (%s)", strings.Join(proms, ", "))
	}
	return "", false
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none declared"
	}
	return strings.Join(names, ", ")
}
