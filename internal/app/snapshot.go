package app

import (
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/rules"
)

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
