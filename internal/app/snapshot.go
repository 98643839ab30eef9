package app

import (
	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/rules"
)

// Snapshot is the evaluator's view of a collection cycle: each metric's
// value or why it is missing. A nil result gives an empty snapshot.
func Snapshot(r *collect.Result) evaluator.Snapshot {
	if r == nil {
		return evaluator.Snapshot{}
	}
	s := make(evaluator.Snapshot, len(r.Metrics))
	for _, m := range r.Metrics {
		s[m.Name] = evaluator.Sample{Value: m.Value, Missing: m.Missing, Servers: m.ByServer, ServerMissing: m.ServerMissing}
	}
	return s
}

// servers are the fleet servers a collection cycle knows; nil outside
// fleet mode and for a nil result.
// servers is the fleet's server list: HAProxy's own for
// fleet.servers.haproxy (as the view last read it), else discovery's.
func (a *agent) servers(f *rules.File) []string {
	if f.Fleet != nil && f.Fleet.HAProxyBackend != "" && a.view != nil {
		return a.view.Servers(f.Fleet.HAProxyBackend)
	}
	return servers(a.lastSnap)
}

func servers(r *collect.Result) []string {
	if r == nil {
		return nil
	}
	return r.Servers
}
