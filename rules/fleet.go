package rules

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// DiscoveryMetric is the name the fleet's discovery query goes by in
// messages and in the collector; it is not a metric rules can read.
const DiscoveryMetric = "fleet.servers"

// fleet reads the fleet section. It runs after metrics, so that it can
// tell the metrics of Prometheus sources which label names a server.
// hasServices is the key of the services section, or nil.
func (p *parser) fleet(f *File, e pair, hasServices *yaml.Node) {
	if hasServices != nil {
		p.errorf(e.key, "", "fleet and services do not combine: in fleet mode each poll's agent-send names a server and the top-level rules apply to every server; move the services (at %d:%d) to an agent of their own", hasServices.Line, hasServices.Column)
		return
	}
	d, ok := p.decodeFleet(e)
	if !ok {
		return
	}
	fl := &Fleet{Label: DefaultFleetLabel, ForgetAfter: DefaultForgetAfter, Pos: posOf(e.key)}
	if !d.servers.given() {
		p.errorf(e.key, fleetCtx, "servers is required: {source, query, label} to discover them, or static: [web1, web2]")
		return
	}
	sd, ok := p.decodeServers(d.servers)
	if !ok || !p.fleetServers(f, fl, sd) {
		return
	}
	if n, r := len(fl.Static), len(f.Services[0].Rules); n*r > MaxFleetRuleStates {
		p.errorf(d.servers.key, fleetCtx, "%d servers × %d rules is %d rule states, the limit is %d: the agent keeps one per server and rule", n, r, n*r, MaxFleetRuleStates)
		return
	}
	if fl.Discovery != nil {
		fl.Discovery.MaxSeries = MaxFleetServers
		if r := len(f.Services[0].Rules); r > 0 {
			fl.Discovery.MaxSeries = min(MaxFleetServers, MaxFleetRuleStates/r)
		}
	}
	if m := d.maxUnavailable; m.given() {
		v, ok := p.scalar(m, fleetCtx)
		if !ok {
			return
		}
		if fl.MaxUnavailable, ok = parseLimit(v); !ok {
			p.errorf(m.val, fleetCtx, "max_unavailable %q: want a percentage from 1%% to 100%% or a count ≥ 0, such as 25%% or 3", v)
			return
		}
	}
	if d.push.given() && !p.push(fl, d.push) {
		return
	}
	if gc := d.guardrailCounts; gc.given() {
		v, ok := p.scalar(gc, fleetCtx)
		if !ok {
			return
		}
		switch v {
		case "all":
			fl.CountsAll = true
		case "agent":
		default:
			p.errorf(gc.val, fleetCtx, "guardrail_counts %q: want agent (the servers the agent takes out) or all (also those HAProxy shows out for any other cause)", v)
			return
		}
	}
	if fa := d.forgetAfter; fa.given() {
		v, ok := p.duration(fa, fleetCtx)
		if !ok {
			return
		}
		if v <= 0 {
			p.errorf(fa.val, fleetCtx, "forget_after must be greater than 0")
			return
		}
		fl.ForgetAfter = v
	}
	for _, m := range f.Metrics {
		switch src := f.Source(m.Source); {
		case src == nil:
		case HasQuery(src):
			m.ByLabel = fl.Label
		case src.Kind == KindHAProxy:
			// HAProxy names its servers itself.
			m.ByLabel = HAProxyLabel
		}
	}
	f.Fleet = fl
}

// haproxyNameRe is what an HAProxy backend name may hold.
var haproxyNameRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// push reads fleet.push: {backend: NAME}.
func (p *parser) push(fl *Fleet, e pair) bool {
	const ctx = "fleet: push: "
	if !p.mappingOf(e, fleetCtx, false) {
		return false
	}
	fs := p.fields(e.val, ctx, pushKeys)
	b := fs["backend"]
	if !b.given() {
		p.errorf(e.key, ctx, "backend is required: the HAProxy backend whose servers the agent sets")
		return false
	}
	v, ok := p.scalar(b, ctx)
	if ok && !haproxyNameRe.MatchString(v) {
		p.errorf(b.val, ctx, "backend %q: want a backend name", v)
		return false
	}
	fl.PushBackend = v
	return ok
}

// fleetServers reads a decoded fleet.servers into fl: a list of names, or
// the discovery of a prometheus source.
func (p *parser) fleetServers(f *File, fl *Fleet, d serversDoc) bool {
	if l := d.label; l.given() {
		v, ok := p.scalar(l, serversCtx)
		if !ok {
			return false
		}
		if !metricNameRe.MatchString(v) || strings.HasPrefix(v, "__") {
			p.errorf(l.val, serversCtx, "bad label name %q", v)
			return false
		}
		fl.Label = v
	}
	switch {
	case d.haproxy.given() && (d.static.given() || d.source.given() || d.query.given()):
		p.errorf(d.haproxy.key, serversCtx, "haproxy and static or source/query do not combine: one way to list the servers")
		return false
	case d.haproxy.given():
		v, ok := p.scalar(d.haproxy, serversCtx)
		if ok && !haproxyNameRe.MatchString(v) {
			p.errorf(d.haproxy.val, serversCtx, "haproxy %q: want a backend name", v)
			return false
		}
		fl.HAProxyBackend = v
		return ok
	case d.static.given() && (d.source.given() || d.query.given()):
		p.errorf(d.static.key, serversCtx, "static and source/query do not combine: list the servers or discover them")
		return false
	case d.static.given():
		return p.staticServers(fl, d.static)
	case !d.source.given() || !d.query.given():
		p.errorf(d.key, serversCtx, "want source and query (discovery: one series per server, named by label), or static: [web1, web2]")
		return false
	}
	return p.discovery(f, fl, d)
}

// discovery reads the source and query that list the servers.
func (p *parser) discovery(f *File, fl *Fleet, d serversDoc) bool {
	srcName, ok := p.scalar(d.source, serversCtx)
	if !ok {
		return false
	}
	s := f.Source(srcName)
	if s == nil || !HasQuery(s) {
		var names []string
		for _, s := range f.Sources {
			if HasQuery(s) {
				names = append(names, s.Name)
			}
		}
		if s == nil {
			p.errorf(d.source.val, serversCtx, "undeclared source %q%s", srcName, yamlnode.DidYouMean(srcName, names))
		} else {
			p.errorf(d.source.val, serversCtx, "source %q is a %s source: discovery needs a prometheus source", srcName, s.Kind)
		}
		return false
	}
	text, ok := p.scalar(d.query, serversCtx)
	if !ok {
		return false
	}
	expr, err := promql.ParseExpr(text)
	if err != nil {
		p.promqlError(d.query.val, 0, text, serversCtx, "query", err)
		return false
	}
	if expr.Type() != promparser.ValueTypeVector {
		p.errorf(d.query.val, serversCtx, "query returns a %s: want an instant vector, one series per server", expr.Type())
		return false
	}
	fl.Discovery = &Metric{Name: DiscoveryMetric, Index: -1, Source: s.Name, Query: text, ByLabel: fl.Label, Pos: posOf(d.query.key)}
	return true
}

// staticServers reads a list of server names.
func (p *parser) staticServers(fl *Fleet, e pair) bool {
	const ctx = serversCtx
	if e.val.Kind != yaml.SequenceNode {
		p.errorf(e.val, ctx, "static: want a list of server names, got %s", yamlnode.KindName(e.val))
		return false
	}
	seen := map[string]*yaml.Node{}
	ok := true
	for i, n := range e.val.Content {
		n = deref(n)
		if i >= MaxFleetServers {
			p.errorf(n, ctx, "too many servers: the limit is %d", MaxFleetServers)
			return false
		}
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, ctx, "bad server name: want a name, got %s", yamlnode.KindName(n))
			ok = false
			continue
		}
		if msg := nameProblem("server", n.Value); msg != "" {
			p.errorf(n, ctx, "%s", msg)
			ok = false
			continue
		}
		if first, dup := seen[n.Value]; dup {
			p.errorf(n, ctx, "duplicate server %q (first at %d:%d)", n.Value, first.Line, first.Column)
			ok = false
			continue
		}
		seen[n.Value] = n
		fl.Static = append(fl.Static, n.Value)
	}
	if ok && len(fl.Static) == 0 {
		p.errorf(e.key, ctx, "static: the list is empty")
		return false
	}
	slices.Sort(fl.Static)
	return ok
}

// parseLimit reads "25%" or "3".
func parseLimit(s string) (Limit, bool) {
	s = strings.TrimSpace(s)
	if t, pct := strings.CutSuffix(s, "%"); pct {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || n < 1 || n > 100 {
			return Limit{}, false
		}
		return Limit{Set: true, N: n, Percent: true}, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Limit{}, false
	}
	return Limit{Set: true, N: n}, true
}

// ServerName reports whether name may name a fleet server: one that
// HAProxy's agent-send line can carry (see MaxNameLen), and not the
// default service's.
func ServerName(name string) bool {
	return nameProblem("server", name) == ""
}
