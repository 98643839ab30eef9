package rules

import "go.yaml.in/yaml/v3"

var (
	fleetKeys   = []string{"servers", "max_unavailable", "forget_after", "push", "guardrail_counts"}
	serversKeys = []string{"source", "query", "label", "static", "haproxy"}
	pushKeys    = []string{"backend"}
)

// The prefixes of messages about the fleet section and its servers.
const (
	fleetCtx   = "fleet: "
	serversCtx = "fleet: servers: "
)

// fleetDoc is the fleet section as the file writes it: decoded and its
// keys checked. Each key keeps its key and value nodes, the zero pair when
// absent.
type fleetDoc struct {
	servers, maxUnavailable, forgetAfter, push, guardrailCounts pair
}

// serversDoc is fleet.servers as the file writes it: a list, kept as
// static, or a mapping of the keys below.
type serversDoc struct {
	key                                   *yaml.Node // servers
	label, static, source, query, haproxy pair
}

// decodeFleet decodes the fleet section: a mapping, whose keys it checks.
func (p *parser) decodeFleet(e pair) (fleetDoc, bool) {
	if !p.mappingOf(e, "", false) {
		return fleetDoc{}, false
	}
	fs := p.fields(e.val, fleetCtx, fleetKeys)
	return fleetDoc{servers: fs["servers"], maxUnavailable: fs["max_unavailable"], forgetAfter: fs["forget_after"], push: fs["push"], guardrailCounts: fs["guardrail_counts"]}, true
}

// decodeServers decodes fleet.servers: a list of names, or a mapping whose
// keys it checks.
func (p *parser) decodeServers(e pair) (serversDoc, bool) {
	d := serversDoc{key: e.key}
	if e.val.Kind == yaml.SequenceNode {
		d.static = e
		return d, true
	}
	if !p.mappingOf(e, fleetCtx, false) {
		return d, false
	}
	fs := p.fields(e.val, serversCtx, serversKeys)
	d.label, d.static, d.source, d.query, d.haproxy = fs["label"], fs["static"], fs["source"], fs["query"], fs["haproxy"]
	return d, true
}
